package server_test

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
)

// TestMLflowWebUICalls makes the REST calls of MLflow 2.17's own web UI, as its
// sources send them (ajax-api prefix; GET with query strings; POST, PATCH and
// DELETE with JSON bodies; the fields it adds, such as run_view_type), in the
// order of a user creating an experiment, looking at a run, registering and
// promoting a model and cleaning up. Each must answer 200 with JSON. The UI
// itself cannot run here (it ships only inside MLflow's Python wheel); its calls
// were read from its MlflowService.ts, model-registry services.ts and
// SampledMetricHistoryService.ts. Not served: the prompt lab
// (runs/create-promptlab-run, gateway-proxy) and the Traces tab (traces/...).
func TestMLflowWebUICalls(t *testing.T) {
	srv := newAPIServer(t)
	const ajax = "/ajax-api/2.0/mlflow/"
	call := func(method, path string, body map[string]any) string {
		t.Helper()
		var b []byte
		contentType := ""
		if body != nil {
			b, _ = json.Marshal(body)
			contentType = "application/json"
		}
		r := do(t, srv, method, ajax+path, contentType, string(b))
		if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
			t.Fatalf("%s %s: %d %s %s", method, path, r.status, r.header.Get("Content-Type"), r.body)
		}
		return r.body
	}
	q := url.QueryEscape

	exp := field(t, call("POST", "experiments/create", map[string]any{"name": "ui-walk"}), "experiment_id")
	call("GET", "experiments/search?max_results=25&order_by="+q("last_update_time DESC")+"&view_type=ACTIVE_ONLY", nil)
	call("GET", "experiments/get?experiment_id="+exp, nil)
	call("GET", "experiments/get-by-name?experiment_name=ui-walk", nil)
	call("POST", "experiments/update", map[string]any{"experiment_id": exp, "new_name": "ui-walk-2"})
	call("POST", "experiments/set-experiment-tag", map[string]any{"experiment_id": exp, "key": "mlflow.note.content", "value": "notes"})

	created := call("POST", "runs/create", map[string]any{"experiment_id": exp, "run_name": "from-ui", "start_time": 1700000000000,
		"tags": []map[string]string{{"key": "mlflow.user", "value": "ui"}}})
	run, artifactURI := field(t, created, "run", "info", "run_id"), field(t, created, "run", "info", "artifact_uri")
	call("POST", "runs/log-metric", map[string]any{"run_id": run, "key": "r2", "value": 0.8, "timestamp": 1700000000001, "step": 0})
	call("POST", "runs/log-parameter", map[string]any{"run_id": run, "key": "max_depth", "value": "10"})
	call("POST", "runs/set-tag", map[string]any{"run_id": run, "key": "mlflow.note.content", "value": "a note"})
	call("POST", "runs/delete-tag", map[string]any{"run_id": run, "key": "mlflow.note.content"})
	call("POST", "runs/update", map[string]any{"run_id": run, "run_name": "renamed-in-ui"})
	page := call("POST", "runs/search", map[string]any{"experiment_ids": []string{exp}, "filter": "", "run_view_type": "ACTIVE_ONLY",
		"max_results": 100, "order_by": []string{"attributes.start_time DESC"}})
	if got := field(t, page, "runs", "0", "info", "run_name"); got != "renamed-in-ui" {
		t.Errorf("runs/search: first run named %q", got)
	}
	call("POST", "experiments/search-datasets", map[string]any{"experiment_ids": []string{exp}})
	call("GET", "runs/get?run_id="+run, nil)
	call("GET", "artifacts/list?run_uuid="+run, nil)
	call("GET", "metrics/get-history?run_uuid="+run+"&metric_key=r2", nil)
	call("GET", "metrics/get-history-bulk-interval?run_ids="+run+"&metric_key=r2&max_results=320", nil)

	call("POST", "registered-models/create", map[string]any{"name": "ui-model"})
	call("GET", "registered-models/search?max_results=25&order_by="+q("name ASC")+"&filter="+q("name ILIKE '%ui%'"), nil)
	call("GET", "registered-models/get?name=ui-model", nil)
	call("PATCH", "registered-models/update", map[string]any{"name": "ui-model", "description": "from the UI"})
	call("POST", "registered-models/set-tag", map[string]any{"name": "ui-model", "key": "team", "value": "housing"})
	call("POST", "model-versions/create", map[string]any{"name": "ui-model", "source": artifactURI + "/model", "run_id": run})
	call("GET", "model-versions/search?filter="+q("run_id IN ('"+run+"')"), nil)
	call("GET", "model-versions/get?name=ui-model&version=1", nil)
	call("PATCH", "model-versions/update", map[string]any{"name": "ui-model", "version": "1", "description": "v1"})
	call("POST", "model-versions/transition-stage", map[string]any{"name": "ui-model", "version": "1", "stage": "Production", "archive_existing_versions": true})
	call("POST", "model-versions/set-tag", map[string]any{"name": "ui-model", "version": "1", "key": "validated", "value": "yes"})
	call("POST", "registered-models/alias", map[string]any{"name": "ui-model", "version": "1", "alias": "champion"})
	if got := field(t, call("GET", "registered-models/get?name=ui-model", nil), "registered_model", "aliases", "0", "alias"); got != "champion" {
		t.Errorf("registered-models/get after setting an alias: first alias %q", got)
	}
	call("DELETE", "registered-models/alias", map[string]any{"name": "ui-model", "version": "1", "alias": "champion"})
	call("DELETE", "model-versions/delete-tag", map[string]any{"name": "ui-model", "version": "1", "key": "validated"})
	call("DELETE", "registered-models/delete-tag", map[string]any{"name": "ui-model", "key": "team"})
	call("DELETE", "model-versions/delete", map[string]any{"name": "ui-model", "version": "1"})
	call("DELETE", "registered-models/delete", map[string]any{"name": "ui-model"})

	call("POST", "runs/delete", map[string]any{"run_id": run})
	call("POST", "runs/restore", map[string]any{"run_id": run})
	call("POST", "experiments/delete", map[string]any{"experiment_id": exp})
}
