package main

import (
	"fmt"
	"math"
	"strings"

	"github.com/mlops-lab/housing/learn/boost"
)

// Boost holds the settings of a gradient-boosting config (learn/boost, in
// the shape of scikit-learn's HistGradientBoostingRegressor). A nil field
// takes boost.DefaultParams' value; a set one is used as it is, so that a
// 0 where 0 is not allowed is an error, not the default.
type Boost struct {
	LearningRate       *float64 `json:"learning_rate,omitempty"`
	MaxIter            *int     `json:"max_iter,omitempty"`
	MaxLeafNodes       *int     `json:"max_leaf_nodes,omitempty"` // -1: no limit
	L2Regularization   *float64 `json:"l2_regularization,omitempty"`
	MaxBins            *int     `json:"max_bins,omitempty"`
	Subsample          *float64 `json:"subsample,omitempty"`
	FeatureFraction    *float64 `json:"feature_fraction,omitempty"`
	ValidationFraction *float64 `json:"validation_fraction,omitempty"` // 0: no early stopping
	NIterNoChange      *int     `json:"n_iter_no_change,omitempty"`
}

// set names the fields that are set, as the config file spells them.
func (b Boost) set() []string {
	var out []string
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"learning_rate", b.LearningRate != nil}, {"max_iter", b.MaxIter != nil}, {"max_leaf_nodes", b.MaxLeafNodes != nil},
		{"l2_regularization", b.L2Regularization != nil}, {"max_bins", b.MaxBins != nil}, {"subsample", b.Subsample != nil},
		{"feature_fraction", b.FeatureFraction != nil}, {"validation_fraction", b.ValidationFraction != nil},
		{"n_iter_no_change", b.NIterNoChange != nil},
	} {
		if f.set {
			out = append(out, f.name)
		}
	}
	return out
}

// validateBoost checks a gradient-boosting config, naming the setting at
// fault as the config file and the flags spell it.
func (c Config) validateBoost() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("config %q: %s", c.Name, fmt.Sprintf(format, args...))
	}
	var forestOnly []string
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"n_estimators (use max_iter)", c.NEstimators != 0}, {"min_samples_split", c.MinSamplesSplit != 0},
		{"max_features (use feature_fraction)", c.MaxFeatures != ""}, {"bootstrap (use subsample)", c.Bootstrap != nil},
		{"search", c.Search != nil},
	} {
		if f.set {
			forestOnly = append(forestOnly, f.name)
		}
	}
	if len(forestOnly) > 0 {
		return bad("%s: random-forest settings in a gradient-boosting config", strings.Join(forestOnly, ", "))
	}
	p := c.BoostParams(0, 0)
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	switch {
	case !(p.LearningRate > 0) || !finite(p.LearningRate):
		return bad("learning_rate %v: want a number > 0", p.LearningRate)
	case p.MaxIter < 1:
		return bad("max_iter %d: want at least 1", p.MaxIter)
	case p.MaxLeafNodes < 2 && p.MaxLeafNodes != -1:
		return bad("max_leaf_nodes %d: want at least 2, or -1 for no limit", p.MaxLeafNodes)
	case c.MaxDepth < 0:
		return bad("max_depth %d: want 0 (unlimited) or more", c.MaxDepth)
	case c.MinSamplesLeaf < 0:
		return bad("min_samples_leaf %d: want at least 1", c.MinSamplesLeaf)
	case !(p.L2Regularization >= 0) || !finite(p.L2Regularization):
		return bad("l2_regularization %v: want a number >= 0", p.L2Regularization)
	case p.MaxBins < 2 || p.MaxBins > 255:
		return bad("max_bins %d: want 2 to 255", p.MaxBins)
	case !(p.Subsample > 0 && p.Subsample <= 1):
		return bad("subsample %v: want a fraction in (0, 1]", p.Subsample)
	case !(p.FeatureFraction > 0 && p.FeatureFraction <= 1):
		return bad("feature_fraction %v: want a fraction in (0, 1]", p.FeatureFraction)
	case !(p.ValidationFraction >= 0 && p.ValidationFraction < 1):
		return bad("validation_fraction %v: want a fraction in [0, 1) (0: no early stopping)", p.ValidationFraction)
	case p.NIterNoChange < 1:
		return bad("n_iter_no_change %d: want at least 1", p.NIterNoChange)
	}
	return nil
}

// BoostParams turns c into the booster's parameters: boost.DefaultParams
// with c's settings over them.
func (c Config) BoostParams(seed uint64, workers int) boost.Params {
	p := boost.DefaultParams()
	b := c.Boost
	setF := func(dst *float64, v *float64) {
		if v != nil {
			*dst = *v
		}
	}
	setI := func(dst *int, v *int) {
		if v != nil {
			*dst = *v
		}
	}
	setF(&p.LearningRate, b.LearningRate)
	setI(&p.MaxIter, b.MaxIter)
	setI(&p.MaxLeafNodes, b.MaxLeafNodes)
	setF(&p.L2Regularization, b.L2Regularization)
	setI(&p.MaxBins, b.MaxBins)
	setF(&p.Subsample, b.Subsample)
	setF(&p.FeatureFraction, b.FeatureFraction)
	setF(&p.ValidationFraction, b.ValidationFraction)
	setI(&p.NIterNoChange, b.NIterNoChange)
	p.MaxDepth = c.MaxDepth
	if c.MinSamplesLeaf > 0 {
		p.MinSamplesLeaf = c.MinSamplesLeaf
	}
	p.Seed, p.Workers = seed, workers
	return p
}

// boostParams adds every booster hyperparameter to m, under scikit-learn's
// names where it has them; max_depth 0 (unlimited) is None as there.
func (c Config) boostParams(m map[string]any) {
	p := c.BoostParams(0, 0)
	m["learning_rate"] = p.LearningRate
	m["max_iter"] = p.MaxIter
	m["max_leaf_nodes"] = any(p.MaxLeafNodes)
	if p.MaxLeafNodes == -1 {
		m["max_leaf_nodes"] = nil
	}
	m["max_depth"] = any(p.MaxDepth)
	if p.MaxDepth == 0 {
		m["max_depth"] = nil
	}
	m["min_samples_leaf"] = p.MinSamplesLeaf
	m["l2_regularization"] = p.L2Regularization
	m["max_bins"] = p.MaxBins
	m["subsample"] = p.Subsample
	m["feature_fraction"] = p.FeatureFraction
	m["validation_fraction"] = p.ValidationFraction
	m["early_stopping"] = p.ValidationFraction > 0
	m["n_iter_no_change"] = p.NIterNoChange
	m["tol"] = p.Tol
}
