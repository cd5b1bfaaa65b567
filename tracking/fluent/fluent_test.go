package fluent_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/artifacts"
	"github.com/mlops-lab/housing/tracking/dial"
	"github.com/mlops-lab/housing/tracking/fluent"
	"github.com/mlops-lab/housing/tracking/server"
	"github.com/mlops-lab/housing/tracking/sqlstore"
)

const gitCommit = "0123456789abcdef0123456789abcdef01234567"

// backend is a real tracking backend for a test: the SQL store directly, or
// the same behind our server over HTTP.
type backend struct {
	name string
	open func(t *testing.T) *dial.Backend
}

var backends = []backend{
	{"sqlite", func(t *testing.T) *dial.Backend {
		dir := t.TempDir()
		b, err := dial.Open(context.Background(), "sqlite:///"+filepath.Join(dir, "mlflow.db"),
			dial.Options{DefaultArtifactRoot: filepath.Join(dir, "artifacts")})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		return b
	}},
	{"http", func(t *testing.T) *dial.Backend {
		dir := t.TempDir()
		ctx := context.Background()
		store, err := sqlstore.Open(ctx, "sqlite:///"+filepath.Join(dir, "mlflow.db"), sqlstore.Options{DefaultArtifactRoot: "mlflow-artifacts:/"})
		if err != nil {
			t.Fatal(err)
		}
		repo, err := artifacts.NewLocal(filepath.Join(dir, "artifacts"))
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(server.New(store, repo, server.Options{}))
		b, err := dial.Open(ctx, srv.URL, dial.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			b.Close()
			srv.Close()
			store.Close()
		})
		return b
	}},
}

// forEachBackend runs test against every backend.
func forEachBackend(t *testing.T, test func(t *testing.T, b *dial.Backend)) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) { test(t, be.open(t)) })
	}
}

// env is an injected environment.
type env map[string]string

func (e env) get(k string) string { return e[k] }

func newClient(b *dial.Backend, e env, mod ...func(*fluent.Options)) *fluent.Client {
	if e == nil {
		e = env{}
	}
	if _, ok := e["USER"]; !ok {
		e["USER"] = "tester"
	}
	if _, ok := e[fluent.EnvGitCommit]; !ok {
		e[fluent.EnvGitCommit] = gitCommit
	}
	opts := fluent.Options{Getenv: e.get, SourceName: "/usr/local/bin/train", RegistryPoll: 10 * time.Millisecond}
	for _, m := range mod {
		m(&opts)
	}
	return fluent.New(b.Store, b, opts)
}

func getRun(t *testing.T, s tracking.Store, id string) *tracking.Run {
	t.Helper()
	r, err := s.GetRun(context.Background(), id)
	if err != nil {
		t.Fatalf("GetRun(%s): %v", id, err)
	}
	return r
}

func wantTag(t *testing.T, r *tracking.Run, key, want string) {
	t.Helper()
	if got, ok := r.Tag(key); !ok || got != want {
		t.Errorf("tag %s = %q (set %v), want %q", key, got, ok, want)
	}
}

