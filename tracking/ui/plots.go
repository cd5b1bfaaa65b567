package ui

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// plot is a chart of several runs (the compare and search-result charts),
// laid out in Go like chart: the template only places what is computed here.
// Each run's elements carry its index (data-run) and colour class, so one
// legend names the runs of every plot on the page.
type plot struct {
	Kind           string // "history", "parallel", "scatter" or "contour": a class and a test hook
	Title          string
	Width, Height  float64
	Left, Top      float64 // the plot area
	Right, Bottom  float64
	XTicks, YTicks []tick
	XLabel, YLabel string
	Series         []series // one path per run
	Marks          []mark   // one point per run (or per run's only value)
	Axes           []paxis  // parallel coordinates' vertical axes
	Cells          []cell   // the contour's heat map
	Contours       []contourLine
	Bar            *colorBar
	Empty          string // shown instead of a plot when there is nothing to draw
}

// plotRun is a run as the plots and the legend show it.
type plotRun struct {
	Index int
	ID    string
	Name  string
	URL   string
	Class string // colour class: rc0..rc9, dashed after the first ten
}

type series struct {
	Run   int
	Class string
	D     string // SVG path data
	Title string
}

type mark struct {
	Run   int
	Class string
	X, Y  float64
	Title string
}

// paxis is a vertical axis of a parallel-coordinates plot.
type paxis struct {
	X     float64
	Label string
	Full  string // the label unshortened, as its tooltip
	Ticks []tick
}

type cell struct {
	X, Y, W, H float64
	Fill       string
	Title      string
}

type contourLine struct {
	D     string
	Level string
}

// colorBar is the contour's scale: colour stops and the level ticks beside them.
type colorBar struct {
	X, Y, W, H float64
	Stops      []cell
	Ticks      []tick
	Label      string
}

// runColors is the number of distinct colour classes; runs beyond it repeat
// the colours with dashed lines, and beyond twice that the pattern repeats.
const runColors = 10

func runClass(i int) string {
	c := "rc" + strconv.Itoa(i%runColors)
	if (i/runColors)%2 == 1 {
		c += " dashed"
	}
	return c
}

// Plot sizes in SVG user units; the SVGs scale to their containers.
const (
	plotW, plotH         = 480, 280
	wideW, wideH         = 1100, 380
	squareW, squareH     = 600, 440
	plotLeft, plotRight  = 64, 16
	plotTop, plotBottom  = 30, 52
	contourNX, contourNY = 36, 26 // heat map cells
)

func newPlot(kind, title string, w, h float64) *plot {
	return &plot{Kind: kind, Title: title, Width: w, Height: h,
		Left: plotLeft, Top: plotTop, Right: w - plotRight, Bottom: h - plotBottom}
}

// runHistory is one run's history of one metric: x is the step or the
// seconds since the run started.
type runHistory struct {
	Run    int
	Xs, Ys []float64
}

// historyPlot overlays the runs' histories of one metric, one path per run
// (sorted by x; non-finite points left out). A run with a single point gets a
// mark as well, since a path of one point draws nothing.
func historyPlot(metric, xLabel string, hs []runHistory, runs []plotRun) *plot {
	p := newPlot("history", metric, plotW, plotH)
	p.XLabel, p.YLabel = xLabel, metric
	// Each run's finite points, sorted by x (stable: the values of one step
	// keep their order).
	cxs, cys := make([][]float64, len(hs)), make([][]float64, len(hs))
	var allX, allY []float64
	for k, h := range hs {
		idx := make([]int, 0, len(h.Xs))
		for i := range h.Xs {
			if finite(h.Xs[i]) && finite(h.Ys[i]) {
				idx = append(idx, i)
			}
		}
		slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(h.Xs[a], h.Xs[b]) })
		for _, i := range idx {
			cxs[k], cys[k] = append(cxs[k], h.Xs[i]), append(cys[k], h.Ys[i])
		}
		allX, allY = append(allX, cxs[k]...), append(allY, cys[k]...)
	}
	if len(allX) == 0 {
		p.Empty = "no finite values to plot"
		return p
	}
	sx, sy := p.numericAxes(allX, allY, 0, 0.04)
	for k, h := range hs {
		n := len(cxs[k])
		if n == 0 {
			continue
		}
		r := runs[h.Run]
		// No more points than the plot's width can show apart.
		xs, ys := decimate(cxs[k], cys[k], int(p.Right-p.Left))
		var b strings.Builder
		for i := range xs {
			cmd := " L"
			if i == 0 {
				cmd = "M"
			}
			fmt.Fprintf(&b, "%s%.1f,%.1f", cmd, sx.at(xs[i]), sy.at(ys[i]))
		}
		lx, ly := cxs[k][n-1], cys[k][n-1]
		title := fmt.Sprintf("%s: %s %s at %s %s (%d points)", r.Name, metric, fmtNum(ly), xLabel, fmtNum(lx), n)
		p.Series = append(p.Series, series{Run: r.Index, Class: r.Class, D: b.String(), Title: title})
		if n == 1 {
			p.Marks = append(p.Marks, mark{Run: r.Index, Class: r.Class, X: sx.at(lx), Y: sy.at(ly), Title: title})
		}
	}
	return p
}

