// Command predict batch-scores a file with a registered model: it loads the model
// by URI (models:/california-housing@champion, models:/name/Production,
// models:/name/3, runs:/<id>/model), scores a CSV or ingest's binary format, writes
// the predictions as CSV, and reports metrics when the input carries the target.
package main

import (
	"os"

	"github.com/mlops-lab/housing/steps/internal/stepkit"
)

func main() {
	stepkit.Main(newApp(os.Stdout, os.Stderr, os.Getenv, stepkit.SystemClock))
}
