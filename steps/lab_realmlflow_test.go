package steps_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
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
		for _, p := range []string{"model/MLmodel", "plots"} {
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
	if best := runs["rf-tuned"].ID; champion.RunID != best || champion.MLmodelRunID != best {
		t.Errorf("champion from run %s (its MLmodel says %s), want rf-tuned's %s", champion.RunID, champion.MLmodelRunID, best)
	}
	if !strings.HasSuffix(champion.Source, "/"+champion.RunID+"/artifacts/model") {
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
		} `json:"champion"`
	} `json:"model"`
}

type mlflowRun struct {
	ID        string             `json:"id"`
	Name      string             `json:"name"`
	Status    string             `json:"status"`
	Params    map[string]string  `json:"params"`
	Metrics   map[string]float64 `json:"metrics"`
	Artifacts []string           `json:"artifacts"` // top level and under model/
}

// readBackScript lists, with MLflow's own client, the experiment's runs and the
// registered model, and loads the champion's MLmodel from models:/...@champion.
const readBackScript = `
import json, mlflow
from mlflow import MlflowClient
from mlflow.models import Model
c = MlflowClient()
e = c.get_experiment_by_name("california-housing")
runs = []
for r in c.search_runs([e.experiment_id]):
    arts = [f.path for f in c.list_artifacts(r.info.run_id)] + [f.path for f in c.list_artifacts(r.info.run_id, "model")]
    runs.append(dict(id=r.info.run_id, name=r.info.run_name, status=r.info.status,
                     params=r.data.params, metrics=r.data.metrics, artifacts=arts))
m = c.get_registered_model("california-housing")
v = c.get_model_version_by_alias("california-housing", "champion")
local = mlflow.artifacts.download_artifacts(artifact_uri="models:/california-housing@champion")
mlmodel = Model.load(local)
print(json.dumps(dict(
    experiment=dict(id=e.experiment_id, artifact_location=e.artifact_location),
    runs=runs,
    model=dict(aliases=m.aliases, latest=[f"{x.version}:{x.current_stage}" for x in m.latest_versions],
               champion=dict(version=v.version, stage=v.current_stage, run_id=v.run_id, source=v.source,
                             mlmodel_run_id=mlmodel.run_id)),
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
