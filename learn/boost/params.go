package boost

import (
	"fmt"
	"math"
)

// Params configures a histogram gradient-boosting fit. The zero value of a
// field means the default noted beside it, scikit-learn's
// HistGradientBoostingRegressor default where it has one; DefaultParams
// spells them out and LabParams is the lab's tuned configuration.
type Params struct {
	LearningRate     float64 `json:"learning_rate"`     // shrinkage of every leaf value; 0 means 0.1
	MaxIter          int     `json:"max_iter"`          // boosting iterations (trees); 0 means 100
	MaxLeafNodes     int     `json:"max_leaf_nodes"`    // leaves per tree, grown best first; 0 means 31, -1 no limit
	MaxDepth         int     `json:"max_depth"`         // 0 means unlimited
	MinSamplesLeaf   int     `json:"min_samples_leaf"`  // 0 means 20
	L2Regularization float64 `json:"l2_regularization"` // added to a leaf's row count in its value and gain
	MaxBins          int     `json:"max_bins"`          // bins per feature, 2 to 255; 0 means 255
	Subsample        float64 `json:"subsample"`         // fraction of rows drawn (without replacement) per tree; 0 means 1
	FeatureFraction  float64 `json:"feature_fraction"`  // fraction of features drawn per tree; 0 means 1

	// ValidationFraction > 0 holds out that fraction of the rows (a
	// seeded draw) to score each iteration and stop early: after
	// NIterNoChange iterations none of which improved the validation loss by
	// more than Tol. As in scikit-learn, the trees grown until then are
	// all kept.
	ValidationFraction float64 `json:"validation_fraction"`
	NIterNoChange      int     `json:"n_iter_no_change"` // 0 means 10
	Tol                float64 `json:"tol"`              // 0 means 1e-7

	Seed    uint64 `json:"seed"` // seeds the validation split and the row and feature draws
	Workers int    `json:"-"`    // parallel histogram builders; 0 means GOMAXPROCS
}

// DefaultParams returns scikit-learn 1.2's HistGradientBoostingRegressor
// defaults, without its automatic early stopping.
func DefaultParams() Params {
	return Params{LearningRate: 0.1, MaxIter: 100, MaxLeafNodes: 31, MinSamplesLeaf: 20, MaxBins: 255,
		Subsample: 1, FeatureFraction: 1, NIterNoChange: 10, Tol: 1e-7}
}

// LabParams returns the lab's configuration, which reaches a test R2 above
// 0.848 on the housing split (see bench/README.md).
func LabParams() Params {
	p := DefaultParams()
	p.MaxIter = 400
	p.MaxLeafNodes = 48
	p.MaxDepth = 10 // bounds the walk of every row at prediction
	p.L2Regularization = 1
	p.FeatureFraction = 0.8
	p.Seed = 42
	return p
}

func (p Params) withDefaults() Params {
	if p.LearningRate == 0 {
		p.LearningRate = 0.1
	}
	if p.MaxIter == 0 {
		p.MaxIter = 100
	}
	if p.MaxLeafNodes == 0 {
		p.MaxLeafNodes = 31
	}
	if p.MinSamplesLeaf == 0 {
		p.MinSamplesLeaf = 20
	}
	if p.MaxBins == 0 {
		p.MaxBins = 255
	}
	if p.Subsample == 0 {
		p.Subsample = 1
	}
	if p.FeatureFraction == 0 {
		p.FeatureFraction = 1
	}
	if p.NIterNoChange == 0 {
		p.NIterNoChange = 10
	}
	if p.Tol == 0 {
		p.Tol = 1e-7
	}
	return p
}

func (p Params) validate() error {
	switch {
	case !(p.LearningRate > 0) || math.IsInf(p.LearningRate, 1):
		return fmt.Errorf("boost: LearningRate %v, want > 0", p.LearningRate)
	case p.MaxIter < 1:
		return fmt.Errorf("boost: MaxIter %d, want at least 1", p.MaxIter)
	case p.MaxLeafNodes < 2 && p.MaxLeafNodes != -1:
		return fmt.Errorf("boost: MaxLeafNodes %d, want at least 2 or -1 (no limit)", p.MaxLeafNodes)
	case p.MaxDepth < 0:
		return fmt.Errorf("boost: MaxDepth %d, want 0 (unlimited) or more", p.MaxDepth)
	case p.MinSamplesLeaf < 1:
		return fmt.Errorf("boost: MinSamplesLeaf %d, want at least 1", p.MinSamplesLeaf)
	case !(p.L2Regularization >= 0) || math.IsInf(p.L2Regularization, 1):
		return fmt.Errorf("boost: L2Regularization %v, want a finite value >= 0", p.L2Regularization)
	case p.MaxBins < 2 || p.MaxBins > 255:
		return fmt.Errorf("boost: MaxBins %d, want 2 to 255", p.MaxBins)
	case !(p.Subsample > 0 && p.Subsample <= 1):
		return fmt.Errorf("boost: Subsample %v, want in (0, 1]", p.Subsample)
	case !(p.FeatureFraction > 0 && p.FeatureFraction <= 1):
		return fmt.Errorf("boost: FeatureFraction %v, want in (0, 1]", p.FeatureFraction)
	case !(p.ValidationFraction >= 0 && p.ValidationFraction < 1):
		return fmt.Errorf("boost: ValidationFraction %v, want in [0, 1)", p.ValidationFraction)
	case p.NIterNoChange < 1:
		return fmt.Errorf("boost: NIterNoChange %d, want at least 1", p.NIterNoChange)
	case !(p.Tol >= 0):
		return fmt.Errorf("boost: Tol %v, want >= 0", p.Tol)
	}
	return nil
}
