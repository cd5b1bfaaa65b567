package ui

import (
	"cmp"
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/mlops-lab/housing/tracking"
)

// maxKeyMetrics is how many of a logged model's metrics its list row shows.
const maxKeyMetrics = 6

// noLoggedModels is what the pages say when the server keeps no logged models
// (Options.LoggedModels is nil: a REST backend, say).
const noLoggedModels = "This server does not keep logged models."

type loggedModelsPage struct {
	page
	Experiment *tracking.Experiment
	RunsURL    string
	ModelsURL  string
	Error      string
	Models     []loggedModelRow
	First      string
	Next       string
}

type loggedModelRow struct {
	Model   tracking.LoggedModel
	URL     string
	RunURL  string
	Metrics []modelMetricView
	More    int // metrics not shown in the row
}

// modelMetricView is the latest value of one metric on one data set.
type modelMetricView struct {
	Key     string
	Dataset string // "name (digest)", "" for a metric without a data set
	Value   string
	Step    int64
	RunURL  string
}

type modelMetricGroup struct {
	Dataset string // "" for metrics without a data set
	Metrics []modelMetricView
}

type loggedModelPage struct {
	page
	Model      *tracking.LoggedModel
	RunURL     string
	RunName    string
	Groups     []modelMetricGroup
	Versions   []versionLink
	VersionErr string
	Artifacts  artifactsView
}

func loggedModelURL(id string) string { return "/logged-models/" + url.PathEscape(id) }

func runURL(id string) string { return "/runs/" + url.PathEscape(id) }

// handleLoggedModels lists an experiment's active logged models, newest first.
func (u *UI) handleLoggedModels(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	// Through the UI's store, so that with auth only a reader of the
	// experiment sees its models.
	exp, err := u.store.GetExperiment(ctx, r.PathValue("id"))
	if err != nil {
		u.renderError(w, r, err)
		return
	}
	expURL := "/experiments/" + url.PathEscape(exp.ID)
	modelsURL := expURL + "/models"
	data := loggedModelsPage{
		page: page{Title: "Logged models · " + exp.Name, Section: "experiments",
			Crumbs: []link{{"Experiments", "/"}, {exp.Name, expURL}, {"Logged models", modelsURL}}},
		Experiment: exp,
		RunsURL:    expURL,
		ModelsURL:  modelsURL,
	}
	if u.loggedModels == nil {
		data.Error = noLoggedModels
		u.render(w, r, http.StatusOK, "loggedmodels", data)
		return
	}
	token := r.URL.Query().Get("page_token")
	res, err := u.loggedModels.SearchLoggedModels(ctx, tracking.LoggedModelQuery{
		ExperimentIDs: []string{exp.ID}, MaxResults: defaultPageSize, PageToken: token,
	})
	if tracking.ErrorCodeOf(err) == tracking.ErrNotImplemented {
		// A database on MLflow 2.x's schema: the store says how to upgrade it.
		data.Error = tracking.ErrorMessage(err)
		u.render(w, r, http.StatusOK, "loggedmodels", data)
		return
	}
	if err != nil {
		u.renderError(w, r, err)
		return
	}
	for _, m := range res.Items {
		row := loggedModelRow{Model: m, URL: loggedModelURL(m.ModelID)}
		if m.SourceRunID != "" {
			row.RunURL = runURL(m.SourceRunID)
		}
		row.Metrics = latestModelMetrics(m.Metrics)
		if len(row.Metrics) > maxKeyMetrics {
			row.More = len(row.Metrics) - maxKeyMetrics
			row.Metrics = row.Metrics[:maxKeyMetrics]
		}
		data.Models = append(data.Models, row)
	}
	if token != "" {
		data.First = modelsURL
	}
	if res.NextPageToken != "" {
		data.Next = modelsURL + "?" + url.Values{"page_token": {res.NextPageToken}}.Encode()
	}
	u.render(w, r, http.StatusOK, "loggedmodels", data)
}

