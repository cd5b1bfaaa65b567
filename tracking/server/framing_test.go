package server_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/artifacts"
	"github.com/mlops-lab/housing/tracking/server"
	"github.com/mlops-lab/housing/tracking/wire"
)

// unreachableStore is a Store whose backend is down: Ping and every lookup fail
// with an internal error. Requests that fail before reaching the store never call
// it, so the framing tests below need no database.
type unreachableStore struct {
	tracking.Store
}

var errDown = errors.New("dial tcp 10.0.0.7:5432: connection refused (secret-dsn)")

func (unreachableStore) Ping(context.Context) error { return errDown }
func (unreachableStore) GetExperiment(context.Context, string) (*tracking.Experiment, error) {
	return nil, errDown
}

// The answers to requests no route takes, under the API prefixes.
const (
	endpointNotFound = `{"error_code": "ENDPOINT_NOT_FOUND", "message": "The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again."}`
	methodNotAllowed = `{"error_code": "BAD_REQUEST", "message": "The method is not allowed for the requested URL."}`
)

type response struct {
	status int
	header http.Header
	body   string
}

func do(t *testing.T, srv *httptest.Server, method, path, contentType, body string) response {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := srv.Client().Do(req)
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

// rawGet sends a request line verbatim, so that ".." reaches the server uncleaned.
func rawGet(t *testing.T, srv *httptest.Server, path string) response {
	t.Helper()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "GET "+path+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufioReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, resp.Header, string(b)}
}

func newFramingServer(t *testing.T, opts server.Options) (*httptest.Server, *bytes.Buffer) {
	t.Helper()
	repo, err := artifacts.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	opts.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	srv := httptest.NewServer(server.New(unreachableStore{}, repo, opts))
	t.Cleanup(srv.Close)
	return srv, &logs
}

