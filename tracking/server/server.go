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
	"regexp"
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
	// LoggedModels, when non-nil, serves MLflow 3's logged-model endpoints
	// (logged-models/..., runs/outputs) and model ids in log-inputs and
	// create-model-version; nil leaves the endpoints unrouted (404).
	LoggedModels tracking.LoggedModelStore

	// DeploymentsTarget is the MLflow deployments server the prompt lab's
	// gateway-proxy forwards to (MLflow's MLFLOW_DEPLOYMENTS_TARGET), e.g.
	// http://127.0.0.1:5001; "" answers an empty gateway.
	DeploymentsTarget string

	// StoreType is what MLflow 3's server-info reports as the store:
	// "SqlStore" for a database; "" reports null, as MLflow does for a store
	// that is another server.
	StoreType string

	// ModelVersionSources, when non-nil, is what the source of every new model
	// version must match, as MLflow 3's
	// MLFLOW_CREATE_MODEL_VERSION_SOURCE_VALIDATION_REGEX sets it.
	ModelVersionSources *regexp.Regexp
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
	h := jsonMuxErrors(mux)
	if opts.UI != nil {
		h = withUI(mux, h, opts.UI)
	}
	return recoverPanics(opts.Logger, refuseWorkspaces(rejectTraversal(opts.Logger, h)))
}

// withUI sends requests that no API route takes to ui, except under the API
// prefixes, where api answers (404 and 405 included).
func withUI(mux *http.ServeMux, api, ui http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern != "" || isAPIPath(r.URL.Path) {
			api.ServeHTTP(w, r)
			return
		}
		ui.ServeHTTP(w, r)
	})
}

// isAPIPath reports whether p is under an API prefix of any version
// (/api/2.0/..., /ajax-api/3.0/...): paths that are never the UI's.
func isAPIPath(p string) bool {
	return strings.HasPrefix(p, "/api/") || strings.HasPrefix(p, "/ajax-api/")
}

// Flask's words for its 404 and 405, which MLflow's server sends (as HTML).
const (
	msgEndpointNotFound = "The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again."
	msgMethodNotAllowed = "The method is not allowed for the requested URL."
)

// jsonMuxErrors answers the requests under the API prefixes that no route
// takes in JSON: 404 {"error_code": "ENDPOINT_NOT_FOUND"} for an unknown path,
// 405 {"error_code": "BAD_REQUEST"} with the Allow header for a known path and
// another method. MLflow's server sends Flask's HTML pages there (its clients
// then assume ENDPOINT_NOT_FOUND for a 404, and INTERNAL_ERROR for a 405); the
// JSON carries the same words and a code a client can read. Elsewhere the mux's
// own plain-text answers stand.
func jsonMuxErrors(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern != "" || !isAPIPath(r.URL.Path) {
			mux.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(&muxErrorWriter{ResponseWriter: w}, r)
	})
}

// muxErrorWriter turns the mux's plain-text 404 and 405 into MLflow's error
// JSON; it sees only requests no route takes, so nothing else is written to it.
type muxErrorWriter struct {
	http.ResponseWriter
	replaced bool
}

func (m *muxErrorWriter) WriteHeader(status int) {
	var resp wire.ErrorResponse
	switch status {
	case http.StatusNotFound:
		resp = wire.ErrorResponse{ErrorCode: string(tracking.ErrEndpointNotFound), Message: msgEndpointNotFound}
	case http.StatusMethodNotAllowed:
		resp = wire.ErrorResponse{ErrorCode: string(tracking.ErrBadRequest), Message: msgMethodNotAllowed}
	default:
		m.ResponseWriter.WriteHeader(status)
		return
	}
	m.replaced = true
	writeErrorBody(m.ResponseWriter, status, resp)
}

func (m *muxErrorWriter) Write(b []byte) (int, error) {
	if m.replaced {
		return len(b), nil // the mux's text, already answered in JSON
	}
	return m.ResponseWriter.Write(b)
}