func TestRunLogsEverything(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *dial.Backend) {
		ctx := context.Background()
		c := newClient(b, nil)
		var runID string
		err := c.Do(ctx, fluent.RunOptions{ExperimentName: "california-housing", RunName: "rf-tuned", Tags: map[string]string{"team": "mlops"}},
			func(ctx context.Context, run *fluent.Run) error {
				runID = run.ID()
				if err := run.LogParams(map[string]any{"n_estimators": 100, "max_depth": 10, "max_features": 1.0, "bootstrap": true, "lr": 0.1, "big": 1e6, "tiny": 1e-5, "huge": 1e16, "neg": float32(-2.5), "model": "forest"}); err != nil {
					return err
				}
				if err := run.LogParam("n_estimators", 100); err != nil {
					return fmt.Errorf("re-logging the same param value: %w", err)
				}
				if err := run.LogMetrics(map[string]float64{"r2": 0.77, "mse": 0.30}, 0); err != nil {
					return err
				}
				if err := run.SetTag("stage", "draft"); err != nil {
					return err
				}
				if err := run.SetTag("stage", "final"); err != nil { // the later value wins
					return err
				}
				if err := run.LogText(ctx, "notes.txt", "r2=0.77"); err != nil {
					return err
				}
				if err := run.LogDict(ctx, "extra/config.json", map[string]int{"trees": 100}); err != nil {
					return err
				}
				if err := run.LogDict(ctx, "extra/config.yaml", map[string]int{"trees": 100}); err != nil {
					return err
				}
				if err := run.LogImage(ctx, "plots/fake.png", func(w io.Writer) error { _, err := w.Write([]byte("\x89PNG")); return err }); err != nil {
					return err
				}
				local := filepath.Join(t.TempDir(), "summary.md")
				if err := os.WriteFile(local, []byte("# summary"), 0o644); err != nil {
					return err
				}
				if err := run.LogArtifact(ctx, local, "reports"); err != nil {
					return err
				}
				return run.LogInputs(ctx, tracking.DatasetInput{
					Tags:    []tracking.Tag{{Key: tracking.InputTagContext, Value: "training"}},
					Dataset: tracking.Dataset{Name: "california-housing", Digest: "abc123", SourceType: "local", Source: `{"uri": "cal_housing.data"}`},
				})
			})
		if err != nil {
			t.Fatal(err)
		}
		r := getRun(t, b.Store, runID)
		if r.Info.Status != tracking.RunFinished || r.Info.EndTime == 0 || r.Info.RunName != "rf-tuned" {
			t.Errorf("run info %+v", r.Info)
		}
		exp, err := b.Store.GetExperimentByName(ctx, "california-housing")
		if err != nil || exp.ID != r.Info.ExperimentID {
			t.Errorf("run in experiment %s, california-housing is %+v (%v)", r.Info.ExperimentID, exp, err)
		}
		if r.Info.UserID != "tester" {
			t.Errorf("user_id %q", r.Info.UserID)
		}
		wantTag(t, r, tracking.TagUser, "tester")
		wantTag(t, r, tracking.TagSourceName, "/usr/local/bin/train")
		wantTag(t, r, tracking.TagSourceType, "LOCAL")
		wantTag(t, r, tracking.TagRunName, "rf-tuned")
		wantTag(t, r, tracking.TagGitCommit, gitCommit)
		wantTag(t, r, "team", "mlops")
		wantTag(t, r, "stage", "final")
		if _, ok := r.Tag(fluent.TagError); ok {
			t.Error("a finished run has an error tag")
		}
		for k, want := range map[string]string{"n_estimators": "100", "max_features": "1.0", "bootstrap": "True", "lr": "0.1", "big": "1000000.0", "tiny": "1e-05", "huge": "1e+16", "neg": "-2.5", "model": "forest"} {
			if got, _ := r.Param(k); got != want {
				t.Errorf("param %s = %q, want %q (Python's str)", k, got, want)
			}
		}
		if v, _ := r.Metric("r2"); v != 0.77 {
			t.Errorf("r2 = %v", v)
		}
		if len(r.Inputs) != 1 || r.Inputs[0].Dataset.Name != "california-housing" {
			t.Errorf("inputs %+v", r.Inputs)
		}
		repo, err := b.Artifacts(ctx, r.Info.ArtifactURI)
		if err != nil {
			t.Fatal(err)
		}
		for p, want := range map[string]string{
			"notes.txt": "r2=0.77", "extra/config.json": "{\n  \"trees\": 100\n}", "extra/config.yaml": "trees: 100\n",
			"plots/fake.png": "\x89PNG", "reports/summary.md": "# summary",
		} {
			rc, err := repo.Get(ctx, p)
			if err != nil {
				t.Errorf("artifact %s: %v", p, err)
				continue
			}
			got, _ := io.ReadAll(rc)
			rc.Close()
			if string(got) != want {
				t.Errorf("artifact %s = %q, want %q", p, got, want)
			}
		}
	})
}

func TestParamChangeRefusedAtOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *dial.Backend) {
		ctx := context.Background()
		run, err := newClient(b, nil).StartRun(ctx, fluent.RunOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := run.LogParam("max_depth", 5); err != nil {
			t.Fatal(err)
		}
		if err := run.LogParam("max_depth", 10); tracking.ErrorCodeOf(err) != tracking.ErrInvalidParameterValue {
			t.Errorf("changing a param: %v, want INVALID_PARAMETER_VALUE", err)
		}
		if err := run.LogMetric("bad key!", 1, 0); tracking.ErrorCodeOf(err) != tracking.ErrInvalidParameterValue {
			t.Errorf("invalid metric key: %v", err)
		}
		if err := run.End(ctx, nil); err != nil {
			t.Fatal(err)
		}
		if err := run.LogMetric("late", 1, 0); err == nil {
			t.Error("logging after End succeeded")
		}
		if got, _ := getRun(t, b.Store, run.ID()).Param("max_depth"); got != "5" {
			t.Errorf("max_depth = %q, want the first value", got)
		}
		// Default experiment when neither options nor the environment name one.
		if run.ExperimentID() != tracking.DefaultExperimentID {
			t.Errorf("experiment %s, want the Default experiment", run.ExperimentID())
		}
	})
}

func TestNestedRuns(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *dial.Backend) {
		ctx := context.Background()
		c := newClient(b, env{fluent.EnvExperimentName: "sweep"})
		var parentID string
		var childIDs []string
		err := c.Do(ctx, fluent.RunOptions{RunName: "search"}, func(ctx context.Context, parent *fluent.Run) error {
			parentID = parent.ID()
			for i := range 3 {
				err := c.Do(ctx, fluent.RunOptions{RunName: fmt.Sprintf("trial-%d", i), ParentRunID: parent.ID()},
					func(ctx context.Context, child *fluent.Run) error {
						childIDs = append(childIDs, child.ID())
						return child.LogMetric("r2", 0.5+float64(i)/10, 0)
					})
				if err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		parent := getRun(t, b.Store, parentID)
		exp, err := b.Store.GetExperiment(ctx, parent.Info.ExperimentID)
		if err != nil || exp.Name != "sweep" {
			t.Fatalf("parent in %+v (%v), want experiment from MLFLOW_EXPERIMENT_NAME", exp, err)
		}
		if _, ok := parent.Tag(tracking.TagParentRunID); ok {
			t.Error("the top-level run has a parent tag")
		}
		page, err := b.Store.SearchRuns(ctx, tracking.RunQuery{
			ExperimentIDs: []string{exp.ID},
			Filter:        fmt.Sprintf("tags.`mlflow.parentRunId` = '%s'", parentID),
		})
		if err != nil {
			t.Fatal(err)
		}
		var found []string
		for _, r := range page.Items {
			found = append(found, r.Info.RunID)
			if r.Info.Status != tracking.RunFinished {
				t.Errorf("child %s is %s", r.Info.RunName, r.Info.Status)
			}
		}
		slices.Sort(found)
		slices.Sort(childIDs)
		if !slices.Equal(found, childIDs) || len(found) != 3 {
			t.Errorf("children by parent tag %v, started %v", found, childIDs)
		}
	})
}

// TestRunLoggedAfterTheFact gives a run the start and end times of the work
// it describes (RunOptions.StartTime, EndTime), as a search's trials are
// logged once scored, and a run without them the times it ran.
func TestRunLoggedAfterTheFact(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *dial.Backend) {
		ctx := context.Background()
		now := time.UnixMilli(1_700_000_100_000)
		c := newClient(b, env{fluent.EnvExperimentName: "sweep"}, func(o *fluent.Options) { o.Now = func() time.Time { return now } })
		start, end := time.UnixMilli(1_700_000_000_123), time.UnixMilli(1_700_000_042_456)
		var after, plain string
		if err := c.Do(ctx, fluent.RunOptions{RunName: "trial", StartTime: start, EndTime: end}, func(ctx context.Context, r *fluent.Run) error {
			after = r.ID()
			return r.LogMetric("cv_r2", 0.8, 0)
		}); err != nil {
			t.Fatal(err)
		}
		if err := c.Do(ctx, fluent.RunOptions{RunName: "plain"}, func(ctx context.Context, r *fluent.Run) error {
			plain = r.ID()
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if got := getRun(t, b.Store, after).Info; got.StartTime != start.UnixMilli() || got.EndTime != end.UnixMilli() {
			t.Errorf("run logged after the fact: start %d, end %d; want %d, %d", got.StartTime, got.EndTime, start.UnixMilli(), end.UnixMilli())
		}
		if got := getRun(t, b.Store, plain).Info; got.StartTime != now.UnixMilli() || got.EndTime != now.UnixMilli() {
			t.Errorf("plain run: start %d, end %d; want the clock's %d", got.StartTime, got.EndTime, now.UnixMilli())
		}
	})
}

func TestFailedKilledAndPanicking(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *dial.Backend) {
		ctx := context.Background()
		c := newClient(b, nil)

		t.Run("error", func(t *testing.T) {
			var id string
			boom := errors.New("fit diverged: loss is NaN")
			err := c.Do(ctx, fluent.RunOptions{RunName: "failing"}, func(ctx context.Context, run *fluent.Run) error {
				id = run.ID()
				if err := run.LogMetric("loss", 1.5, 0); err != nil {
					return err
				}
				return boom
			})
			if !errors.Is(err, boom) {
				t.Fatalf("Do returned %v, want the function's error", err)
			}
			r := getRun(t, b.Store, id)
			if r.Info.Status != tracking.RunFailed {
				t.Errorf("status %s, want FAILED", r.Info.Status)
			}
			wantTag(t, r, fluent.TagError, boom.Error())
			if v, ok := r.Metric("loss"); !ok || v != 1.5 {
				t.Errorf("metric logged before the failure lost: %v %v", v, ok)
			}
		})

		t.Run("panic", func(t *testing.T) {
			var id string
			func() {
				defer func() {
					if p := recover(); p != "model exploded" {
						t.Errorf("recovered %v, want the original panic", p)
					}
				}()
				_ = c.Do(ctx, fluent.RunOptions{RunName: "panicking"}, func(ctx context.Context, run *fluent.Run) error {
					id = run.ID()
					panic("model exploded")
				})
				t.Error("Do returned after a panic")
			}()
			r := getRun(t, b.Store, id)
			if r.Info.Status != tracking.RunFailed {
				t.Errorf("status %s, want FAILED", r.Info.Status)
			}
			wantTag(t, r, fluent.TagError, "panic: model exploded")
		})

		t.Run("cancelled", func(t *testing.T) {
			var id string
			cctx, cancel := context.WithCancel(ctx)
			err := c.Do(cctx, fluent.RunOptions{RunName: "killed"}, func(ctx context.Context, run *fluent.Run) error {
				id = run.ID()
				if err := run.LogMetric("progress", 0.3, 0); err != nil {
					return err
				}
				cancel() // as SIGTERM does through signal.NotifyContext
				<-ctx.Done()
				return ctx.Err()
			})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("Do returned %v", err)
			}
			r := getRun(t, b.Store, id)
			if r.Info.Status != tracking.RunKilled {
				t.Errorf("status %s, want KILLED", r.Info.Status)
			}
			if _, ok := r.Metric("progress"); !ok {
				t.Error("metric logged before the cancellation lost")
			}
		})
	})
}

