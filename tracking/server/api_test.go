package server_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/mlops-lab/housing/tracking/artifacts"
	"github.com/mlops-lab/housing/tracking/search"
	"github.com/mlops-lab/housing/tracking/server"
	"github.com/mlops-lab/housing/tracking/sqlstore"
	"github.com/mlops-lab/housing/tracking/wire"
)

// newAPIServer serves a real SQLite store and a real local artifact repository,
// as `tracking-server` does by default.
func newAPIServer(t *testing.T) *httptest.Server {
	t.Helper()
	return newAPIServerAt(t, "sqlite:///"+filepath.Join(t.TempDir(), "mlflow.db"))
}

// newAPIServerAt is newAPIServer on the database at uri (SQLite or PostgreSQL).
func newAPIServerAt(t *testing.T, uri string) *httptest.Server {
	t.Helper()
	return newAPIServerOn(t, uri, server.Options{})
}

// newAPIServerWith is newAPIServer with options.
func newAPIServerWith(t *testing.T, opts server.Options) *httptest.Server {
	t.Helper()
	return newAPIServerOn(t, "sqlite:///"+filepath.Join(t.TempDir(), "mlflow.db"), opts)
}

// newAPIServerOn serves the database at uri with options.
func newAPIServerOn(t *testing.T, uri string, opts server.Options) *httptest.Server {
	t.Helper()
	dir := t.TempDir()
	store, err := sqlstore.Open(context.Background(), uri, sqlstore.Options{DefaultArtifactRoot: "mlflow-artifacts:/"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	repo, err := artifacts.NewLocal(filepath.Join(dir, "mlartifacts"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(server.New(store, repo, opts))
	t.Cleanup(srv.Close)
	return srv
}

// keysAt returns the keys, in order, of the JSON object reached by path
// (object keys, or "0", "1", ... for array elements).
func keysAt(t *testing.T, body string, path ...string) []string {
	t.Helper()
	var v any = json.RawMessage(body)
	for _, p := range path {
		raw := v.(json.RawMessage)
		if strings.HasPrefix(strings.TrimSpace(string(raw)), "[") {
			var arr []json.RawMessage
			if err := json.Unmarshal(raw, &arr); err != nil {
				t.Fatal(err)
			}
			i := 0
			for i = 0; i < len(arr) && p != itoa(i); i++ {
			}
			if i == len(arr) {
				t.Fatalf("no element %s in %s", p, raw)
			}
			v = arr[i]
			continue
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(raw, &obj); err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		next, ok := obj[p]
		if !ok {
			t.Fatalf("no key %q in %s", p, raw)
		}
		v = next
	}
	dec := json.NewDecoder(strings.NewReader(string(v.(json.RawMessage))))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not an object at %v: %s", path, v)
	}
	var keys []string
	for dec.More() {
		k, _ := dec.Token()
		keys = append(keys, k.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

func field(t *testing.T, body string, path ...string) string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("%s: %v", body, err)
	}
	for _, p := range path {
		switch x := v.(type) {
		case map[string]any:
			v = x[p]
		case []any:
			found := false
			for i := range x {
				if itoa(i) == p {
					v, found = x[i], true
				}
			}
			if !found {
				t.Fatalf("no element %s at %v in %s", p, path, body)
			}
		default:
			t.Fatalf("cannot index %v with %s in %s", v, p, body)
		}
	}
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return "<absent>"
	default:
		b, _ := json.Marshal(x)
		return string(b)
	}
}

func wantStatus(t *testing.T, got response, status int, code string) {
	t.Helper()
	if got.status != status {
		t.Fatalf("status %d, want %d: %s", got.status, status, got.body)
	}
	if code != "" {
		if c := field(t, got.body, "error_code"); c != code {
			t.Fatalf("error_code %s, want %s: %s", c, code, got.body)
		}
	}
}

func equalKeys(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s keys %v, want %v (MLflow's order)", what, got, want)
	}
}

const js = "application/json"

// TestTrackingFlow replays the tracking part of the captures (curl_demo) against
// a real SQLite store, checking statuses, error codes and the shapes MLflow sends.
func TestTrackingFlow(t *testing.T) {
	srv := newAPIServer(t)
	post := func(path, body string) response { return do(t, srv, "POST", path, js, body) }
	get := func(path string) response { return do(t, srv, "GET", path, "", "") }

	r := post(wire.PathCreateExperiment, `{"name":"curl-california-housing","tags":[{"key":"source","value":"curl"}]}`)
	wantStatus(t, r, 200, "")
	exp := field(t, r.body, "experiment_id")
	wantStatus(t, post(wire.PathCreateExperiment, `{"name":"curl-california-housing"}`), 400, "RESOURCE_ALREADY_EXISTS")

	r = get(wire.PathGetExperiment + "?experiment_id=" + exp)
	wantStatus(t, r, 200, "")
	equalKeys(t, "experiment", keysAt(t, r.body, "experiment"),
		[]string{"experiment_id", "name", "artifact_location", "lifecycle_stage", "last_update_time", "creation_time", "tags"})
	if loc := field(t, r.body, "experiment", "artifact_location"); loc != "mlflow-artifacts:/"+exp {
		t.Errorf("artifact_location %s", loc)
	}
	r = get(wire.PathGetExperiment + "?experiment_id=abc")
	wantStatus(t, r, 404, "RESOURCE_DOES_NOT_EXIST")
	r = get(wire.PathGetExperimentByName + "?experiment_name=does-not-exist")
	wantStatus(t, r, 404, "RESOURCE_DOES_NOT_EXIST")
	if m := field(t, r.body, "message"); m != "Could not find experiment with name 'does-not-exist'" {
		t.Errorf("message %q", m)
	}
	r = do(t, srv, "GET", "/ajax-api/2.0/mlflow/experiments/get?experiment_id=0", "", "")
	wantStatus(t, r, 200, "")

	r = post(wire.PathSearchExperiments, `{"max_results":1,"order_by":["name ASC"],"bogus":1}`)
	wantStatus(t, r, 200, "")
	if tok := field(t, r.body, "next_page_token"); tok != "eyJvZmZzZXQiOiAxfQ==" {
		t.Errorf("next_page_token %s", tok)
	}
	r = get(wire.PathSearchExperiments + "?filter=name%20LIKE%20%27curl%25%27&max_results=10")
	wantStatus(t, r, 200, "")
	if n := field(t, r.body, "experiments", "0", "name"); n != "curl-california-housing" {
		t.Errorf("GET search found %s", n)
	}

	// Runs.
	r = post(wire.PathCreateRun, `{"experiment_id":"`+exp+`","run_name":"curl-run-1","start_time":1795953075826,"tags":[{"key":"team","value":"oracle"}]}`)
	wantStatus(t, r, 200, "")
	equalKeys(t, "runs/create run", keysAt(t, r.body, "run"), []string{"info", "data"})
	equalKeys(t, "run info", keysAt(t, r.body, "run", "info"),
		[]string{"run_uuid", "experiment_id", "run_name", "user_id", "status", "start_time", "artifact_uri", "lifecycle_stage", "run_id"})
	run := field(t, r.body, "run", "info", "run_id")
	if uri := field(t, r.body, "run", "info", "artifact_uri"); uri != "mlflow-artifacts:/"+exp+"/"+run+"/artifacts" {
		t.Errorf("artifact_uri %s", uri)
	}
	wantStatus(t, post(wire.PathCreateRun, `{"experiment_id":"424242"}`), 404, "RESOURCE_DOES_NOT_EXIST")

	r = post(wire.PathLogBatch, `{"run_id":"`+run+`","metrics":[{"key":"r2","value":0.81,"timestamp":1795953075826,"step":0},{"key":"loss","value":1.5,"timestamp":1795953075826,"step":1},{"key":"loss","value":0.7,"timestamp":1795953075827,"step":2}],"params":[{"key":"alpha","value":"0.5"}],"tags":[{"key":"dataset","value":"california-housing"}]}`)
	wantStatus(t, r, 200, "")
	if r.body != "{}" {
		t.Errorf("log-batch body %q", r.body)
	}
	wantStatus(t, post(wire.PathLogBatch, `{"run_id":"`+run+`","params":[{"key":"alpha","value":"0.5"}]}`), 200, "")
	wantStatus(t, post(wire.PathLogBatch, `{"run_id":"`+run+`","params":[{"key":"alpha","value":"0.9"}]}`), 400, "INVALID_PARAMETER_VALUE")
	wantStatus(t, post(wire.PathLogBatch, `{"run_id":"00000000000000000000000000000000","metrics":[{"key":"r2","value":1,"timestamp":1,"step":0}]}`), 404, "RESOURCE_DOES_NOT_EXIST")
	wantStatus(t, post(wire.PathLogMetric, `{"run_uuid":"`+run+`","key":"mae","value":0.4,"timestamp":1795953075826,"step":0,"run_id":"`+run+`"}`), 200, "")
	wantStatus(t, post(wire.PathLogParam, `{"run_id":"`+run+`","key":"max_iter","value":"100"}`), 200, "")
	wantStatus(t, post(wire.PathSetTag, `{"run_id":"`+run+`","key":"stage","value":"dev"}`), 200, "")
	wantStatus(t, post(wire.PathLogBatch, `{"run_id":"`+run+`","metrics":[{"key":"weird","value":"NaN","timestamp":1,"step":0},{"key":"weird","value":"Infinity","timestamp":1,"step":1},{"key":"weird","value":"-Infinity","timestamp":1,"step":2}]}`), 200, "")

	r = get(wire.PathGetMetricHistory + "?run_id=" + run + "&metric_key=weird")
	wantStatus(t, r, 200, "")
	if !strings.Contains(r.body, `"value": "NaN"`) || !strings.Contains(r.body, `"value": 1.7976931348623157e+308`) ||
		!strings.Contains(r.body, `"value": -1.7976931348623157e+308`) {
		t.Errorf("NaN/Infinity history:\n%s", r.body)
	}
	r = get(wire.PathGetMetricHistoryBulkInterval + "?run_ids=" + run + "&metric_key=loss&max_results=1")
	wantStatus(t, r, 200, "")
	// MLflow keeps each run's first and last step beside the sample.
	if s := field(t, r.body, "metrics", "0", "step") + "," + field(t, r.body, "metrics", "1", "step"); s != "1,2" ||
		field(t, r.body, "metrics", "0", "run_id") != run {
		t.Errorf("bulk interval sampled to %s:\n%s", s, r.body)
	}

	r = get(wire.PathGetRun + "?run_uuid=" + run + "&run_id=" + run)
	wantStatus(t, r, 200, "")
	equalKeys(t, "runs/get run", keysAt(t, r.body, "run"), []string{"info", "data", "inputs"})
	equalKeys(t, "run data", keysAt(t, r.body, "run", "data"), []string{"metrics", "params", "tags"})
	if in := field(t, r.body, "run", "inputs"); in != "{}" {
		t.Errorf("inputs %s, want {}", in)
	}
	if r.body[len(r.body)-1] == '\n' || !strings.HasPrefix(r.body, "{\n  \"run\": {\n    \"info\"") {
		t.Errorf("framing: %q", r.body[:30])
	}

	r = post(wire.PathUpdateRun, `{"run_uuid":"`+run+`","status":"FINISHED","end_time":1795953080826,"run_id":"`+run+`"}`)
	wantStatus(t, r, 200, "")
	if e := field(t, r.body, "run_info", "end_time"); e != "1795953080826" {
		t.Errorf("end_time %s", e)
	}
	wantStatus(t, post(wire.PathUpdateRun, `{"run_id":"`+run+`","status":"SIDEWAYS"}`), 400, "INVALID_PARAMETER_VALUE")

	// log-model keeps MLflow's history tag.
	model := `{\"run_id\": \"` + run + `\", \"artifact_path\": \"model\", \"utc_time_created\": \"2026-11-29 11:51:11.923467\", \"model_uuid\": \"bb26\", \"flavors\": {\"python_function\": {\"model_path\": \"model.pkl\", \"config\": {\"x\": 1}}}, \"signature\": {\"inputs\": \"[]\"}}`
	wantStatus(t, post(wire.PathLogModel, `{"run_id":"`+run+`","model_json":"`+model+`"}`), 200, "")
	wantStatus(t, post(wire.PathLogModel, `{"run_id":"`+run+`","model_json":"`+model+`"}`), 200, "")
	wantStatus(t, post(wire.PathLogModel, `{"run_id":"`+run+`","model_json":"not json"}`), 400, "INVALID_PARAMETER_VALUE")
	r = get(wire.PathGetRun + "?run_id=" + run)
	entry := `{"run_id": "` + run + `", "artifact_path": "model", "utc_time_created": "2026-11-29 11:51:11.923467", "model_uuid": "bb26", "flavors": {"python_function": {"model_path": "model.pkl"}}}`
	if !strings.Contains(r.body, `"value": `+mustJSON(t, "["+entry+", "+entry+"]")) {
		t.Errorf("mlflow.log-model.history tag not as MLflow writes it:\n%s", r.body)
	}

	// Search.
	r2 := post(wire.PathCreateRun, `{"experiment_id":"`+exp+`","run_name":"curl-run-2"}`)
	run2 := field(t, r2.body, "run", "info", "run_id")
	wantStatus(t, post(wire.PathLogBatch, `{"run_id":"`+run2+`","metrics":[{"key":"r2","value":0.42,"timestamp":1,"step":0}]}`), 200, "")
	r = post(wire.PathSearchRuns, `{"experiment_ids":["`+exp+`"],"filter":"metrics.r2 > 0.5","order_by":["metrics.r2 DESC"],"max_results":10}`)
	wantStatus(t, r, 200, "")
	if got := field(t, r.body, "runs", "0", "info", "run_id"); got != run || strings.Contains(r.body, run2) {
		t.Errorf("filtered search:\n%s", r.body)
	}
	r = post(wire.PathSearchRuns, `{"experiment_ids":["`+exp+`"],"order_by":["metrics.r2 DESC"],"max_results":1,"page_token":"eyJvZmZzZXQiOiAxfQ=="}`)
	if pos, err := search.DecodeRunPageToken(field(t, r.body, "next_page_token")); err != nil || pos.Offset != 2 || len(pos.After) == 0 {
		t.Errorf("page 2's next token: %+v, %v", pos, err)
	}
	if got := field(t, r.body, "runs", "0", "info", "run_id"); got != run2 {
		t.Errorf("page 2:\n%s", r.body)
	}
	r = post(wire.PathSearchRuns, `{"experiment_ids":["`+exp+`"],"filter":"metrics.r2 > 5"}`)
	if r.status != 200 || r.body != "{}" {
		t.Errorf("no match: %d %q", r.status, r.body)
	}
	for _, bad := range []string{`"filter":"metrics.r2 >> 0.5"`, `"filter":"foo.r2 > 0.5"`, `"order_by":["metrics.r2 SIDEWAYS"]`, `"page_token":"garbage"`} {
		wantStatus(t, post(wire.PathSearchRuns, `{"experiment_ids":["`+exp+`"],`+bad+`}`), 400, "INVALID_PARAMETER_VALUE")
	}

	// Delete, restore, deleted runs refuse writes.
	wantStatus(t, post(wire.PathDeleteRun, `{"run_id":"`+run2+`"}`), 200, "")
	wantStatus(t, post(wire.PathLogParam, `{"run_id":"`+run2+`","key":"k","value":"v"}`), 400, "INVALID_PARAMETER_VALUE")
	r = post(wire.PathSearchRuns, `{"experiment_ids":["`+exp+`"],"run_view_type":"DELETED_ONLY"}`)
	if field(t, r.body, "runs", "0", "info", "run_id") != run2 {
		t.Errorf("DELETED_ONLY:\n%s", r.body)
	}
	wantStatus(t, post(wire.PathRestoreRun, `{"run_id":"`+run2+`"}`), 200, "")

	// Experiment lifecycle.
	r = post(wire.PathCreateExperiment, `{"name":"curl-to-delete"}`)
	e3 := field(t, r.body, "experiment_id")
	wantStatus(t, post(wire.PathUpdateExperiment, `{"experiment_id":"`+e3+`","new_name":"curl-to-delete-renamed"}`), 200, "")
	wantStatus(t, post(wire.PathDeleteExperiment, `{"experiment_id":"`+e3+`"}`), 200, "")
	if st := field(t, get(wire.PathGetExperiment+"?experiment_id="+e3).body, "experiment", "lifecycle_stage"); st != "deleted" {
		t.Errorf("after delete: %s", st)
	}
	wantStatus(t, post(wire.PathCreateExperiment, `{"name":"curl-to-delete-renamed"}`), 400, "RESOURCE_ALREADY_EXISTS")
	wantStatus(t, post(wire.PathRestoreExperiment, `{"experiment_id":"`+e3+`"}`), 200, "")
	wantStatus(t, post(wire.PathSetExperimentTag, `{"experiment_id":"`+exp+`","key":"owner","value":"oracle"}`), 200, "")
	wantStatus(t, post(wire.PathDeleteExperimentTag, `{"experiment_id":"`+exp+`","key":"owner"}`), 200, "")
	wantStatus(t, post(wire.PathDeleteTag, `{"run_id":"`+run+`","key":"stage"}`), 200, "")

	// Artifacts of the run, through the proxy and artifacts/list.
	root := exp + "/" + run + "/artifacts"
	wantStatus(t, do(t, srv, "PUT", wire.PathArtifacts+"/"+root+"/hello.txt", "text/plain", "hello from curl\n"), 200, "")
	wantStatus(t, do(t, srv, "PUT", wire.PathArtifacts+"/"+root+"/model/coef.json", js, `{"coef": [1.5, -2.0]}`), 200, "")
	r = get(wire.PathListArtifacts + "?run_id=" + run + "&path=model")
	want := `{
  "root_uri": "mlflow-artifacts:/` + root + `",
  "files": [
    {
      "path": "model/coef.json",
      "is_dir": false,
      "file_size": 21
    }
  ]
}`
	if r.body != want {
		t.Errorf("artifacts/list:\n%s\nwant\n%s", r.body, want)
	}
	if r = get(wire.PathListArtifacts + "?run_id=" + run + "&path=nope"); r.body != "{\n  \"root_uri\": \"mlflow-artifacts:/"+root+"\"\n}" {
		t.Errorf("missing path: %s", r.body)
	}
	if r = get(wire.PathListArtifacts + "?run_id=" + run + "&path=../.."); r.status != 400 || field(t, r.body, "message") != "Invalid path" {
		t.Errorf("traversal: %d %s", r.status, r.body)
	}
	wantStatus(t, get(wire.PathListArtifacts+"?run_id=00000000000000000000000000000000"), 404, "RESOURCE_DOES_NOT_EXIST")
	if r = get("/get-artifact?path=hello.txt&run_uuid=" + run); r.body != "hello from curl\n" || r.header.Get("Content-Length") != "16" {
		t.Errorf("/get-artifact: %d %q %v", r.status, r.body, r.header)
	}
}

func mustJSON(t *testing.T, s string) string {
	t.Helper()
	b, err := wire.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestRegistryFlow replays the registry part of the captures.
func TestRegistryFlow(t *testing.T) {
	srv := newAPIServer(t)
	post := func(path, body string) response { return do(t, srv, "POST", path, js, body) }
	get := func(path string) response { return do(t, srv, "GET", path, "", "") }

	exp := field(t, post(wire.PathCreateExperiment, `{"name":"e"}`).body, "experiment_id")
	run := field(t, post(wire.PathCreateRun, `{"experiment_id":"`+exp+`"}`).body, "run", "info", "run_id")
	root := exp + "/" + run + "/artifacts"
	wantStatus(t, do(t, srv, "PUT", wire.PathArtifacts+"/"+root+"/model/coef.json", js, `{"coef": [1.5, -2.0]}`), 200, "")

	r := post(wire.PathCreateRegisteredModel, `{"name":"curl-housing-model","tags":[{"key":"task","value":"regression"}],"description":"created by curl"}`)
	wantStatus(t, r, 200, "")
	equalKeys(t, "registered model", keysAt(t, r.body, "registered_model"),
		[]string{"name", "creation_timestamp", "last_updated_timestamp", "description", "tags"})
	wantStatus(t, post(wire.PathCreateRegisteredModel, `{"name":"curl-housing-model"}`), 400, "RESOURCE_ALREADY_EXISTS")

	r = post(wire.PathCreateModelVersion, `{"name":"curl-housing-model","source":"mlflow-artifacts:/`+root+`/model","run_id":"`+run+`","tags":[{"key":"k","value":"v"}],"description":"v1"}`)
	wantStatus(t, r, 200, "")
	equalKeys(t, "model version", keysAt(t, r.body, "model_version"),
		[]string{"name", "version", "creation_timestamp", "last_updated_timestamp", "current_stage", "description", "source", "run_id", "status", "tags", "run_link"})
	if v, st := field(t, r.body, "model_version", "version"), field(t, r.body, "model_version", "current_stage"); v != "1" || st != "None" {
		t.Errorf("version %s stage %s", v, st)
	}
	r = post(wire.PathCreateModelVersion, `{"name":"curl-housing-model","source":"runs:/`+run+`/model","run_id":"`+run+`"}`)
	wantStatus(t, r, 200, "")
	if d := field(t, r.body, "model_version", "description"); d != "" {
		t.Errorf("description %q, want present and empty", d)
	}
	wantStatus(t, post(wire.PathCreateModelVersion, `{"name":"no-such-model","source":"runs:/`+run+`/model"}`), 404, "RESOURCE_DOES_NOT_EXIST")

	wantStatus(t, post(wire.PathTransitionModelVersion, `{"name":"curl-housing-model","version":"1","stage":"Staging","archive_existing_versions":false}`), 200, "")
	wantStatus(t, post(wire.PathTransitionModelVersion, `{"name":"curl-housing-model","version":"1","stage":"Production","archive_existing_versions":true}`), 200, "")
	r = post(wire.PathTransitionModelVersion, `{"name":"curl-housing-model","version":"2","stage":"production","archive_existing_versions":true}`)
	if st := field(t, r.body, "model_version", "current_stage"); st != "Production" {
		t.Errorf("stage %s", st)
	}
	wantStatus(t, post(wire.PathTransitionModelVersion, `{"name":"curl-housing-model","version":"99","stage":"Staging"}`), 404, "RESOURCE_DOES_NOT_EXIST")

	r = get(wire.PathGetLatestVersions + "?name=curl-housing-model")
	if a, b := field(t, r.body, "model_versions", "0", "current_stage"), field(t, r.body, "model_versions", "1", "current_stage"); a != "Archived" || b != "Production" {
		t.Errorf("latest versions %s %s:\n%s", a, b, r.body)
	}
	r = post(wire.PathGetLatestVersions, `{"name":"curl-housing-model","stages":["Archived"]}`)
	if v := field(t, r.body, "model_versions", "0", "version"); v != "1" {
		t.Errorf("POST latest Archived: %s", r.body)
	}
	wantStatus(t, get(wire.PathGetLatestVersions+"?name=nope"), 404, "RESOURCE_DOES_NOT_EXIST")

	r = post(wire.PathRegisteredModelAlias, `{"name":"curl-housing-model","alias":"champion","version":"2"}`)
	if r.status != 200 || r.body != "{}" {
		t.Errorf("set alias: %d %s", r.status, r.body)
	}
	wantStatus(t, post(wire.PathRegisteredModelAlias, `{"name":"curl-housing-model","alias":"latest","version":"1"}`), 400, "INVALID_PARAMETER_VALUE")
	r = get(wire.PathRegisteredModelAlias + "?name=curl-housing-model&alias=champion")
	if a := field(t, r.body, "model_version", "aliases", "0"); a != "champion" {
		t.Errorf("alias get:\n%s", r.body)
	}
	wantStatus(t, get(wire.PathRegisteredModelAlias+"?name=curl-housing-model&alias=nope"), 400, "INVALID_PARAMETER_VALUE")
	r = get(wire.PathGetRegisteredModel + "?name=curl-housing-model")
	if a := field(t, r.body, "registered_model", "aliases", "0", "alias"); a != "champion" {
		t.Errorf("registered model aliases:\n%s", r.body)
	}

	r = get(wire.PathGetModelVersionDownloadURI + "?name=curl-housing-model&version=2")
	// As MLflow's store: a runs:/ source is the download URI as it is (MLflow's
	// clients resolve it); only the server's own artifact route follows it.
	if u := field(t, r.body, "artifact_uri"); u != "runs:/"+run+"/model" {
		t.Errorf("download uri of a runs:/ source: %s", u)
	}
	if r = get(wire.PathGetModelVersionArtifact + "?path=coef.json&name=curl-housing-model&version=1"); r.body != `{"coef": [1.5, -2.0]}` {
		t.Errorf("model-versions/get-artifact: %d %s", r.status, r.body)
	}

	wantStatus(t, post(wire.PathSetRegisteredModelTag, `{"name":"curl-housing-model","key":"owner","value":"oracle"}`), 200, "")
	wantStatus(t, post(wire.PathSetModelVersionTag, `{"name":"curl-housing-model","version":"2","key":"validated","value":"true"}`), 200, "")
	r = do(t, srv, "PATCH", wire.PathUpdateRegisteredModel, "application/x-www-form-urlencoded", `{"name":"curl-housing-model","description":"updated"}`)
	if d := field(t, r.body, "registered_model", "description"); d != "updated" {
		t.Errorf("PATCH update: %d %s", r.status, r.body)
	}
	r = do(t, srv, "PATCH", wire.PathUpdateModelVersion, js, `{"name":"curl-housing-model","version":"2","description":"v2 updated"}`)
	if d := field(t, r.body, "model_version", "description"); d != "v2 updated" {
		t.Errorf("PATCH version: %s", r.body)
	}
	r = get(wire.PathSearchRegisteredModels + "?filter=name%20LIKE%20%27curl%25%27")
	if n := field(t, r.body, "registered_models", "0", "name"); n != "curl-housing-model" {
		t.Errorf("search registered models: %s", r.body)
	}
	r = get(wire.PathSearchModelVersions + "?filter=name%3D%27curl-housing-model%27&max_results=10000")
	if n := field(t, r.body, "model_versions", "1", "name"); n != "curl-housing-model" {
		t.Errorf("search versions: %s", r.body)
	}
	wantStatus(t, do(t, srv, "DELETE", wire.PathDeleteModelVersionTag, js, `{"name":"curl-housing-model","version":"2","key":"validated"}`), 200, "")
	wantStatus(t, do(t, srv, "DELETE", wire.PathDeleteRegisteredModelTag, js, `{"name":"curl-housing-model","key":"owner"}`), 200, "")
	wantStatus(t, do(t, srv, "DELETE", wire.PathRegisteredModelAlias, js, `{"name":"curl-housing-model","alias":"champion"}`), 200, "")

	r = post(wire.PathCreateRegisteredModel, `{"name":"curl-tmp-model"}`)
	equalKeys(t, "bare registered model", keysAt(t, r.body, "registered_model"), []string{"name", "creation_timestamp", "last_updated_timestamp"})
	r = post(wire.PathRenameRegisteredModel, `{"name":"curl-tmp-model","new_name":"curl-tmp-model-2"}`)
	if n := field(t, r.body, "registered_model", "name"); n != "curl-tmp-model-2" {
		t.Errorf("rename: %s", r.body)
	}
	wantStatus(t, do(t, srv, "DELETE", wire.PathDeleteModelVersion, js, `{"name":"curl-housing-model","version":"1"}`), 200, "")
	wantStatus(t, do(t, srv, "DELETE", wire.PathDeleteRegisteredModel, js, `{"name":"curl-tmp-model-2"}`), 200, "")
	wantStatus(t, get(wire.PathGetRegisteredModel+"?name=curl-tmp-model-2"), 404, "RESOURCE_DOES_NOT_EXIST")
}
