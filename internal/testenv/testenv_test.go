package testenv_test

import (
	"bytes"
	"context"
	"database/sql"
	"io"
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
