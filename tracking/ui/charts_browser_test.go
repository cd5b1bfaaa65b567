package ui_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// reopen opens the page's URL afresh: what a form test checks is what the
// URL the form made gives, on a page that nothing else is navigating.
func reopen(t *testing.T, b *tab) {
	t.Helper()
	b.open(t, b.location(t), "#plots")
}

// plotShape is what the browser sees of one plot: its kind, title, the
// run of each path and mark, axis labels and tick labels.
type plotShape struct {
	Kind     string   `json:"kind"`
	Title    string   `json:"title"`
	PathRuns []string `json:"pathRuns"`
	MarkRuns []string `json:"markRuns"`
	Labels   []string `json:"labels"` // axis labels (and parallel axes' names)
	Ticks    []string `json:"ticks"`
	Contours int      `json:"contours"`
	Cells    int      `json:"cells"`
}

const plotShapesJS = `Array.from(document.querySelectorAll("figure.plot")).map(f => ({
  kind: Array.from(f.classList).find(c => c.startsWith("plot-")).slice(5),
  title: f.querySelector("svg").getAttribute("aria-label"),
  pathRuns: Array.from(f.querySelectorAll("path.series")).map(p => p.dataset.run),
  markRuns: Array.from(f.querySelectorAll("circle.mark")).map(p => p.dataset.run),
  labels: Array.from(f.querySelectorAll("text.alabel, text.plabel")).map(t => t.firstChild ? t.firstChild.textContent : ""),
  ticks: Array.from(f.querySelectorAll("text.xtick, text.ytick, text.ptick")).map(t => t.textContent),
  contours: f.querySelectorAll("path.contour").length,
  cells: f.querySelectorAll("rect.cell").length,
}))`

// onePlot is the page's only plot of kind.
func onePlot(t *testing.T, b *tab, kind string) plotShape {
	t.Helper()
	ps := plotsOf(t, b, kind)
	if len(ps) != 1 {
		t.Fatalf("%d %s plots, want 1", len(ps), kind)
	}
	return ps[0]
}

func plotsOf(t *testing.T, b *tab, kind string) []plotShape {
	t.Helper()
	var out []plotShape
	for _, p := range eval[[]plotShape](t, b, plotShapesJS) {
		if p.Kind == kind {
			out = append(out, p)
		}
	}
	return out
}

func legendNames(t *testing.T, b *tab) []string {
	t.Helper()
	return eval[[]string](t, b, `Array.from(document.querySelectorAll("ol.legend li a")).map(a => a.textContent)`)
}

func distinct(ss []string) int {
	m := map[string]bool{}
	for _, s := range ss {
		m[s] = true
	}
	return len(m)
}

func containsAll(t *testing.T, what string, got []string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		found := false
		for _, g := range got {
			found = found || g == w
		}
		if !found {
			t.Errorf("%s %q lack %q", what, got, w)
		}
	}
}

