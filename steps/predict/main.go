// Command predict batch-scores a file with a registered model: it loads the model
// by URI (models:/california-housing@champion, models:/name/Production,
// models:/name/3, runs:/<id>/model), scores a CSV or ingest's binary format, writes
// the predictions as CSV, and reports metrics when the input carries the target.
// --engine picks what scores: the model's own file (native, the default), its
// model.onnx evaluated in Go (onnx), or native when the model has the housing
// flavor and onnx otherwise (auto); stderr says which engine scored.
package main

import (
	"os"

	"github.com/mlops-lab/housing/steps/internal/stepkit"
)

func main() {
	stepkit.Main(newApp(os.Stdout, os.Stderr, os.Getenv, stepkit.SystemClock))
}
