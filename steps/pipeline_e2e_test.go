package steps_test

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/mlops-lab/housing/tracking"
)

// TestPipelineTwice runs the committed Kubeflow pipeline with the local runner and
// the real step binaries, as make run does, twice on one store: the second run
// adds runs and a new version, and the gate, seeing no improvement, keeps the first
// version in Production and the new one in Staging as the challenger.
func TestPipelineTwice(t *testing.T) {
	if testing.Short() {
		t.Skip("trains forests; skipped in -short")
	}
	data := sharedData(t)
	bin := binaries(t)
	dir := t.TempDir()
	_, file, _, _ := runtime.Caller(0)
	pipelineYAML := filepath.Join(filepath.Dir(file), "..", "pipelines", "california-housing.yaml")
	env := baseEnv("MLFLOW_TRACKING_URI=sqlite:///" + filepath.Join(dir, "mlflow.db"))
	run := func() string {
		cmd := exec.Command(filepath.Join(bin, "pipeline"), "run", pipelineYAML, "--bin-dir", bin, "--root", filepath.Join(dir, "root"),
			"--param", "data_uri="+data, "--param", "sweep=linear,rf-baseline")
		cmd.Dir = dir
		cmd.Env = env
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			t.Fatalf("pipeline run: %v\n%s", err, out.String())
		}
		return out.String()
	}
	first := run()
	for _, want := range []string{"ingest", "compare", "register", "SUCCEEDED", "best_run_id", "model_version = 1"} {
		if !strings.Contains(first, want) {
			t.Errorf("first pipeline run's output lacks %q:\n%s", want, first)
		}
	}
	second := run()
	if !strings.Contains(second, "model_version = 2") {
		t.Errorf("second pipeline run did not register version 2:\n%s", second)
	}

	l := &lab{t: t, dir: dir, env: env}
	store := l.backend().Store
	ctx := context.Background()
	exp, err := store.GetExperimentByName(ctx, "california-housing")
	if err != nil {
		t.Fatal(err)
	}
	runs, err := store.SearchRuns(ctx, tracking.RunQuery{ExperimentIDs: []string{exp.ID}, Filter: "attributes.status = 'FINISHED'"})
	if err != nil {
		t.Fatal(err)
	}
	if len(runs.Items) != 6 { // two pipeline runs of ingest + linear + rf-baseline
		t.Errorf("%d finished runs after two pipeline runs, want 6", len(runs.Items))
	}
	v1, err := store.GetModelVersion(ctx, "california-housing", "1")
	if err != nil {
		t.Fatal(err)
	}
	v2, err := store.GetModelVersion(ctx, "california-housing", "2")
	if err != nil {
		t.Fatal(err)
	}
	if v1.CurrentStage != tracking.StageProduction || v2.CurrentStage != tracking.StageStaging {
		t.Errorf("after two equal runs: v1 %s, v2 %s; want Production and Staging", v1.CurrentStage, v2.CurrentStage)
	}
	if tagOf(v2.Tags, "housing.gate.decision") != "held" {
		t.Errorf("v2's gate decision %q, want held (an equal model does not beat the champion)", tagOf(v2.Tags, "housing.gate.decision"))
	}
}
