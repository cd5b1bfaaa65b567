package ui

import (
	"cmp"
	"context"
	"math"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/mlops-lab/housing/tracking"
)

// The charts of a set of runs, shared by the compare page (runs chosen by
// hand) and the charts of a search result (an experiment and a filter).
// Every choice (step or time, the scatter's axes, the parallel plot's params
// and metric, the contour's params and metric) is a query parameter, chosen
// by plain GET forms and links, so the charts work without JavaScript; the
// page's state is the URL.

// Query parameters of the charts.
const (
	qXAxis    = "xaxis" // histories by "step" (default) or "time"
	qScatterX = "x"     // the scatter's x: params.KEY or metrics.KEY
	qScatterY = "y"     // the scatter's metric
	qParams   = "pc"    // the parallel plot's params (repeated)
	qParMet   = "pm"    // the parallel plot's metric
	qContourX = "cx"
	qContourY = "cy"
	qContourZ = "cz"
)

var chartParams = []string{qXAxis, qScatterX, qScatterY, qParams, qParMet, qContourX, qContourY, qContourZ}

// Limits of the charts.
const (
	maxChartRuns      = 100 // runs of a search result charted
	maxParallelParams = 8   // params on the parallel plot by default
	maxCategories     = 6   // a param with more distinct non-numeric values is not a default axis
	historyWorkers    = 4   // metric histories read at once
)

// field is a param or a metric of runs.
type field struct {
	Kind string // "params" or "metrics"
	Key  string
}

// Ident is how the field is named in the URL and in MLflow's filter grammar.
func (f field) Ident() string { return f.Kind + "." + f.Key }

// Label names the field on an axis.
func (f field) Label() string {
	if f.Kind == "params" {
		return f.Key + " (param)"
	}
	return f.Key
}

// parseField reads params.KEY or metrics.KEY; a bare key is a param when the
// runs have such a param, else a metric (the compare page's older links).
func parseField(s string, params, metrics []string) (field, bool) {
	if k, ok := strings.CutPrefix(s, "params."); ok && slices.Contains(params, k) {
		return field{"params", k}, true
	}
	if k, ok := strings.CutPrefix(s, "metrics."); ok && slices.Contains(metrics, k) {
		return field{"metrics", k}, true
	}
	if slices.Contains(params, s) {
		return field{"params", s}, true
	}
	if slices.Contains(metrics, s) {
		return field{"metrics", s}, true
	}
	return field{}, false
}

// valuesOf returns the runs' values of f.
func valuesOf(runs []tracking.Run, f field) runValues {
	rv := runValues{Field: f, Values: make([]string, len(runs)), Has: make([]bool, len(runs))}
	for i := range runs {
		if f.Kind == "params" {
			rv.Values[i], rv.Has[i] = runs[i].Param(f.Key)
			continue
		}
		if v, ok := runs[i].Metric(f.Key); ok {
			rv.Values[i], rv.Has[i] = fmtNum(v), true
		}
	}
	return rv
}

// chartsView is what the "plots" template draws.
type chartsView struct {
	Action string         // where the forms go
	Keep   []tracking.Tag // the fields that select the runs (runs=..., or filter and order)
	Runs   []plotRun
	state  url.Values

	ByTime           bool
	StepURL, TimeURL string
	Histories        []*plot
	OnePoint         []string // metrics logged once per run: no history chart

	Params, Metrics []field
	ScatterX        field
	ScatterY        field
	Scatter         *plot
	ParallelParams  []string // chosen param keys
	ParallelMetric  field
	Parallel        *plot
	ContourX        field
	ContourY        field
	ContourZ        field
	Contour         *plot
}

// Hidden returns the hidden fields a chart's form carries: the run selection
// and every other chart's choice, so that changing one keeps the others.
func (v *chartsView) Hidden(except ...string) []tracking.Tag {
	out := slices.Clone(v.Keep)
	for _, k := range chartParams {
		if slices.Contains(except, k) {
			continue
		}
		for _, val := range v.state[k] {
			out = append(out, tracking.Tag{Key: k, Value: val})
		}
	}
	return out
}

// link returns the page's URL with the chart choice name set to value.
func (v *chartsView) link(name, value string) string {
	q := url.Values{}
	for _, t := range v.Hidden(name) {
		q.Add(t.Key, t.Value)
	}
	if value != "" {
		q.Set(name, value)
	}
	if e := q.Encode(); e != "" {
		return v.Action + "?" + e
	}
	return v.Action
}

// Chosen tells whether param key is on the parallel plot (for its checkboxes).
func (v *chartsView) Chosen(key string) bool { return slices.Contains(v.ParallelParams, key) }

