// Command quickstart is the Go client in one file: it fits a small model,
// logs it as a run of the experiment "quickstart" with a param and a metric,
// and registers it as a version of the model "quickstart". The backend is the
// one MLFLOW_TRACKING_URI names, or the embedded default sqlite:///mlflow.db
// (artifacts in ./mlartifacts) when it is unset, as for every binary here.
//
//	MLFLOW_TRACKING_URI=http://127.0.0.1:5000 go run ./examples/quickstart
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/mlops-lab/housing/learn"
	"github.com/mlops-lab/housing/learn/linear"
	"github.com/mlops-lab/housing/learn/mlmodel"
	"github.com/mlops-lab/housing/tracking/dial"
	"github.com/mlops-lab/housing/tracking/fluent"
)

func main() {
	if err := run(context.Background(), os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	backend, err := dial.FromEnv(ctx, getenv) // MLFLOW_TRACKING_URI, MLFLOW_S3_ENDPOINT_URL, AWS_*, ...
	if err != nil {
		return err
	}
	defer backend.Close()
	c := fluent.New(backend.Store, backend, fluent.Options{Getenv: getenv})

	x, y := []float64{1, 2, 3, 4}, []float64{3.1, 4.9, 7.2, 8.8} // y ≈ 2x + 1
	var modelURI string
	err = c.Do(ctx, fluent.RunOptions{ExperimentName: "quickstart", RunName: "ols"},
		func(ctx context.Context, run *fluent.Run) error {
			model, err := linear.Fit(x, 1, y)
			if err != nil {
				return err
			}
			dir, err := os.MkdirTemp("", "quickstart-model")
			if err != nil {
				return err
			}
			defer os.RemoveAll(dir)
			saved, err := mlmodel.Save(filepath.Join(dir, "model"), model, mlmodel.SaveOptions{
				RunID: run.ID(), ArtifactPath: "model", FeatureNames: []string{"x"}})
			if err != nil {
				return err
			}
			if err := run.LogParam("model_kind", "linear"); err != nil {
				return err
			}
			if err := run.LogMetric("r2", learn.R2(y, model.Predict(nil, x)), 0); err != nil {
				return err
			}
			modelURI = run.ModelURI("model") // runs:/<run id>/model
			return run.LogModel(ctx, filepath.Join(dir, "model"), "model", saved.HistoryEntry())
		})
	if err != nil {
		return err
	}
	mv, err := c.RegisterModel(ctx, modelURI, "quickstart", nil)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "logged run %s; registered %s as model %q version %s\n", mv.RunID, modelURI, mv.Name, mv.Version)
	return nil
}
