package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mlops-lab/housing/internal/testenv"
	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/artifacts"
	"github.com/mlops-lab/housing/tracking/server"
	"github.com/mlops-lab/housing/tracking/sqlstore"
	"github.com/mlops-lab/housing/tracking/wire"
)

// ajaxServer is a server over a real SQL store and a real local artifacts
// destination, opening other artifact URIs (file:, s3:) as tracking-server does.
type ajaxServer struct {
	*httptest.Server
	dir string // the artifacts destination
}

func newAjaxServer(t *testing.T, dbURI string, opts server.Options) ajaxServer {
	t.Helper()
	dir := t.TempDir()
	store, err := sqlstore.Open(context.Background(), dbURI, sqlstore.Options{DefaultArtifactRoot: "mlflow-artifacts:/"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	repo, err := artifacts.NewLocal(filepath.Join(dir, "mlartifacts"))
	if err != nil {
		t.Fatal(err)
	}
	opts.OpenArtifactRepository = func(ctx context.Context, uri string) (tracking.ArtifactRepository, error) {
		return artifacts.Open(ctx, uri, artifacts.Options{})
	}
	srv := httptest.NewServer(server.New(store, repo, opts))
	t.Cleanup(srv.Close)
	return ajaxServer{srv, filepath.Join(dir, "mlartifacts")}
}

// eachBackend runs test on SQLite and on PostgreSQL (skipped when PostgreSQL
// cannot be started, unless HOUSING_REQUIRE_SERVICES=1).
func eachBackend(t *testing.T, test func(t *testing.T, dbURI string)) {
	t.Run("sqlite", func(t *testing.T) { test(t, "sqlite:///"+filepath.Join(t.TempDir(), "mlflow.db")) })
	t.Run("postgres", func(t *testing.T) { test(t, testenv.PostgresURI(t)) })
}

func (s ajaxServer) post(t *testing.T, path, body string) response {
	t.Helper()
	return do(t, s.Server, "POST", path, js, body)
}

func (s ajaxServer) get(t *testing.T, path string, q url.Values) response {
	t.Helper()
	return do(t, s.Server, "GET", path+"?"+q.Encode(), "", "")
}

// newRun creates an experiment named name and a run in it.
func (s ajaxServer) newRun(t *testing.T, exp string) string {
	t.Helper()
	r := s.post(t, wire.PathCreateExperiment, `{"name":"`+exp+`"}`)
	wantStatus(t, r, 200, "")
	r = s.post(t, wire.PathCreateRun, `{"experiment_id":"`+field(t, r.body, "experiment_id")+`"}`)
	wantStatus(t, r, 200, "")
	return field(t, r.body, "run", "info", "run_id")
}

// logMetrics logs key's values (value, timestamp, step) on run.
func (s ajaxServer) logMetrics(t *testing.T, run, key string, points ...[3]float64) {
	t.Helper()
	for _, p := range points {
		value := fmt.Sprint(p[0])
		if p[0] != p[0] {
			value = `"NaN"`
		}
		wantStatus(t, s.post(t, wire.PathLogMetric, fmt.Sprintf(`{"run_id":"%s","key":"%s","value":%s,"timestamp":%d,"step":%d}`,
			run, key, value, int64(p[1]), int64(p[2]))), 200, "")
	}
}

func wantError(t *testing.T, got response, status int, code, message string) {
	t.Helper()
	wantStatus(t, got, status, code)
	if m := field(t, got.body, "message"); !strings.Contains(m, message) {
		t.Errorf("message %q, want it to contain %q", m, message)
	}
}

// steps returns the (run_id, step) pairs of a bulk answer, in order.
func steps(t *testing.T, body string) []string {
	t.Helper()
	var resp struct {
		Metrics []struct {
			RunID string `json:"run_id"`
			Step  int64  `json:"step"`
		} `json:"metrics"`
	}
	if err := json.Unmarshal([]byte(body), &resp); err != nil {
		t.Fatalf("%s: %v", body, err)
	}
	var out []string
	for _, m := range resp.Metrics {
		out = append(out, fmt.Sprintf("%s:%d", m.RunID[:4], m.Step))
	}
	return out
}

func runSteps(run string, steps ...int) []string {
	var out []string
	for _, s := range steps {
		out = append(out, fmt.Sprintf("%s:%d", run[:4], s))
	}
	return out
}

func wantSteps(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s: steps %v, want %v", what, got, want)
	}
}

func TestGetMetricHistoryBulkInterval(t *testing.T) {
	s := newAjaxServer(t, "sqlite:///"+filepath.Join(t.TempDir(), "mlflow.db"), server.Options{})
	path := wire.AjaxAPIPrefix + "/mlflow/metrics/get-history-bulk-interval"
	ids := func(n int) []string {
		var out []string
		for i := range n {
			out = append(out, fmt.Sprint("id_", i))
		}
		return out
	}
	t.Run("Refusals", func(t *testing.T) {
		for _, c := range []struct {
			name    string
			q       url.Values
			message string
		}{
			{"NoRunIDs", url.Values{"metric_key": {"k"}}, "Missing value for required parameter 'run_ids'."},
			{"TooManyRunIDs", url.Values{"run_ids": ids(101), "metric_key": {"k"}},
				"GetMetricHistoryBulkInterval request must specify at most 100 run_ids. Received 101 run_ids."},
			{"NoMetricKey", url.Values{"run_ids": {"1"}, "max_results": {"5"}}, "Missing value for required parameter 'metric_key'"},
			{"EmptyMetricKey", url.Values{"run_ids": {"1"}, "metric_key": {""}}, "Missing value for required parameter 'metric_key'"},
			{"MaxResultsZero", url.Values{"run_ids": {"1"}, "metric_key": {"k"}, "max_results": {"0"}},
				"max_results must be between 1 and 2500. See the API docs"},
			{"MaxResultsTooLarge", url.Values{"run_ids": {"1"}, "metric_key": {"k"}, "max_results": {"2501"}},
				"max_results must be between 1 and 2500."},
			{"MaxResultsNotANumber", url.Values{"run_ids": {"1"}, "metric_key": {"k"}, "max_results": {"abc"}},
				`Invalid value "abc" for parameter 'max_results' supplied`},
			{"StartAfterEnd", url.Values{"run_ids": {"1"}, "metric_key": {"k"}, "start_step": {"1"}, "end_step": {"0"}},
				"end_step must be greater than start_step. Found start_step=1 and end_step=0."},
			{"OnlyStart", url.Values{"run_ids": {"1"}, "metric_key": {"k"}, "start_step": {"1"}},
				"If either start step or end step are specified, both must be specified."},
			{"OnlyEnd", url.Values{"run_ids": {"1"}, "metric_key": {"k"}, "end_step": {"1"}},
				"If either start step or end step are specified, both must be specified."},
		} {
			t.Run(c.name, func(t *testing.T) { wantError(t, s.get(t, path, c.q), 400, "INVALID_PARAMETER_VALUE", c.message) })
		}
	})

	// The cases of MLflow's test_get_metric_history_bulk_interval_respects_max_results
	// and test_get_sampled_steps_from_steps, whose expected steps are MLflow's.
	run1, run2 := s.newRun(t, "interval"), ""
	for i := range 10 {
		s.logMetrics(t, run1, "m", [3]float64{10, 1, float64(i)})
	}
	q := url.Values{"run_ids": {run1}, "metric_key": {"m"}, "max_results": {"5"}}
	wantSteps(t, "10 steps, 5 results", steps(t, s.get(t, path, q).body), runSteps(run1, 0, 2, 4, 6, 8, 9))
	q.Set("start_step", "0")
	q.Set("end_step", "4")
	wantSteps(t, "steps 0 to 4", steps(t, s.get(t, path, q).body), runSteps(run1, 0, 1, 2, 3, 4))

	run2 = s.newRun(t, "interval 2")
	for i := range 20 {
		s.logMetrics(t, run2, "m", [3]float64{10, 1, float64(i)})
	}
	q = url.Values{"run_ids": {run1, run2}, "metric_key": {"m"}, "max_results": {"5"}}
	wantSteps(t, "two runs", steps(t, s.get(t, path, q).body),
		append(runSteps(run1, 0, 4, 8, 9), runSteps(run2, 0, 4, 8, 9, 12, 16, 19)...))
	// In the order of run_ids, not of the run ids.
	q["run_ids"] = []string{run2, run1}
	wantSteps(t, "two runs, the second first", steps(t, s.get(t, path, q).body),
		append(runSteps(run2, 0, 4, 8, 9, 12, 16, 19), runSteps(run1, 0, 4, 8, 9)...))

	// Values at the same step come by timestamp; a negative step is outside the
	// default range, which starts at 0; an unknown run has no values.
	run3 := s.newRun(t, "interval 3")
	s.logMetrics(t, run3, "m", [3]float64{2, 20, 1}, [3]float64{1, 10, 1}, [3]float64{5, 5, -1}, [3]float64{3, 30, 3})
	r := s.get(t, path, url.Values{"run_ids": {run3, "unknown"}, "metric_key": {"m"}})
	wantStatus(t, r, 200, "")
	wantSteps(t, "same steps", steps(t, r.body), runSteps(run3, 1, 1, 3))
	if a, b := field(t, r.body, "metrics", "0", "timestamp"), field(t, r.body, "metrics", "1", "timestamp"); a != "10" || b != "20" {
		t.Errorf("timestamps at step 1: %s, %s, want 10, 20", a, b)
	}
	wantSteps(t, "negative step in range", steps(t, s.get(t, path, url.Values{"run_ids": {run3}, "metric_key": {"m"},
		"start_step": {"-5"}, "end_step": {"1"}}).body), runSteps(run3, -1, 1, 1))
	if r := s.get(t, path, url.Values{"run_ids": {"unknown"}, "metric_key": {"m"}}); r.status != 200 || r.body != "{}" {
		t.Errorf("unknown run: %d %s, want 200 {}", r.status, r.body)
	}
}

func TestGetMetricHistoryBulk(t *testing.T) {
	s := newAjaxServer(t, "sqlite:///"+filepath.Join(t.TempDir(), "mlflow.db"), server.Options{})
	path := wire.PathGetMetricHistoryBulk
	t.Run("Refusals", func(t *testing.T) {
		var many []string
		for i := range 101 {
			many = append(many, fmt.Sprint("id_", i))
		}
		for _, c := range []struct {
			name    string
			q       url.Values
			message string
		}{
			{"NoRunID", url.Values{"metric_key": {"k"}}, "GetMetricHistoryBulk request must specify at least one run_id."},
			{"TooManyRunIDs", url.Values{"run_id": many, "metric_key": {"k"}},
				"GetMetricHistoryBulk request cannot specify more than 100 run_ids. Received 101 run_ids."},
			{"NoMetricKey", url.Values{"run_id": {"123"}}, "GetMetricHistoryBulk request must specify a metric_key."},
			// Deliberate differences: MLflow answers 500 and drops values from the end.
			{"MaxResultsNotANumber", url.Values{"run_id": {"1"}, "metric_key": {"k"}, "max_results": {"abc"}},
				`Invalid value "abc" for parameter 'max_results' supplied`},
			{"MaxResultsNegative", url.Values{"run_id": {"1"}, "metric_key": {"k"}, "max_results": {"-1"}},
				`Invalid value "-1" for parameter 'max_results' supplied`},
		} {
			t.Run(c.name, func(t *testing.T) { wantError(t, s.get(t, path, c.q), 400, "INVALID_PARAMETER_VALUE", c.message) })
		}
	})
	if r := do(t, s.Server, "GET", wire.APIPrefix+"/mlflow/metrics/get-history-bulk?run_id=1&metric_key=k", "", ""); r.status != 404 {
		t.Errorf("under /api/2.0: %d, want 404 (MLflow serves it under /ajax-api alone)", r.status)
	}

	a, b := s.newRun(t, "bulk a"), s.newRun(t, "bulk b")
	if a > b {
		a, b = b, a
	}
	nan := [3]float64{}
	nan[0] = nan[0] / nan[0]
	nan[1], nan[2] = 3, 0
	// By timestamp, then step, then value; NaN sorts as 0, as MLflow stores it.
	s.logMetrics(t, b, "m", [3]float64{11, 1, 3}, [3]float64{10, 1, 2}, [3]float64{-1, 3, 0}, nan, [3]float64{5, 2, -1})
	s.logMetrics(t, a, "m", [3]float64{1, 1, 1})
	s.logMetrics(t, a, "other", [3]float64{1, 1, 1})

	r := s.get(t, path, url.Values{"run_id": {b, a, b, "unknown"}, "metric_key": {"m"}})
	wantStatus(t, r, 200, "")
	if r.header.Get("Content-Type") != "application/json" {
		t.Errorf("Content-Type %q", r.header.Get("Content-Type"))
	}
	// Flask's jsonify: sorted keys, compact, bare NaN, a trailing newline.
	want := `{"metrics":[{"key":"m","run_id":"` + a + `","step":1,"timestamp":1,"value":1.0},` +
		`{"key":"m","run_id":"` + b + `","step":2,"timestamp":1,"value":10.0},` +
		`{"key":"m","run_id":"` + b + `","step":3,"timestamp":1,"value":11.0},` +
		`{"key":"m","run_id":"` + b + `","step":-1,"timestamp":2,"value":5.0},` +
		`{"key":"m","run_id":"` + b + `","step":0,"timestamp":3,"value":-1.0},` +
		`{"key":"m","run_id":"` + b + `","step":0,"timestamp":3,"value":NaN}]}` + "\n"
	if r.body != want {
		t.Errorf("body\n%s\nwant\n%s", r.body, want)
	}
	r = s.get(t, path, url.Values{"run_id": {b, a}, "metric_key": {"m"}, "max_results": {"2"}})
	wantSteps(t, "max_results 2", steps(t, strings.ReplaceAll(r.body, "NaN", "0")), append(runSteps(a, 1), runSteps(b, 2)...))
	for _, c := range []struct{ q url.Values }{
		{url.Values{"run_id": {a}, "metric_key": {"m"}, "max_results": {"0"}}},
		{url.Values{"run_id": {a}, "metric_key": {""}}},
		{url.Values{"run_id": {"unknown"}, "metric_key": {"m"}}},
	} {
		if r := s.get(t, path, c.q); r.status != 200 || r.body != "{\"metrics\":[]}\n" {
			t.Errorf("%v: %d %q, want 200 {\"metrics\":[]}", c.q, r.status, r.body)
		}
	}
}

// upload posts body (nil: none) to upload-artifact with the query q; a body
// of unknown length goes chunked, without Content-Length.
func (s ajaxServer) upload(t *testing.T, q url.Values, body io.Reader) response {
	t.Helper()
	req, err := http.NewRequest("POST", s.URL+wire.PathUploadArtifact+"?"+q.Encode(), body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header, string(b)}
}

// chunked hides a reader's length from net/http.
type chunked struct{ io.Reader }

func TestUploadArtifact(t *testing.T) {
	eachBackend(t, func(t *testing.T, dbURI string) {
		s := newAjaxServer(t, dbURI, server.Options{})
		run := s.newRun(t, "upload")
		q := func(kv ...string) url.Values {
			v := url.Values{}
			for i := 0; i < len(kv); i += 2 {
				v.Set(kv[i], kv[i+1])
			}
			return v
		}
		hello := func() io.Reader { return strings.NewReader("hello world") }
		t.Run("Refusals", func(t *testing.T) {
			big := strings.Repeat("x", 10<<20+1)
			for _, c := range []struct {
				name    string
				q       url.Values
				body    io.Reader
				status  int
				code    string
				message string
			}{
				{"NoRunUUID", q(), hello(), 400, "INVALID_PARAMETER_VALUE", "Request must specify run_uuid."},
				{"RunIDInstead", q("run_id", run, "path", "x"), hello(), 400, "INVALID_PARAMETER_VALUE", "Request must specify run_uuid."},
				{"NoPath", q("run_uuid", run), hello(), 400, "INVALID_PARAMETER_VALUE", "Request must specify path."},
				{"EmptyPath", q("run_uuid", run, "path", ""), hello(), 400, "INVALID_PARAMETER_VALUE", "Request must specify path."},
				{"Parent", q("run_uuid", run, "path", "../test.txt"), hello(), 400, "INVALID_PARAMETER_VALUE", "Invalid path"},
				{"EncodedParent", q("run_uuid", run, "path", "%2e%2e/test.txt"), hello(), 400, "INVALID_PARAMETER_VALUE", "Invalid path"},
				{"Absolute", q("run_uuid", run, "path", "/etc/x"), hello(), 400, "INVALID_PARAMETER_VALUE", "Invalid path"},
				{"Fragment", q("run_uuid", run, "path", "a#b"), hello(), 400, "INVALID_PARAMETER_VALUE", "Invalid path"},
				{"FileURI", q("run_uuid", run, "path", "file:///tmp/x"), hello(), 400, "INVALID_PARAMETER_VALUE", "Invalid path"},
				// Deliberate difference: MLflow answers 500.
				{"Directory", q("run_uuid", run, "path", "dir/"), hello(), 400, "INVALID_PARAMETER_VALUE", "Invalid path"},
				// Deliberate difference: MLflow on Linux takes a backslash as part of a name.
				{"Backslash", q("run_uuid", run, "path", `a\b`), hello(), 400, "INVALID_PARAMETER_VALUE", "Invalid path"},
				{"NoData", q("run_uuid", run, "path", "test.txt"), nil, 400, "INVALID_PARAMETER_VALUE", "Request must specify data."},
				{"EmptyChunked", q("run_uuid", run, "path", "test.txt"), chunked{strings.NewReader("")}, 400, "INVALID_PARAMETER_VALUE", "Request must specify data."},
				{"TooLarge", q("run_uuid", run, "path", "big"), strings.NewReader(big), 400, "INVALID_PARAMETER_VALUE",
					"Artifact size is too large. Max size is 10MB."},
				// Deliberate difference: MLflow reads a body of unknown length whole.
				{"TooLargeChunked", q("run_uuid", run, "path", "big"), chunked{strings.NewReader(big)}, 400, "INVALID_PARAMETER_VALUE",
					"Artifact size is too large. Max size is 10MB."},
				{"UnknownRun", q("run_uuid", "nope", "path", "x"), hello(), 404, "RESOURCE_DOES_NOT_EXIST", "Run with id=nope not found"},
			} {
				t.Run(c.name, func(t *testing.T) { wantError(t, s.upload(t, c.q, c.body), c.status, c.code, c.message) })
			}
			if _, err := os.Stat(filepath.Join(s.dir, "1", run, "artifacts", "big")); !os.IsNotExist(err) {
				t.Errorf("a refused upload left a file: %v", err)
			}
		})

		r := s.upload(t, q("run_uuid", run, "path", "d/x.txt"), chunked{hello()})
		if r.status != 200 || r.body != "" || r.header.Get("Content-Type") != "application/json" {
			t.Fatalf("upload: %d %q %q, want 200, an empty application/json body", r.status, r.header.Get("Content-Type"), r.body)
		}
		// Deliberate difference: MLflow answers 500 for "." segments; they are dropped.
		wantStatus(t, s.upload(t, q("run_uuid", run, "path", "./e/./y.txt"), hello()), 200, "")
		if r := s.get(t, wire.PathGetArtifact, q("run_uuid", run, "path", "e/y.txt")); r.status != 200 || r.body != "hello world" {
			t.Errorf("get-artifact e/y.txt: %d %q", r.status, r.body)
		}
		if r := s.get(t, wire.PathGetArtifact, q("run_uuid", run, "path", "d/x.txt")); r.status != 200 || r.body != "hello world" {
			t.Errorf("get-artifact: %d %q", r.status, r.body)
		}
		// MLflow's layout of proxied run artifacts: <experiment>/<run>/artifacts/<path>.
		if b, err := os.ReadFile(filepath.Join(s.dir, "1", run, "artifacts", "d", "x.txt")); err != nil || string(b) != "hello world" {
			t.Errorf("in the artifacts destination: %q, %v", b, err)
		}
		if r := do(t, s.Server, "POST", wire.APIPrefix+"/mlflow/upload-artifact?"+q("run_uuid", run, "path", "y").Encode(), "", "x"); r.status != 404 {
			t.Errorf("under /api/2.0: %d, want 404 (MLflow serves it under /ajax-api alone)", r.status)
		}

		// A run whose artifacts are elsewhere than the proxied destination.
		local := t.TempDir()
		e := s.post(t, wire.PathCreateExperiment, `{"name":"upload local","artifact_location":"file://`+local+`"}`)
		wantStatus(t, e, 200, "")
		rr := s.post(t, wire.PathCreateRun, `{"experiment_id":"`+field(t, e.body, "experiment_id")+`"}`)
		other := field(t, rr.body, "run", "info", "run_id")
		wantStatus(t, s.upload(t, q("run_uuid", other, "path", "a/b.txt"), hello()), 200, "")
		if b, err := os.ReadFile(filepath.Join(local, other, "artifacts", "a", "b.txt")); err != nil || string(b) != "hello world" {
			t.Errorf("in the run's own artifact location: %q, %v", b, err)
		}
	})

	t.Run("MaxArtifactBytes", func(t *testing.T) {
		s := newAjaxServer(t, "sqlite:///"+filepath.Join(t.TempDir(), "mlflow.db"), server.Options{MaxArtifactBytes: 4})
		run := s.newRun(t, "bounded")
		r := s.upload(t, url.Values{"run_uuid": {run}, "path": {"x"}}, chunked{strings.NewReader("hello")})
		wantStatus(t, r, 413, "BAD_REQUEST")
	})
}

func TestCreatePromptlabRun(t *testing.T) {
	path := wire.PathCreatePromptlabRun
	t.Run("Refusals", func(t *testing.T) {
		s := newAjaxServer(t, "sqlite:///"+filepath.Join(t.TempDir(), "mlflow.db"), server.Options{})
		// Each request adds the field the previous one lacked, as MLflow's test does.
		fields := []string{`"experiment_id":"123"`, `"prompt_template":"t"`, `"prompt_parameters":[{"key":"k","value":"v"}]`,
			`"model_route":"r"`, `"model_input":"i"`, `"mlflow_version":"1.0.0"`}
		names := []string{"experiment_id", "prompt_template", "prompt_parameters", "model_route", "model_input", "mlflow_version"}
		for i, name := range names {
			body := "{" + strings.Join(fields[:i], ",") + "}"
			wantError(t, s.post(t, path, body), 400, "INVALID_PARAMETER_VALUE", "CreatePromptlabRun request must specify "+name+".")
		}
		// Python's falsy values count as missing.
		wantError(t, s.post(t, path, `{"experiment_id":"1","prompt_template":"t","prompt_parameters":[]}`), 400,
			"INVALID_PARAMETER_VALUE", "CreatePromptlabRun request must specify prompt_parameters.")
		wantError(t, s.post(t, path, "{"+strings.Join(fields, ",")+"}"), 404, "RESOURCE_DOES_NOT_EXIST", "No Experiment with id=123 exists")
		wantError(t, do(t, s.Server, "POST", path, "", "{}"), 400, "INVALID_PARAMETER_VALUE", "Bad Request. Content-Type header is missing.")
		wantError(t, s.post(t, path, "{"+strings.Join(fields, ",")+`,"start_time":"abc"}`), 400, "INVALID_PARAMETER_VALUE",
			`Invalid value "abc" for parameter 'start_time' supplied`)
	})

	eachBackend(t, func(t *testing.T, dbURI string) {
		s := newAjaxServer(t, dbURI, server.Options{})
		e := s.post(t, wire.PathCreateExperiment, `{"name":"prompt lab"}`)
		exp := field(t, e.body, "experiment_id")
		r := s.post(t, path, `{"experiment_id":"`+exp+`","run_name":"my_run_name","prompt_template":"Hi {{ name }}",
			"prompt_parameters":[{"key":"name","value":"v1"},{"key":"n","value":2}],"model_route":"my_route",
			"model_parameters":[{"key":"temperature","value":"0.1"}],"model_input":"my_input","model_output":"my_output",
			"model_output_parameters":[{"key":"latency","value":"100"}],"mlflow_version":"1.0.0","user_id":"username",
			"start_time":456,"tags":[{"key":"team","value":"lab"}]}`)
		wantStatus(t, r, 200, "")
		equalKeys(t, "run", keysAt(t, r.body, "run"), []string{"info", "data", "inputs"})
		for k, want := range map[string]string{"run_name": "my_run_name", "experiment_id": exp, "user_id": "username",
			"status": "FINISHED", "start_time": "456"} {
			if got := field(t, r.body, "run", "info", k); got != want {
				t.Errorf("info.%s = %s, want %s", k, got, want)
			}
		}
		var run wire.GetRunResponse
		if err := json.Unmarshal([]byte(r.body), &run); err != nil {
			t.Fatal(err)
		}
		params, tags := map[string]string{}, map[string]string{}
		for _, p := range run.Run.Data.Params {
			params[p.Key] = p.Value
		}
		for _, tg := range run.Run.Data.Tags {
			tags[tg.Key] = tg.Value
		}
		wantParams := map[string]string{"model_route": "my_route", "prompt_template": "Hi {{ name }}", "temperature": "0.1"}
		if fmt.Sprint(params) != fmt.Sprint(wantParams) {
			t.Errorf("params %v, want %v", params, wantParams)
		}
		for k, want := range map[string]string{
			"mlflow.loggedArtifacts": `[{"path": "eval_results_table.json", "type": "table"}]`,
			"mlflow.runSourceType":   "PROMPT_ENGINEERING",
			"mlflow.runName":         "my_run_name",
			"team":                   "lab",
		} {
			if tags[k] != want {
				t.Errorf("tag %s = %q, want %q", k, tags[k], want)
			}
		}
		id := run.Run.Info.RunID
		if h := tags[tracking.TagLogModelHist]; !strings.HasPrefix(h, `[{"run_id": "`+id+`", "artifact_path": "model", "utc_time_created": "`) ||
			!strings.HasSuffix(h, `, "flavors": {}}]`) {
			t.Errorf("log-model history %s", h)
		}

		file := func(p string) string {
			t.Helper()
			r := s.get(t, wire.PathGetArtifact, url.Values{"run_uuid": {id}, "path": {p}})
			wantStatus(t, r, 200, "")
			return r.body
		}
		if got, want := file("eval_results_table.json"),
			`{"columns": ["name", "n", "prompt", "output", "latency"], "data": [["v1", "2", "my_input", "my_output", "100"]]}`; got != want {
			t.Errorf("eval_results_table.json\n%s\nwant\n%s", got, want)
		}
		for _, want := range []string{"loader_module: mlflow.promptlab\n", "run_id: " + id + "\n", "parameters_path: parameters.yaml\n",
			`inputs: '[{"type": "string", "name": "name", "required": true}, {"type": "string", "name": "n", "required": true}]'`,
			"utc_time_created: '"} {
			if m := file("model/MLmodel"); !strings.Contains(m, want) {
				t.Errorf("MLmodel lacks %q:\n%s", want, m)
			}
		}
		if got := file("model/parameters.yaml"); !strings.Contains(got, "model_route: my_route\n") || !strings.Contains(got, "prompt_template: Hi {{ name }}\n") ||
			!strings.Contains(got, "  name: v1\n") {
			t.Errorf("parameters.yaml:\n%s", got)
		}
		if got := file("model/input_example.json"); got != `{"inputs": ["v1", "2"]}` {
			t.Errorf("input_example.json %s", got)
		}
		if got := file("model/requirements.txt"); got != "mlflow[gateway]==2.17.2" {
			t.Errorf("requirements.txt %q", got)
		}
		for _, f := range []string{"model/conda.yaml", "model/python_env.yaml", "model/serving_input_example.json"} {
			file(f)
		}
	})

	t.Run("FailedWithoutArtifacts", func(t *testing.T) {
		// A server that does not serve artifacts cannot write them: the run is FAILED, as in MLflow.
		store, err := sqlstore.Open(context.Background(), "sqlite:///"+filepath.Join(t.TempDir(), "mlflow.db"),
			sqlstore.Options{DefaultArtifactRoot: "mlflow-artifacts:/"})
		if err != nil {
			t.Fatal(err)
		}
		defer store.Close()
		srv := httptest.NewServer(server.New(store, nil, server.Options{}))
		defer srv.Close()
		r := do(t, srv, "POST", path, js, `{"experiment_id":"0","prompt_template":"t","prompt_parameters":[{"key":"k","value":"v"}],
			"model_route":"r","model_input":"i","mlflow_version":"1"}`)
		wantStatus(t, r, 200, "")
		if st, u := field(t, r.body, "run", "info", "status"), field(t, r.body, "run", "info", "user_id"); st != "FAILED" || u != "unknown" {
			t.Errorf("status %s, user %s, want FAILED, unknown", st, u)
		}
	})
}

func TestGatewayProxy(t *testing.T) {
	path := wire.PathGatewayProxy
	t.Run("NoTarget", func(t *testing.T) {
		// Without MLFLOW_DEPLOYMENTS_TARGET MLflow pretends an empty gateway, whatever is asked.
		s := newAjaxServer(t, "sqlite:///"+filepath.Join(t.TempDir(), "mlflow.db"), server.Options{})
		for _, r := range []response{s.get(t, path, nil), s.post(t, path, `{}`), do(t, s.Server, "POST", path, "text/plain", "x")} {
			if r.status != 200 || r.body != "{\"endpoints\":[]}\n" {
				t.Errorf("%d %q, want 200 {\"endpoints\":[]}", r.status, r.body)
			}
		}
	})

	// The upstream is a stand-in for an MLflow deployments server: it answers
	// what it was sent, so that the test sees what the proxy forwarded.
	type seen struct{ method, path, contentType, body string }
	got := make(chan seen, 1)
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- seen{r.Method, r.URL.RequestURI(), r.Header.Get("Content-Type"), string(b)}
		switch r.URL.Path {
		case "/fail":
			http.Error(w, "no such endpoint", http.StatusNotFound)
		case "/text":
			io.WriteString(w, "plain")
		default:
			io.WriteString(w, `{"z": 1, "a": {"é": [1.0, 1E5, "<&>\n😀"]}, "m": null}`)
		}
	}))
	defer upstream.Close()
	s := newAjaxServer(t, "sqlite:///"+filepath.Join(t.TempDir(), "mlflow.db"), server.Options{DeploymentsTarget: upstream.URL + "/"})
	forwarded := func() seen {
		t.Helper()
		select {
		case r := <-got:
			return r
		default:
			t.Fatal("nothing was forwarded")
			return seen{}
		}
	}
	// Flask's jsonify of the parsed answer: sorted keys, compact, ASCII, floats as Python writes them.
	const answer = `{"a":{"\u00e9":[1.0,100000.0,"<&>\n\ud83d\ude00"]},"m":null,"z":1}` + "\n"

	r := s.post(t, path, `{"gateway_path":"api/2.0/endpoints/chat/invocations","json_data":{"messages":[{"role":"user"}],"t":0.5}}`)
	if r.status != 200 || r.body != answer {
		t.Errorf("POST: %d %q, want %q", r.status, r.body, answer)
	}
	if f := forwarded(); f != (seen{"POST", "/api/2.0/endpoints/chat/invocations", "application/json", `{"messages": [{"role": "user"}], "t": 0.5}`}) {
		t.Errorf("forwarded %+v", f)
	}
	r = s.get(t, path, url.Values{"gateway_path": {"api/2.0/endpoints/"}})
	if r.status != 200 || r.body != answer {
		t.Errorf("GET: %d %q", r.status, r.body)
	}
	if f := forwarded(); f != (seen{"GET", "/api/2.0/endpoints/", "", ""}) {
		t.Errorf("forwarded %+v", f)
	}
	// On GET json_data is a query parameter, a string, and goes as a JSON string.
	s.get(t, path, url.Values{"gateway_path": {"/x"}, "json_data": {"q"}})
	if f := forwarded(); f != (seen{"GET", "/x", "application/json", `"q"`}) {
		t.Errorf("forwarded %+v", f)
	}

	wantError(t, s.post(t, path, `{"gateway_path":"fail"}`), 500, "INTERNAL_ERROR",
		"Deployments proxy request failed with error code 404. Error message: no such endpoint\n")
	forwarded()
	for _, c := range []struct {
		name string
		r    response
	}{
		{"EmptyBody", s.post(t, path, `{}`)},
		{"EmptyPath", s.post(t, path, `{"gateway_path":""}`)},
		{"GETWithoutPath", s.get(t, path, nil)},
	} {
		t.Run(c.name, func(t *testing.T) {
			wantError(t, c.r, 400, "INVALID_PARAMETER_VALUE", "Deployments proxy request must specify a gateway_path.")
		})
	}
	// Deliberate differences: MLflow answers these with HTML pages.
	wantError(t, do(t, s.Server, "POST", path, "text/plain", `{"gateway_path":"x"}`), 400, "INVALID_PARAMETER_VALUE",
		"Bad Request. Content-Type must be one of ['application/json'].")
	wantError(t, s.post(t, path, `[1]`), 400, "BAD_REQUEST", "Deployments proxy request must be a JSON object.")
	wantError(t, s.post(t, path, `{"gateway_path":"text"}`), 500, "INTERNAL_ERROR", "the deployments server's answer is not JSON")
	forwarded()
	upstream.Close()
	wantError(t, s.post(t, path, `{"gateway_path":"x"}`), 503, "TEMPORARILY_UNAVAILABLE", "the deployments server could not be reached")
}
