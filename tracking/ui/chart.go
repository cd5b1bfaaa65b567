package ui

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// chart is an SVG chart laid out in Go: every coordinate is computed here, and
// the chart template only places elements, so every text in it is escaped by
// html/template like any other text.
type chart struct {
	Title          string
	Width, Height  float64
	Left, Top      float64 // the plot area
	Right, Bottom  float64
	XTicks, YTicks []tick
	XLabel, YLabel string
	Line           string // polyline points, "x,y x,y ..."
	Points         []point
	Bars           []bar
	Empty          string // shown instead of a plot when there is nothing to draw
}

type tick struct {
	Pos   float64
	Label string
}

type point struct {
	X, Y  float64
	Title string // the tooltip
}

type bar struct {
	X, Y, W, H float64
	Title      string
	Label      string  // under the bar
	LabelX     float64 // center of the bar
}

// Chart sizes in SVG user units; the SVG scales to its container.
const (
	chartW      = 480
	chartH      = 260
	chartLeft   = 64
	chartRight  = 16
	chartTop    = 28
	chartBottom = 48
)

func newChart(title, xLabel, yLabel string) *chart {
	return &chart{
		Title: title, XLabel: xLabel, YLabel: yLabel,
		Width: chartW, Height: chartH,
		Left: chartLeft, Top: chartTop, Right: chartW - chartRight, Bottom: chartH - chartBottom,
	}
}

// scale maps [lo, hi] onto [a, b].
type scale struct{ lo, hi, a, b float64 }

func (s scale) at(v float64) float64 {
	if s.hi == s.lo {
		return (s.a + s.b) / 2
	}
	return s.a + (v-s.lo)/(s.hi-s.lo)*(s.b-s.a)
}

func finite(v float64) bool {
	return !math.IsNaN(v) && !math.IsInf(v, 0) && math.Abs(v) < math.MaxFloat64
}

// niceTicks returns about n round tick values covering [lo, hi], and the range
// they span (which contains [lo, hi]).
func niceTicks(lo, hi float64, n int) (ticks []float64, tlo, thi float64) {
	if lo == hi {
		d := math.Abs(lo) * 0.1
		if d == 0 {
			d = 1
		}
		lo, hi = lo-d, hi+d
	}
	raw := (hi - lo) / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	tlo = math.Floor(lo/step) * step
	thi = math.Ceil(hi/step) * step
	for v := tlo; v <= thi+step/2; v += step {
		ticks = append(ticks, math.Round(v/step)*step)
	}
	return ticks, tlo, thi
}

