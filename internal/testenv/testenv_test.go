package testenv_test

import (
	"bytes"
	"context"
	"database/sql"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/mlops-lab/housing/internal/testenv"
)

func TestPostgresURIGivesFreshDatabases(t *testing.T) {
	a, b := testenv.PostgresURI(t), testenv.PostgresURI(t)
	if a == b {
		t.Fatalf("two calls gave the same database %s", a)
	}
	db, err := sql.Open("pgx", a)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var version string
	if err := db.QueryRow("SHOW server_version").Scan(&version); err != nil {
		t.Fatalf("query %s: %v", a, err)
	}
	var tables int
	if err := db.QueryRow("SELECT count(*) FROM information_schema.tables WHERE table_schema='public'").Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if tables != 0 {
		t.Errorf("new database has %d tables, want 0", tables)
	}
	t.Logf("PostgreSQL %s at %s", version, a)
}

func TestS3BucketRoundTrip(t *testing.T) {
	s, bucket := testenv.S3Bucket(t)
	c, err := s.Client()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	body := []byte("hello s3")
	if _, err := c.PutObject(ctx, bucket, "a/b.txt", bytes.NewReader(body), int64(len(body)), minio.PutObjectOptions{}); err != nil {
		t.Fatalf("put: %v", err)
	}
	obj, err := c.GetObject(ctx, bucket, "a/b.txt", minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(obj)
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	if !bytes.Equal(got, body) {
		t.Errorf("got %q, want %q", got, body)
	}
}

func TestRealMLflowServerAndClient(t *testing.T) {
	for _, version := range []string{testenv.MLflow2, testenv.MLflow3} {
		t.Run(version, func(t *testing.T) {
			t.Parallel()
			s := testenv.MLflow(t, version)
			resp, err := http.Post(s.URL+"/api/2.0/mlflow/experiments/create", "application/json",
				strings.NewReader(`{"name": "testenv"}`))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"experiment_id"`) {
				t.Fatalf("create experiment on real MLflow %s: %s %s", version, resp.Status, body)
			}
			out, err := testenv.RunMLflowPython(context.Background(), version,
				`import mlflow; print(mlflow.__version__, mlflow.get_experiment_by_name("testenv").name)`,
				"MLFLOW_TRACKING_URI="+s.URL)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := strings.TrimSpace(string(out)), version+" testenv"; got != want {
				t.Fatalf("python client printed %q, want %q", got, want)
			}
		})
	}
}
