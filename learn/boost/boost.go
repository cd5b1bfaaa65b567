// Package boost is histogram gradient boosting of regression trees for
// squared error, in the shape of scikit-learn's HistGradientBoostingRegressor
// and LightGBM.
//
// Each feature is cut into at most 255 bins at quantiles of the training
// part, once. Trees are grown best split first (leaf-wise) up to a number of
// leaves and/or a depth, on per-node histograms of gradient sums: the
// smaller child's histogram is built from its rows and the larger one's is
// its parent's minus the smaller's. A histogram sums each feature's bins in
// row order on one goroutine, so a fit does not depend on the number of
// workers. Splits compare bins, but their thresholds are the real bin edges
// (x <= edge goes left), which is what the model file and ONNX export keep.
//
// Non-finite feature values are refused when fitting; at prediction a NaN
// goes right at every split.
package boost

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
)

// Model is a fitted boosted ensemble. Its methods are safe for concurrent use.
type Model struct {
	nFeatures   int
	params      Params
	baseline    float64
	edges       [][]float64 // bin thresholds of each feature
	trees       []tree
	importances []float64
	trainLoss   []float64
	validLoss   []float64
}

// Fit boosts trees on X (row-major, n rows of nFeatures columns) and y (n
// targets). progress, if not nil, is called after each iteration with the
// iterations done and MaxIter. The result depends on X, y and p but not on
// p.Workers. Fit stops with ctx's error when ctx is done.
func Fit(ctx context.Context, X []float64, nFeatures int, y []float64, p Params, progress func(iter, total int)) (*Model, error) {
	p = p.withDefaults()
	if err := p.validate(); err != nil {
		return nil, err
	}
	if nFeatures < 1 || nFeatures > 1<<16-2 {
		return nil, fmt.Errorf("boost: %d features, want 1 to %d", nFeatures, 1<<16-2)
	}
	if len(X)%nFeatures != 0 || len(X)/nFeatures != len(y) {
		return nil, fmt.Errorf("boost: X has %d values, want %d rows x %d features", len(X), len(y), nFeatures)
	}
	n := len(y)
	if n < 2 || n > 1<<31-1 {
		return nil, fmt.Errorf("boost: %d rows, want 2 to %d", n, 1<<31-1)
	}
	for i, v := range X {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("boost: X row %d column %d is %v", i/nFeatures, i%nFeatures, v)
		}
	}
	for i, v := range y {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("boost: y row %d is %v", i, v)
		}
	}
	workers := p.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	d := nFeatures

	trainRows, validRows := validationSplit(n, p.ValidationFraction, p.Seed)
	if len(trainRows) < 1 {
		return nil, fmt.Errorf("boost: validation fraction %v of %d rows leaves no training rows", p.ValidationFraction, n)
	}
	m := &Model{nFeatures: d, params: p, edges: make([][]float64, d), importances: make([]float64, d)}
	col := make([]float64, len(trainRows))
	for f := range d {
		for i, r := range trainRows {
			col[i] = X[r*d+f]
		}
		m.edges[f] = binEdges(col, p.MaxBins)
	}
	ts := &trainingSet{n: len(trainRows), d: d, cols: make([][]uint8, d), nbins: make([]int, d)}
	for f := range d {
		ts.nbins[f] = len(m.edges[f]) + 1
		c := make([]uint8, len(trainRows))
		for i, r := range trainRows {
			c[i] = binOf(m.edges[f], X[r*d+f])
		}
		ts.cols[f] = c
	}
	yTrain := gather(y, trainRows)
	yValid := gather(y, validRows)
	validBins := m.binRows(nil, X, validRows)

	for _, v := range yTrain {
		m.baseline += v
	}
	m.baseline /= float64(len(yTrain))
	raw := make([]float64, len(yTrain))
	for i := range raw {
		raw[i] = m.baseline
	}
	rawValid := make([]float64, len(yValid))
	for i := range rawValid {
		rawValid[i] = m.baseline
	}

	var trainBins []uint8 // row-major, for the rows a subsampled tree did not see
	if p.Subsample < 1 {
		trainBins = m.binRows(nil, X, trainRows)
	}
	b := newBuilder(ts, p, workers)
	allRows := make([]int32, ts.n)
	for i := range allRows {
		allRows[i] = int32(i)
	}
	rows := make([]int32, ts.n)
	var unseen []int32 // training rows a subsampled tree did not see
	nSample := max(1, int(math.Round(p.Subsample*float64(ts.n))))
	nFeat := max(1, int(p.FeatureFraction*float64(d)))
	// history is the validation loss before the first tree and after
	// each, as scikit-learn's early stopping scores it.
	history := []float64{mse(rawValid, yValid)}

	for iter := range p.MaxIter {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("boost: fit stopped after %d iterations: %w", iter, err)
		}
		for i, v := range raw {
			b.grad[i] = v - yTrain[i]
		}
		rng := rand.New(rand.NewPCG(p.Seed, uint64(iter)+1))
		rows, unseen = rows[:0], unseen[:0]
		if nSample < ts.n {
			rows, unseen = drawRows(rng, rows, unseen, ts.n, nSample)
		} else {
			rows = append(rows, allRows...)
		}
		b.features = drawFeatures(rng, b.features[:0], d, nFeat)

		nodes, leaves := b.grow(rows)
		t := layout(nodes, d)
		m.trees = append(m.trees, t)
		for _, l := range leaves {
			v := nodes[l.id].value
			for _, r := range rows[l.start:l.end] {
				raw[r] += v
			}
		}
		for _, r := range unseen {
			raw[r] += t.predictRow(trainBins[int(r)*(d+1) : int(r+1)*(d+1)])
		}
		m.trainLoss = append(m.trainLoss, mse(raw, yTrain))
		stop := false
		if len(validRows) > 0 {
			t.addPredictions(rawValid, validBins, d+1)
			history = append(history, mse(rawValid, yValid))
			stop = noImprovement(history, p.NIterNoChange, p.Tol)
		}
		if progress != nil {
			progress(iter+1, p.MaxIter)
		}
		if stop {
			break
		}
	}
	if len(validRows) > 0 {
		m.validLoss = history[1:]
	}
	var total float64
	for _, g := range b.gains {
		total += g
	}
	if total > 0 {
		for f, g := range b.gains {
			m.importances[f] = g / total
		}
	}
	return m, nil
}

