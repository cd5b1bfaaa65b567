package boost_test

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/mlops-lab/housing/learn/boost"
)

func TestBinEdgesFewDistinctAreMidpoints(t *testing.T) {
	col := []float64{3, 1, 2, 2, 1, 5}
	got := boost.BinEdges(col, 255)
	want := []float64{1.5, 2.5, 4}
	if !slices.Equal(got, want) {
		t.Fatalf("edges %v, want %v", got, want)
	}
}

func TestBinEdgesManyDistinctAreQuantiles(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	col := make([]float64, 10000)
	for i := range col {
		col[i] = rng.NormFloat64()
	}
	edges := boost.BinEdges(slices.Clone(col), 16)
	if len(edges) != 15 || !slices.IsSorted(edges) {
		t.Fatalf("got %d edges (sorted %v), want 15 increasing", len(edges), slices.IsSorted(edges))
	}
	// Each of the 16 bins holds about a 16th of the values.
	counts := make([]int, 16)
	for _, v := range col {
		counts[boost.BinOf(edges, v)]++
	}
	for b, c := range counts {
		if c < 10000/16-2 || c > 10000/16+2 {
			t.Errorf("bin %d holds %d values, want about %d", b, c, 10000/16)
		}
	}
}

// TestBinOfMatchesThresholds checks the property trees rely on: a row's
// bin is at most b exactly when its value is at most edge b.
func TestBinOfMatchesThresholds(t *testing.T) {
	edges := []float64{-1, 0, 0.5, 2, 7}
	for _, x := range []float64{-5, -1, -0.999, 0, 0.25, 0.5, 1, 2, 6.99, 7, 7.01, 1e300} {
		bin := int(boost.BinOf(edges, x))
		for b, e := range edges {
			if (bin <= b) != (x <= e) {
				t.Errorf("x=%v: bin %d, edge %d is %v", x, bin, b, e)
			}
		}
	}
}
