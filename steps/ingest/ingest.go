package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/mlops-lab/housing/dataset"
	"github.com/mlops-lab/housing/steps/internal/stepkit"
	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/fluent"
	"github.com/urfave/cli/v2"
)

// Summary is what ingest writes to --summary-out, and what later steps and people
// read to know which data a run saw.
type Summary struct {
	Source       string          `json:"source"`
	Rows         int             `json:"rows"`
	TrainRows    int             `json:"train_rows"`
	TestRows     int             `json:"test_rows"`
	TestFraction float64         `json:"test_fraction"`
	Seed         int64           `json:"seed"`
	Digest       string          `json:"digest"`
	TrainDigest  string          `json:"train_digest"`
	TestDigest   string          `json:"test_digest"`
	Profile      dataset.Profile `json:"profile"`
}

func newApp(stdout, stderr io.Writer, getenv func(string) string) *cli.App {
	app := stepkit.NewApp("ingest", "load, validate and split the California housing data", stdout, stderr)
	app.Flags = []cli.Flag{
		&cli.StringFlag{Name: "data", Usage: "data set: a path, an http(s):// URL or an s3:// URL (default: the shared copy beside the checkout, else the public archive)", EnvVars: []string{"HOUSING_DATA"}},
		&cli.StringFlag{Name: "sha256", Usage: "expected SHA-256 of the downloaded file (the public archive's is known)"},
		&cli.Float64Flag{Name: "test-fraction", Value: 0.2, Usage: "fraction of rows held out for testing"},
		&cli.Int64Flag{Name: "seed", Value: 42, Usage: "seed of the split (scikit-learn's random_state: the same rows as train_test_split)"},
		&cli.StringFlag{Name: "train-out", Required: true, Usage: "where to write the train part"},
		&cli.StringFlag{Name: "test-out", Required: true, Usage: "where to write the test part"},
		&cli.StringFlag{Name: "format", Value: "binary", Usage: "format of the parts: binary (compact, typed, checksummed) or csv"},
		&cli.StringFlag{Name: "summary-out", Usage: "where to write the JSON summary"},
		&cli.BoolFlag{Name: "log-dataset", Usage: "log the data set as MLflow inputs on an \"ingest\" run (default: on when MLFLOW_TRACKING_URI is set)"},
		&cli.StringFlag{Name: "experiment-name", Value: "california-housing", EnvVars: []string{"MLFLOW_EXPERIMENT_NAME"}, Usage: "MLflow experiment of the ingest run"},
	}
	app.Action = func(c *cli.Context) error {
		log := stepkit.Logger(stderr)
		sum, err := ingest(c.Context, log, ingestOptions{
			source:       c.String("data"),
			sha256:       c.String("sha256"),
			testFraction: c.Float64("test-fraction"),
			seed:         c.Int64("seed"),
			trainOut:     c.String("train-out"),
			testOut:      c.String("test-out"),
			format:       c.String("format"),
			summaryOut:   c.String("summary-out"),
			progress:     stderr,
			getenv:       getenv,
		})
		if err != nil {
			return err
		}
		track := getenv("MLFLOW_TRACKING_URI") != ""
		if c.IsSet("log-dataset") {
			track = c.Bool("log-dataset")
		}
		if track {
			runID, err := logDataset(c.Context, getenv, log, c.String("experiment-name"), sum, c.String("train-out"), c.String("test-out"))
			if err != nil {
				return err
			}
			fmt.Fprintf(stderr, "ingest: logged the data set on run %s\n", runID)
		}
		fmt.Fprintf(stderr, "ingest: %d rows from %s -> %d train, %d test (seed %d); digest %s\n",
			sum.Rows, sum.Source, sum.TrainRows, sum.TestRows, sum.Seed, sum.Digest[:12])
		return nil
	}
	return app
}

type ingestOptions struct {
	source, sha256     string
	testFraction       float64
	seed               int64
	trainOut, testOut  string
	format, summaryOut string
	progress           io.Writer
	getenv             func(string) string
}

