package linear_test

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/mlops-lab/housing/learn"
	"github.com/mlops-lab/housing/learn/linear"
)

// exact returns rows on the plane y = 3 + 2*x0 - 0.5*x1 + 1000*x2, with a
// large offset on x2 to exercise the centring.
func exact() (X, y []float64) {
	for i := range 50 {
		x0, x1, x2 := float64(i%7), float64(i*i%11), 1e4+float64(i%5)
		X = append(X, x0, x1, x2)
		y = append(y, 3+2*x0-0.5*x1+1000*x2)
	}
	return X, y
}

func TestFitRecoversPlane(t *testing.T) {
	X, y := exact()
	m, err := linear.Fit(X, 3, y)
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{2, -0.5, 1000}
	for j, c := range m.Coef {
		if math.Abs(c-want[j]) > 1e-8 {
			t.Errorf("coef %d = %v, want %v", j, c, want[j])
		}
	}
	if math.Abs(m.Intercept-3) > 1e-4 {
		t.Errorf("intercept = %v, want 3", m.Intercept)
	}
	if r2 := learn.R2(y, m.Predict(nil, X)); r2 < 1-1e-12 {
		t.Errorf("R2 on the plane = %v, want 1", r2)
	}
}

func TestFitRejects(t *testing.T) {
	// x1 = 2*x0: collinear.
	X := []float64{1, 2, 2, 4, 3, 6, 4, 8}
	if _, err := linear.Fit(X, 2, []float64{1, 2, 3, 4}); err == nil || !strings.Contains(err.Error(), "collinear") {
		t.Errorf("collinear features: err = %v", err)
	}
	if _, err := linear.Fit([]float64{1, 2}, 2, []float64{1}); err == nil {
		t.Error("one row for two features accepted")
	}
	if _, err := linear.Fit([]float64{1, 2, 3}, 1, []float64{1, math.NaN(), 3}); err == nil {
		t.Error("NaN target accepted")
	}
}

func TestModelFile(t *testing.T) {
	X, y := exact()
	m, err := linear.Fit(X, 3, y)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := m.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	file := bytes.Clone(buf.Bytes())
	r, err := learn.ReadModel(&buf)
	if err != nil {
		t.Fatal(err)
	}
	want, got := m.Predict(nil, X), r.Predict(nil, X)
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("row %d: read back predicts %v, written %v", i, got[i], want[i])
		}
	}
	bad := bytes.Clone(file)
	bad[8] = 9
	if _, err := linear.Read(bytes.NewReader(bad)); err == nil || !strings.Contains(err.Error(), "version 9") {
		t.Errorf("version 9: err = %v", err)
	}
	if _, err := learn.ReadModel(bytes.NewReader(file[:len(file)-2])); !errors.Is(err, learn.ErrCorruptModel) {
		t.Errorf("truncated: err = %v", err)
	}
	if _, err := learn.ReadModel(strings.NewReader("NOTAMODELFILE...........")); err == nil || !strings.Contains(err.Error(), "unknown magic") {
		t.Errorf("unknown magic: err = %v", err)
	}
}
