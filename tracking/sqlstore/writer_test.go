package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"

	"github.com/mlops-lab/housing/tracking"
)

// TestConcurrentWritesFailAlone logs batches from many goroutines at once, so that
// the SQLite writer runs them in shared commits, and makes every third batch fail
// (it changes a logged param): a failing batch must leave nothing behind, and the
// batches committed with it must all be there.
func TestConcurrentWritesFailAlone(t *testing.T) {
	for _, tc := range []struct {
		name string
		open func(testing.TB) tracking.Store
	}{
		{"sqlite", func(t testing.TB) tracking.Store { return openSQLite(t) }},
		{"postgresql", func(t testing.TB) tracking.Store { return openPostgres(t) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.open(t)
			ctx := t.Context()
			const writers, batches = 12, 15
			runs := make([]string, writers)
			for i := range runs {
				r, err := s.CreateRun(ctx, tracking.CreateRun{ExperimentID: "0"})
				if err != nil {
					t.Fatal(err)
				}
				runs[i] = r.Info.RunID
				if err := s.LogBatch(ctx, r.Info.RunID, nil, []tracking.Param{{Key: "p", Value: "v"}}, nil); err != nil {
					t.Fatal(err)
				}
			}
			var wg sync.WaitGroup
			errs := make([][]error, writers)
			for w := range writers {
				errs[w] = make([]error, batches)
				wg.Add(1)
				go func() {
					defer wg.Done()
					for b := range batches {
						params := []tracking.Param{{Key: "p", Value: "v"}}
						if b%3 == 2 {
							params[0].Value = "changed"
						}
						metrics := []tracking.Metric{{Key: "m", Value: float64(b), Step: int64(b), Timestamp: 1}}
						tags := []tracking.Tag{{Key: fmt.Sprintf("t%d", b), Value: "x"}}
						errs[w][b] = s.LogBatch(ctx, runs[w], metrics, params, tags)
					}
				}()
			}
			wg.Wait()
			for w, run := range runs {
				var wantSteps []int64
				for b, err := range errs[w] {
					var te *tracking.Error
					switch {
					case b%3 == 2 && (!errors.As(err, &te) || te.Code != tracking.ErrInvalidParameterValue):
						t.Errorf("run %d batch %d changed a param: error %v, want INVALID_PARAMETER_VALUE", w, b, err)
					case b%3 != 2 && err != nil:
						t.Errorf("run %d batch %d: %v", w, b, err)
					case b%3 != 2:
						wantSteps = append(wantSteps, int64(b))
					}
				}
				hist, err := s.GetMetricHistory(ctx, run, "m", 0, "")
				if err != nil {
					t.Fatal(err)
				}
				var steps []int64
				for _, m := range hist.Items {
					steps = append(steps, m.Step)
				}
				if fmt.Sprint(steps) != fmt.Sprint(wantSteps) {
					t.Errorf("run %d: metric steps %v, want %v", w, steps, wantSteps)
				}
				got, err := s.GetRun(ctx, run)
				if err != nil {
					t.Fatal(err)
				}
				// mlflow.runName and the tags of the batches that succeeded.
				if want := 1 + len(wantSteps); len(got.Data.Tags) != want {
					t.Errorf("run %d: %d tags, want %d", w, len(got.Data.Tags), want)
				}
				if len(got.Data.Params) != 1 || got.Data.Params[0].Value != "v" {
					t.Errorf("run %d: params %v, want p=v", w, got.Data.Params)
				}
			}
		})
	}
}

