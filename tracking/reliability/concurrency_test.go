package reliability_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/client"
	"github.com/mlops-lab/housing/tracking/server"
)

// newClient is the real REST client with short retry waits, so that tests that
// make the server fail do not wait MLflow's minutes.
func newClient(t *testing.T, base string, opt client.Options) *client.Client {
	t.Helper()
	if opt.BackoffBase == 0 {
		opt.BackoffBase, opt.BackoffMax = 50*time.Millisecond, 500*time.Millisecond
	}
	if opt.Timeout == 0 {
		opt.Timeout = 20 * time.Second
	}
	c, err := client.New(base, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Load of TestConcurrentLoggingLosesNothing.
const (
	loggers       = 16
	metricsPerRun = 1000
	batchSize     = 100
)

// metricAt is the value logged for key k at step s by every logging test, so
// that a reader can tell a missing, duplicated or corrupted value.
func metricAt(run, k, s int) float64 { return float64(run*1_000_000+k*10_000+s) + 0.25 }

// logRun logs metricsPerRun metrics to run in batches: keys m0..m4, 200 steps each.
func logRun(ctx context.Context, c *client.Client, runID string, run int) error {
	var batch []tracking.Metric
	for i := range metricsPerRun {
		k, s := i%5, i/5
		batch = append(batch, tracking.Metric{Key: "m" + strconv.Itoa(k), Value: metricAt(run, k, s), Timestamp: int64(1_700_000_000_000 + s), Step: int64(s)})
		if len(batch) == batchSize {
			if err := c.LogBatch(ctx, runID, batch, nil, nil); err != nil {
				return fmt.Errorf("run %d batch ending at %d: %w", run, i, err)
			}
			batch = batch[:0]
		}
	}
	return nil
}

// checkRun reads every metric of run back and reports what is missing,
// duplicated or wrong.
func checkRun(ctx context.Context, t *testing.T, c *client.Client, runID string, run int) {
	t.Helper()
	for k := range 5 {
		key := "m" + strconv.Itoa(k)
		page, err := c.GetMetricHistory(ctx, runID, key, 0, "")
		if err != nil {
			t.Errorf("run %d history of %s: %v", run, key, err)
			continue
		}
		seen := map[int64]int{}
		for _, m := range page.Items {
			seen[m.Step]++
			if m.Value != metricAt(run, k, int(m.Step)) {
				t.Errorf("run %d %s step %d = %v, logged %v", run, key, m.Step, m.Value, metricAt(run, k, int(m.Step)))
			}
		}
		if len(page.Items) != metricsPerRun/5 || len(seen) != metricsPerRun/5 {
			t.Errorf("run %d %s: %d values over %d steps, logged %d distinct", run, key, len(page.Items), len(seen), metricsPerRun/5)
		}
	}
}

func TestConcurrentLoggingLosesNothing(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			dir := t.TempDir()
			srv := storeServer(t, b.uri(t, dir), dir, server.Options{})
			ctx := context.Background()
			setup := newClient(t, srv.URL, client.Options{})
			exp, err := setup.CreateExperiment(ctx, "load", "", nil)
			if err != nil {
				t.Fatal(err)
			}
			ids := make([]string, loggers)
			errs := make(chan error, loggers)
			start := time.Now()
			var wg sync.WaitGroup
			for i := range loggers {
				wg.Go(func() {
					c := newClient(t, srv.URL, client.Options{})
					run, err := c.CreateRun(ctx, tracking.CreateRun{ExperimentID: exp, RunName: fmt.Sprintf("logger-%d", i)})
					if err != nil {
						errs <- err
						return
					}
					ids[i] = run.Info.RunID
					errs <- logRun(ctx, c, run.Info.RunID, i)
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			t.Logf("%s: %d clients logged %d metrics each in batches of %d in %v", b.name, loggers, metricsPerRun, batchSize, time.Since(start).Round(time.Millisecond))
			for i, id := range ids {
				checkRun(ctx, t, setup, id, i)
			}
		})
	}
}

// TestConcurrentRegistrations: registrations of one model at the same time get
// distinct, gapless version numbers, and creating one registered model twice at
// once makes it once and tells the loser it exists.
func TestConcurrentRegistrations(t *testing.T) {
	const racers = 8
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			dir := t.TempDir()
			srv := storeServer(t, b.uri(t, dir), dir, server.Options{})
			ctx := context.Background()
			c := newClient(t, srv.URL, client.Options{})
			run, err := c.CreateRun(ctx, tracking.CreateRun{ExperimentID: "0"})
			if err != nil {
				t.Fatal(err)
			}

			created := make(chan error, racers)
			var wg sync.WaitGroup
			for range racers {
				wg.Go(func() {
					_, err := c.CreateRegisteredModel(ctx, "raced", "", nil)
					created <- err
				})
			}
			wg.Wait()
			close(created)
			ok := 0
			for err := range created {
				switch {
				case err == nil:
					ok++
				case !tracking.IsAlreadyExists(err):
					t.Errorf("concurrent create: %v, want RESOURCE_ALREADY_EXISTS", err)
				}
			}
			if ok != 1 {
				t.Errorf("%d of %d concurrent creations of one model succeeded, want 1", ok, racers)
			}

			versions := make(chan string, racers)
			for range racers {
				wg.Go(func() {
					mv, err := c.CreateModelVersion(ctx, tracking.CreateModelVersion{
						Name: "raced", Source: run.Info.ArtifactURI + "/model", RunID: run.Info.RunID})
					if err != nil {
						t.Errorf("concurrent registration: %v", err)
						return
					}
					versions <- mv.Version
				})
			}
			wg.Wait()
			close(versions)
			var got []int
			for v := range versions {
				n, _ := strconv.Atoi(v)
				got = append(got, n)
			}
			sort.Ints(got)
			for i, n := range got {
				if n != i+1 {
					t.Fatalf("versions %v, want 1..%d each once", got, racers)
				}
			}
		})
	}
}

