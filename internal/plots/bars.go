package plots

import (
	"cmp"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"

	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
)

// FeatureImportances draws one horizontal bar per feature, the most important
// at the top. names and importances are parallel; names label the bars.
func FeatureImportances(w io.Writer, names []string, importances []float64, title string) error {
	if len(names) != len(importances) {
		return fmt.Errorf("plots: %d feature names but %d importances", len(names), len(importances))
	}
	if len(names) == 0 {
		return fmt.Errorf("plots: no feature importances to draw")
	}
	if err := checkFinite("importances", importances); err != nil {
		return err
	}
	// Bars are drawn bottom-up, so ascending order puts the largest on top.
	order := make([]int, len(names))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(importances[a], importances[b]) })
	vals := make(plotter.Values, len(order))
	labels := make([]string, len(order))
	for i, j := range order {
		vals[i], labels[i] = importances[j], names[j]
	}

	p := newPlot(title, "Importance", "")
	bars, err := plotter.NewBarChart(vals, barWidth(len(vals), Height))
	if err != nil {
		return fmt.Errorf("plots: feature importances: %w", err)
	}
	bars.Horizontal = true
	bars.Color = dataColor
	bars.LineStyle.Width = 0
	p.Add(plotter.NewGrid(), bars)
	p.NominalY(labels...)
	// Half a slot of space around the outer bars, and room right of the longest.
	p.Y.Min, p.Y.Max = -0.5, float64(len(vals))-0.5
	lo, hi := minMax(vals)
	p.X.Min, p.X.Max = math.Min(0, lo), math.Max(0, hi)*1.05
	if p.X.Max == p.X.Min {
		p.X.Max = p.X.Min + 1
	}
	return writePNG(w, p)
}

// CompareRuns draws one vertical bar per run with the value of metric on it,
// labelled with the run names and the values printed above the bars.
func CompareRuns(w io.Writer, runNames []string, values []float64, metric, title string) error {
	if len(runNames) != len(values) {
		return fmt.Errorf("plots: %d run names but %d values", len(runNames), len(values))
	}
	if len(runNames) == 0 {
		return fmt.Errorf("plots: no runs to compare")
	}
	if err := checkFinite(metric, values); err != nil {
		return err
	}
	p := newPlot(title, "", metric)
	bars, err := plotter.NewBarChart(plotter.Values(values), barWidth(len(values), Width))
	if err != nil {
		return fmt.Errorf("plots: compare runs: %w", err)
	}
	bars.Color = dataColor
	bars.LineStyle.Width = 0

	pts := make(plotter.XYs, len(values))
	texts := make([]string, len(values))
	for i, v := range values {
		pts[i] = plotter.XY{X: float64(i), Y: v}
		texts[i] = strconv.FormatFloat(v, 'g', 4, 64)
	}
	labels, err := plotter.NewLabels(plotter.XYLabels{XYs: pts, Labels: texts})
	if err != nil {
		return fmt.Errorf("plots: compare runs: %w", err)
	}
	for i := range labels.TextStyle {
		labels.TextStyle[i].XAlign = text.XCenter
		labels.TextStyle[i].YAlign = text.YBottom
	}
	p.Add(plotter.NewGrid(), bars, labels)
	p.NominalX(runNames...)
	if len(runNames) > 4 { // long run names collide when there are many: tilt them
		p.X.Tick.Label.Rotation = math.Pi / 6
		p.X.Tick.Label.XAlign = text.XRight
		p.X.Tick.Label.YAlign = text.YCenter
	}
	p.X.Min, p.X.Max = -0.5, float64(len(values))-0.5
	lo, hi := minMax(values)
	p.Y.Min = math.Min(0, lo)
	// Leave headroom for the value labels above the tallest bar.
	p.Y.Max = math.Max(0, hi) + 0.1*math.Max(math.Abs(hi), math.Abs(lo))
	if p.Y.Max == p.Y.Min {
		p.Y.Max = p.Y.Min + 1
	}
	return writePNG(w, p)
}

// barWidth gives n bars about 60% of the span along an axis of length span.
func barWidth(n int, span vg.Length) vg.Length {
	return max(vg.Points(2), span*0.6/vg.Length(n+1))
}
