package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/mlops-lab/housing/dataset"
	"github.com/mlops-lab/housing/learn"
	"github.com/mlops-lab/housing/learn/mlmodel"
	"github.com/mlops-lab/housing/steps/internal/stepkit"
	"github.com/mlops-lab/housing/tracking/fluent"
	"github.com/urfave/cli/v2"
)

// modelArtifactPath is where the model directory goes in the run's artifacts.
const modelArtifactPath = "model"

func newApp(stdout, stderr io.Writer, getenv func(string) string, now func() time.Time) *cli.App {
	app := stepkit.NewApp("train", "fit and evaluate one regressor config, and log it as an MLflow run", stdout, stderr)
	app.Flags = []cli.Flag{
		&cli.StringFlag{Name: "train", Required: true, Usage: "train part (ingest's output: binary or CSV)"},
		&cli.StringFlag{Name: "test", Required: true, Usage: "test part (ingest's output: binary or CSV)"},
		&cli.StringFlag{Name: "config", Usage: "named config of the sweep (linear, rf-baseline, rf-tuned, rf-optimized, gb-lab, or one of --config-file)"},
		&cli.StringFlag{Name: "config-file", Usage: "YAML or JSON sweep file with named configs (default: the lab's sweep)"},
		&cli.StringFlag{Name: "model-kind", Usage: "random-forest, gradient-boosting or linear (without --config, or to override it)"},
		&cli.IntFlag{Name: "n-estimators", Usage: "random forest: number of trees"},
		&cli.IntFlag{Name: "max-depth", Usage: "maximum tree depth (0: unlimited)"},
		&cli.IntFlag{Name: "min-samples-split", Usage: "random forest: minimum rows to split a node"},
		&cli.IntFlag{Name: "min-samples-leaf", Usage: "minimum rows in a leaf"},
		&cli.StringFlag{Name: "max-features", Usage: "random forest: features tried per split: a count, a fraction, sqrt or log2"},
		&cli.BoolFlag{Name: "bootstrap", Value: true, Usage: "random forest: draw each tree's rows with replacement"},
		&cli.Float64Flag{Name: "learning-rate", Usage: "gradient boosting: shrinkage of every tree (default 0.1)"},
		&cli.IntFlag{Name: "max-iter", Usage: "gradient boosting: boosting iterations, one tree each (default 100)"},
		&cli.IntFlag{Name: "max-leaf-nodes", Usage: "gradient boosting: leaves per tree, -1 for no limit (default 31)"},
		&cli.Float64Flag{Name: "l2-regularization", Usage: "gradient boosting: L2 penalty on leaf values (default 0)"},
		&cli.IntFlag{Name: "max-bins", Usage: "gradient boosting: histogram bins per feature, 2 to 255 (default 255)"},
		&cli.Float64Flag{Name: "subsample", Usage: "gradient boosting: fraction of rows drawn per tree (default 1)"},
		&cli.Float64Flag{Name: "feature-fraction", Usage: "gradient boosting: fraction of features drawn per tree (default 1)"},
		&cli.Float64Flag{Name: "validation-fraction", Usage: "gradient boosting: fraction of the train part held out to stop early (default 0: no early stopping)"},
		&cli.IntFlag{Name: "n-iter-no-change", Usage: "gradient boosting: stop after this many iterations without improvement (default 10)"},
		&cli.Int64Flag{Name: "seed", Value: 42, Usage: "random seed"},
		&cli.IntFlag{Name: "workers", Usage: "parallel workers (0: all cores); results do not depend on it"},
		&cli.StringFlag{Name: "experiment-name", Value: "california-housing", EnvVars: []string{"MLFLOW_EXPERIMENT_NAME"}, Usage: "MLflow experiment"},
		&cli.StringFlag{Name: "run-name", Usage: "MLflow run name (default: the config's name)"},
		&cli.StringFlag{Name: "metric", Value: "r2", Usage: "test metric written to --metric-out (r2, mse, rmse, mae, explained_variance)"},
		&cli.StringFlag{Name: "kfp-run-id", EnvVars: []string{"KFP_RUN_ID"}, Usage: "Kubeflow pipeline run id, recorded as a tag"},
		&cli.StringFlag{Name: "kfp-run-name", EnvVars: []string{"KFP_RUN_NAME"}, Usage: "Kubeflow pipeline run name, recorded as a tag"},
		&cli.StringFlag{Name: "run-id-out", Usage: "where to write the MLflow run id"},
		&cli.StringFlag{Name: "metric-out", Usage: "where to write the chosen metric's value"},
		&cli.StringFlag{Name: "model-uri-out", Usage: "where to write the model URI (models:/<model_id> against MLflow 3, runs:/<id>/model against 2.x)"},
	}
	app.Action = func(c *cli.Context) error {
		phases := stepkit.NewPhases(now)
		log := stepkit.Logger(stderr)
		cfg, err := configFromFlags(c)
		if err != nil {
			return err
		}
		if _, ok := testMetric(learn.Metrics{}, c.String("metric")); !ok {
			return fmt.Errorf("--metric %q: want one of r2, mse, rmse, mae, explained_variance", c.String("metric"))
		}
		tr, err := stepkit.OpenTracking(c.Context, getenv, log, now)
		if err != nil {
			return err
		}
		defer tr.Close()
		job := &trainJob{
			cfg: cfg, trainPath: c.String("train"), testPath: c.String("test"),
			seed: uint64(c.Int64("seed")), workers: c.Int("workers"), log: log, progress: stderr,
			tags: kubeflowTags(c, getenv), now: now, phases: phases,
		}
		runName := c.String("run-name")
		if runName == "" {
			runName = cfg.Name
		}
		var result *trainResult
		err = tr.Runs.Do(c.Context, fluent.RunOptions{ExperimentName: c.String("experiment-name"), RunName: runName, Tags: job.tags},
			func(ctx context.Context, run *fluent.Run) error {
				var err error
				result, err = job.run(ctx, tr.Runs, run)
				return err
			})
		if err != nil {
			return err
		}
		job.phases.Done("tracking")
		job.phases.Log(log, "train: where the time went", "config", cfg.Name)
		value, _ := testMetric(result.fitted.test, c.String("metric"))
		for path, v := range map[string]string{
			c.String("run-id-out"):    result.runID,
			c.String("metric-out"):    strconv.FormatFloat(value, 'g', -1, 64),
			c.String("model-uri-out"): result.modelURI,
		} {
			if err := stepkit.WriteString(path, v); err != nil {
				return err
			}
		}
		f := result.fitted
		fmt.Fprintf(stderr, "train: %s -> run %s: test r2 %.4f, rmse %.4f, mae %.4f; fit %.2fs, predict %.1fms; model %s (%d bytes)\n",
			cfg.Name, result.runID, f.test.R2, f.test.RMSE, f.test.MAE, f.fitSeconds, f.predictSeconds*1000, result.modelURI, f.modelBytes)
		return nil
	}
	return app
}

