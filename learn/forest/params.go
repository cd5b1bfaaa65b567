package forest

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Params configures a random forest. The zero value of a field means the
// default noted beside it; DefaultParams returns scikit-learn's defaults.
type Params struct {
	NEstimators     int         `json:"n_estimators"`      // number of trees; 0 means 100
	MaxDepth        int         `json:"max_depth"`         // 0 means unlimited
	MinSamplesSplit int         `json:"min_samples_split"` // 0 means 2
	MinSamplesLeaf  int         `json:"min_samples_leaf"`  // 0 means 1
	MaxFeatures     MaxFeatures `json:"max_features"`      // zero value means all features
	Bootstrap       bool        `json:"bootstrap"`         // draw each tree's rows with replacement
	OOBScore        bool        `json:"oob_score"`         // compute the out-of-bag R2 (needs Bootstrap)
	Seed            uint64      `json:"seed"`              // seeds every tree's random source
	Workers         int         `json:"-"`                 // parallel tree builders; 0 means GOMAXPROCS
	// FirstTree is the index of the forest's first tree. Each tree's random
	// source is a function of Seed and its index only, so a forest of n
	// trees fitted with FirstTree k holds trees k to k+n-1 of the forest of
	// k+n trees fitted with FirstTree 0: a search grows a candidate's forest
	// in parts without keeping the trees it already scored.
	FirstTree int `json:"-"`
}

// DefaultParams returns scikit-learn 1.2's RandomForestRegressor defaults:
// 100 trees, unlimited depth, all features, bootstrap.
func DefaultParams() Params {
	return Params{NEstimators: 100, MinSamplesSplit: 2, MinSamplesLeaf: 1, Bootstrap: true}
}

func (p Params) withDefaults() Params {
	if p.NEstimators == 0 {
		p.NEstimators = 100
	}
	if p.MinSamplesSplit == 0 {
		p.MinSamplesSplit = 2
	}
	if p.MinSamplesLeaf == 0 {
		p.MinSamplesLeaf = 1
	}
	return p
}

func (p Params) validate() error {
	switch {
	case p.NEstimators < 1:
		return fmt.Errorf("forest: NEstimators %d, want at least 1", p.NEstimators)
	case p.MaxDepth < 0:
		return fmt.Errorf("forest: MaxDepth %d, want 0 (unlimited) or more", p.MaxDepth)
	case p.MinSamplesSplit < 2:
		return fmt.Errorf("forest: MinSamplesSplit %d, want at least 2", p.MinSamplesSplit)
	case p.MinSamplesLeaf < 1:
		return fmt.Errorf("forest: MinSamplesLeaf %d, want at least 1", p.MinSamplesLeaf)
	case p.FirstTree < 0:
		return fmt.Errorf("forest: FirstTree %d, want 0 or more", p.FirstTree)
	case p.OOBScore && !p.Bootstrap:
		return fmt.Errorf("forest: OOBScore needs Bootstrap")
	}
	return p.MaxFeatures.validate()
}

type maxFeaturesKind uint8

const (
	maxFeaturesAll maxFeaturesKind = iota
	maxFeaturesCount
	maxFeaturesFraction
	maxFeaturesSqrt
	maxFeaturesLog2
)

// MaxFeatures is how many features a split considers: all of them (the zero
// value), a count, a fraction of them, or the square root or base-2
// logarithm of their number, as scikit-learn's max_features.
type MaxFeatures struct {
	kind     maxFeaturesKind
	count    int
	fraction float64
}

// MaxFeaturesCount considers n features per split.
func MaxFeaturesCount(n int) MaxFeatures { return MaxFeatures{kind: maxFeaturesCount, count: n} }

// MaxFeaturesFraction considers max(1, floor(f*features)) features per split.
func MaxFeaturesFraction(f float64) MaxFeatures {
	return MaxFeatures{kind: maxFeaturesFraction, fraction: f}
}

// MaxFeaturesSqrt considers max(1, floor(sqrt(features))) features per split.
func MaxFeaturesSqrt() MaxFeatures { return MaxFeatures{kind: maxFeaturesSqrt} }

// MaxFeaturesLog2 considers max(1, floor(log2(features))) features per split.
func MaxFeaturesLog2() MaxFeatures { return MaxFeatures{kind: maxFeaturesLog2} }

// ParseMaxFeatures reads scikit-learn's spellings: "sqrt", "log2", "none" or
// "" (all features), an integer count ("3"), or a fraction in (0, 1] written
// with a decimal point or exponent ("1.0", "0.33").
func ParseMaxFeatures(s string) (MaxFeatures, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	var m MaxFeatures
	switch t {
	case "", "none":
		return MaxFeatures{}, nil
	case "sqrt":
		m = MaxFeaturesSqrt()
	case "log2":
		m = MaxFeaturesLog2()
	default:
		if !strings.ContainsAny(t, ".e") {
			n, err := strconv.Atoi(t)
			if err != nil {
				return MaxFeatures{}, fmt.Errorf("forest: max_features %q: want an integer, a fraction, \"sqrt\", \"log2\" or \"none\"", s)
			}
			m = MaxFeaturesCount(n)
		} else {
			f, err := strconv.ParseFloat(t, 64)
			if err != nil {
				return MaxFeatures{}, fmt.Errorf("forest: max_features %q: want an integer, a fraction, \"sqrt\", \"log2\" or \"none\"", s)
			}
			m = MaxFeaturesFraction(f)
		}
	}
	if err := m.validate(); err != nil {
		return MaxFeatures{}, err
	}
	return m, nil
}

func (m MaxFeatures) validate() error {
	switch m.kind {
	case maxFeaturesCount:
		if m.count < 1 {
			return fmt.Errorf("forest: max_features count %d, want at least 1", m.count)
		}
	case maxFeaturesFraction:
		if !(m.fraction > 0 && m.fraction <= 1) {
			return fmt.Errorf("forest: max_features fraction %v, want in (0, 1]", m.fraction)
		}
	}
	return nil
}

// FixedCount returns the count of a max_features given as a number of
// features ("3"), and false for the other forms.
func (m MaxFeatures) FixedCount() (int, bool) {
	return m.count, m.kind == maxFeaturesCount
}

// Count returns how many of nFeatures features a split considers.
func (m MaxFeatures) Count(nFeatures int) int {
	var n int
	switch m.kind {
	case maxFeaturesAll:
		n = nFeatures
	case maxFeaturesCount:
		n = m.count
	case maxFeaturesFraction:
		n = int(m.fraction * float64(nFeatures))
	case maxFeaturesSqrt:
		n = int(math.Sqrt(float64(nFeatures)))
	case maxFeaturesLog2:
		n = int(math.Log2(float64(nFeatures)))
	}
	return min(max(n, 1), nFeatures)
}

// String returns the spelling ParseMaxFeatures reads back.
func (m MaxFeatures) String() string {
	switch m.kind {
	case maxFeaturesCount:
		return strconv.Itoa(m.count)
	case maxFeaturesFraction:
		s := strconv.FormatFloat(m.fraction, 'g', -1, 64)
		if !strings.ContainsAny(s, ".e") {
			s += ".0"
		}
		return s
	case maxFeaturesSqrt:
		return "sqrt"
	case maxFeaturesLog2:
		return "log2"
	}
	return "none"
}

// MarshalText implements encoding.TextMarshaler.
func (m MaxFeatures) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (m *MaxFeatures) UnmarshalText(b []byte) error {
	v, err := ParseMaxFeatures(string(b))
	if err != nil {
		return err
	}
	*m = v
	return nil
}
