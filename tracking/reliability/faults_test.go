package reliability_test

import (
	"bytes"
	"context"
	"database/sql"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/mlops-lab/housing/internal/testenv"
	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/artifacts"
	"github.com/mlops-lab/housing/tracking/client"
	"github.com/mlops-lab/housing/tracking/server"
	"github.com/mlops-lab/housing/tracking/sqlstore"
	"github.com/mlops-lab/housing/tracking/wire"
)

// ownPostgres starts a PostgreSQL server for this test alone (it is killed and
// restarted) and returns it with the URI of a new database on it.
func ownPostgres(t *testing.T) (*testenv.Postgres, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pg, err := testenv.StartPostgres(ctx)
	if err != nil {
		testenv.Unavailable(t, "PostgreSQL: %v", err)
	}
	t.Cleanup(pg.Stop)
	db, err := sql.Open("pgx", pg.URI("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// The test server runs with synchronous_commit=off, which acknowledges
	// commits that a crash may lose; this database asks for durable commits, as
	// production runs.
	for _, q := range []string{"CREATE DATABASE faults", "ALTER DATABASE faults SET synchronous_commit = on"} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	return pg, pg.URI("faults")
}

// TestPostgresRestartDuringLogging kills PostgreSQL while clients log, checks
// that the server answers 503 TEMPORARILY_UNAVAILABLE (and /health 503) while
// it is down, restarts it on the same data, and checks that every metric
// arrived exactly once: the clients retried, and a retried batch whose first
// attempt had committed did not duplicate (metrics are keyed by their full row).
func TestPostgresRestartDuringLogging(t *testing.T) {
	pg, uri := ownPostgres(t)
	dir := t.TempDir()
	srv := storeServer(t, uri, dir, server.Options{})
	ctx := context.Background()
	setup := newClient(t, srv.URL, client.Options{})
	const runs = 4
	ids := make([]string, runs)
	for i := range ids {
		run, err := setup.CreateRun(ctx, tracking.CreateRun{ExperimentID: "0"})
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = run.Info.RunID
	}

	var acked atomic.Int64
	errs := make(chan error, runs)
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() {
			c := newClient(t, srv.URL, client.Options{MaxRetries: 60, Timeout: 5 * time.Second})
			errs <- logRunPaced(ctx, c, id, i, &acked)
		})
	}
	for acked.Load() < 8 {
		time.Sleep(5 * time.Millisecond)
	}
	pg.Kill()
	before := acked.Load()

	r := send(t, "POST", srv.URL+wire.PathLogBatch, []byte(batchOf(ids[0], 1)))
	if r.status != http.StatusServiceUnavailable || r.errorBody(t).ErrorCode != "TEMPORARILY_UNAVAILABLE" {
		t.Errorf("log-batch while the database is down: %d %s, want 503 TEMPORARILY_UNAVAILABLE", r.status, r.body)
	}
	if h := send(t, "GET", srv.URL+wire.PathHealth, nil); h.status != http.StatusServiceUnavailable {
		t.Errorf("/health while the database is down: %d %s, want 503", h.status, h.body)
	}
	time.Sleep(time.Second) // clients keep retrying through the outage
	if err := pg.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d batches acknowledged before the kill, %d in all", before, acked.Load())
	if h := send(t, "GET", srv.URL+wire.PathHealth, nil); h.status != http.StatusOK {
		t.Errorf("/health after the restart: %d %s", h.status, h.body)
	}
	for i, id := range ids {
		checkRun(ctx, t, setup, id, i)
	}

	// A batch sent again after its first attempt committed changes nothing.
	if err := logRun(ctx, setup, ids[0], 0); err != nil {
		t.Fatal(err)
	}
	checkRun(ctx, t, setup, ids[0], 0)
}

