package kfpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/mlops-lab/housing/internal/kfp"
	"github.com/mlops-lab/housing/internal/kfp/kfpapi"
)

// fakeKFP is a KFP API server that checks each request against the
// v2beta1 shapes (backend/api/v2beta1/*.proto, snake_case JSON) and keeps
// what was created.
type fakeKFP struct {
	t     *testing.T
	token string
	// wantErrors: requests are expected to be refused, so a refusal is
	// not a test failure.
	wantErrors bool

	mu          sync.Mutex
	calls       []string
	pipelines   map[string]string   // display name -> id
	versions    map[string][]string // pipeline id -> version ids
	specs       map[string]kfp.Document
	experiments map[string]string // display name -> id
	runs        []runBody
	recurring   []recurringRunBody
}

// The request bodies, field for field as the protos define them; decoding
// rejects any other field.
type versionRef struct {
	PipelineID        string `json:"pipeline_id"`
	PipelineVersionID string `json:"pipeline_version_id"`
}

type runtimeConfig struct {
	Parameters   map[string]json.RawMessage `json:"parameters"`
	PipelineRoot string                     `json:"pipeline_root"`
}

type runBody struct {
	ExperimentID             string          `json:"experiment_id"`
	RunID                    string          `json:"run_id"`
	DisplayName              string          `json:"display_name"`
	StorageState             string          `json:"storage_state"`
	Description              string          `json:"description"`
	PipelineVersionID        string          `json:"pipeline_version_id"`
	PipelineSpec             json.RawMessage `json:"pipeline_spec"`
	PipelineVersionReference *versionRef     `json:"pipeline_version_reference"`
	RuntimeConfig            *runtimeConfig  `json:"runtime_config"`
	ServiceAccount           string          `json:"service_account"`
}

type recurringRunBody struct {
	RecurringRunID           string          `json:"recurring_run_id"`
	DisplayName              string          `json:"display_name"`
	Description              string          `json:"description"`
	PipelineVersionID        string          `json:"pipeline_version_id"`
	PipelineSpec             json.RawMessage `json:"pipeline_spec"`
	PipelineVersionReference *versionRef     `json:"pipeline_version_reference"`
	RuntimeConfig            *runtimeConfig  `json:"runtime_config"`
	ServiceAccount           string          `json:"service_account"`
	MaxConcurrency           json.RawMessage `json:"max_concurrency"`
	Trigger                  *struct {
		CronSchedule *struct {
			StartTime string `json:"start_time"`
			EndTime   string `json:"end_time"`
			Cron      string `json:"cron"`
		} `json:"cron_schedule"`
		PeriodicSchedule json.RawMessage `json:"periodic_schedule"`
	} `json:"trigger"`
	Mode         string `json:"mode"`
	NoCatchup    bool   `json:"no_catchup"`
	Namespace    string `json:"namespace"`
	ExperimentID string `json:"experiment_id"`
}

type experimentBody struct {
	ExperimentID string `json:"experiment_id"`
	DisplayName  string `json:"display_name"`
	Description  string `json:"description"`
	Namespace    string `json:"namespace"`
}

func newFakeKFP(t *testing.T, token string) (*fakeKFP, *httptest.Server) {
	f := &fakeKFP{t: t, token: token, pipelines: map[string]string{}, versions: map[string][]string{},
		specs: map[string]kfp.Document{}, experiments: map[string]string{}}
	srv := httptest.NewServer(f) // listens on 127.0.0.1
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fakeKFP) fail(w http.ResponseWriter, code int, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if !f.wantErrors {
		f.t.Errorf("fake KFP: %s", msg)
	}
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]any{"error": msg, "code": 3, "message": msg})
}

