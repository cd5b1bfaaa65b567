package plots

import (
	"fmt"
	"io"

	"gonum.org/v1/plot/plotter"
)

// Series is one line of a MetricCurve: Y[i] is the value at X[i] (a step, a
// number of trees, an epoch), Name is its legend entry.
type Series struct {
	Name string
	X, Y []float64
}

// MetricCurve draws each series as a line over its steps, e.g. test R² against
// the number of trees, with a legend when there is more than one series.
func MetricCurve(w io.Writer, title, xLabel, yLabel string, series ...Series) error {
	if len(series) == 0 {
		return fmt.Errorf("plots: no series to draw")
	}
	p := newPlot(title, xLabel, yLabel)
	p.Add(plotter.NewGrid())
	for i, s := range series {
		if err := checkPairs(s.Name+" X", s.X, s.Name+" Y", s.Y); err != nil {
			return err
		}
		l, err := line(xys(s.X, s.Y))
		if err != nil {
			return err
		}
		l.Color = seriesColors[i%len(seriesColors)]
		p.Add(l)
		if len(series) > 1 {
			p.Legend.Add(s.Name, l)
		}
	}
	return writePNG(w, p)
}
