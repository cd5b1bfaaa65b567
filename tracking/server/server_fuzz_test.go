package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/artifacts"
	"github.com/mlops-lab/housing/tracking/server"
	"github.com/mlops-lab/housing/tracking/sqlstore"
	"github.com/mlops-lab/housing/tracking/wire"
)

const fuzzSecret = "SECRET-OUTSIDE-THE-ARTIFACT-ROOT"

// fuzzServer is a server over real SQLite and a local artifact root that holds
// a symbolic link to a directory outside it; next to the root are the database
// and a secret file. It returns the handler and the id of a run.
func fuzzServer(f *testing.F) (http.Handler, string) {
	dir := f.TempDir()
	store, err := sqlstore.Open(context.Background(), "sqlite:///"+filepath.Join(dir, "mlflow.db"),
		sqlstore.Options{DefaultArtifactRoot: "mlflow-artifacts:/"})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { store.Close() })
	if err := os.WriteFile(filepath.Join(dir, "secret"), []byte(fuzzSecret), 0o644); err != nil {
		f.Fatal(err)
	}
	root := filepath.Join(dir, "mlartifacts")
	repo, err := artifacts.NewLocal(root)
	if err != nil {
		f.Fatal(err)
	}
	if err := os.Symlink(dir, filepath.Join(root, "up")); err != nil {
		f.Fatal(err)
	}
	h := server.New(store, repo, server.Options{MaxBodyBytes: 1 << 20, Traces: store,
		OpenArtifactRepository: func(ctx context.Context, uri string) (tracking.ArtifactRepository, error) {
			return artifacts.Open(ctx, uri, artifacts.Options{Getenv: func(string) string { return "" }})
		}})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, jsonRequest("POST", wire.PathCreateRun, `{"experiment_id":"0"}`))
	var run struct {
		Run struct {
			Info struct {
				RunID string `json:"run_id"`
			} `json:"info"`
		} `json:"run"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &run); err != nil || run.Run.Info.RunID == "" {
		f.Fatalf("create run: %d %s", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, jsonRequest("POST", wire.PathCreateRegisteredModel, `{"name":"m"}`))
	return h, run.Run.Info.RunID
}

func jsonRequest(method, target, body string) *http.Request {
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	return r
}

// FuzzArtifactPaths sends fuzzed artifact paths to every route that takes one
// (proxied download, upload and list; get-artifact; artifacts/list; upload-artifact) and checks
// that none answers 500 and none ever returns the secret beside the root.
func FuzzArtifactPaths(f *testing.F) {
	for _, s := range []string{"a/b.txt", "..", "../secret", "up/secret", "up/../secret", "%2e%2e/secret",
		"%252e%252e/secret", `..\secret`, "", "file", "file/child", "dir/a", "dir", "a\x00b", "/etc/passwd", "C:/x", "up", "up/", "./up/./secret", "%2fetc"} {
		f.Add(s)
	}
	h, runID := fuzzServer(f)
	f.Fuzz(func(t *testing.T, p string) {
		q := url.QueryEscape(p)
		reqs := []*http.Request{
			rawPathRequest("GET", wire.PathArtifacts+"/", p),
			rawPathRequest("PUT", wire.PathArtifacts+"/", p),
			httptest.NewRequest("GET", wire.PathArtifacts+"?path="+q, nil),
			httptest.NewRequest("GET", wire.PathGetArtifact+"?run_id="+runID+"&path="+q, nil),
			httptest.NewRequest("GET", wire.PathListArtifacts+"?run_id="+runID+"&path="+q, nil),
			httptest.NewRequest("POST", wire.PathUploadArtifact+"?run_uuid="+runID+"&path="+q, strings.NewReader("x")),
		}
		for _, r := range reqs {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			if rec.Code >= 500 {
				t.Fatalf("%s %s: status %d: %s", r.Method, r.URL, rec.Code, rec.Body)
			}
			if bytes.Contains(rec.Body.Bytes(), []byte(fuzzSecret)) || bytes.Contains(rec.Body.Bytes(), []byte("mlflow.db")) {
				t.Fatalf("%s %s reached outside the artifact root: %s", r.Method, r.URL, rec.Body)
			}
		}
	})
}

// rawPathRequest is a request for prefix+p with p percent-encoded as a path, so
// that any string, even one no URL parser would take, reaches the router.
func rawPathRequest(method, prefix, p string) *http.Request {
	r := httptest.NewRequest(method, "/", strings.NewReader("x"))
	r.URL.Path = prefix + p
	r.URL.RawPath = ""
	r.RequestURI = r.URL.EscapedPath()
	return r
}

// FuzzDecode posts fuzzed bodies to endpoints whose requests carry the most
// structure, over a real SQLite store, and checks that no body gets a 500 and
// that every answer is JSON (an MLflow error body or a success body).
func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{}`, `{"name":"x"}`, `{"name":5}`, `{"name":`, `[]`, `null`, `{"run_id":"RUN","metrics":[{"key":"m","value":1,"timestamp":1}]}`,
		`{"run_id":"RUN","metrics":[{"key":"m","value":"NaN","timestamp":"1"}]}`, `{"run_id":"RUN","params":[{"key":"a/../b","value":"x"}]}`,
		`{"experiment_ids":["0"],"filter":"metrics.m > 1","order_by":["metrics.m DESC"],"page_token":"x"}`,
		`{"name":"m","source":"/etc/passwd","run_id":"RUN"}`, `{"name":"m","version":"1","stage":"production","archive_existing_versions":true}`,
		`{"experiment_id":"0","prompt_template":"t","prompt_parameters":[{"key":"k","value":1}],"model_route":"r","model_input":"i","mlflow_version":"2"}`,
		`{"name":"a\u0000"}`, `{"run_id":"RUN","tags":[{"key":"k","value":"` + strings.Repeat("v", 9000) + `"}]}`,
		`{"experiment_id":"0","timestamp_ms":1,"request_metadata":[{"key":"m","value":"v"}],"tags":[{"key":"mlflow.artifactLocation"}]}`,
		`{"experiment_id":"0","max_timestamp_millis":0,"max_traces":1,"request_ids":["x"]}`} {
		f.Add(s)
	}
	h, runID := fuzzServer(f)
	paths := []string{wire.PathCreateExperiment, wire.PathLogBatch, wire.PathSearchRuns, wire.PathSearchExperiments,
		wire.PathCreateModelVersion, wire.PathTransitionModelVersion, wire.PathLogInputs, wire.PathUpdateRun, wire.PathLogMetric,
		wire.PathTraces, wire.PathDeleteTraces, wire.PathCreatePromptlabRun}
	f.Fuzz(func(t *testing.T, body string) {
		body = strings.ReplaceAll(body, "RUN", runID)
		for _, p := range paths {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, jsonRequest("POST", p, body))
			if rec.Code >= 500 {
				t.Fatalf("POST %s %q: status %d: %s", p, body, rec.Code, rec.Body)
			}
			if !json.Valid(rec.Body.Bytes()) {
				t.Fatalf("POST %s %q: status %d, body is not JSON: %q", p, body, rec.Code, rec.Body)
			}
		}
	})
}
