package boost_test

import (
	"context"
	"testing"

	"github.com/mlops-lab/housing/dataset"
	"github.com/mlops-lab/housing/internal/benchtest"
	"github.com/mlops-lab/housing/learn/boost"
)

func BenchmarkFitLab(b *testing.B) {
	train, _ := benchtest.LabSplit(b)
	benchtest.Loop(b, func() {
		if _, err := boost.Fit(context.Background(), train.X, dataset.NumFeatures, train.Y, boost.LabParams(), nil); err != nil {
			b.Fatal(err)
		}
	})
}

func BenchmarkPredictLab(b *testing.B) {
	train, test := benchtest.LabSplit(b)
	m := fit(b, train.X, dataset.NumFeatures, train.Y, boost.LabParams())
	var pred []float64
	benchtest.Loop(b, func() { pred = m.Predict(pred, test.X) })
}
