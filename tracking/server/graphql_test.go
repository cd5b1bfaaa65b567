package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/mlops-lab/housing/internal/testenv"
	"github.com/mlops-lab/housing/tracking/server"
	"github.com/mlops-lab/housing/tracking/wire"
)

// gql posts a GraphQL request and returns the answer, which must be a 200.
func gql(t *testing.T, srv *httptest.Server, query string, vars map[string]any) (data map[string]any, errs []string) {
	t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		t.Fatal(err)
	}
	resp := do(t, srv, "POST", wire.PathGraphQL, "application/json; charset=utf-8", string(body))
	if resp.status != http.StatusOK {
		t.Fatalf("status %d: %s", resp.status, resp.body)
	}
	var out struct {
		Data   map[string]any `json:"data"`
		Errors []string       `json:"errors"`
	}
	if err := json.Unmarshal([]byte(resp.body), &out); err != nil {
		t.Fatalf("%s: %v", resp.body, err)
	}
	return out.Data, out.Errors
}

// at walks decoded JSON by object keys and array indexes.
func at(t *testing.T, v any, path ...any) any {
	t.Helper()
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("no object at %v (%v)", p, v)
			}
			v = m[k]
		case int:
			a, ok := v.([]any)
			if !ok || k >= len(a) {
				t.Fatalf("no element %d in %v", k, v)
			}
			v = a[k]
		}
	}
	return v
}

func post(t *testing.T, srv *httptest.Server, path, body string) string {
	t.Helper()
	resp := do(t, srv, "POST", path, "application/json", body)
	if resp.status != http.StatusOK {
		t.Fatalf("POST %s: %d %s", path, resp.status, resp.body)
	}
	return resp.body
}

// TestGraphQLShapes asks every query and mutation of MLflow 2.17.2's schema of
// one run with metrics, an artifact, a data set and a model version, and checks
// the answers' shapes: camelCase names, LongString values as strings, enums by
// name, unset values as MLflow's protobuf defaults ("0", "", []); on SQLite and
// PostgreSQL.
func TestGraphQLShapes(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		testGraphQLShapes(t, newAPIServer(t))
	})
	t.Run("postgresql", func(t *testing.T) {
		testGraphQLShapes(t, newAPIServerAt(t, testenv.PostgresURI(t)))
	})
}