// TestChartsBrowser drives Chromium through the run charts on a store filled
// like the lab fills it (three runs with 5-step histories, twelve trials of a
// search nested under rf-optimized) and on one of 130 runs: the compare
// page's charts, the step/time toggle, choosing the scatter's axes with and
// without JavaScript, hover highlighting, the search result's parallel plot
// and contour, and the cap. It asserts what the SVG carries (a path per run
// per metric, labels, legend names), not pixels, and saves screenshots.
func TestChartsBrowser(t *testing.T) {
	l := newLab(t)
	parent, trials := seedSearch(t, l)
	b := newTab(t, l.handler, true)
	labRuns := []string{"rf-baseline", "rf-tuned", "rf-optimized"}
	compare := "/compare?runs=" + l.runs["rf-baseline"].Info.RunID + "&runs=" + l.runs["rf-tuned"].Info.RunID + "&runs=" + l.runs["rf-optimized"].Info.RunID

	t.Run("CompareHistories", func(t *testing.T) {
		b.open(t, compare, "#plots")
		if got := legendNames(t, b); strings.Join(got, ",") != strings.Join(labRuns, ",") {
			t.Errorf("legend %q, want %q", got, labRuns)
		}
		hs := plotsOf(t, b, "history")
		if len(hs) != 2 {
			t.Fatalf("%d history charts, want 2 (r2, mse)", len(hs))
		}
		for _, h := range hs {
			// One path per run, each run once.
			if len(h.PathRuns) != 3 || distinct(h.PathRuns) != 3 {
				t.Errorf("%s: paths of runs %q, want one for each of 3 runs", h.Title, h.PathRuns)
			}
			containsAll(t, h.Title+" axis labels", h.Labels, "step", h.Title)
			containsAll(t, h.Title+" ticks", h.Ticks, "0", "4") // steps 0..4
		}
		b.shoot(t, "compare")
		b.narrow(t, "compare")
	})
	t.Run("CompareByTime", func(t *testing.T) {
		b.open(t, compare, "#xaxis")
		b.do(t, "toggle to time", click(chromedp.CSS(`#xaxis a`)), visible(chromedp.CSS(`#xaxis a[href$="`+l.runs["rf-optimized"].Info.RunID+`"]`)))
		if got := b.query(t).Get("xaxis"); got != "time" {
			t.Fatalf("xaxis=%q after the toggle", got)
		}
		for _, h := range plotsOf(t, b, "history") {
			containsAll(t, h.Title+" axis labels", h.Labels, "seconds since the run started")
			if len(h.PathRuns) != 3 {
				t.Errorf("%s by time: %d paths", h.Title, len(h.PathRuns))
			}
		}
		b.shoot(t, "compare-by-time")
	})
	t.Run("CompareParallel", func(t *testing.T) {
		b.open(t, compare, "#plots")
		ps := plotsOf(t, b, "parallel")
		if len(ps) != 1 {
			t.Fatalf("%d parallel plots", len(ps))
		}
		p := ps[0]
		// The params that differ, then the metric; the lab's runs have all.
		containsAll(t, "parallel axes", p.Labels, "max_depth", "n_estimators")
		if len(p.PathRuns) != 3 {
			t.Errorf("parallel plot: %d paths, want 3", len(p.PathRuns))
		}
		containsAll(t, "parallel ticks", p.Ticks, "5", "20")
	})
	t.Run("ScatterWithoutJavaScript", func(t *testing.T) {
		b.open(t, compare, "#scatter-form")
		// Values set without a change event, so charts.js does nothing: the
		// form's own button submits it, as without JavaScript.
		b.setQuietly(t, "x", "metrics.r2")
		b.setQuietly(t, "y", "metrics.mse")
		b.do(t, "send the scatter form", click(chromedp.CSS(`#scatter-form button[type="submit"]`)))
		b.waitQuery(t, "x", "metrics.r2")
		reopen(t, b)
		q := b.query(t)
		if q.Get("x") != "metrics.r2" || q.Get("y") != "metrics.mse" || len(q["runs"]) != 3 {
			t.Errorf("scatter URL %v", q)
		}
		s := onePlot(t, b, "scatter")
		if s.Title != "mse by r2" {
			t.Errorf("scatter %q, want mse by r2", s.Title)
		}
		if len(s.MarkRuns) != 3 || distinct(s.MarkRuns) != 3 {
			t.Errorf("scatter marks of runs %q", s.MarkRuns)
		}
		containsAll(t, "scatter labels", s.Labels, "r2", "mse")
		b.shoot(t, "compare-scatter")
	})
	t.Run("WithoutJavaScript", func(t *testing.T) {
		// Scripts off in the page (DevTools still reads it): every chart is
		// there, and nothing highlights.
		b.scripts(t, false)
		defer b.scripts(t, true)
		b.open(t, compare+"&xaxis=time", "#plots")
		for _, kind := range []string{"parallel", "scatter", "contour"} {
			onePlot(t, b, kind)
		}
		for _, h := range plotsOf(t, b, "history") {
			if len(h.PathRuns) != 3 {
				t.Errorf("%s without JavaScript: %d paths", h.Title, len(h.PathRuns))
			}
		}
		// The same hover as HoverHighlights: nothing happens, scripts are off.
		box := eval[[]float64](t, b, `(() => { const r = document.querySelector('ol.legend li[data-run="1"] a').getBoundingClientRect(); return [r.x + r.width/2, r.y + r.height/2] })()`)
		b.do(t, "hover rf-tuned", action("move the mouse", chromedp.MouseEvent(chromedp.MouseMoved, box[0], box[1])), action("wait 300 ms", chromedp.Sleep(300*time.Millisecond)))
		if n := eval[int](t, b, `document.querySelectorAll("#plots .hl").length`); n != 0 {
			t.Errorf("%d elements highlighted with scripts off", n)
		}
		b.do(t, "move the mouse away", action("move the mouse", chromedp.MouseEvent(chromedp.MouseMoved, 2, 2)))
	})
	t.Run("ScatterSelectSubmits", func(t *testing.T) {
		b.open(t, compare, "#scatter-form")
		// charts.js submits the form when a select changes.
		eval[bool](t, b, `(() => { const s = document.getElementById("x"); s.value = "params.max_depth"; s.dispatchEvent(new Event("change")); return true })()`)
		b.waitQuery(t, "x", "params.max_depth")
		reopen(t, b)
		s := onePlot(t, b, "scatter")
		if !strings.HasSuffix(s.Title, " by max_depth") {
			t.Errorf("scatter %q, want one by max_depth", s.Title)
		}
		containsAll(t, "scatter labels", s.Labels, "max_depth (param)")
	})
	t.Run("HoverHighlights", func(t *testing.T) {
		b.open(t, compare, "#plots")
		// Move the real mouse onto rf-tuned's legend entry.
		box := eval[[]float64](t, b, `(() => { const r = document.querySelector('ol.legend li[data-run="1"] a').getBoundingClientRect(); return [r.x + r.width/2, r.y + r.height/2] })()`)
		b.do(t, "hover rf-tuned", action("move the mouse", chromedp.MouseEvent(chromedp.MouseMoved, box[0], box[1])))
		b.wait(t, `document.getElementById("plots").classList.contains("hl-on")`)
		lit := eval[[]string](t, b, `Array.from(document.querySelectorAll("#plots .hl[data-run]")).map(e => e.dataset.run + ":" + e.tagName)`)
		// Its legend entry and its paths in 2 histories and the parallel plot, its marks in the scatter.
		want := map[string]bool{"1:LI": true, "1:path": true, "1:circle": true}
		for _, s := range lit {
			if !want[s] {
				t.Errorf("highlighted %s, only run 1 should be", s)
			}
		}
		if n := strings.Count(strings.Join(lit, " "), "1:path"); n < 3 {
			t.Errorf("%d paths of run 1 highlighted, want 3 or more: %q", n, lit)
		}
		b.shoot(t, "compare-hover")
		b.do(t, "move the mouse away", action("move the mouse", chromedp.MouseEvent(chromedp.MouseMoved, 2, 2)))
	})
	t.Run("SearchTrials", func(t *testing.T) {
		b.open(t, "/experiments/"+l.expID+"/charts?"+url.Values{
			"filter": {"tags.mlflow.parentRunId = '" + parent + "'"}, "order": {"metrics.cv_r2 DESC"}}.Encode(), "#plots")
		if got := legendNames(t, b); len(got) != len(trials) {
			t.Errorf("legend has %d runs, want %d: %q", len(got), len(trials), got)
		}
		p := onePlot(t, b, "parallel")
		if len(p.PathRuns) != len(trials) {
			t.Errorf("parallel plot: %d paths, want %d", len(p.PathRuns), len(trials))
		}
		containsAll(t, "parallel axes", p.Labels, "max_depth", "max_features", "n_estimators", "cv_r2")
		containsAll(t, "parallel ticks", p.Ticks, "None", "sqrt") // categorical axes
		c := plotsOf(t, b, "contour")
		if len(c) != 1 {
			t.Fatalf("%d contour plots", len(c))
		}
		if c[0].Cells == 0 || c[0].Contours == 0 || len(c[0].MarkRuns) != len(trials) {
			t.Errorf("contour: %d cells, %d lines, %d marks", c[0].Cells, c[0].Contours, len(c[0].MarkRuns))
		}
		containsAll(t, "contour labels", c[0].Labels, "n_estimators (param)")
		b.shoot(t, "search-trials")
		b.narrow(t, "search-trials")
	})
	t.Run("ContourChoice", func(t *testing.T) {
		b.open(t, "/experiments/"+l.expID+"/charts?"+url.Values{"filter": {"tags.mlflow.parentRunId = '" + parent + "'"}}.Encode(), "#contour-form")
		b.setQuietly(t, "cx", "params.max_features")
		b.setQuietly(t, "cy", "params.n_estimators")
		b.setQuietly(t, "cz", "metrics.cv_r2")
		b.do(t, "send the contour form", click(chromedp.CSS(`#contour-form button[type="submit"]`)))
		b.waitQuery(t, "cx", "params.max_features")
		reopen(t, b)
		if q := b.query(t); q.Get("filter") == "" {
			t.Errorf("the contour's form lost the filter: %v", q)
		}
		c := onePlot(t, b, "contour")
		if c.Title != "cv_r2 over max_features and n_estimators" {
			t.Errorf("contour %q", c.Title)
		}
		containsAll(t, "contour ticks", c.Ticks, "0.33", "sqrt")
		b.shoot(t, "search-contour")
	})

	big := newBigSearch(t, 130)
	bb := newTab(t, big.handler, true)
	t.Run("BigSearchCapped", func(t *testing.T) {
		bb.open(t, "/experiments/"+big.expID+"/charts?order="+url.QueryEscape("metrics.val_r2 DESC"), "#plots")
		if got := eval[string](t, bb, `document.getElementById("cap").textContent`); !strings.Contains(got, "first 100 runs") {
			t.Errorf("cap note %q", got)
		}
		if n := len(legendNames(t, bb)); n != 100 {
			t.Errorf("legend has %d runs, want 100", n)
		}
		hs := plotsOf(t, bb, "history")
		if len(hs) != 2 {
			t.Fatalf("%d history charts, want 2 (train_loss, val_r2)", len(hs))
		}
		for _, h := range hs {
			if len(h.PathRuns) != 100 || distinct(h.PathRuns) != 100 {
				t.Errorf("%s: %d paths of %d runs, want 100", h.Title, len(h.PathRuns), distinct(h.PathRuns))
			}
		}
		p := onePlot(t, bb, "parallel")
		containsAll(t, "parallel axes", p.Labels, "kind", "learning_rate", "max_depth", "val_r2")
		containsAll(t, "parallel ticks", p.Ticks, "forest", "gbt", "linear")
		c := onePlot(t, bb, "contour")
		if len(c.MarkRuns) != 100 || c.Contours == 0 {
			t.Errorf("contour: %d marks, %d lines", len(c.MarkRuns), c.Contours)
		}
		bb.shoot(t, "big-search")
	})
}