// metricHistory returns every value of key, following page tokens.
func metricHistory(t *testing.T, s tracking.Store, runID, key string) []tracking.Metric {
	t.Helper()
	var all []tracking.Metric
	token := ""
	for {
		page, err := s.GetMetricHistory(context.Background(), runID, key, 0, token)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page.Items...)
		if page.NextPageToken == "" {
			return all
		}
		token = page.NextPageToken
	}
}

func TestBufferedMetricsAllArrive(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *dial.Backend) {
		ctx := context.Background()
		now := time.UnixMilli(1_795_953_071_000)
		var mu sync.Mutex
		clock := func() time.Time { // a clock that ticks 1 ms per reading
			mu.Lock()
			defer mu.Unlock()
			now = now.Add(time.Millisecond)
			return now
		}
		c := newClient(b, nil, func(o *fluent.Options) { o.FlushInterval = -1; o.Now = clock })
		run, err := c.StartRun(ctx, fluent.RunOptions{RunName: "many"})
		if err != nil {
			t.Fatal(err)
		}
		const n = 5000
		for i := range n {
			if err := run.LogMetric("train_loss", 1/float64(i+1), int64(i)); err != nil {
				t.Fatal(err)
			}
		}
		params := map[string]any{}
		for i := range 250 {
			params[fmt.Sprintf("p%03d", i)] = i
		}
		if err := run.LogParams(params); err != nil {
			t.Fatal(err)
		}
		for i := range 150 {
			if err := run.SetTag(fmt.Sprintf("t%03d", i), strings.Repeat("x", 5000)); err != nil {
				t.Fatal(err)
			}
		}
		if err := run.End(ctx, nil); err != nil {
			t.Fatal(err)
		}
		hist := metricHistory(t, b.Store, run.ID(), "train_loss")
		if len(hist) != n {
			t.Fatalf("metric history has %d values, logged %d", len(hist), n)
		}
		for i, m := range hist {
			if m.Step != int64(i) || m.Value != 1/float64(i+1) {
				t.Fatalf("history[%d] = %+v", i, m)
			}
		}
		r := getRun(t, b.Store, run.ID())
		if len(r.Data.Params) != 250 {
			t.Errorf("%d params arrived, logged 250", len(r.Data.Params))
		}
		if v, _ := r.Tag("t149"); len(v) != 5000 {
			t.Errorf("last tag has %d characters", len(v))
		}
	})
}