func TestFraming(t *testing.T) {
	srv, _ := newFramingServer(t, server.Options{MaxBodyBytes: 1024})
	const js = "application/json"
	missing := func(name string) string {
		return `{"error_code": "INVALID_PARAMETER_VALUE", "message": "Missing value for required parameter '` + name +
			`'. See the API docs for more information about request parameters."}`
	}
	cases := []struct {
		name, method, path, ct, body string
		status                       int
		want                         string // exact body, or "" to check the status only
	}{
		{"NoContentType", "POST", wire.PathCreateExperiment, "", `{"name":"x"}`, 400,
			`{"error_code": "INVALID_PARAMETER_VALUE", "message": "Bad Request. Content-Type header is missing."}`},
		{"WrongContentType", "POST", wire.PathCreateExperiment, "text/plain", `{"name":"x"}`, 400,
			`{"error_code": "INVALID_PARAMETER_VALUE", "message": "Bad Request. Content-Type must be one of ['application/json']."}`},
		{"MissingName", "POST", wire.PathCreateExperiment, js, `{}`, 400, missing("name")},
		{"ArtifactLocationFragment", "POST", wire.PathCreateExperiment, js, `{"name":"x","artifact_location":"s3://b/p#frag"}`, 400,
			`{"error_code": "INVALID_PARAMETER_VALUE", "message": "'artifact_location' URL can't include fragments or params."}`},
		{"ArtifactLocationParams", "POST", wire.PathCreateExperiment, js, `{"name":"x","artifact_location":"http://h/p;x=1"}`, 400,
			`{"error_code": "INVALID_PARAMETER_VALUE", "message": "'artifact_location' URL can't include fragments or params."}`},
		{"ArtifactLocationQueryDotDot", "POST", wire.PathCreateExperiment, js, `{"name":"x","artifact_location":"s3://b/p?a=%252e%252e/x"}`, 400,
			`{"error_code": "INVALID_PARAMETER_VALUE", "message": "Invalid query string"}`},
		// Deliberately unlike MLflow, which reads a body it cannot parse as {}.
		{"NotJSONRefused", "POST", wire.PathCreateExperiment, js + "; charset=utf-8", `not json`, 400,
			`{"error_code": "INVALID_PARAMETER_VALUE", "message": "Malformed request body: invalid JSON: invalid character 'o' in literal null (expecting 'u')."}`},
		{"TruncatedJSONRefused", "POST", wire.PathCreateRun, js, `{"experiment_id": `, 400,
			`{"error_code": "INVALID_PARAMETER_VALUE", "message": "Malformed request body: invalid JSON: unexpected end of JSON input."}`},
		{"JSONArrayRefused", "POST", wire.PathCreateExperiment, js, `[{"name":"x"}]`, 400,
			`{"error_code": "INVALID_PARAMETER_VALUE", "message": "Malformed request body: expected a JSON object, got a JSON array."}`},
		{"JSONNumberRefused", "POST", wire.PathCreateExperiment, js, `12`, 400,
			`{"error_code": "INVALID_PARAMETER_VALUE", "message": "Malformed request body: expected a JSON object, got a JSON number."}`},
		// As in MLflow: an empty body or null is {}, a double-encoded body is decoded twice.
		{"EmptyBodyIsEmptyObject", "POST", wire.PathCreateExperiment, js, ``, 400, missing("name")},
		{"NullIsEmptyObject", "POST", wire.PathCreateExperiment, js, `null`, 400, missing("name")},
		{"DoubleEncoded", "POST", wire.PathCreateExperiment, js, `"{\"name\": 123}"`, 400,
			`{"error_code": "INVALID_PARAMETER_VALUE", "message": "Invalid value 123 for parameter 'name' supplied:  Hint: Value was of type 'int'. See the API docs for more information about request parameters."}`},
		{"DoubleEncodedNotJSON", "POST", wire.PathCreateExperiment, js, `"{\"name\": "`, 400,
			`{"error_code": "INVALID_PARAMETER_VALUE", "message": "Malformed request body: invalid JSON: unexpected end of JSON input."}`},
		// MLflow's schema order: a missing required field before a wrong type in a later one.
		{"InputsMissingRunBeforeWrongType", "POST", wire.PathLogInputs, js, `{"datasets":["{}"]}`, 400, missing("run_id")},
		{"InputsWrongTypeBeforeMissingDatasets", "POST", wire.PathLogInputs, js, `{"run_id":7}`, 400,
			`{"error_code": "INVALID_PARAMETER_VALUE", "message": "Invalid value 7 for parameter 'run_id' supplied:  Hint: Value was of type 'int'. See the API docs for more information about request parameters."}`},
		{"InputsMissingDatasets", "POST", wire.PathLogInputs, js, `{"run_id":"r"}`, 400, missing("datasets")},
		{"BatchMetricMissingTimestamp", "POST", wire.PathLogBatch, js, `{"run_id":"r","metrics":[{"key":"a","value":1,"timestamp":1},{"key":"b","value":2}]}`, 400, missing("metrics[1].timestamp")},
		{"BatchParamMissingKey", "POST", wire.PathLogBatch, js, `{"run_id":"r","params":[{"value":"v"}]}`, 400, missing("params[0].key")},
		{"BatchTagEmptyKey", "POST", wire.PathLogBatch, js, `{"run_id":"r","tags":[{"key":"","value":"v"}]}`, 400, missing("tags[0].key")},
		{"SearchDatasetsNoIDs", "POST", wire.PathSearchDatasets, js, `{"experiment_ids":[]}`, 400,
			`{"error_code": "INVALID_PARAMETER_VALUE", "message": "SearchDatasets request must specify at least one experiment_id."}`},
		{"SearchDatasetsTooManyIDs", "POST", wire.PathSearchDatasets, js, `{"experiment_ids":["1","2","3","4","5","6","7","8","9","10","11","12","13","14","15","16","17","18","19","20","21"]}`, 400,
			`{"error_code": "INVALID_PARAMETER_VALUE", "message": "SearchDatasets request cannot specify more than 20 experiment_ids. Received 21 experiment_ids."}`},
		{"NameWrongType", "POST", wire.PathCreateExperiment, js, `{"name":123}`, 400,
			`{"error_code": "INVALID_PARAMETER_VALUE", "message": "Invalid value 123 for parameter 'name' supplied:  Hint: Value was of type 'int'. See the API docs for more information about request parameters."}`},
		{"MetricValueNotNumber", "POST", wire.PathLogMetric, js, `{"run_id":"r","key":"bad","value":"notanumber","timestamp":1}`, 400,
			`{"error_code": "INVALID_PARAMETER_VALUE", "message": "Invalid value \"notanumber\" for parameter 'value' supplied:  Hint: Value was of type 'str'. See the API docs for more information about request parameters."}`},
		{"MetricMissingTimestamp", "POST", wire.PathLogMetric, js, `{"run_id":"r","key":"bad","value":1.0}`, 400, missing("timestamp")},
		{"BatchMetricWrongType", "POST", wire.PathLogBatch, js, `{"run_id":"r","metrics":[{"key":"a","value":1,"timestamp":1},{"key":"b","value":[1],"timestamp":1}]}`, 400,
			`{"error_code": "INVALID_PARAMETER_VALUE", "message": "Invalid value [1] for parameter 'metrics.value' supplied:  Hint: Value was of type 'list'. See the API docs for more information about request parameters."}`},
		{"GetRunNoID", "GET", wire.PathGetRun, "", "", 400, missing("run_id")},
		{"SearchRunsTooMany", "POST", wire.PathSearchRuns, js, `{"experiment_ids":["2"],"max_results":50001}`, 400,
			`{"error_code": "INVALID_PARAMETER_VALUE", "message": "Invalid value 50001 for parameter 'max_results' supplied:  Hint: Value was of type 'int'. See the API docs for more information about request parameters."}`},
		{"TransitionBadStage", "POST", wire.PathTransitionModelVersion, js, `{"name":"m","version":"2","stage":"Prod"}`, 400,
			`{"error_code": "INVALID_PARAMETER_VALUE", "message": "Invalid Model Version stage: Prod. Value must be one of None, Staging, Production, Archived."}`},
		{"LocalSourceWithoutRun", "POST", wire.PathCreateModelVersion, js, `{"name":"m","source":"/tmp/x"}`, 400,
			`{"error_code": "INVALID_PARAMETER_VALUE", "message": "Invalid model version source: '/tmp/x'. To use a local path as a model version source, the run_id request parameter has to be specified and the local path has to be contained within the artifact directory of the run specified by the run_id."}`},
		{"LogModelMissingFields", "POST", wire.PathLogModel, js, `{"run_id":"r","model_json":"{\"run_id\": \"r\"}"}`, 400,
			`{"error_code": "INVALID_PARAMETER_VALUE", "message": "Model json is missing mandatory fields: {'artifact_path', 'flavors', 'utc_time_created'}"}`},
		{"PatchSkipsContentTypeCheck", "PATCH", wire.PathUpdateRegisteredModel, "application/x-www-form-urlencoded", `{}`, 400, missing("name")},
		{"DeleteTakesJSONBody", "DELETE", wire.PathRegisteredModelAlias, "", `{"name":"m"}`, 400, missing("alias")},
		// No route: MLflow's server sends Flask's HTML pages; we send their words as
		// MLflow's error JSON, with the code its clients assume for a 404.
		{"WrongMethodGET", "GET", wire.PathSearchRuns, "", "", 405, methodNotAllowed},
		{"WrongMethodPOST", "POST", wire.PathGetRun, js, `{}`, 405, methodNotAllowed},
		{"WrongMethodAjax", "PUT", "/ajax-api/2.0/mlflow/runs/get", "", "", 405, methodNotAllowed},
		{"UnknownEndpoint", "GET", "/api/2.0/mlflow/no-such-endpoint", "", "", 404, endpointNotFound},
		{"UnknownEndpointPOST", "POST", "/ajax-api/2.0/mlflow/runs/no-such", js, `{}`, 404, endpointNotFound},
		{"UnknownAPIVersion", "GET", "/api/3.0/mlflow/no-such-endpoint", "", "", 404, endpointNotFound},
		{"UnknownAPIRoot", "GET", "/api/2.0/nope", "", "", 404, endpointNotFound},
		{"TrailingSlash", "GET", wire.PathGetExperiment + "/?experiment_id=0", "", "", 404, endpointNotFound},
		{"OutsideAPIPlainNotFound", "GET", "/no-such-page", "", "", 404, "404 page not found\n"},
		{"AjaxPrefix", "POST", "/ajax-api/2.0/mlflow/experiments/create", js, `{}`, 400, missing("name")},
		{"BodyTooLarge", "POST", wire.PathLogBatch, js, `{"run_id":"` + strings.Repeat("x", 2000) + `"}`, 413, ""},
		{"InternalErrorHidden", "GET", wire.PathGetExperiment + "?experiment_id=1", "", "", 500,
			`{"error_code": "INTERNAL_ERROR", "message": "Internal server error"}`},
		{"MultipartMissingPath", "POST", wire.PathMultipartCreate + "/1/r/artifacts", js, `{"num_parts":3}`, 400, missing("path")},
		{"Version", "GET", wire.PathVersion, "", "", 200, "2.17.2"},
		{"HealthStoreDown", "GET", wire.PathHealth, "", "", 503, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := do(t, srv, c.method, c.path, c.ct, c.body)
			if got.status != c.status {
				t.Fatalf("status %d, want %d; body %s", got.status, c.status, got.body)
			}
			if c.want != "" && got.body != c.want {
				t.Fatalf("body\n%s\nwant\n%s", got.body, c.want)
			}
			if c.status >= 400 && c.status != 503 && c.name != "OutsideAPIPlainNotFound" {
				if ct := got.header.Get("Content-Type"); ct != "application/json" {
					t.Errorf("Content-Type %q, want application/json", ct)
				}
			}
		})
	}
}

