package dial_test

import (
	"context"
	"io"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlops-lab/housing/internal/testenv"
	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/artifacts"
	"github.com/mlops-lab/housing/tracking/dial"
	"github.com/mlops-lab/housing/tracking/server"
	"github.com/mlops-lab/housing/tracking/sqlstore"
)

// TestS3Artifacts covers the cluster's layout on one machine: a server whose
// artifact store is S3 (versitygw) behind the mlflow-artifacts proxy, and an
// experiment whose artifact location is an s3:// URI the client writes to directly.
func TestS3Artifacts(t *testing.T) {
	s3srv, bucket := testenv.S3Bucket(t)
	env := s3srv.Env()
	getenv := func(k string) string { return env[k] }
	ctx := context.Background()
	dir := t.TempDir()
	store, err := sqlstore.Open(ctx, "sqlite:///"+filepath.Join(dir, "mlflow.db"), sqlstore.Options{DefaultArtifactRoot: "mlflow-artifacts:/"})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	dest, err := artifacts.Open(ctx, "s3://"+bucket+"/mlartifacts", artifacts.Options{Getenv: getenv})
	if err != nil {
		t.Fatal(err)
	}
	open := func(ctx context.Context, uri string) (tracking.ArtifactRepository, error) {
		return artifacts.Open(ctx, uri, artifacts.Options{Getenv: getenv})
	}
	srv := httptest.NewServer(server.New(store, dest, server.Options{OpenArtifactRepository: open}))
	defer srv.Close()

	b, err := dial.Open(ctx, srv.URL, dial.Options{Getenv: getenv})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for _, loc := range []string{"", "s3://" + bucket + "/direct"} {
		name := "proxied"
		if loc != "" {
			name = "direct"
		}
		expID, err := b.Store.CreateExperiment(ctx, "s3-"+name, loc, nil)
		if err != nil {
			t.Fatal(err)
		}
		run, err := b.Store.CreateRun(ctx, tracking.CreateRun{ExperimentID: expID})
		if err != nil {
			t.Fatal(err)
		}
		repo, err := b.Artifacts(ctx, run.Info.ArtifactURI)
		if err != nil {
			t.Fatal(err)
		}
		if err := repo.Put(ctx, "plots/r2.svg", strings.NewReader("<svg/>"), -1); err != nil {
			t.Fatalf("%s: Put: %v", name, err)
		}
		// Whichever way it went, the object is in the bucket where MLflow puts it.
		key := "mlartifacts/" + expID + "/" + run.Info.RunID + "/artifacts/plots/r2.svg"
		if loc != "" {
			key = "direct/" + run.Info.RunID + "/artifacts/plots/r2.svg"
		}
		bucketRepo, err := artifacts.Open(ctx, "s3://"+bucket, artifacts.Options{Getenv: getenv})
		if err != nil {
			t.Fatal(err)
		}
		if got := get(t, bucketRepo, key); got != "<svg/>" {
			t.Fatalf("%s: s3://%s/%s holds %q", name, bucket, key, got)
		}
		// And it lists back, sized.
		files, err := repo.List(ctx, "plots")
		if err != nil || len(files) != 1 || files[0].Path != "plots/r2.svg" || files[0].FileSize != 6 {
			t.Fatalf("%s: List plots = %+v, %v", name, files, err)
		}
	}
}

func get(t *testing.T, repo tracking.ArtifactRepository, p string) string {
	t.Helper()
	rc, err := repo.Get(context.Background(), p)
	if err != nil {
		t.Fatalf("Get(%q): %v", p, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
