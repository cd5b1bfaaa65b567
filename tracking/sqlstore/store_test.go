package sqlstore_test

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mlops-lab/housing/internal/testenv"
	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/sqlstore"
	"github.com/mlops-lab/housing/tracking/storetest"
)

// openSQLite opens a store on a fresh SQLite file in t's temp dir.
func openSQLite(t testing.TB) *sqlstore.Store {
	t.Helper()
	return mustOpen(t, sqliteURI(t))
}

// sqliteURI returns the URI of a fresh SQLite file in t's temp dir.
func sqliteURI(t testing.TB) string {
	return "sqlite:///" + filepath.Join(t.TempDir(), "mlflow.db")
}

func openPostgres(t testing.TB) *sqlstore.Store {
	t.Helper()
	return mustOpen(t, testenv.PostgresURI(t))
}

// mustOpen opens the database at uri; a new one gets the default schema
// (MLflow 3.11.1's).
func mustOpen(t testing.TB, uri string) *sqlstore.Store {
	t.Helper()
	return mustOpenVersion(t, uri, "")
}

// mustOpenVersion opens the database at uri; a new one gets the schema of
// MLflow release version ("" for the default).
func mustOpenVersion(t testing.TB, uri, version string) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.Open(context.Background(), uri, sqlstore.Options{
		DefaultArtifactRoot: "mlflow-artifacts:/",
		Rand:                rand.New(rand.NewPCG(1, 2)),
		SchemaVersion:       version,
	})
	if err != nil {
		t.Fatalf("open %s: %v", uri, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestStoreSQLite(t *testing.T) {
	storetest.RunStoreSuite(t, func(t *testing.T) tracking.Store { return openSQLite(t) }, storetest.Options{})
}

func TestStorePostgres(t *testing.T) {
	storetest.RunStoreSuite(t, func(t *testing.T) tracking.Store { return openPostgres(t) }, storetest.Options{})
}

func TestInjectedClock(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s, err := sqlstore.Open(t.Context(), "sqlite://:memory:", sqlstore.Options{Now: func() time.Time { return at }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	id, err := s.CreateExperiment(t.Context(), "clocked", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	e, err := s.GetExperiment(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	cwd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	// The default root, ./mlruns, is made absolute as MLflow's store does.
	if want := cwd + "/mlruns/" + id; e.CreationTime != at.UnixMilli() || e.ArtifactLocation != want {
		t.Errorf("experiment = %+v, want creation time %d and artifact location %s", e, at.UnixMilli(), want)
	}
}

// TestRelativeArtifactLocationIsResolved: as MLflow's store, an experiment's
// relative artifact location (a path or a file: URI) is taken from the working
// directory; other URIs are kept as given.
func TestRelativeArtifactLocationIsResolved(t *testing.T) {
	s, err := sqlstore.Open(t.Context(), "sqlite://:memory:", sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cwd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for loc, want := range map[string]string{
		"my_location":         cwd + "/my_location",
		"file:rel/dir":        "file://" + cwd + "/rel/dir",
		"s3://bucket/exp":     "s3://bucket/exp",
		"/abs/exp":            "/abs/exp",
		"mlflow-artifacts:/x": "mlflow-artifacts:/x",
	} {
		id, err := s.CreateExperiment(t.Context(), "loc "+loc, loc, nil)
		if err != nil {
			t.Fatal(err)
		}
		e, err := s.GetExperiment(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		if e.ArtifactLocation != want {
			t.Errorf("artifact location %q stored as %q, want %q", loc, e.ArtifactLocation, want)
		}
	}
	_, err = s.CreateExperiment(t.Context(), "remote", "file://10.0.0.1/share", nil)
	if tracking.ErrorCodeOf(err) != tracking.ErrInternal {
		t.Errorf("file: URI on another host: %v, want MLflow's INTERNAL_ERROR", err)
	}
}
