package auth

import (
	"context"

	"github.com/mlops-lab/housing/tracking"
)

// Page sizes the store uses when a search gives no max_results: MLflow's
// defaults, which the guard needs to know to fill pages after filtering.
const (
	defaultExperimentResults = tracking.DefaultSearchResults
	defaultModelResults      = 100
	defaultVersionResults    = 10000
	// maxScanPages bounds the store pages one filtered search reads; past it the
	// answer is a short page with a next token, which clients follow anyway.
	maxScanPages = 10
)

// Guard returns inner behind the permissions of the user in each call's context
// (see WithUser; Handler puts it there): reads need READ on the experiment or
// registered model, writes EDIT, deletions and restores MANAGE, as MLflow's
// basic-auth app asks; administrators pass. Searches return only what the user
// may read, re-querying inner to fill pages as MLflow does; a run search naming
// an experiment the user may not read is refused (PERMISSION_DENIED). Creating an
// experiment or registered model grants its creator MANAGE; renaming or deleting
// a registered model moves or drops its grants. A call without a user in its
// context is refused (UNAUTHENTICATED), except Ping and Close.
//
// The tracking server and web UI are built over the guarded store so that every
// answer they give, pages and lists included, is filtered the same way.
//
// When inner can stamp, extend and stream metric histories (sqlstore), so can
// the guarded store, each after the same READ check as GetMetricHistory: the
// tracking server keeps, extends and streams get-history answers behind auth
// too.
func (s *Store) Guard(inner tracking.Store, opt HandlerOptions) tracking.Store {
	g := &guarded{inner: inner, s: s, def: opt.defaultPermission()}
	if h, ok := inner.(historyStore); ok {
		return &guardedHistory{guarded: g, history: h}
	}
	return g
}

// historyStore is what a store offers besides tracking.Store to keep, extend
// and stream get-history answers (tracking/server's historyStamper,
// historySincer and historyStreamer; sqlstore.Store has them all).
type historyStore interface {
	MetricHistoryStamp(ctx context.Context, runID string) (stamp int64, ok bool, err error)
	MetricHistorySince(ctx context.Context, runID, key string, stamp int64, fn func(tracking.Metric) error) (int64, bool, error)
	EachMetricHistory(ctx context.Context, runID, key string, maxResults int, pageToken string, fn func(tracking.Metric) error) (string, error)
}

// guardedHistory is a guarded store over a historyStore.
type guardedHistory struct {
	*guarded
	history historyStore
}

// MetricHistoryStamp checks READ on the run first: the tracking server gives
// a kept answer on the stamp alone, without calling the store again.
func (g *guardedHistory) MetricHistoryStamp(ctx context.Context, runID string) (int64, bool, error) {
	if err := g.needRun(ctx, runID, Read); err != nil {
		return 0, false, err
	}
	return g.history.MetricHistoryStamp(ctx, runID)
}

func (g *guardedHistory) MetricHistorySince(ctx context.Context, runID, key string, stamp int64, fn func(tracking.Metric) error) (int64, bool, error) {
	if err := g.needRun(ctx, runID, Read); err != nil {
		return 0, false, err
	}
	return g.history.MetricHistorySince(ctx, runID, key, stamp, fn)
}

func (g *guardedHistory) EachMetricHistory(ctx context.Context, runID, key string, maxResults int, pageToken string, fn func(tracking.Metric) error) (string, error) {
	if err := g.needRun(ctx, runID, Read); err != nil {
		return "", err
	}
	return g.history.EachMetricHistory(ctx, runID, key, maxResults, pageToken, fn)
}

// ModelAccess answers, for the context's user, what Guard would let them do to
// a registered model: change it (EDIT: stages, aliases) and manage it (MANAGE:
// delete aliases). The web UI shows only the forms these allow
// (ui.Options.ModelAccess); an error (no user, the database) answers no.
func (s *Store) ModelAccess(opt HandlerOptions) func(ctx context.Context, name string) (edit, manage bool) {
	g := &guarded{s: s, def: opt.defaultPermission()}
	return func(ctx context.Context, name string) (bool, bool) {
		return g.need(ctx, models, name, Edit) == nil, g.need(ctx, models, name, Manage) == nil
	}
}

