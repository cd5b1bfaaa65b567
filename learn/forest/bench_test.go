package forest_test

import (
	"context"
	"crypto/sha256"
	"io"
	"syscall"
	"testing"
	"time"

	"github.com/mlops-lab/housing/dataset"
	"github.com/mlops-lab/housing/learn/forest"
)

// housing returns the 80/20 split of the shared data, or skips.
func housing(b *testing.B) (train, test *dataset.Dataset) {
	b.Helper()
	path, ok := dataset.SharedDataPath()
	if !ok {
		b.Skip("shared California housing data not found (set HOUSING_DATA)")
	}
	d, err := dataset.Load(context.Background(), path, dataset.LoadOptions{})
	if err != nil {
		b.Fatal(err)
	}
	trainIdx, testIdx, err := dataset.TrainTestSplit(d.Rows(), 0.2, 42)
	if err != nil {
		b.Fatal(err)
	}
	return d.Subset(trainIdx), d.Subset(testIdx)
}

var benchConfigs = []struct {
	name         string
	trees, depth int
}{
	{"baseline", 50, 5},
	{"tuned", 100, 10},
	{"optimized", 200, 0},
}

// cpuTime returns the user+system CPU time of this process so far: on a
// machine shared with others it varies far less than wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loop runs body b.N times and reports its CPU time per op beside the wall time.
func loop(b *testing.B, body func()) {
	start := cpuTime()
	n := 0
	for b.Loop() {
		body()
		n++
	}
	b.ReportMetric(float64(cpuTime()-start)/float64(n), "cpu-ns/op")
}

// BenchmarkFit fits the lab's three forests on the housing training rows.
func BenchmarkFit(b *testing.B) {
	train, _ := housing(b)
	for _, c := range benchConfigs {
		b.Run(c.name, func(b *testing.B) {
			p := forest.DefaultParams()
			p.NEstimators, p.MaxDepth, p.Seed = c.trees, c.depth, 42
			loop(b, func() {
				if _, err := forest.Fit(context.Background(), train.X, dataset.NumFeatures, train.Y, p, nil); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}

// BenchmarkPredict predicts the 4128 housing test rows.
func BenchmarkPredict(b *testing.B) {
	train, test := housing(b)
	for _, c := range benchConfigs {
		b.Run(c.name, func(b *testing.B) {
			p := forest.DefaultParams()
			p.NEstimators, p.MaxDepth, p.Seed = c.trees, c.depth, 42
			f, err := forest.Fit(context.Background(), train.X, dataset.NumFeatures, train.Y, p, nil)
			if err != nil {
				b.Fatal(err)
			}
			dst := make([]float64, test.Rows())
			loop(b, func() { f.Predict(dst, test.X) })
		})
	}
}

// BenchmarkWriteTo writes the model file of a forest shaped like the lab's
// rf-optimized winner (300 trees, full depth, max_features 0.33,
// min_samples_split 5), logging the file's SHA-256 so that a change to the
// writer can show it writes the same bytes.
func BenchmarkWriteTo(b *testing.B) {
	train, _ := housing(b)
	p := forest.DefaultParams()
	p.NEstimators, p.MaxFeatures, p.MinSamplesSplit, p.Seed = 300, forest.MaxFeaturesFraction(0.33), 5, 42
	f, err := forest.Fit(context.Background(), train.X, dataset.NumFeatures, train.Y, p, nil)
	if err != nil {
		b.Fatal(err)
	}
	h := sha256.New()
	n, err := f.WriteTo(h)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("%d bytes, sha256 %x", n, h.Sum(nil))
	loop(b, func() {
		if _, err := f.WriteTo(io.Discard); err != nil {
			b.Fatal(err)
		}
	})
}
