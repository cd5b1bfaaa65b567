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
	Parent     *link // the run this one is nested under
	Nested     nestedView
	Params     []tracking.Param
	Metrics    []metricView   // one point each: the table
	Histories  []metricView   // more than one point: the charts
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
	Output  bool // linked to the run as its output (at Step); else only its source run
	URL     string
}

// nestedView is the runs nested under a run (a search's trials).
type nestedView struct {
	Rows    []runRow
	Metrics []string // the metric columns
	More    bool     // more than maxNestedListed
	AllURL  string   // the runs table filtered to them
	Error   string
}

const (
	maxNestedListed  = 100
	maxNestedMetrics = 4
)

type metricView struct {
	Metric   tracking.Metric // the latest value
	Value    string
	Points   int
	OnModels []modelPoints // further points logged with a logged model's id, left out of the chart
	Partial  bool          // the history has more points than were read
	Chart    *chart
}

// modelPoints counts a metric's points a run logged on one of its logged
// models: they are that model's series, charted on its page.
type modelPoints struct {
	Name, URL string
	Points    int
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
	crumbs = append(crumbs, link{name, runURL(run.Info.RunID)})
	data := runPage{
		page:     page{Title: name, Section: "experiments", Crumbs: crumbs},
		Run:      run,
		Duration: fmtDuration(run.Info.StartTime, run.Info.EndTime),
		Params:   slices.Clone(run.Data.Params),
	}
	slices.SortFunc(data.Params, func(a, b tracking.Param) int { return strings.Compare(a.Key, b.Key) })
	if id, ok := run.Tag(tracking.TagParentRunID); ok && id != "" {
		data.Parent = &link{id, runURL(id)}
		if p, err := u.store.GetRun(ctx, id); err == nil {
			data.Parent.Label = runName(p.Info)
		}
	}

	data.Nested = u.nestedView(r, run)
	var onModels map[metricPoint]int // the point's model, an index in data.Outputs
	data.Outputs, onModels, data.OutputErr = u.outputsView(r, run)

	metrics := slices.Clone(run.Data.Metrics)
	slices.SortFunc(metrics, func(a, b tracking.Metric) int { return strings.Compare(a.Key, b.Key) })
	for _, m := range metrics {
		hist, err := u.store.GetMetricHistory(ctx, run.Info.RunID, m.Key, maxHistoryPoints, "")
		if err != nil {
			u.renderError(w, r, err)
			return
		}
		// MLflow 3 keeps a metric logged with a model id (the lab logs its test
		// metrics again on the logged model) in the run's history too; those
		// points are the model's series, on its page, not steps of the run's.
		var xs, ys []float64
		perModel := map[int]int{}
		for _, h := range hist.Items {
			if i, ok := onModels[metricPoint{h.Key, h.Step, h.Timestamp, h.Value}]; ok {
				perModel[i]++
				continue
			}
			xs, ys = append(xs, float64(h.Step)), append(ys, h.Value)
		}
		if len(xs) == 0 { // logged only with models: the run's series after all
			clear(perModel)
			for _, h := range hist.Items {
				xs, ys = append(xs, float64(h.Step)), append(ys, h.Value)
			}
		}
		v := metricView{Metric: m, Value: fmtNum(m.Value), Points: len(xs), Partial: hist.NextPageToken != ""}
		for i, o := range data.Outputs { // in the order the models are listed
			if n := perModel[i]; n > 0 {
				v.OnModels = append(v.OnModels, modelPoints{Name: o.Name, URL: o.URL, Points: n})
			}
		}
		if v.Points <= 1 {
			data.Metrics = append(data.Metrics, v)
			continue
		}
		v.Chart = lineChart(m.Key, xs, ys)
		data.Histories = append(data.Histories, v)
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

// metricPoint identifies a logged metric value.
type metricPoint struct {
	key      string
	step, ts int64
	value    float64
}

// outputsView lists the logged models the run produced: its model outputs, and
// the models whose source run it is (logged without linking them as outputs);
// and the metric points this run logged on them, each with its model's index
// in the list.
func (u *UI) outputsView(r *http.Request, run *tracking.Run) ([]outputView, map[metricPoint]int, string) {
	if u.loggedModels == nil {
		if len(run.ModelOutputs) == 0 {
			return nil, nil, ""
		}
		return nil, nil, noLoggedModels
	}
	points := map[metricPoint]int{}
	views := make([]outputView, 0, len(run.ModelOutputs))
	sourced, err := u.loggedModels.SearchLoggedModels(r.Context(), tracking.LoggedModelQuery{
		ExperimentIDs: []string{run.Info.ExperimentID},
		Filter:        "source_run_id = " + quoteString(run.Info.RunID),
		MaxResults:    100,
	})
	if err != nil {
		u.log.WarnContext(r.Context(), "ui: logged models of run", "run_id", run.Info.RunID, "err", err)
	}
	for _, o := range run.ModelOutputs {
		views = append(views, outputView{ModelID: o.ModelID, Name: o.ModelID, Step: o.Step, Output: true})
	}
	for _, m := range sourced.Items {
		if !slices.ContainsFunc(views, func(v outputView) bool { return v.ModelID == m.ModelID }) {
			views = append(views, outputView{ModelID: m.ModelID, Name: m.ModelID})
		}
	}
	for i := range views {
		v := &views[i]
		m, err := u.loggedModels.GetLoggedModel(r.Context(), v.ModelID, false)
		switch {
		case err == nil:
			v.Name, v.Status, v.URL = m.Name, m.Status, loggedModelURL(m.ModelID)
			for _, mm := range m.Metrics {
				if mm.RunID == "" || mm.RunID == run.Info.RunID {
					points[metricPoint{mm.Key, mm.Step, mm.Timestamp, mm.Value}] = i
				}
			}
		case tracking.ErrorCodeOf(err) != tracking.ErrResourceDoesNotExist:
			u.log.WarnContext(r.Context(), "ui: logged model of run", "run_id", run.Info.RunID, "model_id", v.ModelID, "err", err)
		}
	}
	return views, points, ""
}

// nestedView lists the runs nested under run, newest first, with their first
// few metrics.
func (u *UI) nestedView(r *http.Request, run *tracking.Run) nestedView {
	id := run.Info.RunID
	children, err := u.store.SearchRuns(r.Context(), tracking.RunQuery{
		ExperimentIDs: []string{run.Info.ExperimentID},
		// An equality, which sqlstore's planner drives through the tag's
		// index (with an IN list it walks the experiment's runs).
		Filter:     "tags.`" + tracking.TagParentRunID + "` = " + quoteString(id),
		MaxResults: maxNestedListed + 1,
	})
	if err != nil {
		u.log.WarnContext(r.Context(), "ui: nested runs", "run_id", id, "err", err)
		return nestedView{Error: "The runs nested under this one could not be read."}
	}
	v := nestedView{AllURL: "/experiments/" + url.PathEscape(run.Info.ExperimentID) + "?" +
		url.Values{"filter": {"tags.`" + tracking.TagParentRunID + "` = " + quoteString(id)}}.Encode()}
	if len(children.Items) > maxNestedListed {
		children.Items, v.More = children.Items[:maxNestedListed], true
	}
	_, metrics := runKeys(children.Items)
	v.Metrics = metrics[:min(len(metrics), maxNestedMetrics)]
	for i := range children.Items {
		c := &children.Items[i]
		row := runRow{Info: c.Info, Name: runName(c.Info), URL: runURL(c.Info.RunID), Duration: fmtDuration(c.Info.StartTime, c.Info.EndTime)}
		for _, k := range v.Metrics {
			s := ""
			if x, ok := c.Metric(k); ok {
				s = fmtNum(x)
			}
			row.Metrics = append(row.Metrics, s)
		}
		v.Rows = append(v.Rows, row)
	}
	return v
}
