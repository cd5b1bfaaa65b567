package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlops-lab/housing/learn/mlmodel"
	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/dial"
	"github.com/mlops-lab/housing/tracking/fluent"
)

// TestQuickstart runs the example against a SQLite store in a temporary
// directory, twice, and reads back what it logged and registered.
func TestQuickstart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	env := map[string]string{
		"MLFLOW_TRACKING_URI":          "sqlite:///" + filepath.Join(dir, "mlflow.db"),
		"MLFLOW_DEFAULT_ARTIFACT_ROOT": filepath.Join(dir, "mlartifacts"),
	}
	getenv := func(k string) string { return env[k] }

	for i := 1; i <= 2; i++ {
		var out bytes.Buffer
		if err := run(ctx, getenv, &out); err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
		if want := `model "quickstart" version ` + string(rune('0'+i)); !strings.Contains(out.String(), want) {
			t.Fatalf("run %d printed %q, want it to contain %q", i, out.String(), want)
		}
	}

	backend, err := dial.Open(ctx, env["MLFLOW_TRACKING_URI"], dial.Options{DefaultArtifactRoot: env["MLFLOW_DEFAULT_ARTIFACT_ROOT"]})
	if err != nil {
		t.Fatal(err)
	}
	defer backend.Close()

	mv, err := backend.Store.GetModelVersion(ctx, "quickstart", "2")
	if err != nil {
		t.Fatalf("model version quickstart/2: %v", err)
	}
	if mv.Status != tracking.VersionReady {
		t.Errorf("version 2 status = %s, want %s", mv.Status, tracking.VersionReady)
	}
	run, err := backend.Store.GetRun(ctx, mv.RunID)
	if err != nil {
		t.Fatalf("run %q of version 2: %v", mv.RunID, err)
	}
	if run.Info.RunName != "ols" || run.Info.Status != tracking.RunFinished {
		t.Errorf("run = %s %s, want ols FINISHED", run.Info.RunName, run.Info.Status)
	}
	exp, err := backend.Store.GetExperiment(ctx, run.Info.ExperimentID)
	if err != nil || exp.Name != "quickstart" {
		t.Errorf("experiment of the run = %v, %v; want quickstart", exp, err)
	}
	if kind, _ := run.Param("model_kind"); kind != "linear" {
		t.Errorf("param model_kind = %q, want linear", kind)
	}
	if r2, ok := run.Metric("r2"); !ok || r2 < 0.99 || r2 > 1 {
		t.Errorf("metric r2 = %v (logged %v), want within [0.99, 1] for nearly linear data", r2, ok)
	}

	// The registered model loads, and predicts about 2x+1.
	c := fluent.New(backend.Store, backend, fluent.Options{Getenv: getenv})
	local := t.TempDir()
	if err := c.DownloadArtifacts(ctx, "models:/quickstart/2", local); err != nil {
		t.Fatalf("download models:/quickstart/2: %v", err)
	}
	_, model, err := mlmodel.Load(local)
	if err != nil {
		t.Fatalf("load the registered model: %v", err)
	}
	if got := model.Predict(nil, []float64{10})[0]; got < 19 || got > 23 {
		t.Errorf("prediction at x=10 = %v, want about 21", got)
	}
}

// TestReadmeShowsThisFile keeps the README's copy of the example from drifting:
// the block between its quickstart markers must be main.go as it is.
func TestReadmeShowsThisFile(t *testing.T) {
	src, err := os.ReadFile("main.go")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), "<!-- quickstart:begin -->\n")
	block, _, ok2 := strings.Cut(rest, "<!-- quickstart:end -->")
	if !ok || !ok2 {
		t.Fatal("README.md has no <!-- quickstart:begin --> ... <!-- quickstart:end --> block")
	}
	if want := "```go\n" + string(src) + "```\n"; block != want {
		t.Errorf("README.md's quickstart block differs from examples/quickstart/main.go; paste the file between the markers again")
	}
}
