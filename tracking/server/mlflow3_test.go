package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mlops-lab/housing/internal/testenv"
	"github.com/mlops-lab/housing/tracking/artifacts"
	"github.com/mlops-lab/housing/tracking/server"
	"github.com/mlops-lab/housing/tracking/sqlstore"
)

// newMLflow3Server serves a real SQLite store as `tracking-server` does: traces
// kept by the store, server-info reporting a SqlStore.
func newMLflow3Server(t *testing.T) *httptest.Server {
	t.Helper()
	dir := t.TempDir()
	store, err := sqlstore.Open(context.Background(), "sqlite:///"+filepath.Join(dir, "mlflow.db"), sqlstore.Options{DefaultArtifactRoot: "mlflow-artifacts:/"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	repo, err := artifacts.NewLocal(filepath.Join(dir, "mlartifacts"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(server.New(store, repo, server.Options{Traces: store, StoreType: "SqlStore"}))
	t.Cleanup(srv.Close)
	return srv
}

// withHeader sends a request with one extra header.
func withHeader(t *testing.T, srv *httptest.Server, method, path, key, value string) response {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(key, value)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	if _, err := bufioReader(resp.Body).WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header, b.String()}
}

// TestServerInfo: MLflow 3.11.1's answer, byte for byte (Flask's jsonify), on
// both of its paths; null as the store type of a server that was not told it
// serves a database (MLflow's answer for a REST store).
func TestServerInfo(t *testing.T) {
	srv := newMLflow3Server(t)
	for _, p := range []string{"/api/3.0/mlflow/server-info", "/ajax-api/3.0/mlflow/server-info"} {
		got := do(t, srv, "GET", p, "", "")
		if want := `{"store_type":"SqlStore","workspaces_enabled":false}` + "\n"; got.status != 200 || got.body != want {
			t.Errorf("GET %s: %d %q, want 200 %q", p, got.status, got.body, want)
		}
		if ct := got.header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("GET %s: Content-Type %q", p, ct)
		}
		wantStatus(t, do(t, srv, "POST", p, "application/json", "{}"), 405, "BAD_REQUEST")
	}
	wantStatus(t, do(t, srv, "GET", "/api/2.0/mlflow/server-info", "", ""), 404, "ENDPOINT_NOT_FOUND")
	got := do(t, newAPIServer(t), "GET", "/api/3.0/mlflow/server-info", "", "")
	if want := `{"store_type":null,"workspaces_enabled":false}` + "\n"; got.body != want {
		t.Errorf("server-info without a store type: %q, want %q", got.body, want)
	}
}

// TestWorkspaceHeader: as MLflow 3.11.1 without --enable-workspaces, a request
// naming a workspace is refused whatever the workspace ("default" too) and
// the path (/health too), except server-info; a blank header is no workspace.
func TestWorkspaceHeader(t *testing.T) {
	srv := newMLflow3Server(t)
	const refusal = `{"error_code":"FEATURE_DISABLED","message":"Workspace APIs are not available: workspaces are not enabled on this server"}`
	for _, ws := range []string{"default", "team-a"} {
		for _, p := range []string{"/api/2.0/mlflow/experiments/search?max_results=1", "/health", "/api/2.0/mlflow/no-such-endpoint"} {
			got := withHeader(t, srv, "GET", p, "X-MLflow-Workspace", ws)
			if got.status != 500 || got.body != refusal {
				t.Errorf("workspace %q, GET %s: %d %s, want 500 %s", ws, p, got.status, got.body, refusal)
			}
		}
		got := withHeader(t, srv, "GET", "/api/3.0/mlflow/server-info", "X-MLflow-Workspace", ws)
		if got.status != 200 || !strings.Contains(got.body, `"workspaces_enabled":false`) {
			t.Errorf("workspace %q, server-info: %d %s", ws, got.status, got.body)
		}
	}
	got := withHeader(t, srv, "GET", "/api/2.0/mlflow/experiments/search?max_results=1", "X-MLflow-Workspace", "  ")
	if got.status != 200 {
		t.Errorf("blank workspace header: %d %s, want 200", got.status, got.body)
	}
}

// TestMLflow3PythonClient runs the real MLflow 3.11.1 client against the server:
// its registry searches (which add tags.`mlflow.prompt.is_prompt` != 'true')
// find our models and versions and leave a prompt out; a function under
// @mlflow.trace runs and returns, and the run logged after it keeps its data,
// its prompt registry works; with nothing worse than a warning on the way.
func TestMLflow3PythonClient(t *testing.T) {
	testenv.RequireMLflow(t, testenv.MLflow3)
	srv := newMLflow3Server(t)
	// A prompt, as MLflow 3 registers one (its client refuses to create it as a model).
	for _, req := range [][2]string{
		{"registered-models/create", `{"name": "greeting", "tags": [{"key": "mlflow.prompt.is_prompt", "value": "true"}]}`},
		{"model-versions/create", `{"name": "greeting", "source": "s3://bucket/prompt", "tags": [{"key": "mlflow.prompt.is_prompt", "value": "true"}]}`},
	} {
		if got := do(t, srv, "POST", "/api/2.0/mlflow/"+req[0], "application/json", req[1]); got.status != 200 {
			t.Fatalf("%s: %d %s", req[0], got.status, got.body)
		}
	}
	const script = `
import sys
sys.stderr = sys.stdout  # so that warnings and tracebacks reach the test
import json
import mlflow
from mlflow import MlflowClient

c = MlflowClient()
c.create_registered_model("housing", tags={"task": "regression"})
c.create_model_version("housing", "s3://bucket/model", tags={"validated": "true"})
c.create_model_version("housing", "s3://bucket/model2")

mlflow.genai.register_prompt(name="welcome", template="Hello {{name}}")
template = mlflow.genai.load_prompt("prompts:/welcome/1").template
prompts = [p.name for p in mlflow.genai.search_prompts()]

mlflow.set_experiment("traced")

@mlflow.trace
def add(a, b):
    return a + b

result = add(2, 3)
with mlflow.start_run() as run:
    mlflow.log_param("n_estimators", "50")
    mlflow.log_metric("r2", 0.75)
mlflow.flush_trace_async_logging()
data = c.get_run(run.info.run_id).data
import os
os.environ["MLFLOW_WORKSPACE"] = "team-a"  # as Kubeflow Pipelines 2.17 hands it to a task
try:
    MlflowClient().search_experiments()
    workspace = "accepted"
except mlflow.MlflowException as e:
    workspace = e.error_code + ": " + e.message
del os.environ["MLFLOW_WORKSPACE"]
print("RESULT " + json.dumps({
    "result": result,
    "models": [m.name for m in c.search_registered_models()],
    "fluent_models": [m.name for m in mlflow.search_registered_models(filter_string="name LIKE '%'")],
    "versions": sorted(v.name + "/" + v.version for v in c.search_model_versions()),
    "validated": [v.version for v in c.search_model_versions("tags.validated = 'true'")],
    "params": data.params,
    "metrics": data.metrics,
    "workspace": workspace,
    "template": template,
    "prompts": prompts,
}))
`
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := testenv.RunMLflowPython(ctx, testenv.MLflow3, script, "MLFLOW_TRACKING_URI="+srv.URL)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	text := string(out)
	for _, bad := range []string{"Traceback", "Exception", "ERROR"} {
		if strings.Contains(text, bad) {
			t.Errorf("the client printed %q:\n%s", bad, text)
		}
	}
	_, line, ok := strings.Cut(text, "RESULT ")
	if !ok {
		t.Fatalf("no result:\n%s", text)
	}
	var got struct {
		Result       int                `json:"result"`
		Models       []string           `json:"models"`
		FluentModels []string           `json:"fluent_models"`
		Versions     []string           `json:"versions"`
		Validated    []string           `json:"validated"`
		Params       map[string]string  `json:"params"`
		Metrics      map[string]float64 `json:"metrics"`
		Workspace    string             `json:"workspace"`
		Template     string             `json:"template"`
		Prompts      []string           `json:"prompts"`
	}
	if err := json.Unmarshal([]byte(strings.TrimSpace(line)), &got); err != nil {
		t.Fatalf("%v: %s", err, line)
	}
	if got.Result != 5 {
		t.Errorf("traced add(2, 3) = %d", got.Result)
	}
	equalKeys(t, "search_registered_models", got.Models, []string{"housing"})
	equalKeys(t, "mlflow.search_registered_models", got.FluentModels, []string{"housing"})
	equalKeys(t, "search_model_versions", got.Versions, []string{"housing/1", "housing/2"})
	equalKeys(t, "search_model_versions by tag", got.Validated, []string{"1"})
	// Prompts are registry entries: MLflow 3's prompt registry works on ours.
	equalKeys(t, "search_prompts", got.Prompts, []string{"greeting", "welcome"})
	if got.Template != "Hello {{name}}" {
		t.Errorf("load_prompt: template %q", got.Template)
	}
	if got.Params["n_estimators"] != "50" || got.Metrics["r2"] != 0.75 {
		t.Errorf("run data: params %v, metrics %v", got.Params, got.Metrics)
	}
	// What the real client says against the real MLflow 3.11.1 without
	// workspaces too: it asked server-info and refused on its own.
	if want := "FEATURE_DISABLED: Active workspace 'team-a' cannot be used because the remote server does not support workspaces."; !strings.HasPrefix(got.Workspace, want) {
		t.Errorf("with MLFLOW_WORKSPACE: %q, want %q...", got.Workspace, want)
	}
}

// TestTraceInfoAtTracePath: a deliberate difference from MLflow 2.17.2 and
// 3.11.1 (both answer 405): GET traces/<id>, where MLflow 3's client falls back
// to read a trace's info when the v3 trace API is missing, answers as
// traces/<id>/info.
func TestTraceInfoAtTracePath(t *testing.T) {
	srv := newMLflow3Server(t)
	started := do(t, srv, "POST", "/api/2.0/mlflow/traces", "application/json", `{"experiment_id": "0", "timestamp_ms": 1000}`)
	if started.status != 200 {
		t.Fatalf("start trace: %d %s", started.status, started.body)
	}
	id := field(t, started.body, "trace_info", "request_id")
	info := do(t, srv, "GET", "/api/2.0/mlflow/traces/"+id+"/info", "", "")
	got := do(t, srv, "GET", "/api/2.0/mlflow/traces/"+id, "", "")
	if info.status != 200 || got.status != 200 || got.body != info.body {
		t.Errorf("GET traces/<id>: %d %s, want traces/<id>/info's %d %s", got.status, got.body, info.status, info.body)
	}
	wantStatus(t, do(t, srv, "GET", "/api/2.0/mlflow/traces/tr-missing", "", ""), 404, "RESOURCE_DOES_NOT_EXIST")
}

// TestVersionWithSpaces: MLflow checks a version with Python's int(), which
// allows surrounding spaces; anything else that is not an integer is refused
// in MLflow 3.11.1's words for its client.
func TestVersionWithSpaces(t *testing.T) {
	srv := newMLflow3Server(t)
	for _, req := range [][2]string{
		{"registered-models/create", `{"name": "m"}`},
		{"model-versions/create", `{"name": "m", "source": "s3://bucket/model"}`},
	} {
		if got := do(t, srv, "POST", "/api/2.0/mlflow/"+req[0], "application/json", req[1]); got.status != 200 {
			t.Fatalf("%s: %d %s", req[0], got.status, got.body)
		}
	}
	got := do(t, srv, "GET", "/api/2.0/mlflow/model-versions/get?name=m&version=%201%20", "", "")
	if got.status != 200 || field(t, got.body, "model_version", "version") != "1" {
		t.Errorf("version ' 1 ': %d %s", got.status, got.body)
	}
	got = withHeader(t, srv, "GET", "/api/2.0/mlflow/model-versions/get?name=m&version=1.5", "User-Agent", "mlflow-python-client/3.11.1")
	wantStatus(t, got, 400, "INVALID_PARAMETER_VALUE")
	if want := "Parameter 'version' must be an integer, got '1.5'."; field(t, got.body, "message") != want {
		t.Errorf("version 1.5: %s, want message %q", got.body, want)
	}
}

// TestPromptVersionSource: a version carrying MLflow 3's prompt tag (whatever
// its value) is a prompt version, whose source names no files: MLflow 3.11.1
// refuses local paths and relative parts in a URI, and takes a placeholder.
func TestPromptVersionSource(t *testing.T) {
	srv := newMLflow3Server(t)
	if got := do(t, srv, "POST", "/api/2.0/mlflow/registered-models/create", "application/json",
		`{"name": "greeting", "tags": [{"key": "mlflow.prompt.is_prompt", "value": "true"}]}`); got.status != 200 {
		t.Fatalf("create: %d %s", got.status, got.body)
	}
	for _, tc := range []struct{ source, message string }{
		{"dummy-source", ""},
		{"relative/../placeholder", ""},
		{"s3://bucket/prompt", ""},
		{"file:///etc/passwd", "Invalid prompt source: 'file:///etc/passwd'. Local source paths are not allowed for prompts."},
		{"/etc/passwd", "Invalid prompt source: '/etc/passwd'. Local source paths are not allowed for prompts."},
		{"http://host/a/../b", "Invalid model version source: 'http://host/a/../b'. If supplying a source as an http, https, local file path, ftp, objectstore, or mlflow-artifacts uri, an absolute path must be provided without relative path references present. Please provide an absolute path."},
	} {
		body := `{"name": "greeting", "source": "` + tc.source + `", "tags": [{"key": "mlflow.prompt.is_prompt", "value": "false"}]}`
		got := do(t, srv, "POST", "/api/2.0/mlflow/model-versions/create", "application/json", body)
		if tc.message == "" {
			if got.status != 200 || field(t, got.body, "model_version", "source") != tc.source {
				t.Errorf("source %q: %d %s, want a version", tc.source, got.status, got.body)
			}
			continue
		}
		wantStatus(t, got, 400, "INVALID_PARAMETER_VALUE")
		if m := field(t, got.body, "message"); m != tc.message {
			t.Errorf("source %q: message %q, want %q", tc.source, m, tc.message)
		}
	}
	// Without the tag, a placeholder is a relative local path, refused as MLflow 2.17.2 does.
	got := do(t, srv, "POST", "/api/2.0/mlflow/model-versions/create", "application/json", `{"name": "greeting", "source": "dummy-source"}`)
	wantStatus(t, got, 400, "INVALID_PARAMETER_VALUE")
}

// TestNewModelNames: MLflow 3.11.1's checks of a name given to a model, on
// creation and rename. Deliberately unlike MLflow 3.11.1, lookups do not check
// names, so that models a 2.17 database holds under such names stay readable.
func TestNewModelNames(t *testing.T) {
	srv := newMLflow3Server(t)
	const pathMsg = "Names may be treated as files in certain cases, and must not resolve to other names when treated as such. This name would resolve to "
	if got := do(t, srv, "POST", "/api/2.0/mlflow/registered-models/create", "application/json", `{"name": "housing"}`); got.status != 200 {
		t.Fatalf("create: %d %s", got.status, got.body)
	}
	for _, tc := range []struct{ name, message string }{
		{"  ", "Missing value for required parameter 'name'."},
		{"a/b", "Invalid model name 'a/b'. Names cannot contain '/' or ':'."},
		{"a:b", "Invalid model name 'a:b'. Names cannot contain '/' or ':'."},
		{".", `Invalid value "." for parameter 'name' supplied: ` + pathMsg + "'.'"},
		{"..x", `Invalid value "..x" for parameter 'name' supplied: ` + pathMsg + "'..x'"},
		{"x..", ""},
	} {
		js, _ := json.Marshal(tc.name)
		for _, req := range []struct{ path, body, field string }{
			{"registered-models/create", `{"name": ` + string(js) + `}`, "name"},
			{"registered-models/rename", `{"name": "housing", "new_name": ` + string(js) + `}`, "new_name"},
		} {
			got := do(t, srv, "POST", "/api/2.0/mlflow/"+req.path, "application/json", req.body)
			if tc.message == "" {
				if got.status != 200 {
					t.Errorf("%s %q: %d %s", req.path, tc.name, got.status, got.body)
				}
				break // the name is taken now: renaming to it is another test
			}
			want := tc.message
			if strings.TrimSpace(tc.name) == "" {
				want = "Missing value for required parameter '" + req.field + "'."
			}
			wantStatus(t, got, 400, "INVALID_PARAMETER_VALUE")
			if m := field(t, got.body, "message"); m != want {
				t.Errorf("%s %q: message %q, want %q", req.path, tc.name, m, want)
			}
		}
	}
}
