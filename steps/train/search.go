package main

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/mlops-lab/housing/dataset"
	"github.com/mlops-lab/housing/learn"
	"github.com/mlops-lab/housing/learn/forest"
)

// Trial is one scored candidate of a search round.
type Trial struct {
	Round    int     // 1-based round of successive halving
	Index    int     // candidate number, stable across rounds
	Config   Config  // the candidate, with NEstimators as in this round
	CVR2     float64 // mean R2 over the folds
	CVR2Std  float64 // standard deviation of R2 over the folds
	Survived bool    // whether it went on to the next round (or won)
}

// searchForest runs base.Search on train: random candidates, successive halving
// (the best third survive each round, trees tripled up to each candidate's own
// n_estimators), K-fold cross-validated R2. onTrial is called for every scored
// trial, in order. It returns the winner with its full n_estimators.
func searchForest(ctx context.Context, train *dataset.Dataset, base Config, seed uint64, workers int, onTrial func(context.Context, Trial) error) (Config, error) {
	s := base.Search
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	cands := drawCandidates(base, s, rng)
	folds, err := dataset.KFold(train.Rows(), s.Folds, int64(seed%math.MaxUint32))
	if err != nil {
		return Config{}, fmt.Errorf("search folds: %w", err)
	}
	idx := make([]int, len(cands))
	for i := range idx {
		idx[i] = i
	}
	trees := s.MinTrees
	for round := 1; ; round++ {
		trials := make([]Trial, 0, len(idx))
		for _, i := range idx {
			c := cands[i]
			c.NEstimators = min(trees, cands[i].NEstimators)
			mean, std, err := crossValidate(ctx, train, folds, c, seed, workers)
			if err != nil {
				return Config{}, err
			}
			trials = append(trials, Trial{Round: round, Index: i, Config: c, CVR2: mean, CVR2Std: std})
		}
		order := make([]int, len(trials))
		for i := range order {
			order[i] = i
		}
		slices.SortStableFunc(order, func(a, b int) int {
			return -cmpFloat(trials[a].CVR2, trials[b].CVR2)
		})
		keep := (len(trials) + 2) / 3
		if trees >= maxTrees(cands, idx) {
			keep = 1 // every survivor already ran with all its trees: more rounds would change nothing
		}
		next := make([]int, 0, keep)
		for rank, t := range order {
			if rank < keep {
				trials[t].Survived = true
				next = append(next, trials[t].Index)
			}
		}
		for _, t := range trials {
			if err := onTrial(ctx, t); err != nil {
				return Config{}, err
			}
		}
		idx = next
		if len(idx) == 1 {
			return cands[idx[0]], nil
		}
		trees *= 3
	}
}

func maxTrees(cands []Config, idx []int) int {
	m := 0
	for _, i := range idx {
		m = max(m, cands[i].NEstimators)
	}
	return m
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// drawCandidates draws s.Candidates distinct configs from the search space (fewer
// when the space is smaller), named "<base>-trial-N".
func drawCandidates(base Config, s *Search, rng *rand.Rand) []Config {
	space := len(s.NEstimators) * len(s.MaxDepth) * len(s.MaxFeatures) * len(s.MinSamplesLeaf) * len(s.MinSamplesSplit)
	n := min(s.Candidates, space)
	seen := map[Config]bool{}
	var out []Config
	for len(out) < n {
		c := Config{
			Kind:            KindRandomForest,
			NEstimators:     s.NEstimators[rng.IntN(len(s.NEstimators))],
			MaxDepth:        s.MaxDepth[rng.IntN(len(s.MaxDepth))],
			MaxFeatures:     s.MaxFeatures[rng.IntN(len(s.MaxFeatures))],
			MinSamplesLeaf:  s.MinSamplesLeaf[rng.IntN(len(s.MinSamplesLeaf))],
			MinSamplesSplit: s.MinSamplesSplit[rng.IntN(len(s.MinSamplesSplit))],
		}
		if seen[c] {
			continue
		}
		seen[c] = true
		c.Name = fmt.Sprintf("%s-trial-%d", base.Name, len(out)+1)
		out = append(out, c)
	}
	return out
}

// crossValidate returns the mean and standard deviation of R2 over folds.
func crossValidate(ctx context.Context, train *dataset.Dataset, folds []dataset.Fold, c Config, seed uint64, workers int) (mean, std float64, err error) {
	p, err := c.ForestParams(seed, workers)
	if err != nil {
		return 0, 0, err
	}
	scores := make([]float64, len(folds))
	for i, f := range folds {
		tr, te := train.Subset(f.Train), train.Subset(f.Test)
		model, err := forest.Fit(ctx, tr.X, dataset.NumFeatures, tr.Y, p, nil)
		if err != nil {
			return 0, 0, fmt.Errorf("fit %s on fold %d: %w", c.Name, i+1, err)
		}
		scores[i] = learn.R2(te.Y, model.Predict(nil, te.X))
	}
	for _, s := range scores {
		mean += s
	}
	mean /= float64(len(scores))
	for _, s := range scores {
		std += (s - mean) * (s - mean)
	}
	return mean, math.Sqrt(std / float64(len(scores))), nil
}