// TestRegistryBrowser opens a registered model as three runs of the register
// step leave it: the timeline shows every version's entries newest first,
// and setting an alias from the model page still goes through its
// confirmation.
func TestRegistryBrowser(t *testing.T) {
	l := newRegistryLab(t)
	b := newTab(t, l.handler, true)
	b.open(t, "/models/"+labModel, "#timeline")
	kinds := eval[[]string](t, b, `Array.from(document.querySelectorAll("#timeline li")).map(li => li.className.replace("ev ev-", ""))`)
	if len(kinds) != 12 || kinds[len(kinds)-1] != "registered" {
		t.Errorf("timeline entries %q, want 12 ending with the first registration", kinds)
	}
	times := eval[[]string](t, b, `Array.from(document.querySelectorAll("#timeline time")).map(t => t.textContent)`)
	for i := 1; i < len(times); i++ {
		if times[i] > times[i-1] { // "2006-01-02 15:04:05 UTC" sorts as text
			t.Errorf("entry %d (%s) is newer than entry %d (%s)", i, times[i], i-1, times[i-1])
		}
	}
	// Every version's source is its run, linked.
	if n := eval[int](t, b, `document.querySelectorAll('table a[title="run"]').length`); n != 3 {
		t.Errorf("%d run links in the versions table, want 3", n)
	}
	b.shoot(t, "model-timeline")
	b.narrow(t, "model-timeline")
	b.do(t, "set an alias",
		sendKeys(chromedp.ID("alias"), "staging-pick"),
		setValue(chromedp.ID("alias-version"), "3"),
		click(chromedp.CSS(`form.short[action$="/aliases"] button[type="submit"]`)),
		visible(chromedp.ID("confirm")),
	)
	if q := eval[string](t, b, `document.getElementById("question").textContent`); !strings.Contains(q, "@staging-pick") || !strings.Contains(q, "version 3") {
		t.Errorf("confirmation question %q", q)
	}
	b.do(t, "confirm", click(chromedp.ID("confirm")), visible(chromedp.CSS(".notice")))
	// The alias is the version's state now; it leaves no time of its own.
	if got := eval[string](t, b, `Array.from(document.querySelectorAll("#timeline li.ev-current")).map(li => li.textContent).join("|")`); !strings.Contains(got, "@staging-pick") {
		t.Errorf("the new alias is not on the timeline: %q", got)
	}
	b.shoot(t, "model-alias-set")
}