func TestInternalErrorIsLogged(t *testing.T) {
	srv, logs := newFramingServer(t, server.Options{})
	do(t, srv, "GET", wire.PathGetExperiment+"?experiment_id=1", "", "")
	if !strings.Contains(logs.String(), "secret-dsn") {
		t.Fatalf("the cause of an internal error was not logged: %s", logs)
	}
}

func TestProxiedArtifacts(t *testing.T) {
	srv, _ := newFramingServer(t, server.Options{})
	const file = wire.PathArtifacts + "/2/run1/artifacts/model/coef.json"
	if got := do(t, srv, "PUT", file, "application/json", `{"coef": [1.5, -2.0]}`); got.status != 200 || got.body != "{}" {
		t.Fatalf("PUT: %d %s", got.status, got.body)
	}
	do(t, srv, "PUT", wire.PathArtifacts+"/2/run1/artifacts/hello.txt", "text/plain", "hello from curl\n")

	got := do(t, srv, "GET", file, "", "")
	if got.status != 200 || got.body != `{"coef": [1.5, -2.0]}` {
		t.Fatalf("GET: %d %q", got.status, got.body)
	}
	for k, want := range map[string]string{
		"Content-Type":           "text/plain",
		"Content-Disposition":    "attachment; filename=coef.json",
		"X-Content-Type-Options": "nosniff",
	} {
		if v := got.header.Get(k); v != want {
			t.Errorf("%s = %q, want %q", k, v, want)
		}
	}

	list := do(t, srv, "GET", wire.PathArtifacts+"?path=2/run1/artifacts", "", "")
	wantList := `{
  "files": [
    {
      "path": "hello.txt",
      "is_dir": false,
      "file_size": 16
    },
    {
      "path": "model",
      "is_dir": true
    }
  ]
}`
	if list.body != wantList {
		t.Fatalf("list:\n%s\nwant\n%s", list.body, wantList)
	}
	if top := do(t, srv, "GET", wire.PathArtifacts, "", ""); !strings.Contains(top.body, `"path": "2"`) {
		t.Errorf("top-level list: %s", top.body)
	}
	if f := do(t, srv, "GET", wire.PathArtifacts+"?path=2/run1/artifacts/hello.txt", "", ""); f.body != "{}" {
		t.Errorf("listing a file: %s, want {}", f.body)
	}
	if got := do(t, srv, "DELETE", file, "", ""); got.status != 200 || got.body != "{}" {
		t.Fatalf("DELETE: %d %s", got.status, got.body)
	}
	if got := do(t, srv, "GET", file, "", ""); got.status != 404 {
		t.Fatalf("GET after DELETE: %d %s", got.status, got.body)
	}

	invalid := `{"error_code": "INVALID_PARAMETER_VALUE", "message": "Invalid path"}`
	for _, p := range []string{
		wire.PathArtifacts + "/2/../../../../etc/hostname",
		wire.PathArtifacts + "/%2E%2E/%2E%2E/etc/hostname",
		wire.PathArtifacts + "/%252E%252E/x",
		wire.PathArtifacts + "//etc/hostname",
		wire.PathArtifacts + "?path=../..",
		wire.PathArtifacts + "?path=/etc",
	} {
		if got := rawGet(t, srv, p); got.status != 400 || got.body != invalid {
			t.Errorf("GET %s: %d %s", p, got.status, got.body)
		}
	}
}

