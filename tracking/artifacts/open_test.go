package artifacts_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlops-lab/housing/internal/testenv"
	"github.com/mlops-lab/housing/tracking/artifacts"
)

func TestOpenLocal(t *testing.T) {
	dir := t.TempDir()
	for _, uri := range []string{dir, "file://" + dir, "file:" + dir, "file://localhost" + dir} {
		repo, err := artifacts.Open(context.Background(), uri, artifacts.Options{})
		if err != nil {
			t.Fatalf("Open(%q): %v", uri, err)
		}
		l, ok := repo.(*artifacts.Local)
		if !ok {
			t.Fatalf("Open(%q) = %T, want *Local", uri, repo)
		}
		if want, _ := filepath.EvalSymlinks(dir); l.Root() != want {
			t.Fatalf("Open(%q) root = %s, want %s", uri, l.Root(), want)
		}
	}
}

func TestOpenS3(t *testing.T) {
	srv, bucket := testenv.S3Bucket(t)
	env := srv.Env()
	repo, err := artifacts.Open(context.Background(), "s3://"+bucket+"/exp/1", artifacts.Options{Getenv: func(k string) string { return env[k] }})
	if err != nil {
		t.Fatal(err)
	}
	put(t, repo, "hello.txt", "hi")
	// The object sits under the prefix in the bucket.
	under, err := artifacts.Open(context.Background(), "s3://"+bucket, artifacts.Options{Getenv: func(k string) string { return env[k] }})
	if err != nil {
		t.Fatal(err)
	}
	if got := get(t, under, "exp/1/hello.txt"); got != "hi" {
		t.Fatalf("object under prefix reads %q", got)
	}
}

func TestOpenMLflowArtifacts(t *testing.T) {
	srv := proxy(t)
	ctx := context.Background()
	repo, err := artifacts.Open(ctx, "mlflow-artifacts:/1/abc/artifacts", artifacts.Options{TrackingURI: srv.URL, HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	put(t, repo, "notes.txt", "via proxy")
	host := strings.TrimPrefix(srv.URL, "http://")
	withHost, err := artifacts.Open(ctx, "mlflow-artifacts://"+host+"/1/abc", artifacts.Options{TrackingURI: "http://elsewhere:5000"})
	if err != nil {
		t.Fatal(err)
	}
	if got := get(t, withHost, "artifacts/notes.txt"); got != "via proxy" {
		t.Fatalf("mlflow-artifacts://host/ read %q", got)
	}
}

func TestOpenRefuses(t *testing.T) {
	cases := map[string]struct {
		uri  string
		opt  artifacts.Options
		want string
	}{
		"Empty":           {"", artifacts.Options{}, "empty"},
		"Runs":            {"runs:/abc/model", artifacts.Options{}, "resolved by the tracking client"},
		"Models":          {"models:/m/1", artifacts.Options{}, "resolved by the tracking client"},
		"Unknown":         {"gs://bucket/x", artifacts.Options{}, `unsupported artifact URI scheme "gs"`},
		"ProxyNoServer":   {"mlflow-artifacts:/1", artifacts.Options{TrackingURI: "sqlite:///mlflow.db"}, "not http(s)"},
		"RemoteFile":      {"file://otherhost/x", artifacts.Options{}, "only local files"},
		"S3NoCredentials": {"s3://bucket/x", artifacts.Options{Getenv: func(string) string { return "" }}, "AWS_ACCESS_KEY_ID"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := artifacts.Open(context.Background(), tc.uri, tc.opt)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Open(%q) = %v, want an error mentioning %q", tc.uri, err, tc.want)
			}
		})
	}
}

func TestUploadDownloadDir(t *testing.T) {
	ctx := context.Background()
	src := t.TempDir()
	files := map[string]string{
		"MLmodel":          "artifact_path: model\n",
		"model.json":       `{"trees": []}`,
		"sub/deep/x.txt":   "x",
		"requirements.txt": "",
	}
	for p, c := range files {
		full := filepath.Join(src, filepath.FromSlash(p))
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	repo, err := artifacts.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := artifacts.UploadDir(ctx, repo, src, "model"); err != nil {
		t.Fatal(err)
	}
	for p, c := range files {
		if got := get(t, repo, "model/"+p); got != c {
			t.Errorf("uploaded model/%s = %q, want %q", p, got, c)
		}
	}
	dst := t.TempDir()
	if err := artifacts.DownloadDir(ctx, repo, "model", dst); err != nil {
		t.Fatal(err)
	}
	for p, c := range files {
		b, err := os.ReadFile(filepath.Join(dst, filepath.FromSlash(p)))
		if err != nil || string(b) != c {
			t.Errorf("downloaded %s = %q, %v; want %q", p, b, err, c)
		}
	}
	// A single file downloads under its base name.
	one := t.TempDir()
	if err := artifacts.DownloadDir(ctx, repo, "model/sub/deep/x.txt", one); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(one, "x.txt")); err != nil || string(b) != "x" {
		t.Fatalf("single-file download: %q, %v", b, err)
	}
}
