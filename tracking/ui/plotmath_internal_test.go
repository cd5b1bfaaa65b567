package ui

import (
	"math"
	"slices"
	"testing"
	"time"
)

const tol = 1e-9

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func TestScale(t *testing.T) {
	for _, c := range []struct {
		s    scale
		v    float64
		want float64
	}{
		{scale{0, 10, 100, 200}, 5, 150},
		{scale{0, 10, 100, 200}, 0, 100},
		{scale{0, 10, 200, 100}, 2.5, 175}, // an inverted range (y grows down)
		{scale{-1, 1, 0, 40}, 3, 80},       // beyond the range: extrapolated
		{scale{3, 3, 0, 40}, 3, 20},        // an empty range: the middle
	} {
		if got := c.s.at(c.v); !near(got, c.want, tol) {
			t.Errorf("%+v.at(%g) = %g, want %g", c.s, c.v, got, c.want)
		}
	}
}

func TestNiceTicks(t *testing.T) {
	for _, c := range []struct {
		lo, hi   float64
		n        int
		want     []float64
		tlo, thi float64
	}{
		{0, 1, 5, []float64{0, 0.2, 0.4, 0.6, 0.8, 1}, 0, 1},
		{0.6469, 0.8145, 5, []float64{0.6, 0.65, 0.7, 0.75, 0.8, 0.85}, 0.6, 0.85}, // step 0.05: 0.025 is below (hi−lo)/n

		{50, 300, 6, []float64{50, 100, 150, 200, 250, 300}, 50, 300},
		{-3, 7, 5, []float64{-4, -2, 0, 2, 4, 6, 8}, -4, 8},
		{5, 5, 5, []float64{4.4, 4.6, 4.8, 5, 5.2, 5.4, 5.6}, 4.4, 5.6}, // one value: widened by ±10%
	} {
		got, tlo, thi := niceTicks(c.lo, c.hi, c.n)
		if len(got) != len(c.want) {
			t.Errorf("niceTicks(%g, %g, %d) = %v, want %v", c.lo, c.hi, c.n, got, c.want)
			continue
		}
		for i := range got {
			if !near(got[i], c.want[i], 1e-12) {
				t.Errorf("niceTicks(%g, %g, %d)[%d] = %g, want %g", c.lo, c.hi, c.n, i, got[i], c.want[i])
			}
		}
		if !near(tlo, c.tlo, 1e-12) || !near(thi, c.thi, 1e-12) || tlo > c.lo || thi < c.hi {
			t.Errorf("niceTicks(%g, %g, %d) spans [%g, %g], want [%g, %g] around the data", c.lo, c.hi, c.n, tlo, thi, c.tlo, c.thi)
		}
	}
}

