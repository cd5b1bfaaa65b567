package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/server"
	"github.com/mlops-lab/housing/tracking/wire"
)

// Paths of the user and permission endpoints, as MLflow's basic-auth app has them.
const (
	PathCreateUser                  = wire.APIPrefix + "/mlflow/users/create"                         // POST, admin
	PathGetUser                     = wire.APIPrefix + "/mlflow/users/get"                            // GET, admin or the user
	PathUpdateUserPassword          = wire.APIPrefix + "/mlflow/users/update-password"                // PATCH, admin or the user
	PathUpdateUserAdmin             = wire.APIPrefix + "/mlflow/users/update-admin"                   // PATCH, admin
	PathDeleteUser                  = wire.APIPrefix + "/mlflow/users/delete"                         // DELETE, admin
	PathExperimentPermission        = wire.APIPrefix + "/mlflow/experiments/permissions/create"       // POST, MANAGE
	PathGetExperimentPermission     = wire.APIPrefix + "/mlflow/experiments/permissions/get"          // GET, MANAGE
	PathUpdateExperimentPermission  = wire.APIPrefix + "/mlflow/experiments/permissions/update"       // PATCH, MANAGE
	PathDeleteExperimentPermission  = wire.APIPrefix + "/mlflow/experiments/permissions/delete"       // DELETE, MANAGE
	PathRegisteredModelPermission   = wire.APIPrefix + "/mlflow/registered-models/permissions/create" // POST, MANAGE
	PathGetRegisteredModelPermit    = wire.APIPrefix + "/mlflow/registered-models/permissions/get"    // GET, MANAGE
	PathUpdateRegisteredModelPermit = wire.APIPrefix + "/mlflow/registered-models/permissions/update" // PATCH, MANAGE
	PathDeleteRegisteredModelPermit = wire.APIPrefix + "/mlflow/registered-models/permissions/delete" // DELETE, MANAGE
)

// HandlerOptions configures Handler.
type HandlerOptions struct {
	// DefaultPermission is a user's permission on a resource without an explicit
	// grant; "" means READ, as MLflow's default_permission.
	DefaultPermission Permission
	// MaxBodyBytes bounds the request bodies read to find the resource; 0 means 16 MiB.
	MaxBodyBytes int64
	// Logger receives authentication failures at debug level; nil discards them.
	Logger *slog.Logger
	// LoggedModels finds the experiments of the logged models (MLflow 3) that
	// requests name; nil leaves the logged-model routes to administrators.
	LoggedModels tracking.LoggedModelStore
}

// kind says where a request names its resource.
type kind int

const (
	anyUser        kind = iota // authenticated is enough
	experiment                 // "experiment_id"
	run                        // "run_id" / "run_uuid": the run's experiment
	runs                       // every run of the repeated query parameter "run_id" or "run_ids"
	model                      // "name"
	expByName                  // "experiment_name"
	artifact                   // the proxied artifact path: its first segment is the experiment
	loggedModel                // the logged model named in the path ("model_id"): its experiment
	experimentsAll             // every experiment of the body's "experiment_ids"
	admin                      // administrators only
	self                       // administrators, or the user named by "username"
)

type rule struct {
	kind kind
	need Permission
}

