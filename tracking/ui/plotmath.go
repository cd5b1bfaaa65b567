package ui

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// The numeric part of the run charts: value axes (numeric or categorical),
// interpolation of scattered values onto a grid, contour levels and lines by
// marching squares, and a sequential colour map. Plain functions over slices,
// in the manner of gonum; the layout that uses them is in plots.go.

// valueAxis maps the values of a param or metric onto the pixel range [a, b]:
// linearly over round ticks when every value is a number, otherwise one evenly
// spaced slot per distinct value (numbers first, ascending, then the other
// values in lexical order: max_depth "10", "20", "None").
type valueAxis struct {
	cats  []string // nil: numeric
	index map[string]int
	lin   scale
	ticks []tick
}

// newValueAxis returns the axis of vals onto [a, b] with about n ticks. vals
// must not be empty (the callers draw nothing without values); pad widens a
// numeric range by that fraction on each side, so no point sits on a frame.
// A numeric axis spans its round ticks, or with tight, only the padded range
// of the values (the ticks inside it): a heat map then covers the runs'
// range, not an extrapolated margin.
func newValueAxis(vals []string, a, b float64, n int, pad float64, tight bool) valueAxis {
	nums := make([]float64, 0, len(vals))
	numeric := true
	for _, s := range vals {
		v, ok := parseNum(s)
		if !ok {
			numeric = false
			break
		}
		nums = append(nums, v)
	}
	if numeric && len(nums) > 0 {
		lo, hi := minMax(nums)
		d := (hi - lo) * pad
		ts, tlo, thi := niceTicks(lo-d, hi+d, n)
		ax := valueAxis{lin: scale{tlo, thi, a, b}}
		if tight && lo < hi {
			ax.lin = scale{lo - d, hi + d, a, b}
		}
		for _, t := range ts {
			if t >= ax.lin.lo-1e-9*(thi-tlo) && t <= ax.lin.hi+1e-9*(thi-tlo) {
				ax.ticks = append(ax.ticks, tick{Pos: ax.lin.at(t), Label: tickLabel(t)})
			}
		}
		return ax
	}
	ax := valueAxis{index: map[string]int{}}
	for _, s := range vals {
		if _, ok := ax.index[s]; !ok {
			ax.index[s] = 0
			ax.cats = append(ax.cats, s)
		}
	}
	slices.SortFunc(ax.cats, compareCategories)
	for i, c := range ax.cats {
		ax.index[c] = i
	}
	// Slot centres: a + (i+½)·(b−a)/k, so that one category sits mid-axis.
	ax.lin = scale{-0.5, float64(len(ax.cats)) - 0.5, a, b}
	for i, c := range ax.cats {
		ax.ticks = append(ax.ticks, tick{Pos: ax.lin.at(float64(i)), Label: c})
	}
	return ax
}

// categorical tells whether the axis has one slot per value.
func (ax valueAxis) categorical() bool { return ax.cats != nil }

// pos returns the pixel position of value s; false when s is not on the axis.
func (ax valueAxis) pos(s string) (float64, bool) {
	if ax.cats != nil {
		i, ok := ax.index[s]
		if !ok {
			return 0, false
		}
		return ax.lin.at(float64(i)), true
	}
	v, ok := parseNum(s)
	if !ok {
		return 0, false
	}
	return ax.lin.at(v), true
}

// unit returns the position of s on the axis as a fraction of [a, b], for
// interpolation in a space where both axes weigh the same.
func (ax valueAxis) unit(s string) (float64, bool) {
	p, ok := ax.pos(s)
	if !ok || ax.lin.b == ax.lin.a {
		return 0, ok
	}
	return (p - ax.lin.a) / (ax.lin.b - ax.lin.a), true
}

// parseNum reads a finite number; params are strings ("100", "0.5", "None").
func parseNum(s string) (float64, bool) {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	return v, err == nil && finite(v)
}

// compareCategories orders numbers before other strings, numbers by value.
func compareCategories(a, b string) int {
	va, oka := parseNum(a)
	vb, okb := parseNum(b)
	switch {
	case oka && okb:
		return cmp.Or(cmp.Compare(va, vb), strings.Compare(a, b))
	case oka:
		return -1
	case okb:
		return 1
	}
	return strings.Compare(a, b)
}

