package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/mlops-lab/housing/dataset"
	"github.com/mlops-lab/housing/learn"
	"github.com/mlops-lab/housing/steps/internal/stepkit"
	"github.com/mlops-lab/housing/tracking"
	"github.com/urfave/cli/v2"
)

// Aliases the gate sets.
const (
	AliasChampion   = "champion"
	AliasChallenger = "challenger"
)

// Version tags that record each decision, so the history of what was in
// Production can be read back from the registry.
const (
	TagDecision        = "housing.gate.decision" // "promoted" or "held"
	TagReason          = "housing.gate.reason"
	TagMetric          = "housing.gate.metric"
	TagCandidateValue  = "housing.gate.candidate_value"
	TagChampionValue   = "housing.gate.champion_value"
	TagChampionVersion = "housing.gate.champion_version"
	TagMargin          = "housing.gate.margin"
	TagEvaluatedOn     = "housing.gate.evaluated_on" // "test data <digest>" or "logged metric"
	TagDecidedAt       = "housing.gate.decided_at"
	TagProductionFrom  = "housing.production.from"
	TagProductionUntil = "housing.production.until"
	TagReplacedBy      = "housing.production.replaced_by"
)

func newApp(stdout, stderr io.Writer, getenv func(string) string, now func() time.Time) *cli.App {
	app := stepkit.NewApp("register", "register the best run's model and promote it through the gate", stdout, stderr)
	app.Flags = []cli.Flag{
		&cli.StringFlag{Name: "run-id", Usage: "run whose model to register"},
		&cli.StringFlag{Name: "run-id-file", Usage: "file holding the run id (compare's best-run-id output)"},
		&cli.StringFlag{Name: "model-path", Value: "model", Usage: "artifact path of the model in the run"},
		&cli.StringFlag{Name: "model-name", Value: "california-housing", Usage: "registered model name"},
		&cli.StringFlag{Name: "metric", Value: "r2", Usage: "metric the gate compares (r2, mse, rmse, mae, explained_variance)"},
		&cli.StringFlag{Name: "direction", Value: "max", Usage: "max if larger is better, min if smaller is"},
		&cli.Float64Flag{Name: "margin", Value: 0, Usage: "how much better than the champion the candidate must be"},
		&cli.StringFlag{Name: "test", Usage: "test data to evaluate candidate and champion on (ingest's test part); without it the runs' logged metrics are compared"},
		&cli.BoolFlag{Name: "stages-only", Usage: "use stages (Staging/Production/Archived) only, no aliases"},
		&cli.BoolFlag{Name: "aliases-only", Usage: "use aliases (champion/challenger) only, no stages"},
		&cli.StringFlag{Name: "version-out", Usage: "where to write the registered version number"},
		&cli.StringFlag{Name: "decision-out", Usage: "where to write the decision as JSON"},
	}
	app.Action = func(c *cli.Context) error {
		log := stepkit.Logger(stderr)
		opt, err := optionsFromFlags(c)
		if err != nil {
			return err
		}
		tr, err := stepkit.OpenTracking(c.Context, getenv, log, now)
		if err != nil {
			return err
		}
		defer tr.Close()
		r := &registrar{tr: tr, opt: opt, log: log, now: now}
		out, err := r.register(c.Context)
		if err != nil {
			return err
		}
		if err := stepkit.WriteString(c.String("version-out"), out.Version); err != nil {
			return err
		}
		// One line: Kubeflow shows the decision as a parameter value.
		decision, err := json.Marshal(out)
		if err != nil {
			return err
		}
		if err := stepkit.WriteFile(c.String("decision-out"), decision); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "register: %s version %s is in %s%s: %s\n", opt.name, out.Version, out.Stage, aliasNote(out.Aliases), out.Decision.Reason)
		return nil
	}
	return app
}

func aliasNote(aliases []string) string {
	if len(aliases) == 0 {
		return ""
	}
	return fmt.Sprintf(" with alias %v", aliases)
}

