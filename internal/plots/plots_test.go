package plots_test

import (
	"bytes"
	"image"
	"image/png"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/mlops-lab/housing/internal/plots"
	"gonum.org/v1/plot/vg"
)

// sample returns n noisy predictions of a target spread over [0.5, 5], like
// house values in 100k$.
func sample(n int) (yTrue, yPred []float64) {
	r := rand.New(rand.NewPCG(1, 2))
	yTrue = make([]float64, n)
	yPred = make([]float64, n)
	for i := range yTrue {
		yTrue[i] = 0.5 + 4.5*r.Float64()
		yPred[i] = yTrue[i] + 0.4*r.NormFloat64()
	}
	return yTrue, yPred
}

type inked struct {
	colored int // pixels that are neither white nor grey: the data
	dark    int // near-black pixels: text and axes
	red     int // the reference colour of y = x and zero lines
}

// decode checks that b is a PNG of the documented size and counts what was drawn.
func decode(t *testing.T, b []byte) (image.Image, inked) {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("output is not a PNG: %v", err)
	}
	wantW, wantH := int(math.Round(float64(plots.Width/vg.Inch)*plots.DPI)), int(math.Round(float64(plots.Height/vg.Inch)*plots.DPI))
	if got := img.Bounds().Size(); got.X != wantW || got.Y != wantH {
		t.Fatalf("image is %dx%d, want %dx%d", got.X, got.Y, wantW, wantH)
	}
	var k inked
	bnd := img.Bounds()
	for y := bnd.Min.Y; y < bnd.Max.Y; y++ {
		for x := bnd.Min.X; x < bnd.Max.X; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			r, g, b = r>>8, g>>8, b>>8
			spread := max(r, g, b) - min(r, g, b)
			switch {
			case r > 150 && g < 90 && b < 90:
				k.red++
				k.colored++
			case spread > 40:
				k.colored++
			case max(r, g, b) < 80:
				k.dark++
			}
		}
	}
	return img, k
}

func render(t *testing.T, name string, draw func(w io.Writer) error) inked {
	t.Helper()
	var buf bytes.Buffer
	if err := draw(&buf); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if dir := os.Getenv("HOUSING_PLOTS_DIR"); dir != "" { // for looking at them
		if err := os.WriteFile(filepath.Join(dir, name+".png"), buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, k := decode(t, buf.Bytes())
	if k.dark < 500 {
		t.Errorf("%s: only %d dark pixels: axes and text missing", name, k.dark)
	}
	return k
}

func TestCharts(t *testing.T) {
	yTrue, yPred := sample(2000)
	t.Run("PredictedVsActual", func(t *testing.T) {
		k := render(t, "predicted_vs_actual", func(w io.Writer) error {
			return plots.PredictedVsActual(w, yTrue, yPred, "Predicted vs actual (R² 0.9)")
		})
		if k.colored < 5000 {
			t.Errorf("only %d coloured pixels: scatter missing", k.colored)
		}
		if k.red < 100 {
			t.Errorf("only %d red pixels: y = x line missing", k.red)
		}
	})
	t.Run("Residuals", func(t *testing.T) {
		k := render(t, "residuals", func(w io.Writer) error { return plots.Residuals(w, yTrue, yPred, "Residuals") })
		if k.colored < 5000 || k.red < 100 {
			t.Errorf("coloured %d, red %d: scatter or zero line missing", k.colored, k.red)
		}
	})
	t.Run("ResidualHistogram", func(t *testing.T) {
		k := render(t, "residual_histogram", func(w io.Writer) error {
			return plots.ResidualHistogram(w, yTrue, yPred, 0, "Residual distribution")
		})
		if k.colored < 10000 {
			t.Errorf("only %d coloured pixels: bars missing", k.colored)
		}
	})
	t.Run("FeatureImportances", func(t *testing.T) {
		names := []string{"MedInc", "HouseAge", "AveRooms", "AveBedrms", "Population", "AveOccup", "Latitude", "Longitude"}
		imp := []float64{0.52, 0.05, 0.04, 0.02, 0.02, 0.14, 0.1, 0.11}
		k := render(t, "feature_importances", func(w io.Writer) error {
			return plots.FeatureImportances(w, names, imp, "Feature importances")
		})
		if k.colored < 10000 {
			t.Errorf("only %d coloured pixels: bars missing", k.colored)
		}
	})
	t.Run("MetricCurve", func(t *testing.T) {
		steps := make([]float64, 100)
		test, train := make([]float64, 100), make([]float64, 100)
		for i := range steps {
			steps[i] = float64(i + 1)
			test[i] = 0.8 - 0.3*math.Exp(-float64(i)/10)
			train[i] = 0.95 - 0.3*math.Exp(-float64(i)/8)
		}
		k := render(t, "metric_curve", func(w io.Writer) error {
			return plots.MetricCurve(w, "R² by number of trees", "trees", "R²",
				plots.Series{Name: "test", X: steps, Y: test}, plots.Series{Name: "train", X: steps, Y: train})
		})
		if k.colored < 500 {
			t.Errorf("only %d coloured pixels: lines missing", k.colored)
		}
	})
	t.Run("CompareRuns", func(t *testing.T) {
		k := render(t, "compare_runs", func(w io.Writer) error {
			return plots.CompareRuns(w, []string{"rf-baseline", "rf-tuned", "rf-optimized"}, []float64{0.6469, 0.7737, 0.8145}, "r2", "Test R² by run")
		})
		if k.colored < 10000 {
			t.Errorf("only %d coloured pixels: bars missing", k.colored)
		}
	})
}

// TestBadData checks that data that cannot be drawn honestly is refused
// before anything is written.
func TestBadData(t *testing.T) {
	cases := map[string]func(io.Writer) error{
		"length mismatch": func(w io.Writer) error { return plots.PredictedVsActual(w, []float64{1, 2}, []float64{1}, "") },
		"empty":           func(w io.Writer) error { return plots.Residuals(w, nil, nil, "") },
		"NaN": func(w io.Writer) error {
			return plots.PredictedVsActual(w, []float64{1, math.NaN()}, []float64{1, 2}, "")
		},
		"Inf importance": func(w io.Writer) error { return plots.FeatureImportances(w, []string{"a"}, []float64{math.Inf(1)}, "") },
		"names mismatch": func(w io.Writer) error { return plots.CompareRuns(w, []string{"a", "b"}, []float64{1}, "r2", "") },
		"no series":      func(w io.Writer) error { return plots.MetricCurve(w, "", "", "") },
	}
	for name, draw := range cases {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := draw(&buf); err == nil {
				t.Fatal("bad data was drawn without an error")
			}
			if buf.Len() != 0 {
				t.Errorf("%d bytes written despite the error", buf.Len())
			}
		})
	}
}

// TestSinglePointDrawsLittle makes sure the pixel counts above can fail: one
// point inks far fewer pixels than two thousand.
func TestSinglePointDrawsLittle(t *testing.T) {
	var one, many bytes.Buffer
	if err := plots.Residuals(&one, []float64{1}, []float64{1.1}, ""); err != nil {
		t.Fatal(err)
	}
	yTrue, yPred := sample(2000)
	if err := plots.Residuals(&many, yTrue, yPred, ""); err != nil {
		t.Fatal(err)
	}
	_, k1 := decode(t, one.Bytes())
	_, kn := decode(t, many.Bytes())
	if k1.colored*5 > kn.colored {
		t.Errorf("one point coloured %d pixels, 2000 points %d: the ink count does not see the data", k1.colored, kn.colored)
	}
}