// idwGrid fills dst, an nx×ny grid of values stored row by row (dst[j*nx+i]
// at u = i/(nx−1), v = j/(ny−1)), by inverse distance weighting of the
// scattered samples (us[k], vs[k], zs[k]) with weights 1/(d² + s²). The
// smoothing distance s keeps a dense, noisy cloud of samples from becoming a
// field of bull's-eyes (each sample its own peak, as with plain 1/d²) while
// staying close to a lone sample; s = 0 is plain IDW, exact at the samples.
// The result never leaves the samples' range. It panics when the lengths
// disagree or nx, ny < 2, and returns an error when there are no samples.
func idwGrid(dst []float64, nx, ny int, us, vs, zs []float64, s float64) error {
	if len(us) != len(vs) || len(us) != len(zs) || nx < 2 || ny < 2 || len(dst) != nx*ny {
		panic("ui: idwGrid: mismatched lengths")
	}
	if len(us) == 0 {
		return fmt.Errorf("interpolate onto a %d×%d grid: no samples", nx, ny)
	}
	for j := range ny {
		v := float64(j) / float64(ny-1)
		for i := range nx {
			u := float64(i) / float64(nx-1)
			dst[j*nx+i] = idwAt(u, v, us, vs, zs, s*s)
		}
	}
	return nil
}

// idwAt is the inverse-distance-weighted value at (u, v), with weights
// 1/(d² + s2). With s2 = 0, samples at (u, v), within 1e-12, give their mean.
func idwAt(u, v float64, us, vs, zs []float64, s2 float64) float64 {
	const eps = 1e-12
	var num, den, exact float64
	var nExact int
	for k := range us {
		du, dv := u-us[k], v-vs[k]
		d2 := du*du + dv*dv + s2
		if d2 < eps*eps {
			exact += zs[k]
			nExact++
			continue
		}
		num += zs[k] / d2
		den += 1 / d2
	}
	if nExact > 0 {
		return exact / float64(nExact)
	}
	return num / den
}

// smoothingDistance is the s of idwGrid for n samples in the unit square:
// about the mean distance from a point to its nearest neighbour among n
// spread at random (0.5/√n), so that a dense cloud averages neighbours while a
// lone sample still weighs most at its own place.
func smoothingDistance(n int) float64 {
	if n == 0 {
		return 0
	}
	return 0.5 / math.Sqrt(float64(n))
}

// contourLevels returns round levels strictly inside (lo, hi), about n of them.
func contourLevels(lo, hi float64, n int) []float64 {
	if !(lo < hi) {
		return nil
	}
	ts, _, _ := niceTicks(lo, hi, n)
	var out []float64
	for _, t := range ts {
		if t > lo && t < hi {
			out = append(out, t)
		}
	}
	return out
}

// segment is a piece of a contour line in grid coordinates (i along x, j along y).
type segment struct{ X1, Y1, X2, Y2 float64 }

// marchingSquares returns the segments of the level line z = level over grid
// (nx×ny, row by row as idwGrid fills it), with crossings placed by linear
// interpolation along the cell edges. A saddle cell (opposite corners on the
// same side) is resolved by the mean of its corners, as usual.
func marchingSquares(grid []float64, nx, ny int, level float64) []segment {
	if len(grid) != nx*ny {
		panic("ui: marchingSquares: grid is not nx×ny")
	}
	var segs []segment
	for j := 0; j+1 < ny; j++ {
		for i := 0; i+1 < nx; i++ {
			// Corners counter-clockwise from (i, j): a=(i,j) b=(i+1,j) c=(i+1,j+1) d=(i,j+1).
			za, zb := grid[j*nx+i], grid[j*nx+i+1]
			zc, zd := grid[(j+1)*nx+i+1], grid[(j+1)*nx+i]
			code := 0
			for bit, z := range []float64{za, zb, zc, zd} {
				if z >= level {
					code |= 1 << bit
				}
			}
			if code == 0 || code == 15 {
				continue
			}
			fi, fj := float64(i), float64(j)
			// The crossing on each edge: bottom a–b, right b–c, top d–c, left a–d.
			bottom := func() (float64, float64) { return fi + frac(za, zb, level), fj }
			right := func() (float64, float64) { return fi + 1, fj + frac(zb, zc, level) }
			top := func() (float64, float64) { return fi + frac(zd, zc, level), fj + 1 }
			left := func() (float64, float64) { return fi, fj + frac(za, zd, level) }
			add := func(p, q func() (float64, float64)) {
				x1, y1 := p()
				x2, y2 := q()
				segs = append(segs, segment{x1, y1, x2, y2})
			}
			switch code {
			case 1, 14:
				add(left, bottom)
			case 2, 13:
				add(bottom, right)
			case 3, 12:
				add(left, right)
			case 4, 11:
				add(right, top)
			case 6, 9:
				add(bottom, top)
			case 7, 8:
				add(left, top)
			case 5, 10:
				// Saddle: a and c on one side, b and d on the other.
				centre := (za + zb + zc + zd) / 4
				if (centre >= level) == (code == 5) {
					add(left, top)
					add(bottom, right)
				} else {
					add(left, bottom)
					add(right, top)
				}
			}
		}
	}
	return segs
}

