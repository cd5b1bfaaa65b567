package client_test

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/artifacts"
	"github.com/mlops-lab/housing/tracking/client"
	"github.com/mlops-lab/housing/tracking/server"
	"github.com/mlops-lab/housing/tracking/sqlstore"
	"github.com/mlops-lab/housing/tracking/storetest"
)

// TestStoreSuiteOverHTTP runs the Store suite that the SQL store passes on SQLite
// and PostgreSQL against the REST client, talking real HTTP to our server on a
// SQLite store: the client is a tracking.Store with the same semantics.
func TestStoreSuiteOverHTTP(t *testing.T) {
	storetest.RunStoreSuite(t, func(t *testing.T) tracking.Store {
		dir := t.TempDir()
		db, err := sqlstore.Open(context.Background(), "sqlite:///"+filepath.Join(dir, "mlflow.db"), sqlstore.Options{DefaultArtifactRoot: "mlflow-artifacts:/"})
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
	})
}
