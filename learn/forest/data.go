package forest

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"sync"
)

// rank is the integer type a feature value is replaced by: its index among
// the feature's sorted distinct training values. uint16 keeps the sorted
// lists at 16 bytes an entry when every feature has at most 65536 distinct
// values and no row can be drawn more than 65535 times.
type rank interface{ ~uint16 | ~uint32 }

// rowRank is one training row in a feature's sorted order.
type rowRank[R rank] struct {
	row  int32
	rank R
}

// trainingSet is the training data rank-transformed once per forest, so the
// tree builders never sort: each tree copies the presorted orders of its
// bootstrap rows and keeps them sorted while partitioning.
type trainingSet[R rank] struct {
	n, d   int
	y      []float64
	values [][]float64    // values[f][r]: the r-th smallest distinct value of feature f
	order  [][]rowRank[R] // order[f]: all rows sorted by feature f, ties by row
}

// checkFinite reports the first NaN or infinite value of v.
func checkFinite(what string, v []float64, cols int) error {
	for i, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			if cols > 1 {
				return fmt.Errorf("forest: %s row %d column %d is %v", what, i/cols, i%cols, x)
			}
			return fmt.Errorf("forest: %s[%d] is %v", what, i, x)
		}
	}
	return nil
}

// sortColumns returns, per feature, the rows of X sorted by that feature's
// value, ties by row index, sorting the features in parallel.
func sortColumns(X []float64, n, d, workers int) (orders [][]int32) {
	orders = make([][]int32, d)
	var wg sync.WaitGroup
	sem := make(chan struct{}, max(workers, 1))
	for f := range d {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			col := make([]float64, n)
			idx := make([]int32, n)
			for i := range n {
				col[i] = X[i*d+f]
				idx[i] = int32(i)
			}
			slices.SortFunc(idx, func(a, b int32) int {
				if c := cmp.Compare(col[a], col[b]); c != 0 {
					return c
				}
				return cmp.Compare(a, b)
			})
			orders[f] = idx
		}()
	}
	wg.Wait()
	return orders
}

// newTrainingSet rank-transforms X given each feature's sorted row order.
func newTrainingSet[R rank](X []float64, n, d int, y []float64, orders [][]int32) *trainingSet[R] {
	ts := &trainingSet[R]{n: n, d: d, y: y, values: make([][]float64, d), order: make([][]rowRank[R], d)}
	for f := range d {
		var vals []float64
		ord := make([]rowRank[R], n)
		for k, row := range orders[f] {
			v := X[int(row)*d+f]
			if len(vals) == 0 || v != vals[len(vals)-1] {
				vals = append(vals, v)
			}
			ord[k] = rowRank[R]{row: row, rank: R(len(vals) - 1)}
		}
		ts.values[f] = slices.Clip(vals)
		ts.order[f] = ord
	}
	return ts
}

// maxDistinct returns the largest number of distinct values of any feature.
func maxDistinct(X []float64, d int, orders [][]int32) int {
	most := 0
	for f, ord := range orders {
		c := 0
		prev := math.NaN()
		for _, row := range ord {
			if v := X[int(row)*d+f]; v != prev {
				c++
				prev = v
			}
		}
		most = max(most, c)
	}
	return most
}