// rules maps "METHOD path" (under /api/2.0/mlflow) to what a request needs, as
// MLflow's basic-auth app (BEFORE_REQUEST_VALIDATORS): READ reads, EDIT updates,
// MANAGE deletes, restores and grants. Creation needs only a user (the creator
// then gets MANAGE). Searches need only a user here: Guard filters their results
// and refuses run and data set searches over unreadable experiments.
var rules = func() map[string]rule {
	m := map[string]rule{}
	add := func(k kind, need Permission, routes ...string) {
		for _, r := range routes {
			m[r] = rule{k, need}
		}
	}
	add(anyUser, Read, "POST experiments/create", "POST experiments/search", "GET experiments/search", "POST registered-models/create",
		"GET registered-models/search", "GET model-versions/search", "POST runs/search", "POST experiments/search-datasets")
	add(experiment, Read, "GET experiments/get")
	add(expByName, Read, "GET experiments/get-by-name")
	add(experiment, Edit, "POST experiments/update", "POST experiments/set-experiment-tag", "POST experiments/delete-experiment-tag", "POST runs/create")
	add(experiment, Manage, "POST experiments/delete", "POST experiments/restore", "POST experiments/permissions/create",
		"GET experiments/permissions/get", "PATCH experiments/permissions/update", "DELETE experiments/permissions/delete")
	add(run, Read, "GET runs/get", "GET metrics/get-history", "GET artifacts/list")
	// The web UI's ajax-only endpoints (MLflow's basic-auth app leaves them to
	// any user; here they need what the same work needs through the REST API).
	add(runs, Read, "GET metrics/get-history-bulk", "GET metrics/get-history-bulk-interval")
	add(run, Edit, "POST upload-artifact")
	add(experiment, Edit, "POST runs/create-promptlab-run")
	add(anyUser, Read, "GET gateway-proxy", "POST gateway-proxy")
	add(run, Edit, "POST runs/update", "POST runs/log-metric", "POST runs/log-parameter", "POST runs/set-tag", "POST runs/delete-tag",
		"POST runs/log-batch", "POST runs/log-model", "POST runs/log-inputs")
	add(run, Manage, "POST runs/delete", "POST runs/restore")
	add(model, Read, "GET registered-models/get", "POST registered-models/get-latest-versions", "GET registered-models/get-latest-versions",
		"GET registered-models/alias", "GET model-versions/get", "GET model-versions/get-download-uri")
	add(model, Edit, "POST registered-models/rename", "PATCH registered-models/update", "POST registered-models/set-tag",
		"DELETE registered-models/delete-tag", "POST registered-models/alias", "POST model-versions/create", "PATCH model-versions/update",
		"POST model-versions/transition-stage", "POST model-versions/set-tag")
	add(model, Manage, "DELETE registered-models/delete", "DELETE model-versions/delete", "DELETE model-versions/delete-tag",
		"DELETE registered-models/alias", "POST registered-models/permissions/create", "GET registered-models/permissions/get",
		"PATCH registered-models/permissions/update", "DELETE registered-models/permissions/delete")
	add(admin, Manage, "POST users/create", "PATCH users/update-admin", "DELETE users/delete")
	add(self, Read, "GET users/get", "PATCH users/update-password")
	// The UI's download routes (see apiRoute): run_id or name in the query string.
	add(run, Read, "GET artifacts/get-file")
	add(model, Read, "GET model-versions/get-file")
	// Logged models (MLflow 3) have their experiment's permissions, as MLflow's
	// LOGGED_MODEL_BEFORE_REQUEST_HANDLERS; the routes naming one model in
	// the path are loggedModelRules.
	add(experiment, Edit, "POST logged-models")
	// MLflow lets any user search and drops the models of unreadable
	// experiments from the page; here, as for runs/search, a search naming an
	// unreadable experiment is refused.
	add(experimentsAll, Read, "POST logged-models/search")
	// MLflow's basic-auth app checks nothing for runs/outputs; here linking a
	// model to a run is logging to the run.
	add(run, Edit, "POST runs/outputs")
	return m
}()

// loggedModelRules maps "METHOD rest" (rest: what follows logged-models/<id>/,
// a tag key cut to "tags/") to what a request on that logged model needs:
// deleting the model or one of its tags needs MLflow's can_delete, MANAGE.
var loggedModelRules = map[string]Permission{
	"GET ":                      Read,
	"PATCH ":                    Edit,
	"DELETE ":                   Manage,
	"PATCH tags":                Edit,
	"DELETE tags/":              Manage,
	"POST params":               Edit,
	"GET artifacts/directories": Read,
	"GET artifacts/files":       Read, // the UI's download route, under the ajax prefix
}

// loggedModelRoute returns the rule and the model id of a route naming one
// logged model in its path.
func loggedModelRoute(route string) (rule, string, bool) {
	method, rest, _ := strings.Cut(route, " ")
	rest, ok := strings.CutPrefix(rest, "logged-models/")
	if !ok {
		return rule{}, "", false
	}
	id, sub, _ := strings.Cut(rest, "/")
	if strings.HasPrefix(sub, "tags/") {
		sub = "tags/"
	}
	need, ok := loggedModelRules[method+" "+sub]
	if !ok || id == "" {
		return rule{}, "", false
	}
	return rule{loggedModel, need}, id, true
}