func reply(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func strictDecode(r io.Reader, v any) error {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// nameFilter checks a v2beta1 Filter selecting display_name == x and returns x.
func nameFilter(raw string) (string, error) {
	var f struct {
		Predicates []struct {
			Operation   string `json:"operation"`
			Key         string `json:"key"`
			StringValue string `json:"stringValue"`
		} `json:"predicates"`
	}
	if err := strictDecode(strings.NewReader(raw), &f); err != nil {
		return "", fmt.Errorf("filter %q: %v", raw, err)
	}
	if len(f.Predicates) != 1 || f.Predicates[0].Operation != "EQUALS" || f.Predicates[0].Key != "display_name" {
		return "", fmt.Errorf("filter %q is not display_name EQUALS", raw)
	}
	return f.Predicates[0].StringValue, nil
}

func (f *fakeKFP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, r.Method+" "+r.URL.Path)
	if got := r.Header.Get("Authorization"); got != "Bearer "+f.token {
		f.fail(w, http.StatusUnauthorized, "Authorization %q", got)
		return
	}
	q := r.URL.Query()
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/apis/v2beta1/pipelines":
		name, err := nameFilter(q.Get("filter"))
		if err != nil {
			f.fail(w, http.StatusBadRequest, "%v", err)
			return
		}
		if id, ok := f.pipelines[name]; ok {
			reply(w, map[string]any{"pipelines": []map[string]any{{"pipeline_id": id, "display_name": name}}, "total_size": 1})
			return
		}
		reply(w, map[string]any{})
	case r.Method == http.MethodPost && (r.URL.Path == "/apis/v2beta1/pipelines/upload" || r.URL.Path == "/apis/v2beta1/pipelines/upload_version"):
		file, hdr, err := r.FormFile("uploadfile")
		if err != nil {
			f.fail(w, http.StatusBadRequest, "multipart uploadfile: %v", err)
			return
		}
		b, _ := io.ReadAll(file)
		doc, err := kfp.Parse(b)
		if err == nil {
			err = kfp.Validate(doc)
		}
		if err != nil || !strings.HasSuffix(hdr.Filename, ".yaml") {
			f.fail(w, http.StatusBadRequest, "uploaded file %s: %v", hdr.Filename, err)
			return
		}
		name := q.Get("name")
		if name == "" {
			f.fail(w, http.StatusBadRequest, "no name query parameter")
			return
		}
		vid := fmt.Sprintf("version-%d", len(f.specs)+1)
		f.specs[vid] = doc
		if r.URL.Path == "/apis/v2beta1/pipelines/upload" {
			if _, ok := f.pipelines[name]; ok {
				w.WriteHeader(http.StatusConflict)
				reply(w, map[string]any{"error": "exists", "code": 6, "message": "pipeline exists"})
				return
			}
			pid := fmt.Sprintf("pipeline-%d", len(f.pipelines)+1)
			f.pipelines[name] = pid
			f.versions[pid] = append(f.versions[pid], vid)
			reply(w, map[string]any{"pipeline_id": pid, "display_name": name, "created_at": "2026-01-01T00:00:00Z"})
			return
		}
		pid := q.Get("pipelineid")
		if _, ok := f.versions[pid]; !ok {
			f.fail(w, http.StatusNotFound, "upload_version: no pipeline %q", pid)
			return
		}
		f.versions[pid] = append(f.versions[pid], vid)
		reply(w, map[string]any{"pipeline_id": pid, "pipeline_version_id": vid, "display_name": name})
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/apis/v2beta1/pipelines/") && strings.HasSuffix(r.URL.Path, "/versions"):
		pid := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/apis/v2beta1/pipelines/"), "/versions")
		vs, ok := f.versions[pid]
		if !ok {
			f.fail(w, http.StatusNotFound, "versions of unknown pipeline %q", pid)
			return
		}
		if q.Get("sort_by") != "created_at desc" {
			f.fail(w, http.StatusBadRequest, "versions sort_by %q", q.Get("sort_by"))
			return
		}
		reply(w, map[string]any{"pipeline_versions": []map[string]any{{"pipeline_id": pid, "pipeline_version_id": vs[len(vs)-1]}}})
	case r.Method == http.MethodGet && r.URL.Path == "/apis/v2beta1/experiments":
		name, err := nameFilter(q.Get("filter"))
		if err != nil {
			f.fail(w, http.StatusBadRequest, "%v", err)
			return
		}
		if id, ok := f.experiments[name]; ok {
			reply(w, map[string]any{"experiments": []map[string]any{{"experiment_id": id, "display_name": name}}})
			return
		}
		reply(w, map[string]any{})
	case r.Method == http.MethodPost && r.URL.Path == "/apis/v2beta1/experiments":
		var e experimentBody
		if err := strictDecode(r.Body, &e); err != nil || e.DisplayName == "" {
			f.fail(w, http.StatusBadRequest, "experiment body: %v %+v", err, e)
			return
		}
		id := fmt.Sprintf("experiment-%d", len(f.experiments)+1)
		f.experiments[e.DisplayName] = id
		reply(w, map[string]any{"experiment_id": id, "display_name": e.DisplayName})
	case r.Method == http.MethodPost && r.URL.Path == "/apis/v2beta1/runs":
		var run runBody
		if err := strictDecode(r.Body, &run); err != nil {
			f.fail(w, http.StatusBadRequest, "run body: %v", err)
			return
		}
		if msg := f.checkSource(run.DisplayName, run.ExperimentID, run.PipelineVersionReference, run.RuntimeConfig); msg != "" {
			f.fail(w, http.StatusBadRequest, "run: %s", msg)
			return
		}
		f.runs = append(f.runs, run)
		reply(w, map[string]any{"run_id": fmt.Sprintf("run-%d", len(f.runs)), "display_name": run.DisplayName, "state": "PENDING"})
	case r.Method == http.MethodPost && r.URL.Path == "/apis/v2beta1/recurringruns":
		var rr recurringRunBody
		if err := strictDecode(r.Body, &rr); err != nil {
			f.fail(w, http.StatusBadRequest, "recurring run body: %v", err)
			return
		}
		if msg := f.checkSource(rr.DisplayName, rr.ExperimentID, rr.PipelineVersionReference, rr.RuntimeConfig); msg != "" {
			f.fail(w, http.StatusBadRequest, "recurring run: %s", msg)
			return
		}
		// int64 in proto3 JSON: a string (as grpc-gateway writes it) or a number.
		conc, err := strconv.ParseInt(strings.Trim(string(rr.MaxConcurrency), `"`), 10, 64)
		if err != nil || conc < 1 || conc > 10 {
			f.fail(w, http.StatusBadRequest, "max_concurrency %s not in [1,10]", rr.MaxConcurrency)
			return
		}
		if rr.Trigger == nil || rr.Trigger.CronSchedule == nil || len(strings.Fields(rr.Trigger.CronSchedule.Cron)) != 6 {
			f.fail(w, http.StatusBadRequest, "trigger needs a six-field cron_schedule.cron")
			return
		}
		if rr.Mode != "ENABLE" && rr.Mode != "DISABLE" {
			f.fail(w, http.StatusBadRequest, "mode %q", rr.Mode)
			return
		}
		f.recurring = append(f.recurring, rr)
		reply(w, map[string]any{"recurring_run_id": "rr-1", "display_name": rr.DisplayName, "status": "ENABLED"})
	default:
		f.fail(w, http.StatusNotFound, "unexpected %s %s", r.Method, r.URL.Path)
	}
}

