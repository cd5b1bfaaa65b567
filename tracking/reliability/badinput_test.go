package reliability_test

import (
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlops-lab/housing/tracking/server"
	"github.com/mlops-lab/housing/tracking/wire"
)

// fixture is what the bad-input cases refer to: one experiment, one run with a
// param, one registered model with one version.
type fixture struct {
	expID, runID, model, dbPath string
}

func newFixture(t *testing.T, base, dir string) fixture {
	t.Helper()
	var exp struct {
		ExperimentID string `json:"experiment_id"`
	}
	mustJSON(t, "POST", base+wire.PathCreateExperiment, map[string]any{"name": "bad-input"}, &exp)
	var run struct {
		Run struct {
			Info struct {
				RunID       string `json:"run_id"`
				ArtifactURI string `json:"artifact_uri"`
			} `json:"info"`
		} `json:"run"`
	}
	mustJSON(t, "POST", base+wire.PathCreateRun, map[string]any{"experiment_id": exp.ExperimentID}, &run)
	id := run.Run.Info.RunID
	mustJSON(t, "POST", base+wire.PathLogParam, map[string]any{"run_id": id, "key": "p", "value": "1"}, nil)
	mustJSON(t, "POST", base+wire.PathCreateRegisteredModel, map[string]any{"name": "m"}, nil)
	mustJSON(t, "POST", base+wire.PathCreateModelVersion, map[string]any{
		"name": "m", "source": run.Run.Info.ArtifactURI + "/model", "run_id": id}, nil)
	return fixture{expID: exp.ExperimentID, runID: id, model: "m", dbPath: filepath.Join(dir, "mlflow.db")}
}

// badInput is one request that must be refused with a 4xx and MLflow's code.
type badInput struct {
	name   string
	method string
	path   string // with query string for GET
	body   string // sent as application/json when non-empty
	status int
	code   string
	msg    string // the message must contain this (it names the problem)
}

