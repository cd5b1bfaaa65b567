package ui

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/mlops-lab/housing/tracking"
)

// searchChartsPage charts the runs of an experiment that a search selects.
type searchChartsPage struct {
	page
	Experiment  *tracking.Experiment
	Action      string
	Filter      string
	FilterError string
	Order       string
	RunsURL     string // the same search as a run table
	Cap         int
	More        bool // more runs match than are charted
	Charts      *chartsView
}

// handleSearchCharts charts the first maxChartRuns runs of a search of one
// experiment (filter and order as on its run table, nested runs included),
// and says so when more match.
func (u *UI) handleSearchCharts(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	exp, err := u.store.GetExperiment(ctx, r.PathValue("id"))
	if err != nil {
		u.renderError(w, r, err)
		return
	}
	q := r.URL.Query()
	base := "/experiments/" + url.PathEscape(exp.ID)
	data := searchChartsPage{
		page: page{Title: "Charts of " + exp.Name, Section: "experiments",
			Crumbs: []link{{"Experiments", "/"}, {exp.Name, base}, {"Charts", r.URL.RequestURI()}}},
		Experiment: exp,
		Action:     base + "/charts",
		Filter:     q.Get("filter"),
		Order:      q.Get("order"),
		Cap:        maxChartRuns,
	}
	search := url.Values{}
	var keep []tracking.Tag
	var order []string
	if data.Filter != "" {
		search.Set("filter", data.Filter)
		keep = append(keep, tracking.Tag{Key: "filter", Value: data.Filter})
	}
	if data.Order != "" {
		search.Set("order", data.Order)
		keep = append(keep, tracking.Tag{Key: "order", Value: data.Order})
		order = []string{data.Order}
	}
	data.RunsURL = base
	if e := search.Encode(); e != "" {
		data.RunsURL += "?" + e
	}
	res, err := u.store.SearchRuns(ctx, tracking.RunQuery{
		ExperimentIDs: []string{exp.ID}, Filter: data.Filter, OrderBy: order, MaxResults: maxChartRuns,
	})
	if err != nil {
		if tracking.ErrorCodeOf(err) != tracking.ErrInvalidParameterValue {
			u.renderError(w, r, err)
			return
		}
		data.FilterError = tracking.ErrorMessage(err)
	}
	data.More = res.NextPageToken != ""
	if len(res.Items) > 0 {
		data.Charts, err = u.runCharts(ctx, res.Items, q, data.Action, keep, orderedMetric(data.Order))
		if err != nil {
			u.renderError(w, r, err)
			return
		}
	}
	u.render(w, r, http.StatusOK, "charts", data)
}

// orderedMetric is the metric a search is ordered by ("metrics.r2 DESC",
// "metrics.`r2` ASC"), or "".
func orderedMetric(order string) string {
	key, ok := strings.CutPrefix(order, "metrics.")
	if !ok {
		return ""
	}
	key = strings.TrimSpace(strings.TrimSuffix(strings.TrimSuffix(strings.TrimSpace(key), " DESC"), " ASC"))
	if len(key) >= 2 && (key[0] == '`' || key[0] == '"') && key[len(key)-1] == key[0] {
		key = key[1 : len(key)-1]
	}
	return key
}