// defaultPermission is the permission of users without a grant: READ unless set.
func (o HandlerOptions) defaultPermission() Permission {
	if o.DefaultPermission == "" {
		return Read
	}
	return o.DefaultPermission
}

type guarded struct {
	inner tracking.Store
	s     *Store
	def   Permission
}

func (g *guarded) user(ctx context.Context) (*User, error) {
	u, ok := UserFrom(ctx)
	if !ok {
		return nil, tracking.Errorf(tracking.ErrUnauthenticated, "You are not authenticated. Please see the documentation for details on how to authenticate.")
	}
	return u, nil
}

// need checks that the context's user holds p on key.
func (g *guarded) need(ctx context.Context, r resource, key string, p Permission) error {
	u, err := g.user(ctx)
	if err != nil || u.IsAdmin {
		return err
	}
	have, err := g.s.permission(ctx, r, key, u.ID, g.def)
	if err != nil {
		return err
	}
	if !have.Allows(p) {
		return denied()
	}
	return nil
}

// runInfoGetter is offered by a store that reads a run's attributes without
// its data (sqlstore): a permission check needs only the run's experiment,
// and every guarded log-batch and get-history makes one.
type runInfoGetter interface {
	GetRunInfo(ctx context.Context, runID string) (tracking.RunInfo, error)
}

// needRun checks p on the run's experiment.
func (g *guarded) needRun(ctx context.Context, runID string, p Permission) error {
	if _, err := g.user(ctx); err != nil {
		return err
	}
	var expID string
	if s, ok := g.inner.(runInfoGetter); ok {
		info, err := s.GetRunInfo(ctx, runID)
		if err != nil {
			return err
		}
		expID = info.ExperimentID
	} else {
		run, err := g.inner.GetRun(ctx, runID)
		if err != nil {
			return err
		}
		expID = run.Info.ExperimentID
	}
	return g.need(ctx, experiments, expID, p)
}

// readable returns whether the context's user may read a key of r, or nil when
// they may read every one (administrators; READ by default and no grant below it).
func (g *guarded) readable(ctx context.Context, r resource) (func(string) bool, error) {
	u, err := g.user(ctx)
	if err != nil {
		return nil, err
	}
	return g.s.readable(ctx, r, u, g.def)
}

// readable returns whether u may read a key of r, given the permission def of
// keys without a grant, or nil when u may read every one.
func (s *Store) readable(ctx context.Context, r resource, u *User, def Permission) (func(string) bool, error) {
	if u.IsAdmin {
		return nil, nil
	}
	grants, err := s.grants(ctx, r, u.ID)
	if err != nil {
		return nil, err
	}
	byDefault := def.Allows(Read)
	all := byDefault
	can := make(map[string]bool, len(grants))
	for _, gr := range grants {
		ok := gr.permission.Allows(Read)
		can[gr.key] = ok
		all = all && ok
	}
	if all {
		return nil, nil
	}
	return func(key string) bool {
		if ok, found := can[key]; found {
			return ok
		}
		return byDefault
	}, nil
}

