package forest

import (
	"fmt"
	"math/bits"
	"runtime"

	"github.com/mlops-lab/housing/learn/internal/par"
)

// blockSize returns how many rows a worker predicts at a time, tree by
// tree. One block per worker: a tree is then fetched from memory once per
// worker and walked by all of its rows while it sits in the core's cache,
// which halved the CPU time against blocks a quarter as large (the deep
// nodes of a full-depth tree are each visited by few rows, so a tree is
// mostly fetched for every block). The cap keeps a block's quantized rows
// (4 bytes a value) within about 256 KiB, so they stay cached beside the tree.
func blockSize(n, workers, d int) int {
	b := (n + workers - 1) / workers
	return min(max(b, 128), max(128, (256<<10)/(4*d)))
}

// serialSteps is the number of node steps (about 2.5 ns each) below which a
// prediction runs on the calling goroutine: a few milliseconds of work finish
// sooner alone than when a second goroutine must wait for a busy core.
const serialSteps = 1 << 21

// predictWorkers returns how many goroutines predict n rows with trees: one
// for small work (estimated as rows times each tree's depth, log2 of its
// nodes), GOMAXPROCS otherwise. The result does not depend on it.
func predictWorkers(n int, trees []tree) int {
	steps := 0
	for i := range trees {
		steps += n * bits.Len(uint(len(trees[i].nodes)))
		if steps >= serialSteps {
			return runtime.GOMAXPROCS(0)
		}
	}
	return 1
}

func (f *Forest) rows(X []float64) int {
	if len(X)%f.nFeatures != 0 {
		panic(fmt.Sprintf("forest: X has %d values, not a multiple of %d features", len(X), f.nFeatures))
	}
	return len(X) / f.nFeatures
}

// Predict writes the mean of the trees' predictions for each row of X
// (row-major, NumFeatures columns) into dst, growing it if it is too
// short, and returns it. Each row sums its trees in tree order, so the
// result does not depend on the number of cores. It panics if len(X) is
// not a multiple of NumFeatures.
func (f *Forest) Predict(dst, X []float64) []float64 {
	return f.PredictFirst(dst, X, len(f.trees))
}

// PredictFirst is Predict using only the first k trees, what a forest of k
// trees grown with the same parameters and seed would predict. It panics if
// k is not in [1, NumTrees].
func (f *Forest) PredictFirst(dst, X []float64, k int) []float64 {
	if k < 1 || k > len(f.trees) {
		panic(fmt.Sprintf("forest: PredictFirst of %d trees, forest has %d", k, len(f.trees)))
	}
	n := f.rows(X)
	dst = par.Grow(dst, n)
	d := f.nFeatures
	trees := f.trees[:k]
	workers := predictWorkers(n, trees)
	size := blockSize(n, workers, d)
	par.For((n+size-1)/size, workers, func(blk int) {
		lo, hi := blk*size, min((blk+1)*size, n)
		q := quantize(nil, X, lo, hi, f.thresholds)
		walk := make([]uint64, hi-lo)
		out := dst[lo:hi]
		clear(out)
		for t := range trees {
			trees[t].addPredictions(out, q, d, walk)
		}
		for r := range out {
			out[r] /= float64(k)
		}
	})
	return dst
}

// StagedPredict calls fn after each tree, in tree order, with the number
// of trees so far and the forest's prediction for every row of X using only
// those trees; the last call sees exactly what Predict returns. pred is
// reused between calls: copy it to keep it. It panics if len(X) is not a
// multiple of NumFeatures.
func (f *Forest) StagedPredict(X []float64, fn func(trees int, pred []float64)) {
	n := f.rows(X)
	d := f.nFeatures
	sum := make([]float64, n)
	pred := make([]float64, n)
	workers := runtime.GOMAXPROCS(0)
	q := quantize(nil, X, 0, n, f.thresholds)
	size := blockSize(n, workers, d)
	walk := make([]uint64, n)
	for t := range f.trees {
		tr := &f.trees[t]
		k := float64(t + 1)
		par.For((n+size-1)/size, workers, func(blk int) {
			lo, hi := blk*size, min((blk+1)*size, n)
			tr.addPredictions(sum[lo:hi], q[lo*d:hi*d], d, walk[lo:hi])
			for r := lo; r < hi; r++ {
				pred[r] = sum[r] / k
			}
		})
		fn(t+1, pred)
	}
}

// oobScore returns the R2 of each training row's mean prediction over the
// trees whose bootstrap left it out, and false if no row was ever out of bag.
func (f *Forest) oobScore(X, y []float64, workers int) (float64, bool) {
	n := len(y)
	d := f.nFeatures
	// Redraw each tree's bootstrap from its seed rather than keep it.
	inBag := make([][]uint64, len(f.trees))
	par.For(len(f.trees), workers, func(t int) {
		w := make([]uint32, n)
		drawBootstrap(treeRand(f.params.Seed, f.params.FirstTree+t), w, true)
		bits := make([]uint64, (n+63)/64)
		for i, c := range w {
			if c > 0 {
				bits[i/64] |= 1 << (i % 64)
			}
		}
		inBag[t] = bits
	})
	sum := make([]float64, n)
	count := make([]int, n)
	q := quantize(nil, X, 0, n, f.thresholds)
	size := blockSize(n, workers, d)
	par.For((n+size-1)/size, workers, func(blk int) {
		lo, hi := blk*size, min((blk+1)*size, n)
		tmp := make([]float64, hi-lo)
		walk := make([]uint64, hi-lo)
		for t := range f.trees {
			// Predicting every row and keeping the out-of-bag ones keeps
			// the tree walk branch-free; OOB is not on a hot path.
			clear(tmp)
			f.trees[t].addPredictions(tmp, q[lo*d:hi*d], d, walk)
			for r := lo; r < hi; r++ {
				if inBag[t][r/64]&(1<<(r%64)) == 0 {
					sum[r] += tmp[r-lo]
					count[r]++
				}
			}
		}
	})
	// R2 over the rows with a prediction, as learn.R2 computes it (this
	// package cannot import learn, which imports it).
	var mean float64
	m := 0
	for i, c := range count {
		if c > 0 {
			mean += y[i]
			m++
		}
	}
	if m == 0 {
		return 0, false
	}
	mean /= float64(m)
	var ssRes, ssTot float64
	for i, c := range count {
		if c > 0 {
			e := y[i] - sum[i]/float64(c)
			ssRes += e * e
			t := y[i] - mean
			ssTot += t * t
		}
	}
	if ssTot == 0 {
		if ssRes == 0 {
			return 1, true
		}
		return 0, true
	}
	return 1 - ssRes/ssTot, true
}