// numericAxes sets the plot's ticks for xs and ys, each range padded by its
// fraction, and returns the scales.
func (p *plot) numericAxes(xs, ys []float64, xpad, ypad float64) (sx, sy scale) {
	xlo, xhi := minMax(xs)
	ylo, yhi := minMax(ys)
	dx, dy := (xhi-xlo)*xpad, (yhi-ylo)*ypad
	xt, xtlo, xthi := niceTicks(xlo-dx, xhi+dx, 6)
	yt, ytlo, ythi := niceTicks(ylo-dy, yhi+dy, 5)
	sx, sy = scale{xtlo, xthi, p.Left, p.Right}, scale{ytlo, ythi, p.Bottom, p.Top}
	for _, t := range xt {
		p.XTicks = append(p.XTicks, tick{Pos: sx.at(t), Label: tickLabel(t)})
	}
	for _, t := range yt {
		p.YTicks = append(p.YTicks, tick{Pos: sy.at(t), Label: tickLabel(t)})
	}
	return sx, sy
}

// runValues are the runs' values of one field (a param or a metric), "" and
// false where a run has none.
type runValues struct {
	Field  field
	Values []string
	Has    []bool
}

// present returns the values that are there.
func (rv runValues) present() []string {
	var out []string
	for i, v := range rv.Values {
		if rv.Has[i] {
			out = append(out, v)
		}
	}
	return out
}

// scatterPlot puts one mark per run that has both values: x any param or
// metric (a categorical axis when some value is not a number), y a metric.
func scatterPlot(x, y runValues, runs []plotRun) *plot {
	p := newPlot("scatter", y.Field.Key+" by "+x.Field.Key, squareW, squareH)
	p.XLabel, p.YLabel = x.Field.Label(), y.Field.Label()
	var xs, ys []string
	for i := range runs {
		if x.Has[i] && y.Has[i] {
			if _, ok := parseNum(y.Values[i]); ok {
				xs, ys = append(xs, x.Values[i]), append(ys, y.Values[i])
			}
		}
	}
	if len(xs) == 0 {
		p.Empty = "no run has both " + x.Field.Label() + " and " + y.Field.Label()
		return p
	}
	// Tight axes: a learning rate of 0.01 to 0.3 gets no axis from −0.1.
	ax := newValueAxis(xs, p.Left, p.Right, 6, 0.06, true)
	ay := newValueAxis(ys, p.Bottom, p.Top, 5, 0.06, true)
	p.XTicks, p.YTicks = shortTicks(ax.ticks, slotChars(p.Right-p.Left, len(ax.ticks))), ay.ticks
	for i, r := range runs {
		if !x.Has[i] || !y.Has[i] {
			continue
		}
		px, okx := ax.pos(x.Values[i])
		py, oky := ay.pos(y.Values[i])
		if okx && oky {
			p.Marks = append(p.Marks, mark{Run: r.Index, Class: r.Class, X: px, Y: py,
				Title: fmt.Sprintf("%s: %s = %s, %s = %s", r.Name, x.Field.Key, x.Values[i], y.Field.Key, y.Values[i])})
		}
	}
	return p
}

// charWidth is about the width of a tick label's character, in user units.
const charWidth = 6.5

// shortTicks cuts categorical tick labels to chars characters.
func shortTicks(ts []tick, chars int) []tick {
	out := slices.Clone(ts)
	for i := range out {
		out[i].Label = shorten(out[i].Label, chars)
	}
	return out
}

// slotChars is how many characters fit under each of n ticks along width.
func slotChars(width float64, n int) int {
	if n == 0 {
		return 0
	}
	return int(width / float64(n) / charWidth)
}

