package ui

import (
	"math"
	"net/http"
	"net/url"
	"slices"

	"github.com/mlops-lab/housing/tracking"
)

// maxCompareRuns bounds how many runs one comparison shows.
const maxCompareRuns = 50

type comparePage struct {
	page
	Runs    []compareRun
	Params  []compareRow
	Metrics []compareRow
	Charts  *chartsView
	// AllCharts links to the charts of every run of the first run's experiment.
	AllCharts *link
}

type compareRun struct {
	ID   string
	Name string
	URL  string
}

type compareRow struct {
	Key     string
	Values  []string
	Differs bool
	Chart   *chart
}

// handleCompare shows two or more runs side by side.
func (u *UI) handleCompare(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	ids := cleanKeys(q["runs"])
	if len(ids) < 2 {
		u.renderError(w, r, tracking.Errorf(tracking.ErrInvalidParameterValue,
			"Choose two or more runs to compare (got %d): tick them in an experiment's run table", len(ids)))
		return
	}
	if len(ids) > maxCompareRuns {
		u.renderError(w, r, tracking.Errorf(tracking.ErrInvalidParameterValue,
			"Compare at most %d runs at a time (got %d)", maxCompareRuns, len(ids)))
		return
	}
	runs := make([]*tracking.Run, len(ids))
	data := comparePage{page: page{Title: "Compare runs", Section: "experiments"}}
	names := make([]string, len(ids))
	for i, id := range ids {
		run, err := u.store.GetRun(ctx, id)
		if err != nil {
			u.renderError(w, r, err)
			return
		}
		runs[i] = run
		names[i] = run.Info.RunName
		if names[i] == "" {
			names[i] = run.Info.RunID
		}
		data.Runs = append(data.Runs, compareRun{ID: id, Name: names[i], URL: "/runs/" + url.PathEscape(id)})
	}
	data.Crumbs = []link{{"Experiments", "/"}}
	if exp, err := u.store.GetExperiment(ctx, runs[0].Info.ExperimentID); err == nil {
		data.Crumbs = append(data.Crumbs, link{exp.Name, "/experiments/" + url.PathEscape(exp.ID)})
		data.AllCharts = &link{"Chart every run of " + exp.Name, "/experiments/" + url.PathEscape(exp.ID) + "/charts"}
	}
	data.Crumbs = append(data.Crumbs, link{"Compare", r.URL.RequestURI()})

	all := make([]tracking.Run, len(runs))
	for i, run := range runs {
		all[i] = *run
	}
	paramKeys, metricKeys := runKeys(all)
	for _, k := range paramKeys {
		row := compareRow{Key: k}
		for _, run := range runs {
			v, ok := run.Param(k)
			if !ok {
				v = "—"
			}
			row.Values = append(row.Values, v)
		}
		row.Differs = slices.ContainsFunc(row.Values, func(v string) bool { return v != row.Values[0] })
		data.Params = append(data.Params, row)
	}
	for _, k := range metricKeys {
		row := compareRow{Key: k}
		vals := make([]float64, len(runs))
		for i, run := range runs {
			v, ok := run.Metric(k)
			if !ok {
				v = math.NaN()
				row.Values = append(row.Values, "—")
			} else {
				row.Values = append(row.Values, fmtNum(v))
			}
			vals[i] = v
		}
		row.Differs = slices.ContainsFunc(row.Values, func(v string) bool { return v != row.Values[0] })
		row.Chart = barChart(k, names, vals)
		data.Metrics = append(data.Metrics, row)
	}

	keep := make([]tracking.Tag, len(ids))
	for i, id := range ids {
		keep[i] = tracking.Tag{Key: "runs", Value: id}
	}
	charts, err := u.runCharts(ctx, all, q, "/compare", keep, "")
	if err != nil {
		u.renderError(w, r, err)
		return
	}
	data.Charts = charts
	u.render(w, r, http.StatusOK, "compare", data)
}