func TestTimerFlushes(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *dial.Backend) {
		ctx := context.Background()
		c := newClient(b, nil, func(o *fluent.Options) { o.FlushInterval = 20 * time.Millisecond })
		run, err := c.StartRun(ctx, fluent.RunOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer run.End(ctx, nil)
		if err := run.LogMetric("heartbeat", 1, 0); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			if _, ok := getRun(t, b.Store, run.ID()).Metric("heartbeat"); ok {
				return
			}
			if time.Now().After(deadline) {
				t.Fatal("the timer did not send the buffered metric before End")
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

func TestBackgroundErrorsReportedOnEnd(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *dial.Backend) {
		ctx := context.Background()
		c := newClient(b, nil, func(o *fluent.Options) { o.FlushInterval = -1 })
		run, err := c.StartRun(ctx, fluent.RunOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := run.LogMetric("m", 1, 0); err != nil {
			t.Fatal(err)
		}
		// Deleting the run makes the store refuse the buffered batch.
		if err := b.Store.DeleteRun(ctx, run.ID()); err != nil {
			t.Fatal(err)
		}
		if err := run.End(ctx, nil); err == nil {
			t.Error("End of a run whose buffered metrics were refused reported no error")
		}
	})
}

func TestResumeFromEnv(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *dial.Backend) {
		ctx := context.Background()
		var first string
		if err := newClient(b, nil).Do(ctx, fluent.RunOptions{RunName: "kfp-step"}, func(ctx context.Context, run *fluent.Run) error {
			first = run.ID()
			return run.LogParam("stage", "ingest")
		}); err != nil {
			t.Fatal(err)
		}
		c := newClient(b, env{fluent.EnvRunID: first})
		run, err := c.StartRun(ctx, fluent.RunOptions{Tags: map[string]string{"step": "train"}})
		if err != nil {
			t.Fatal(err)
		}
		if run.ID() != first {
			t.Fatalf("started %s, want the run in MLFLOW_RUN_ID %s", run.ID(), first)
		}
		if st := getRun(t, b.Store, first).Info.Status; st != tracking.RunRunning {
			t.Errorf("resumed run is %s, want RUNNING", st)
		}
		if err := run.LogParam("stage", "ingest"); err != nil {
			t.Errorf("re-logging a param the run already has: %v", err)
		}
		if err := run.LogParam("stage", "train"); tracking.ErrorCodeOf(err) != tracking.ErrInvalidParameterValue {
			t.Errorf("changing a param of the resumed run: %v", err)
		}
		if err := run.LogMetric("r2", 0.8, 0); err != nil {
			t.Fatal(err)
		}
		if err := run.End(ctx, nil); err != nil {
			t.Fatal(err)
		}
		r := getRun(t, b.Store, first)
		if r.Info.Status != tracking.RunFinished || r.Info.RunName != "kfp-step" {
			t.Errorf("resumed run %+v", r.Info)
		}
		wantTag(t, r, "step", "train")
		if _, ok := r.Metric("r2"); !ok {
			t.Error("metric of the resumed run lost")
		}
		// MLflow consumes MLFLOW_RUN_ID: the next run is a new one.
		next, err := c.StartRun(ctx, fluent.RunOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer next.End(ctx, nil)
		if next.ID() == first {
			t.Error("second StartRun resumed MLFLOW_RUN_ID again")
		}

		if err := b.Store.DeleteRun(ctx, first); err != nil {
			t.Fatal(err)
		}
		if _, err := newClient(b, env{fluent.EnvRunID: first}).StartRun(ctx, fluent.RunOptions{}); err == nil {
			t.Error("resumed a deleted run")
		}
	})
}

func TestGetOrCreateExperimentConcurrently(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *dial.Backend) {
		ctx := context.Background()
		c := newClient(b, nil)
		ids := make([]string, 4)
		errs := make([]error, 4)
		var wg sync.WaitGroup
		for i := range ids {
			wg.Go(func() {
				exp, err := c.GetOrCreateExperiment(ctx, "race")
				if err == nil {
					ids[i] = exp.ID
				}
				errs[i] = err
			})
		}
		wg.Wait()
		for i := range ids {
			if errs[i] != nil || ids[i] != ids[0] {
				t.Fatalf("GetOrCreateExperiment results %v, errors %v", ids, errs)
			}
		}
		if err := b.Store.DeleteExperiment(ctx, ids[0]); err != nil {
			t.Fatal(err)
		}
		if _, err := c.GetOrCreateExperiment(ctx, "race"); tracking.ErrorCodeOf(err) != tracking.ErrInvalidState {
			t.Errorf("deleted experiment: %v, want INVALID_STATE", err)
		}
		// MLFLOW_EXPERIMENT_ID picks an existing experiment.
		id, err := b.Store.CreateExperiment(ctx, "by-id", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		run, err := newClient(b, env{fluent.EnvExperimentID: id}).StartRun(ctx, fluent.RunOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer run.End(ctx, nil)
		if run.ExperimentID() != id {
			t.Errorf("run in experiment %s, want %s from MLFLOW_EXPERIMENT_ID", run.ExperimentID(), id)
		}
	})
}

func TestHistoryTag(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *dial.Backend) {
		ctx := context.Background()
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "MLmodel"), []byte("flavors: {}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		var id string
		err := newClient(b, nil).Do(ctx, fluent.RunOptions{}, func(ctx context.Context, run *fluent.Run) error {
			id = run.ID()
			for _, p := range []string{"model", "model-2"} {
				if err := run.LogModel(ctx, dir, p, map[string]any{"artifact_path": p, "run_id": run.ID()}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		v, _ := getRun(t, b.Store, id).Tag(tracking.TagLogModelHist)
		var hist []map[string]any
		if err := json.Unmarshal([]byte(v), &hist); err != nil || len(hist) != 2 || hist[1]["artifact_path"] != "model-2" {
			t.Errorf("history tag %s (%v)", v, err)
		}
	})
}

// TestKubeflowRun: Kubeflow Pipelines 2.17 creates the task's run in an
// experiment of its choosing and hands it over in MLFLOW_RUN_ID and
// MLFLOW_EXPERIMENT_ID; a step that asks for its own experiment by name logs
// into that run all the same, and creates no other.
func TestKubeflowRun(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *dial.Backend) {
		ctx := context.Background()
		kfp := newClient(b, nil)
		exp, err := kfp.GetOrCreateExperiment(ctx, "kfp-pipeline")
		if err != nil {
			t.Fatal(err)
		}
		created, err := b.Store.CreateRun(ctx, tracking.CreateRun{ExperimentID: exp.ID, RunName: "train-task", StartTime: 1})
		if err != nil {
			t.Fatal(err)
		}
		c := newClient(b, env{fluent.EnvRunID: created.Info.RunID, fluent.EnvExperimentID: exp.ID})
		err = c.Do(ctx, fluent.RunOptions{ExperimentName: "california-housing", RunName: "rf-tuned"}, func(ctx context.Context, run *fluent.Run) error {
			if run.ID() != created.Info.RunID {
				t.Errorf("step logs into %s, want Kubeflow's run %s", run.ID(), created.Info.RunID)
			}
			return run.LogMetric("r2", 0.8, 0)
		})
		if err != nil {
			t.Fatal(err)
		}
		r := getRun(t, b.Store, created.Info.RunID)
		if _, ok := r.Metric("r2"); !ok || r.Info.Status != tracking.RunFinished {
			t.Errorf("Kubeflow's run after the step: %+v, %v", r.Info, r.Data.Metrics)
		}
		if _, err := b.Store.GetExperimentByName(ctx, "california-housing"); !tracking.IsNotFound(err) {
			t.Errorf("the step made experiment california-housing (%v); want its run only in Kubeflow's", err)
		}
	})
}