// parallelPlot draws one vertical axis per field (params, then the metric
// last) and one path per run through its values; a run without some value
// has a gap there.
func parallelPlot(fields []runValues, runs []plotRun) *plot {
	title := "Parallel coordinates"
	if len(fields) > 0 {
		title += " of " + fields[len(fields)-1].Field.Key
	}
	p := newPlot("parallel", title, wideW, wideH)
	p.Top += 18 // room for the axis labels above the axes
	if len(fields) < 2 {
		p.Empty = "choose at least one param and a metric"
		return p
	}
	axes := make([]valueAxis, len(fields))
	ok := make([]bool, len(fields))
	for k, f := range fields {
		if vals := f.present(); len(vals) > 0 {
			axes[k], ok[k] = newValueAxis(vals, p.Bottom, p.Top, 5, 0, false), true
		}
	}
	// Tick labels sit left of their axis: the first axis leaves room for its
	// own, and every label fits in the space between two axes.
	right := p.Right - 48
	slot := (right - p.Left - 24) / float64(len(fields)-1)
	chars := int(slot/charWidth) - 1
	widest := 0
	for _, t := range axes[0].ticks {
		widest = max(widest, len([]rune(shorten(t.Label, chars))))
	}
	left := max(p.Left+24, min(float64(widest)*charWidth+12, p.Left+slot/2))
	slot = (right - left) / float64(len(fields)-1)
	for k, f := range fields {
		x := left + slot*float64(k)
		p.Axes = append(p.Axes, paxis{X: x, Label: shorten(f.Field.Key, int(slot/charWidth)), Full: f.Field.Label()})
		if ok[k] {
			p.Axes[k].Ticks = shortTicks(axes[k].ticks, int(slot/charWidth)-1)
		}
	}
	drawn := 0
	for i, r := range runs {
		var parts []string
		for _, f := range fields {
			if f.Has[i] {
				parts = append(parts, f.Field.Key+" = "+f.Values[i])
			}
		}
		d := pathThrough(fields, axes, ok, p.Axes, i)
		if d == "" {
			continue
		}
		drawn++
		p.Series = append(p.Series, series{Run: r.Index, Class: r.Class, D: d, Title: r.Name + ": " + strings.Join(parts, ", ")})
	}
	if drawn == 0 {
		p.Empty = "no run has any of these values"
	}
	return p
}