// noImprovement is scikit-learn's early-stopping rule on a loss history:
// none of the last n losses is below the one before them by more than tol.
func noImprovement(history []float64, n int, tol float64) bool {
	k := len(history)
	if k <= n {
		return false
	}
	ref := history[k-n-1]
	for _, v := range history[k-n:] {
		if v < ref-tol {
			return false
		}
	}
	return true
}

// validationSplit draws a seeded fraction of n rows to hold out, and
// returns the rest and them, each in increasing order.
func validationSplit(n int, fraction float64, seed uint64) (train, valid []int) {
	all := make([]int, n)
	for i := range all {
		all[i] = i
	}
	if fraction == 0 {
		return all, nil
	}
	nValid := int(math.Ceil(fraction * float64(n)))
	rng := rand.New(rand.NewPCG(seed, 0))
	rng.Shuffle(n, func(i, j int) { all[i], all[j] = all[j], all[i] })
	valid, train = all[:nValid], all[nValid:]
	slices.Sort(valid)
	slices.Sort(train)
	return train, valid
}

// drawRows draws k of n rows uniformly without replacement (selection
// sampling, Knuth's algorithm S), appending them to rows and the others to
// unseen, both in increasing order: row order keeps histogram gathers local.
func drawRows(rng *rand.Rand, rows, unseen []int32, n, k int) ([]int32, []int32) {
	need := k
	for r := range n {
		if rng.IntN(n-r) < need {
			rows = append(rows, int32(r))
			need--
		} else {
			unseen = append(unseen, int32(r))
		}
	}
	return rows, unseen
}

// drawFeatures returns k of the d features, drawn without replacement, in
// increasing order; all of them when k == d.
func drawFeatures(rng *rand.Rand, dst []int, d, k int) []int {
	for f := range d {
		dst = append(dst, f)
	}
	if k < d {
		for i := range k {
			j := i + rng.IntN(d-i)
			dst[i], dst[j] = dst[j], dst[i]
		}
		dst = dst[:k]
		slices.Sort(dst)
	}
	return dst
}

func gather(v []float64, idx []int) []float64 {
	out := make([]float64, len(idx))
	for i, r := range idx {
		out[i] = v[r]
	}
	return out
}

func mse(pred, y []float64) float64 {
	if len(y) == 0 {
		return 0
	}
	var s float64
	for i, v := range y {
		e := pred[i] - v
		s += e * e
	}
	return s / float64(len(y))
}