func badInputs(f fixture) []badInput {
	const (
		invalid  = "INVALID_PARAMETER_VALUE"
		notFound = "RESOURCE_DOES_NOT_EXIST"
	)
	long := func(n int) string { return strings.Repeat("k", n) }
	q := url.QueryEscape
	unknownRun := "0123456789abcdef0123456789abcdef"
	return []badInput{
		// Malformed JSON: MLflow parses it as {} (a truncated runs/create body creates
		// a run in the Default experiment); we deliberately refuse it, naming the
		// parse error.
		{"MalformedJSON", "POST", wire.PathCreateExperiment, `{"name":`, 400, invalid, "Malformed request body: invalid JSON: unexpected end of JSON input"},
		{"TruncatedCreateRun", "POST", wire.PathCreateRun, `{"experiment_id": `, 400, invalid, "Malformed request body"},
		{"NotAnObject", "POST", wire.PathCreateExperiment, `[1,2,3]`, 400, invalid, "expected a JSON object, got a JSON array"},
		{"DeeplyNested", "POST", wire.PathCreateExperiment, strings.Repeat("[", 100000), 400, invalid, "Malformed request body"},
		{"InvalidUTF8", "POST", wire.PathGetExperimentByName, "{\"experiment_name\":\"\xff\xfe\"}", 405, "BAD_REQUEST", "method is not allowed"},

		// No route: JSON, not the mux's plain text (MLflow sends Flask's HTML).
		{"UnknownEndpoint", "GET", "/api/2.0/mlflow/no-such-endpoint", "", 404, "ENDPOINT_NOT_FOUND", "not found on the server"},
		{"UnknownAPIVersion", "POST", "/api/3.0/mlflow/runs/create", `{}`, 404, "ENDPOINT_NOT_FOUND", "not found on the server"},
		{"WrongMethod", "GET", wire.PathCreateRun, "", 405, "BAD_REQUEST", "method is not allowed"},
		{"MissingContentType", "POST", wire.PathCreateExperiment, "", 400, invalid, "Content-Type"},

		// Wrong types.
		{"NameIsNumber", "POST", wire.PathCreateExperiment, `{"name":5}`, 400, invalid, "'name'"},
		{"MetricValueIsObject", "POST", wire.PathLogMetric,
			fmt.Sprintf(`{"run_id":%q,"key":"m","value":{"a":1},"timestamp":1}`, f.runID), 400, invalid, "'value'"},
		{"TimestampIsString", "POST", wire.PathLogMetric,
			fmt.Sprintf(`{"run_id":%q,"key":"m","value":1,"timestamp":"yesterday"}`, f.runID), 400, invalid, "'timestamp'"},
		{"BatchMetricsIsObject", "POST", wire.PathLogBatch,
			fmt.Sprintf(`{"run_id":%q,"metrics":{"key":"m"}}`, f.runID), 400, invalid, "'metrics'"},
		{"MaxResultsIsString", "GET", wire.PathGetMetricHistory + "?run_id=" + f.runID + "&metric_key=m&max_results=many", "", 400, invalid, "max_results"},
		{"NegativeMaxResults", "POST", wire.PathSearchRuns, `{"experiment_ids":["` + f.expID + `"],"max_results":-1}`, 400, invalid, "max_results"},
		{"HugeMaxResults", "POST", wire.PathSearchRuns, `{"experiment_ids":["` + f.expID + `"],"max_results":1000000}`, 400, invalid, "max_results"},
		{"RunStatusUnknown", "POST", wire.PathUpdateRun, fmt.Sprintf(`{"run_id":%q,"status":"EXPLODED"}`, f.runID), 400, invalid, "status"},

		// Oversize keys and values.
		{"MetricKeyTooLong", "POST", wire.PathLogMetric,
			fmt.Sprintf(`{"run_id":%q,"key":%q,"value":1,"timestamp":1}`, f.runID, long(251)), 400, invalid, "exceeded length limit of 250"},
		{"ExperimentNameTooLong", "POST", wire.PathCreateExperiment, fmt.Sprintf(`{"name":%q}`, long(300)), 400, invalid, "length limit"},
		{"ModelTagValueTooLong", "POST", wire.PathSetRegisteredModelTag,
			fmt.Sprintf(`{"name":%q,"key":"t","value":%q}`, f.model, long(5001)), 400, invalid, "5000"},
		{"BatchTooManyMetrics", "POST", wire.PathLogBatch, batchOf(f.runID, 1001), 400, invalid, "1000"},
		{"ParamOverwrite", "POST", wire.PathLogParam, fmt.Sprintf(`{"run_id":%q,"key":"p","value":"2"}`, f.runID), 400, invalid, "'p'"},

		// Unknown ids.
		{"UnknownRun", "GET", wire.PathGetRun + "?run_id=" + unknownRun, "", 404, notFound, unknownRun},
		{"MalformedRunID", "GET", wire.PathGetRun + "?run_id=" + q("../../etc/passwd"), "", 404, notFound, "../../etc/passwd"},
		{"UnknownRunLogBatch", "POST", wire.PathLogBatch, batchOf(unknownRun, 1), 404, notFound, unknownRun},
		{"UnknownExperiment", "GET", wire.PathGetExperiment + "?experiment_id=987654", "", 404, notFound, "987654"},
		{"NonNumericExperiment", "GET", wire.PathGetExperiment + "?experiment_id=abc", "", 404, notFound, "abc"},
		{"CreateRunUnknownExperiment", "POST", wire.PathCreateRun, `{"experiment_id":"987654"}`, 404, notFound, "987654"},
		{"UnknownModel", "GET", wire.PathGetRegisteredModel + "?name=nope", "", 404, notFound, "nope"},
		{"UnknownVersion", "GET", wire.PathGetModelVersion + "?name=m&version=99", "", 404, notFound, "99"},
		{"NonNumericVersion", "GET", wire.PathGetModelVersion + "?name=m&version=one", "", 400, invalid, "one"},

		// Invalid filters and order_by.
		{"RunFilterSyntax", "POST", wire.PathSearchRuns, `{"experiment_ids":["` + f.expID + `"],"filter":"metrics.r2 >>> 1"}`, 400, invalid, ">>>"},
		{"RunFilterUnknownEntity", "POST", wire.PathSearchRuns, `{"experiment_ids":["` + f.expID + `"],"filter":"bogus.x = 1"}`, 400, invalid, "bogus"},
		{"RunOrderBy", "POST", wire.PathSearchRuns, `{"experiment_ids":["` + f.expID + `"],"order_by":["metrics.r2 sideways"]}`, 400, invalid, "order_by"},
		{"ExperimentFilter", "POST", wire.PathSearchExperiments, `{"filter":"name === 'x'"}`, 400, invalid, ""},
		{"ModelFilter", "GET", wire.PathSearchRegisteredModels + "?filter=" + q("name LIKE"), "", 400, invalid, ""},
		{"VersionFilter", "GET", wire.PathSearchModelVersions + "?filter=" + q("run_id IN ("), "", 400, invalid, ""},

		// Invalid page tokens.
		{"RunPageToken", "POST", wire.PathSearchRuns, `{"experiment_ids":["` + f.expID + `"],"page_token":"!!not-a-token"}`, 400, invalid, "token"},
		{"ExperimentPageToken", "POST", wire.PathSearchExperiments, `{"page_token":"e30"}`, 400, invalid, "token"},
		{"ModelPageToken", "GET", wire.PathSearchRegisteredModels + "?page_token=" + q("%%%"), "", 400, invalid, "token"},
		{"VersionPageToken", "GET", wire.PathSearchModelVersions + "?page_token=bm90IGpzb24", "", 400, invalid, "token"},

		// Invalid stage and alias names.
		{"StageUnknown", "POST", wire.PathTransitionModelVersion, `{"name":"m","version":"1","stage":"Prod"}`, 400, invalid, "Prod"},
		{"LatestVersionsStage", "POST", wire.PathGetLatestVersions, `{"name":"m","stages":["Bogus"]}`, 400, invalid, "Bogus"},
		{"AliasReserved", "POST", wire.PathRegisteredModelAlias, `{"name":"m","alias":"latest","version":"1"}`, 400, invalid, "latest"},
		{"AliasLooksLikeVersion", "POST", wire.PathRegisteredModelAlias, `{"name":"m","alias":"v2","version":"1"}`, 400, invalid, "v2"},
		{"AliasBadCharacters", "POST", wire.PathRegisteredModelAlias, `{"name":"m","alias":"a/b","version":"1"}`, 400, invalid, "a/b"},
		{"AliasUnknownVersion", "POST", wire.PathRegisteredModelAlias, `{"name":"m","alias":"champion","version":"7"}`, 404, notFound, "7"},

		// Unicode and control characters in names.
		{"MetricKeyControlChar", "POST", wire.PathLogMetric,
			fmt.Sprintf(`{"run_id":%q,"key":"a\u0007b","value":1,"timestamp":1}`, f.runID), 400, invalid, "Names may only contain"},
		{"ParamKeyNUL", "POST", wire.PathLogParam, fmt.Sprintf(`{"run_id":%q,"key":"a\u0000b","value":"1"}`, f.runID), 400, invalid, "NUL"},
		{"TagKeyTraversal", "POST", wire.PathSetTag, fmt.Sprintf(`{"run_id":%q,"key":"a/../b","value":"1"}`, f.runID), 400, invalid, "resolve"},
		{"ExperimentNameNUL", "POST", wire.PathCreateExperiment, `{"name":"a\u0000b"}`, 400, invalid, "name"},
		{"ModelNameNUL", "POST", wire.PathCreateRegisteredModel, `{"name":"m\u0000"}`, 400, invalid, "name"},
		{"ModelNameTooLong", "POST", wire.PathCreateRegisteredModel, fmt.Sprintf(`{"name":%q}`, long(300)), 400, invalid, "length limit"},
		{"ModelDescriptionNUL", "PATCH", wire.PathUpdateRegisteredModel, `{"name":"m","description":"x\u0000"}`, 400, invalid, "description"},
		{"ParamValueNUL", "POST", wire.PathLogParam, fmt.Sprintf(`{"run_id":%q,"key":"q","value":"\u0000"}`, f.runID), 400, invalid, "value"},
		{"TagKeyTooLong", "POST", wire.PathSetExperimentTag, fmt.Sprintf(`{"experiment_id":%q,"key":%q,"value":"v"}`, f.expID, long(251)), 400, invalid, "length limit"},
		{"RunNameTooLong", "POST", wire.PathCreateRun, fmt.Sprintf(`{"experiment_id":%q,"run_name":%q}`, f.expID, long(300)), 400, invalid, "length limit"},
		{"ExperimentNameEmpty", "POST", wire.PathCreateExperiment, `{"name":""}`, 400, invalid, "'name'"},
		{"DuplicateExperiment", "POST", wire.PathCreateExperiment, `{"name":"bad-input"}`, 400, "RESOURCE_ALREADY_EXISTS", "bad-input"},

		// Artifact paths.
		{"ListArtifactsDotDot", "GET", wire.PathListArtifacts + "?run_id=" + f.runID + "&path=" + q("../../.."), "", 400, invalid, "Invalid path"},
		{"ListArtifactsAbsolute", "GET", wire.PathListArtifacts + "?run_id=" + f.runID + "&path=" + q("/etc"), "", 400, invalid, "Invalid path"},
		{"ListArtifactsEncoded", "GET", wire.PathListArtifacts + "?run_id=" + f.runID + "&path=" + q("%2e%2e/%2e%2e"), "", 400, invalid, "Invalid path"},
		{"GetArtifactDoubleEncoded", "GET", wire.PathGetArtifact + "?run_id=" + f.runID + "&path=" + q("%252e%252e/x"), "", 400, invalid, "Invalid path"},
		{"GetArtifactBackslash", "GET", wire.PathGetArtifact + "?run_id=" + f.runID + "&path=" + q(`..\..\x`), "", 400, invalid, "Invalid path"},
		{"GetArtifactNUL", "GET", wire.PathGetArtifact + "?run_id=" + f.runID + "&path=" + q("a\x00b"), "", 400, invalid, "Invalid path"},
		{"ProxiedDotDot", "GET", wire.PathArtifacts + "/a/%2e%2e/%2e%2e/etc/passwd", "", 400, invalid, "Invalid path"},
		{"ProxiedDoubleEncoded", "GET", wire.PathArtifacts + "/%252e%252e/x", "", 400, invalid, "Invalid path"},
		{"ProxiedBackslash", "PUT", wire.PathArtifacts + "/a%5c..%5cx", "x", 400, invalid, "Invalid path"},
		{"ModelArtifactDotDot", "GET", wire.PathGetModelVersionArtifact + "?name=m&version=1&path=" + q("../../mlflow.db"), "", 400, invalid, "Invalid path"},

		// Model version sources outside the run's artifacts or at the server's own files.
		{"SourceEtcPasswd", "POST", wire.PathCreateModelVersion, fmt.Sprintf(`{"name":"m","source":"/etc/passwd","run_id":%q}`, f.runID), 400, invalid, "/etc/passwd"},
		{"SourceFileURI", "POST", wire.PathCreateModelVersion, `{"name":"m","source":"file:///etc"}`, 400, invalid, "file:///etc"},
		{"SourceDatabase", "POST", wire.PathCreateModelVersion, fmt.Sprintf(`{"name":"m","source":%q,"run_id":%q}`, f.dbPath, f.runID), 400, invalid, "mlflow.db"},
		{"SourceRunsDotDot", "POST", wire.PathCreateModelVersion, fmt.Sprintf(`{"name":"m","source":"runs:/%s/../../x"}`, f.runID), 400, invalid, "Invalid model version source"},
		{"SourceEncodedDotDot", "POST", wire.PathCreateModelVersion, `{"name":"m","source":"mlflow-artifacts:/1/%2e%2e/%2e%2e/x"}`, 400, invalid, "Invalid model version source"},
		{"SourceDoubleEncodedDotDot", "POST", wire.PathCreateModelVersion, `{"name":"m","source":"s3://b/a/%252e%252e/x"}`, 400, invalid, "Invalid model version source"},
		{"SourceRelativeLocal", "POST", wire.PathCreateModelVersion, `{"name":"m","source":"../mlflow.db"}`, 400, invalid, "Invalid model version source"},
	}
}

