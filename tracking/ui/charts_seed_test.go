package ui_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/sqlstore"
	"github.com/mlops-lab/housing/tracking/ui"
)

// trialSpace is the search of the lab's rf-optimized (steps/train): random
// forests drawn over these values, scored by cross-validation.
var (
	trialTrees    = []int{150, 200, 250, 300}
	trialDepths   = []string{"20", "30", "None"}
	trialFeatures = []string{"1.0", "0.5", "0.33", "sqrt"}
)

// trial is one seeded search trial.
type trial struct {
	round, candidate int
	trees            int
	depth, features  string
	cvR2             float64
}

// labTrials are 12 trials of a successive-halving search, like the lab's:
// 8 candidates in round 1, the best 3 again in round 2, the best 1 in round 3.
func labTrials() []trial {
	var out []trial
	for c := range 8 {
		out = append(out, trial{round: 1, candidate: c + 1, trees: trialTrees[c%4], depth: trialDepths[c%3], features: trialFeatures[(c*3)%4]})
	}
	for _, c := range []int{1, 4, 6} {
		t := out[c]
		t.round = 2
		out = append(out, t)
	}
	t := out[4]
	t.round = 3
	out = append(out, t)
	for i := range out {
		out[i].cvR2 = trialScore(out[i])
	}
	return out
}

// trialScore is a smooth made-up score: more trees and deeper trees are
// better, fewer features per split better up to a point, later rounds (more
// data) a little better.
func trialScore(t trial) float64 {
	depth := 40.0
	if d, err := strconv.Atoi(t.depth); err == nil {
		depth = float64(d)
	}
	feat := map[string]float64{"1.0": 1, "0.5": 0.5, "0.33": 0.33, "sqrt": 0.35}[t.features]
	return 0.70 + 0.06*(1-math.Exp(-float64(t.trees)/150)) + 0.002*depth - 0.08*(feat-0.4)*(feat-0.4) + 0.004*float64(t.round)
}

// seedSearch adds a search like the lab's to the lab's store: a run
// rf-search with 12 trial runs nested under it, named
// rf-optimized-trial-N-rR, with the lab's trial params (search_round,
// candidate, cv_folds and the forest's params) and metrics cv_r2 and
// cv_r2_std at step = round, each trial timed by its cross-validation. The
// search has its own parent so that its trials are these 12 whatever else
// the lab's seed nests. It returns the parent and the trials' run ids.
func seedSearch(t testing.TB, l *lab) (parentID string, ids []string) {
	t.Helper()
	ctx := context.Background()
	parent, err := l.store.CreateRun(ctx, tracking.CreateRun{ExperimentID: l.expID, RunName: "rf-search", UserID: "lab", StartTime: t0.Add(time.Hour).UnixMilli()})
	if err != nil {
		t.Fatalf("create search run: %v", err)
	}
	for i, tr := range labTrials() {
		start := time.UnixMilli(parent.Info.StartTime).Add(time.Duration(i) * 20 * time.Second)
		run, err := l.store.CreateRun(ctx, tracking.CreateRun{
			ExperimentID: l.expID, RunName: fmt.Sprintf("rf-optimized-trial-%d-r%d", tr.candidate, tr.round), UserID: "lab",
			StartTime: start.UnixMilli(),
			Tags:      []tracking.Tag{{Key: tracking.TagParentRunID, Value: parent.Info.RunID}, {Key: "housing.search.survived", Value: strconv.FormatBool(tr.round < 3)}},
		})
		if err != nil {
			t.Fatalf("create trial %d: %v", i, err)
		}
		params := map[string]string{
			"search_round": strconv.Itoa(tr.round), "candidate": strconv.Itoa(tr.candidate), "cv_folds": "3",
			"model_kind": "random-forest", "config": fmt.Sprintf("rf-optimized-trial-%d", tr.candidate),
			"n_estimators": strconv.Itoa(tr.trees), "max_depth": tr.depth, "max_features": tr.features,
			"min_samples_leaf": "1", "min_samples_split": "2", "bootstrap": "true",
		}
		var ps []tracking.Param
		for k, v := range params {
			ps = append(ps, tracking.Param{Key: k, Value: v})
		}
		ts := start.Add(15 * time.Second).UnixMilli()
		ms := []tracking.Metric{
			{Key: "cv_r2", Value: tr.cvR2, Step: int64(tr.round), Timestamp: ts},
			{Key: "cv_r2_std", Value: 0.004 + 0.001*float64(tr.candidate%3), Step: int64(tr.round), Timestamp: ts},
		}
		if err := l.store.LogBatch(ctx, run.Info.RunID, ms, ps, nil); err != nil {
			t.Fatalf("log trial %d: %v", i, err)
		}
		status, end := tracking.RunFinished, ts
		if _, err := l.store.UpdateRun(ctx, run.Info.RunID, tracking.UpdateRun{Status: &status, EndTime: &end}); err != nil {
			t.Fatalf("end trial %d: %v", i, err)
		}
		ids = append(ids, run.Info.RunID)
	}
	return parent.Info.RunID, ids
}

