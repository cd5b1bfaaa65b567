package main

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

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
	// Start and End bound the trial's cross-validation (in a later round,
	// of the trees it added), the times its run is logged with.
	Start, End time.Time
}

// grown is what the search keeps of a candidate between rounds: per fold,
// the sum of its trees' predictions of the held-out rows, and how many
// trees that is. A later round fits only the trees it adds (forest.Params
// FirstTree), so no finished fold's forest is kept or fitted again.
type grown struct {
	trees int
	sums  [][]float64
}

// searchForest runs base.Search on train: random candidates, successive halving
// (the best third survive each round, trees tripled up to each candidate's own
// n_estimators), K-fold cross-validated R2. onTrial is called for every scored
// trial, in order, and now times each trial. It returns the winner with its
// full n_estimators.
func searchForest(ctx context.Context, train *dataset.Dataset, base Config, seed uint64, workers int, now func() time.Time, onTrial func(context.Context, Trial) error) (Config, error) {
	s := base.Search
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	cands := drawCandidates(base, s, rng)
	folds, err := dataset.KFold(train.Rows(), s.Folds, int64(seed%math.MaxUint32))
	if err != nil {
		return Config{}, fmt.Errorf("search folds: %w", err)
	}
	parts := make([]foldParts, len(folds))
	for i, f := range folds {
		parts[i] = foldParts{train: train.Subset(f.Train), test: train.Subset(f.Test)}
	}
	state := make([]grown, len(cands))
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
			start := now()
			mean, std, err := crossValidate(ctx, parts, c, seed, workers, &state[i])
			if err != nil {
				return Config{}, err
			}
			trials = append(trials, Trial{Round: round, Index: i, Config: c, CVR2: mean, CVR2Std: std, Start: start, End: now()})
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
			} else {
				state[trials[t].Index] = grown{} // out of the search: nothing of it is needed
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

// foldParts are a fold's rows, copied once for the whole search.
type foldParts struct{ train, test *dataset.Dataset }

// crossValidate returns the mean and standard deviation of R2 over the
// folds of c, a forest of c.NEstimators trees: it fits the trees g does not
// have yet on each fold, adds their predictions of the held-out rows to
// g's sums, and scores the sums' means. The R2 is that of a forest of all
// the trees, up to the rounding of summing in parts.
func crossValidate(ctx context.Context, folds []foldParts, c Config, seed uint64, workers int, g *grown) (mean, std float64, err error) {
	p, err := c.ForestParams(seed, workers)
	if err != nil {
		return 0, 0, err
	}
	if g.sums == nil {
		g.sums = make([][]float64, len(folds))
	}
	add := p.NEstimators - g.trees
	p.NEstimators, p.FirstTree = add, g.trees
	scores := make([]float64, len(folds))
	for i, f := range folds {
		if add > 0 {
			model, err := forest.Fit(ctx, f.train.X, dataset.NumFeatures, f.train.Y, p, nil)
			if err != nil {
				return 0, 0, fmt.Errorf("fit %s on fold %d: %w", c.Name, i+1, err)
			}
			pred := model.Predict(nil, f.test.X) // the mean of the added trees
			if g.sums[i] == nil {
				g.sums[i] = make([]float64, len(pred))
			}
			for r, v := range pred {
				g.sums[i][r] += v * float64(add)
			}
		}
		mean := make([]float64, len(g.sums[i]))
		for r, v := range g.sums[i] {
			mean[r] = v / float64(g.trees+add)
		}
		scores[i] = learn.R2(f.test.Y, mean)
	}
	g.trees += add
	for _, s := range scores {
		mean += s
	}
	mean /= float64(len(scores))
	for _, s := range scores {
		std += (s - mean) * (s - mean)
	}
	return mean, math.Sqrt(std / float64(len(scores))), nil
}
