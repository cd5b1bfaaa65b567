package fluent

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/mlops-lab/housing/tracking"
)

// ArtifactOpener opens the artifact repository rooted at an artifact URI
// (file:, s3://, mlflow-artifacts:/ ...). dial.Backend satisfies it.
type ArtifactOpener interface {
	Artifacts(ctx context.Context, artifactURI string) (tracking.ArtifactRepository, error)
}

// Environment variables MLflow's client reads, and this package with it.
const (
	EnvExperimentName = "MLFLOW_EXPERIMENT_NAME"
	EnvExperimentID   = "MLFLOW_EXPERIMENT_ID"
	EnvRunID          = "MLFLOW_RUN_ID"
	EnvGitCommit      = "GIT_COMMIT" // set by CI systems and image builds
)

// TagError is the run tag End sets to the error's message when a run fails.
const TagError = "housing.error"

// Source types of the mlflow.source.type tag (MLflow's SourceType names).
const (
	SourceLocal    = "LOCAL"
	SourceJob      = "JOB"
	SourceProject  = "PROJECT"
	SourceNotebook = "NOTEBOOK"
)

// Options configures a Client. Every field has a default.
type Options struct {
	// Now is the clock for run times and metric timestamps; default time.Now.
	Now func() time.Time
	// Getenv reads MLFLOW_EXPERIMENT_NAME, MLFLOW_EXPERIMENT_ID, MLFLOW_RUN_ID,
	// GIT_COMMIT and the user name variables; default os.Getenv.
	Getenv func(string) string
	// Logger receives background flush errors and registry waits; default slog.Default().
	Logger *slog.Logger
	// FlushInterval is how often buffered metrics, params and tags are sent
	// while a run is open; default 5s. Negative disables the timer: the
	// buffer is then sent only when a batch is full, on Flush and on End.
	FlushInterval time.Duration
	// SourceName is the mlflow.source.name tag; default the executable's path.
	SourceName string
	// SourceType is the mlflow.source.type tag; default SourceLocal.
	SourceType string
	// GitCommit is the mlflow.source.git.commit tag; default $GIT_COMMIT, else
	// `git rev-parse HEAD` in the working directory, else no tag.
	GitCommit string
	// RegistryWait bounds how long RegisterModel waits for a version to become
	// READY; default 300s, as MLflow waits.
	RegistryWait time.Duration
	// RegistryPoll is the interval between status checks while waiting; default 1s.
	RegistryPoll time.Duration
}

// Client starts runs and works with the model registry of one tracking backend.
// It is safe for concurrent use.
type Client struct {
	store  tracking.Store
	opener ArtifactOpener
	opts   Options
	log    *slog.Logger

	mu          sync.Mutex
	envRunTaken bool // MLFLOW_RUN_ID is resumed once, like MLflow consumes it
}

// New returns a Client over store, opening run artifact repositories with opener.
func New(store tracking.Store, opener ArtifactOpener, opts Options) *Client {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.FlushInterval == 0 {
		opts.FlushInterval = 5 * time.Second
	}
	if opts.SourceType == "" {
		opts.SourceType = SourceLocal
	}
	if opts.RegistryWait <= 0 {
		opts.RegistryWait = 300 * time.Second
	}
	if opts.RegistryPoll <= 0 {
		opts.RegistryPoll = time.Second
	}
	return &Client{store: store, opener: opener, opts: opts, log: opts.Logger}
}

// Store returns the tracking store the client works on, for what this package
// does not wrap.
func (c *Client) Store() tracking.Store { return c.store }

// millis returns the client clock's time in milliseconds since the Unix epoch.
func (c *Client) millis() int64 { return c.opts.Now().UnixMilli() }

// GetOrCreateExperiment returns the active experiment called name, creating it
// when there is none. A concurrent create by another process is tolerated. A
// deleted experiment of that name is an INVALID_STATE error, as in MLflow.
func (c *Client) GetOrCreateExperiment(ctx context.Context, name string) (*tracking.Experiment, error) {
	exp, err := c.store.GetExperimentByName(ctx, name)
	if tracking.IsNotFound(err) {
		var id string
		id, err = c.store.CreateExperiment(ctx, name, "", nil)
		switch {
		case err == nil:
			c.log.Info("created experiment", "name", name, "id", id)
			exp, err = c.store.GetExperiment(ctx, id)
		case tracking.IsAlreadyExists(err): // created meanwhile by someone else
			exp, err = c.store.GetExperimentByName(ctx, name)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("fluent: experiment %q: %w", name, err)
	}
	if exp.LifecycleStage == tracking.LifecycleDeleted {
		return nil, tracking.Errorf(tracking.ErrInvalidState,
			"Cannot use deleted experiment %q (id %s); restore it or use another name", name, exp.ID)
	}
	return exp, nil
}

// experimentID returns the id of the experiment a new run goes to: the named
// one (created if missing), else MLFLOW_EXPERIMENT_NAME (created if missing),
// else MLFLOW_EXPERIMENT_ID, else fallback (a parent run's experiment), else
// the Default experiment "0".
func (c *Client) experimentID(ctx context.Context, name, fallback string) (string, error) {
	if name == "" {
		name = c.opts.Getenv(EnvExperimentName)
	}
	if name != "" {
		exp, err := c.GetOrCreateExperiment(ctx, name)
		if err != nil {
			return "", err
		}
		return exp.ID, nil
	}
	if id := c.opts.Getenv(EnvExperimentID); id != "" {
		exp, err := c.store.GetExperiment(ctx, id)
		if err != nil {
			return "", fmt.Errorf("fluent: %s=%s: %w", EnvExperimentID, id, err)
		}
		if exp.LifecycleStage == tracking.LifecycleDeleted {
			return "", tracking.Errorf(tracking.ErrInvalidState, "Cannot use deleted experiment id %s from %s", id, EnvExperimentID)
		}
		return id, nil
	}
	if fallback != "" {
		return fallback, nil
	}
	return tracking.DefaultExperimentID, nil
}

// truncate cuts s to at most n characters (code points), for tag values.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-3]) + "..."
}