func testGraphQLShapes(t *testing.T, srv *httptest.Server) {
	exp := field(t, post(t, srv, wire.PathCreateExperiment, `{"name":"gql"}`), "experiment_id")
	run := field(t, post(t, srv, wire.PathCreateRun, `{"experiment_id":"`+exp+`","run_name":"r","start_time":1700000000000}`), "run", "info", "run_id")
	var metrics []string
	for i := range 10 {
		metrics = append(metrics, fmt.Sprintf(`{"key":"loss","value":%d,"timestamp":%d,"step":%d}`, i, 1000+i, i))
	}
	post(t, srv, wire.PathLogBatch, `{"run_id":"`+run+`","metrics":[`+strings.Join(metrics, ",")+`],"params":[{"key":"depth","value":"5"}]}`)
	post(t, srv, wire.PathLogInputs, `{"run_id":"`+run+`","datasets":[{"tags":[{"key":"mlflow.data.context","value":"training"}],"dataset":{"name":"housing","digest":"abc","source_type":"local","source":"{}"}}]}`)
	if r := do(t, srv, "PUT", wire.PathArtifacts+"/"+exp+"/"+run+"/artifacts/dir/a.txt", "", "hello world"); r.status != http.StatusOK {
		t.Fatalf("upload: %d %s", r.status, r.body)
	}
	post(t, srv, wire.PathCreateRegisteredModel, `{"name":"m"}`)
	post(t, srv, wire.PathCreateModelVersion, `{"name":"m","source":"runs:/`+run+`/model","run_id":"`+run+`"}`)

	t.Run("GetRun", func(t *testing.T) {
		data, errs := gql(t, srv, `query q @component(name: "Test") {
			mlflowGetRun(input: {runId: "`+run+`"}) {
				run {
					info { runId runUuid runName experimentId status startTime endTime artifactUri lifecycleStage }
					data { metrics { key value step timestamp } params { key value } tags { key } }
					inputs { datasetInputs { tags { key value } dataset { name digest sourceType source schema profile } } }
					experiment { experimentId name creationTime tags { key } }
					modelVersions { name version status creationTimestamp aliases tags { key } }
				}
				apiError { code message helpUrl traceId errorDetails { field message } }
			}
		}`, nil)
		if errs != nil {
			t.Fatal(errs)
		}
		r := at(t, data, "mlflowGetRun", "run")
		want := map[string]any{
			"runId": run, "runUuid": run, "runName": "r", "experimentId": exp, "status": "RUNNING",
			"startTime": "1700000000000", "endTime": "0", "artifactUri": "mlflow-artifacts:/" + exp + "/" + run + "/artifacts",
			"lifecycleStage": "active",
		}
		if got := at(t, r, "info"); !reflect.DeepEqual(got, any(want)) {
			t.Errorf("info %v, want %v", got, want)
		}
		if got := at(t, r, "data", "metrics", 0); !reflect.DeepEqual(got, any(map[string]any{"key": "loss", "value": 9.0, "step": "9", "timestamp": "1009"})) {
			t.Errorf("latest metric %v", got)
		}
		if got := at(t, r, "inputs", "datasetInputs", 0, "dataset", "schema"); got != "" {
			t.Errorf("unset dataset schema %#v, want \"\"", got)
		}
		if got := at(t, r, "experiment", "name"); got != "gql" {
			t.Errorf("experiment name %v", got)
		}
		if got := at(t, r, "experiment", "tags"); !reflect.DeepEqual(got, any([]any{})) {
			t.Errorf("experiment tags %#v, want []", got)
		}
		if got := at(t, r, "modelVersions", 0); !reflect.DeepEqual(got, any(map[string]any{
			"name": "m", "version": "1", "status": "READY", "creationTimestamp": at(t, got, "creationTimestamp"),
			"aliases": []any{}, "tags": []any{},
		})) {
			t.Errorf("model version %v", got)
		}
		if _, isString := at(t, r, "modelVersions", 0, "creationTimestamp").(string); !isString {
			t.Errorf("creationTimestamp is not a LongString string")
		}
		if got := at(t, data, "mlflowGetRun", "apiError"); got != nil {
			t.Errorf("apiError %v, want null (MLflow 2.17.2 never sets it)", got)
		}
	})

	t.Run("SearchRunsIsAMutation", func(t *testing.T) {
		data, errs := gql(t, srv, `mutation { mlflowSearchRuns(input: {experimentIds: ["`+exp+`"], runViewType: ALL, maxResults: 5}) { runs { info { runId } data { params { key value } } } nextPageToken } }`, nil)
		if errs != nil {
			t.Fatal(errs)
		}
		want := map[string]any{
			"runs":          []any{map[string]any{"info": map[string]any{"runId": run}, "data": map[string]any{"params": []any{map[string]any{"key": "depth", "value": "5"}}}}},
			"nextPageToken": "",
		}
		if got := data["mlflowSearchRuns"]; !reflect.DeepEqual(got, any(want)) {
			t.Errorf("got %v, want %v", got, want)
		}
		if _, errs := gql(t, srv, `{ mlflowSearchRuns(input: {}) { nextPageToken } }`, nil); len(errs) != 1 {
			t.Errorf("mlflowSearchRuns as a query: errors %v, want one", errs)
		}
	})

	t.Run("ListArtifacts", func(t *testing.T) {
		data, errs := gql(t, srv, `fragment F on MlflowListArtifactsResponse { rootUri files { path isDir fileSize } }
			query { root: mlflowListArtifacts(input: {runId: "`+run+`"}) { ...F } sub: mlflowListArtifacts(input: {runUuid: "`+run+`", path: "dir"}) { ...F } }`, nil)
		if errs != nil {
			t.Fatal(errs)
		}
		if got, want := at(t, data, "root", "files"), []any{map[string]any{"path": "dir", "isDir": true, "fileSize": "0"}}; !reflect.DeepEqual(got, any(want)) {
			t.Errorf("root %v, want %v", got, want)
		}
		if got, want := at(t, data, "sub", "files"), []any{map[string]any{"path": "dir/a.txt", "isDir": false, "fileSize": "11"}}; !reflect.DeepEqual(got, any(want)) {
			t.Errorf("dir %v, want %v", got, want)
		}
	})

	// A deliberate difference: maxResults, startStep and endStep are the input's
	// (MLflow 2.17.2 reads them from the query string, so ignores them here).
	t.Run("BulkIntervalTakesItsInput", func(t *testing.T) {
		data, errs := gql(t, srv, `query($runs: [String]) { mlflowGetMetricHistoryBulkInterval(input: {runIds: $runs, metricKey: "loss", maxResults: 3}) { metrics { step value runId } } }`,
			map[string]any{"runs": []string{run}})
		if errs != nil {
			t.Fatal(errs)
		}
		var steps []any
		for _, m := range at(t, data, "mlflowGetMetricHistoryBulkInterval", "metrics").([]any) {
			steps = append(steps, at(t, m, "step"))
		}
		if want := []any{"0", "3", "6", "9"}; !reflect.DeepEqual(steps, want) {
			t.Errorf("sampled steps %v, want %v (as metrics/get-history-bulk-interval samples)", steps, want)
		}
		data, errs = gql(t, srv, `{ mlflowGetMetricHistoryBulkInterval(input: {runIds: ["`+run+`"], metricKey: "loss", startStep: 2, endStep: 3}) { metrics { step } } }`, nil)
		if errs != nil || len(at(t, data, "mlflowGetMetricHistoryBulkInterval", "metrics").([]any)) != 2 {
			t.Errorf("steps 2..3: %v %v", data, errs)
		}
		if _, errs := gql(t, srv, `{ mlflowGetMetricHistoryBulkInterval(input: {runIds: ["`+run+`"], metricKey: "loss", maxResults: 2501}) { metrics { step } } }`, nil); len(errs) != 1 || !strings.Contains(errs[0], "max_results") {
			t.Errorf("maxResults 2501: errors %v, want the REST API's max_results error", errs)
		}
	})

	t.Run("SearchDatasetsAndModelVersions", func(t *testing.T) {
		data, errs := gql(t, srv, `mutation { mlflowSearchDatasets(input: {experimentIds: ["`+exp+`"]}) { datasetSummaries { experimentId name digest context } } }`, nil)
		if errs != nil {
			t.Fatal(errs)
		}
		want := []any{map[string]any{"experimentId": exp, "name": "housing", "digest": "abc", "context": "training"}}
		if got := at(t, data, "mlflowSearchDatasets", "datasetSummaries"); !reflect.DeepEqual(got, any(want)) {
			t.Errorf("got %v, want %v", got, want)
		}
		data, errs = gql(t, srv, `query($n: LongString) { mlflowSearchModelVersions(input: {filter: "name = 'm'", maxResults: $n}) { modelVersions { name runId } } }`,
			map[string]any{"n": "10"})
		if errs != nil {
			t.Fatal(errs)
		}
		if got := at(t, data, "mlflowSearchModelVersions", "modelVersions", 0, "runId"); got != run {
			t.Errorf("model version's run %v, want %s", got, run)
		}
	})

	t.Run("Introspection", func(t *testing.T) {
		data, errs := gql(t, srv, `{ __type(name: "MlflowRunExtension") { fields { name } } ls: __type(name: "LongString") { kind description } }`, nil)
		if errs != nil {
			t.Fatal(errs)
		}
		var names []string
		for _, f := range at(t, data, "__type", "fields").([]any) {
			names = append(names, at(t, f, "name").(string))
		}
		if want := []string{"info", "data", "inputs", "experiment", "modelVersions"}; !reflect.DeepEqual(names, want) {
			t.Errorf("MlflowRunExtension fields %v, want %v", names, want)
		}
		if got := at(t, data, "ls", "description"); got != "LongString Scalar type to prevent truncation to max integer in JavaScript." {
			t.Errorf("LongString description %q", got)
		}
	})
}

