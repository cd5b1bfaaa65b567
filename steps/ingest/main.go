// Command ingest is the pipeline's first step: it reads the California housing
// data (a path, an http(s) URL or an s3:// URL), validates it, splits it into train
// and test parts with a seed, writes both where Kubeflow asks, and writes a summary
// (rows, feature statistics, data digests).
package main

import (
	"os"

	"github.com/mlops-lab/housing/steps/internal/stepkit"
)

func main() {
	stepkit.Main(newApp(os.Stdout, os.Stderr, os.Getenv))
}