// runCharts builds the charts of runs from the choices in q. defaultMetric,
// when the runs have it, is the metric the charts start with (a search
// ordered by a metric).
func (u *UI) runCharts(ctx context.Context, runs []tracking.Run, q url.Values, action string, keep []tracking.Tag, defaultMetric string) (*chartsView, error) {
	v := &chartsView{Action: action, Keep: keep, state: url.Values{}}
	for i, r := range runs {
		name := r.Info.RunName
		if name == "" {
			name = r.Info.RunID
		}
		v.Runs = append(v.Runs, plotRun{Index: i, ID: r.Info.RunID, Name: name, URL: "/runs/" + url.PathEscape(r.Info.RunID), Class: runClass(i)})
	}
	paramKeys, metricKeys := runKeys(runs)
	for _, k := range paramKeys {
		v.Params = append(v.Params, field{"params", k})
	}
	for _, k := range metricKeys {
		v.Metrics = append(v.Metrics, field{"metrics", k})
	}

	v.ByTime = q.Get(qXAxis) == "time"
	if v.ByTime {
		v.state.Set(qXAxis, "time")
	}
	if err := u.histories(ctx, runs, metricKeys, v); err != nil {
		return nil, err
	}
	if len(metricKeys) > 0 {
		v.choose(runs, q, paramKeys, metricKeys, defaultMetric)
	}
	v.StepURL, v.TimeURL = v.link(qXAxis, ""), v.link(qXAxis, "time")
	return v, nil
}

// choose reads the choices of the scatter, the parallel plot and the contour
// from q (the defaults where q has none or names what the runs lack) and
// draws them; the runs have metrics.
func (v *chartsView) choose(runs []tracking.Run, q url.Values, paramKeys, metricKeys []string, defaultMetric string) {
	metric := func(name, fallback string) field {
		if f, ok := parseField(q.Get(name), nil, metricKeys); ok {
			v.state.Set(name, f.Ident())
			return f
		}
		f, _ := parseField(fallback, nil, metricKeys)
		return f
	}
	dm := mostCommonMetric(runs, metricKeys)
	if slices.Contains(metricKeys, defaultMetric) {
		dm = defaultMetric
	}
	varying := varyingParams(runs, paramKeys)
	explaining := byCorrelation(runs, varying, dm)

	// The scatter: any param or metric against a metric.
	v.ScatterY = metric(qScatterY, dm)
	if f, ok := parseField(q.Get(qScatterX), paramKeys, metricKeys); ok {
		v.ScatterX = f
		v.state.Set(qScatterX, f.Ident())
	} else if len(explaining) > 0 {
		v.ScatterX = field{"params", explaining[0]}
	} else if len(paramKeys) > 0 {
		v.ScatterX = field{"params", paramKeys[0]}
	} else {
		v.ScatterX = field{"metrics", metricKeys[0]}
	}
	v.Scatter = scatterPlot(valuesOf(runs, v.ScatterX), valuesOf(runs, v.ScatterY), v.Runs)

	// Parallel coordinates: the chosen params (or those that vary), the metric last.
	v.ParallelMetric = metric(qParMet, dm)
	for _, k := range cleanKeys(q[qParams]) {
		if slices.Contains(paramKeys, k) {
			v.ParallelParams = append(v.ParallelParams, k)
			v.state.Add(qParams, k)
		}
	}
	if len(v.ParallelParams) == 0 {
		v.ParallelParams = varying[:min(len(varying), maxParallelParams)]
	}
	var axes []runValues
	for _, k := range v.ParallelParams {
		axes = append(axes, valuesOf(runs, field{"params", k}))
	}
	v.Parallel = parallelPlot(append(axes, valuesOf(runs, v.ParallelMetric)), v.Runs)

	// The contour: two params against a metric.
	if len(paramKeys) >= 2 {
		v.ContourZ = metric(qContourZ, dm)
		candidates := slices.Clone(explaining)
		for _, k := range paramKeys {
			if !slices.Contains(candidates, k) {
				candidates = append(candidates, k)
			}
		}
		// The default y is the first candidate that spreads the runs over
		// three or more (x, y) points with x, when one does: in a search by
		// successive halving the tree count follows the round, and a plane of
		// those two is a line.
		pick := func(name string, x field) field {
			if f, ok := parseField(q.Get(name), paramKeys, nil); ok && f.Kind == "params" {
				v.state.Set(name, f.Ident())
				return f
			}
			var first field
			for _, k := range candidates {
				if k == x.Key {
					continue
				}
				f := field{"params", k}
				if x.Key == "" || distinctPoints(runs, x, f) >= 3 {
					return f
				}
				if first.Key == "" {
					first = f
				}
			}
			return first
		}
		v.ContourX = pick(qContourX, field{})
		v.ContourY = pick(qContourY, v.ContourX)
		v.Contour = contourPlot(valuesOf(runs, v.ContourX), valuesOf(runs, v.ContourY), valuesOf(runs, v.ContourZ), v.Runs)
	}
}

