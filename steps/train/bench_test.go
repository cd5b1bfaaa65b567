package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mlops-lab/housing/dataset"
)

// BenchmarkTrainStep runs the train step as the pipeline runs it, on the
// shared data's 80/20 split, logging to a SQLite store in a temporary
// directory: the entry point for profiling a whole step,
//
//	go test ./steps/train -run '^$' -bench 'TrainStep/rf-optimized' -benchtime 1x -cpuprofile cpu.out -memprofile mem.out
func BenchmarkTrainStep(b *testing.B) {
	path, ok := dataset.SharedDataPath()
	if !ok {
		b.Skip("no shared data (HOUSING_DATA or ../shared/data/cal_housing.data)")
	}
	all, err := dataset.Load(context.Background(), path, dataset.LoadOptions{})
	if err != nil {
		b.Fatal(err)
	}
	trainIdx, testIdx, err := dataset.TrainTestSplit(all.Rows(), 0.2, 42)
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	parts := map[string]*dataset.Dataset{"train": all.Subset(trainIdx), "test": all.Subset(testIdx)}
	for name, d := range parts {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			b.Fatal(err)
		}
		if err := dataset.WriteBinary(f, d); err != nil {
			b.Fatal(err)
		}
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
	}
	env := map[string]string{
		"MLFLOW_TRACKING_URI":          "sqlite:///" + filepath.Join(dir, "mlflow.db"),
		"MLFLOW_DEFAULT_ARTIFACT_ROOT": filepath.Join(dir, "mlartifacts"),
		"MLFLOW_ARTIFACTS_DESTINATION": filepath.Join(dir, "mlartifacts"),
	}
	for _, config := range []string{"rf-baseline", "rf-tuned", "rf-optimized"} {
		b.Run(config, func(b *testing.B) {
			for b.Loop() {
				var stderr bytes.Buffer
				app := newApp(io.Discard, &stderr, func(k string) string { return env[k] }, time.Now)
				if err := app.Run([]string{"train", "--train", filepath.Join(dir, "train"), "--test", filepath.Join(dir, "test"), "--config", config}); err != nil {
					b.Fatalf("%v\n%s", err, stderr.String())
				}
				for line := range strings.Lines(stderr.String()) {
					if strings.Contains(line, "where the time went") {
						b.Log(strings.TrimSpace(line))
					}
				}
			}
		})
	}
}