// filterPage pages through fetch keeping what keep accepts until max items are
// kept, so that a page is full unless the results end (or maxScanPages store
// pages were read). The next token is always one the store gave for the position
// after the last item returned: when the page fills up in the middle of a store
// page, that page is asked for again cut after the last kept item. Tokens thus
// stay the store's own and work with any token format.
func filterPage[T any](max int, token string, keep func(T) bool, fetch func(size int, token string) (tracking.Page[T], error)) (tracking.Page[T], error) {
	out := tracking.Page[T]{Items: []T{}}
	for scans := 1; ; scans++ {
		page, err := fetch(max, token)
		if err != nil {
			return tracking.Page[T]{}, err
		}
		for i, it := range page.Items {
			if !keep(it) {
				continue
			}
			out.Items = append(out.Items, it)
			if len(out.Items) < max {
				continue
			}
			if i == len(page.Items)-1 {
				out.NextPageToken = page.NextPageToken
				return out, nil
			}
			cut, err := fetch(i+1, token)
			if err != nil {
				return tracking.Page[T]{}, err
			}
			out.NextPageToken = cut.NextPageToken
			return out, nil
		}
		token = page.NextPageToken
		if token == "" || scans >= maxScanPages {
			out.NextPageToken = token
			return out, nil
		}
	}
}

func orDefault(n, def int) int {
	if n == 0 {
		return def
	}
	return n
}

// Experiments.

func (g *guarded) CreateExperiment(ctx context.Context, name, artifactLocation string, tags []tracking.Tag) (string, error) {
	u, err := g.user(ctx)
	if err != nil {
		return "", err
	}
	id, err := g.inner.CreateExperiment(ctx, name, artifactLocation, tags)
	if err != nil {
		return "", err
	}
	return id, g.s.setPermission(ctx, experiments, id, u.ID, Manage)
}

func (g *guarded) GetExperiment(ctx context.Context, id string) (*tracking.Experiment, error) {
	if err := g.need(ctx, experiments, id, Read); err != nil {
		return nil, err
	}
	return g.inner.GetExperiment(ctx, id)
}

func (g *guarded) GetExperimentByName(ctx context.Context, name string) (*tracking.Experiment, error) {
	if _, err := g.user(ctx); err != nil {
		return nil, err
	}
	e, err := g.inner.GetExperimentByName(ctx, name)
	if err != nil {
		return nil, err
	}
	if err := g.need(ctx, experiments, e.ID, Read); err != nil {
		return nil, err
	}
	return e, nil
}

func (g *guarded) SearchExperiments(ctx context.Context, q tracking.ExperimentQuery) (tracking.Page[tracking.Experiment], error) {
	can, err := g.readable(ctx, experiments)
	if err != nil {
		return tracking.Page[tracking.Experiment]{}, err
	}
	if can == nil {
		return g.inner.SearchExperiments(ctx, q)
	}
	return filterPage(orDefault(q.MaxResults, defaultExperimentResults), q.PageToken,
		func(e tracking.Experiment) bool { return can(e.ID) },
		func(size int, token string) (tracking.Page[tracking.Experiment], error) {
			q.MaxResults, q.PageToken = size, token
			return g.inner.SearchExperiments(ctx, q)
		})
}

func (g *guarded) RenameExperiment(ctx context.Context, id, newName string) error {
	if err := g.need(ctx, experiments, id, Edit); err != nil {
		return err
	}
	return g.inner.RenameExperiment(ctx, id, newName)
}

func (g *guarded) DeleteExperiment(ctx context.Context, id string) error {
	if err := g.need(ctx, experiments, id, Manage); err != nil {
		return err
	}
	return g.inner.DeleteExperiment(ctx, id)
}

func (g *guarded) RestoreExperiment(ctx context.Context, id string) error {
	if err := g.need(ctx, experiments, id, Manage); err != nil {
		return err
	}
	return g.inner.RestoreExperiment(ctx, id)
}

func (g *guarded) SetExperimentTag(ctx context.Context, id, key, value string) error {
	if err := g.need(ctx, experiments, id, Edit); err != nil {
		return err
	}
	return g.inner.SetExperimentTag(ctx, id, key, value)
}

func (g *guarded) DeleteExperimentTag(ctx context.Context, id, key string) error {
	if err := g.need(ctx, experiments, id, Edit); err != nil {
		return err
	}
	return g.inner.DeleteExperimentTag(ctx, id, key)
}

// Runs: permissions of their experiment.

