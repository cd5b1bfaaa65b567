package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/mlops-lab/housing/internal/testenv"
	"github.com/mlops-lab/housing/tracking/artifacts"
)

// TestUIArtifactsThroughTheServer: the run page's artifact browser and the
// UI's artifact route read a run's artifacts through the server's own
// artifact access, wherever they are: proxied (mlflow-artifacts:/) to a local
// directory or to S3 (versitygw), or in S3 directly (s3:// run URIs, the
// server not serving artifacts).
func TestUIArtifactsThroughTheServer(t *testing.T) {
	s3, bucket := testenv.S3Bucket(t)
	env := s3.Env()
	getenv := func(k string) string { return env[k] }
	cases := []struct {
		name  string
		flags []string
	}{
		{"ProxiedLocal", nil},
		{"ProxiedS3", []string{"--artifacts-destination", "s3://" + bucket + "/proxied"}},
		{"S3", []string{"--no-serve-artifacts", "--default-artifact-root", "s3://" + bucket + "/direct"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			base, _ := startServerEnv(t, getenv, c.flags...)
			runID, uri := createRun(t, base, "exp-"+c.name)
			if strings.HasPrefix(uri, "mlflow-artifacts:") != (c.name != "S3") {
				t.Fatalf("run artifact URI %s", uri)
			}
			// Logged as a client logs them: through the server's proxy, or to S3.
			repo, err := artifacts.Open(context.Background(), uri, artifacts.Options{TrackingURI: base, Getenv: getenv})
			if err != nil {
				t.Fatalf("open %s: %v", uri, err)
			}
			files := map[string][]byte{
				"model/MLmodel":     []byte("artifact_path: model\nflavors:\n  housing: {}\nrun_id: " + runID + "\n"),
				"model/model.bin":   {0, 1, 2, 3},
				"model/meta/a.json": []byte(`{"a":1}`),
				"plots/r2.svg":      []byte(`<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"/>`),
			}
			for p, b := range files {
				if err := repo.Put(context.Background(), p, bytes.NewReader(b), int64(len(b))); err != nil {
					t.Fatalf("put %s: %v", p, err)
				}
			}
			if prefix, ok := map[string]string{"ProxiedS3": "proxied/", "S3": "direct/"}[c.name]; ok {
				// They are in the bucket, not on a local disk.
				mc, err := s3.Client()
				if err != nil {
					t.Fatal(err)
				}
				n := 0
				for obj := range mc.ListObjects(context.Background(), bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
					if obj.Err == nil && strings.Contains(obj.Key, runID) {
						n++
					}
				}
				if n != len(files) {
					t.Fatalf("%d of the run's %d files under s3://%s/%s", n, len(files), bucket, prefix)
				}
			}
			page := base + "/runs/" + runID
			body := getBody(t, page+"?artifact="+url.QueryEscape("model/meta/a.json"), http.StatusOK)
			for _, want := range []string{"<summary>model/</summary>", "<summary>meta/</summary>", ">model.bin</a>", ">r2.svg</a>",
				"{\n  &#34;a&#34;: 1\n}"} {
				if !strings.Contains(body, want) {
					t.Errorf("run page lacks %q", want)
				}
			}
			body = getBody(t, page+"?artifact="+url.QueryEscape("model/MLmodel"), http.StatusOK)
			if !strings.Contains(body, "run_id: "+runID) {
				t.Error("the MLmodel is not shown")
			}
			art := base + "/ui/artifact?" + url.Values{"run": {runID}, "path": {"plots/r2.svg"}}.Encode()
			if got := getBody(t, art, http.StatusOK); got != string(files["plots/r2.svg"]) {
				t.Errorf("artifact route served %q", got)
			}
		})
	}
}

// createRun creates an experiment and a run in it over the REST API and
// returns the run's id and artifact URI.
func createRun(t *testing.T, base, expName string) (string, string) {
	t.Helper()
	st, exp := postJSON(t, base+"/api/2.0/mlflow/experiments/create", `{"name":"`+expName+`"}`)
	if st != http.StatusOK {
		t.Fatalf("create experiment: %d %v", st, exp)
	}
	st, created := postJSON(t, base+"/api/2.0/mlflow/runs/create", `{"experiment_id":"`+exp["experiment_id"].(string)+`","run_name":"rf"}`)
	if st != http.StatusOK {
		t.Fatalf("create run: %d %v", st, created)
	}
	info := created["run"].(map[string]any)["info"].(map[string]any)
	return info["run_id"].(string), info["artifact_uri"].(string)
}

func getBody(t *testing.T, target string, status int) string {
	t.Helper()
	resp, err := http.Get(target)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status {
		t.Fatalf("GET %s: %d, want %d: %s", target, resp.StatusCode, status, b)
	}
	return string(b)
}
