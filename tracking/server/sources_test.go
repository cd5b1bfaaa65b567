package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlops-lab/housing/tracking/server"
	"github.com/mlops-lab/housing/tracking/sqlstore"
	"github.com/mlops-lab/housing/tracking/wire"
)

// TestModelVersionSources walks MLflow 2.17.2's rules on model version sources
// (its suite's test_create_model_version_with_non_local_source and _with_file_uri)
// against a real store whose runs keep their artifacts in local directories.
func TestModelVersionSources(t *testing.T) {
	dir := t.TempDir()
	store, err := sqlstore.Open(context.Background(), "sqlite:///"+filepath.Join(dir, "mlflow.db"),
		sqlstore.Options{DefaultArtifactRoot: "file://" + filepath.Join(dir, "mlruns")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	srv := httptest.NewServer(server.New(store, nil, server.Options{}))
	t.Cleanup(srv.Close)
	const js = "application/json"
	post := func(path, body string) response { return do(t, srv, "POST", path, js, body) }

	exp := field(t, post(wire.PathCreateExperiment, `{"name":"sources"}`).body, "experiment_id")
	r := post(wire.PathCreateRun, `{"experiment_id":"`+exp+`"}`)
	runID, artifactURI := field(t, r.body, "run", "info", "run_id"), field(t, r.body, "run", "info", "artifact_uri")
	if !strings.HasPrefix(artifactURI, "file://") {
		t.Fatalf("artifact uri %s", artifactURI)
	}
	artifactDir := strings.TrimPrefix(artifactURI, "file://")
	wantStatus(t, post(wire.PathCreateRegisteredModel, `{"name":"m"}`), 200, "")

	// A symlink inside the run's artifacts that leads out of them.
	if err := os.MkdirAll(artifactDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(dir, filepath.Join(artifactDir, "escape")); err != nil {
		t.Fatal(err)
	}

	const (
		outside = "To use a local path as a model version source"
		dotted  = "an absolute path must be provided without relative path references present"
	)
	for _, c := range []struct {
		source  string
		withRun bool
		status  int
		msg     string
	}{
		{artifactURI, true, 200, ""},
		{artifactURI + "/model", true, 200, ""},
		{artifactURI + "/.", true, 200, ""},
		{artifactURI + "/model/..", true, 200, ""},
		{artifactDir + "/model", true, 200, ""},
		{artifactURI, false, 400, outside},
		{"file:///tmp", false, 400, outside},
		{artifactURI + "/../..", true, 400, outside},
		{artifactURI + "/escape/mlflow.db", true, 400, "'" + filepath.Join(dir, "mlflow.db") + "'"}, // resolved, as MLflow
		{"file://123.456.789.123/path/to/source", true, 500, "is not a valid remote uri"},
		{"mlflow-artifacts:/models", true, 200, ""},
		{"mlflow-artifacts:/models///", true, 200, ""},
		{"mlflow-artifacts://host:9000/models/artifact/..../", true, 200, ""},
		{"models:/m/1", false, 200, ""},
		{"mlflow-artifacts://host:9000/models/../../../", true, 400, dotted},
		{"mlflow-artifacts://host:9000/models/..%2f..%2fartifacts", true, 400, dotted},
		{"mlflow-artifacts://host:9000/models/artifact%00", true, 400, dotted},
		{"s3://bucket/a/%252e%252e/x", true, 400, dotted},
		{"s3://bucket/a/./x", true, 400, dotted},
		{"s3://bucket", true, 400, dotted}, // no path at all: MLflow refuses it too
		{"http://host/a/..;params", true, 400, dotted},
		{"dbfs:/" + runID + "/artifacts/a%3f/../../../../../../../../../../", true, 400, "Invalid model version source"},
	} {
		body := fmt.Sprintf(`{"name":"m","source":%q}`, c.source)
		if c.withRun {
			body = fmt.Sprintf(`{"name":"m","source":%q,"run_id":%q}`, c.source, runID)
		}
		r := post(wire.PathCreateModelVersion, body)
		if r.status != c.status || (c.msg != "" && !strings.Contains(r.body, c.msg)) {
			t.Errorf("source %s (run given: %v): %d %s; want %d with %q", c.source, c.withRun, r.status, r.body, c.status, c.msg)
		}
	}
}

// TestRemoteSourcePathsAreCheckedLexically names a deliberate difference:
// MLflow resolves a remote source's path against the server's own file system,
// so that s3://bucket/<p> is refused when <p> is a symlink on the server. Here
// only the path's text counts.
func TestRemoteSourcePathsAreCheckedLexically(t *testing.T) {
	dir := t.TempDir()
	store, err := sqlstore.Open(context.Background(), "sqlite:///"+filepath.Join(dir, "mlflow.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	srv := httptest.NewServer(server.New(store, nil, server.Options{}))
	t.Cleanup(srv.Close)
	link := filepath.Join(dir, "link")
	if err := os.Symlink(filepath.Join(dir, "elsewhere"), link); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, do(t, srv, "POST", wire.PathCreateRegisteredModel, "application/json", `{"name":"m"}`), 200, "")
	r := do(t, srv, "POST", wire.PathCreateModelVersion, "application/json", fmt.Sprintf(`{"name":"m","source":"s3://bucket%s/model"}`, link))
	wantStatus(t, r, 200, "")
}

// TestErrorWordingByClientVersion: MLflow 2.17.2 and 3 word a bad model version
// number differently and their suites check each; the server answers in 2.17.2's
// words (the version it reports) unless the client says it is MLflow 3.
func TestErrorWordingByClientVersion(t *testing.T) {
	srv := newAPIServer(t)
	wantStatus(t, do(t, srv, "POST", wire.PathCreateRegisteredModel, "application/json", `{"name":"m"}`), 200, "")
	for agent, want := range map[string]string{
		"":                            "Model version must be an integer, got 'one'",
		"python-requests/2.28.1":      "Model version must be an integer, got 'one'",
		"mlflow-python-client/2.17.2": "Model version must be an integer, got 'one'",
		"mlflow-python-client/3.11.1": "Parameter 'version' must be an integer, got 'one'.",
		"mlflow-python-client/10.0":   "Parameter 'version' must be an integer, got 'one'.",
	} {
		req, err := http.NewRequest("GET", srv.URL+wire.PathGetModelVersion+"?name=m&version=one", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("User-Agent", agent)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var e wire.ErrorResponse
		err = json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 400 || e.ErrorCode != "INVALID_PARAMETER_VALUE" || e.Message != want {
			t.Errorf("User-Agent %q: %d %+v, want 400 %q", agent, resp.StatusCode, e, want)
		}
	}
}