func tickLabel(v float64) string {
	if v == 0 {
		return "0"
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

// lineChart plots ys against xs (a metric's history: value by step).
func lineChart(title string, xs, ys []float64) *chart {
	c := newChart(title, "step", "value")
	// The line goes by step: a store gives a history by time (MLflow 3) or as
	// its database returns it (MLflow 2), and a value logged later may be at
	// an earlier step. The sort is stable: the values of one step keep their
	// order.
	var finitePoints [][2]float64
	for i := range xs {
		if finite(xs[i]) && finite(ys[i]) {
			finitePoints = append(finitePoints, [2]float64{xs[i], ys[i]})
		}
	}
	slices.SortStableFunc(finitePoints, func(a, b [2]float64) int { return cmp.Compare(a[0], b[0]) })
	fx, fy := make([]float64, len(finitePoints)), make([]float64, len(finitePoints))
	for i, p := range finitePoints {
		fx[i], fy[i] = p[0], p[1]
	}
	if len(fx) == 0 {
		c.Empty = "no finite values to plot"
		return c
	}
	xlo, xhi := minMax(fx)
	ylo, yhi := minMax(fy)
	sx, sy := c.axes(xlo, xhi, ylo, yhi)
	var b strings.Builder
	for i := range fx {
		x, y := sx.at(fx[i]), sy.at(fy[i])
		fmt.Fprintf(&b, "%.1f,%.1f ", x, y)
		if len(fx) <= 60 {
			c.Points = append(c.Points, point{X: x, Y: y, Title: "step " + tickLabel(fx[i]) + ": " + fmtNum(fy[i])})
		}
	}
	c.Line = strings.TrimSpace(b.String())
	return c
}

// barChart draws one bar per label; non-finite values get no bar.
func barChart(title string, labels []string, values []float64) *chart {
	c := newChart(title, "", title)
	var fv []float64
	for _, v := range values {
		if finite(v) {
			fv = append(fv, v)
		}
	}
	if len(fv) == 0 {
		c.Empty = "no finite values to plot"
		return c
	}
	lo, hi := minMax(fv)
	lo, hi = math.Min(lo, 0), math.Max(hi, 0) // bars start at zero
	var sy scale
	c.YTicks, sy = c.yScale(lo, hi)
	slot := (c.Right - c.Left) / float64(len(values))
	w := math.Min(slot*0.7, 60)
	zero := sy.at(0)
	for i, v := range values {
		cx := c.Left + slot*(float64(i)+0.5)
		b := bar{LabelX: cx, Label: shorten(labels[i], int(slot/7)), Title: labels[i] + ": " + fmtNum(v)}
		if finite(v) {
			y := sy.at(v)
			b.X, b.W = cx-w/2, w
			b.Y, b.H = math.Min(y, zero), math.Abs(zero-y)
		}
		c.Bars = append(c.Bars, b)
	}
	return c
}

// scatterChart plots one point per run. When some x value is not a number, the x
// axis is categorical: one position per distinct value, in first-seen order.
func scatterChart(title, xLabel, yLabel string, xs []string, ys []float64, names []string) *chart {
	c := newChart(title, xLabel, yLabel)
	numeric := true
	xv := make([]float64, len(xs))
	for i, s := range xs {
		v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil || !finite(v) {
			numeric = false
			break
		}
		xv[i] = v
	}
	var cats []string
	if !numeric {
		pos := map[string]int{}
		for i, s := range xs {
			p, ok := pos[s]
			if !ok {
				p = len(cats)
				pos[s] = p
				cats = append(cats, s)
			}
			xv[i] = float64(p)
		}
	}
	var fx, fy []float64
	for i := range xv {
		if finite(ys[i]) {
			fx, fy = append(fx, xv[i]), append(fy, ys[i])
		}
	}
	if len(fx) == 0 {
		c.Empty = "no run has both values"
		return c
	}
	var sx, sy scale
	ylo, yhi := minMax(fy)
	if numeric {
		xlo, xhi := minMax(fx)
		// A margin, so that no point sits on an axis.
		xpad, ypad := (xhi-xlo)*0.06, (yhi-ylo)*0.06
		sx, sy = c.axes(xlo-xpad, xhi+xpad, ylo-ypad, yhi+ypad)
	} else {
		c.YTicks, sy = c.yScale(ylo, yhi)
		sx = scale{-0.5, float64(len(cats)) - 0.5, c.Left, c.Right}
		slot := (c.Right - c.Left) / float64(len(cats))
		for i, cat := range cats {
			c.XTicks = append(c.XTicks, tick{Pos: sx.at(float64(i)), Label: shorten(cat, int(slot/7))})
		}
	}
	for i := range xv {
		if !finite(ys[i]) {
			continue
		}
		c.Points = append(c.Points, point{X: sx.at(xv[i]), Y: sy.at(ys[i]),
			Title: fmt.Sprintf("%s: %s = %s, %s = %s", names[i], xLabel, xs[i], yLabel, fmtNum(ys[i]))})
	}
	return c
}

// axes sets both axes' ticks for the given data ranges and returns their scales.
func (c *chart) axes(xlo, xhi, ylo, yhi float64) (sx, sy scale) {
	ticks, tlo, thi := niceTicks(xlo, xhi, 6)
	sx = scale{tlo, thi, c.Left, c.Right}
	c.XTicks = nil
	for _, t := range ticks {
		c.XTicks = append(c.XTicks, tick{Pos: sx.at(t), Label: tickLabel(t)})
	}
	c.YTicks, sy = c.yScale(ylo, yhi)
	return sx, sy
}

func (c *chart) yScale(lo, hi float64) ([]tick, scale) {
	ticks, tlo, thi := niceTicks(lo, hi, 5)
	sy := scale{tlo, thi, c.Bottom, c.Top}
	var out []tick
	for _, t := range ticks {
		out = append(out, tick{Pos: sy.at(t), Label: tickLabel(t)})
	}
	return out, sy
}

func minMax(vs []float64) (lo, hi float64) {
	lo, hi = vs[0], vs[0]
	for _, v := range vs[1:] {
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	return lo, hi
}

// shorten cuts s to at most n runes (at least 3), marking the cut with an ellipsis.
func shorten(s string, n int) string {
	n = max(n, 3)
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