func (g *guarded) CreateRun(ctx context.Context, in tracking.CreateRun) (*tracking.Run, error) {
	if err := g.need(ctx, experiments, in.ExperimentID, Edit); err != nil {
		return nil, err
	}
	return g.inner.CreateRun(ctx, in)
}

func (g *guarded) GetRun(ctx context.Context, runID string) (*tracking.Run, error) {
	if _, err := g.user(ctx); err != nil {
		return nil, err
	}
	run, err := g.inner.GetRun(ctx, runID)
	if err != nil {
		return nil, err
	}
	if err := g.need(ctx, experiments, run.Info.ExperimentID, Read); err != nil {
		return nil, err
	}
	return run, nil
}

func (g *guarded) UpdateRun(ctx context.Context, runID string, in tracking.UpdateRun) (*tracking.RunInfo, error) {
	if err := g.needRun(ctx, runID, Edit); err != nil {
		return nil, err
	}
	return g.inner.UpdateRun(ctx, runID, in)
}

func (g *guarded) DeleteRun(ctx context.Context, runID string) error {
	if err := g.needRun(ctx, runID, Manage); err != nil {
		return err
	}
	return g.inner.DeleteRun(ctx, runID)
}

func (g *guarded) RestoreRun(ctx context.Context, runID string) error {
	if err := g.needRun(ctx, runID, Manage); err != nil {
		return err
	}
	return g.inner.RestoreRun(ctx, runID)
}

// SearchRuns needs READ on every experiment searched, as MLflow's
// validate_can_read_experiments_from_experiment_ids: a search is refused rather
// than answered for part of what was asked.
func (g *guarded) SearchRuns(ctx context.Context, q tracking.RunQuery) (tracking.Page[tracking.Run], error) {
	if err := g.readsAll(ctx, q.ExperimentIDs); err != nil {
		return tracking.Page[tracking.Run]{}, err
	}
	return g.inner.SearchRuns(ctx, q)
}

// SearchDatasets needs READ on every experiment named, as SearchRuns.
func (g *guarded) SearchDatasets(ctx context.Context, experimentIDs []string) ([]tracking.DatasetSummary, error) {
	if err := g.readsAll(ctx, experimentIDs); err != nil {
		return nil, err
	}
	return g.inner.SearchDatasets(ctx, experimentIDs)
}

// readsAll checks that the context's user may read every one of the
// experiments (and that there is a user, also for none).
func (g *guarded) readsAll(ctx context.Context, experimentIDs []string) error {
	if _, err := g.user(ctx); err != nil {
		return err
	}
	for _, id := range experimentIDs {
		if err := g.need(ctx, experiments, id, Read); err != nil {
			return err
		}
	}
	return nil
}

func (g *guarded) LogBatch(ctx context.Context, runID string, metrics []tracking.Metric, params []tracking.Param, tags []tracking.Tag) error {
	if err := g.needRun(ctx, runID, Edit); err != nil {
		return err
	}
	return g.inner.LogBatch(ctx, runID, metrics, params, tags)
}

func (g *guarded) DeleteTag(ctx context.Context, runID, key string) error {
	if err := g.needRun(ctx, runID, Edit); err != nil {
		return err
	}
	return g.inner.DeleteTag(ctx, runID, key)
}

func (g *guarded) GetMetricHistory(ctx context.Context, runID, key string, maxResults int, pageToken string) (tracking.Page[tracking.Metric], error) {
	if err := g.needRun(ctx, runID, Read); err != nil {
		return tracking.Page[tracking.Metric]{}, err
	}
	return g.inner.GetMetricHistory(ctx, runID, key, maxResults, pageToken)
}

func (g *guarded) LogInputs(ctx context.Context, runID string, inputs []tracking.DatasetInput) error {
	if err := g.needRun(ctx, runID, Edit); err != nil {
		return err
	}
	return g.inner.LogInputs(ctx, runID, inputs)
}

