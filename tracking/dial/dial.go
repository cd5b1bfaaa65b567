// Package dial chooses a tracking backend from a tracking URI, the MLflow way:
// http(s):// is a tracking server reached through package client, sqlite:// and
// postgresql:// are databases opened with package sqlstore. It sits above both,
// so neither needs the other, and it opens the artifact repository of a run's
// artifact URI, resolving runs:/ and models:/ URIs through the backend's store.
package dial

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/artifacts"
	"github.com/mlops-lab/housing/tracking/client"
	"github.com/mlops-lab/housing/tracking/sqlstore"
)

// The embedded default, used when MLFLOW_TRACKING_URI is unset: a SQLite file and
// an artifacts directory in the working directory, no server.
const (
	DefaultTrackingURI  = "sqlite:///mlflow.db"
	DefaultArtifactRoot = "./mlartifacts"
)

// Options configures Open.
type Options struct {
	// Client configures the REST client for http(s) tracking URIs.
	Client client.Options
	// DefaultArtifactRoot is where a SQL store puts the artifacts of experiments
	// created without a location; "" means DefaultArtifactRoot. A relative
	// directory is made absolute, so artifact URIs stay valid from elsewhere.
	DefaultArtifactRoot string
	// ArtifactsDestination is where mlflow-artifacts:/ URIs point when the backend
	// is a database rather than a server (as `mlflow server --artifacts-destination`).
	ArtifactsDestination string
	// S3 configures s3:// artifact repositories; nil means artifacts.S3ConfigFromEnv(Getenv).
	S3 *artifacts.S3Config
	// Getenv reads the environment for S3 settings; nil means os.Getenv.
	Getenv func(string) string
	// Logger is handed to the SQL store; nil means slog.Default().
	Logger *slog.Logger
}

// Backend is an opened tracking backend: its store and how to reach artifacts.
type Backend struct {
	// Store keeps experiments, runs and the model registry.
	Store tracking.Store
	// TrackingURI is the URI the backend was opened with.
	TrackingURI string

	artifactOpt artifacts.Options
	destination string // for mlflow-artifacts:/ URIs without a server
	server      bool   // Store is a REST client
}

// Open opens the backend of trackingURI ("" means DefaultTrackingURI):
//
//	http://host[:port][/prefix], https://...   a tracking server (package client)
//	sqlite:///relative.db, sqlite:////abs.db    a SQLite database (package sqlstore)
//	postgresql://user:pw@host:port/db           a PostgreSQL database (package sqlstore)
//
// databricks, file: (MLflow's file store) and other schemes are refused.
func Open(ctx context.Context, trackingURI string, opt Options) (*Backend, error) {
	if trackingURI == "" {
		trackingURI = DefaultTrackingURI
	}
	b := &Backend{TrackingURI: trackingURI}
	b.artifactOpt = artifacts.Options{S3: opt.S3, Getenv: opt.Getenv}
	scheme, _, _ := strings.Cut(trackingURI, ":")
	switch scheme = strings.ToLower(scheme); {
	case scheme == "http" || scheme == "https":
		c, err := client.New(trackingURI, opt.Client)
		if err != nil {
			return nil, fmt.Errorf("dial: %w", err)
		}
		b.Store, b.server = c, true
		b.artifactOpt.TrackingURI = c.TrackingURI()
		b.artifactOpt.HTTPClient = c.HTTPClient()
		return b, nil
	case scheme == "sqlite" || scheme == "postgresql" || scheme == "postgres" || strings.HasPrefix(scheme, "postgresql+"):
		root := opt.DefaultArtifactRoot
		if root == "" {
			root = DefaultArtifactRoot
		}
		if !strings.Contains(root, "://") && !filepath.IsAbs(root) {
			abs, err := filepath.Abs(root)
			if err != nil {
				return nil, fmt.Errorf("dial: artifact root %s: %w", root, err)
			}
			root = abs
		}
		s, err := sqlstore.Open(ctx, trackingURI, sqlstore.Options{DefaultArtifactRoot: root, Logger: opt.Logger})
		if err != nil {
			return nil, fmt.Errorf("dial: %w", err)
		}
		b.Store = s
		b.destination = opt.ArtifactsDestination
		return b, nil
	case scheme == "databricks" || strings.HasPrefix(scheme, "databricks"):
		return nil, fmt.Errorf("dial: tracking URI %q: Databricks workspaces are not supported; use http(s)://, sqlite:// or postgresql://", trackingURI)
	case scheme == "file" || !strings.Contains(trackingURI, ":") || len(scheme) == 1:
		return nil, fmt.Errorf("dial: tracking URI %q: MLflow's file store (./mlruns) is not supported; use %s (the default) or a tracking server", trackingURI, DefaultTrackingURI)
	}
	return nil, fmt.Errorf("dial: unsupported tracking URI scheme %q in %q: use http(s)://host:port, sqlite:///path.db or postgresql://user@host/db", scheme, trackingURI)
}

// FromEnv opens the backend named by MLFLOW_TRACKING_URI (the embedded SQLite
// default when unset), with the client options of client.OptionsFromEnv and the S3
// settings of artifacts.S3ConfigFromEnv (read when an s3:// repository is opened).
func FromEnv(ctx context.Context, getenv func(string) string) (*Backend, error) {
	copt, err := client.OptionsFromEnv(getenv)
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	return Open(ctx, getenv("MLFLOW_TRACKING_URI"), Options{
		Client:               copt,
		DefaultArtifactRoot:  getenv("MLFLOW_DEFAULT_ARTIFACT_ROOT"),
		ArtifactsDestination: getenv("MLFLOW_ARTIFACTS_DESTINATION"),
		Getenv:               getenv,
	})
}

// Close closes the store.
func (b *Backend) Close() error { return b.Store.Close() }

// Artifacts opens the repository at artifactURI: a run's artifact_uri, an
// experiment's artifact_location or a model version's source. runs:/ and
// models:/ URIs name artifacts through the store; resolve them first with
// fluent.Client.ResolveModelURI.
func (b *Backend) Artifacts(ctx context.Context, artifactURI string) (tracking.ArtifactRepository, error) {
	uri := artifactURI
	if !b.server && strings.HasPrefix(uri, "mlflow-artifacts:") {
		u, err := url.Parse(uri)
		if err != nil {
			return nil, fmt.Errorf("dial: artifact URI %q: %w", uri, err)
		}
		if b.destination == "" {
			return nil, fmt.Errorf("dial: artifact URI %q is served by a tracking server, but the backend is the database %s; set Options.ArtifactsDestination (MLFLOW_ARTIFACTS_DESTINATION) to where that server keeps artifacts", uri, redact(b.TrackingURI))
		}
		uri = strings.TrimRight(b.destination, "/") + "/" + strings.TrimLeft(u.Path, "/")
	}
	return artifacts.Open(ctx, uri, b.artifactOpt)
}

// redact hides a password in a database URI.
func redact(uri string) string {
	u, err := url.Parse(uri)
	if err != nil || u.User == nil {
		return uri
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}
