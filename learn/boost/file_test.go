package boost_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/mlops-lab/housing/learn"
	"github.com/mlops-lab/housing/learn/boost"
)

func modelFile(t *testing.T) (*boost.Model, []float64, []byte) {
	t.Helper()
	X, y := synthetic(2000, 5, 11)
	p := boost.DefaultParams()
	p.MaxIter, p.ValidationFraction = 30, 0.2
	m := fit(t, X, 5, y, p)
	var buf bytes.Buffer
	n, err := m.WriteTo(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(buf.Len()) {
		t.Fatalf("WriteTo says %d bytes, wrote %d", n, buf.Len())
	}
	return m, X, buf.Bytes()
}

func TestFileRoundTrip(t *testing.T) {
	m, X, file := modelFile(t)
	for _, read := range []struct {
		name string
		fn   func([]byte) (learn.Regressor, error)
	}{
		{"boost.Read", func(b []byte) (learn.Regressor, error) { return boost.Read(bytes.NewReader(b)) }},
		{"learn.ReadModel", func(b []byte) (learn.Regressor, error) { return learn.ReadModel(bytes.NewReader(b)) }},
	} {
		t.Run(read.name, func(t *testing.T) {
			back, err := read.fn(file)
			if err != nil {
				t.Fatal(err)
			}
			want, got := m.Predict(nil, X), back.Predict(nil, X)
			for i := range want {
				if math.Float64bits(want[i]) != math.Float64bits(got[i]) {
					t.Fatalf("row %d: %v before, %v after", i, want[i], got[i])
				}
			}
			b := back.(*boost.Model)
			if b.Params() != m.Params() || b.NumTrees() != m.NumTrees() ||
				len(b.ValidationLoss()) != len(m.ValidationLoss()) || b.ValidationLoss()[3] != m.ValidationLoss()[3] ||
				b.FeatureImportances()[1] != m.FeatureImportances()[1] {
				t.Fatal("params, trees, losses or importances differ after the round trip")
			}
		})
	}
}

func TestFileRefusesTruncated(t *testing.T) {
	_, _, file := modelFile(t)
	for _, n := range []int{0, 7, 19, 20, 100, len(file) / 2, len(file) - 5, len(file) - 1} {
		_, err := boost.Read(bytes.NewReader(file[:n]))
		if !errors.Is(err, learn.ErrCorruptModel) {
			t.Errorf("%d of %d bytes: err %v, want ErrCorruptModel", n, len(file), err)
		}
	}
}

func TestFileRefusesDamage(t *testing.T) {
	_, _, file := modelFile(t)
	bad := bytes.Clone(file)
	bad[len(bad)/2] ^= 0x10
	if _, err := boost.Read(bytes.NewReader(bad)); !errors.Is(err, learn.ErrCorruptModel) {
		t.Errorf("flipped bit: err %v, want ErrCorruptModel", err)
	}
}

func TestFileRefusesOtherVersion(t *testing.T) {
	_, _, file := modelFile(t)
	other := bytes.Clone(file)
	binary.LittleEndian.PutUint16(other[8:], boost.FormatVersion+1)
	_, err := boost.Read(bytes.NewReader(other))
	if err == nil || !strings.Contains(err.Error(), "format version 2") {
		t.Fatalf("err %v, want a format version error", err)
	}
}
