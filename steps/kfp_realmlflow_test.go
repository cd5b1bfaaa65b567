package steps_test

import (
	"context"
	"testing"
	"time"

	"github.com/mlops-lab/housing/internal/testenv"
	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/client"
)

// TestKubeflowTaskAgainstRealMLflow3: Kubeflow Pipelines 2.17 creates an MLflow
// run per task, in the experiment it chose, and hands the container
// MLFLOW_TRACKING_URI, MLFLOW_EXPERIMENT_ID and MLFLOW_RUN_ID. train logs into
// that run, although it is asked for experiment california-housing: its params,
// metrics and logged model land there, and no run of its own is made.
// (MLFLOW_WORKSPACE is left out: the real 3.11.1 without workspaces refuses
// every request that names one, and so does its own client; see
// client.TestWorkspaceHeader.)
func TestKubeflowTaskAgainstRealMLflow3(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the step binaries; skipped in -short")
	}
	data := sharedData(t)
	m := testenv.MLflow(t, testenv.MLflow3)
	ctx := context.Background()
	c, err := client.New(m.URL, client.Options{MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	l := &lab{t: t, bin: binaries(t), dir: t.TempDir(), env: baseEnv("MLFLOW_TRACKING_URI=" + m.URL)}
	l.step(true, "ingest", "--data", data, "--train-out", l.path("train.bin"), "--test-out", l.path("test.bin"))

	// What Kubeflow does before the task starts.
	kfpExp, err := c.CreateExperiment(ctx, "kfp-pipeline-run", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	task, err := c.CreateRun(ctx, tracking.CreateRun{ExperimentID: kfpExp, RunName: "train-task", StartTime: time.Now().UnixMilli()})
	if err != nil {
		t.Fatal(err)
	}
	kfp := *l
	kfp.env = append(baseEnv("MLFLOW_TRACKING_URI="+m.URL), "MLFLOW_EXPERIMENT_ID="+kfpExp, "MLFLOW_RUN_ID="+task.Info.RunID)
	kfp.step(true, "train", "--train", l.path("train.bin"), "--test", l.path("test.bin"), "--config", "linear",
		"--experiment-name", "california-housing", "--run-id-out", l.path("run-id"), "--model-uri-out", l.path("model-uri"))

	if got := l.read("run-id"); got != task.Info.RunID {
		t.Errorf("train logged into run %s, want Kubeflow's %s", got, task.Info.RunID)
	}
	run, err := c.GetRun(ctx, task.Info.RunID)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := run.Metric("r2"); !ok || run.Info.Status != tracking.RunFinished || len(run.Data.Params) == 0 {
		t.Errorf("Kubeflow's run after train: %+v, metrics %v, params %v", run.Info, run.Data.Metrics, run.Data.Params)
	}
	models, err := c.SearchLoggedModels(ctx, tracking.LoggedModelQuery{ExperimentIDs: []string{kfpExp}})
	if err != nil || len(models.Items) != 1 || models.Items[0].SourceRunID != task.Info.RunID || models.Items[0].Status != tracking.LoggedModelReady {
		t.Fatalf("logged models of Kubeflow's experiment: %+v, %v; want one READY from its run", models.Items, err)
	}
	if got, want := l.read("model-uri"), "models:/"+models.Items[0].ModelID; got != want {
		t.Errorf("model URI %s, want %s", got, want)
	}
	exp, err := c.GetExperimentByName(ctx, "california-housing")
	if err != nil {
		t.Fatal(err)
	}
	runs, err := c.SearchRuns(ctx, tracking.RunQuery{ExperimentIDs: []string{exp.ID}})
	if err != nil || len(runs.Items) != 1 || runs.Items[0].Info.RunName != "ingest" {
		t.Errorf("runs of california-housing: %d (%v), want only ingest's", len(runs.Items), err)
	}
}