type options struct {
	runID, modelPath, name string
	gate                   Gate
	test                   *dataset.Dataset
	testPath               string
	useStages, useAliases  bool
}

func optionsFromFlags(c *cli.Context) (options, error) {
	o := options{modelPath: c.String("model-path"), name: c.String("model-name"), useStages: true, useAliases: true}
	o.runID = c.String("run-id")
	if f := c.String("run-id-file"); o.runID == "" && f != "" {
		id, err := stepkit.ReadParam(f)
		if err != nil {
			return o, fmt.Errorf("--run-id-file: %w", err)
		}
		o.runID = id
	}
	if o.runID == "" {
		return o, fmt.Errorf("give --run-id or --run-id-file")
	}
	if c.Bool("stages-only") && c.Bool("aliases-only") {
		return o, fmt.Errorf("--stages-only and --aliases-only exclude each other")
	}
	o.useStages, o.useAliases = !c.Bool("aliases-only"), !c.Bool("stages-only")
	dir, err := stepkit.ParseDirection(c.String("direction"))
	if err != nil {
		return o, err
	}
	o.gate = Gate{Metric: c.String("metric"), Direction: dir, Margin: c.Float64("margin")}
	if _, err := metricOf(learn.Metrics{}, o.gate.Metric); err != nil {
		return o, err
	}
	if o.gate.Margin < 0 {
		return o, fmt.Errorf("--margin %v: must not be negative", o.gate.Margin)
	}
	if p := c.String("test"); p != "" {
		f, err := os.Open(p)
		if err != nil {
			return o, fmt.Errorf("--test: %w", err)
		}
		defer f.Close()
		if o.test, err = dataset.Read(f, p); err != nil {
			return o, fmt.Errorf("--test: %w", err)
		}
		o.testPath = p
	}
	return o, nil
}

// Outcome is what the step did, written to --decision-out.
type Outcome struct {
	Name     string   `json:"name"`
	Version  string   `json:"version"`
	RunID    string   `json:"run_id"`
	Stage    string   `json:"stage"`
	Aliases  []string `json:"aliases,omitempty"`
	Reused   bool     `json:"reused"` // the run's model was registered before
	Decision Decision `json:"decision"`
}

type registrar struct {
	tr  *stepkit.Tracking
	opt options
	log *slog.Logger
	now func() time.Time
}

