// Command register is the pipeline's last step: it registers the best run's model,
// moves the new version to Staging, and promotes it to Production (archiving the
// previous one) with the alias "champion" only when it beats the current champion by
// a margin on the same test data; otherwise the version stays in Staging as the
// "challenger". Every decision is recorded as version tags.
package main

import (
	"os"

	"github.com/mlops-lab/housing/steps/internal/stepkit"
)

func main() {
	stepkit.Main(newApp(os.Stdout, os.Stderr, os.Getenv, stepkit.SystemClock))
}