// handleLoggedModel shows one logged model: params, metrics by data set, tags,
// the model versions registered from it and its source run.
func (u *UI) handleLoggedModel(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	m, exp, err := u.readLoggedModel(ctx, r.PathValue("id"))
	if err != nil {
		u.renderError(w, r, err)
		return
	}
	expURL := "/experiments/" + url.PathEscape(exp.ID)
	data := loggedModelPage{
		page: page{Title: m.Name, Section: "experiments", Crumbs: []link{
			{"Experiments", "/"}, {exp.Name, expURL}, {"Logged models", expURL + "/models"}, {m.Name, loggedModelURL(m.ModelID)}}},
		Model: m,
	}
	if m.SourceRunID != "" {
		data.RunURL = runURL(m.SourceRunID)
		data.RunName = m.SourceRunID
		if run, err := u.store.GetRun(ctx, m.SourceRunID); err == nil && run.Info.RunName != "" {
			data.RunName = run.Info.RunName
		}
	}
	for _, mv := range latestModelMetrics(m.Metrics) {
		if n := len(data.Groups); n == 0 || data.Groups[n-1].Dataset != mv.Dataset {
			data.Groups = append(data.Groups, modelMetricGroup{Dataset: mv.Dataset})
		}
		g := &data.Groups[len(data.Groups)-1]
		g.Metrics = append(g.Metrics, mv)
	}
	data.Versions, err = u.modelRegistrations(r, m)
	if err != nil {
		u.log.WarnContext(ctx, "ui: model versions of logged model", "model_id", m.ModelID, "err", err)
		data.VersionErr = "The registered model versions of this model could not be read."
	}
	data.Artifacts = u.artifactsView(r, modelOwner(m))
	u.render(w, r, http.StatusOK, "loggedmodel", data)
}

// readLoggedModel reads an active logged model that the request's user may
// see: its experiment is read through the UI's store, which with auth is the
// guarded one, so who may not read the experiment may not see its models.
func (u *UI) readLoggedModel(ctx context.Context, id string) (*tracking.LoggedModel, *tracking.Experiment, error) {
	if u.loggedModels == nil {
		return nil, nil, tracking.Errorf(tracking.ErrResourceDoesNotExist, "%s", noLoggedModels)
	}
	m, err := u.loggedModels.GetLoggedModel(ctx, id, false)
	if err != nil {
		return nil, nil, err
	}
	exp, err := u.store.GetExperiment(ctx, m.ExperimentID)
	if err != nil {
		return nil, nil, err
	}
	return m, exp, nil
}

// modelRegistrations finds the model versions registered from m: those whose
// source is models:/<id>, and those of its source run that name it by model
// id or by its artifact location (MLflow 3 clients register either way).
func (u *UI) modelRegistrations(r *http.Request, m *tracking.LoggedModel) ([]versionLink, error) {
	ctx := r.Context()
	var found []tracking.ModelVersion
	bySource, err := u.store.SearchModelVersions(ctx, tracking.ModelQuery{
		Filter: "source_path = " + quoteString(m.URI()), MaxResults: 100,
	})
	if err != nil {
		return nil, err
	}
	found = append(found, bySource.Items...)
	if m.SourceRunID != "" {
		byRun, err := u.store.SearchModelVersions(ctx, tracking.ModelQuery{
			Filter: "run_id = " + quoteString(m.SourceRunID), MaxResults: 100,
		})
		if err != nil {
			return nil, err
		}
		for _, v := range byRun.Items {
			if v.ModelID == m.ModelID || v.Source == m.ArtifactLocation {
				found = append(found, v)
			}
		}
	}
	slices.SortFunc(found, func(a, b tracking.ModelVersion) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), cmp.Compare(len(a.Version), len(b.Version)), strings.Compare(a.Version, b.Version))
	})
	found = slices.CompactFunc(found, func(a, b tracking.ModelVersion) bool { return a.Name == b.Name && a.Version == b.Version })
	links := make([]versionLink, len(found))
	for i, v := range found {
		links[i] = versionLink{v, versionURL(v.Name, v.Version)}
	}
	return links, nil
}

// latestModelMetrics keeps the latest value (by step, then time) of each
// metric on each data set, sorted with the metrics without a data set first,
// then by data set and key.
func latestModelMetrics(ms []tracking.Metric) []modelMetricView {
	type key struct{ key, name, digest string }
	latest := map[key]tracking.Metric{}
	for _, m := range ms {
		k := key{m.Key, m.DatasetName, m.DatasetDigest}
		if old, ok := latest[k]; !ok || m.Step > old.Step || m.Step == old.Step && m.Timestamp >= old.Timestamp {
			latest[k] = m
		}
	}
	views := make([]modelMetricView, 0, len(latest))
	for _, m := range latest {
		v := modelMetricView{Key: m.Key, Value: fmtNum(m.Value), Step: m.Step}
		if m.DatasetName != "" || m.DatasetDigest != "" {
			v.Dataset = m.DatasetName
			if m.DatasetDigest != "" {
				v.Dataset += " (" + m.DatasetDigest + ")"
			}
		}
		if m.RunID != "" {
			v.RunURL = runURL(m.RunID)
		}
		views = append(views, v)
	}
	slices.SortFunc(views, func(a, b modelMetricView) int {
		return cmp.Or(strings.Compare(a.Dataset, b.Dataset), strings.Compare(a.Key, b.Key))
	})
	return views
}
