package steps_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mlops-lab/housing/internal/testenv"
)

// TestMakeRunAgainstRealMLflow is `make run` with MLFLOW_TRACKING_URI pointing
// at the real MLflow server, 2.17.2 and 3.11.1 (serving artifacts, as `mlflow
// server --serve-artifacts` does): scripts/run-lab runs the pipeline's binaries
// on a two-config sweep, and that version's MLflow Python client reads back what
// they left: the runs with their params, metrics and model, and the registered
// model promoted to Production as champion; then predict scores with that champion.
// Against 3.11.1 the model of each run is a logged model (READY, with the run's
// params and test metrics, linked to the run), the champion's source is
// models:/<model_id>, and MLflow's get_model_info resolves the champion to it.
func TestMakeRunAgainstRealMLflow(t *testing.T) {
	if testing.Short() {
		t.Skip("trains forests; skipped in -short")
	}
	data := sharedData(t)
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(root, "scripts", "run-lab")
	if _, err := os.Stat(script); err != nil {
		t.Fatal(err)
	}
	for _, version := range []string{testenv.MLflow2, testenv.MLflow3} {
		t.Run(version, func(t *testing.T) {
			testenv.RequireMLflow(t, version)
			makeRunAgainst(t, testenv.MLflow(t, version), script, data)
		})
	}
}

