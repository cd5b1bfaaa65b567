// Package server serves any tracking.Store over MLflow's REST API 2.0, as MLflow
// 2.17's tracking server does: the same paths under /api/2.0 and /ajax-api/2.0,
// the same JSON shapes (package wire), status codes and error bodies; the
// proxied artifact store (mlflow-artifacts) over a tracking.ArtifactRepository;
// MLflow's GraphQL endpoint /graphql (graphql.go); /health and /version.
// routes.go lists the whole surface.
package server

import (
	"context"
	"log/slog"
	"net/http"
	"strings"

	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/wire"
)

// DefaultMaxBodyBytes bounds JSON request bodies when Options.MaxBodyBytes is 0.
const DefaultMaxBodyBytes = 16 << 20

// Options configures a server. The zero value serves the API without a UI.
type Options struct {
	// Logger receives request errors (internal ones with their cause); nil
	// discards them.
	Logger *slog.Logger
	// MaxBodyBytes bounds JSON request bodies (413 beyond); 0 means
	// DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// MaxArtifactBytes bounds one artifact upload; 0 means no bound (uploads are
	// streamed to the repository, never held in memory).
	MaxArtifactBytes int64
	// OpenArtifactRepository opens the repository of a run's artifact URI when it
	// is not an mlflow-artifacts:/ URI (those are served from the artifacts
	// repository given to New): file paths, s3://... nil means such runs'
	// artifacts cannot be listed or downloaded through the server.
	OpenArtifactRepository func(ctx context.Context, uri string) (tracking.ArtifactRepository, error)
	// UI, when non-nil, serves every path outside the API (the web UI), e.g. "/".
	UI http.Handler
	// Multipart configures multipart uploads through the artifact proxy.
	Multipart MultipartOptions
	// Traces, when non-nil, serves MLflow's tracing endpoints (traces/...,
	// get-trace-artifact) from it; nil leaves them unrouted (404), as for a
	// store that keeps no traces. It is given here rather than found on the
	// Store by a type assertion because a Store may be a wrapper (auth.Guard)
	// that hides the interfaces of the store it wraps: the caller says which
	// store keeps the traces.
	Traces tracking.TraceStore

	// DeploymentsTarget is the MLflow deployments server the prompt lab's
	// gateway-proxy forwards to (MLflow's MLFLOW_DEPLOYMENTS_TARGET), e.g.
	// http://127.0.0.1:5001; "" answers an empty gateway.
	DeploymentsTarget string
}

// New returns the HTTP handler of a tracking server over store. artifacts is the
// proxied artifact store (what --artifacts-destination names); nil means the
// server does not serve artifacts (--no-serve-artifacts) and the mlflow-artifacts
// endpoints answer 503.
func New(store tracking.Store, artifacts tracking.ArtifactRepository, opts Options) http.Handler {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	mux := http.NewServeMux()
	addRoutes(mux, store, artifacts, opts)
	var h http.Handler = mux
	if opts.UI != nil {
		h = withUI(mux, opts.UI)
	}
	return recoverPanics(opts.Logger, rejectTraversal(opts.Logger, h))
}

// withUI sends requests that no API route takes to ui, except under the API
// prefixes, where the mux's own 404 and 405 answers stand.
func withUI(mux *http.ServeMux, ui http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern != "" || isAPIPath(r.URL.Path) {
			mux.ServeHTTP(w, r)
			return
		}
		ui.ServeHTTP(w, r)
	})
}

func isAPIPath(p string) bool {
	return strings.HasPrefix(p, wire.APIPrefix+"/") || strings.HasPrefix(p, wire.AjaxAPIPrefix+"/")
}