// Handler authenticates every request to next except /health and /version with
// HTTP basic credentials (401 UNAUTHENTICATED with a WWW-Authenticate: Basic
// challenge otherwise), puts the user in the request's context (WithUser) and
// authorizes API requests by the user's permission on the experiment or
// registered model they touch (403 PERMISSION_DENIED). It serves the user and
// permission endpoints itself. lookup finds runs' experiments and experiments by
// name, opt.LoggedModels logged models' experiments. API routes it does not
// know are for administrators only.
//
// next must be built over Guard(store): Guard filters searches, grants creators
// MANAGE, and authorizes the web UI, whose pages and forms are passed through
// here for any user (its forms carry CSRF tokens). So is /graphql: its
// resolvers make the REST handlers' Store calls, which Guard authorizes alike.
func (s *Store) Handler(next http.Handler, lookup tracking.Store, opt HandlerOptions) http.Handler {
	opt.DefaultPermission = opt.defaultPermission()
	if opt.MaxBodyBytes <= 0 {
		opt.MaxBodyBytes = 16 << 20
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	h := &handler{s: s, next: next, lookup: lookup, opt: opt}
	h.eps = h.endpoints()
	return h
}

type handler struct {
	s      *Store
	next   http.Handler
	lookup tracking.Store
	opt    HandlerOptions
	eps    map[string]endpoint
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == wire.PathHealth || r.URL.Path == wire.PathVersion ||
		// Part URLs carry no credentials, as S3's presigned ones: each is signed by
		// the server for one part of an upload that mpu/create authorized (EDIT).
		(r.Method == http.MethodPut && r.URL.Path == server.PathMultipartPart) {
		h.next.ServeHTTP(w, r)
		return
	}
	name, password, ok := r.BasicAuth()
	if !ok {
		h.fail(w, r, tracking.Errorf(tracking.ErrUnauthenticated, "You are not authenticated. Please see the documentation for details on how to authenticate."))
		return
	}
	user, err := h.s.Authenticate(r.Context(), name, password)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	r = r.WithContext(WithUser(r.Context(), user))
	if err := h.serve(w, r, user); err != nil {
		h.fail(w, r, err)
	}
}

func (h *handler) serve(w http.ResponseWriter, r *http.Request, user *User) error {
	route, isAPI := apiRoute(r)
	if !isAPI {
		h.next.ServeHTTP(w, r) // the web UI, over the guarded store
		return nil
	}
	f, err := h.fields(r)
	if err != nil {
		return err
	}
	rl, known := rules[route]
	if !known {
		var id string
		if rl, id, known = loggedModelRoute(route); known {
			f["model_id"], _ = json.Marshal(id)
		}
	}
	if strings.HasPrefix(route, "GET mlflow-artifacts/artifacts") {
		rl, known = rule{artifact, Read}, true
	}
	if _, ok := artifactPath(r.URL.Path); ok {
		switch r.Method {
		case http.MethodPut, http.MethodPost: // uploads, multipart create/complete/abort
			rl, known = rule{artifact, Edit}, true
		case http.MethodDelete:
			rl, known = rule{artifact, Manage}, true
		}
	}
	switch {
	case user.IsAdmin:
	case !known:
		return denied()
	case rl.kind == artifact && r.Method == http.MethodGet && artifactExperiment(r) == "":
		return h.rootListing(w, r, user)
	default:
		if err := h.authorize(r.Context(), r, user, rl, f); err != nil {
			return err
		}
	}
	if ep, ok := h.eps[route]; ok {
		return ep(w, r, f)
	}
	h.next.ServeHTTP(w, r)
	return nil
}

// authorize checks that user holds rl.need on the resource the request names.
func (h *handler) authorize(ctx context.Context, r *http.Request, user *User, rl rule, f reqFields) error {
	var res resource
	var key string
	switch rl.kind {
	case anyUser:
		return nil
	case admin:
		return denied()
	case self:
		if f.str("username") != user.Username {
			return denied()
		}
		return nil
	case experiment:
		res, key = experiments, f.str("experiment_id")
	case model:
		res, key = models, f.str("name")
	case expByName:
		e, err := h.lookup.GetExperimentByName(ctx, f.str("experiment_name"))
		if err != nil {
			return err
		}
		res, key = experiments, e.ID
	case runs:
		return h.authorizeRuns(ctx, r, user, rl.need)
	case experimentsAll:
		return h.authorizeExperiments(ctx, user, rl.need, f)
	case loggedModel:
		if h.opt.LoggedModels == nil {
			return denied()
		}
		m, err := h.opt.LoggedModels.GetLoggedModel(ctx, f.str("model_id"), false)
		if err != nil {
			return err
		}
		res, key = experiments, m.ExperimentID
	case run:
		id := f.str("run_id")
		if id == "" {
			id = f.str("run_uuid")
		}
		if id == "" {
			return nil // the endpoint reports the missing parameter
		}
		rn, err := h.lookup.GetRun(ctx, id)
		if err != nil {
			return err
		}
		res, key = experiments, rn.Info.ExperimentID
	case artifact:
		first := artifactExperiment(r)
		if first == "" {
			return denied() // writing at the root (reading it is rootListing)
		}
		res, key = experiments, first
	}
	if key == "" {
		return nil // the endpoint reports the missing parameter
	}
	p, err := h.s.permission(ctx, res, key, user.ID, h.opt.DefaultPermission)
	if err != nil {
		return err
	}
	if !p.Allows(rl.need) {
		return denied()
	}
	return nil
}

// maxBulkRuns is how many runs the bulk metric endpoints take (MLflow's
// MAX_RUNS_GET_METRIC_HISTORY_BULK): more are refused before any is read, so
// the guard need not look them up.
const maxBulkRuns = 100

// authorizeRuns checks that user holds need on the experiment of every run a
// bulk request names. Unknown runs pass: the endpoints answer them with no
// values, as MLflow does.
func (h *handler) authorizeRuns(ctx context.Context, r *http.Request, user *User, need Permission) error {
	q := r.URL.Query()
	ids := append(q["run_id"], q["run_ids"]...)
	if len(ids) > maxBulkRuns {
		return nil // refused by the endpoint, before it reads anything
	}
	checked := map[string]bool{}
	for _, id := range ids {
		rn, err := h.lookup.GetRun(ctx, id)
		if tracking.IsNotFound(err) {
			continue
		}
		if err != nil {
			return err
		}
		exp := rn.Info.ExperimentID
		if checked[exp] {
			continue
		}
		p, err := h.s.permission(ctx, experiments, exp, user.ID, h.opt.DefaultPermission)
		if err != nil {
			return err
		}
		if !p.Allows(need) {
			return denied()
		}
		checked[exp] = true
	}
	return nil
}

// authorizeExperiments checks that user holds need on every experiment of
// the body's "experiment_ids".
func (h *handler) authorizeExperiments(ctx context.Context, user *User, need Permission, f reqFields) error {
	var ids []string
	if raw, ok := f["experiment_ids"]; ok {
		if json.Unmarshal(raw, &ids) != nil {
			return nil // the endpoint reports the malformed parameter
		}
	}
	for _, id := range ids {
		p, err := h.s.permission(ctx, experiments, id, user.ID, h.opt.DefaultPermission)
		if err != nil {
			return err
		}
		if !p.Allows(need) {
			return denied()
		}
	}
	return nil
}

func denied() error {
	return tracking.Errorf(tracking.ErrPermissionDenied, "Permission denied")
}

// fail writes an auth error the way the tracking server writes errors, with a
// Basic challenge on 401.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	resp := wire.ErrorFromDomain(err)
	status := tracking.HTTPStatus(tracking.ErrorCode(resp.ErrorCode))
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="mlflow"`)
	}
	if resp.ErrorCode == string(tracking.ErrInternal) {
		resp.Message = "Internal server error"
	}
	h.opt.Logger.DebugContext(r.Context(), "auth refused request", "method", r.Method, "path", r.URL.Path, "status", status, "err", err)
	b := wire.MarshalError(resp)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func writeJSON(w http.ResponseWriter, v any) error {
	b, err := wire.Marshal(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
	return nil
}

// artifactExperiment returns the first segment of a proxied artifact
// request's path (or of the listing's ?path=): the experiment id the artifact
// belongs to, "" at the root.
func artifactExperiment(r *http.Request) string {
	p, ok := artifactPath(r.URL.Path)
	if !ok {
		p = r.URL.Query().Get("path") // the listing: GET .../artifacts?path=
	}
	first, _, _ := strings.Cut(strings.TrimPrefix(p, "/"), "/")
	return first
}

// rootListing serves the listing of the artifact root, one directory per
// experiment id, with only the experiments the user may read.
func (h *handler) rootListing(w http.ResponseWriter, r *http.Request, user *User) error {
	can, err := h.s.readable(r.Context(), experiments, user, h.opt.DefaultPermission)
	if err != nil {
		return err
	}
	if can == nil {
		h.next.ServeHTTP(w, r)
		return nil
	}
	rec := &bufferedResponse{header: http.Header{}, status: http.StatusOK}
	h.next.ServeHTTP(rec, r)
	if rec.status != http.StatusOK {
		maps.Copy(w.Header(), rec.header)
		w.WriteHeader(rec.status)
		_, _ = w.Write(rec.body.Bytes())
		return nil
	}
	var list wire.ListArtifactsResponse
	if err := json.Unmarshal(rec.body.Bytes(), &list); err != nil {
		return fmt.Errorf("auth: filter the artifact root listing: %w", err)
	}
	list.Files = slices.DeleteFunc(list.Files, func(f wire.FileInfo) bool { return !can(strings.Trim(f.Path, "/")) })
	return writeJSON(w, list)
}

// bufferedResponse keeps a handler's answer for rootListing to filter: a
// listing of experiment ids, small.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header         { return b.header }
func (b *bufferedResponse) WriteHeader(status int)      { b.status = status }
func (b *bufferedResponse) Write(p []byte) (int, error) { return b.body.Write(p) }

// artifactPath returns the artifact path of a proxied artifact request or a
// multipart create/complete/abort: what follows artifacts/ or mpu/<op>/.
func artifactPath(urlPath string) (string, bool) {
	for _, prefix := range []string{wire.APIPrefix, wire.AjaxAPIPrefix} {
		rest, ok := strings.CutPrefix(urlPath, prefix+"/mlflow-artifacts/")
		if !ok {
			continue
		}
		for _, op := range []string{"artifacts/", "mpu/create/", "mpu/complete/", "mpu/abort/"} {
			if p, ok := strings.CutPrefix(rest, op); ok {
				return p, true
			}
		}
	}
	return "", false
}

// apiRoute returns "METHOD rest" for API paths, rest being the path after
// /api/2.0/mlflow/ (or /api/2.0/ for the artifact proxy, "mlflow-artifacts/...").
func apiRoute(r *http.Request) (string, bool) {
	p := r.URL.Path
	switch p {
	case wire.PathGetArtifact:
		return r.Method + " artifacts/get-file", true
	case wire.PathGetModelVersionArtifact:
		return r.Method + " model-versions/get-file", true
	}
	for _, prefix := range []string{wire.APIPrefix, wire.AjaxAPIPrefix} {
		if rest, ok := strings.CutPrefix(p, prefix+"/mlflow/"); ok {
			return r.Method + " " + rest, true
		}
		if rest, ok := strings.CutPrefix(p, prefix+"/mlflow-artifacts/"); ok {
			return r.Method + " mlflow-artifacts/" + rest, true
		}
		if strings.HasPrefix(p, prefix+"/") {
			return r.Method + " " + strings.TrimPrefix(p, prefix+"/"), true
		}
	}
	return "", false
}

// reqFields are a request's parameters: the query string's for GET, the JSON
// body's otherwise.
type reqFields map[string]json.RawMessage

func (f reqFields) str(name string) string {
	var s string
	if raw, ok := f[name]; ok {
		if json.Unmarshal(raw, &s) != nil {
			return strings.Trim(string(raw), `"`)
		}
	}
	return s
}

// fields reads the request's parameters, leaving the body readable for next.
func (h *handler) fields(r *http.Request) (reqFields, error) {
	f := reqFields{}
	for k, v := range r.URL.Query() {
		b, _ := json.Marshal(v[0])
		f[k] = b
	}
	// Artifact bodies are files, streamed to the repository: never read here.
	if r.Method == http.MethodGet || r.Body == nil || strings.HasPrefix(r.URL.Path, wire.PathArtifacts) ||
		strings.HasPrefix(r.URL.Path, wire.AjaxAPIPrefix+"/mlflow-artifacts/") || r.URL.Path == wire.PathUploadArtifact {
		return f, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, h.opt.MaxBodyBytes+1))
	if err != nil {
		return nil, fmt.Errorf("auth: read body: %w", err)
	}
	// The endpoint gets the whole body, also past the bound (its own limit
	// answers 413 then): a cut body would reach it as malformed JSON.
	r.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(body), r.Body), r.Body}
	var obj map[string]json.RawMessage
	if int64(len(body)) <= h.opt.MaxBodyBytes && json.Unmarshal(body, &obj) == nil {
		for k, v := range obj {
			f[k] = v
		}
	}
	return f, nil
}