func makeRunAgainst(t *testing.T, m *testenv.MLflowServer, script, data string) {
	bin := binaries(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	labDir := t.TempDir()
	makeRun := exec.CommandContext(ctx, script, "--param", "sweep=rf-baseline,rf-tuned")
	makeRun.Env = baseEnv("MLFLOW_TRACKING_URI="+m.URL, "BIN="+bin, "LAB_DIR="+labDir, "DATA="+data)
	out, err := makeRun.CombinedOutput()
	if err != nil {
		t.Fatalf("scripts/run-lab against real MLflow %s: %v\n%s\nserver log:\n%s", m.Version, err, out, m.Tail())
	}

	got := readBackWithMLflow(t, m)
	mlflow3 := strings.HasPrefix(m.Version, "3.")
	if got.Experiment.ArtifactLocation != "mlflow-artifacts:/"+got.Experiment.ID {
		t.Errorf("experiment california-housing = %+v, want its artifacts served by the server", got.Experiment)
	}
	runs := map[string]mlflowRun{}
	for _, r := range got.Runs {
		runs[r.Name] = r
	}
	for _, want := range []struct {
		name, trees, depth string
		r2                 float64 // scikit-learn's, see DESIGN.md
	}{{"rf-baseline", "50", "5", 0.6469}, {"rf-tuned", "100", "10", 0.7737}} {
		r, ok := runs[want.name]
		if !ok {
			t.Errorf("no run %s in california-housing: %+v", want.name, got.Runs)
			continue
		}
		if r.Status != "FINISHED" || r.Params["n_estimators"] != want.trees || r.Params["max_depth"] != want.depth {
			t.Errorf("run %s: status %s, params %v; want FINISHED, n_estimators %s, max_depth %s", want.name, r.Status, r.Params, want.trees, want.depth)
		}
		for _, k := range []string{"r2", "mse", "rmse", "mae"} {
			if _, ok := r.Metrics[k]; !ok {
				t.Errorf("run %s lacks metric %s: %v", want.name, k, r.Metrics)
			}
		}
		if r2 := r.Metrics["r2"]; r2 < want.r2-0.03 || r2 > want.r2+0.03 {
			t.Errorf("run %s r2 = %.4f, want about %.4f", want.name, r2, want.r2)
		}
		wantArts := []string{"model/MLmodel", "plots"}
		if mlflow3 {
			// MLflow 3: the model is a logged model with artifacts of its own.
			wantArts = []string{"plots"}
			if slices.Contains(r.Artifacts, "model") {
				t.Errorf("run %s artifacts %v hold a model/ beside its logged model", want.name, r.Artifacts)
			}
			checkLoggedModel(t, got, r, want.trees, want.depth)
		}
		for _, p := range wantArts {
			if !slices.Contains(r.Artifacts, p) {
				t.Errorf("run %s artifacts %v lack %s", want.name, r.Artifacts, p)
			}
		}
	}

	if got.Model.Aliases["champion"] == "" {
		t.Fatalf("registered model california-housing has aliases %v, want champion", got.Model.Aliases)
	}
	champion := got.Model.Champion
	if champion.Version != got.Model.Aliases["champion"] || champion.Stage != "Production" {
		t.Errorf("champion = version %s in %s, want version %s in Production", champion.Version, champion.Stage, got.Model.Aliases["champion"])
	}
	if !slices.Contains(got.Model.Latest, champion.Version+":Production") {
		t.Errorf("latest versions %v lack the champion in Production", got.Model.Latest)
	}
	best := runs["rf-tuned"].ID
	if champion.RunID != best || champion.MLmodelRunID != best {
		t.Errorf("champion from run %s (its MLmodel says %s), want rf-tuned's %s", champion.RunID, champion.MLmodelRunID, best)
	}
	if mlflow3 {
		lm := got.LoggedModels[champion.MLmodelModelID]
		if champion.Source != "models:/"+lm.ID || lm.SourceRunID != best || champion.ModelInfoID != lm.ID {
			t.Errorf("champion source %s, its MLmodel's model_id %s, get_model_info's %s; want models:/ of rf-tuned's logged model %+v",
				champion.Source, champion.MLmodelModelID, champion.ModelInfoID, lm)
		}
	} else if !strings.HasSuffix(champion.Source, "/"+champion.RunID+"/artifacts/model") {
		t.Errorf("champion source = %s, want the run's model directory", champion.Source)
	}

	// The champion scores ingest's test split, fetched through the real server.
	tests, _ := filepath.Glob(filepath.Join(labDir, "pipeline-root", "*", "ingest", "artifacts", "test"))
	if len(tests) != 1 {
		t.Fatalf("ingest's test split: %v, want one", tests)
	}
	l := &lab{t: t, bin: bin, dir: t.TempDir(), env: baseEnv("MLFLOW_TRACKING_URI=" + m.URL)}
	l.step(true, "predict", "--model-uri", "models:/california-housing@champion", "--input", tests[0],
		"--output", l.path("predictions.csv"), "--metrics-out", l.path("metrics.json"))
	var scored struct{ R2 float64 }
	if err := json.Unmarshal([]byte(l.read("metrics.json")), &scored); err != nil || scored.R2 != runs["rf-tuned"].Metrics["r2"] {
		t.Errorf("predict with the champion: r2 %v (%v), want rf-tuned's %v", scored.R2, err, runs["rf-tuned"].Metrics["r2"])
	}
	if mlflow3 {
		// The logged model itself, by its id.
		l.step(true, "predict", "--model-uri", "models:/"+champion.MLmodelModelID, "--input", tests[0],
			"--output", l.path("predictions-by-id.csv"), "--metrics-out", l.path("metrics-by-id.json"))
		if err := json.Unmarshal([]byte(l.read("metrics-by-id.json")), &scored); err != nil || scored.R2 != runs["rf-tuned"].Metrics["r2"] {
			t.Errorf("predict with models:/%s: r2 %v (%v), want rf-tuned's %v", champion.MLmodelModelID, scored.R2, err, runs["rf-tuned"].Metrics["r2"])
		}
	}
}

// What the real MLflow client reads back (printed as JSON by readBackScript).
type mlflowReadBack struct {
	Experiment struct {
		ID               string `json:"id"`
		ArtifactLocation string `json:"artifact_location"`
	} `json:"experiment"`
	Runs  []mlflowRun `json:"runs"`
	Model struct {
		Aliases  map[string]string `json:"aliases"`
		Latest   []string          `json:"latest"` // version:stage
		Champion struct {
			Version      string `json:"version"`
			Stage        string `json:"stage"`
			RunID        string `json:"run_id"`
			Source       string `json:"source"`
			MLmodelRunID string `json:"mlmodel_run_id"`
			// MLflow 3 only.
			MLmodelModelID string `json:"mlmodel_model_id"`
			ModelInfoID    string `json:"model_info_id"`
		} `json:"champion"`
	} `json:"model"`
	LoggedModels map[string]mlflowLoggedModel `json:"logged_models"` // MLflow 3 only, by id
}

type mlflowLoggedModel struct {
	ID          string             `json:"id"`
	Name        string             `json:"name"`
	Status      string             `json:"status"`
	SourceRunID string             `json:"source_run_id"`
	Params      map[string]string  `json:"params"`
	Metrics     map[string]float64 `json:"metrics"` // test metrics, on data set california-housing-test
	ArtifactURI string             `json:"artifact_uri"`
	Artifacts   []string           `json:"artifacts"`
}

// checkLoggedModel checks the logged model a run produced (MLflow 3).
func checkLoggedModel(t *testing.T, got mlflowReadBack, r mlflowRun, trees, depth string) {
	t.Helper()
	if len(r.Outputs) != 1 {
		t.Errorf("run %s outputs %v, want its one logged model", r.Name, r.Outputs)
		return
	}
	lm, ok := got.LoggedModels[r.Outputs[0]]
	if !ok {
		t.Errorf("run %s output %s is not among the logged models %v", r.Name, r.Outputs[0], got.LoggedModels)
		return
	}
	if lm.Status != "READY" || lm.Name != "model" || lm.SourceRunID != r.ID || lm.Params["n_estimators"] != trees || lm.Params["max_depth"] != depth {
		t.Errorf("logged model of run %s = %+v; want READY model from the run with its params", r.Name, lm)
	}
	if lm.Metrics["r2"] != r.Metrics["r2"] || lm.Metrics["rmse"] != r.Metrics["rmse"] {
		t.Errorf("logged model metrics %v, want the run's test metrics %v", lm.Metrics, r.Metrics)
	}
	if !strings.HasSuffix(lm.ArtifactURI, "/models/"+lm.ID+"/artifacts") || !slices.ContainsFunc(lm.Artifacts, func(p string) bool { return path.Base(p) == "MLmodel" }) {
		t.Errorf("logged model artifacts at %s: %v; want MLmodel under <exp>/models/<id>/artifacts", lm.ArtifactURI, lm.Artifacts)
	}
}

type mlflowRun struct {
	ID        string             `json:"id"`
	Name      string             `json:"name"`
	Status    string             `json:"status"`
	Params    map[string]string  `json:"params"`
	Metrics   map[string]float64 `json:"metrics"`
	Artifacts []string           `json:"artifacts"` // top level and under model/
	Outputs   []string           `json:"outputs"`   // MLflow 3: ids of the logged models it produced
}

// readBackScript lists, with MLflow's own client, the experiment's runs and the
// registered model, and loads the champion's MLmodel from models:/...@champion.
const readBackScript = `
import json, mlflow
from mlflow import MlflowClient
from mlflow.models import Model
c = MlflowClient()
e = c.get_experiment_by_name("california-housing")
mlflow3 = mlflow.__version__.startswith("3.")
runs = []
for r in c.search_runs([e.experiment_id]):
    arts = [f.path for f in c.list_artifacts(r.info.run_id)] + [f.path for f in c.list_artifacts(r.info.run_id, "model")]
    outs = [o.model_id for o in r.outputs.model_outputs] if mlflow3 and r.outputs else []
    runs.append(dict(id=r.info.run_id, name=r.info.run_name, status=r.info.status,
                     params=r.data.params, metrics=r.data.metrics, artifacts=arts, outputs=outs))
logged = {}
if mlflow3:
    for lm in c.search_logged_models([e.experiment_id]):
        logged[lm.model_id] = dict(id=lm.model_id, name=lm.name, status=str(lm.status), source_run_id=lm.source_run_id,
            params=lm.params, artifact_uri=lm.artifact_location,
            metrics={m.key: m.value for m in lm.metrics if m.dataset_name == "california-housing-test"},
            artifacts=[f.path for f in mlflow.artifacts.list_artifacts(artifact_uri=lm.artifact_location)])
m = c.get_registered_model("california-housing")
v = c.get_model_version_by_alias("california-housing", "champion")
local = mlflow.artifacts.download_artifacts(artifact_uri="models:/california-housing@champion")
mlmodel = Model.load(local)
info_id = mlflow.models.get_model_info("models:/california-housing@champion").model_id if mlflow3 else None
print(json.dumps(dict(
    logged_models=logged,
    experiment=dict(id=e.experiment_id, artifact_location=e.artifact_location),
    runs=runs,
    model=dict(aliases=m.aliases, latest=[f"{x.version}:{x.current_stage}" for x in m.latest_versions],
               champion=dict(version=v.version, stage=v.current_stage, run_id=v.run_id, source=v.source,
                             mlmodel_run_id=mlmodel.run_id, mlmodel_model_id=getattr(mlmodel, "model_id", None),
                             model_info_id=info_id)),
)))
`

func readBackWithMLflow(t *testing.T, m *testenv.MLflowServer) mlflowReadBack {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := testenv.RunMLflowPython(ctx, m.Version, readBackScript, "MLFLOW_TRACKING_URI="+m.URL)
	if err != nil {
		t.Fatalf("reading back with MLflow's client: %v\nserver log:\n%s", err, m.Tail())
	}
	var got mlflowReadBack
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("MLflow's client printed %s: %v", strconv.Quote(string(out)), err)
	}
	return got
}
