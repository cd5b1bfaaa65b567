// Package forest is a random forest regressor in scikit-learn's shape: CART
// trees with the squared-error criterion and exact best splits, grown on
// bootstrap samples in parallel.
//
// The features are rank-transformed once per forest. Each tree keeps, per
// feature, its in-bag rows in sorted order (with bootstrap counts as
// integer weights, as scikit-learn does) and partitions these lists stably
// at every split, so no node ever sorts.
package forest

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/mlops-lab/housing/learn/internal/par"
)

// Forest is a fitted random forest. Its methods are safe for concurrent use.
type Forest struct {
	nFeatures   int
	params      Params
	trees       []tree
	thresholds  [][]float64 // per feature, the sorted distinct split thresholds
	importances []float64
	oob         float64
	hasOOB      bool
}

// Fit grows a forest on X (row-major, n rows of nFeatures columns) and y
// (n targets). progress, if not nil, is called after each tree with the
// number of trees done and the total; calls are serialised. The result
// depends on X, y and p but not on p.Workers. Fit stops early with ctx's
// error when ctx is done.
func Fit(ctx context.Context, X []float64, nFeatures int, y []float64, p Params, progress func(done, total int)) (*Forest, error) {
	p = p.withDefaults()
	if err := p.validate(); err != nil {
		return nil, err
	}
	if nFeatures < 1 || nFeatures > maxFeatures {
		return nil, fmt.Errorf("forest: %d features, want 1 to %d", nFeatures, maxFeatures)
	}
	if c, ok := p.MaxFeatures.FixedCount(); ok && c > nFeatures {
		// scikit-learn refuses this too: the caller asked for features that do not exist.
		return nil, fmt.Errorf("forest: max_features %d, but the data has only %d features", c, nFeatures)
	}
	if len(X)%nFeatures != 0 || len(X)/nFeatures != len(y) {
		return nil, fmt.Errorf("forest: X has %d values, want %d rows x %d features", len(X), len(y), nFeatures)
	}
	n := len(y)
	if n < 1 || n > 1<<31-1 {
		return nil, fmt.Errorf("forest: %d rows, want 1 to %d", n, 1<<31-1)
	}
	if err := checkFinite("X", X, nFeatures); err != nil {
		return nil, err
	}
	if err := checkFinite("y", y, 1); err != nil {
		return nil, err
	}
	workers := p.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = min(workers, p.NEstimators)

	orders := sortColumns(X, n, nFeatures, workers)
	// Bootstrap counts are bounded by n, so uint16 weights are safe below 65536 rows.
	if n < 1<<16 && maxDistinct(X, nFeatures, orders) <= 1<<16 {
		return fit(ctx, newTrainingSet[uint16](X, n, nFeatures, y, orders), X, p, workers, progress)
	}
	return fit(ctx, newTrainingSet[uint32](X, n, nFeatures, y, orders), X, p, workers, progress)
}

func fit[R rank](ctx context.Context, ts *trainingSet[R], X []float64, p Params, workers int, progress func(done, total int)) (*Forest, error) {
	f := &Forest{nFeatures: ts.d, params: p}
	dfs := make([][]node, p.NEstimators)
	treeImportances := make([][]float64, p.NEstimators)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var next atomic.Int64
	var mu sync.Mutex
	done := 0
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := newBuilder(ts, p)
			for {
				i := int(next.Add(1) - 1)
				if i >= p.NEstimators || ctx.Err() != nil {
					return
				}
				dfs[i] = b.build(p.Seed, p.FirstTree+i)
				treeImportances[i] = normalisedImportance(b.importance)
				if progress != nil {
					mu.Lock()
					done++
					progress(done, p.NEstimators)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("forest: fit stopped: %w", err)
	}
	if err := f.setTrees(dfs, workers); err != nil {
		return nil, err
	}
	f.importances = averageImportances(f.trees, treeImportances, ts.d)
	if p.OOBScore {
		f.oob, f.hasOOB = f.oobScore(X, ts.y, workers)
	}
	return f, nil
}

// setTrees turns depth-first trees into the prediction layout, against
// the thresholds of the whole forest.
func (f *Forest) setTrees(dfs [][]node, workers int) error {
	var err error
	if f.thresholds, err = sortedThresholds(dfs, f.nFeatures, workers); err != nil {
		return err
	}
	f.trees = make([]tree, len(dfs))
	errs := make([]error, len(dfs))
	par.For(len(dfs), workers, func(i int) {
		f.trees[i], errs[i] = layout(dfs[i], f.thresholds)
		dfs[i] = nil
	})
	return errors.Join(errs...)
}

// normalisedImportance scales one tree's impurity decreases to sum to 1,
// as scikit-learn's tree feature_importances_.
func normalisedImportance(dec []float64) []float64 {
	out := make([]float64, len(dec))
	var sum float64
	for _, v := range dec {
		sum += v
	}
	if sum > 0 {
		for i, v := range dec {
			out[i] = v / sum
		}
	}
	return out
}

// averageImportances averages the trees that split at least once and
// normalises the mean to sum to 1, as scikit-learn's forest does.
func averageImportances(trees []tree, per [][]float64, d int) []float64 {
	mean := make([]float64, d)
	count := 0
	for i, t := range trees {
		if len(t.nodes) > 1 {
			for j, v := range per[i] {
				mean[j] += v
			}
			count++
		}
	}
	var sum float64
	for _, v := range mean {
		sum += v
	}
	if count == 0 || sum == 0 {
		return mean
	}
	for j := range mean {
		mean[j] /= sum
	}
	return mean
}

// NumFeatures returns the number of columns Predict expects.
func (f *Forest) NumFeatures() int { return f.nFeatures }

// NumTrees returns the number of trees.
func (f *Forest) NumTrees() int { return len(f.trees) }

// NumNodes returns the number of nodes of all trees.
func (f *Forest) NumNodes() int {
	n := 0
	for _, t := range f.trees {
		n += len(t.nodes)
	}
	return n
}

// Params returns the parameters the forest was fitted with.
func (f *Forest) Params() Params { return f.params }

// FeatureImportances returns the impurity-based importance of each feature,
// normalised like scikit-learn's feature_importances_ to sum to 1.
func (f *Forest) FeatureImportances() []float64 {
	return append([]float64(nil), f.importances...)
}

// OOBScore returns the out-of-bag R2 and true if the forest was fitted
// with Params.OOBScore. Rows that were in the bag of every tree are left
// out of it.
func (f *Forest) OOBScore() (float64, bool) { return f.oob, f.hasOOB }
