package fluent_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/mlops-lab/housing/tracking/dial"
	"github.com/mlops-lab/housing/tracking/fluent"
)

func ExampleClient_Do() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "fluent-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	backend, err := dial.Open(ctx, "sqlite:///"+filepath.Join(dir, "mlflow.db"), dial.Options{DefaultArtifactRoot: filepath.Join(dir, "artifacts")})
	if err != nil {
		panic(err)
	}
	defer backend.Close()

	c := fluent.New(backend.Store, backend, fluent.Options{})
	var runID string
	err = c.Do(ctx, fluent.RunOptions{ExperimentName: "california-housing", RunName: "rf-baseline"},
		func(ctx context.Context, run *fluent.Run) error {
			runID = run.ID()
			if err := run.LogParams(map[string]any{"n_estimators": 50, "max_depth": 5}); err != nil {
				return err
			}
			if err := run.LogMetrics(map[string]float64{"r2": 0.6469, "mse": 0.4627}, 0); err != nil {
				return err
			}
			return run.LogText(ctx, "notes.txt", "baseline forest")
		})
	if err != nil {
		panic(err)
	}
	run, err := backend.Store.GetRun(ctx, runID)
	if err != nil {
		panic(err)
	}
	depth, _ := run.Param("max_depth")
	r2, _ := run.Metric("r2")
	fmt.Println(run.Info.RunName, run.Info.Status, depth, r2)
	// Output: rf-baseline FINISHED 5 0.6469
}
