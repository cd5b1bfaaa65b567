package main

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
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
		trials := make([]Trial, len(idx))
		for k, i := range idx {
			c := cands[i]
			c.NEstimators = min(trees, cands[i].NEstimators)
			trials[k] = Trial{Round: round, Index: i, Config: c}
		}
		if err := crossValidateRound(ctx, parts, trials, state, seed, workers, max(s.MinTrees, 1), now); err != nil {
			return Config{}, err
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

// crossValidateRound scores the round's trials, filling in their CV R2 and
// times. Each task is at most chunk trees of one (trial, fold), fitted on one
// core, and the tasks are spread over the workers: one wait for the whole
// round rather than one per fit, which on a loaded machine left a core idle
// whenever the other lagged (each fit of 25 trees waited for its last tree).
// A later round's new trees per fold are several tasks, so that the round
// ends in small tasks: 3 survivors x 3 folds of 50 trees as 9 tasks on two
// cores left one core idle for a whole task at the end. A trial's times are
// from its first task's start to its last's end.
func crossValidateRound(ctx context.Context, folds []foldParts, trials []Trial, state []grown, seed uint64, workers, chunk int, now func() time.Time) error {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	type task struct {
		trial, fold, first, trees int
		pred                      []float64 // the mean of its trees' predictions of the fold's held-out rows
	}
	var tasks []task
	for k, t := range trials {
		if g := &state[t.Index]; g.sums == nil {
			g.sums = make([][]float64, len(folds))
		}
		have := state[t.Index].trees
		for fold := range folds {
			for first := have; first < t.Config.NEstimators; first += chunk {
				tasks = append(tasks, task{trial: k, fold: fold, first: first, trees: min(chunk, t.Config.NEstimators-first)})
			}
		}
	}
	var (
		mu      sync.Mutex
		next    int
		firstEr error
		wg      sync.WaitGroup
	)
	for range min(workers, len(tasks)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				k := next
				next++
				stop := firstEr != nil || k >= len(tasks)
				mu.Unlock()
				if stop {
					return
				}
				tk := &tasks[k]
				t := &trials[tk.trial]
				start := now()
				pred, err := fitPart(ctx, folds[tk.fold], t.Config, seed, tk.first, tk.trees, tk.fold)
				end := now()
				mu.Lock()
				tk.pred = pred
				if err != nil && firstEr == nil {
					firstEr = err
				}
				if t.Start.IsZero() || start.Before(t.Start) {
					t.Start = start
				}
				if end.After(t.End) {
					t.End = end
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if firstEr != nil {
		return firstEr
	}
	// The sums are added in task order, so they do not depend on which
	// worker finished first.
	for _, tk := range tasks {
		addPart(&state[trials[tk.trial].Index], tk.fold, tk.pred, tk.trees)
	}
	for k := range trials {
		t := &trials[k]
		g := &state[t.Index]
		g.trees = t.Config.NEstimators
		t.CVR2, t.CVR2Std = score(folds, g)
	}
	return nil
}

// fitPart fits, on fold i, trees first to first+n-1 of c (one core), and
// returns the mean of their predictions of the held-out rows.
func fitPart(ctx context.Context, f foldParts, c Config, seed uint64, first, n, i int) ([]float64, error) {
	p, err := c.ForestParams(seed, 1)
	if err != nil {
		return nil, err
	}
	p.NEstimators, p.FirstTree = n, first
	model, err := forest.Fit(ctx, f.train.X, dataset.NumFeatures, f.train.Y, p, nil)
	if err != nil {
		return nil, fmt.Errorf("fit %s on fold %d: %w", c.Name, i+1, err)
	}
	return model.Predict(nil, f.test.X), nil
}

// addPart adds n trees' mean predictions of fold i's held-out rows to g's sums.
func addPart(g *grown, i int, pred []float64, n int) {
	if g.sums[i] == nil {
		g.sums[i] = make([]float64, len(pred))
	}
	for r, v := range pred {
		g.sums[i][r] += v * float64(n)
	}
}

// growFold fits, on fold i, the trees of c that g does not have yet, and
// adds their predictions of the held-out rows to g's sums.
func growFold(ctx context.Context, f foldParts, c Config, seed uint64, g *grown, i int) error {
	add := c.NEstimators - g.trees
	if add <= 0 {
		return nil
	}
	pred, err := fitPart(ctx, f, c, seed, g.trees, add, i)
	if err != nil {
		return err
	}
	addPart(g, i, pred, add)
	return nil
}

// score returns the mean and standard deviation over the folds of the R2
// of g's mean predictions.
func score(folds []foldParts, g *grown) (mean, std float64) {
	scores := make([]float64, len(folds))
	for i, f := range folds {
		pred := make([]float64, len(g.sums[i]))
		for r, v := range g.sums[i] {
			pred[r] = v / float64(g.trees)
		}
		scores[i] = learn.R2(f.test.Y, pred)
	}
	for _, s := range scores {
		mean += s
	}
	mean /= float64(len(scores))
	for _, s := range scores {
		std += (s - mean) * (s - mean)
	}
	return mean, math.Sqrt(std / float64(len(scores)))
}

// crossValidate scores c, a forest of c.NEstimators trees, over the folds
// one fold after the other, growing g: the search's work for one trial
// without the pool, what a test holds the search to. The R2 is that of a
// forest of all the trees, up to the rounding of summing in parts.
func crossValidate(ctx context.Context, folds []foldParts, c Config, seed uint64, g *grown) (mean, std float64, err error) {
	if g.sums == nil {
		g.sums = make([][]float64, len(folds))
	}
	for i, f := range folds {
		if err := growFold(ctx, f, c, seed, g, i); err != nil {
			return 0, 0, err
		}
	}
	g.trees = c.NEstimators
	mean, std = score(folds, g)
	return mean, std, nil
}
