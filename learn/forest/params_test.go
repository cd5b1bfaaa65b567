package forest_test

import (
	"context"
	"strings"
	"testing"

	"github.com/mlops-lab/housing/learn/forest"
)

func TestFitRefusesMoreMaxFeaturesThanFeatures(t *testing.T) {
	X := []float64{1, 2, 3, 4, 5, 6}
	y := []float64{1, 2, 3}
	p := forest.DefaultParams()
	p.NEstimators = 2
	p.MaxFeatures = forest.MaxFeaturesCount(3)
	_, err := forest.Fit(context.Background(), X, 2, y, p, nil)
	if err == nil || !strings.Contains(err.Error(), "max_features 3") || !strings.Contains(err.Error(), "only 2 features") {
		t.Fatalf("Fit with max_features 3 on 2 features: err = %v", err)
	}
	p.MaxFeatures = forest.MaxFeaturesCount(2)
	if _, err := forest.Fit(context.Background(), X, 2, y, p, nil); err != nil {
		t.Fatalf("max_features equal to the feature count: %v", err)
	}
}
