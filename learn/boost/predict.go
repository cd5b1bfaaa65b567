package boost

import (
	"fmt"
	"runtime"

	"github.com/mlops-lab/housing/learn/internal/par"
)

// binRows returns rows idx of X (all rows if idx is nil) binned row-major
// with the sentinel column (bin 0) appended, the shape trees walk.
func (m *Model) binRows(dst []uint8, X []float64, idx []int) []uint8 {
	d := m.nFeatures
	w := d + 1
	n := len(idx)
	if idx == nil {
		n = len(X) / d
	}
	if cap(dst) < n*w {
		dst = make([]uint8, n*w)
	}
	dst = dst[:n*w]
	for i := range n {
		r := i
		if idx != nil {
			r = idx[i]
		}
		x, out := X[r*d:(r+1)*d], dst[i*w:(i+1)*w]
		for f, v := range x {
			out[f] = binOf(m.edges[f], v)
		}
		out[d] = 0
	}
	return dst
}

// blockRows is how many rows a worker predicts at a time, tree by tree:
// the binned block stays in L1 while all trees pass over it.
const blockRows = 512

func (m *Model) rows(X []float64) int {
	if len(X)%m.nFeatures != 0 {
		panic(fmt.Sprintf("boost: X has %d values, not a multiple of %d features", len(X), m.nFeatures))
	}
	return len(X) / m.nFeatures
}

// Predict writes the ensemble's prediction for each row of X (row-major,
// NumFeatures columns) into dst, growing it if it is too short, and
// returns it. Each row adds its trees to the baseline in tree order, so the
// result does not depend on the number of cores. It panics if len(X) is
// not a multiple of NumFeatures.
func (m *Model) Predict(dst, X []float64) []float64 {
	return m.PredictFirst(dst, X, len(m.trees))
}

// PredictFirst is Predict with only the first k trees, what the fit would
// have predicted after k iterations. It panics if k is not in [0, NumTrees].
func (m *Model) PredictFirst(dst, X []float64, k int) []float64 {
	if k < 0 || k > len(m.trees) {
		panic(fmt.Sprintf("boost: PredictFirst of %d trees, model has %d", k, len(m.trees)))
	}
	n := m.rows(X)
	dst = par.Grow(dst, n)
	d := m.nFeatures
	trees := m.trees[:k]
	par.For((n+blockRows-1)/blockRows, runtime.GOMAXPROCS(0), func(blk int) {
		lo, hi := blk*blockRows, min((blk+1)*blockRows, n)
		xs := m.binRows(nil, X[lo*d:hi*d], nil)
		out := dst[lo:hi]
		for r := range out {
			out[r] = m.baseline
		}
		idx := make([]int32, hi-lo)
		for t := range trees {
			trees[t].addPredictionsLevel(out, xs, d+1, idx)
		}
	})
	return dst
}

// StagedPredict calls fn after each tree, in order, with the number of
// trees so far and the prediction for every row of X with those trees; the
// last call sees what Predict returns. pred is reused between calls: copy
// it to keep it. It panics if len(X) is not a multiple of NumFeatures.
func (m *Model) StagedPredict(X []float64, fn func(trees int, pred []float64)) {
	n := m.rows(X)
	d := m.nFeatures
	xs := m.binRows(nil, X, nil)
	pred := make([]float64, n)
	for r := range pred {
		pred[r] = m.baseline
	}
	for t := range m.trees {
		tr := &m.trees[t]
		par.For((n+blockRows-1)/blockRows, runtime.GOMAXPROCS(0), func(blk int) {
			lo, hi := blk*blockRows, min((blk+1)*blockRows, n)
			tr.addPredictions(pred[lo:hi], xs[lo*(d+1):hi*(d+1)], d+1)
		})
		fn(t+1, pred)
	}
}

// NumFeatures returns the number of columns Predict expects.
func (m *Model) NumFeatures() int { return m.nFeatures }

// NumTrees returns the number of trees, one per iteration run.
func (m *Model) NumTrees() int { return len(m.trees) }

// NumNodes returns the number of nodes of all trees.
func (m *Model) NumNodes() int {
	n := 0
	for _, t := range m.trees {
		n += len(t.nodes)
	}
	return n
}

// Params returns the parameters the model was fitted with, defaults filled in.
func (m *Model) Params() Params { return m.params }

// Baseline returns the prediction before any tree: the training targets' mean.
func (m *Model) Baseline() float64 { return m.baseline }

// FeatureImportances returns each feature's share of the loss decrease of
// all splits, summing to 1 (all zero if no tree split).
func (m *Model) FeatureImportances() []float64 { return append([]float64(nil), m.importances...) }

// TrainLoss returns the mean squared error on the rows the trees were fitted
// on after each iteration.
func (m *Model) TrainLoss() []float64 { return append([]float64(nil), m.trainLoss...) }

// ValidationLoss returns the mean squared error on the held-out validation
// rows after each iteration, or nil if Params.ValidationFraction was 0.
func (m *Model) ValidationLoss() []float64 { return append([]float64(nil), m.validLoss...) }
