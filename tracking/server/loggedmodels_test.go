package server_test

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlops-lab/housing/tracking/artifacts"
	"github.com/mlops-lab/housing/tracking/server"
	"github.com/mlops-lab/housing/tracking/sqlstore"
	"github.com/mlops-lab/housing/tracking/wire"
)

// newLoggedModelServer serves a real SQLite store at MLflow 3's schema, with
// a real local artifact repository behind mlflow-artifacts:/.
func newLoggedModelServer(t *testing.T) (*httptest.Server, *artifacts.Local) {
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
	srv := httptest.NewServer(server.New(store, repo, server.Options{LoggedModels: store}))
	t.Cleanup(srv.Close)
	return srv, repo
}

func TestLoggedModelEndpoints(t *testing.T) {
	srv, repo := newLoggedModelServer(t)
	call := func(method, path, body string) response {
		t.Helper()
		ct := ""
		if body != "" {
			ct = js
		}
		return do(t, srv, method, path, ct, body)
	}
	r := call("POST", wire.PathCreateExperiment, `{"name":"logged models"}`)
	wantStatus(t, r, 200, "")
	exp := field(t, r.body, "experiment_id")
	r = call("POST", wire.PathCreateRun, `{"experiment_id":"`+exp+`"}`)
	wantStatus(t, r, 200, "")
	run := field(t, r.body, "run", "info", "run_id")

	// Create: MLflow 3's shape, PENDING, under the experiment's models/.
	r = call("POST", wire.PathLoggedModels, `{"experiment_id":"`+exp+`","name":"rf","model_type":"sklearn","source_run_id":"`+run+`",
		"params":[{"key":"max_depth","value":"5"}],"tags":[{"key":"lab","value":"housing"}]}`)
	wantStatus(t, r, 200, "")
	equalKeys(t, "model.info", keysAt(t, r.body, "model", "info"), []string{"model_id", "experiment_id", "name",
		"creation_timestamp_ms", "last_updated_timestamp_ms", "artifact_uri", "status", "model_type", "source_run_id", "tags"})
	id := field(t, r.body, "model", "info", "model_id")
	if loc := field(t, r.body, "model", "info", "artifact_uri"); loc != "mlflow-artifacts:/"+exp+"/models/"+id+"/artifacts" {
		t.Errorf("artifact_uri %s", loc)
	}
	if s := field(t, r.body, "model", "info", "status"); s != "LOGGED_MODEL_PENDING" {
		t.Errorf("status %s", s)
	}
	wantStatus(t, call("POST", wire.PathLoggedModels, `{}`), 400, "INVALID_PARAMETER_VALUE")
	single := wire.PathLoggedModels + "/" + id

	// Finalize by name and by number; an unknown status is refused.
	r = call("PATCH", single, `{"model_id":"`+id+`","status":"LOGGED_MODEL_READY"}`)
	wantStatus(t, r, 200, "")
	if s := field(t, r.body, "model", "info", "status"); s != "LOGGED_MODEL_READY" {
		t.Errorf("finalized status %s", s)
	}
	wantStatus(t, call("PATCH", single, `{"status":"LOGGED_MODEL_READY"}`), 400, "INVALID_PARAMETER_VALUE") // no model_id, as MLflow
	r = call("PATCH", single, `{"model_id":"`+id+`","status":3}`)
	wantStatus(t, r, 200, "")
	if s := field(t, r.body, "model", "info", "status"); s != "LOGGED_MODEL_UPLOAD_FAILED" {
		t.Errorf("finalized status %s", s)
	}
	wantStatus(t, call("PATCH", single, `{"model_id":"`+id+`","status":"DONE"}`), 400, "INVALID_PARAMETER_VALUE")

	// Tags, params, and a metric logged with the model's id.
	wantStatus(t, call("PATCH", single+"/tags", `{"tags":[{"key":"k","value":"v"}]}`), 200, "")
	wantStatus(t, call("DELETE", single+"/tags/lab", ""), 200, "")
	wantStatus(t, call("DELETE", single+"/tags/lab", ""), 404, "RESOURCE_DOES_NOT_EXIST")
	wantStatus(t, call("POST", single+"/params", `{"params":[{"key":"seed","value":"42"}]}`), 200, "")
	wantStatus(t, call("POST", wire.PathLogMetric, `{"run_id":"`+run+`","key":"r2","value":0.8,"timestamp":5,"step":1,
		"model_id":"`+id+`","dataset_name":"test","dataset_digest":"abc"}`), 200, "")
	r = call("GET", "/ajax-api/2.0/mlflow/logged-models/"+id, "")
	wantStatus(t, r, 200, "")
	if k := field(t, r.body, "model", "info", "tags", "0", "key"); k != "k" {
		t.Errorf("tag %s", k)
	}
	if p := field(t, r.body, "model", "data", "params", "1", "key"); p != "seed" {
		t.Errorf("params %s", r.body)
	}
	equalKeys(t, "metric", keysAt(t, r.body, "model", "data", "metrics", "0"),
		[]string{"key", "value", "timestamp", "step", "dataset_name", "dataset_digest", "model_id", "run_id"})

	// Search: filter, data sets, order, pages.
	r = call("POST", wire.PathSearchLoggedModels, `{"experiment_ids":["`+exp+`"],"filter":"metrics.r2 > 0.5 AND params.seed = '42'",
		"datasets":[{"dataset_name":"test"}],"order_by":[{"field_name":"metrics.r2","ascending":false}]}`)
	wantStatus(t, r, 200, "")
	if got := field(t, r.body, "models", "0", "info", "model_id"); got != id {
		t.Errorf("search: %s", r.body)
	}
	r = call("POST", wire.PathSearchLoggedModels, `{"experiment_ids":["`+exp+`"],"filter":"name = 'other'"}`)
	wantStatus(t, r, 200, "")
	if strings.TrimSpace(r.body) != "{}" {
		t.Errorf("empty search answered %s", r.body)
	}
	wantStatus(t, call("POST", wire.PathSearchLoggedModels, `{"experiment_ids":["`+exp+`"],"filter":"name ~ 'x'"}`), 400, "INVALID_PARAMETER_VALUE")
	wantStatus(t, call("POST", wire.PathSearchLoggedModels, `{}`), 400, "INVALID_PARAMETER_VALUE")

	// Outputs and model inputs show on the run.
	wantStatus(t, call("POST", wire.PathLogOutputs, `{"run_id":"`+run+`","models":[{"model_id":"`+id+`","step":2}]}`), 200, "")
	wantStatus(t, call("POST", wire.PathLogInputs, `{"run_id":"`+run+`","models":[{"model_id":"`+id+`"}]}`), 200, "")
	// Deliberately unlike MLflow 3.11.1 (which accepts it and logs nothing),
	// a body with neither datasets nor models is refused, as MLflow 2.17.2 does.
	r = call("POST", wire.PathLogInputs, `{"run_id":"`+run+`"}`)
	wantStatus(t, r, 400, "INVALID_PARAMETER_VALUE")
	if m := field(t, r.body, "message"); !strings.Contains(m, "'datasets'") {
		t.Errorf("log-inputs without datasets: %s", m)
	}
	r = call("GET", wire.PathGetRun+"?run_id="+run, "")
	wantStatus(t, r, 200, "")
	if got := field(t, r.body, "run", "outputs", "model_outputs", "0", "step"); got != "2" {
		t.Errorf("run outputs: %s", r.body)
	}
	if got := field(t, r.body, "run", "inputs", "model_inputs", "0", "model_id"); got != id {
		t.Errorf("run model inputs: %s", r.body)
	}

	// Artifacts: listed relative to the model's location, one file sent
	// under the ajax prefix only.
	if err := repo.Put(context.Background(), exp+"/models/"+id+"/artifacts/MLmodel", strings.NewReader("model_id: "+id+"\n"), -1); err != nil {
		t.Fatal(err)
	}
	r = call("GET", single+"/artifacts/directories", "")
	wantStatus(t, r, 200, "")
	if p := field(t, r.body, "files", "0", "path"); p != "MLmodel" {
		t.Errorf("listing %s", r.body)
	}
	files := "/ajax-api/2.0/mlflow/logged-models/" + id + "/artifacts/files"
	r = call("GET", files+"?artifact_file_path=MLmodel", "")
	if r.status != 200 || !strings.Contains(r.body, id) {
		t.Errorf("download: %d %s", r.status, r.body)
	}
	wantStatus(t, call("GET", files, ""), 400, "BAD_REQUEST")
	if r := call("GET", single+"/artifacts/files?artifact_file_path=MLmodel", ""); r.status != 404 {
		t.Errorf("artifact file under /api: %d, want 404 (MLflow serves it under the ajax prefix only)", r.status)
	}

	// A version from the model names it in the model's mlflow.modelVersions.
	wantStatus(t, call("POST", wire.PathCreateRegisteredModel, `{"name":"california-housing"}`), 200, "")
	for range 2 {
		wantStatus(t, call("POST", wire.PathCreateModelVersion, `{"name":"california-housing","source":"models:/`+id+`","model_id":"`+id+`"}`), 200, "")
	}
	r = call("GET", single, "")
	var versions string
	for i := range 2 { // tags k and mlflow.modelVersions
		if field(t, r.body, "model", "info", "tags", itoa(i), "key") == "mlflow.modelVersions" {
			versions = field(t, r.body, "model", "info", "tags", itoa(i), "value")
		}
	}
	if want := `[{"name": "california-housing", "version": 1}, {"name": "california-housing", "version": 2}]`; versions != want {
		t.Errorf("mlflow.modelVersions %q\n                 want %q", versions, want)
	}

	// Delete: gone from get and search, still there with allow_deleted.
	wantStatus(t, call("DELETE", single, ""), 200, "")
	wantStatus(t, call("GET", single, ""), 404, "RESOURCE_DOES_NOT_EXIST")
	wantStatus(t, call("GET", single+"?allow_deleted=true", ""), 200, "")
}