func ingest(ctx context.Context, log *slog.Logger, opt ingestOptions) (*Summary, error) {
	if opt.format != "binary" && opt.format != "csv" {
		return nil, fmt.Errorf("--format %q: must be binary or csv", opt.format)
	}
	source, sha := opt.source, opt.sha256
	if source == "" {
		if p, ok := dataset.SharedDataPath(); ok {
			source = p
		} else {
			source, sha = dataset.ArchiveURL, dataset.ArchiveSHA256
		}
	}
	if sha == "" && (source == dataset.ArchiveURL || source == dataset.ArchiveOriginURL) {
		sha = dataset.ArchiveSHA256
	}
	log.Info("loading data", "source", source)
	d, err := dataset.Load(ctx, source, dataset.LoadOptions{SHA256: sha, Progress: opt.progress, Getenv: opt.getenv})
	if err != nil {
		return nil, err
	}
	train, test, err := dataset.TrainTestSplit(d.Rows(), opt.testFraction, opt.seed)
	if err != nil {
		return nil, fmt.Errorf("split %s: %w", source, err)
	}
	trainSet, testSet := d.Subset(train), d.Subset(test)
	for _, part := range []struct {
		path string
		d    *dataset.Dataset
	}{{opt.trainOut, trainSet}, {opt.testOut, testSet}} {
		if err := writePart(part.path, opt.format, part.d); err != nil {
			return nil, err
		}
	}
	sum := &Summary{
		Source: source, Rows: d.Rows(), TrainRows: trainSet.Rows(), TestRows: testSet.Rows(),
		TestFraction: opt.testFraction, Seed: opt.seed,
		Digest: d.Digest(), TrainDigest: trainSet.Digest(), TestDigest: testSet.Digest(),
		Profile: d.Profile(),
	}
	if err := stepkit.WriteJSON(opt.summaryOut, sum); err != nil {
		return nil, err
	}
	log.Info("wrote parts", "train", opt.trainOut, "test", opt.testOut, "format", opt.format)
	return sum, nil
}

func writePart(path, format string, d *dataset.Dataset) error {
	f, err := stepkit.CreateFile(path)
	if err != nil {
		return err
	}
	if strings.EqualFold(format, "csv") {
		err = dataset.WriteCSV(f, d)
	} else {
		err = dataset.WriteBinary(f, d)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// logDataset records the data as MLflow dataset inputs of an "ingest" run: the
// source with its digest and profile, and the train and test parts, so that the
// UI shows which data the lab used.
func logDataset(ctx context.Context, getenv func(string) string, log *slog.Logger, experiment string, sum *Summary, trainPath, testPath string) (string, error) {
	tr, err := stepkit.OpenTracking(ctx, getenv, log, stepkit.SystemClock)
	if err != nil {
		return "", err
	}
	defer tr.Close()
	var runID string
	err = tr.Runs.Do(ctx, fluent.RunOptions{ExperimentName: experiment, RunName: "ingest", Tags: map[string]string{"housing.step": "ingest"}},
		func(ctx context.Context, run *fluent.Run) error {
			runID = run.ID()
			profile, err := json.Marshal(sum.Profile)
			if err != nil {
				return err
			}
			schema := stepkit.DatasetSchema()
			inputs := []tracking.DatasetInput{
				stepkit.DatasetInput("california-housing", sum.Digest, sum.Source, "source", schema, string(profile)),
				stepkit.DatasetInput("california-housing-train", sum.TrainDigest, trainPath, "training", schema, stepkit.RowsProfile(sum.TrainRows)),
				stepkit.DatasetInput("california-housing-test", sum.TestDigest, testPath, "testing", schema, stepkit.RowsProfile(sum.TestRows)),
			}
			if err := run.LogInputs(ctx, inputs...); err != nil {
				return err
			}
			if err := run.LogParams(map[string]any{"source": sum.Source, "test_fraction": sum.TestFraction, "seed": sum.Seed, "rows": sum.Rows}); err != nil {
				return err
			}
			return run.LogDict(ctx, "data_summary.json", sum)
		})
	return runID, err
}
