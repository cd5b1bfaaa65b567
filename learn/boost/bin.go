package boost

import (
	"math"
	"slices"
)

// binEdges returns the bin thresholds of one feature, as scikit-learn's
// _BinMapper finds them: with at most maxBins distinct values, the
// midpoints between consecutive ones; otherwise the maxBins-1 inner
// percentiles of the column (numpy's "midpoint" interpolation), deduplicated.
// col is sorted in place.
func binEdges(col []float64, maxBins int) []float64 {
	slices.Sort(col)
	distinct := slices.Compact(slices.Clone(col))
	if len(distinct) <= maxBins {
		edges := make([]float64, 0, max(len(distinct)-1, 0))
		for i := 1; i < len(distinct); i++ {
			edges = append(edges, (distinct[i-1]+distinct[i])*0.5)
		}
		return edges
	}
	n := len(col)
	edges := make([]float64, 0, maxBins-1)
	for k := 1; k < maxBins; k++ {
		pos := float64(k) / float64(maxBins) * float64(n-1)
		lo, hi := col[int(math.Floor(pos))], col[int(math.Ceil(pos))]
		e := (lo + hi) * 0.5
		if len(edges) == 0 || e > edges[len(edges)-1] {
			edges = append(edges, e)
		}
	}
	return edges
}

// binOf returns the bin of x: the index of the first edge x is at most,
// or len(edges) if x exceeds them all (or is NaN). So binOf(x) <= b exactly
// when x <= edges[b], which lets trees split on bins while their
// thresholds stay real values.
func binOf(edges []float64, x float64) uint8 {
	lo, hi := 0, len(edges)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if x <= edges[m] {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return uint8(lo)
}