// checkSource checks what runs and recurring runs share: a name, an
// existing pipeline version, an existing experiment if any, and parameters
// that the uploaded pipeline declares.
func (f *fakeKFP) checkSource(name, experiment string, ref *versionRef, cfg *runtimeConfig) string {
	if name == "" {
		return "no display_name"
	}
	if ref == nil {
		return "no pipeline_version_reference"
	}
	found := false
	for _, v := range f.versions[ref.PipelineID] {
		found = found || v == ref.PipelineVersionID
	}
	if !found {
		return fmt.Sprintf("unknown pipeline version %+v", *ref)
	}
	if experiment != "" {
		known := false
		for _, id := range f.experiments {
			known = known || id == experiment
		}
		if !known {
			return "unknown experiment " + experiment
		}
	}
	if cfg != nil {
		defs := f.specs[ref.PipelineVersionID].Spec.GetRoot().GetInputDefinitions().GetParameters()
		for p := range cfg.Parameters {
			if _, ok := defs[p]; !ok {
				return "undeclared parameter " + p
			}
		}
	}
	return ""
}

func pipelineYAML(t *testing.T) []byte {
	t.Helper()
	doc, err := kfp.HousingPipeline()
	if err != nil {
		t.Fatal(err)
	}
	b, err := kfp.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSubmitRun(t *testing.T) {
	fake, srv := newFakeKFP(t, "tok")
	c, err := kfpapi.New(srv.URL, "tok", srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	params := map[string]any{"sweep": []any{"rf-tuned", "linear"}, "promotion_margin": 0.01, "data_uri": "s3://data/cal_housing.tgz"}
	got, err := c.Submit(context.Background(), kfpapi.Submission{
		Name: "california-housing", Spec: pipelineYAML(t), Experiment: "california-housing",
		RunName: "housing-1", Parameters: params,
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.Run == nil || got.Run.RunID != "run-1" || got.Pipeline.PipelineID != "pipeline-1" || got.Version.PipelineVersionID != "version-1" || got.Experiment.ExperimentID != "experiment-1" {
		t.Fatalf("Submit = %+v (run %+v)", got, got.Run)
	}
	if len(fake.runs) != 1 {
		t.Fatalf("%d runs created", len(fake.runs))
	}
	run := fake.runs[0]
	if run.ExperimentID != "experiment-1" || run.PipelineVersionReference.PipelineVersionID != "version-1" {
		t.Errorf("run body %+v", run)
	}
	if s := string(run.RuntimeConfig.Parameters["sweep"]); s != `["rf-tuned","linear"]` {
		t.Errorf("sweep sent as %s", s)
	}
	if s := string(run.RuntimeConfig.Parameters["promotion_margin"]); s != `0.01` {
		t.Errorf("promotion_margin sent as %s", s)
	}

	// A second submission uploads a new version of the same pipeline and
	// reuses the experiment.
	got, err = c.Submit(context.Background(), kfpapi.Submission{
		Name: "california-housing", Spec: pipelineYAML(t), Experiment: "california-housing",
		RunName: "housing-2", VersionName: "california-housing-v2",
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.Version.PipelineVersionID != "version-2" || got.Pipeline.PipelineID != "pipeline-1" || len(fake.experiments) != 1 {
		t.Errorf("second Submit = %+v; experiments %v", got, fake.experiments)
	}
	want := []string{
		"GET /apis/v2beta1/pipelines", "POST /apis/v2beta1/pipelines/upload", "GET /apis/v2beta1/pipelines/pipeline-1/versions",
		"GET /apis/v2beta1/experiments", "POST /apis/v2beta1/experiments", "POST /apis/v2beta1/runs",
		"GET /apis/v2beta1/pipelines", "POST /apis/v2beta1/pipelines/upload_version", "GET /apis/v2beta1/experiments", "POST /apis/v2beta1/runs",
	}
	if strings.Join(fake.calls, "\n") != strings.Join(want, "\n") {
		t.Errorf("calls:\n%s\nwant:\n%s", strings.Join(fake.calls, "\n"), strings.Join(want, "\n"))
	}
}

func TestSubmitRecurringRun(t *testing.T) {
	fake, srv := newFakeKFP(t, "tok")
	c, err := kfpapi.New(srv.URL+"/", "tok", srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Submit(context.Background(), kfpapi.Submission{
		Name: "california-housing", Spec: pipelineYAML(t), RunName: "nightly",
		Cron: "0 0 * * * *", NoCatchup: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.RecurringRun == nil || got.RecurringRun.RecurringRunID != "rr-1" || got.Run != nil {
		t.Fatalf("Submit = %+v", got)
	}
	rr := fake.recurring[0]
	if string(rr.MaxConcurrency) != `"1"` || !rr.NoCatchup || rr.Mode != "ENABLE" || rr.Trigger.CronSchedule.Cron != "0 0 * * * *" {
		t.Errorf("recurring run body: max_concurrency %s no_catchup %v mode %s cron %q", rr.MaxConcurrency, rr.NoCatchup, rr.Mode, rr.Trigger.CronSchedule.Cron)
	}
	if rr.ExperimentID != "" {
		t.Errorf("experiment_id %q without an experiment", rr.ExperimentID)
	}
}

func TestAPIError(t *testing.T) {
	fake, srv := newFakeKFP(t, "right")
	fake.wantErrors = true
	c, err := kfpapi.New(srv.URL, "wrong", srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = c.FindPipeline(context.Background(), "x", "")
	var apiErr *kfpapi.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusUnauthorized || !strings.Contains(apiErr.Message, `Authorization "Bearer wrong"`) {
		t.Fatalf("FindPipeline error %v, want a 401 APIError carrying the server's message", err)
	}
}

func TestNewRejectsBadHost(t *testing.T) {
	for _, h := range []string{"", "ml-pipeline:8888", "ftp://x"} {
		if _, err := kfpapi.New(h, "", nil); err == nil {
			t.Errorf("New(%q) accepted it", h)
		}
	}
}
