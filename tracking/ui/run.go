package ui

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/mlops-lab/housing/tracking"
)

type runPage struct {
	page
	Run        *tracking.Run
	Duration   string
	Params     []tracking.Param
	Metrics    []metricView
	Tags       []tracking.Tag // the user's tags
	SystemTags []tracking.Tag // mlflow.* tags
	Inputs     []inputView
	Artifacts  artifactsView
	Versions   []versionLink
	VersionErr string
	Outputs    []outputView
	OutputErr  string
}

// outputView is a logged model the run produced; a model that cannot be read
// (deleted since) keeps its id and step, without a link.
type outputView struct {
	ModelID string
	Name    string
	Status  tracking.LoggedModelStatus
	Step    int64
	URL     string
}

type metricView struct {
	Metric  tracking.Metric // the latest value
	Value   string
	Points  int
	Partial bool // the history has more points than were read
	Chart   *chart
}

type inputView struct {
	Dataset tracking.Dataset
	Context string
	Tags    []tracking.Tag
}

type versionLink struct {
	Version tracking.ModelVersion
	URL     string
}

// handleRun shows one run: what was logged on it, its artifacts and the model
// versions registered from it.
func (u *UI) handleRun(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	run, err := u.store.GetRun(ctx, r.PathValue("id"))
	if err != nil {
		u.renderError(w, r, err)
		return
	}
	name := run.Info.RunName
	if name == "" {
		name = run.Info.RunID
	}
	crumbs := []link{{"Experiments", "/"}}
	if exp, err := u.store.GetExperiment(ctx, run.Info.ExperimentID); err == nil {
		crumbs = append(crumbs, link{exp.Name, "/experiments/" + url.PathEscape(exp.ID)})
	}
	runURL := "/runs/" + url.PathEscape(run.Info.RunID)
	crumbs = append(crumbs, link{name, runURL})
	data := runPage{
		page:     page{Title: name, Section: "experiments", Crumbs: crumbs},
		Run:      run,
		Duration: fmtDuration(run.Info.StartTime, run.Info.EndTime),
		Params:   slices.Clone(run.Data.Params),
	}
	slices.SortFunc(data.Params, func(a, b tracking.Param) int { return strings.Compare(a.Key, b.Key) })

	metrics := slices.Clone(run.Data.Metrics)
	slices.SortFunc(metrics, func(a, b tracking.Metric) int { return strings.Compare(a.Key, b.Key) })
	for _, m := range metrics {
		hist, err := u.store.GetMetricHistory(ctx, run.Info.RunID, m.Key, maxHistoryPoints, "")
		if err != nil {
			u.renderError(w, r, err)
			return
		}
		xs := make([]float64, len(hist.Items))
		ys := make([]float64, len(hist.Items))
		for i, h := range hist.Items {
			xs[i], ys[i] = float64(h.Step), h.Value
		}
		data.Metrics = append(data.Metrics, metricView{
			Metric: m, Value: fmtNum(m.Value), Points: len(hist.Items), Partial: hist.NextPageToken != "",
			Chart: lineChart(m.Key, xs, ys),
		})
	}

	for _, t := range run.Data.Tags {
		if strings.HasPrefix(t.Key, "mlflow.") {
			data.SystemTags = append(data.SystemTags, t)
		} else {
			data.Tags = append(data.Tags, t)
		}
	}
	byKey := func(a, b tracking.Tag) int { return strings.Compare(a.Key, b.Key) }
	slices.SortFunc(data.Tags, byKey)
	slices.SortFunc(data.SystemTags, byKey)

	for _, in := range run.Inputs {
		v := inputView{Dataset: in.Dataset}
		for _, t := range in.Tags {
			if t.Key == tracking.InputTagContext {
				v.Context = t.Value
			} else {
				v.Tags = append(v.Tags, t)
			}
		}
		data.Inputs = append(data.Inputs, v)
	}

	data.Artifacts = u.artifactsView(r, runOwner(run))
	data.Outputs, data.OutputErr = u.outputsView(r, run)

	versions, err := u.store.SearchModelVersions(ctx, tracking.ModelQuery{
		Filter: "run_id = " + quoteString(run.Info.RunID), MaxResults: 100,
	})
	if err != nil {
		// The run is worth showing without them (a store without a registry, say).
		u.log.WarnContext(ctx, "ui: model versions of run", "run_id", run.Info.RunID, "err", err)
		data.VersionErr = "The registered model versions of this run could not be read."
	}
	for _, v := range versions.Items {
		data.Versions = append(data.Versions, versionLink{v, versionURL(v.Name, v.Version)})
	}
	u.render(w, r, http.StatusOK, "run", data)
}

// quoteString quotes s as a string value in MLflow's filter grammar.
func quoteString(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

func modelURL(name string) string { return "/models/" + url.PathEscape(name) }

func versionURL(name, version string) string {
	return modelURL(name) + "/versions/" + url.PathEscape(version)
}

// outputsView lists the logged models the run produced (its model outputs).
func (u *UI) outputsView(r *http.Request, run *tracking.Run) ([]outputView, string) {
	if len(run.ModelOutputs) == 0 {
		return nil, ""
	}
	if u.loggedModels == nil {
		return nil, noLoggedModels
	}
	views := make([]outputView, 0, len(run.ModelOutputs))
	for _, o := range run.ModelOutputs {
		v := outputView{ModelID: o.ModelID, Name: o.ModelID, Step: o.Step}
		m, err := u.loggedModels.GetLoggedModel(r.Context(), o.ModelID, false)
		switch {
		case err == nil:
			v.Name, v.Status, v.URL = m.Name, m.Status, loggedModelURL(m.ModelID)
		case tracking.ErrorCodeOf(err) != tracking.ErrResourceDoesNotExist:
			u.log.WarnContext(r.Context(), "ui: logged model of run", "run_id", run.Info.RunID, "model_id", o.ModelID, "err", err)
		}
		views = append(views, v)
	}
	return views, ""
}
