package dial_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlops-lab/housing/tracking/artifacts"
	"github.com/mlops-lab/housing/tracking/client"
	"github.com/mlops-lab/housing/tracking/dial"
	"github.com/mlops-lab/housing/tracking/sqlstore"
)

func openSQLite(t *testing.T) (*dial.Backend, string) {
	t.Helper()
	dir := t.TempDir()
	b, err := dial.Open(context.Background(), "sqlite:///"+filepath.Join(dir, "mlflow.db"), dial.Options{
		DefaultArtifactRoot: filepath.Join(dir, "mlartifacts"),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b, dir
}

func TestOpenHTTP(t *testing.T) {
	b, err := dial.Open(context.Background(), "http://mlflow-server-service.mlflow-system.svc.cluster.local:5000", dial.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := b.Store.(*client.Client); !ok {
		t.Fatalf("Store is %T, want *client.Client", b.Store)
	}
	repo, err := b.Artifacts(context.Background(), "mlflow-artifacts:/1/abc/artifacts")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := repo.(*artifacts.HTTP); !ok {
		t.Fatalf("mlflow-artifacts repository is %T, want *artifacts.HTTP", repo)
	}
}

func TestOpenRefuses(t *testing.T) {
	for uri, want := range map[string]string{
		"databricks":             "Databricks",
		"databricks://profile":   "Databricks",
		"file:///tmp/mlruns":     "file store",
		"./mlruns":               "file store",
		"mysql://u@h/db":         `unsupported tracking URI scheme "mysql"`,
		"http://":                "http(s)://host",
		"sqlite:///nodir/x/y.db": "",
	} {
		b, err := dial.Open(context.Background(), uri, dial.Options{})
		if err == nil {
			b.Close()
			t.Errorf("Open(%q) succeeded", uri)
			continue
		}
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Open(%q) = %v, want an error mentioning %q", uri, err, want)
		}
	}
}

func TestFromEnvDefault(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	b, err := dial.FromEnv(context.Background(), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, ok := b.Store.(*sqlstore.Store); !ok || b.TrackingURI != dial.DefaultTrackingURI {
		t.Fatalf("default backend: %T at %q", b.Store, b.TrackingURI)
	}
	ctx := context.Background()
	id, err := b.Store.CreateExperiment(ctx, "california-housing", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	e, err := b.Store.GetExperiment(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(e.ArtifactLocation, filepath.Join(dir, "mlartifacts")) {
		t.Fatalf("artifact location %q, want under %s", e.ArtifactLocation, filepath.Join(dir, "mlartifacts"))
	}
	if _, err := filepath.Glob(filepath.Join(dir, "mlflow.db")); err != nil {
		t.Fatal(err)
	}
}

func TestFromEnvBadOptions(t *testing.T) {
	_, err := dial.FromEnv(context.Background(), func(k string) string {
		if k == "MLFLOW_HTTP_REQUEST_MAX_RETRIES" {
			return "many"
		}
		return ""
	})
	if err == nil || !strings.Contains(err.Error(), "MLFLOW_HTTP_REQUEST_MAX_RETRIES") {
		t.Fatalf("got %v, want an error naming MLFLOW_HTTP_REQUEST_MAX_RETRIES", err)
	}
}

func TestProxiedURIsOnADatabase(t *testing.T) {
	b, _ := openSQLite(t)
	if _, err := b.Artifacts(context.Background(), "mlflow-artifacts:/0/abc/artifacts"); err == nil || !strings.Contains(err.Error(), "ArtifactsDestination") {
		t.Fatalf("got %v, want an error saying to set ArtifactsDestination", err)
	}
	dir := t.TempDir()
	b2, err := dial.Open(context.Background(), "sqlite:///"+filepath.Join(dir, "m.db"), dial.Options{ArtifactsDestination: filepath.Join(dir, "dest")})
	if err != nil {
		t.Fatal(err)
	}
	defer b2.Close()
	repo, err := b2.Artifacts(context.Background(), "mlflow-artifacts:/0/abc/artifacts")
	if err != nil {
		t.Fatal(err)
	}
	l, ok := repo.(*artifacts.Local)
	if !ok || !strings.HasSuffix(l.Root(), filepath.Join("dest", "0", "abc", "artifacts")) {
		t.Fatalf("repository %T %v, want Local under dest/0/abc/artifacts", repo, repo)
	}
}
