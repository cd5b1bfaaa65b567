package boost_test

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/mlops-lab/housing/dataset"
	"github.com/mlops-lab/housing/learn/boost"
)

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

func BenchmarkFitLab(b *testing.B) {
	train, _ := housing(b)
	loop(b, func() {
		if _, err := boost.Fit(context.Background(), train.X, dataset.NumFeatures, train.Y, boost.LabParams(), nil); err != nil {
			b.Fatal(err)
		}
	})
}

func BenchmarkPredictLab(b *testing.B) {
	train, test := housing(b)
	m := fit(b, train.X, dataset.NumFeatures, train.Y, boost.LabParams())
	var pred []float64
	loop(b, func() { pred = m.Predict(pred, test.X) })
}