// bigSearch is a UI over a store holding one experiment of n runs with two
// numeric params, one categorical, and a history of 20 steps of two metrics
// (plus a one-point metric), drawn from a fixed seed.
type bigSearch struct {
	store   *sqlstore.Store
	handler http.Handler
	expID   string
}

func newBigSearch(t testing.TB, n int) *bigSearch {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	store, err := sqlstore.Open(ctx, "sqlite:///"+filepath.Join(dir, "mlflow.db"), sqlstore.Options{
		DefaultArtifactRoot: filepath.Join(dir, "mlruns"), Now: func() time.Time { return t0 }, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { store.Close() })
	expID, err := store.CreateExperiment(ctx, "big-search", "", nil)
	if err != nil {
		t.Fatalf("create experiment: %v", err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	kinds := []string{"gbt", "forest", "linear"}
	for i := range n {
		start := t0.Add(time.Duration(i) * time.Minute)
		run, err := store.CreateRun(ctx, tracking.CreateRun{ExperimentID: expID, RunName: fmt.Sprintf("sweep-%03d", i), StartTime: start.UnixMilli()})
		if err != nil {
			t.Fatalf("create run %d: %v", i, err)
		}
		lr, depth := 0.01+0.3*rng.Float64(), 2+rng.IntN(10)
		kind := kinds[i%3]
		final := 0.9 - 0.5*(lr-0.15)*(lr-0.15) - 0.002*float64((depth-7)*(depth-7)) + 0.01*rng.NormFloat64()
		var ms []tracking.Metric
		for s := range 20 {
			f := 1 - math.Exp(-float64(s+1)/5)
			ms = append(ms,
				tracking.Metric{Key: "val_r2", Value: final * f, Step: int64(s), Timestamp: start.UnixMilli() + int64(s)*250},
				tracking.Metric{Key: "train_loss", Value: 1.2 * (1 - f*0.9), Step: int64(s), Timestamp: start.UnixMilli() + int64(s)*250})
		}
		ms = append(ms, tracking.Metric{Key: "fit_seconds", Value: 1 + 10*lr*float64(depth), Timestamp: start.UnixMilli() + 5000})
		ps := []tracking.Param{
			{Key: "learning_rate", Value: strconv.FormatFloat(lr, 'f', 4, 64)},
			{Key: "max_depth", Value: strconv.Itoa(depth)},
			{Key: "kind", Value: kind},
		}
		if err := store.LogBatch(ctx, run.Info.RunID, ms, ps, nil); err != nil {
			t.Fatalf("log run %d: %v", i, err)
		}
		status, end := tracking.RunFinished, start.Add(6*time.Second).UnixMilli()
		if _, err := store.UpdateRun(ctx, run.Info.RunID, tracking.UpdateRun{Status: &status, EndTime: &end}); err != nil {
			t.Fatalf("end run %d: %v", i, err)
		}
	}
	return &bigSearch{store: store, expID: expID, handler: ui.New(store, nil, ui.Options{})}
}

// getFrom serves a GET of target by h and returns the response and its body.
func getFrom(t testing.TB, h http.Handler, target string) (*http.Response, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
	res := rec.Result()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}
