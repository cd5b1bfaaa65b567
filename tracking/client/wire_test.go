package client_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/artifacts"
	"github.com/mlops-lab/housing/tracking/client"
	"github.com/mlops-lab/housing/tracking/wire"
)

// captured is one line of shared/mlflow-wire/client_wire.jsonl: a request the
// real MLflow 2.17.2 Python client sent and the real server's answer.
type captured struct {
	Method      string  `json:"method"`
	Path        string  `json:"path"`
	ReqBody     *string `json:"req_body"`
	Status      int     `json:"status"`
	RespType    *string `json:"resp_content_type"`
	RespBody    *string `json:"resp_body"`
	ContentType *string `json:"req_content_type"`
}

// truncated matches where the capture shortened a long body.
var truncated = regexp.MustCompile(`\.\.\.<\d+ chars>`)

// recorded is a request as our client sent it.
type recorded struct {
	method, path string
	query        url.Values
	body         []byte
	contentType  string
}

func loadCaptures(t *testing.T) []captured {
	t.Helper()
	var path string
	for dir, _ := os.Getwd(); ; dir = filepath.Dir(dir) {
		p := filepath.Join(dir, "..", "shared", "mlflow-wire", "client_wire.jsonl")
		if _, err := os.Stat(p); err == nil {
			path = p
			break
		}
		if filepath.Dir(dir) == dir {
			t.Skip("shared/mlflow-wire/client_wire.jsonl not found above the working directory")
		}
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []captured
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var c captured
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, c)
	}
	return out
}

// TestWireFidelity replays every request of the Python client's capture through
// our client against a server that records what arrives and answers with the
// real server's captured answer. Each request must match the captured one in
// method, path, query and JSON body (fields, names and values); answers must
// decode, and error answers must carry the captured code.
func TestWireFidelity(t *testing.T) {
	caps := loadCaptures(t)
	var cur captured
	var got []recorded
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got = append(got, recorded{r.Method, r.URL.EscapedPath(), r.URL.Query(), body, r.Header.Get("Content-Type")})
		if cur.RespType != nil {
			w.Header().Set("Content-Type", *cur.RespType)
		}
		w.WriteHeader(cur.Status)
		switch {
		case cur.RespBody == nil:
		case truncated.MatchString(*cur.RespBody):
			io.WriteString(w, "{}") // the capture cut this answer short
		default:
			io.WriteString(w, *cur.RespBody)
		}
	}))
	defer srv.Close()
	c, err := client.New(srv.URL, client.Options{MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	repo, err := artifacts.NewHTTP(srv.URL, "", c.HTTPClient())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	seen := map[string]bool{}
	for i, cp := range caps {
		if cp.ReqBody != nil && truncated.MatchString(*cp.ReqBody) {
			// The capture cut this request short (runs/log-model): check the
			// field names and types its beginning shows.
			if !strings.HasPrefix(*cp.ReqBody, `{"run_id": "`) || !strings.Contains(*cp.ReqBody, `, "model_json": "{`) {
				t.Fatalf("line %d: unexpected shape of a shortened capture: %.80s", i+1, *cp.ReqBody)
			}
			cur, got = captured{Status: 200}, nil
			if err := c.LogModel(ctx, "r1", `{"artifact_path": "model"}`); err != nil {
				t.Fatal(err)
			}
			f := jsonFields(t, got[0].body)
			if len(f) != 2 || f["run_id"] != "r1" || f["model_json"] != `{"artifact_path": "model"}` || got[0].path != wire.PathLogModel {
				t.Errorf("line %d: LogModel sent %s to %s", i+1, got[0].body, got[0].path)
			}
			continue
		}
		cur, got = cp, nil
		u, err := url.Parse(cp.Path)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		var body []byte
		if cp.ReqBody != nil {
			body = []byte(*cp.ReqBody)
		}
		endpoint := cp.Method + " " + u.Path
		if strings.HasPrefix(u.Path, wire.PathArtifacts+"/") {
			endpoint = cp.Method + " " + wire.PathArtifacts + "/<path>"
		}
		seen[endpoint] = true
		err = replay(ctx, t, c, repo, endpoint, u, q, body)
		if cp.Status == http.StatusOK && err != nil {
			t.Errorf("line %d %s: %v", i+1, endpoint, err)
		}
		if cp.Status != http.StatusOK {
			var e wire.ErrorResponse
			json.Unmarshal([]byte(*cp.RespBody), &e)
			if string(tracking.ErrorCodeOf(err)) != e.ErrorCode {
				t.Errorf("line %d %s: error %v, want code %s", i+1, endpoint, err, e.ErrorCode)
			}
		}
		if len(got) != 1 {
			t.Errorf("line %d %s: client sent %d requests, want 1", i+1, endpoint, len(got))
			continue
		}
		r := got[0]
		if r.method != cp.Method || r.path != u.EscapedPath() {
			t.Errorf("line %d: sent %s %s, want %s %s", i+1, r.method, r.path, cp.Method, u.EscapedPath())
		}
		if !reflect.DeepEqual(nonEmpty(r.query), nonEmpty(q)) {
			t.Errorf("line %d %s: query %v, want %v", i+1, endpoint, r.query, q)
		}
		if cp.ContentType != nil && *cp.ContentType == "application/json" {
			if r.contentType != "application/json" {
				t.Errorf("line %d %s: Content-Type %q, want application/json", i+1, endpoint, r.contentType)
			}
			if g, w := jsonFields(t, r.body), jsonFields(t, body); !reflect.DeepEqual(g, w) {
				t.Errorf("line %d %s: body\n  %s\nwant (as JSON)\n  %s", i+1, endpoint, r.body, body)
			}
		} else if cp.ReqBody != nil && !bytes.Equal(r.body, body) {
			t.Errorf("line %d %s: sent %d body bytes, want the %d captured", i+1, endpoint, len(r.body), len(body))
		}
	}
	if len(seen) < 20 {
		t.Errorf("replayed only %d endpoints: %v", len(seen), seen)
	}
}

// nonEmpty drops query parameters with empty values.
func nonEmpty(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		if len(vs) > 0 && vs[0] != "" {
			out[k] = vs
		}
	}
	return out
}