// batchOf is a log-batch body with n metrics.
func batchOf(runID string, n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, `{"run_id":%q,"metrics":[`, runID)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"key":"m","value":%d,"timestamp":1,"step":%d}`, i, i)
	}
	b.WriteString("]}")
	return b.String()
}

func TestBadInputNeverReaches500(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			dir := t.TempDir()
			srv := storeServer(t, b.uri(t, dir), dir, server.Options{MaxBodyBytes: 1 << 20})
			f := newFixture(t, srv.URL, dir)
			for _, c := range badInputs(f) {
				t.Run(c.name, func(t *testing.T) { checkBadInput(t, srv.URL, c) })
			}
		})
	}
}

func checkBadInput(t *testing.T, base string, c badInput) {
	var body []byte
	if c.body != "" {
		body = []byte(c.body)
	}
	r := send(t, c.method, base+c.path, body)
	if r.status >= 500 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if r.status != c.status {
		t.Fatalf("status %d, want %d: %s", r.status, c.status, r.body)
	}
	if c.code == "" {
		return
	}
	e := r.errorBody(t)
	if e.ErrorCode != c.code {
		t.Errorf("error_code %s, want %s (message %q)", e.ErrorCode, c.code, e.Message)
	}
	if !strings.Contains(e.Message, c.msg) {
		t.Errorf("message %q does not name %q", e.Message, c.msg)
	}
}

func TestOversizeBodyIs413WithClearMessage(t *testing.T) {
	const limit = 64 << 10
	srv, _ := sqliteServer(t, server.Options{MaxBodyBytes: limit})
	body := fmt.Sprintf(`{"name":%q}`, strings.Repeat("x", 2*limit))
	for _, chunked := range []bool{false, true} {
		t.Run(fmt.Sprintf("chunked=%v", chunked), func(t *testing.T) {
			req, err := http.NewRequest("POST", srv.URL+wire.PathCreateExperiment, strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			if chunked {
				req.ContentLength = -1 // no Content-Length: the limit must hold while reading
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusRequestEntityTooLarge {
				t.Fatalf("status %d, want 413", resp.StatusCode)
			}
			var e errorBody
			if err := jsonDecode(resp.Body, &e); err != nil {
				t.Fatal(err)
			}
			if e.ErrorCode != "BAD_REQUEST" || !strings.Contains(e.Message, fmt.Sprint(limit)) {
				t.Errorf("answer %+v, want BAD_REQUEST naming the limit %d", e, limit)
			}
		})
	}
}

// TestUnicodeNamesRoundTrip: names outside ASCII, with tabs and emoji, are not
// bad input; they are stored and read back unchanged on every backend.
func TestUnicodeNamesRoundTrip(t *testing.T) {
	names := []string{"実験 · données", "tab\there", "emoji 🏠📈", "ß" + strings.Repeat("é", 255)}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			dir := t.TempDir()
			srv := storeServer(t, b.uri(t, dir), dir, server.Options{})
			for _, name := range names {
				var created struct {
					ExperimentID string `json:"experiment_id"`
				}
				mustJSON(t, "POST", srv.URL+wire.PathCreateExperiment, map[string]any{"name": name}, &created)
				var got struct {
					Experiment struct {
						Name string `json:"name"`
					} `json:"experiment"`
				}
				mustJSON(t, "GET", srv.URL+wire.PathGetExperimentByName+"?experiment_name="+url.QueryEscape(name), nil, &got)
				if got.Experiment.Name != name {
					t.Errorf("experiment name %q came back as %q", name, got.Experiment.Name)
				}
				mustJSON(t, "POST", srv.URL+wire.PathCreateRegisteredModel, map[string]any{"name": name}, nil)
			}
		})
	}
}