// distinctPoints counts the distinct (x, y) values of the runs that have both.
func distinctPoints(runs []tracking.Run, x, y field) int {
	xs, ys := valuesOf(runs, x), valuesOf(runs, y)
	seen := map[[2]string]bool{}
	for i := range runs {
		if xs.Has[i] && ys.Has[i] {
			seen[[2]string{xs.Values[i], ys.Values[i]}] = true
		}
	}
	return len(seen)
}

// byCorrelation orders params for the default axes: the numeric ones first,
// by how strongly they correlate with the metric across the runs (|Pearson
// r|, the strongest first), then the others as given.
func byCorrelation(runs []tracking.Run, params []string, metric string) []string {
	type scored struct {
		key string
		r   float64
	}
	var numeric []scored
	var other []string
	for _, k := range params {
		if !allNumeric(runs, k) {
			other = append(other, k)
			continue
		}
		var xs, ys []float64
		for i := range runs {
			p, okp := runs[i].Param(k)
			m, okm := runs[i].Metric(metric)
			x, num := parseNum(p)
			if okp && okm && num && finite(m) {
				xs, ys = append(xs, x), append(ys, m)
			}
		}
		numeric = append(numeric, scored{k, math.Abs(pearson(xs, ys))})
	}
	slices.SortStableFunc(numeric, func(a, b scored) int { return cmp.Compare(b.r, a.r) })
	out := make([]string, 0, len(params))
	for _, s := range numeric {
		out = append(out, s.key)
	}
	return append(out, other...)
}

// histories reads every run's history of every metric and draws one chart
// per metric that some run logged more than once; the others are listed in
// v.OnePoint. The reads go a few at a time: a search result of a hundred
// runs with twenty metrics is two thousand of them.
func (u *UI) histories(ctx context.Context, runs []tracking.Run, metricKeys []string, v *chartsView) error {
	type job struct{ run, metric int }
	var jobs []job
	for m, key := range metricKeys {
		for i := range runs {
			if _, ok := runs[i].Metric(key); ok {
				jobs = append(jobs, job{i, m})
			}
		}
	}
	results := make([]runHistory, len(jobs))
	errs := make([]error, len(jobs))
	next := make(chan int)
	var wg sync.WaitGroup
	for range historyWorkers {
		wg.Go(func() {
			for k := range next {
				j := jobs[k]
				run := &runs[j.run]
				page, err := u.store.GetMetricHistory(ctx, run.Info.RunID, metricKeys[j.metric], maxHistoryPoints, "")
				if err != nil {
					errs[k] = err
					continue
				}
				h := runHistory{Run: j.run, Xs: make([]float64, len(page.Items)), Ys: make([]float64, len(page.Items))}
				start := run.Info.StartTime
				if start == 0 && len(page.Items) > 0 {
					start = page.Items[0].Timestamp
				}
				for i, m := range page.Items {
					h.Ys[i] = m.Value
					if v.ByTime {
						h.Xs[i] = float64(m.Timestamp-start) / 1000
					} else {
						h.Xs[i] = float64(m.Step)
					}
				}
				results[k] = h
			}
		})
	}
	for k := range jobs {
		next <- k
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	xLabel := "step"
	if v.ByTime {
		xLabel = "seconds since the run started"
	}
	for m, key := range metricKeys {
		var hs []runHistory
		many := false
		for k, j := range jobs {
			if j.metric == m {
				hs = append(hs, results[k])
				many = many || len(results[k].Xs) > 1
			}
		}
		if !many {
			v.OnePoint = append(v.OnePoint, key)
			continue
		}
		v.Histories = append(v.Histories, historyPlot(key, xLabel, hs, v.Runs))
	}
	return nil
}

// mostCommonMetric is the metric most runs have, the first by name on a tie.
func mostCommonMetric(runs []tracking.Run, keys []string) string {
	best, n := "", -1
	for _, k := range keys {
		c := 0
		for i := range runs {
			if _, ok := runs[i].Metric(k); ok {
				c++
			}
		}
		if c > n {
			best, n = k, c
		}
	}
	return best
}

// varyingParams are the params that take two or more values across the runs
// and are worth an axis: numbers, or at most maxCategories distinct values
// (a run's own name, say, is not).
func varyingParams(runs []tracking.Run, keys []string) []string {
	var out []string
	for _, k := range keys {
		seen := map[string]bool{}
		for i := range runs {
			if v, ok := runs[i].Param(k); ok {
				seen[v] = true
			}
		}
		if len(seen) < 2 || (len(seen) > maxCategories && !allNumeric(runs, k)) {
			continue
		}
		out = append(out, k)
	}
	return out
}

// allNumeric tells whether every run's value of param k is a number.
func allNumeric(runs []tracking.Run, k string) bool {
	for i := range runs {
		if v, ok := runs[i].Param(k); ok {
			if _, num := parseNum(v); !num {
				return false
			}
		}
	}
	return true
}