// TestGraphQLErrors: what fails inside GraphQL is a 200 with the messages in
// "errors" (MLflow's shape: strings, not objects); a request that is not
// GraphQL at all is the REST API's 400.
func TestGraphQLErrors(t *testing.T) {
	srv := newAPIServer(t)

	resp := do(t, srv, "POST", wire.PathGraphQL, "application/json", `{"query":"query testQuery {test(inputString: \"abc\") { output }}","operationName":"testQuery"}`)
	if want := `{"data":{"test":{"output":"abc"}},"errors":null}` + "\n"; resp.status != http.StatusOK || resp.body != want {
		t.Errorf("echo: %d %q, want 200 %q (Flask's jsonify)", resp.status, resp.body, want)
	}

	data, errs := gql(t, srv, `{ mlflowGetExperiment(input: {experimentId: "4242"}) { experiment { name } } }`, nil)
	if !reflect.DeepEqual(data, map[string]any{"mlflowGetExperiment": nil}) || len(errs) != 1 || !strings.Contains(errs[0], "4242") || strings.HasPrefix(errs[0], "RESOURCE_DOES_NOT_EXIST") {
		t.Errorf("missing experiment: data %v errors %q, want a null field and the store's message alone", data, errs)
	}
	data, errs = gql(t, srv, `{ mlflowGetRun(input: {}) { run { info { runId } } } }`, nil)
	if data["mlflowGetRun"] != nil || len(errs) != 1 || !strings.Contains(errs[0], "Missing value for required parameter 'run_id'") {
		t.Errorf("run without id: %v %q", data, errs)
	}
	for name, q := range map[string]string{
		"syntax":        `{ mlflowGetExperiment(input: {experimentId: "0"}) { experiment { name } }`,
		"unknown field": `{ mlflowGetExperiment(input: {experimentId: "0"}) { experiment { nam } } }`,
		"bad enum":      `mutation { mlflowSearchRuns(input: {runViewType: SOME}) { nextPageToken } }`,
		"bad directive": `query q @component { test(inputString: "x") { output } }`,
	} {
		if data, errs := gql(t, srv, q, nil); data != nil || len(errs) == 0 {
			t.Errorf("%s: data %v errors %v, want null data and errors", name, data, errs)
		}
	}

	for _, c := range []struct{ name, method, contentType, body string }{
		{"no query", "POST", "application/json", `{"variables":{}}`},
		{"not JSON", "POST", "application/json", `query { test }`},
		{"no body", "GET", "", ``},
	} {
		wantStatus(t, do(t, srv, c.method, wire.PathGraphQL, c.contentType, c.body), http.StatusBadRequest, "INVALID_PARAMETER_VALUE")
	}
	r := do(t, srv, "POST", wire.PathGraphQL, "text/plain", `{"query":"{ test(inputString: \"x\") { output } }"}`)
	wantStatus(t, r, http.StatusBadRequest, "INVALID_PARAMETER_VALUE")
	if !strings.Contains(r.body, "Content-Type must be one of ['application/json']") {
		t.Errorf("wrong content type: %s", r.body)
	}
	if r := do(t, srv, "GET", wire.PathGraphQL, "", `{"query":"{ test(inputString: \"x\") { output } }"}`); r.status != http.StatusOK || !strings.Contains(r.body, `"output":"x"`) {
		t.Errorf("GET with a JSON body, as MLflow takes it: %d %s", r.status, r.body)
	}
	if r := do(t, srv, "POST", wire.AjaxAPIPrefix+wire.PathGraphQL, "application/json", `{"query":"{ test { output } }"}`); r.status != http.StatusNotFound {
		t.Errorf("/ajax-api/2.0/graphql: %d, want 404 (MLflow serves /graphql at the root only)", r.status)
	}
}

