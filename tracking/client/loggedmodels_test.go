package client_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mlops-lab/housing/internal/testenv"
	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/client"
)

// TestLoggedModelsAgainstRealMLflow3 drives every logged-model call of the
// client against the real MLflow 3.11.1 server and checks what it kept.
func TestLoggedModelsAgainstRealMLflow3(t *testing.T) {
	m := testenv.MLflow(t, testenv.MLflow3)
	ctx := context.Background()
	c, err := client.New(m.URL, client.Options{MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("real MLflow %s server log:\n%s", m.Version, m.Tail())
		}
	})
	if yes, err := c.SupportsLoggedModels(ctx); err != nil || !yes {
		t.Fatalf("SupportsLoggedModels = %v, %v; want true from MLflow 3.11.1", yes, err)
	}
	if lm, err := tracking.LoggedModels(ctx, c); err != nil || lm == nil {
		t.Fatalf("tracking.LoggedModels = %v, %v; want the client", lm, err)
	}
	exp, err := c.CreateExperiment(ctx, "logged-models", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	run, err := c.CreateRun(ctx, tracking.CreateRun{ExperimentID: exp, StartTime: time.Now().UnixMilli()})
	if err != nil {
		t.Fatal(err)
	}
	// More params than one request carries: the rest follow in logged-models/{id}/params.
	var params []tracking.Param
	for i := range tracking.MaxParamsPerBatch + 5 {
		params = append(params, tracking.Param{Key: fmt.Sprintf("p%03d", i), Value: fmt.Sprint(i)})
	}
	lm, err := c.CreateLoggedModel(ctx, tracking.CreateLoggedModel{
		ExperimentID: exp, Name: "model", ModelType: "regressor", SourceRunID: run.Info.RunID,
		Params: params, Tags: []tracking.Tag{{Key: "team", Value: "housing"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(lm.ModelID, "m-") || lm.Status != tracking.LoggedModelPending || lm.ExperimentID != exp ||
		lm.SourceRunID != run.Info.RunID || lm.Name != "model" || lm.ModelType != "regressor" || len(lm.Params) != len(params) {
		t.Fatalf("created %+v; want a PENDING m-... model of the run with %d params", lm, len(params))
	}
	if want := "mlflow-artifacts:/" + exp + "/models/" + lm.ModelID + "/artifacts"; lm.ArtifactLocation != want {
		t.Errorf("artifact URI %s, want %s", lm.ArtifactLocation, want)
	}
	if err := c.SetLoggedModelTags(ctx, lm.ModelID, []tracking.Tag{{Key: "stage", Value: "candidate"}}); err != nil {
		t.Fatal(err)
	}
	if err := c.LogLoggedModelParams(ctx, lm.ModelID, []tracking.Param{{Key: "extra", Value: "1"}}); err != nil {
		t.Fatal(err)
	}
	if err := c.LogOutputs(ctx, run.Info.RunID, []tracking.ModelOutput{{ModelID: lm.ModelID, Step: 3}}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UnixMilli()
	if err := c.LogBatch(ctx, run.Info.RunID, []tracking.Metric{
		{Key: "r2", Value: 0.8, Timestamp: now, Step: 3, ModelID: lm.ModelID, DatasetName: "test", DatasetDigest: "abc"},
	}, nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.LogMetric(ctx, run.Info.RunID, tracking.Metric{Key: "rmse", Value: 0.5, Timestamp: now, Step: 3, ModelID: lm.ModelID}); err != nil {
		t.Fatal(err)
	}
	done, err := c.FinalizeLoggedModel(ctx, lm.ModelID, tracking.LoggedModelReady)
	if err != nil || done.Status != tracking.LoggedModelReady {
		t.Fatalf("finalize: %+v, %v; want READY", done, err)
	}

	got, err := c.GetLoggedModel(ctx, lm.ModelID, false)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != tracking.LoggedModelReady || len(got.Params) != len(params)+1 {
		t.Errorf("got status %s with %d params, want READY with %d", got.Status, len(got.Params), len(params)+1)
	}
	for _, k := range []string{"team", "stage"} {
		if !slices.ContainsFunc(got.Tags, func(t tracking.Tag) bool { return t.Key == k }) {
			t.Errorf("tags %v lack %s", got.Tags, k)
		}
	}
	metrics := map[string]tracking.Metric{}
	for _, m := range got.Metrics {
		metrics[m.Key] = m
	}
	if r2 := metrics["r2"]; r2.Value != 0.8 || r2.ModelID != lm.ModelID || r2.RunID != run.Info.RunID || r2.DatasetName != "test" || r2.DatasetDigest != "abc" || r2.Step != 3 {
		t.Errorf("model metric r2 = %+v, want 0.8 at step 3 on data set test/abc", r2)
	}
	if rmse := metrics["rmse"]; rmse.Value != 0.5 || rmse.ModelID != lm.ModelID {
		t.Errorf("model metric rmse = %+v, want 0.5 from log-metric", rmse)
	}
	// The run lists the model among its outputs.
	rj := runJSON(t, m.URL, run.Info.RunID)
	if len(rj.Run.Outputs.ModelOutputs) != 1 || rj.Run.Outputs.ModelOutputs[0].ModelID != lm.ModelID || rj.Run.Outputs.ModelOutputs[0].Step != 3 {
		t.Errorf("run outputs %+v, want model %s at step 3", rj.Run.Outputs, lm.ModelID)
	}

	// A second model, still PENDING, and a search that tells them apart.
	other, err := c.CreateLoggedModel(ctx, tracking.CreateLoggedModel{ExperimentID: exp, Name: "other"})
	if err != nil {
		t.Fatal(err)
	}
	page, err := c.SearchLoggedModels(ctx, tracking.LoggedModelQuery{ExperimentIDs: []string{exp}, Filter: "name = 'model'"})
	if err != nil || len(page.Items) != 1 || page.Items[0].ModelID != lm.ModelID {
		t.Errorf("search name = 'model': %+v, %v; want only %s", page.Items, err, lm.ModelID)
	}
	page, err = c.SearchLoggedModels(ctx, tracking.LoggedModelQuery{ExperimentIDs: []string{exp}, MaxResults: 1,
		OrderBy: []tracking.LoggedModelOrder{{FieldName: "creation_timestamp", Ascending: true}}})
	if err != nil || len(page.Items) != 1 || page.Items[0].ModelID != lm.ModelID || page.NextPageToken == "" {
		t.Fatalf("first page by creation: %+v, %v; want %s and a token", page, err, lm.ModelID)
	}
	page, err = c.SearchLoggedModels(ctx, tracking.LoggedModelQuery{ExperimentIDs: []string{exp}, MaxResults: 1, PageToken: page.NextPageToken,
		OrderBy: []tracking.LoggedModelOrder{{FieldName: "creation_timestamp", Ascending: true}}})
	if err != nil || len(page.Items) != 1 || page.Items[0].ModelID != other.ModelID {
		t.Errorf("second page: %+v, %v; want %s", page, err, other.ModelID)
	}
	if _, err := c.FinalizeLoggedModel(ctx, other.ModelID, tracking.LoggedModelUploadFailed); err != nil {
		t.Fatal(err)
	}
	if got, err := c.GetLoggedModel(ctx, other.ModelID, false); err != nil || got.Status != tracking.LoggedModelUploadFailed {
		t.Errorf("other after FAILED: %+v, %v", got, err)
	}
	if err := c.DeleteLoggedModelTag(ctx, lm.ModelID, "stage"); err != nil {
		t.Fatal(err)
	}
	if err := c.LogModelInputs(ctx, run.Info.RunID, []tracking.ModelInput{{ModelID: other.ModelID}}); err != nil {
		t.Fatal(err)
	}
	if in := runJSON(t, m.URL, run.Info.RunID).Run.Inputs.ModelInputs; len(in) != 1 || in[0].ModelID != other.ModelID {
		t.Errorf("run model inputs %+v, want %s", in, other.ModelID)
	}
	if err := c.DeleteLoggedModel(ctx, other.ModelID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetLoggedModel(ctx, other.ModelID, false); !tracking.IsNotFound(err) {
		t.Errorf("get of a deleted model: %v, want RESOURCE_DOES_NOT_EXIST", err)
	}
	if got, err := c.GetLoggedModel(ctx, lm.ModelID, false); err != nil || slices.ContainsFunc(got.Tags, func(t tracking.Tag) bool { return t.Key == "stage" }) {
		t.Errorf("tags after deleting stage: %+v, %v", got, err)
	}
	if _, err := c.GetLoggedModel(ctx, "m-doesnotexist", false); !tracking.IsNotFound(err) {
		t.Errorf("get of a missing model: %v, want RESOURCE_DOES_NOT_EXIST", err)
	}

	// A version registered from models:/<model_id> carries the model id.
	if _, err := c.CreateRegisteredModel(ctx, "lm-registered", "", nil); err != nil {
		t.Fatal(err)
	}
	mv, err := c.CreateModelVersion(ctx, tracking.CreateModelVersion{Name: "lm-registered", Source: "models:/" + lm.ModelID, RunID: run.Info.RunID, ModelID: lm.ModelID})
	if err != nil || mv.Source != "models:/"+lm.ModelID {
		t.Fatalf("version from models:/%s: %+v, %v", lm.ModelID, mv, err)
	}
	// The real 3.11.1 takes model_id and keeps the version's source as given,
	// but its answers leave model_id out (its ModelVersion.to_proto does not
	// set it), so ModelID stays empty here; nor does the logged model list the
	// registration (its registrations come back empty).
	if got, err := c.GetModelVersion(ctx, "lm-registered", mv.Version); err != nil || got.Source != mv.Source {
		t.Errorf("version %s: %+v, %v", mv.Version, got, err)
	}
	if uri, err := c.GetModelVersionDownloadURI(ctx, "lm-registered", mv.Version); err != nil || uri != lm.ArtifactLocation {
		t.Errorf("download URI %s (%v), want the model's %s", uri, err, lm.ArtifactLocation)
	}
}

// runView is what runs/get answers about a run's logged models (MLflow 3).
type runView struct {
	Run struct {
		Outputs struct {
			ModelOutputs []struct {
				ModelID string `json:"model_id"`
				Step    int64  `json:"step"`
			} `json:"model_outputs"`
		} `json:"outputs"`
		Inputs struct {
			ModelInputs []struct {
				ModelID string `json:"model_id"`
			} `json:"model_inputs"`
		} `json:"inputs"`
	} `json:"run"`
}

// runJSON reads a run as the server answers runs/get, beyond what tracking.Run holds.
func runJSON(t *testing.T, base, runID string) runView {
	t.Helper()
	resp, err := http.Get(base + "/api/2.0/mlflow/runs/get?run_id=" + runID)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v runView
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestSupportsLoggedModels: MLflow 2.17.2 is told apart from MLflow 3 without
// an error in its log, and so is our server before it serves logged models.
func TestSupportsLoggedModels(t *testing.T) {
	ctx := context.Background()
	t.Run("real MLflow 2.17.2", func(t *testing.T) {
		m := testenv.MLflow(t, testenv.MLflow2)
		c, err := client.New(m.URL, client.Options{MaxRetries: -1})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if yes, err := c.SupportsLoggedModels(ctx); err != nil || yes {
			t.Fatalf("SupportsLoggedModels = %v, %v; want false from MLflow 2.17.2", yes, err)
		}
		if lm, err := tracking.LoggedModels(ctx, c); err != nil || lm != nil {
			t.Errorf("tracking.LoggedModels = %v, %v; want nil", lm, err)
		}
		log, err := os.ReadFile(m.Log)
		if err != nil {
			t.Fatal(err)
		}
		for _, bad := range []string{"ERROR", "Traceback", "Exception"} {
			if strings.Contains(string(log), bad) {
				t.Errorf("MLflow 2.17.2's log has %q after the probe:\n%s", bad, log)
			}
		}
	})
	t.Run("our server", func(t *testing.T) {
		c := overHTTP(func(t *testing.T) string { return "sqlite:///" + filepath.Join(t.TempDir(), "mlflow.db") })(t).(*client.Client)
		yes, err := c.SupportsLoggedModels(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// Either answer is right, as long as it is the truth about the server.
		if _, gerr := c.GetLoggedModel(ctx, "m-0", false); yes != tracking.IsNotFound(gerr) {
			t.Errorf("SupportsLoggedModels = %v, but get-logged-model answers %v", yes, gerr)
		}
	})
}

// TestWorkspaceHeader: MLFLOW_WORKSPACE goes out as X-MLflow-Workspace on every
// request, as MLflow 3.11.1's client sends it; the real 3.11.1 server without
// workspaces enabled refuses such requests as FEATURE_DISABLED, and MLflow's own
// client refuses them too (it asks server-info first and stops itself).
func TestWorkspaceHeader(t *testing.T) {
	opt, err := client.OptionsFromEnv(func(k string) string {
		return map[string]string{"MLFLOW_WORKSPACE": " team-a "}[k]
	})
	if err != nil || opt.Workspace != "team-a" {
		t.Fatalf("OptionsFromEnv: workspace %q, %v; want team-a", opt.Workspace, err)
	}
	m := testenv.MLflow(t, testenv.MLflow3)
	ctx := context.Background()
	opt.MaxRetries = -1
	c, err := client.New(m.URL, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.GetExperiment(ctx, "0")
	const want = "Workspace APIs are not available: workspaces are not enabled on this server"
	if tracking.ErrorCodeOf(err) != tracking.ErrorCode("FEATURE_DISABLED") || !strings.Contains(err.Error(), want) {
		t.Fatalf("get-experiment with a workspace against MLflow 3.11.1 without workspaces: %v; want FEATURE_DISABLED %q", err, want)
	}
	out, err := testenv.RunMLflowPython(ctx, testenv.MLflow3, `
import mlflow
try:
    mlflow.MlflowClient().get_experiment("0")
    print("accepted")
except mlflow.exceptions.MlflowException as e:
    print(e.error_code, e.message)
`, "MLFLOW_TRACKING_URI="+m.URL, "MLFLOW_WORKSPACE=team-a")
	if err != nil || !strings.HasPrefix(string(out), "FEATURE_DISABLED ") {
		t.Errorf("MLflow's own client with MLFLOW_WORKSPACE: %s (%v); want FEATURE_DISABLED", out, err)
	}
	plain, err := client.New(m.URL, client.Options{MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if _, err := plain.GetExperiment(ctx, "0"); err != nil {
		t.Errorf("without a workspace: %v", err)
	}
}
