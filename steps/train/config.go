package main

import (
	_ "embed"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/mlops-lab/housing/learn/forest"
	"sigs.k8s.io/yaml"
)

//go:embed sweep.yaml
var builtinSweep []byte

// Model kinds train can fit.
const (
	KindRandomForest     = "random-forest"
	KindGradientBoosting = "gradient-boosting"
	KindLinear           = "linear"
)

// Config is one named regressor configuration of a sweep. MaxDepth and
// MinSamplesLeaf apply to forests and boosted ensembles alike; the other
// fields belong to one kind, and Validate refuses them on another.
type Config struct {
	Name            string  `json:"name"`
	Kind            string  `json:"kind"`
	NEstimators     int     `json:"n_estimators,omitempty"`
	MaxDepth        int     `json:"max_depth,omitempty"` // 0: unlimited
	MinSamplesSplit int     `json:"min_samples_split,omitempty"`
	MinSamplesLeaf  int     `json:"min_samples_leaf,omitempty"` // 0: the kind's default (1 for forests, 20 for boosting)
	MaxFeatures     string  `json:"max_features,omitempty"`     // "1.0", "0.33", "sqrt", "log2", "3"
	Bootstrap       *bool   `json:"bootstrap,omitempty"`        // default true
	Search          *Search `json:"search,omitempty"`

	Boost
}

// Search is a bounded hyperparameter search for a random forest: Candidates random
// draws from the lists, narrowed by successive halving (a third survive each round,
// trees tripled), each scored by Folds-fold cross-validation on the train part.
type Search struct {
	Candidates      int      `json:"candidates"`
	Folds           int      `json:"folds"`
	MinTrees        int      `json:"min_trees"`
	NEstimators     []int    `json:"n_estimators"`
	MaxDepth        []int    `json:"max_depth"`
	MaxFeatures     []string `json:"max_features"`
	MinSamplesLeaf  []int    `json:"min_samples_leaf"`
	MinSamplesSplit []int    `json:"min_samples_split"`
}

// Sweep is a list of named configs.
type Sweep struct {
	Configs []Config `json:"configs"`
}

// LoadSweep reads a sweep from path (YAML or JSON), or the built-in lab sweep when
// path is empty, and checks every config in it.
func LoadSweep(path string) (*Sweep, error) {
	data, name := builtinSweep, "built-in sweep"
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read config file: %w", err)
		}
		data, name = b, path
	}
	var s Sweep
	if err := yaml.UnmarshalStrict(data, &s); err != nil {
		return nil, fmt.Errorf("config file %s: %w", name, err)
	}
	seen := map[string]bool{}
	for i, c := range s.Configs {
		if c.Name == "" {
			return nil, fmt.Errorf("config file %s: config #%d has no name", name, i+1)
		}
		if seen[c.Name] {
			return nil, fmt.Errorf("config file %s: config %q appears twice", name, c.Name)
		}
		seen[c.Name] = true
		if err := c.Validate(); err != nil {
			return nil, fmt.Errorf("config file %s: %w", name, err)
		}
	}
	return &s, nil
}

// Find returns the config called name.
func (s *Sweep) Find(name string) (Config, error) {
	var names []string
	for _, c := range s.Configs {
		if c.Name == name {
			return c, nil
		}
		names = append(names, c.Name)
	}
	return Config{}, fmt.Errorf("no config named %q (known: %v)", name, names)
}

// Validate checks that c can be fitted.
func (c Config) Validate() error {
	switch c.Kind {
	case KindLinear:
		if c.Search != nil {
			return fmt.Errorf("config %q: a linear model has nothing to search", c.Name)
		}
		if set := c.Boost.set(); len(set) > 0 {
			return fmt.Errorf("config %q: %s: gradient-boosting settings in a linear config", c.Name, strings.Join(set, ", "))
		}
		return nil
	case KindGradientBoosting:
		return c.validateBoost()
	case KindRandomForest:
		if set := c.Boost.set(); len(set) > 0 {
			return fmt.Errorf("config %q: %s: gradient-boosting settings in a random-forest config", c.Name, strings.Join(set, ", "))
		}
	default:
		return fmt.Errorf("config %q: unknown kind %q (want %s, %s or %s)", c.Name, c.Kind, KindRandomForest, KindGradientBoosting, KindLinear)
	}
	if c.NEstimators < 0 || c.MaxDepth < 0 || c.MinSamplesLeaf < 0 || c.MinSamplesSplit < 0 {
		return fmt.Errorf("config %q: n_estimators, max_depth, min_samples_leaf and min_samples_split must not be negative", c.Name)
	}
	if _, err := c.ForestParams(0, 0); err != nil {
		return fmt.Errorf("config %q: %w", c.Name, err)
	}
	if s := c.Search; s != nil {
		if s.Candidates < 1 || s.Folds < 2 || s.MinTrees < 1 {
			return fmt.Errorf("config %q: search needs candidates >= 1, folds >= 2, min_trees >= 1", c.Name)
		}
		if len(s.NEstimators) == 0 || len(s.MaxDepth) == 0 || len(s.MaxFeatures) == 0 || len(s.MinSamplesLeaf) == 0 || len(s.MinSamplesSplit) == 0 {
			return fmt.Errorf("config %q: every search list needs at least one value", c.Name)
		}
		for _, mf := range s.MaxFeatures {
			if _, err := forest.ParseMaxFeatures(mf); err != nil {
				return fmt.Errorf("config %q: search max_features %q: %w", c.Name, mf, err)
			}
		}
		if slices.Min(s.NEstimators) < 1 {
			return fmt.Errorf("config %q: search n_estimators must be positive", c.Name)
		}
	}
	return nil
}

// ForestParams turns c into the forest's parameters.
func (c Config) ForestParams(seed uint64, workers int) (forest.Params, error) {
	p := forest.DefaultParams()
	if c.NEstimators > 0 {
		p.NEstimators = c.NEstimators
	}
	p.MaxDepth = c.MaxDepth
	if c.MinSamplesSplit > 0 {
		p.MinSamplesSplit = c.MinSamplesSplit
	}
	if c.MinSamplesLeaf > 0 {
		p.MinSamplesLeaf = c.MinSamplesLeaf
	}
	if c.MaxFeatures != "" {
		mf, err := forest.ParseMaxFeatures(c.MaxFeatures)
		if err != nil {
			return p, fmt.Errorf("max_features %q: %w", c.MaxFeatures, err)
		}
		p.MaxFeatures = mf
	}
	if c.Bootstrap != nil {
		p.Bootstrap = *c.Bootstrap
	}
	p.Seed, p.Workers = seed, workers
	return p, nil
}

// Params returns c's hyperparameters as MLflow params (names as scikit-learn's).
func (c Config) Params() map[string]any {
	m := map[string]any{"model_kind": c.Kind, "config": c.Name}
	if c.Kind == KindGradientBoosting {
		c.boostParams(m)
		return m
	}
	if c.Kind != KindRandomForest {
		return m
	}
	p, _ := c.ForestParams(0, 0)
	m["n_estimators"] = strconv.Itoa(p.NEstimators)
	if p.MaxDepth == 0 {
		m["max_depth"] = "None"
	} else {
		m["max_depth"] = strconv.Itoa(p.MaxDepth)
	}
	m["min_samples_split"] = strconv.Itoa(p.MinSamplesSplit)
	m["min_samples_leaf"] = strconv.Itoa(p.MinSamplesLeaf)
	m["max_features"] = p.MaxFeatures.String()
	m["bootstrap"] = strconv.FormatBool(p.Bootstrap)
	return m
}
