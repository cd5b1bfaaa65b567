package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
)

func fixedNow() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }

const pipelineFile = "../../pipelines/california-housing.yaml"

func TestInterspersed(t *testing.T) {
	got := interspersed([]string{"pipeline", "submit", "f.yaml", "--param", "a=1", "--no-catchup", "--cron=0 0 * * * *", "-p", "b=2"})
	want := []string{"pipeline", "submit", "--param", "a=1", "--no-catchup", "--cron=0 0 * * * *", "-p", "b=2", "--", "f.yaml"}
	if !slices.Equal(got, want) {
		t.Fatalf("interspersed = %q, want %q", got, want)
	}
}

func TestValidateCommand(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"pipeline", "validate", pipelineFile, "../../components/train.yaml"}, nil, &out, &errOut, fixedNow); err != nil {
		t.Fatal(err)
	}
	if strings.Count(out.String(), ": ok") != 2 {
		t.Errorf("output %q", out.String())
	}
}

func TestRunCommandReportsFailure(t *testing.T) {
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"pipeline", "run", pipelineFile, "--bin-dir", t.TempDir(), "--root", t.TempDir(), "--param", "data_uri=x"}, nil, &out, &errOut, fixedNow)
	if err == nil {
		t.Fatal("run succeeded without step binaries")
	}
	if !strings.Contains(errOut.String(), "task ingest FAILED") || !strings.Contains(errOut.String(), "no binary") {
		t.Errorf("stderr does not name the failed task and why:\n%s", errOut.String())
	}
	if !strings.Contains(out.String(), "run california-housing-20260102-030405") || !strings.Contains(out.String(), "compare                  SKIPPED") {
		t.Errorf("stdout lacks the run id or the skipped tasks:\n%s", out.String())
	}
}

func TestSubmitCommandUsesEnvHostAndTypedParams(t *testing.T) {
	var runBody map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer env-token" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		switch r.URL.Path {
		case "/apis/v2beta1/pipelines":
			w.Write([]byte(`{}`))
		case "/apis/v2beta1/pipelines/upload":
			if r.URL.Query().Get("name") != "california-housing" {
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			w.Write([]byte(`{"pipeline_id":"p1","display_name":"california-housing"}`))
		case "/apis/v2beta1/pipelines/p1/versions":
			w.Write([]byte(`{"pipeline_versions":[{"pipeline_id":"p1","pipeline_version_id":"v1"}]}`))
		case "/apis/v2beta1/runs":
			json.NewDecoder(r.Body).Decode(&runBody)
			w.Write([]byte(`{"run_id":"r1"}`))
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer srv.Close()
	env := []string{"KFP_HOST=" + srv.URL, "KFP_TOKEN=env-token"}
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"pipeline", "submit", pipelineFile, "--param", "promotion_margin=0.02", "--param", "sweep=linear,rf-tuned"}, env, &out, &errOut, fixedNow)
	if err != nil {
		t.Fatalf("submit: %v\n%s", err, errOut.String())
	}
	if !strings.Contains(out.String(), "run california-housing-20260102-030405 (r1)") {
		t.Errorf("output %q", out.String())
	}
	params := runBody["runtime_config"].(map[string]any)["parameters"].(map[string]any)
	if params["promotion_margin"] != 0.02 {
		t.Errorf("promotion_margin sent as %#v", params["promotion_margin"])
	}
	if s, ok := params["sweep"].([]any); !ok || len(s) != 2 || s[0] != "linear" {
		t.Errorf("sweep sent as %#v", params["sweep"])
	}
}