func TestWriteAfterClose(t *testing.T) {
	s := openSQLite(t)
	r, err := s.CreateRun(t.Context(), tracking.CreateRun{ExperimentID: "0"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	err = s.LogBatch(t.Context(), r.Info.RunID, []tracking.Metric{{Key: "m", Value: 1}}, nil, nil)
	var te *tracking.Error
	if !errors.As(err, &te) || te.Code != tracking.ErrTemporarilyUnavailable {
		t.Errorf("LogBatch after Close: %v, want TEMPORARILY_UNAVAILABLE", err)
	}
}

// TestLogBatchWithoutParams covers the batches PostgreSQL logs in one statement
// (metrics and tags, no params): a deleted run refuses them and keeps nothing,
// an active run gets every value, the newest of each key as latest.
func TestLogBatchWithoutParams(t *testing.T) {
	for _, tc := range []struct {
		name string
		open func(testing.TB) tracking.Store
	}{
		{"sqlite", func(t testing.TB) tracking.Store { return openSQLite(t) }},
		{"postgresql", func(t testing.TB) tracking.Store { return openPostgres(t) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.open(t)
			ctx := t.Context()
			r, err := s.CreateRun(ctx, tracking.CreateRun{ExperimentID: "0"})
			if err != nil {
				t.Fatal(err)
			}
			id := r.Info.RunID
			metrics := []tracking.Metric{
				{Key: "loss", Value: 2, Step: 1, Timestamp: 10},
				{Key: "loss", Value: 1, Step: 2, Timestamp: 5},
				{Key: "loss", Value: 1, Step: 2, Timestamp: 5}, // exact duplicate: kept once
				{Key: "nan", Value: math.NaN(), Timestamp: 1},
				{Key: "inf", Value: math.Inf(1), Timestamp: 1},
			}
			tags := []tracking.Tag{{Key: "a", Value: "1"}, {Key: "a", Value: "2"}}
			if err := s.DeleteRun(ctx, id); err != nil {
				t.Fatal(err)
			}
			for _, b := range []struct {
				metrics []tracking.Metric
				tags    []tracking.Tag
			}{{metrics, nil}, {nil, tags}, {metrics, tags}} {
				err := s.LogBatch(ctx, id, b.metrics, nil, b.tags)
				var te *tracking.Error
				want := "The run " + id + " must be in the 'active' state. Current state is deleted."
				if !errors.As(err, &te) || te.Code != tracking.ErrInvalidParameterValue || te.Message != want {
					t.Errorf("LogBatch on a deleted run: %v, want INVALID_PARAMETER_VALUE %q", err, want)
				}
			}
			if err := s.RestoreRun(ctx, id); err != nil {
				t.Fatal(err)
			}
			got, err := s.GetRun(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Data.Metrics) != 0 || len(got.Data.Tags) != 1 {
				t.Fatalf("a deleted run kept data: %+v", got.Data)
			}
			if err := s.LogBatch(ctx, id, metrics, nil, tags); err != nil {
				t.Fatal(err)
			}
			got, err = s.GetRun(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if v, _ := got.Metric("loss"); v != 1 {
				t.Errorf("latest loss = %v, want 1 (step 2)", v)
			}
			if v, _ := got.Metric("nan"); !math.IsNaN(v) {
				t.Errorf("latest nan = %v, want NaN", v)
			}
			if v, _ := got.Metric("inf"); v != math.MaxFloat64 {
				t.Errorf("latest inf = %v, want MaxFloat64 (MLflow clamps)", v)
			}
			if v, _ := got.Tag("a"); v != "2" {
				t.Errorf("tag a = %q, want the batch's last value 2", v)
			}
			hist, err := s.GetMetricHistory(ctx, id, "loss", 0, "")
			if err != nil {
				t.Fatal(err)
			}
			if len(hist.Items) != 2 {
				t.Errorf("loss history = %+v, want 2 values", hist.Items)
			}
		})
	}
}

func TestWriteWithCancelledContext(t *testing.T) {
	s := openSQLite(t)
	r, err := s.CreateRun(t.Context(), tracking.CreateRun{ExperimentID: "0"})
	if err != nil {
		t.Fatal(err)
	}
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	if err := s.LogBatch(cancelled, r.Info.RunID, []tracking.Metric{{Key: "m", Value: 1}}, nil, nil); err == nil {
		t.Error("LogBatch with a cancelled context succeeded")
	}
	got, err := s.GetRun(t.Context(), r.Info.RunID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Data.Metrics) != 0 {
		t.Errorf("a cancelled LogBatch wrote %v", got.Data.Metrics)
	}
	// The writer goes on with the next caller.
	if err := s.LogBatch(t.Context(), r.Info.RunID, []tracking.Metric{{Key: "m", Value: 1}}, nil, nil); err != nil {
		t.Fatal(err)
	}
}