// TestConcurrentPromotions: versions promoted to Production at the same time,
// each archiving the others, leave exactly one Production version.
func TestConcurrentPromotions(t *testing.T) {
	const versions, rounds = 6, 3
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			dir := t.TempDir()
			srv := storeServer(t, b.uri(t, dir), dir, server.Options{})
			ctx := context.Background()
			c := newClient(t, srv.URL, client.Options{})
			run, err := c.CreateRun(ctx, tracking.CreateRun{ExperimentID: "0"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.CreateRegisteredModel(ctx, "promoted", "", nil); err != nil {
				t.Fatal(err)
			}
			for range versions {
				if _, err := c.CreateModelVersion(ctx, tracking.CreateModelVersion{
					Name: "promoted", Source: run.Info.ArtifactURI + "/model", RunID: run.Info.RunID}); err != nil {
					t.Fatal(err)
				}
			}
			for round := range rounds {
				var wg sync.WaitGroup
				for v := 1; v <= versions; v++ {
					wg.Go(func() {
						_, err := c.TransitionModelVersionStage(ctx, "promoted", strconv.Itoa(v), tracking.StageProduction, true)
						var te *tracking.Error
						if err != nil && (!errors.As(err, &te) || te.Code == tracking.ErrInternal) {
							t.Errorf("round %d: promote %d: %v", round, v, err)
						}
					})
				}
				wg.Wait()
				prod, err := c.GetLatestVersions(ctx, "promoted", []tracking.Stage{tracking.StageProduction})
				if err != nil {
					t.Fatal(err)
				}
				page, err := c.SearchModelVersions(ctx, tracking.ModelQuery{Filter: "name = 'promoted'"})
				if err != nil {
					t.Fatal(err)
				}
				n := 0
				for _, mv := range page.Items {
					if mv.CurrentStage == tracking.StageProduction {
						n++
					}
				}
				if n != 1 || len(prod) != 1 {
					t.Fatalf("round %d: %d versions in Production (latest: %d), want exactly 1", round, n, len(prod))
				}
			}
		})
	}
}