// jsonFields decodes a JSON object, dropping top-level empty strings: the Python
// client sends "filter": "" where ours leaves the field out, which the server
// reads the same way.
func jsonFields(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", b, err)
	}
	for k, v := range m {
		if v == "" {
			delete(m, k)
		}
	}
	return m
}

// replay calls the client method that makes the captured request, with the
// captured arguments.
func replay(ctx context.Context, t *testing.T, c *client.Client, repo *artifacts.HTTP, endpoint string, u *url.URL, q url.Values, body []byte) error {
	t.Helper()
	decode := func(v any) {
		if err := json.Unmarshal(body, v); err != nil {
			t.Fatalf("%s: captured body: %v", endpoint, err)
		}
	}
	switch endpoint {
	case "GET " + wire.PathGetExperimentByName:
		_, err := c.GetExperimentByName(ctx, q.Get("experiment_name"))
		return err
	case "POST " + wire.PathCreateExperiment:
		var r wire.CreateExperimentRequest
		decode(&r)
		_, err := c.CreateExperiment(ctx, r.Name, r.ArtifactLocation, wire.TagsToDomain(r.Tags))
		return err
	case "GET " + wire.PathGetExperiment:
		_, err := c.GetExperiment(ctx, q.Get("experiment_id"))
		return err
	case "POST " + wire.PathCreateRun:
		var r wire.CreateRunRequest
		decode(&r)
		_, err := c.CreateRun(ctx, tracking.CreateRun{ExperimentID: r.ExperimentID, UserID: r.UserID, RunName: r.RunName, StartTime: r.StartTime, Tags: wire.TagsToDomain(r.Tags)})
		return err
	case "POST " + wire.PathLogBatch:
		var r wire.LogBatchRequest
		decode(&r)
		return c.LogBatch(ctx, r.RunID, wire.MetricsToDomain(r.Metrics), wire.ParamsToDomain(r.Params), wire.TagsToDomain(r.Tags))
	case "POST " + wire.PathLogMetric:
		var r wire.LogMetricRequest
		decode(&r)
		return c.LogMetric(ctx, r.RunID, tracking.Metric{Key: r.Key, Value: float64(r.Value), Timestamp: r.Timestamp, Step: r.Step})
	case "GET " + wire.PathGetRun:
		_, err := c.GetRun(ctx, q.Get("run_id"))
		return err
	case "PUT " + wire.PathArtifacts + "/<path>":
		return repo.Put(ctx, strings.TrimPrefix(u.Path, wire.PathArtifacts+"/"), bytes.NewReader(body), int64(len(body)))
	case "GET " + wire.PathArtifacts + "/<path>":
		rc, err := repo.Get(ctx, strings.TrimPrefix(u.Path, wire.PathArtifacts+"/"))
		if err == nil {
			rc.Close()
		}
		return err
	case "GET " + wire.PathArtifacts:
		_, err := repo.List(ctx, q.Get("path"))
		return err
	case "POST " + wire.PathLogModel:
		var r wire.LogModelRequest
		decode(&r)
		return c.LogModel(ctx, r.RunID, r.ModelJSON)
	case "POST " + wire.PathUpdateRun:
		var r wire.UpdateRunRequest
		decode(&r)
		st := tracking.RunStatus(r.Status)
		_, err := c.UpdateRun(ctx, r.RunID, tracking.UpdateRun{Status: &st, EndTime: &r.EndTime})
		return err
	case "POST " + wire.PathCreateRegisteredModel:
		var r wire.CreateRegisteredModelRequest
		decode(&r)
		_, err := c.CreateRegisteredModel(ctx, r.Name, r.Description, wire.TagsToDomain(r.Tags))
		return err
	case "POST " + wire.PathCreateModelVersion:
		var r wire.CreateModelVersionRequest
		decode(&r)
		_, err := c.CreateModelVersion(ctx, tracking.CreateModelVersion{Name: r.Name, Source: r.Source, RunID: r.RunID, Tags: wire.TagsToDomain(r.Tags), RunLink: r.RunLink, Description: r.Description})
		return err
	case "POST " + wire.PathTransitionModelVersion:
		var r wire.TransitionModelVersionStageRequest
		decode(&r)
		_, err := c.TransitionModelVersionStage(ctx, r.Name, r.Version, tracking.Stage(r.Stage), r.ArchiveExistingVersions)
		return err
	case "GET " + wire.PathGetModelVersion:
		_, err := c.GetModelVersion(ctx, q.Get("name"), q.Get("version"))
		return err
	case "POST " + wire.PathGetLatestVersions:
		var r wire.GetLatestVersionsRequest
		decode(&r)
		var stages []tracking.Stage
		for _, s := range r.Stages {
			stages = append(stages, tracking.Stage(s))
		}
		_, err := c.GetLatestVersions(ctx, r.Name, stages)
		return err
	case "POST " + wire.PathRegisteredModelAlias:
		var r wire.SetRegisteredModelAliasRequest
		decode(&r)
		return c.SetRegisteredModelAlias(ctx, r.Name, r.Alias, r.Version)
	case "GET " + wire.PathRegisteredModelAlias:
		_, err := c.GetModelVersionByAlias(ctx, q.Get("name"), q.Get("alias"))
		return err
	case "GET " + wire.PathGetRegisteredModel:
		_, err := c.GetRegisteredModel(ctx, q.Get("name"))
		return err
	case "POST " + wire.PathSearchRuns:
		var r wire.SearchRunsRequest
		decode(&r)
		_, err := c.SearchRuns(ctx, tracking.RunQuery{ExperimentIDs: r.ExperimentIDs, Filter: r.Filter, OrderBy: r.OrderBy, ViewType: tracking.ViewType(r.RunViewType), MaxResults: int(r.MaxResults), PageToken: r.PageToken})
		return err
	case "GET " + wire.PathSearchRegisteredModels:
		_, err := c.SearchRegisteredModels(ctx, modelQuery(t, q))
		return err
	case "GET " + wire.PathSearchModelVersions:
		_, err := c.SearchModelVersions(ctx, modelQuery(t, q))
		return err
	}
	t.Fatalf("no client call replays %s", endpoint)
	return nil
}

func modelQuery(t *testing.T, q url.Values) tracking.ModelQuery {
	var n int
	if v := q.Get("max_results"); v != "" {
		if err := json.Unmarshal([]byte(v), &n); err != nil {
			t.Fatal(err)
		}
	}
	return tracking.ModelQuery{Filter: q.Get("filter"), OrderBy: q["order_by"], MaxResults: n, PageToken: q.Get("page_token")}
}