func (r *registrar) register(ctx context.Context) (*Outcome, error) {
	store, o := r.tr.Store, r.opt
	run, err := store.GetRun(ctx, o.runID)
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", o.runID, err)
	}
	mv, reused, err := r.versionFor(ctx, run)
	if err != nil {
		return nil, err
	}
	out := &Outcome{Name: o.name, Version: mv.Version, RunID: run.Info.RunID, Reused: reused}

	champion, err := r.champion(ctx)
	if err != nil {
		return nil, err
	}
	if champion != nil && champion.Version == mv.Version {
		// Nothing to decide: the tags keep the decision that made it champion.
		out.Decision = Decision{Metric: o.gate.Metric, Reason: fmt.Sprintf("version %s is already the champion", mv.Version)}
		return r.readBack(ctx, out, "unchanged")
	}
	candidateValue, evaluatedOn, err := r.score(ctx, "models:/"+o.name+"/"+mv.Version, run)
	if err != nil {
		return nil, err
	}
	var championValue *float64
	championVersion := ""
	if champion != nil {
		championRun, err := store.GetRun(ctx, champion.RunID)
		if err != nil {
			return nil, fmt.Errorf("champion version %s: run %s: %w", champion.Version, champion.RunID, err)
		}
		v, _, err := r.score(ctx, "models:/"+o.name+"/"+champion.Version, championRun)
		if err != nil {
			return nil, fmt.Errorf("champion version %s: %w", champion.Version, err)
		}
		championValue, championVersion = &v, champion.Version
	}

	if o.useStages && mv.CurrentStage != tracking.StageStaging {
		if _, err := r.tr.Runs.TransitionStage(ctx, o.name, mv.Version, tracking.StageStaging, false); err != nil {
			return nil, err
		}
	}
	d := o.gate.Decide(candidateValue, championValue, championVersion)
	out.Decision = d
	// Milliseconds, as the registry's own timestamps carry: the promotion
	// timeline orders this decision against the version's registration.
	stamp := r.now().UTC().Format("2006-01-02T15:04:05.000Z07:00")
	tags := map[string]string{
		TagReason: d.Reason, TagMetric: d.Metric, TagMargin: fmtFloat(d.Margin),
		TagCandidateValue: fmtFloat(d.Candidate), TagEvaluatedOn: evaluatedOn, TagDecidedAt: stamp,
	}
	if championValue != nil {
		tags[TagChampionValue], tags[TagChampionVersion] = fmtFloat(*championValue), championVersion
	}
	for k, v := range tags {
		if err := r.tr.Runs.SetModelVersionTag(ctx, o.name, mv.Version, k, v); err != nil {
			return nil, err
		}
	}
	if !d.Promote {
		if o.useAliases {
			if err := r.tr.Runs.SetAlias(ctx, o.name, AliasChallenger, mv.Version); err != nil {
				return nil, err
			}
		}
		return r.finish(ctx, out, "held")
	}
	if o.useStages {
		if _, err := r.tr.Runs.TransitionStage(ctx, o.name, mv.Version, tracking.StageProduction, true); err != nil {
			return nil, err
		}
	}
	if o.useAliases {
		if err := r.tr.Runs.SetAlias(ctx, o.name, AliasChampion, mv.Version); err != nil {
			return nil, err
		}
		if cur, err := store.GetModelVersionByAlias(ctx, o.name, AliasChallenger); err == nil && cur.Version == mv.Version {
			if err := r.tr.Runs.DeleteAlias(ctx, o.name, AliasChallenger); err != nil {
				return nil, err
			}
		}
	}
	if err := r.tr.Runs.SetModelVersionTag(ctx, o.name, mv.Version, TagProductionFrom, stamp); err != nil {
		return nil, err
	}
	if champion != nil {
		for k, v := range map[string]string{TagProductionUntil: stamp, TagReplacedBy: mv.Version} {
			if err := r.tr.Runs.SetModelVersionTag(ctx, o.name, champion.Version, k, v); err != nil {
				return nil, err
			}
		}
	}
	return r.finish(ctx, out, "promoted")
}

// finish records the decision and reads back where the version stands.
func (r *registrar) finish(ctx context.Context, out *Outcome, decision string) (*Outcome, error) {
	if err := r.tr.Runs.SetModelVersionTag(ctx, out.Name, out.Version, TagDecision, decision); err != nil {
		return nil, err
	}
	return r.readBack(ctx, out, decision)
}

// readBack fills in where the version stands now.
func (r *registrar) readBack(ctx context.Context, out *Outcome, decision string) (*Outcome, error) {
	mv, err := r.tr.Store.GetModelVersion(ctx, out.Name, out.Version)
	if err != nil {
		return nil, err
	}
	out.Stage, out.Aliases = string(mv.CurrentStage), mv.Aliases
	r.log.Info("decision", "name", out.Name, "version", out.Version, "decision", decision, "stage", out.Stage, "aliases", out.Aliases)
	return out, nil
}