// frac is where level lies between z0 and z1, as a fraction of the way.
func frac(z0, z1, level float64) float64 {
	if z1 == z0 {
		return 0.5
	}
	return math.Min(1, math.Max(0, (level-z0)/(z1-z0)))
}

// viridis are five stops of matplotlib's viridis colour map, perceptually
// uniform and readable by most colour-blind people.
var viridis = [][3]float64{
	{0x44, 0x01, 0x54}, {0x3b, 0x52, 0x8b}, {0x21, 0x91, 0x8c}, {0x5e, 0xc9, 0x62}, {0xfd, 0xe7, 0x25},
}

// colorAt returns the colour at t in [0, 1] (clamped) as #rrggbb, linear
// between the stops.
func colorAt(t float64) string {
	if math.IsNaN(t) {
		t = 0
	}
	t = math.Min(1, math.Max(0, t))
	f := t * float64(len(viridis)-1)
	k := min(int(f), len(viridis)-2)
	w := f - float64(k)
	var rgb [3]int
	for c := range 3 {
		rgb[c] = int(math.Round(viridis[k][c]*(1-w) + viridis[k+1][c]*w))
	}
	return fmt.Sprintf("#%02x%02x%02x", rgb[0], rgb[1], rgb[2])
}

// pearson returns the correlation coefficient of xs and ys (of equal length),
// 0 when either does not vary. It panics when the lengths differ.
func pearson(xs, ys []float64) float64 {
	if len(xs) != len(ys) {
		panic("ui: pearson: lengths differ")
	}
	n := float64(len(xs))
	if n == 0 {
		return 0
	}
	var mx, my float64
	for i := range xs {
		mx += xs[i]
		my += ys[i]
	}
	mx, my = mx/n, my/n
	var sxy, sxx, syy float64
	for i := range xs {
		dx, dy := xs[i]-mx, ys[i]-my
		sxy += dx * dy
		sxx += dx * dx
		syy += dy * dy
	}
	if sxx == 0 || syy == 0 {
		return 0
	}
	return sxy / math.Sqrt(sxx*syy)
}

// decimate returns the points of (xs, ys), sorted by x, that a line of the
// given width in buckets draws differently: per bucket of x, the first and
// last point and the lowest and highest, in x order. A line through them has
// every peak and trough of the whole, in at most 4·buckets points. Shorter
// inputs come back as they are. It panics when the lengths differ.
func decimate(xs, ys []float64, buckets int) ([]float64, []float64) {
	if len(xs) != len(ys) {
		panic("ui: decimate: lengths differ")
	}
	if len(xs) <= 4*buckets || buckets < 1 {
		return xs, ys
	}
	lo, hi := xs[0], xs[len(xs)-1]
	bucket := func(x float64) int {
		if hi <= lo {
			return 0 // one x for all: one bucket
		}
		return min(int(float64(buckets)*(x-lo)/(hi-lo)), buckets-1)
	}
	var ox, oy []float64
	for start := 0; start < len(xs); {
		b := bucket(xs[start])
		end := start + 1
		for end < len(xs) && bucket(xs[end]) == b {
			end++
		}
		// The bucket [start, end): its first, lowest, highest and last, in order.
		lowest, highest := start, start
		for i := start; i < end; i++ {
			if ys[i] < ys[lowest] {
				lowest = i
			}
			if ys[i] > ys[highest] {
				highest = i
			}
		}
		keep := []int{start, lowest, highest, end - 1}
		slices.Sort(keep)
		for k, i := range keep {
			if k == 0 || i != keep[k-1] {
				ox, oy = append(ox, xs[i]), append(oy, ys[i])
			}
		}
		start = end
	}
	return ox, oy
}