// TestGraphQLLimits: MLflow 3's limits on one request (depth 10, 1000
// selections with fragments expanded, 10 root fields).
func TestGraphQLLimits(t *testing.T) {
	srv := newAPIServer(t)
	nested := func(depth int) string { // __schema, queryType, fields, type and ofType... down to name
		s := "name"
		for range depth - 5 {
			s = "ofType { " + s + " }"
		}
		return "{ __schema { queryType { fields { type { " + s + " } } } } }"
	}
	if _, errs := gql(t, srv, nested(10), nil); errs != nil {
		t.Errorf("depth 10: %v", errs)
	}
	if data, errs := gql(t, srv, nested(11), nil); data != nil || len(errs) != 1 || !strings.Contains(errs[0], "exceeds max depth 10") {
		t.Errorf("depth 11: %v %v", data, errs)
	}

	var aliases []string
	for i := range 120 {
		aliases = append(aliases, fmt.Sprintf("a%d: info { ...F }", i))
	}
	fanout := `fragment F on MlflowRunInfo { runId runUuid runName experimentId userId status startTime endTime artifactUri lifecycleStage }
		{ mlflowGetRun(input: {runId: "x"}) { run { ` + strings.Join(aliases, " ") + ` } } }`
	if data, errs := gql(t, srv, fanout, nil); data != nil || len(errs) != 1 || !strings.Contains(errs[0], "too many selections") {
		t.Errorf("1200 selections through a fragment: %v %v", data, errs)
	}

	var roots []string
	for i := range 11 {
		roots = append(roots, fmt.Sprintf(`t%d: testMutation(inputString: "%d") { output }`, i, i))
	}
	data, errs := gql(t, srv, "mutation { "+strings.Join(roots, " ")+" }", nil)
	if data["t9"] == nil || data["t10"] != nil || !reflect.DeepEqual(errs, []string{"GraphQL queries should have at most 10 root fields"}) {
		t.Errorf("11 root fields: data %v errors %q, want the 11th refused", data, errs)
	}
}

// TestGraphQLInternalErrors: a store that fails, or a resolver that panics
// (unreachableStore has no GetRun), is "Internal server error" in "errors",
// with the cause in the server's log and not in the answer.
func TestGraphQLInternalErrors(t *testing.T) {
	srv, logs := newFramingServer(t, server.Options{})
	data, errs := gql(t, srv, `{ e: mlflowGetExperiment(input: {experimentId: "1"}) { experiment { name } } r: mlflowGetRun(input: {runId: "x"}) { run { info { runId } } } }`, nil)
	if data["e"] != nil || data["r"] != nil || !reflect.DeepEqual(errs, []string{"Internal server error", "Internal server error"}) {
		t.Errorf("data %v errors %q, want two nulls and two internal errors", data, errs)
	}
	for _, want := range []string{"secret-dsn", "panic in a GraphQL resolver"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
}