func TestValueAxis(t *testing.T) {
	t.Run("Numeric", func(t *testing.T) {
		ax := newValueAxis([]string{"50", "100", "300"}, 0, 500, 6, 0, false)
		if ax.categorical() {
			t.Fatal("numbers made a categorical axis")
		}
		for v, want := range map[string]float64{"50": 0, "300": 500, "175": 250} {
			if got, ok := ax.pos(v); !ok || !near(got, want, tol) {
				t.Errorf("pos(%s) = %g, %v, want %g", v, got, ok, want)
			}
		}
		if _, ok := ax.pos("None"); ok {
			t.Error("a word has a place on a numeric axis")
		}
	})
	t.Run("Categorical", func(t *testing.T) {
		// The lab's max_depth: numbers first by value, then words.
		ax := newValueAxis([]string{"None", "30", "20", "None", "5"}, 0, 300, 6, 0, false)
		if want := []string{"5", "20", "30", "None"}; !slices.Equal(ax.cats, want) {
			t.Fatalf("categories %q, want %q", ax.cats, want)
		}
		// Four slots of 75 px, each value at its slot's centre.
		for v, want := range map[string]float64{"5": 37.5, "20": 112.5, "None": 262.5} {
			if got, ok := ax.pos(v); !ok || !near(got, want, tol) {
				t.Errorf("pos(%s) = %g, %v, want %g", v, got, ok, want)
			}
			if u, _ := ax.unit(v); !near(u, want/300, tol) {
				t.Errorf("unit(%s) = %g, want %g", v, u, want/300)
			}
		}
		if len(ax.ticks) != 4 || ax.ticks[3].Label != "None" {
			t.Errorf("ticks %+v", ax.ticks)
		}
	})
	t.Run("Tight", func(t *testing.T) {
		// 5..20 padded by 4%: [4.4, 20.6], not the round [0, 25] (step 5).
		ax := newValueAxis([]string{"5", "20", "10"}, 0, 100, 6, 0.04, true)
		if got, _ := ax.pos("5"); !near(got, 0.6/16.2*100, tol) {
			t.Errorf("pos(5) = %g, want %g", got, 0.6/16.2*100)
		}
		var labels []string
		for _, tk := range ax.ticks {
			labels = append(labels, tk.Label)
			if tk.Pos < 0 || tk.Pos > 100 {
				t.Errorf("tick %+v outside the axis", tk)
			}
		}
		if want := []string{"5", "10", "15", "20"}; !slices.Equal(labels, want) {
			t.Errorf("ticks %q, want %q", labels, want)
		}
	})
	t.Run("Padded", func(t *testing.T) {
		ax := newValueAxis([]string{"0", "10"}, 0, 100, 5, 0.1, false)
		lo, _ := ax.pos("0")
		hi, _ := ax.pos("10")
		if lo <= 0 || hi >= 100 {
			t.Errorf("padded axis puts 0 at %g and 10 at %g, want both inside (0, 100)", lo, hi)
		}
	})
}

func TestIDW(t *testing.T) {
	us, vs, zs := []float64{0, 1, 0, 1}, []float64{0, 0, 1, 1}, []float64{1, 2, 3, 4}
	t.Run("ExactAtSamples", func(t *testing.T) {
		grid := make([]float64, 3*3)
		if err := idwGrid(grid, 3, 3, us, vs, zs, 0); err != nil {
			t.Fatal(err)
		}
		// Corners are the samples; the centre is equidistant from all four: their mean.
		for k, want := range map[int]float64{0: 1, 2: 2, 6: 3, 8: 4, 4: 2.5} {
			if !near(grid[k], want, tol) {
				t.Errorf("grid[%d] = %g, want %g", k, grid[k], want)
			}
		}
		// (0.5, 0): 1/d² weights 4, 4, 0.8, 0.8 on 1, 2, 3, 4.
		if want := (4*1 + 4*2 + 0.8*3 + 0.8*4) / 9.6; !near(grid[1], want, tol) {
			t.Errorf("grid[1] = %g, want %g", grid[1], want)
		}
	})
	t.Run("Smoothed", func(t *testing.T) {
		// With s > 0 a sample's own value is pulled towards the others, and
		// every value stays within the samples' range.
		grid := make([]float64, 5*5)
		if err := idwGrid(grid, 5, 5, us, vs, zs, 0.2); err != nil {
			t.Fatal(err)
		}
		// At (0,0): weights 1/0.04 on itself, 1/1.04 twice, 1/2.04 once.
		w := []float64{1 / 0.04, 1 / 1.04, 1 / 1.04, 1 / 2.04}
		want := (w[0]*1 + w[1]*2 + w[2]*3 + w[3]*4) / (w[0] + w[1] + w[2] + w[3])
		if !near(grid[0], want, tol) || grid[0] <= 1 {
			t.Errorf("grid[0] = %g, want %g", grid[0], want)
		}
		for k, g := range grid {
			if g < 1 || g > 4 {
				t.Errorf("grid[%d] = %g outside [1, 4]", k, g)
			}
		}
	})
	t.Run("NoSamples", func(t *testing.T) {
		if err := idwGrid(make([]float64, 4), 2, 2, nil, nil, nil, 0); err == nil {
			t.Error("no error without samples")
		}
	})
}

