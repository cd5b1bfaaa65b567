package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"

	"github.com/mlops-lab/housing/internal/plots"
	"github.com/mlops-lab/housing/steps/internal/stepkit"
	"github.com/mlops-lab/housing/tracking"
	"github.com/urfave/cli/v2"
)

func newApp(stdout, stderr io.Writer, getenv func(string) string) *cli.App {
	app := stepkit.NewApp("compare", "rank an experiment's runs by a metric and name the best", stdout, stderr)
	app.Flags = []cli.Flag{
		&cli.StringFlag{Name: "experiment-name", Value: "california-housing", EnvVars: []string{"MLFLOW_EXPERIMENT_NAME"}, Usage: "experiment whose runs to compare"},
		&cli.StringFlag{Name: "filter", Usage: "MLflow search filter, passed through (e.g. \"params.model_kind = 'random-forest'\")"},
		&cli.StringSliceFlag{Name: "order-by", Usage: "MLflow order_by clauses for listing, passed through (default: newest first)"},
		&cli.StringFlag{Name: "metric", Value: "r2", Usage: "metric to rank by"},
		&cli.StringFlag{Name: "direction", Value: "max", Usage: "max if larger is better (r2), min if smaller is (rmse)"},
		&cli.StringSliceFlag{Name: "params", Value: cli.NewStringSlice("config", "model_kind", "n_estimators", "max_depth", "max_features"), Usage: "params to show"},
		&cli.StringSliceFlag{Name: "metrics", Value: cli.NewStringSlice("r2", "rmse", "mae", "fit_seconds"), Usage: "metrics to show"},
		&cli.BoolFlag{Name: "include-nested", Usage: "also list nested runs (the trials of a search), which are hidden by default"},
		&cli.IntFlag{Name: "max-runs", Value: 10000, Usage: "at most this many runs are read"},
		&cli.StringFlag{Name: "table-md-out", Usage: "where to write the table as Markdown"},
		&cli.StringFlag{Name: "table-csv-out", Usage: "where to write the table as CSV"},
		&cli.StringFlag{Name: "chart-out", Usage: "where to write the comparison chart (PNG)"},
		&cli.StringFlag{Name: "best-run-id-out", Usage: "where to write the best run's id"},
		&cli.StringFlag{Name: "best-metric-out", Usage: "where to write the best run's metric value"},
	}
	app.Action = func(c *cli.Context) error {
		dir, err := stepkit.ParseDirection(c.String("direction"))
		if err != nil {
			return err
		}
		tr, err := stepkit.OpenTracking(c.Context, getenv, stepkit.Logger(stderr), stepkit.SystemClock)
		if err != nil {
			return err
		}
		defer tr.Close()
		runs, err := searchAll(c.Context, tr.Store, c.String("experiment-name"), c.String("filter"), c.StringSlice("order-by"), c.Int("max-runs"))
		if err != nil {
			return err
		}
		if !c.Bool("include-nested") {
			runs = topLevel(runs)
		}
		t := buildTable(c.String("experiment-name"), runs, c.String("metric"), dir, c.StringSlice("params"), c.StringSlice("metrics"))
		fmt.Fprint(stderr, t.Text())
		if err := writeOutputs(t, c); err != nil {
			return err
		}
		best, ok := t.Best()
		if !ok {
			return fmt.Errorf("none of the %d runs of experiment %q has metric %q to rank by", len(runs), t.Experiment, t.Metric)
		}
		if err := stepkit.WriteString(c.String("best-run-id-out"), best.RunID); err != nil {
			return err
		}
		if err := stepkit.WriteString(c.String("best-metric-out"), strconv.FormatFloat(best.Score, 'g', -1, 64)); err != nil {
			return err
		}
		// Runs without the metric (the ingest run, failed trainings) are not candidates,
		// so the count names only the runs that were ranked.
		fmt.Fprintf(stderr, "compare: best of %d runs with %s (of %d searched) is %s (%s), %s = %.4f\n",
			t.Ranked(), t.Metric, len(runs), best.RunName, best.RunID, t.Metric, best.Score)
		return nil
	}
	return app
}

// searchAll reads every run of the experiment that the filter selects, page by page.
func searchAll(ctx context.Context, store tracking.Store, experiment, filter string, orderBy []string, maxRuns int) ([]tracking.Run, error) {
	exp, err := store.GetExperimentByName(ctx, experiment)
	if err != nil {
		return nil, fmt.Errorf("experiment %q: %w", experiment, err)
	}
	if exp.LifecycleStage == tracking.LifecycleDeleted {
		return nil, fmt.Errorf("experiment %q (id %s) is deleted: restore it first (MLflow's experiments/restore)", experiment, exp.ID)
	}
	var runs []tracking.Run
	token := ""
	for {
		page, err := store.SearchRuns(ctx, tracking.RunQuery{
			ExperimentIDs: []string{exp.ID}, Filter: filter, OrderBy: orderBy,
			MaxResults: min(1000, maxRuns-len(runs)), PageToken: token,
		})
		if err != nil {
			return nil, fmt.Errorf("search runs of %q with filter %q: %w", experiment, filter, err)
		}
		runs = append(runs, page.Items...)
		token = page.NextPageToken
		if token == "" || len(runs) >= maxRuns {
			return runs, nil
		}
	}
}

// topLevel drops nested runs: a search's trials are scored by cross-validation,
// not on the test part, and their parent run carries the chosen model.
func topLevel(runs []tracking.Run) []tracking.Run {
	out := runs[:0]
	for _, r := range runs {
		if _, nested := r.Tag(tracking.TagParentRunID); !nested {
			out = append(out, r)
		}
	}
	return out
}

func writeOutputs(t *Table, c *cli.Context) error {
	if err := stepkit.WriteString(c.String("table-md-out"), t.Markdown()); err != nil {
		return err
	}
	if path := c.String("table-csv-out"); path != "" {
		var b bytes.Buffer
		if err := t.WriteCSV(&b); err != nil {
			return err
		}
		if err := stepkit.WriteFile(path, b.Bytes()); err != nil {
			return err
		}
	}
	if path := c.String("chart-out"); path != "" {
		var names []string
		var values []float64
		for _, r := range t.Rows {
			if r.Rank == 0 {
				break
			}
			names = append(names, r.RunName)
			values = append(values, r.Score)
		}
		var b bytes.Buffer
		if err := plots.CompareRuns(&b, names, values, t.Metric, fmt.Sprintf("%s by run (%s)", t.Metric, t.Experiment)); err != nil {
			return fmt.Errorf("draw chart: %w", err)
		}
		if err := stepkit.WriteFile(path, b.Bytes()); err != nil {
			return err
		}
	}
	return nil
}