func TestNoServeArtifacts(t *testing.T) {
	srv := httptest.NewServer(server.New(unreachableStore{}, nil, server.Options{}))
	defer srv.Close()
	if got := do(t, srv, "GET", wire.PathArtifacts+"/1/x.txt", "", ""); got.status != 503 {
		t.Fatalf("status %d, want 503: %s", got.status, got.body)
	}
}

func TestUIHook(t *testing.T) {
	ui := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ui:"+r.URL.Path) })
	srv, _ := newFramingServer(t, server.Options{UI: ui})
	if got := do(t, srv, "GET", "/", "", ""); got.body != "ui:/" {
		t.Errorf("/ -> %q", got.body)
	}
	if got := do(t, srv, "GET", "/static-files/app.js", "", ""); got.body != "ui:/static-files/app.js" {
		t.Errorf("static -> %q", got.body)
	}
	for _, p := range []string{"/api/2.0/mlflow/no-such-endpoint", "/api/3.0/mlflow/server-info-not-here", "/ajax-api/9.9/x"} {
		if got := do(t, srv, "GET", p, "", ""); got.status != 404 || got.body != endpointNotFound {
			t.Errorf("unknown API path %s -> %d %q", p, got.status, got.body)
		}
	}
	if got := do(t, srv, "GET", wire.PathSearchRuns, "", ""); got.status != 405 || got.body != methodNotAllowed || got.header.Get("Allow") != "POST" {
		t.Errorf("wrong method -> %d %q, Allow %q", got.status, got.body, got.header.Get("Allow"))
	}
	if got := do(t, srv, "GET", wire.PathVersion, "", ""); got.body != "2.17.2" {
		t.Errorf("/version -> %q", got.body)
	}
}