func TestContourLevels(t *testing.T) {
	for _, c := range []struct {
		lo, hi float64
		want   []float64
	}{
		{0.7531, 0.8323, []float64{0.76, 0.78, 0.8, 0.82}},
		{0, 1, []float64{0.2, 0.4, 0.6, 0.8}}, // the ends are not levels
		{2, 2, nil},
	} {
		got := contourLevels(c.lo, c.hi, 6)
		if len(got) != len(c.want) {
			t.Errorf("contourLevels(%g, %g) = %v, want %v", c.lo, c.hi, got, c.want)
			continue
		}
		for i := range got {
			if !near(got[i], c.want[i], 1e-12) {
				t.Errorf("contourLevels(%g, %g)[%d] = %g, want %g", c.lo, c.hi, i, got[i], c.want[i])
			}
		}
	}
}

func TestMarchingSquares(t *testing.T) {
	t.Run("Plane", func(t *testing.T) {
		// z = x on a 4×3 grid: the level 1.25 is the vertical line x = 1.25,
		// one segment per row of cells.
		nx, ny := 4, 3
		grid := make([]float64, nx*ny)
		for j := range ny {
			for i := range nx {
				grid[j*nx+i] = float64(i)
			}
		}
		segs := marchingSquares(grid, nx, ny, 1.25)
		if len(segs) != ny-1 {
			t.Fatalf("%d segments, want %d: %v", len(segs), ny-1, segs)
		}
		for _, s := range segs {
			if !near(s.X1, 1.25, tol) || !near(s.X2, 1.25, tol) || !near(math.Abs(s.Y2-s.Y1), 1, tol) {
				t.Errorf("segment %+v, want x = 1.25 across a cell", s)
			}
		}
	})
	t.Run("Peak", func(t *testing.T) {
		// One high node in the middle of a 3×3 grid: the level line is a
		// diamond around it, four segments at mid-edge.
		grid := []float64{0, 0, 0, 0, 2, 0, 0, 0, 0}
		segs := marchingSquares(grid, 3, 3, 1)
		if len(segs) != 4 {
			t.Fatalf("%d segments, want 4: %v", len(segs), segs)
		}
		for _, s := range segs {
			for _, p := range [][2]float64{{s.X1, s.Y1}, {s.X2, s.Y2}} {
				if d := math.Abs(p[0]-1) + math.Abs(p[1]-1); !near(d, 0.5, tol) {
					t.Errorf("point %v is %g from the peak (L1), want 0.5", p, d)
				}
			}
		}
	})
	t.Run("Saddle", func(t *testing.T) {
		// Corners a, c high and b, d low with a high centre: a and c connect,
		// so the two segments cut off b's and d's corners.
		segs := marchingSquares([]float64{2, 0, 0, 2}, 2, 2, 0.9) // a=2 b=0 / d=0 c=2 (row by row: a b d c)
		if len(segs) != 2 {
			t.Fatalf("%d segments, want 2: %v", len(segs), segs)
		}
		for _, s := range segs {
			// Each segment joins a horizontal edge to a vertical one near b (1,0) or d (0,1).
			nearB := s.X1 >= 0.5 && s.Y1 <= 0.5 || s.X2 >= 0.5 && s.Y2 <= 0.5
			nearD := s.X1 <= 0.5 && s.Y1 >= 0.5 || s.X2 <= 0.5 && s.Y2 >= 0.5
			if !nearB && !nearD {
				t.Errorf("segment %+v cuts neither b's nor d's corner", s)
			}
		}
	})
	t.Run("Flat", func(t *testing.T) {
		if segs := marchingSquares([]float64{1, 1, 1, 1}, 2, 2, 0.5); len(segs) != 0 {
			t.Errorf("a flat grid above the level has segments %v", segs)
		}
	})
}

func TestColorAt(t *testing.T) {
	for _, c := range []struct {
		t    float64
		want string
	}{
		{0, "#440154"}, {1, "#fde725"}, {0.5, "#21918c"}, {-1, "#440154"}, {2, "#fde725"}, {math.NaN(), "#440154"},
		// Half-way between the first two stops: (0x44+0x3b)/2 = 63.5, (0x01+0x52)/2 = 41.5,
		// (0x54+0x8b)/2 = 111.5, rounded half away from zero.
		{0.125, "#402a70"},
	} {
		if got := colorAt(c.t); got != c.want {
			t.Errorf("colorAt(%g) = %s, want %s", c.t, got, c.want)
		}
	}
}

