package ui

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/mlops-lab/housing/tracking"
)

type runsPage struct {
	page
	Experiment  *tracking.Experiment
	RunsURL     string
	ModelsURL   string // the experiment's logged models
	Filter      string
	FilterError string
	Order       string
	PageSize    int
	Chosen      url.Values // the column choice, repeated in every form and link
	NameCol     column
	StartCol    column
	StatusCol   column
	ParamCols   []column
	MetricCols  []column
	ParamKeys   []choice // every param key on the page, for the column chooser
	MetricKeys  []choice
	Rows        []runRow
	Next        string
	First       string
}

// column is a sortable column: its header and the URL that sorts by it.
type column struct {
	Key     string
	SortURL string
	Sort    string // "ascending", "descending" or "" (aria-sort values)
	Num     bool   // a numeric column, aligned right
}

type choice struct {
	Key     string
	Checked bool
}

type runRow struct {
	Info     tracking.RunInfo
	URL      string
	Params   []string
	Metrics  []string
	Duration string
}

// handleRuns shows the runs of one experiment as a table.
func (u *UI) handleRuns(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	exp, err := u.store.GetExperiment(ctx, r.PathValue("id"))
	if err != nil {
		u.renderError(w, r, err)
		return
	}
	q := r.URL.Query()
	base := "/experiments/" + url.PathEscape(exp.ID)
	data := runsPage{
		page: page{Title: exp.Name, Section: "experiments",
			Crumbs: []link{{"Experiments", "/"}, {exp.Name, base}}},
		Experiment: exp,
		RunsURL:    base,
		ModelsURL:  base + "/models",
		Filter:     q.Get("filter"),
		Order:      q.Get("order"),
		PageSize:   pageSize(q.Get("n")),
		Chosen:     url.Values{},
	}
	params, metrics := cleanKeys(q["param"]), cleanKeys(q["metric"])
	if len(params) > 0 {
		data.Chosen["param"] = params
	}
	if len(metrics) > 0 {
		data.Chosen["metric"] = metrics
	}
	var order []string
	if data.Order != "" {
		order = []string{data.Order}
	}
	res, err := u.store.SearchRuns(ctx, tracking.RunQuery{
		ExperimentIDs: []string{exp.ID},
		Filter:        data.Filter,
		OrderBy:       order,
		MaxResults:    data.PageSize,
		PageToken:     q.Get("page_token"),
	})
	if err != nil {
		if tracking.ErrorCodeOf(err) != tracking.ErrInvalidParameterValue {
			u.renderError(w, r, err)
			return
		}
		data.FilterError = tracking.ErrorMessage(err)
	}

	// Columns: the chosen ones, or every key on this page up to a cap.
	allParams, allMetrics := runKeys(res.Items)
	if len(params) == 0 && len(metrics) == 0 {
		params, metrics = capKeys(allParams), capKeys(allMetrics)
	}
	for _, k := range allParams {
		data.ParamKeys = append(data.ParamKeys, choice{k, slices.Contains(params, k)})
	}
	for _, k := range allMetrics {
		data.MetricKeys = append(data.MetricKeys, choice{k, slices.Contains(metrics, k)})
	}

	link := func(v url.Values) string {
		all := url.Values{}
		for k, vs := range data.Chosen {
			all[k] = vs
		}
		if data.Filter != "" {
			all.Set("filter", data.Filter)
		}
		if data.PageSize != defaultPageSize {
			all.Set("n", strconv.Itoa(data.PageSize))
		}
		for k, vs := range v {
			if len(vs) == 1 && vs[0] == "" {
				delete(all, k)
				continue
			}
			all[k] = vs
		}
		if e := all.Encode(); e != "" {
			return base + "?" + e
		}
		return base
	}
	sortCol := func(key, ident string, descFirst bool) column {
		c := column{Key: key}
		asc, desc := ident+" ASC", ident+" DESC"
		next := desc
		if !descFirst {
			next = asc
		}
		switch data.Order {
		case asc:
			c.Sort, next = "ascending", desc
		case desc:
			c.Sort, next = "descending", asc
		}
		c.SortURL = link(url.Values{"order": {next}})
		return c
	}
	data.NameCol = sortCol("Run", "attributes.run_name", false)
	data.StartCol = sortCol("Started", "attributes.start_time", true)
	data.StatusCol = sortCol("Status", "attributes.status", false)
	for _, k := range params {
		data.ParamCols = append(data.ParamCols, sortCol(k, "params."+quoteKey(k), false))
	}
	for _, k := range metrics {
		c := sortCol(k, "metrics."+quoteKey(k), true)
		c.Num = true
		data.MetricCols = append(data.MetricCols, c)
	}

	for i := range res.Items {
		run := &res.Items[i]
		row := runRow{Info: run.Info, URL: "/runs/" + url.PathEscape(run.Info.RunID),
			Duration: fmtDuration(run.Info.StartTime, run.Info.EndTime)}
		for _, k := range params {
			v, _ := run.Param(k)
			row.Params = append(row.Params, v)
		}
		for _, k := range metrics {
			v, ok := run.Metric(k)
			s := ""
			if ok {
				s = fmtNum(v)
			}
			row.Metrics = append(row.Metrics, s)
		}
		data.Rows = append(data.Rows, row)
	}
	if res.NextPageToken != "" {
		data.Next = link(url.Values{"order": {data.Order}, "page_token": {res.NextPageToken}})
	}
	if q.Get("page_token") != "" {
		data.First = link(url.Values{"order": {data.Order}})
	}
	u.render(w, r, http.StatusOK, "runs", data)
}

// pageSize reads the n query parameter: the default when absent or bad, capped.
func pageSize(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		return defaultPageSize
	}
	return min(n, maxPageSize)
}

// runKeys returns the sorted param and metric keys of runs.
func runKeys(runs []tracking.Run) (params, metrics []string) {
	ps, ms := map[string]bool{}, map[string]bool{}
	for _, r := range runs {
		for _, p := range r.Data.Params {
			ps[p.Key] = true
		}
		for _, m := range r.Data.Metrics {
			ms[m.Key] = true
		}
	}
	return sortedKeys(ps), sortedKeys(ms)
}

func sortedKeys(m map[string]bool) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func capKeys(ks []string) []string {
	if len(ks) > maxDefaultCols {
		return ks[:maxDefaultCols]
	}
	return ks
}

// cleanKeys drops empty and repeated keys, keeping the order given.
func cleanKeys(ks []string) []string {
	var out []string
	for _, k := range ks {
		if k != "" && !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}

// quoteKey quotes a param or metric key for MLflow's grammar: in backticks, or
// in double quotes when it holds a backtick.
func quoteKey(k string) string {
	if strings.Contains(k, "`") {
		return `"` + strings.ReplaceAll(k, `"`, `\"`) + `"`
	}
	return "`" + k + "`"
}