// logRunPaced logs what logRun logs, in batches of 50 a few milliseconds apart,
// so that the logging spans the outage; acked counts acknowledged batches.
func logRunPaced(ctx context.Context, c *client.Client, runID string, run int, acked *atomic.Int64) error {
	const size = 50
	for start := 0; start < metricsPerRun; start += size {
		batch := make([]tracking.Metric, 0, size)
		for i := start; i < start+size; i++ {
			k, s := i%5, i/5
			batch = append(batch, tracking.Metric{Key: "m" + string(rune('0'+k)), Value: metricAt(run, k, s), Timestamp: int64(1_700_000_000_000 + s), Step: int64(s)})
		}
		if err := c.LogBatch(ctx, runID, batch, nil, nil); err != nil {
			return err
		}
		acked.Add(1)
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

// TestS3DownDuringUpload stops the S3 server under the artifact proxy, checks
// that an upload fails with a clear TEMPORARILY_UNAVAILABLE error while the
// run's other data stays readable, and that the same upload succeeds once S3 is
// back.
func TestS3DownDuringUpload(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s3, err := testenv.StartS3(ctx)
	if err != nil {
		testenv.Unavailable(t, "S3 (versitygw): %v", err)
	}
	t.Cleanup(func() { s3.Stop(); os.RemoveAll(s3.Dir) })
	mc, err := s3.Client()
	if err != nil {
		t.Fatal(err)
	}
	if err := mc.MakeBucket(ctx, "faults", minio.MakeBucketOptions{Region: s3.Region}); err != nil {
		t.Fatal(err)
	}
	env := s3.Env()
	repo, err := artifacts.Open(ctx, "s3://faults/mlartifacts", artifacts.Options{Getenv: func(k string) string { return env[k] }})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	store, err := sqlstore.Open(ctx, "sqlite:///"+filepath.Join(dir, "mlflow.db"), sqlstore.Options{DefaultArtifactRoot: "mlflow-artifacts:/"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	srv := httptest.NewServer(server.New(store, repo, server.Options{}))
	t.Cleanup(srv.Close)

	c := newClient(t, srv.URL, client.Options{})
	run, err := c.CreateRun(ctx, tracking.CreateRun{ExperimentID: "0"})
	if err != nil {
		t.Fatal(err)
	}
	id := run.Info.RunID
	if err := c.LogBatch(ctx, id, []tracking.Metric{{Key: "r2", Value: 0.81, Timestamp: 1}}, []tracking.Param{{Key: "n_estimators", Value: "100"}}, nil); err != nil {
		t.Fatal(err)
	}
	proxy, err := artifacts.NewHTTP(srv.URL, "0/"+id+"/artifacts", nil)
	if err != nil {
		t.Fatal(err)
	}
	model := bytes.Repeat([]byte("model bytes "), 10_000)

	s3.Stop()
	start := time.Now()
	err = proxy.Put(ctx, "model/model.bin", bytes.NewReader(model), int64(len(model)))
	if tracking.ErrorCodeOf(err) != tracking.ErrTemporarilyUnavailable || !strings.Contains(tracking.ErrorMessage(err), "artifact store") {
		t.Errorf("upload with S3 down: %v, want TEMPORARILY_UNAVAILABLE naming the artifact store", err)
	}
	t.Logf("upload with S3 down failed after %v: %v", time.Since(start).Round(time.Millisecond), err)
	got, err := c.GetRun(ctx, id)
	if err != nil {
		t.Fatalf("run with S3 down: %v", err)
	}
	if len(got.Data.Params) != 1 || len(got.Data.Metrics) != 1 || got.Data.Metrics[0].Value != 0.81 {
		t.Errorf("run data with S3 down: %+v", got.Data)
	}

	if err := s3.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if err := proxy.Put(ctx, "model/model.bin", bytes.NewReader(model), int64(len(model))); err != nil {
		t.Fatalf("upload after S3 came back: %v", err)
	}
	rc, err := proxy.Get(ctx, "model/model.bin")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	back, err := io.ReadAll(rc)
	if err != nil || !bytes.Equal(back, model) {
		t.Fatalf("downloaded %d bytes (%v), uploaded %d", len(back), err, len(model))
	}
}
