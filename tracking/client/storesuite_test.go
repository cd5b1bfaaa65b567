package client_test

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"testing"

	"github.com/mlops-lab/housing/internal/testenv"
	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/artifacts"
	"github.com/mlops-lab/housing/tracking/client"
	"github.com/mlops-lab/housing/tracking/server"
	"github.com/mlops-lab/housing/tracking/sqlstore"
	"github.com/mlops-lab/housing/tracking/storetest"
)

// TestStoreSuiteOverHTTP runs the Store suite that the SQL store passes against
// the REST client, talking real HTTP to our server on SQLite and on PostgreSQL:
// the client is a tracking.Store with the same semantics.
func TestStoreSuiteOverHTTP(t *testing.T) {
	t.Run("SQLite", func(t *testing.T) {
		storetest.RunStoreSuite(t, overHTTP(func(t *testing.T) string {
			return "sqlite:///" + filepath.Join(t.TempDir(), "mlflow.db")
		}), storetest.Options{})
	})
	t.Run("PostgreSQL", func(t *testing.T) {
		storetest.RunStoreSuite(t, overHTTP(func(t *testing.T) string { return testenv.PostgresURI(t) }), storetest.Options{})
	})
}

// TestStoreSuiteAgainstRealMLflow runs the same suite against the real MLflow
// 2.17.2 server (on SQLite, serving artifacts), through our client: the real
// server is the reference, and storetest.RealMLflow2 lists where we
// deliberately differ from it. One server serves every subtest (starting one
// costs seconds); the suite keeps the subtests apart.
func TestStoreSuiteAgainstRealMLflow(t *testing.T) {
	m := testenv.MLflow(t, testenv.MLflow2)
	c, err := client.New(m.URL, client.Options{MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close()
		if t.Failed() {
			t.Logf("real MLflow %s server log:\n%s", m.Version, m.Tail())
		}
	})
	storetest.RunStoreSuite(t, func(*testing.T) tracking.Store { return c }, storetest.RealMLflow2)
}

// TestStoreSuiteSharedBackend runs the suite on our server with one backend
// shared by every subtest, as the real MLflow case runs it, so that a subtest
// that does not keep to its own names fails here too, and not only there.
func TestStoreSuiteSharedBackend(t *testing.T) {
	c := overHTTP(func(t *testing.T) string {
		return "sqlite:///" + filepath.Join(t.TempDir(), "mlflow.db")
	})(t)
	storetest.RunStoreSuite(t, func(*testing.T) tracking.Store { return c }, storetest.Options{})
}

// overHTTP opens a client against our server on a fresh database from backend.
func overHTTP(backend func(t *testing.T) string) func(t *testing.T) tracking.Store {
	return func(t *testing.T) tracking.Store {
		dir := t.TempDir()
		db, err := sqlstore.Open(context.Background(), backend(t), sqlstore.Options{DefaultArtifactRoot: "mlflow-artifacts:/"})
		if err != nil {
			t.Fatal(err)
		}
		repo, err := artifacts.NewLocal(filepath.Join(dir, "artifacts"))
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(server.New(db, repo, server.Options{}))
		c, err := client.New(srv.URL, client.Options{MaxRetries: -1})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			c.Close()
			srv.Close()
			db.Close()
		})
		return c
	}
}

// TestMetricHistoryAgainstRealMLflow3: the whole history of a metric comes back
// from the real MLflow 3.11.1 server too, which pages get-history and takes an
// absent max_results as 0 (an empty page).
func TestMetricHistoryAgainstRealMLflow3(t *testing.T) {
	m := testenv.MLflow(t, testenv.MLflow3)
	c, err := client.New(m.URL, client.Options{MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := t.Context()
	expID, err := c.CreateExperiment(ctx, "history", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	run, err := c.CreateRun(ctx, tracking.CreateRun{ExperimentID: expID, RunName: "curve"})
	if err != nil {
		t.Fatal(err)
	}
	var curve []tracking.Metric
	for i := range 5 {
		curve = append(curve, tracking.Metric{Key: "r2", Value: float64(i) / 10, Timestamp: int64(1000 + i), Step: int64(i)})
	}
	if err := c.LogBatch(ctx, run.Info.RunID, curve, nil, nil); err != nil {
		t.Fatal(err)
	}
	all, err := c.GetMetricHistory(ctx, run.Info.RunID, "r2", 0, "")
	if err != nil || len(all.Items) != 5 || all.NextPageToken != "" {
		t.Fatalf("whole history = %+v, %v; want 5 values and no token", all, err)
	}
	var steps []int64
	token := ""
	for range 5 {
		page, err := c.GetMetricHistory(ctx, run.Info.RunID, "r2", 2, token)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range page.Items {
			steps = append(steps, v.Step)
		}
		if token = page.NextPageToken; token == "" {
			break
		}
	}
	if !slices.Equal(steps, []int64{0, 1, 2, 3, 4}) {
		t.Errorf("history in pages of 2 = steps %v, want 0-4", steps)
	}
}
