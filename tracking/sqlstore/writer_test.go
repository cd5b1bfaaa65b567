package sqlstore_test

import (
	"errors"
	"fmt"
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
