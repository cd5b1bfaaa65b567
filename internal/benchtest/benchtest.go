// Package benchtest holds what the learn packages' tests and benchmarks share:
// the lab's 80/20 split of the shared California housing data, and CPU time
// per operation, which on a machine shared with others varies far less than
// wall time.
package benchtest

import (
	"context"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mlops-lab/housing/dataset"
	"github.com/mlops-lab/housing/learn/forest"
)

var split struct {
	once        sync.Once
	train, test *dataset.Dataset
	err         error
}

// LabSplit returns the lab's split of the shared data (test fraction 0.2,
// seed 42), loaded once per test binary, or skips tb when the data is not
// there. Callers share the datasets and must not change them.
func LabSplit(tb testing.TB) (train, test *dataset.Dataset) {
	tb.Helper()
	path, ok := dataset.SharedDataPath()
	if !ok {
		tb.Skip("shared California housing data not found (set HOUSING_DATA)")
	}
	split.once.Do(func() {
		d, err := dataset.Load(context.Background(), path, dataset.LoadOptions{})
		if err != nil {
			split.err = err
			return
		}
		trainIdx, testIdx, err := dataset.TrainTestSplit(d.Rows(), 0.2, 42)
		if err != nil {
			split.err = err
			return
		}
		split.train, split.test = d.Subset(trainIdx), d.Subset(testIdx)
	})
	if split.err != nil {
		tb.Fatalf("loading the shared data %s: %v", path, split.err)
	}
	return split.train, split.test
}

// CPUTime returns the user and system CPU time of this process so far.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Loop runs body for b's iterations and reports its CPU time per op
// (cpu-ns/op) beside the wall time.
func Loop(b *testing.B, body func()) {
	start, n := CPUTime(), 0
	for b.Loop() {
		body()
		n++
	}
	b.ReportMetric(float64(CPUTime()-start)/float64(n), "cpu-ns/op")
}

// WinnerForest fits, on LabSplit's training rows, a forest shaped like the
// lab's rf-optimized winner (300 trees, full depth, max_features 0.33,
// min_samples_split 5, seed 42): the model whose files the writers'
// benchmarks time.
func WinnerForest(tb testing.TB) *forest.Forest {
	tb.Helper()
	train, _ := LabSplit(tb)
	p := forest.DefaultParams()
	p.NEstimators, p.MaxFeatures, p.MinSamplesSplit, p.Seed = 300, forest.MaxFeaturesFraction(0.33), 5, 42
	f, err := forest.Fit(context.Background(), train.X, dataset.NumFeatures, train.Y, p, nil)
	if err != nil {
		tb.Fatalf("fitting the rf-optimized forest: %v", err)
	}
	return f
}