// Registered models and their versions: permissions of the model's name.

func (g *guarded) CreateRegisteredModel(ctx context.Context, name, description string, tags []tracking.Tag) (*tracking.RegisteredModel, error) {
	u, err := g.user(ctx)
	if err != nil {
		return nil, err
	}
	m, err := g.inner.CreateRegisteredModel(ctx, name, description, tags)
	if err != nil {
		return nil, err
	}
	// Grants left on the name (a model deleted while auth was off) must not carry over.
	if err := g.s.dropModelPermissions(ctx, m.Name); err != nil {
		return nil, err
	}
	return m, g.s.setPermission(ctx, models, m.Name, u.ID, Manage)
}

func (g *guarded) GetRegisteredModel(ctx context.Context, name string) (*tracking.RegisteredModel, error) {
	if err := g.need(ctx, models, name, Read); err != nil {
		return nil, err
	}
	return g.inner.GetRegisteredModel(ctx, name)
}

func (g *guarded) RenameRegisteredModel(ctx context.Context, name, newName string) (*tracking.RegisteredModel, error) {
	if err := g.need(ctx, models, name, Edit); err != nil {
		return nil, err
	}
	m, err := g.inner.RenameRegisteredModel(ctx, name, newName)
	if err != nil {
		return nil, err
	}
	return m, g.s.renameModelPermissions(ctx, name, m.Name)
}

func (g *guarded) UpdateRegisteredModel(ctx context.Context, name, description string) (*tracking.RegisteredModel, error) {
	if err := g.need(ctx, models, name, Edit); err != nil {
		return nil, err
	}
	return g.inner.UpdateRegisteredModel(ctx, name, description)
}

func (g *guarded) DeleteRegisteredModel(ctx context.Context, name string) error {
	if err := g.need(ctx, models, name, Manage); err != nil {
		return err
	}
	if err := g.inner.DeleteRegisteredModel(ctx, name); err != nil {
		return err
	}
	return g.s.dropModelPermissions(ctx, name)
}

func (g *guarded) SearchRegisteredModels(ctx context.Context, q tracking.ModelQuery) (tracking.Page[tracking.RegisteredModel], error) {
	can, err := g.readable(ctx, models)
	if err != nil {
		return tracking.Page[tracking.RegisteredModel]{}, err
	}
	if can == nil {
		return g.inner.SearchRegisteredModels(ctx, q)
	}
	return filterPage(orDefault(q.MaxResults, defaultModelResults), q.PageToken,
		func(m tracking.RegisteredModel) bool { return can(m.Name) },
		func(size int, token string) (tracking.Page[tracking.RegisteredModel], error) {
			q.MaxResults, q.PageToken = size, token
			return g.inner.SearchRegisteredModels(ctx, q)
		})
}

func (g *guarded) SetRegisteredModelTag(ctx context.Context, name, key, value string) error {
	if err := g.need(ctx, models, name, Edit); err != nil {
		return err
	}
	return g.inner.SetRegisteredModelTag(ctx, name, key, value)
}

func (g *guarded) DeleteRegisteredModelTag(ctx context.Context, name, key string) error {
	if err := g.need(ctx, models, name, Edit); err != nil {
		return err
	}
	return g.inner.DeleteRegisteredModelTag(ctx, name, key)
}

func (g *guarded) GetLatestVersions(ctx context.Context, name string, stages []tracking.Stage) ([]tracking.ModelVersion, error) {
	if err := g.need(ctx, models, name, Read); err != nil {
		return nil, err
	}
	return g.inner.GetLatestVersions(ctx, name, stages)
}

func (g *guarded) CreateModelVersion(ctx context.Context, in tracking.CreateModelVersion) (*tracking.ModelVersion, error) {
	if err := g.need(ctx, models, in.Name, Edit); err != nil {
		return nil, err
	}
	return g.inner.CreateModelVersion(ctx, in)
}

