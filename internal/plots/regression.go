package plots

import (
	"fmt"
	"io"
	"math"

	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// PredictedVsActual draws yPred against yTrue as a scatter with the y = x line a
// perfect model would fall on. Both axes share one range so the line is the diagonal.
func PredictedVsActual(w io.Writer, yTrue, yPred []float64, title string) error {
	if err := checkPairs("yTrue", yTrue, "yPred", yPred); err != nil {
		return err
	}
	p := newPlot(title, "Actual", "Predicted")
	sc, err := scatter(yTrue, yPred)
	if err != nil {
		return err
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for i := range yTrue {
		lo = min(lo, yTrue[i], yPred[i])
		hi = max(hi, yTrue[i], yPred[i])
	}
	if lo == hi { // a single value: give the axes some extent
		lo, hi = lo-1, hi+1
	}
	ideal, err := line(plotter.XYs{{X: lo, Y: lo}, {X: hi, Y: hi}})
	if err != nil {
		return err
	}
	ideal.Color = referenceColor
	ideal.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	p.Add(plotter.NewGrid(), sc, ideal)
	p.Legend.Add("predictions", sc)
	p.Legend.Add("y = x", ideal)
	p.Legend.Top = true
	p.Legend.Left = true
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = lo, hi, lo, hi
	return writePNG(w, p)
}

// Residuals draws yTrue - yPred against yPred, with the zero line: a good model
// leaves a structureless band around it.
func Residuals(w io.Writer, yTrue, yPred []float64, title string) error {
	if err := checkPairs("yTrue", yTrue, "yPred", yPred); err != nil {
		return err
	}
	res := residuals(yTrue, yPred)
	p := newPlot(title, "Predicted", "Residual (actual - predicted)")
	sc, err := scatter(yPred, res)
	if err != nil {
		return err
	}
	lo, hi := minMax(yPred)
	if lo == hi {
		lo, hi = lo-1, hi+1
	}
	zero, err := line(plotter.XYs{{X: lo, Y: 0}, {X: hi, Y: 0}})
	if err != nil {
		return err
	}
	zero.Color = referenceColor
	zero.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	p.Add(plotter.NewGrid(), sc, zero)
	return writePNG(w, p)
}

// ResidualHistogram draws the distribution of yTrue - yPred in bins bins
// (bins <= 0 picks the square root of the count, at most 50).
func ResidualHistogram(w io.Writer, yTrue, yPred []float64, bins int, title string) error {
	if err := checkPairs("yTrue", yTrue, "yPred", yPred); err != nil {
		return err
	}
	if bins <= 0 {
		bins = min(50, max(1, int(math.Sqrt(float64(len(yTrue))))))
	}
	h, err := plotter.NewHist(plotter.Values(residuals(yTrue, yPred)), bins)
	if err != nil {
		return fmt.Errorf("plots: residual histogram: %w", err)
	}
	h.FillColor = pointColor
	h.LineStyle.Color = dataColor
	p := newPlot(title, "Residual (actual - predicted)", "Count")
	p.Add(plotter.NewGrid(), h)
	return writePNG(w, p)
}

func residuals(yTrue, yPred []float64) []float64 {
	res := make([]float64, len(yTrue))
	for i := range yTrue {
		res[i] = yTrue[i] - yPred[i]
	}
	return res
}

func minMax(v []float64) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, x := range v {
		lo, hi = min(lo, x), max(hi, x)
	}
	return lo, hi
}

func xys(x, y []float64) plotter.XYs {
	pts := make(plotter.XYs, len(x))
	for i := range x {
		pts[i] = plotter.XY{X: x[i], Y: y[i]}
	}
	return pts
}

func scatter(x, y []float64) (*plotter.Scatter, error) {
	sc, err := plotter.NewScatter(xys(x, y))
	if err != nil {
		return nil, fmt.Errorf("plots: scatter: %w", err)
	}
	sc.GlyphStyle.Color = pointColor
	sc.GlyphStyle.Shape = draw.CircleGlyph{}
	sc.GlyphStyle.Radius = vg.Points(1.5)
	return sc, nil
}

func line(pts plotter.XYs) (*plotter.Line, error) {
	l, err := plotter.NewLine(pts)
	if err != nil {
		return nil, fmt.Errorf("plots: line: %w", err)
	}
	l.Width = vg.Points(1.5)
	return l, nil
}