// pathThrough is run i's path across the axes, starting a new subpath after a gap.
func pathThrough(fields []runValues, axes []valueAxis, ok []bool, pa []paxis, i int) string {
	var b strings.Builder
	pen := false
	for k, f := range fields {
		y, has := 0.0, false
		if ok[k] && f.Has[i] {
			y, has = axes[k].pos(f.Values[i])
		}
		if !has {
			pen = false
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		cmd := "M" // a new subpath, after a gap
		if pen {
			cmd = "L"
		}
		fmt.Fprintf(&b, "%s%.1f,%.1f", cmd, pa[k].X, y)
		pen = true
	}
	return b.String()
}

// contourPlot interpolates the metric z over the plane of two params x and y
// (inverse distance weighting on a grid), draws it as a binned heat map with
// contour lines at round levels, and marks the runs on it.
func contourPlot(x, y, z runValues, runs []plotRun) *plot {
	p := newPlot("contour", z.Field.Key+" over "+x.Field.Key+" and "+y.Field.Key, squareW, squareH)
	p.Right -= 70 // room for the colour bar
	p.XLabel, p.YLabel = x.Field.Label(), y.Field.Label()
	var idx []int
	var xs, ys []string
	var zs []float64
	for i := range runs {
		if !x.Has[i] || !y.Has[i] || !z.Has[i] {
			continue
		}
		v, ok := parseNum(z.Values[i])
		if !ok {
			continue
		}
		idx, xs, ys, zs = append(idx, i), append(xs, x.Values[i]), append(ys, y.Values[i]), append(zs, v)
	}
	distinct := map[[2]string]bool{}
	for k := range xs {
		distinct[[2]string{xs[k], ys[k]}] = true
	}
	if len(distinct) < 3 {
		p.Empty = fmt.Sprintf("a contour needs runs at three or more distinct (%s, %s) points; these runs have %d", x.Field.Key, y.Field.Key, len(distinct))
		return p
	}
	// A margin, so that no run sits on the frame.
	ax := newValueAxis(xs, p.Left, p.Right, 6, 0.04, true)
	ay := newValueAxis(ys, p.Bottom, p.Top, 5, 0.04, true)
	p.XTicks, p.YTicks = shortTicks(ax.ticks, slotChars(p.Right-p.Left, len(ax.ticks))), ay.ticks
	us, vs := make([]float64, len(xs)), make([]float64, len(xs))
	for k := range xs {
		us[k], _ = ax.unit(xs[k])
		vs[k], _ = ay.unit(ys[k])
	}
	// Node values at the cell corners; a cell shows the mean of its corners.
	nx, ny := contourNX+1, contourNY+1
	grid := make([]float64, nx*ny)
	if err := idwGrid(grid, nx, ny, us, vs, zs, smoothingDistance(len(zs))); err != nil {
		p.Empty = err.Error()
		return p
	}
	zlo, zhi := minMax(zs)
	unitZ := func(v float64) float64 {
		if zhi == zlo {
			return 0.5
		}
		return (v - zlo) / (zhi - zlo)
	}
	cw, ch := (p.Right-p.Left)/contourNX, (p.Bottom-p.Top)/contourNY
	for j := range contourNY {
		for i := range contourNX {
			m := (grid[j*nx+i] + grid[j*nx+i+1] + grid[(j+1)*nx+i] + grid[(j+1)*nx+i+1]) / 4
			p.Cells = append(p.Cells, cell{X: p.Left + float64(i)*cw, Y: p.Bottom - float64(j+1)*ch, W: cw + 0.3, H: ch + 0.3,
				Fill: colorAt(unitZ(m)), Title: z.Field.Key + " ≈ " + fmtNum(m)})
		}
	}
	levels := contourLevels(zlo, zhi, 6)
	for _, lv := range levels {
		var b strings.Builder
		for _, s := range marchingSquares(grid, nx, ny, lv) {
			fmt.Fprintf(&b, "M%.1f,%.1f L%.1f,%.1f ", p.Left+s.X1*cw, p.Bottom-s.Y1*ch, p.Left+s.X2*cw, p.Bottom-s.Y2*ch)
		}
		if b.Len() > 0 {
			p.Contours = append(p.Contours, contourLine{D: strings.TrimSpace(b.String()), Level: tickLabel(lv)})
		}
	}
	bar := &colorBar{X: p.Right + 24, Y: p.Top, W: 14, H: p.Bottom - p.Top, Label: z.Field.Key}
	const stops = 40
	for s := range stops {
		t := float64(s) / stops
		bar.Stops = append(bar.Stops, cell{X: bar.X, Y: bar.Y + bar.H*(1-t-1.0/stops), W: bar.W, H: bar.H/stops + 0.3, Fill: colorAt(t + 0.5/stops)})
	}
	bs := scale{zlo, zhi, bar.Y + bar.H, bar.Y}
	for _, lv := range levels {
		bar.Ticks = append(bar.Ticks, tick{Pos: bs.at(lv), Label: tickLabel(lv)})
	}
	// The ends say the range, unless a level's label is already there.
	for _, end := range []float64{zlo, zhi} {
		if !slices.ContainsFunc(bar.Ticks, func(t tick) bool { return math.Abs(t.Pos-bs.at(end)) < 13 }) {
			bar.Ticks = append(bar.Ticks, tick{Pos: bs.at(end), Label: fmtShort(end)})
		}
	}
	p.Bar = bar
	for k, i := range idx {
		r := runs[i]
		px, _ := ax.pos(xs[k])
		py, _ := ay.pos(ys[k])
		p.Marks = append(p.Marks, mark{Run: r.Index, Class: r.Class, X: px, Y: py,
			Title: fmt.Sprintf("%s: %s = %s, %s = %s, %s = %s", r.Name, x.Field.Key, xs[k], y.Field.Key, ys[k], z.Field.Key, fmtNum(zs[k]))})
	}
	return p
}

// fmtShort formats a colour bar's end values in 4 significant digits.
func fmtShort(v float64) string {
	if math.Abs(v) < 1e-12 {
		return "0"
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

// MidX is the middle of the plot area, where the x axis' label goes.
func (p *plot) MidX() float64 { return (p.Left + p.Right) / 2 }

// NegMidY places the rotated y label mid-axis (rotation turns y into −x).
func (p *plot) NegMidY() float64 { return -(p.Top + p.Bottom) / 2 }

// TickEnd is where the x axis' tick marks end, below the axis.
func (p *plot) TickEnd() float64 { return p.Bottom + 5 }
