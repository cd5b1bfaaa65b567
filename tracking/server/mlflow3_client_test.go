package server_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mlops-lab/housing/internal/testenv"
	"github.com/mlops-lab/housing/tracking/artifacts"
	"github.com/mlops-lab/housing/tracking/server"
	"github.com/mlops-lab/housing/tracking/sqlstore"
)

// sklearnLogModel is what a user of MLflow 3 does: log a scikit-learn model
// in a run (MLflow 3 creates a LoggedModel first, uploads its files to the
// model's own location and finalizes it), log a metric on it, register it,
// and load the registered version back.
const sklearnLogModel = `
import json, mlflow, numpy as np
from sklearn.linear_model import LinearRegression
mlflow.set_experiment("california-housing")
X = np.array([[1.0], [2.0], [3.0]]); y = np.array([2.0, 4.0, 6.0])
with mlflow.start_run() as run:
    info = mlflow.sklearn.log_model(LinearRegression().fit(X, y), name="model", params={"fit_intercept": "True"})
    mlflow.log_metric("r2", 1.0, model_id=info.model_id)
mv = mlflow.register_model(info.model_uri, "california-housing")
model = mlflow.get_logged_model(info.model_id)
loaded = mlflow.pyfunc.load_model("models:/california-housing/" + mv.version)
print(json.dumps({
    "model_id": info.model_id, "run_id": run.info.run_id, "status": str(model.status),
    "source_run_id": model.source_run_id, "artifact_location": model.artifact_location,
    "params": model.params, "metrics": [[m.key, m.value, m.model_id] for m in model.metrics],
    "version": mv.version, "version_run_id": mv.run_id, "model_versions_tag": model.tags.get("mlflow.modelVersions"),
    "outputs": [o.model_id for o in mlflow.get_run(run.info.run_id).outputs.model_outputs],
    "prediction": float(loaded.predict(np.array([[4.0]]))[0]),
}))
`

func TestRealMLflow3ClientLogsSklearnModel(t *testing.T) {
	testenv.RequireMLflow(t, testenv.MLflow3)
	dir := t.TempDir()
	store, err := sqlstore.Open(context.Background(), "sqlite:///"+filepath.Join(dir, "mlflow.db"),
		sqlstore.Options{DefaultArtifactRoot: "mlflow-artifacts:/"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	repo, err := artifacts.NewLocal(filepath.Join(dir, "mlartifacts"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(server.New(store, repo, server.Options{LoggedModels: store, Traces: store}))
	t.Cleanup(srv.Close)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := testenv.RunMLflowPython(ctx, testenv.MLflow3, sklearnLogModel,
		"MLFLOW_TRACKING_URI="+srv.URL, "MLFLOW_ENABLE_ASYNC_LOGGING=false", "HOME="+dir)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		ModelID          string            `json:"model_id"`
		RunID            string            `json:"run_id"`
		Status           string            `json:"status"`
		SourceRunID      string            `json:"source_run_id"`
		ArtifactLocation string            `json:"artifact_location"`
		Params           map[string]string `json:"params"`
		Metrics          [][]any           `json:"metrics"`
		Version          string            `json:"version"`
		VersionRunID     string            `json:"version_run_id"`
		ModelVersionsTag string            `json:"model_versions_tag"`
		Outputs          []string          `json:"outputs"`
		Prediction       float64           `json:"prediction"`
	}
	// The last line is the script's; MLflow prints links to the run before it.
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &got); err != nil {
		t.Fatalf("script printed %s: %v", out, err)
	}
	if got.Status != "READY" {
		t.Errorf("model status %s, want READY (finalized after the upload)", got.Status)
	}
	if got.SourceRunID != got.RunID || got.VersionRunID != got.RunID {
		t.Errorf("source run %s, version's run %s, want the run %s", got.SourceRunID, got.VersionRunID, got.RunID)
	}
	m, err := store.GetLoggedModel(ctx, got.ModelID, false)
	if err != nil {
		t.Fatal(err)
	}
	if want := "mlflow-artifacts:/" + m.ExperimentID + "/models/" + got.ModelID + "/artifacts"; got.ArtifactLocation != want {
		t.Errorf("artifact location %s, want %s", got.ArtifactLocation, want)
	}
	files, err := repo.List(ctx, m.ExperimentID+"/models/"+got.ModelID+"/artifacts")
	if err != nil || len(files) == 0 {
		t.Errorf("model files: %v, %v", files, err)
	}
	if v, _ := m.Param("fit_intercept"); v != "True" || got.Params["fit_intercept"] != "True" {
		t.Errorf("model params %v (client saw %v)", m.Params, got.Params)
	}
	if len(got.Metrics) != 1 || got.Metrics[0][0] != "r2" || got.Metrics[0][2] != got.ModelID {
		t.Errorf("model metrics %v", got.Metrics)
	}
	// The server's entry, then the client's own (register_model appends it,
	// with the version as a string): so with real MLflow 3.11.1 too.
	if want := `[{"name": "california-housing", "version": 1}, {"name": "california-housing", "version": "1"}]`; got.ModelVersionsTag != want {
		t.Errorf("mlflow.modelVersions %q, want %q", got.ModelVersionsTag, want)
	}
	if len(got.Outputs) != 1 || got.Outputs[0] != got.ModelID {
		t.Errorf("run outputs %v, want the model", got.Outputs)
	}
	if got.Prediction < 7.99 || got.Prediction > 8.01 {
		t.Errorf("the registered model predicts %v for 4, want 8", got.Prediction)
	}
}
