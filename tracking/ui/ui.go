package ui

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/mlops-lab/housing/tracking"
)

// ArtifactOpener opens the artifact repository of a run's or a logged model's
// artifact URI (a local path, s3://..., mlflow-artifacts:/...). The tracking
// server passes the same function it uses for the REST API's artifact endpoints.
type ArtifactOpener func(ctx context.Context, uri string) (tracking.ArtifactRepository, error)

// Options configures the UI. The zero value works.
type Options struct {
	// Logger receives internal errors, with their cause; nil discards them.
	Logger *slog.Logger
	// Now is the clock, for relative times and CSRF token ages; nil means time.Now.
	Now func() time.Time
	// CSRFKey signs the tokens of the UI's forms; nil means 32 random bytes drawn
	// once, so tokens do not outlive the process.
	CSRFKey []byte
	// ModelAccess tells whether the request's user may change a registered
	// model (edit: stages and aliases) and manage it (manage: delete aliases),
	// so that its pages show only the forms the user can use; the store
	// refuses the others anyway. nil: every user may do both (no authentication).
	ModelAccess func(ctx context.Context, name string) (edit, manage bool)
	// LoggedModels keeps MLflow 3's logged models, shown on experiments' and
	// runs' pages; nil: the pages say the server keeps none. Experiments and
	// runs are still read through the UI's store, which with auth decides who
	// sees a model.
	LoggedModels tracking.LoggedModelStore
	// NestedRuns counts the nested runs of the runs table's parents without
	// reading them; nil: the store's own, when it has it (sqlstore.Store),
	// else the table reads the nested runs to count them. The counts are of
	// runs in an experiment the page has read through the UI's store.
	NestedRuns tracking.NestedRunCounter
}

// Paging and size limits of the UI's pages.
const (
	defaultPageSize  = 50
	maxPageSize      = 500
	maxDefaultCols   = 12        // param and metric columns shown when none are chosen
	maxHistoryPoints = 10000     // metric history points read per chart
	maxInlineBytes   = 256 << 10 // text artifacts shown inline up to this size
	maxTreeEntries   = 2000      // artifact tree entries listed per run
	runCountCap      = 200       // runs counted per experiment on the experiments page (each is read)
)

// UI is the web UI's handler. Build it with New.
type UI struct {
	store        tracking.Store
	loggedModels tracking.LoggedModelStore
	nestedRuns   tracking.NestedRunCounter
	artifacts    ArtifactOpener
	log          *slog.Logger
	now          func() time.Time
	csrf         csrfSigner
	access       func(ctx context.Context, name string) (edit, manage bool)
	pages        *pageSet
	mux          *http.ServeMux
}

// New returns the web UI over store, to be served at "/". artifacts opens the
// artifact repositories of runs and logged models; nil means artifacts are not
// shown.
func New(store tracking.Store, artifacts ArtifactOpener, opts Options) http.Handler {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.ModelAccess == nil {
		opts.ModelAccess = func(context.Context, string) (bool, bool) { return true, true }
	}
	if opts.NestedRuns == nil {
		opts.NestedRuns, _ = store.(tracking.NestedRunCounter)
	}
	key := opts.CSRFKey
	if len(key) == 0 {
		key = make([]byte, 32)
		rand.Read(key) // never fails (crypto/rand panics instead)
	}
	u := &UI{
		store:        store,
		loggedModels: opts.LoggedModels,
		nestedRuns:   opts.NestedRuns,
		artifacts:    artifacts,
		log:          opts.Logger,
		now:          opts.Now,
		csrf:         csrfSigner{key: key, now: opts.Now},
		access:       opts.ModelAccess,
		pages:        mustParsePages(),
		mux:          http.NewServeMux(),
	}
	u.routes()
	return securityHeaders(u.mux)
}

// routes lists every path the UI serves.
func (u *UI) routes() {
	u.mux.HandleFunc("GET /{$}", u.handleExperiments)
	u.mux.HandleFunc("GET /experiments", u.handleExperiments)
	u.mux.HandleFunc("GET /experiments/{id}", u.handleRuns)
	u.mux.HandleFunc("GET /experiments/{id}/models", u.handleLoggedModels)
	u.mux.HandleFunc("GET /logged-models/{id}", u.handleLoggedModel)
	u.mux.HandleFunc("GET /runs/{id}", u.handleRun)
	u.mux.HandleFunc("GET /compare", u.handleCompare)
	u.mux.HandleFunc("GET /experiments/{id}/charts", u.handleSearchCharts)
	u.mux.HandleFunc("GET /models", u.handleModels)
	u.mux.HandleFunc("GET /models/{name}", u.handleModel)
	u.mux.HandleFunc("GET /models/{name}/versions/{version}", u.handleVersion)
	u.mux.HandleFunc("POST /models/{name}/versions/{version}/stage", u.handleTransition)
	u.mux.HandleFunc("POST /models/{name}/aliases", u.handleAlias)
	u.mux.HandleFunc("GET /ui/artifact", u.handleArtifact)
	u.mux.Handle("GET /ui/static/", staticHandler())
	u.mux.HandleFunc("/", u.handleNotFound)
}

func (u *UI) handleNotFound(w http.ResponseWriter, r *http.Request) {
	u.renderError(w, r, tracking.Errorf(tracking.ErrEndpointNotFound, "No page at %s", r.URL.Path))
}

// securityHeaders sets the headers every UI response carries.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		next.ServeHTTP(w, r)
	})
}

// renderError shows err as a page with the status its code maps to; internal
// errors are logged with their cause and shown without it.
func (u *UI) renderError(w http.ResponseWriter, r *http.Request, err error) {
	code := tracking.ErrorCodeOf(err)
	status := tracking.HTTPStatus(code)
	msg := tracking.ErrorMessage(err)
	if code == tracking.ErrInternal {
		u.log.ErrorContext(r.Context(), "ui: internal error", "method", r.Method, "path", r.URL.Path, "err", err)
		msg = "Something went wrong on the server; the error was logged."
	}
	u.render(w, r, status, "error", errorPage{
		page: page{Title: http.StatusText(status)},
		Code: string(code), Message: msg, Status: status,
	})
}

type errorPage struct {
	page
	Code    string
	Message string
	Status  int
}

// internal wraps err, which has no tracking code, as an internal error that says what failed.
func internal(err error, format string, args ...any) error {
	return tracking.Errorf(tracking.ErrInternal, "%s: %w", fmt.Sprintf(format, args...), err)
}