// configFromFlags picks the named config, or builds one from the flags; flags
// that are set override the named config's values.
func configFromFlags(c *cli.Context) (Config, error) {
	var cfg Config
	if name := c.String("config"); name != "" {
		sweep, err := LoadSweep(c.String("config-file"))
		if err != nil {
			return cfg, err
		}
		if cfg, err = sweep.Find(name); err != nil {
			return cfg, fmt.Errorf("--config: %w", err)
		}
	} else {
		if !c.IsSet("model-kind") {
			return cfg, fmt.Errorf("give --config NAME (e.g. rf-tuned) or --model-kind (random-forest, gradient-boosting or linear)")
		}
		cfg.Name = c.String("model-kind")
	}
	if c.IsSet("model-kind") {
		cfg.Kind = c.String("model-kind")
	}
	ints := map[string]*int{"n-estimators": &cfg.NEstimators, "max-depth": &cfg.MaxDepth, "min-samples-split": &cfg.MinSamplesSplit, "min-samples-leaf": &cfg.MinSamplesLeaf}
	for flag, dst := range ints {
		if c.IsSet(flag) {
			*dst = c.Int(flag)
		}
	}
	for flag, dst := range map[string]**int{"max-iter": &cfg.MaxIter, "max-leaf-nodes": &cfg.MaxLeafNodes, "max-bins": &cfg.MaxBins, "n-iter-no-change": &cfg.NIterNoChange} {
		if c.IsSet(flag) {
			v := c.Int(flag)
			*dst = &v
		}
	}
	for flag, dst := range map[string]**float64{"learning-rate": &cfg.LearningRate, "l2-regularization": &cfg.L2Regularization,
		"subsample": &cfg.Subsample, "feature-fraction": &cfg.FeatureFraction, "validation-fraction": &cfg.ValidationFraction} {
		if c.IsSet(flag) {
			v := c.Float64(flag)
			*dst = &v
		}
	}
	if c.IsSet("max-features") {
		cfg.MaxFeatures = c.String("max-features")
	}
	if c.IsSet("bootstrap") {
		b := c.Bool("bootstrap")
		cfg.Bootstrap = &b
	}
	if err := cfg.Validate(); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// kubeflowTags records where a run came from when Kubeflow ran the step.
func kubeflowTags(c *cli.Context, getenv func(string) string) map[string]string {
	tags := map[string]string{}
	for tag, v := range map[string]string{
		"kubeflow.run_id":   c.String("kfp-run-id"),
		"kubeflow.run_name": c.String("kfp-run-name"),
		"kubeflow.pod_name": getenv("KFP_POD_NAME"),
		"kubeflow.pod_uid":  getenv("KFP_POD_UID"),
	} {
		if v != "" {
			tags[tag] = v
		}
	}
	return tags
}

func readPart(path string) (*dataset.Dataset, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return dataset.Read(f, path)
}

// trainJob is one invocation's work.
type trainJob struct {
	cfg                 Config
	train, test         *dataset.Dataset
	trainPath, testPath string
	seed                uint64
	workers             int
	log                 *slog.Logger
	progress            io.Writer
	tags                map[string]string
	now                 func() time.Time
	phases              *stepkit.Phases // where the step's time goes
}

type trainResult struct {
	runID, modelURI string
	fitted          *fitted
}

// run does the work inside the open run.
func (j *trainJob) run(ctx context.Context, runs *fluent.Client, run *fluent.Run) (*trainResult, error) {
	cfg := j.cfg
	// The parts are read inside the run, so that bad data shows as a FAILED run
	// with the reason, not only as a message in a pod's log.
	var err error
	if j.train, err = readPart(j.trainPath); err != nil {
		return nil, err
	}
	if j.test, err = readPart(j.testPath); err != nil {
		return nil, err
	}
	if err := run.LogInputs(ctx, stepkit.PartInput(j.train, j.trainPath, "training"), stepkit.PartInput(j.test, j.testPath, "testing")); err != nil {
		return nil, err
	}
	// Reach the artifact store before fitting, so that a wrong S3 endpoint,
	// credentials or region fails now rather than after minutes of training.
	if err := checkArtifactStore(ctx, run); err != nil {
		return nil, err
	}
	j.phases.Done("load")
	params := map[string]any{
		"seed": j.seed, "train_rows": j.train.Rows(), "test_rows": j.test.Rows(),
		"train_digest": j.train.Digest()[:16], "test_digest": j.test.Digest()[:16],
	}
	if cfg.Search != nil {
		best, err := j.search(ctx, runs, run)
		if err != nil {
			return nil, err
		}
		params["search_candidates"], params["search_folds"] = cfg.Search.Candidates, cfg.Search.Folds
		best.Name = cfg.Name
		cfg = best
		j.phases.Done("search")
	}
	for k, v := range cfg.Params() {
		params[k] = v
	}
	if err := run.LogParams(params); err != nil {
		return nil, err
	}
	j.log.Info("fitting", "config", cfg.Name, "kind", cfg.Kind, "rows", j.train.Rows())
	j.phases.Done("tracking")
	f, err := fitAndEvaluate(ctx, cfg, j.train, j.test, j.seed, j.workers, j.treeProgress(), j.phases)
	if err != nil {
		return nil, err
	}
	step, err := logMetrics(run, f)
	if err != nil {
		return nil, err
	}
	j.phases.Done("tracking")
	dir, err := os.MkdirTemp("", "housing-train-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	if _, err := writePlots(filepath.Join(dir, "plots"), cfg, f, j.test); err != nil {
		return nil, err
	}
	j.phases.Done("plots")
	if err := run.LogArtifacts(ctx, filepath.Join(dir, "plots"), "plots"); err != nil {
		return nil, err
	}
	j.phases.Done("upload")
	example := make([][]float64, 0, 5)
	for i := 0; i < min(5, j.test.Rows()); i++ {
		example = append(example, j.test.Row(i))
	}
	// Against an MLflow 3 backend the model is a logged model of its own, as
	// MLflow 3's log_model makes it; against MLflow 2.x it goes into the run's
	// artifacts. Its step is that of the run's final metrics, which it logs
	// again with its id as log_model does, so that the r2 curve over trees
	// gains no point at another step.
	lm, err := run.CreateLoggedModel(ctx, modelArtifactPath, nil, step)
	if err != nil {
		return nil, err
	}
	j.phases.Done("tracking")
	result := &trainResult{runID: run.ID(), modelURI: run.ModelURI(modelArtifactPath), fitted: f}
	if lm != nil {
		err := j.logLoggedModel(ctx, lm, filepath.Join(dir, "model"), f, example, run.ID())
		if ferr := lm.Finalize(ctx, err); err != nil || ferr != nil {
			return nil, errors.Join(err, ferr)
		}
		result.modelURI = lm.URI()
	} else {
		mm, err := mlmodel.Save(filepath.Join(dir, "model"), f.model, mlmodel.SaveOptions{
			RunID: run.ID(), ArtifactPath: modelArtifactPath, InputExample: example,
		})
		if err != nil {
			return nil, err
		}
		if err := j.modelSaved(filepath.Join(dir, "model"), f); err != nil {
			return nil, err
		}
		if err := run.LogModel(ctx, filepath.Join(dir, "model"), modelArtifactPath, mm.HistoryEntry()); err != nil {
			return nil, err
		}
		j.phases.Done("upload")
	}
	// model_bytes is the size of the file written, not of a second
	// encoding of the model only to measure it.
	m := j.phases.Metrics()
	m["model_bytes"] = float64(f.modelBytes)
	if err := run.LogMetrics(m, step); err != nil {
		return nil, err
	}
	return result, nil
}

// modelSaved charges the time since the last phase to writing the model
// files, and takes the model file's size from the directory dir.
func (j *trainJob) modelSaved(dir string, f *fitted) error {
	j.phases.Done("model_files")
	fi, err := os.Stat(filepath.Join(dir, mlmodel.ModelFile))
	if err != nil {
		return err
	}
	f.modelBytes = fi.Size()
	return nil
}

// logLoggedModel saves the model for the logged model lm (its MLmodel names
// lm's id and artifact location, as MLflow 3 writes it), uploads it, and logs
// the test metrics with lm's id, measured on the test part.
func (j *trainJob) logLoggedModel(ctx context.Context, lm *fluent.LoggedModel, dir string, f *fitted, example [][]float64, runID string) error {
	if _, err := mlmodel.Save(dir, f.model, mlmodel.SaveOptions{
		RunID: runID, ModelID: lm.ID(), ArtifactPath: lm.ArtifactURI(), InputExample: example,
	}); err != nil {
		return err
	}
	if err := j.modelSaved(dir, f); err != nil {
		return err
	}
	if err := lm.Upload(ctx, dir); err != nil {
		return err
	}
	j.phases.Done("upload")
	test := stepkit.PartInput(j.test, j.testPath, "testing").Dataset
	return lm.LogMetrics(ctx, map[string]float64{
		"r2": f.test.R2, "mse": f.test.MSE, "rmse": f.test.RMSE, "mae": f.test.MAE, "explained_variance": f.test.ExplainedVariance,
	}, &test)
}

// search runs the config's search with each trial a nested run, and returns the winner.
func (j *trainJob) search(ctx context.Context, runs *fluent.Client, parent *fluent.Run) (Config, error) {
	s := j.cfg.Search
	j.log.Info("searching", "config", j.cfg.Name, "candidates", s.Candidates, "folds", s.Folds)
	trial := 0
	best, err := searchForest(ctx, j.train, j.cfg, j.seed, j.workers, j.now, func(ctx context.Context, t Trial) error {
		trial++
		name := fmt.Sprintf("%s-r%d", t.Config.Name, t.Round)
		j.log.Info("trial", "name", name, "trees", t.Config.NEstimators, "cv_r2", fmt.Sprintf("%.4f", t.CVR2), "survived", t.Survived,
			"cv_seconds", fmt.Sprintf("%.2f", t.End.Sub(t.Start).Seconds()))
		// The trial's run is logged once the round is scored, with the
		// times of its own cross-validation, so its duration is that.
		opts := fluent.RunOptions{ParentRunID: parent.ID(), RunName: name, Tags: j.tags, StartTime: t.Start, EndTime: t.End}
		return runs.Do(ctx, opts, func(ctx context.Context, run *fluent.Run) error {
			params := map[string]any{"search_round": t.Round, "candidate": t.Index + 1, "cv_folds": s.Folds}
			for k, v := range t.Config.Params() {
				params[k] = v
			}
			if err := run.LogParams(params); err != nil {
				return err
			}
			if err := run.SetTag("housing.search.survived", strconv.FormatBool(t.Survived)); err != nil {
				return err
			}
			return run.LogMetrics(map[string]float64{"cv_r2": t.CVR2, "cv_r2_std": t.CVR2Std}, int64(t.Round))
		})
	})
	if err != nil {
		return Config{}, fmt.Errorf("search %s: %w", j.cfg.Name, err)
	}
	return best, parent.LogMetric("search_trials", float64(trial), 0)
}

// treeProgress reports trees done on stderr about every tenth of the way.
func (j *trainJob) treeProgress() func(done, total int) {
	last := -1
	return func(done, total int) {
		if tenth := done * 10 / max(total, 1); tenth != last || done == total {
			last = tenth
			fmt.Fprintf(j.progress, "train: %d/%d trees\n", done, total)
		}
	}
}

// logMetrics logs the test metrics under their plain names, the train metrics
// with a train_ prefix, timings and sizes, and for tree ensembles the test R2
// after each number of trees as the history of r2 (step = trees, the last is the
// whole ensemble); for boosted ensembles also the loss histories. It returns
// the step of the final values.
func logMetrics(run *fluent.Run, f *fitted) (int64, error) {
	final := int64(0)
	for _, s := range f.stagedR2 {
		if err := run.LogMetric("r2", s.r2, int64(s.trees)); err != nil {
			return 0, err
		}
		final = int64(s.trees)
	}
	m := map[string]float64{
		"mse": f.test.MSE, "rmse": f.test.RMSE, "mae": f.test.MAE, "explained_variance": f.test.ExplainedVariance,
		"train_r2": f.train.R2, "train_mse": f.train.MSE, "train_rmse": f.train.RMSE, "train_mae": f.train.MAE,
		"train_explained_variance": f.train.ExplainedVariance,
		"fit_seconds":              f.fitSeconds, "predict_seconds": f.predictSeconds,
	}
	if len(f.stagedR2) == 0 {
		m["r2"] = f.test.R2
	}
	if f.nodes > 0 {
		m["nodes"] = float64(f.nodes)
	}
	if f.trainLoss != nil {
		m["n_iter"] = float64(len(f.trainLoss))
	}
	// A boosted ensemble's loss after each iteration (step = iterations
	// done): the curves scikit-learn keeps as train_score_ and
	// validation_score_, and the same loss on the test part.
	for name, hist := range map[string][]float64{"train_loss": f.trainLoss, "validation_loss": f.validLoss, "test_loss": f.testLoss} {
		for i, v := range hist {
			if err := run.LogMetric(name, v, int64(i+1)); err != nil {
				return 0, err
			}
		}
	}
	if f.oobR2 != nil {
		m["oob_r2"] = *f.oobR2
	}
	return final, run.LogMetrics(m, final)
}

// testMetric returns the metric called name.
func testMetric(m learn.Metrics, name string) (float64, bool) {
	switch name {
	case "r2":
		return m.R2, true
	case "mse":
		return m.MSE, true
	case "rmse":
		return m.RMSE, true
	case "mae":
		return m.MAE, true
	case "explained_variance":
		return m.ExplainedVariance, true
	}
	return 0, false
}

// checkArtifactStore lists the run's artifact root, which needs the store to be
// reachable and the credentials to be right.
func checkArtifactStore(ctx context.Context, run *fluent.Run) error {
	repo, err := run.Artifacts(ctx)
	if err != nil {
		return fmt.Errorf("artifact store of run %s (%s): %w", run.ID(), run.ArtifactURI(), err)
	}
	if _, err := repo.List(ctx, ""); err != nil {
		return fmt.Errorf("artifact store of run %s (%s) cannot be reached: %w", run.ID(), run.ArtifactURI(), err)
	}
	return nil
}
