package stepkit

import (
	"context"
	"log/slog"
	"net/url"
	"time"

	"github.com/mlops-lab/housing/tracking/client"
	"github.com/mlops-lab/housing/tracking/dial"
	"github.com/mlops-lab/housing/tracking/fluent"
)

// SystemClock is the clock steps use outside tests.
var SystemClock = time.Now

// Tracking is the tracking backend a step talks to, opened the MLflow way from
// MLFLOW_TRACKING_URI (the embedded SQLite default, sqlite:///mlflow.db with
// artifacts in ./mlartifacts, when it is unset).
type Tracking struct {
	*dial.Backend
	// Runs starts runs and works with the registry over Backend.Store.
	Runs *fluent.Client
}

// OpenTracking opens the tracking backend from the environment read by getenv.
// Runs are tagged with mlflow.source.type JOB, as a pipeline step's are.
func OpenTracking(ctx context.Context, getenv func(string) string, log *slog.Logger, now func() time.Time) (*Tracking, error) {
	if log == nil {
		log = slog.Default()
	}
	copt, err := client.OptionsFromEnv(getenv)
	if err != nil {
		return nil, err
	}
	copt.Logger = log // retries against an unreachable server show, rather than a silent wait
	b, err := dial.Open(ctx, getenv("MLFLOW_TRACKING_URI"), dial.Options{
		Client:               copt,
		DefaultArtifactRoot:  getenv("MLFLOW_DEFAULT_ARTIFACT_ROOT"),
		ArtifactsDestination: getenv("MLFLOW_ARTIFACTS_DESTINATION"),
		Getenv:               getenv,
		Logger:               log,
	})
	if err != nil {
		return nil, err
	}
	log.Info("tracking", "uri", redactedURI(b.TrackingURI))
	return &Tracking{
		Backend: b,
		Runs: fluent.New(b.Store, b, fluent.Options{
			Now: now, Getenv: getenv, Logger: log, SourceType: fluent.SourceJob,
		}),
	}, nil
}

// redactedURI hides a password in a URI for logs.
func redactedURI(uri string) string {
	u, err := url.Parse(uri)
	if err != nil {
		return "(unparseable tracking URI)"
	}
	return u.Redacted()
}
