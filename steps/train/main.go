// Command train fits one regressor config (a random forest, a gradient-boosted
// ensemble or a linear model) on the train part, evaluates it on the test part,
// and logs everything on one MLflow run: params, metrics (with a history of test
// R2 as trees are added, and for boosting the train, validation and test loss
// after each iteration), tags, plots and the model (its own file and ONNX). A
// config with a search (rf-optimized) runs a cross-validated successive-halving
// search first, each trial a nested child run, and logs the refit winner as the
// parent run's model.
package main

import (
	"os"

	"github.com/mlops-lab/housing/steps/internal/stepkit"
)

func main() {
	stepkit.Main(newApp(os.Stdout, os.Stderr, os.Getenv, stepkit.SystemClock))
}