// versionFor returns the version registered from the run's model, registering
// it when there is none, so that running the step again creates no second version.
func (r *registrar) versionFor(ctx context.Context, run *tracking.Run) (*tracking.ModelVersion, bool, error) {
	o := r.opt
	page, err := r.tr.Store.SearchModelVersions(ctx, tracking.ModelQuery{
		Filter: fmt.Sprintf("name = '%s' and run_id = '%s'", quote(o.name), quote(run.Info.RunID)), MaxResults: 100,
	})
	if err != nil {
		return nil, false, fmt.Errorf("look for versions of %q from run %s: %w", o.name, run.Info.RunID, err)
	}
	// Against MLflow 3 the run's model is a logged model, registered as
	// models:/<model_id>; against 2.x it is in the run's artifacts.
	uri := "runs:/" + run.Info.RunID + "/" + o.modelPath
	src, err := r.tr.Runs.RegistrationSource(ctx, uri)
	if err != nil {
		return nil, false, err
	}
	for _, mv := range page.Items {
		if mv.Source == src.Source || mv.Source == uri {
			r.log.Info("run's model is registered already", "name", o.name, "version", mv.Version)
			return &mv, true, nil
		}
	}
	mv, err := r.tr.Runs.RegisterModel(ctx, uri, o.name, map[string]string{"housing.run_name": run.Info.RunName})
	if err != nil {
		return nil, false, err
	}
	r.log.Info("registered", "name", o.name, "version", mv.Version, "source", mv.Source)
	return mv, false, nil
}

// champion returns the version now in charge: the champion alias, or the latest
// Production version when aliases are not used (or no alias is set yet).
func (r *registrar) champion(ctx context.Context) (*tracking.ModelVersion, error) {
	store, o := r.tr.Store, r.opt
	if _, err := store.GetRegisteredModel(ctx, o.name); tracking.IsNotFound(err) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	if o.useAliases {
		mv, err := store.GetModelVersionByAlias(ctx, o.name, AliasChampion)
		if err == nil {
			return mv, nil
		}
		if tracking.ErrorCodeOf(err) != tracking.ErrInvalidParameterValue && !tracking.IsNotFound(err) {
			return nil, err
		}
		if !o.useStages {
			return nil, nil
		}
	}
	latest, err := store.GetLatestVersions(ctx, o.name, []tracking.Stage{tracking.StageProduction})
	if err != nil {
		return nil, err
	}
	if len(latest) == 0 {
		return nil, nil
	}
	return &latest[0], nil
}

// score returns the gate metric of the model at uri: evaluated on the test data
// when given, else as logged on its run.
func (r *registrar) score(ctx context.Context, uri string, run *tracking.Run) (float64, string, error) {
	o := r.opt
	if o.test == nil {
		v, ok := run.Metric(o.gate.Metric)
		if !ok {
			return 0, "", fmt.Errorf("run %s has no metric %q to compare (pass --test to evaluate on test data)", run.Info.RunID, o.gate.Metric)
		}
		return v, "logged metric of run " + run.Info.RunID, nil
	}
	_, model, err := r.tr.LoadModel(ctx, uri)
	if err != nil {
		return 0, "", err
	}
	if model.NumFeatures() != dataset.NumFeatures {
		return 0, "", fmt.Errorf("model %s takes %d features, the test data has %d", uri, model.NumFeatures(), dataset.NumFeatures)
	}
	v, err := metricOf(learn.Evaluate(o.test.Y, model.Predict(nil, o.test.X)), o.gate.Metric)
	if err != nil {
		return 0, "", err
	}
	return v, fmt.Sprintf("test data %s (digest %s)", o.testPath, o.test.Digest()[:12]), nil
}

func metricOf(m learn.Metrics, name string) (float64, error) {
	switch name {
	case "r2":
		return m.R2, nil
	case "mse":
		return m.MSE, nil
	case "rmse":
		return m.RMSE, nil
	case "mae":
		return m.MAE, nil
	case "explained_variance":
		return m.ExplainedVariance, nil
	}
	return 0, fmt.Errorf("metric %q: want r2, mse, rmse, mae or explained_variance", name)
}

func fmtFloat(v float64) string { return strconv.FormatFloat(v, 'g', 10, 64) }

// quote escapes a value for a single-quoted MLflow filter string.
func quote(s string) string {
	out := make([]rune, 0, len(s))
	for _, c := range s {
		if c == '\'' || c == '\\' {
			out = append(out, '\\')
		}
		out = append(out, c)
	}
	return string(out)
}
