package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlops-lab/housing/learn/boost"
)

// TestGBLabIsLabParams: the sweep's gb-lab config is learn/boost's
// LabParams, setting by setting.
func TestGBLabIsLabParams(t *testing.T) {
	s, err := LoadSweep("")
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Find("gb-lab")
	if err != nil {
		t.Fatal(err)
	}
	want := boost.LabParams()
	if got := c.BoostParams(want.Seed, 0); got != want {
		t.Errorf("gb-lab params %+v, LabParams %+v", got, want)
	}
	if set := c.Boost.set(); len(set) != 9 {
		t.Errorf("gb-lab spells out %v, want every booster setting", set)
	}
	p := c.Params()
	for _, k := range []string{"learning_rate", "max_iter", "max_leaf_nodes", "max_depth", "min_samples_leaf", "l2_regularization",
		"max_bins", "subsample", "feature_fraction", "validation_fraction", "n_iter_no_change", "tol", "early_stopping"} {
		if _, ok := p[k]; !ok {
			t.Errorf("params lack %s: %v", k, p)
		}
	}
	if p["max_iter"] != 400 || p["model_kind"] != KindGradientBoosting {
		t.Errorf("params %v", p)
	}
}

func TestBoostConfigRefusesBadValues(t *testing.T) {
	cases := map[string]string{
		"learning_rate: 0":       "learning_rate 0",
		"learning_rate: -0.1":    "learning_rate -0.1",
		"max_iter: 0":            "max_iter 0",
		"max_leaf_nodes: 1":      "max_leaf_nodes 1",
		"max_depth: -2":          "max_depth -2",
		"min_samples_leaf: -1":   "min_samples_leaf -1",
		"l2_regularization: -1":  "l2_regularization -1",
		"max_bins: 256":          "max_bins 256",
		"subsample: 0":           "subsample 0",
		"feature_fraction: 1.5":  "feature_fraction 1.5",
		"validation_fraction: 1": "validation_fraction 1",
		"n_iter_no_change: 0":    "n_iter_no_change 0",
		"n_estimators: 10":       "n_estimators (use max_iter)",
		"max_features: sqrt":     "max_features",
		"learning_rate: fast":    "learning_rate",
		"learnig_rate: 0.1":      "learnig_rate",
	}
	dir := t.TempDir()
	for setting, want := range cases {
		path := filepath.Join(dir, "sweep.yaml")
		body := "configs:\n  - name: gb\n    kind: gradient-boosting\n    " + setting + "\n"
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := LoadSweep(path)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want one naming %q", setting, err, want)
		}
	}
	// Booster settings in a forest or linear config are refused too.
	for _, kind := range []string{KindRandomForest, KindLinear} {
		lr := 0.1
		c := Config{Name: "x", Kind: kind, Boost: Boost{LearningRate: &lr}}
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "learning_rate") {
			t.Errorf("%s with learning_rate: %v", kind, err)
		}
	}
	// Unset settings take the defaults.
	c := Config{Name: "d", Kind: KindGradientBoosting}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if got, want := c.BoostParams(1, 0), boost.DefaultParams(); got.MaxIter != want.MaxIter || got.LearningRate != want.LearningRate || got.MinSamplesLeaf != want.MinSamplesLeaf {
		t.Errorf("defaults: %+v, want %+v", got, want)
	}
}
