package main

import (
	"context"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/mlops-lab/housing/dataset"
)

// TestSearchGrowsSurvivorsAndTimesTrials runs a small search on synthetic
// rows, two workers, with a clock that ticks a second a call: each trial's
// times bound its own cross-validation, after the round before, and a
// survivor's later-round score, from trees added to the sums kept of the
// round before, is the score of a forest of all its trees fitted afresh.
func TestSearchGrowsSurvivorsAndTimesTrials(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	d := &dataset.Dataset{}
	for range 600 {
		row := make([]float64, dataset.NumFeatures)
		for j := range row {
			row[j] = rng.Float64()
		}
		d.X = append(d.X, row...)
		d.Y = append(d.Y, 3*row[0]+math.Sin(4*row[1])+0.1*rng.NormFloat64())
	}
	base := Config{Name: "s", Kind: KindRandomForest, Search: &Search{
		Candidates: 4, Folds: 3, MinTrees: 3, NEstimators: []int{9}, MaxDepth: []int{0, 6},
		MaxFeatures: []string{"1.0", "0.5"}, MinSamplesLeaf: []int{1, 3}, MinSamplesSplit: []int{2},
	}}
	clock := time.Unix(0, 0)
	var mu sync.Mutex // the search's workers read the clock at once
	now := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		clock = clock.Add(time.Second)
		return clock
	}
	var trials []Trial
	_, err := searchForest(context.Background(), d, base, 7, 2, now, func(_ context.Context, tr Trial) error {
		trials = append(trials, tr)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	folds, err := dataset.KFold(d.Rows(), 3, 7)
	if err != nil {
		t.Fatal(err)
	}
	parts := make([]foldParts, len(folds))
	for i, f := range folds {
		parts[i] = foldParts{train: d.Subset(f.Train), test: d.Subset(f.Test)}
	}
	// A round's trials run at once; the next round starts after the last
	// of them ended. The clock is shared, so ticks only order events.
	var roundEnd, prevEnd time.Time
	round, later := 1, 0
	for _, tr := range trials {
		if tr.Round != round {
			round, prevEnd = tr.Round, roundEnd
		}
		if !tr.End.After(tr.Start) || !tr.Start.After(prevEnd) {
			t.Errorf("%s round %d: start %v, end %v; the round before ended at %v", tr.Config.Name, tr.Round, tr.Start.Unix(), tr.End.Unix(), prevEnd.Unix())
		}
		if tr.End.After(roundEnd) {
			roundEnd = tr.End
		}
		if tr.Round == 1 {
			continue
		}
		later++
		mean, _, err := crossValidate(context.Background(), parts, tr.Config, 7, &grown{})
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(mean-tr.CVR2) > 1e-12 {
			t.Errorf("%s with %d trees: grown CV R2 %.15f, afresh %.15f", tr.Config.Name, tr.Config.NEstimators, tr.CVR2, mean)
		}
	}
	if later == 0 {
		t.Fatalf("no trial after round 1 in %d trials", len(trials))
	}
}