func (g *guarded) GetModelVersion(ctx context.Context, name, version string) (*tracking.ModelVersion, error) {
	if err := g.need(ctx, models, name, Read); err != nil {
		return nil, err
	}
	return g.inner.GetModelVersion(ctx, name, version)
}

func (g *guarded) GetModelVersionDownloadURI(ctx context.Context, name, version string) (string, error) {
	if err := g.need(ctx, models, name, Read); err != nil {
		return "", err
	}
	return g.inner.GetModelVersionDownloadURI(ctx, name, version)
}

func (g *guarded) UpdateModelVersion(ctx context.Context, name, version, description string) (*tracking.ModelVersion, error) {
	if err := g.need(ctx, models, name, Edit); err != nil {
		return nil, err
	}
	return g.inner.UpdateModelVersion(ctx, name, version, description)
}

func (g *guarded) DeleteModelVersion(ctx context.Context, name, version string) error {
	if err := g.need(ctx, models, name, Manage); err != nil {
		return err
	}
	return g.inner.DeleteModelVersion(ctx, name, version)
}

func (g *guarded) SearchModelVersions(ctx context.Context, q tracking.ModelQuery) (tracking.Page[tracking.ModelVersion], error) {
	can, err := g.readable(ctx, models)
	if err != nil {
		return tracking.Page[tracking.ModelVersion]{}, err
	}
	if can == nil {
		return g.inner.SearchModelVersions(ctx, q)
	}
	return filterPage(orDefault(q.MaxResults, defaultVersionResults), q.PageToken,
		func(v tracking.ModelVersion) bool { return can(v.Name) },
		func(size int, token string) (tracking.Page[tracking.ModelVersion], error) {
			q.MaxResults, q.PageToken = size, token
			return g.inner.SearchModelVersions(ctx, q)
		})
}

func (g *guarded) TransitionModelVersionStage(ctx context.Context, name, version string, stage tracking.Stage, archiveExisting bool) (*tracking.ModelVersion, error) {
	if err := g.need(ctx, models, name, Edit); err != nil {
		return nil, err
	}
	return g.inner.TransitionModelVersionStage(ctx, name, version, stage, archiveExisting)
}

func (g *guarded) SetModelVersionTag(ctx context.Context, name, version, key, value string) error {
	if err := g.need(ctx, models, name, Edit); err != nil {
		return err
	}
	return g.inner.SetModelVersionTag(ctx, name, version, key, value)
}

// DeleteModelVersionTag needs MANAGE, as MLflow's validate_can_delete_registered_model.
func (g *guarded) DeleteModelVersionTag(ctx context.Context, name, version, key string) error {
	if err := g.need(ctx, models, name, Manage); err != nil {
		return err
	}
	return g.inner.DeleteModelVersionTag(ctx, name, version, key)
}

func (g *guarded) SetRegisteredModelAlias(ctx context.Context, name, alias, version string) error {
	if err := g.need(ctx, models, name, Edit); err != nil {
		return err
	}
	return g.inner.SetRegisteredModelAlias(ctx, name, alias, version)
}

// DeleteRegisteredModelAlias needs MANAGE, as MLflow's validate_can_delete_registered_model.
func (g *guarded) DeleteRegisteredModelAlias(ctx context.Context, name, alias string) error {
	if err := g.need(ctx, models, name, Manage); err != nil {
		return err
	}
	return g.inner.DeleteRegisteredModelAlias(ctx, name, alias)
}

func (g *guarded) GetModelVersionByAlias(ctx context.Context, name, alias string) (*tracking.ModelVersion, error) {
	if err := g.need(ctx, models, name, Read); err != nil {
		return nil, err
	}
	return g.inner.GetModelVersionByAlias(ctx, name, alias)
}

// Ping needs no user: /health carries no credentials.
func (g *guarded) Ping(ctx context.Context) error { return g.inner.Ping(ctx) }

func (g *guarded) Close() error { return g.inner.Close() }