func TestPearson(t *testing.T) {
	for _, c := range []struct {
		xs, ys []float64
		want   float64
	}{
		{[]float64{1, 2, 3}, []float64{2, 4, 6}, 1},
		{[]float64{1, 2, 3}, []float64{3, 2, 1}, -1},
		{[]float64{1, 2, 3, 4}, []float64{1, 3, 2, 4}, 0.8},
		{[]float64{1, 1, 1}, []float64{1, 2, 3}, 0}, // x does not vary
		{nil, nil, 0},
	} {
		if got := pearson(c.xs, c.ys); !near(got, c.want, 1e-12) {
			t.Errorf("pearson(%v, %v) = %g, want %g", c.xs, c.ys, got, c.want)
		}
	}
}

func TestTimeTicks(t *testing.T) {
	at := func(s string) int64 {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v.UnixMilli()
	}
	for _, c := range []struct {
		lo, hi string
		want   []string
	}{
		// 12 minutes: ticks every 5, on the minute, the time of day only.
		{"2024-11-05T10:04:10Z", "2024-11-05T10:16:00Z", []string{"10:05", "10:10", "10:15"}},
		// 40 seconds: every 15 s.
		{"2024-11-05T10:00:01Z", "2024-11-05T10:00:41Z", []string{"10:00:15", "10:00:30"}},
		// Across midnight: the day is named.
		{"2024-11-05T20:00:00Z", "2024-11-06T04:00:00Z", []string{"Nov 5 21:00", "Nov 6 00:00", "Nov 6 03:00"}},
		// Three weeks: every 7 days, aligned on the epoch's weeks (Thursdays).
		{"2024-11-01T00:00:00Z", "2024-11-22T00:00:00Z", []string{"Nov 7", "Nov 14", "Nov 21"}},
	} {
		ticks, layout := timeTicks(at(c.lo), at(c.hi), 7)
		var got []string
		for _, tk := range ticks {
			got = append(got, time.UnixMilli(tk).UTC().Format(layout))
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("timeTicks(%s, %s) = %q, want %q", c.lo, c.hi, got, c.want)
		}
	}
	if ticks, _ := timeTicks(5, 5, 7); ticks != nil {
		t.Errorf("an empty range has ticks %v", ticks)
	}
}

func TestDecimate(t *testing.T) {
	// 10,000 steps of a noisy decay with one spike and one dip.
	n := 10000
	xs, ys := make([]float64, n), make([]float64, n)
	for i := range n {
		xs[i] = float64(i)
		ys[i] = math.Exp(-float64(i)/2000) + 0.01*math.Sin(float64(i))
	}
	ys[1234], ys[8765] = 5, -3
	dx, dy := decimate(xs, ys, 400)
	if len(dx) > 4*400 || len(dx) != len(dy) {
		t.Fatalf("%d points (and %d values), want at most 1600", len(dx), len(dy))
	}
	if dx[0] != 0 || dx[len(dx)-1] != float64(n-1) {
		t.Errorf("first and last x %g, %g, want 0 and %d", dx[0], dx[len(dx)-1], n-1)
	}
	if !slices.IsSorted(dx) {
		t.Error("x out of order")
	}
	lo, hi := minMax(dy)
	if lo != -3 || hi != 5 || !slices.Contains(dx, 1234) || !slices.Contains(dx, 8765) {
		t.Errorf("the spike and the dip are lost: range [%g, %g]", lo, hi)
	}
	// Every kept point is one of the input's.
	for i := range dx {
		if ys[int(dx[i])] != dy[i] {
			t.Errorf("point %d (%g, %g) is not the input's (%g)", i, dx[i], dy[i], ys[int(dx[i])])
		}
	}
	// Short inputs, and a single x for all, come back whole or as four points.
	if sx, _ := decimate(xs[:100], ys[:100], 400); len(sx) != 100 {
		t.Errorf("a short input came back with %d points", len(sx))
	}
	same := make([]float64, 5000)
	if sx, sy := decimate(same, ys[:5000], 10); len(sx) > 4 || len(sy) != len(sx) {
		t.Errorf("one x: %d points, want at most 4", len(sx))
	}
}
