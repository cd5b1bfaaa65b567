// Command compare ranks the runs of an experiment by a metric: it prints a table of
// run names, key params and metrics, writes it as Markdown (for the Kubeflow UI) and
// CSV, draws a comparison chart, and names the best run. Runs that lack the metric
// are listed, not ranked.
package main

import (
	"os"

	"github.com/mlops-lab/housing/steps/internal/stepkit"
)

func main() {
	stepkit.Main(newApp(os.Stdout, os.Stderr, os.Getenv))
}
