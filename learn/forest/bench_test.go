package forest_test

import (
	"context"
	"crypto/sha256"
	"io"
	"testing"

	"github.com/mlops-lab/housing/dataset"
	"github.com/mlops-lab/housing/internal/benchtest"
	"github.com/mlops-lab/housing/learn/forest"
)

var benchConfigs = []struct {
	name         string
	trees, depth int
}{
	{"baseline", 50, 5},
	{"tuned", 100, 10},
	{"optimized", 200, 0},
}

// BenchmarkFit fits the lab's three forests on the housing training rows.
func BenchmarkFit(b *testing.B) {
	train, _ := benchtest.LabSplit(b)
	for _, c := range benchConfigs {
		b.Run(c.name, func(b *testing.B) {
			p := forest.DefaultParams()
			p.NEstimators, p.MaxDepth, p.Seed = c.trees, c.depth, 42
			benchtest.Loop(b, func() {
				if _, err := forest.Fit(context.Background(), train.X, dataset.NumFeatures, train.Y, p, nil); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}

// BenchmarkPredict predicts the 4128 housing test rows.
func BenchmarkPredict(b *testing.B) {
	train, test := benchtest.LabSplit(b)
	for _, c := range benchConfigs {
		b.Run(c.name, func(b *testing.B) {
			p := forest.DefaultParams()
			p.NEstimators, p.MaxDepth, p.Seed = c.trees, c.depth, 42
			f, err := forest.Fit(context.Background(), train.X, dataset.NumFeatures, train.Y, p, nil)
			if err != nil {
				b.Fatal(err)
			}
			dst := make([]float64, test.Rows())
			benchtest.Loop(b, func() { f.Predict(dst, test.X) })
		})
	}
}

// BenchmarkWriteTo writes the model file of a forest shaped like the lab's
// rf-optimized winner (300 trees, full depth, max_features 0.33,
// min_samples_split 5), logging the file's SHA-256 so that a change to the
// writer can show it writes the same bytes.
func BenchmarkWriteTo(b *testing.B) {
	f := benchtest.WinnerForest(b)
	h := sha256.New()
	n, err := f.WriteTo(h)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("%d bytes, sha256 %x", n, h.Sum(nil))
	benchtest.Loop(b, func() {
		if _, err := f.WriteTo(io.Discard); err != nil {
			b.Fatal(err)
		}
	})
}
