package onnx_test

import (
	"context"
	"crypto/sha256"
	"io"
	"syscall"
	"testing"
	"time"

	"github.com/mlops-lab/housing/dataset"
	"github.com/mlops-lab/housing/learn/forest"
	"github.com/mlops-lab/housing/learn/onnx"
)

// BenchmarkExport exports a forest shaped like the lab's rf-optimized winner
// (300 trees, full depth, max_features 0.33, min_samples_split 5) as ONNX,
// logging the file's SHA-256 so that a change to the writer can show it
// writes the same bytes, and the CPU time of an export (cpu-ns/op).
func BenchmarkExport(b *testing.B) {
	path, ok := dataset.SharedDataPath()
	if !ok {
		b.Skip("shared California housing data not found (set HOUSING_DATA)")
	}
	d, err := dataset.Load(context.Background(), path, dataset.LoadOptions{})
	if err != nil {
		b.Fatal(err)
	}
	trainIdx, _, err := dataset.TrainTestSplit(d.Rows(), 0.2, 42)
	if err != nil {
		b.Fatal(err)
	}
	train := d.Subset(trainIdx)
	p := forest.DefaultParams()
	p.NEstimators, p.MaxFeatures, p.MinSamplesSplit, p.Seed = 300, forest.MaxFeaturesFraction(0.33), 5, 42
	f, err := forest.Fit(context.Background(), train.X, dataset.NumFeatures, train.Y, p, nil)
	if err != nil {
		b.Fatal(err)
	}
	h := sha256.New()
	cw := &countingWriter{w: h}
	if err := onnx.Export(cw, f, onnx.Options{}); err != nil {
		b.Fatal(err)
	}
	b.Logf("%d bytes, sha256 %x", cw.n, h.Sum(nil))
	start, n := cpuTime(), 0
	for b.Loop() {
		if err := onnx.Export(io.Discard, f, onnx.Options{}); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(cpuTime()-start)/float64(n), "cpu-ns/op")
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// cpuTime is the process's user and system time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
