package ui_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/mlops-lab/housing/tracking"
)

// figures splits a page into its plots (the <figure class="chart plot ...">
// elements), by kind.
func figures(body string) map[string][]string {
	out := map[string][]string{}
	re := regexp.MustCompile(`(?s)<figure class="chart plot plot-(\w+)">.*?</figure>`)
	for _, m := range re.FindAllStringSubmatch(body, -1) {
		out[m[1]] = append(out[m[1]], m[0])
	}
	return out
}

func TestCompareCharts(t *testing.T) {
	l := newLab(t)
	a, b, c := l.runs["rf-baseline"].Info.RunID, l.runs["rf-tuned"].Info.RunID, l.runs["rf-optimized"].Info.RunID
	target := "/compare?runs=" + a + "&runs=" + b + "&runs=" + c
	t.Run("OK", func(t *testing.T) {
		res, body := l.get(t, target)
		wantStatus(t, res, http.StatusOK)
		mustContain(t, body, "Compare 3 runs",
			`<tr class="differs"><th scope="row">max_depth`,
			`<td class="num">0.6469</td>`, `<td class="num">0.8145</td>`,
			`<rect class="bar"`)
		mustContain(t, body, `<tr><th scope="row">model_type`) // the same for all: not highlighted
		figs := figures(body)
		// r2 and mse have histories of 5 steps: one chart each, one path per run.
		if len(figs["history"]) != 2 {
			t.Fatalf("%d history charts, want 2", len(figs["history"]))
		}
		for _, f := range figs["history"] {
			if n := strings.Count(f, `<path class="series`); n != 3 {
				t.Errorf("history chart has %d paths, want 3:\n%s", n, f)
			}
			mustContain(t, f, ">step</text>")
		}
		// Parallel coordinates: the params that vary (max_depth, n_estimators) and the metric.
		if len(figs["parallel"]) != 1 || strings.Count(figs["parallel"][0], `class="paxis"`) != 3 {
			t.Errorf("parallel plot: %q", figs["parallel"])
		}
		if n := strings.Count(figs["scatter"][0], `<circle class="mark`); n != 3 {
			t.Errorf("scatter has %d marks, want 3", n)
		}
		mustContain(t, body, `<span class="key rc0"`, `>rf-baseline</a></li>`, `>rf-optimized</a></li>`,
			`<a href="/experiments/`+l.expID+`/charts" id="all-charts">`)
	})
	t.Run("ByTime", func(t *testing.T) {
		_, body := l.get(t, target+"&xaxis=time")
		for _, f := range figures(body)["history"] {
			mustContain(t, f, ">seconds since the run started</text>")
		}
		// The toggle back is a link that keeps the runs.
		mustContain(t, body, `<a href="/compare?runs=`+a+`&amp;runs=`+b+`&amp;runs=`+c+`">by step</a>`)
	})
	t.Run("ChosenScatter", func(t *testing.T) {
		_, body := l.get(t, target+"&x=metrics.r2&y=metrics.mse")
		mustContain(t, body, `aria-label="mse by r2"`, `<option value="metrics.r2" selected>`,
			// The other forms carry the scatter's choice.
			`<input type="hidden" name="x" value="metrics.r2">`)
		// The older links name a bare param.
		_, body = l.get(t, target+"&x=n_estimators&y=mse")
		mustContain(t, body, `aria-label="mse by n_estimators"`)
	})
	t.Run("NoMetrics", func(t *testing.T) {
		var ids []string
		for _, name := range []string{"empty-1", "empty-2"} {
			run, err := l.store.CreateRun(context.Background(), tracking.CreateRun{ExperimentID: l.expID, RunName: name})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, run.Info.RunID)
		}
		res, body := l.get(t, "/compare?runs="+ids[0]+"&runs="+ids[1])
		wantStatus(t, res, http.StatusOK)
		mustContain(t, body, ">empty-1</a></li>", "No metric was logged more than once",
			`<a href="/compare?runs=`+ids[0]+`&amp;runs=`+ids[1]+`&amp;xaxis=time">by time</a>`)
		mustNotContain(t, body, `id="scatter-form"`)
	})
	t.Run("OneRun", func(t *testing.T) {
		res, body := l.get(t, "/compare?runs="+a)
		wantStatus(t, res, http.StatusBadRequest)
		mustContain(t, body, "two or more runs")
	})
}

func TestSearchCharts(t *testing.T) {
	l := newLab(t)
	parent, trials := seedSearch(t, l)
	filter := "tags.mlflow.parentRunId = '" + parent + "'"
	base := "/experiments/" + l.expID + "/charts"
	t.Run("Trials", func(t *testing.T) {
		res, body := l.get(t, base+"?"+url.Values{"filter": {filter}, "order": {"metrics.cv_r2 DESC"}}.Encode())
		wantStatus(t, res, http.StatusOK)
		mustContain(t, body, "Every run of this search is charted (12", "rf-optimized-trial-5-r3")
		figs := figures(body)
		// cv_r2 is logged once per trial: no history, a note instead.
		if len(figs["history"]) != 0 {
			t.Errorf("%d history charts, want none", len(figs["history"]))
		}
		mustContain(t, body, `id="one-point"`, "<code>cv_r2</code>")
		// The search is ordered by cv_r2: the charts start with it.
		mustContain(t, body, `aria-label="Parallel coordinates of cv_r2"`)
		if n := strings.Count(figs["parallel"][0], `<path class="series`); n != len(trials) {
			t.Errorf("parallel plot has %d paths, want %d", n, len(trials))
		}
		// max_depth has "None": a categorical axis with its three values.
		mustContain(t, figs["parallel"][0], ">None</text>", ">max_features<title>")
		if len(figs["contour"]) != 1 || !strings.Contains(figs["contour"][0], `<path class="contour"`) {
			t.Fatalf("no contour lines: %q", figs["contour"])
		}
		if n := strings.Count(figs["contour"][0], `<circle class="mark`); n != len(trials) {
			t.Errorf("contour has %d marks, want %d", n, len(trials))
		}
	})
	t.Run("BadFilter", func(t *testing.T) {
		res, body := l.get(t, base+"?filter="+url.QueryEscape("metrics.r2 >< 1"))
		wantStatus(t, res, http.StatusOK)
		mustContain(t, body, `id="filter-error"`, `aria-invalid="true"`)
	})
	t.Run("Capped", func(t *testing.T) {
		big := newBigSearch(t, 130)
		rec, body := getFrom(t, big.handler, "/experiments/"+big.expID+"/charts")
		wantStatus(t, rec, http.StatusOK)
		mustContain(t, body, "The first 100 runs of this search are charted; more match.")
		for _, f := range figures(body)["history"] {
			if n := strings.Count(f, `<path class="series`); n != 100 {
				t.Errorf("history chart has %d paths, want 100", n)
			}
		}
	})
}
