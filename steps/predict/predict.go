package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/mlops-lab/housing/dataset"
	"github.com/mlops-lab/housing/learn"
	"github.com/mlops-lab/housing/learn/mlmodel"
	"github.com/mlops-lab/housing/steps/internal/stepkit"
	"github.com/urfave/cli/v2"
)

func newApp(stdout, stderr io.Writer, getenv func(string) string, now func() time.Time) *cli.App {
	app := stepkit.NewApp("predict", "batch-score a file with a registered model", stdout, stderr)
	app.Flags = []cli.Flag{
		&cli.StringFlag{Name: "model-uri", Value: "models:/california-housing@champion", Usage: "model to score with: models:/name@alias, models:/name/stage, models:/name/N, runs:/<id>/model"},
		&cli.StringFlag{Name: "input", Required: true, Usage: "rows to score: a CSV with the eight feature columns (the target optional) or ingest's binary format"},
		&cli.StringFlag{Name: "output", Required: true, Usage: "where to write the predictions (CSV)"},
		&cli.StringFlag{Name: "metrics-out", Usage: "where to write metrics as JSON, when the input carries the target"},
		&cli.StringFlag{Name: "engine", Value: mlmodel.EngineNative, Usage: "how to score: native (the housing flavor's model file), onnx (the onnx flavor's model.onnx, evaluated in Go) or auto (native when the housing flavor is there, else onnx)"},
	}
	app.Action = func(c *cli.Context) error {
		log := stepkit.Logger(stderr)
		engine := c.String("engine")
		if engine != mlmodel.EngineNative && engine != mlmodel.EngineONNX && engine != mlmodel.EngineAuto {
			return fmt.Errorf("--engine %q: want %s, %s or %s", engine, mlmodel.EngineNative, mlmodel.EngineONNX, mlmodel.EngineAuto)
		}
		in, hasTarget, err := readInput(c.String("input"))
		if err != nil {
			return err
		}
		tr, err := stepkit.OpenTracking(c.Context, getenv, log, now)
		if err != nil {
			return err
		}
		defer tr.Close()
		mm, model, used, err := loadModel(c.Context, tr, c.String("model-uri"), engine)
		if err != nil {
			return err
		}
		if model.NumFeatures() != dataset.NumFeatures {
			return fmt.Errorf("model %s takes %d features; %s has %d", c.String("model-uri"), model.NumFeatures(), c.String("input"), dataset.NumFeatures)
		}
		start := time.Now()
		pred := model.Predict(nil, in.X)
		elapsed := time.Since(start)
		if err := writePredictions(c.String("output"), in, pred, hasTarget); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "predict: scored %d rows with %s (run %s) on the %s engine (%s) in %s -> %s\n",
			in.Rows(), c.String("model-uri"), mm.RunID, used, engineSource[used], elapsed.Round(time.Microsecond), c.String("output"))
		if !hasTarget {
			return nil
		}
		m := learn.Evaluate(in.Y, pred)
		fmt.Fprintf(stderr, "predict: r2 %.4f, rmse %.4f, mae %.4f\n", m.R2, m.RMSE, m.MAE)
		return stepkit.WriteJSON(c.String("metrics-out"), m)
	}
	return app
}

// engineSource says what each engine scores with.
var engineSource = map[string]string{
	mlmodel.EngineNative: "the housing flavor's model file",
	mlmodel.EngineONNX:   "the onnx flavor's model.onnx, evaluated in Go",
}

// loadModel downloads the model directory uri names and loads it with
// engine, returning the engine it used (auto resolves to one of the two).
func loadModel(ctx context.Context, tr *stepkit.Tracking, uri, engine string) (*mlmodel.Model, learn.Regressor, string, error) {
	dir, err := os.MkdirTemp("", "housing-model-")
	if err != nil {
		return nil, nil, "", err
	}
	defer os.RemoveAll(dir)
	if err := tr.Runs.DownloadArtifacts(ctx, uri, dir); err != nil {
		return nil, nil, "", fmt.Errorf("download model %s: %w", uri, err)
	}
	mm, reg, used, err := mlmodel.LoadEngine(dir, engine)
	if err != nil {
		return nil, nil, "", fmt.Errorf("load model %s with the %s engine: %w", uri, engine, err)
	}
	return mm, reg, used, nil
}

func readInput(path string) (*dataset.Dataset, bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, false, fmt.Errorf("--input: %w", err)
	}
	defer f.Close()
	return dataset.ReadFeatures(f, path)
}

// writePredictions writes one row per input row: the prediction, and the target
// beside it when the input has one.
func writePredictions(path string, in *dataset.Dataset, pred []float64, hasTarget bool) error {
	f, err := stepkit.CreateFile(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	header := "prediction\n"
	if hasTarget {
		header = "prediction," + dataset.TargetName + "\n"
	}
	w.WriteString(header)
	for i, p := range pred {
		w.WriteString(strconv.FormatFloat(p, 'g', -1, 64))
		if hasTarget {
			w.WriteByte(',')
			w.WriteString(strconv.FormatFloat(in.Y[i], 'g', -1, 64))
		}
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}
