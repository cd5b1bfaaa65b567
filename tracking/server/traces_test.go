package server_test

import (
	"context"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/artifacts"
	"github.com/mlops-lab/housing/tracking/server"
	"github.com/mlops-lab/housing/tracking/sqlstore"
	"github.com/mlops-lab/housing/tracking/wire"
)

// newTraceServer serves a real SQLite store, which keeps traces, with a real
// local artifact repository behind mlflow-artifacts:/.
func newTraceServer(t *testing.T) (*httptest.Server, *sqlstore.Store, *artifacts.Local) {
	t.Helper()
	dir := t.TempDir()
	store, err := sqlstore.Open(context.Background(), "sqlite:///"+filepath.Join(dir, "mlflow.db"),
		sqlstore.Options{DefaultArtifactRoot: "mlflow-artifacts:/"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	repo, err := artifacts.NewLocal(filepath.Join(dir, "mlartifacts"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(server.New(store, repo, server.Options{Traces: store}))
	t.Cleanup(srv.Close)
	return srv, store, repo
}

func TestTraceEndpoints(t *testing.T) {
	srv, _, _ := newTraceServer(t)
	post := func(path, body string) response { return do(t, srv, "POST", path, js, body) }
	patch := func(path, body string) response { return do(t, srv, "PATCH", path, js, body) }
	get := func(path string) response { return do(t, srv, "GET", path, "", "") }
	msg := func(r response, want string) {
		t.Helper()
		if m := field(t, r.body, "message"); m != want {
			t.Errorf("message %q\n   want %q", m, want)
		}
	}

	r := post(wire.PathCreateExperiment, `{"name":"traces"}`)
	wantStatus(t, r, 200, "")
	exp := field(t, r.body, "experiment_id")

	// Start: MLflow's shape, execution_time_ms present while in progress.
	r = post(wire.PathTraces, `{"experiment_id":"`+exp+`","timestamp_ms":1000,"request_metadata":[{"key":"m1","value":"a"}],"tags":[{"key":"t1","value":"x"},{"key":"empty"}]}`)
	wantStatus(t, r, 200, "")
	equalKeys(t, "trace_info", keysAt(t, r.body, "trace_info"),
		[]string{"request_id", "experiment_id", "timestamp_ms", "execution_time_ms", "status", "request_metadata", "tags"})
	id := field(t, r.body, "trace_info", "request_id")
	if s, e := field(t, r.body, "trace_info", "status"), field(t, r.body, "trace_info", "execution_time_ms"); s != "IN_PROGRESS" || e != "0" {
		t.Errorf("started trace: status %s, execution_time_ms %s", s, e)
	}
	if v := field(t, r.body, "trace_info", "tags", "0", "value"); v != "" {
		t.Errorf("tag without value = %q, want \"\" (sent, as MLflow)", v)
	}
	if loc := field(t, r.body, "trace_info", "tags", "1", "value"); loc != "mlflow-artifacts:/"+exp+"/traces/"+id+"/artifacts" {
		t.Errorf("artifact location %s", loc)
	}
	r = post(wire.PathTraces, `{}`)
	wantStatus(t, r, 400, "INVALID_PARAMETER_VALUE")
	msg(r, "Missing value for required parameter 'experiment_id'. See the API docs for more information about request parameters.")
	wantStatus(t, post(wire.PathTraces, `{"experiment_id":"999"}`), 404, "RESOURCE_DOES_NOT_EXIST")

	// End: status by name or proto number; unknown statuses are refused
	// (deliberately: MLflow stores TRACE_STATUS_UNSPECIFIED for them).
	single := wire.PathTraces + "/" + id
	r = patch(single, `{"request_id":"`+id+`","timestamp_ms":3000,"status":"OK","request_metadata":[{"key":"m1","value":"b"}],"tags":[{"key":"t2","value":"y"}]}`)
	wantStatus(t, r, 200, "")
	if e, s := field(t, r.body, "trace_info", "execution_time_ms"), field(t, r.body, "trace_info", "status"); e != "2000" || s != "OK" {
		t.Errorf("ended trace: execution_time_ms %s, status %s", e, s)
	}
	if m := field(t, r.body, "trace_info", "request_metadata", "0", "value"); m != "b" {
		t.Errorf("metadata m1 = %s after end", m)
	}
	r = patch(single, `{"timestamp_ms":3000,"status":2}`)
	wantStatus(t, r, 200, "")
	if s := field(t, r.body, "trace_info", "status"); s != "ERROR" {
		t.Errorf("status 2 = %s, want ERROR", s)
	}
	r = patch(single, `{"timestamp_ms":3000,"status":"BOGUS"}`)
	wantStatus(t, r, 400, "INVALID_PARAMETER_VALUE")
	r = patch(wire.PathTraces+"/nonexist", `{"timestamp_ms":3000,"status":"OK"}`)
	wantStatus(t, r, 404, "RESOURCE_DOES_NOT_EXIST")
	msg(r, "Trace with request_id 'nonexist' not found.")
	wantStatus(t, patch(single, `{"timestamp_ms":3000,"status":"OK"}`), 200, "")

	// Get, under both prefixes.
	r = get(single + "/info")
	wantStatus(t, r, 200, "")
	if got := field(t, r.body, "trace_info", "tags"); !strings.Contains(got, `"t2"`) {
		t.Errorf("tags %s", got)
	}
	wantStatus(t, get(strings.Replace(single, wire.APIPrefix, wire.AjaxAPIPrefix, 1)+"/info"), 200, "")
	wantStatus(t, get(wire.PathTraces+"/nonexist/info"), 404, "RESOURCE_DOES_NOT_EXIST")

	// Tags.
	tags := single + "/tags"
	wantStatus(t, patch(tags, `{"key":"t3","value":"z"}`), 200, "")
	r = patch(tags, `{"value":"z"}`)
	wantStatus(t, r, 400, "INVALID_PARAMETER_VALUE")
	msg(r, "Missing value for required parameter 'key'. See the API docs for more information about request parameters.")
	wantStatus(t, patch(tags, `{"key":"a!","value":"z"}`), 400, "INVALID_PARAMETER_VALUE")
	wantStatus(t, patch(wire.PathTraces+"/nonexist/tags", `{"key":"k","value":"v"}`), 404, "RESOURCE_DOES_NOT_EXIST")
	r = do(t, srv, "DELETE", tags, js, `{"key":"t3"}`)
	wantStatus(t, r, 200, "")
	if r.body != "{}" {
		t.Errorf("delete tag answered %s", r.body)
	}
	r = do(t, srv, "DELETE", tags, js, `{"key":"t3"}`)
	wantStatus(t, r, 404, "RESOURCE_DOES_NOT_EXIST")
	msg(r, "No trace tag with key 't3' for trace with request_id '"+id+"'")

	// Search: a GET with the fields in the query string.
	second := field(t, post(wire.PathTraces, `{"experiment_id":"`+exp+`","timestamp_ms":2000}`).body, "trace_info", "request_id")
	q := url.Values{"experiment_ids": {exp}, "max_results": {"1"}}
	r = get(wire.PathTraces + "?" + q.Encode())
	wantStatus(t, r, 200, "")
	if got, tok := field(t, r.body, "traces", "0", "request_id"), field(t, r.body, "next_page_token"); got != second || tok != "eyJvZmZzZXQiOiAxfQ==" {
		t.Errorf("first page %s, token %s", got, tok)
	}
	q = url.Values{"experiment_ids": {exp}, "filter": {"status = 'OK' and tags.t1 = 'x'"}, "order_by": {"timestamp ASC", "name"}}
	r = get(wire.PathTraces + "?" + q.Encode())
	wantStatus(t, r, 200, "")
	if got, tok := field(t, r.body, "traces", "0", "request_id"), field(t, r.body, "next_page_token"); got != id || tok != "<absent>" {
		t.Errorf("filtered search found %s, token %s: %s", got, tok, r.body)
	}
	q = url.Values{"experiment_ids": {exp}, "filter": {"tags.t1 LIKE 'x'"}}
	r = get(wire.PathTraces + "?" + q.Encode())
	wantStatus(t, r, 400, "INVALID_PARAMETER_VALUE")
	msg(r, "Invalid comparator 'LIKE' not one of '{'=', '!='}")
	r = get(wire.PathTraces + "?max_results=2")
	wantStatus(t, r, 400, "INVALID_PARAMETER_VALUE")
	msg(r, "Missing value for required parameter 'experiment_ids'. See the API docs for more information about request parameters.")
	r = get(wire.PathTraces + "?experiment_ids=" + exp + "&max_results=0")
	wantStatus(t, r, 400, "INVALID_PARAMETER_VALUE")
	msg(r, "Invalid value 0 for parameter 'max_results' supplied. It must be a positive integer")
	wantStatus(t, get(wire.PathTraces+"?experiment_ids="+exp+"&max_results=501"), 400, "INVALID_PARAMETER_VALUE")
	r = get(wire.PathTraces + "?experiment_ids=424242")
	wantStatus(t, r, 200, "")
	if r.body != "{}" {
		t.Errorf("search of an experiment without traces answered %s", r.body)
	}

	// Delete.
	r = post(wire.PathDeleteTraces, `{"experiment_id":"`+exp+`"}`)
	wantStatus(t, r, 400, "INVALID_PARAMETER_VALUE")
	msg(r, "Either `max_timestamp_millis` or `request_ids` must be specified.")
	wantStatus(t, post(wire.PathDeleteTraces, `{}`), 400, "INVALID_PARAMETER_VALUE")
	r = post(wire.PathDeleteTraces, `{"experiment_id":"`+exp+`","request_ids":["nonexist"]}`)
	wantStatus(t, r, 200, "")
	if r.body != "{\n  \"traces_deleted\": 0\n}" {
		t.Errorf("nothing deleted answered %q", r.body)
	}
	r = post(wire.PathDeleteTraces, `{"experiment_id":"`+exp+`","max_timestamp_millis":1000000000000000,"max_traces":1}`)
	wantStatus(t, r, 200, "")
	if n := field(t, r.body, "traces_deleted"); n != "1" {
		t.Errorf("traces_deleted %s", n)
	}
	wantStatus(t, get(single+"/info"), 404, "RESOURCE_DOES_NOT_EXIST") // the older one went first
	wantStatus(t, get(wire.PathTraces+"/"+second+"/info"), 200, "")
}

// TestTraceInfoCut: MLflow's answers cut request metadata and tag keys and
// values to 250 characters; the store keeps them whole.
func TestTraceInfoCut(t *testing.T) {
	srv, store, _ := newTraceServer(t)
	long := strings.Repeat("ü", 300)
	info, err := store.StartTrace(context.Background(), tracking.StartTrace{ExperimentID: "0", Tags: []tracking.Tag{{Key: "long", Value: long}}})
	if err != nil {
		t.Fatal(err)
	}
	r := do(t, srv, "GET", wire.PathTraces+"/"+info.RequestID+"/info", "", "")
	wantStatus(t, r, 200, "")
	if v := field(t, r.body, "trace_info", "tags", "0", "value"); v != long[:2*250] {
		t.Errorf("long tag answered with %d characters, want 250", len([]rune(v)))
	}
	got, err := store.GetTraceInfo(context.Background(), info.RequestID)
	if v, _ := got.Tag("long"); err != nil || v != long {
		t.Errorf("stored value cut: %d characters, %v", len([]rune(v)), err)
	}
}

func TestGetTraceArtifact(t *testing.T) {
	srv, store, repo := newTraceServer(t)
	ctx := context.Background()
	info, err := store.StartTrace(ctx, tracking.StartTrace{ExperimentID: "0"})
	if err != nil {
		t.Fatal(err)
	}
	id := info.RequestID
	put := func(body string) {
		t.Helper()
		if err := repo.Put(ctx, "0/traces/"+id+"/artifacts/traces.json", strings.NewReader(body), int64(len(body))); err != nil {
			t.Fatal(err)
		}
	}
	get := func(q string) response { return do(t, srv, "GET", wire.PathGetTraceArtifact+q, "", "") }

	r := get("?request_id=" + id)
	wantStatus(t, r, 404, "NOT_FOUND")
	if m := field(t, r.body, "message"); m != "Trace data not found for request_id="+id {
		t.Errorf("message %q", m)
	}
	put("")
	wantStatus(t, get("?request_id="+id), 404, "NOT_FOUND")
	put("{bad")
	wantStatus(t, get("?request_id="+id), 400, "INVALID_STATE")

	const data = `{"spans": [{"name": "predict", "attributes": {"fruit": "\"apple\""}}], "request": null}`
	put(data)
	r = get("?request_id=" + id)
	wantStatus(t, r, 200, "")
	if r.body != data {
		t.Errorf("body %q, want the stored file", r.body)
	}
	for k, v := range map[string]string{
		"Content-Disposition": "attachment; filename=traces.json", "Content-Type": "text/plain",
		"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache",
	} {
		if got := r.header.Get(k); got != v {
			t.Errorf("%s: %q, want %q", k, got, v)
		}
	}

	r = get("")
	wantStatus(t, r, 400, "BAD_REQUEST")
	if m := field(t, r.body, "message"); m != `Request must include the "request_id" query parameter.` {
		t.Errorf("message %q", m)
	}
	wantStatus(t, get("?request_id=nonexist"), 404, "RESOURCE_DOES_NOT_EXIST")
	// Only under the ajax prefix, as MLflow routes it.
	r = do(t, srv, "GET", strings.Replace(wire.PathGetTraceArtifact, wire.AjaxAPIPrefix, wire.APIPrefix, 1)+"?request_id="+id, "", "")
	if r.status != 404 {
		t.Errorf("under /api/2.0: %d", r.status)
	}
}

// TestTracesNeedATraceStore: a server given no TraceStore has no trace routes.
func TestTracesNeedATraceStore(t *testing.T) {
	srv := newAPIServer(t)
	for _, r := range []response{
		do(t, srv, "POST", wire.PathTraces, js, `{"experiment_id":"0"}`),
		do(t, srv, "GET", wire.PathGetTraceArtifact+"?request_id=x", "", ""),
	} {
		if r.status != 404 {
			t.Errorf("status %d: %s", r.status, r.body)
		}
	}
}

// TestMLflowClientTraces runs MLflow 2.17.2's own Python client against the
// server: @mlflow.trace functions log their traces (start, end, the data file
// through the artifact proxy), then the client searches, tags and deletes
// them (testdata/trace_client.py). It needs the real MLflow that
// shared/mlflow/setup installs (HOUSING_MLFLOW_PREFIX, default
// ${XDG_CACHE_HOME:-~/.cache}/housing-mlflow) and is skipped without it.
func TestMLflowClientTraces(t *testing.T) {
	if testing.Short() {
		t.Skip("starts MLflow's Python client")
	}
	prefix := os.Getenv("HOUSING_MLFLOW_PREFIX")
	if prefix == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			t.Skip(err)
		}
		prefix = filepath.Join(cache, "housing-mlflow")
	}
	envSh := filepath.Join(prefix, "2.17.2", "env.sh")
	if _, err := os.Stat(envSh); err != nil {
		t.Skipf("no MLflow 2.17.2 client: %v", err)
	}
	script, err := filepath.Abs(filepath.Join("testdata", "trace_client.py"))
	if err != nil {
		t.Fatal(err)
	}
	srv, _, _ := newTraceServer(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", `. "$1" && exec /usr/bin/python3 "$2"`, "bash", envSh, script)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MLFLOW_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "MLFLOW_TRACKING_URI="+srv.URL, "MLFLOW_DISABLE_TELEMETRY=true")
	cmd.Dir = t.TempDir()
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.HasSuffix(strings.TrimSpace(string(out)), "ok") {
		t.Fatalf("MLflow's client: %v\n%s", err, out)
	}
}
