package ui_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// browser is a headless Chromium tab on a test server, which records every
// console error and warning (a CSP violation among them) and every uncaught
// exception.
type browser struct {
	t        *testing.T
	ctx      context.Context
	base     string
	shots    string
	mu       sync.Mutex
	problems []string
	navs     []string // frame navigations with their times, logged when a test fails
}

// chartShots is where the chart tests save their screenshots: under
// $HOUSING_TEST_ARTIFACTS, or the repository's test-output/ (ignored by git).
func chartShots(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("HOUSING_TEST_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", "..", "test-output")
	}
	dir = filepath.Join(dir, "ui-charts")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("screenshot directory: %v", err)
	}
	return dir
}

func newBrowser(t *testing.T, h http.Handler) *browser {
	t.Helper()
	execPath := chromiumPath(t)
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	srv := httptest.NewServer(h) // 127.0.0.1
	t.Cleanup(srv.Close)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(execPath),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
	)
	t.Cleanup(cancelAlloc)
	ctx, cancelTab := chromedp.NewContext(actx)
	t.Cleanup(cancelTab)
	ctx, cancel := context.WithTimeout(ctx, 120*time.Second)
	t.Cleanup(cancel)
	b := &browser{t: t, ctx: ctx, base: srv.URL, shots: chartShots(t)}
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank"), chromedp.EmulateViewport(1280, 800)); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	navs := chromedp.Events(ctx, page.FrameNavigated)
	go func() {
		for ev, err := range navs {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.navs = append(b.navs, time.Now().Format("15:04:05.000")+" "+ev.Frame.URL)
			b.mu.Unlock()
		}
	}()
	logs := chromedp.Events(ctx, cdplog.EntryAdded)
	exceptions := chromedp.Events(ctx, runtime.ExceptionThrown)
	go func() {
		for ev, err := range logs {
			if err != nil {
				return
			}
			if ev.Entry.Level == cdplog.EntryLevelError || ev.Entry.Level == cdplog.EntryLevelWarning {
				b.problem(ev.Entry.Level.String() + ": " + ev.Entry.Text + " (" + ev.Entry.URL + ")")
			}
		}
	}()
	go func() {
		for ev, err := range exceptions {
			if err != nil {
				return
			}
			b.problem("exception: " + ev.ExceptionDetails.Text)
		}
	}()
	if _, err := chromedp.Call(ctx, cdplog.Enable, cdp.Empty{}); err != nil {
		t.Fatalf("enable log: %v", err)
	}
	t.Cleanup(func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		for _, p := range b.problems {
			t.Errorf("browser console: %s", p)
		}
		if t.Failed() {
			t.Logf("the tab's navigations:\n%s", strings.Join(b.navs, "\n"))
		}
		t.Logf("screenshots in %s", b.shots)
	})
	return b
}

func (b *browser) problem(s string) {
	b.mu.Lock()
	b.problems = append(b.problems, s)
	b.mu.Unlock()
}

// open navigates to path and waits for the selector ready. It goes by way of
// a blank page, so that no element of the page before, which a chart page
// shares with the next, can be taken for the new page's.
func (b *browser) open(t *testing.T, path, ready string) {
	t.Helper()
	if err := chromedp.Do(b.ctx, chromedp.Navigate("about:blank"), chromedp.Navigate(b.base+path), chromedp.WaitVisible(chromedp.CSS(ready))); err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
}

// evalChart returns the value of a JavaScript expression on the page.
func evalChart[T any](t *testing.T, b *browser, js string) T {
	t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

// do runs actions, failing the test on error.
func (b *browser) do(t *testing.T, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		t.Fatal(err)
	}
}

// shoot saves a full-page screenshot at 1280 px wide.
func (b *browser) shoot(t *testing.T, name string) {
	t.Helper()
	b.capture(t, name+"-1280")
}

// capture saves a full-page screenshot as name.png at the current viewport.
// It waits for the page's load first, and gives the capture 20 s: one that
// hangs fails the test rather than the whole run.
func (b *browser) capture(t *testing.T, name string) {
	t.Helper()
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](`document.readyState === "complete"`)); err != nil {
		t.Fatalf("screenshot %s: page not loaded: %v", name, err)
	}
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Errorf("screenshot %s: %v", name, err)
		return
	}
	if err := os.WriteFile(filepath.Join(b.shots, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// narrow checks at 390 px wide that the page does not scroll sideways (wide
// plots scale down, tables scroll in their own boxes), saves a screenshot,
// and goes back to 1280.
func (b *browser) narrow(t *testing.T, name string) {
	t.Helper()
	b.do(t, chromedp.EmulateViewport(390, 844))
	defer b.do(t, chromedp.EmulateViewport(1280, 800))
	if wide := evalChart[bool](t, b, `document.documentElement.scrollWidth > window.innerWidth + 1`); wide {
		t.Errorf("%s scrolls horizontally at 390 px wide", name)
	}
	b.capture(t, name+"-390")
}

// reopen opens the page's URL afresh: what a form test checks is what the
// URL the form made gives, on a page that nothing else is navigating.
func (b *browser) reopen(t *testing.T) {
	t.Helper()
	b.open(t, b.location(t).RequestURI(), "#plots")
}

// setQuietly sets the value of the select id as a person's choice would
// before the form is sent, but without the change event (chromedp's SetValue
// fires one, and charts.js submits the form on it).
func (b *browser) setQuietly(t *testing.T, id, value string) {
	t.Helper()
	js := `(() => { const e = document.getElementById(` + strconv.Quote(id) + `); e.value = ` + strconv.Quote(value) + `; return e.value })()`
	if got := evalChart[string](t, b, js); got != value {
		t.Fatalf("select #%s took %q, not %q", id, got, value)
	}
}

// location is the page's URL, parsed.
func (b *browser) location(t *testing.T) *url.URL {
	t.Helper()
	loc, err := chromedp.Run(b.ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	return u
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
func onePlot(t *testing.T, b *browser, kind string) plotShape {
	t.Helper()
	ps := plotsOf(t, b, kind)
	if len(ps) != 1 {
		t.Fatalf("%d %s plots, want 1", len(ps), kind)
	}
	return ps[0]
}

// waitQuery waits until the page's URL has the query parameter name=value:
// a form's submission has navigated (a plot of the old page may match what
// the new one should show).
func (b *browser) waitQuery(t *testing.T, name, value string) {
	t.Helper()
	js := `new URLSearchParams(location.search).get(` + strconv.Quote(name) + `) === ` + strconv.Quote(value) + ` && document.readyState === "complete"`
	// Polled from here, not in the page: the page being waited for replaces
	// the one a poll would run in.
	deadline := time.Now().Add(30 * time.Second)
	var err error
	for time.Now().Before(deadline) {
		var done bool
		if done, err = chromedp.Run(b.ctx, chromedp.Evaluate[bool](js)); err == nil && done {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("waiting for %s=%s in the URL: %v", name, value, err)
}

func plotsOf(t *testing.T, b *browser, kind string) []plotShape {
	t.Helper()
	var out []plotShape
	for _, p := range evalChart[[]plotShape](t, b, plotShapesJS) {
		if p.Kind == kind {
			out = append(out, p)
		}
	}
	return out
}

func legendNames(t *testing.T, b *browser) []string {
	t.Helper()
	return evalChart[[]string](t, b, `Array.from(document.querySelectorAll("ol.legend li a")).map(a => a.textContent)`)
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
	b := newBrowser(t, l.handler)
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
		b.do(t, chromedp.Click(chromedp.CSS(`#xaxis a`)), chromedp.WaitVisible(chromedp.CSS(`#xaxis a[href$="`+l.runs["rf-optimized"].Info.RunID+`"]`)))
		if got := b.location(t).Query().Get("xaxis"); got != "time" {
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
		b.do(t, chromedp.Click(chromedp.CSS(`#scatter-form button[type="submit"]`)))
		b.waitQuery(t, "x", "metrics.r2")
		b.reopen(t)
		q := b.location(t).Query()
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
		if _, err := chromedp.Call(b.ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
			t.Fatal(err)
		}
		defer chromedp.Call(b.ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: false})
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
		box := evalChart[[]float64](t, b, `(() => { const r = document.querySelector('ol.legend li[data-run="1"] a').getBoundingClientRect(); return [r.x + r.width/2, r.y + r.height/2] })()`)
		b.do(t, chromedp.MouseEvent(chromedp.MouseMoved, box[0], box[1]), chromedp.Sleep(300*time.Millisecond))
		if n := evalChart[int](t, b, `document.querySelectorAll("#plots .hl").length`); n != 0 {
			t.Errorf("%d elements highlighted with scripts off", n)
		}
		b.do(t, chromedp.MouseEvent(chromedp.MouseMoved, 2, 2))
	})
	t.Run("ScatterSelectSubmits", func(t *testing.T) {
		b.open(t, compare, "#scatter-form")
		// charts.js submits the form when a select changes.
		evalChart[bool](t, b, `(() => { const s = document.getElementById("x"); s.value = "params.max_depth"; s.dispatchEvent(new Event("change")); return true })()`)
		b.waitQuery(t, "x", "params.max_depth")
		b.reopen(t)
		s := onePlot(t, b, "scatter")
		if !strings.HasSuffix(s.Title, " by max_depth") {
			t.Errorf("scatter %q, want one by max_depth", s.Title)
		}
		containsAll(t, "scatter labels", s.Labels, "max_depth (param)")
	})
	t.Run("HoverHighlights", func(t *testing.T) {
		b.open(t, compare, "#plots")
		// Move the real mouse onto rf-tuned's legend entry.
		box := evalChart[[]float64](t, b, `(() => { const r = document.querySelector('ol.legend li[data-run="1"] a').getBoundingClientRect(); return [r.x + r.width/2, r.y + r.height/2] })()`)
		b.do(t, chromedp.MouseEvent(chromedp.MouseMoved, box[0], box[1]))
		if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](`document.getElementById("plots").classList.contains("hl-on")`)); err != nil {
			t.Fatalf("no highlight: %v", err)
		}
		lit := evalChart[[]string](t, b, `Array.from(document.querySelectorAll("#plots .hl[data-run]")).map(e => e.dataset.run + ":" + e.tagName)`)
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
		b.do(t, chromedp.MouseEvent(chromedp.MouseMoved, 2, 2))
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
		b.do(t, chromedp.Click(chromedp.CSS(`#contour-form button[type="submit"]`)))
		b.waitQuery(t, "cx", "params.max_features")
		b.reopen(t)
		if q := b.location(t).Query(); q.Get("filter") == "" {
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
	bb := newBrowser(t, big.handler)
	t.Run("BigSearchCapped", func(t *testing.T) {
		bb.open(t, "/experiments/"+big.expID+"/charts?order="+url.QueryEscape("metrics.val_r2 DESC"), "#plots")
		if got := evalChart[string](t, bb, `document.getElementById("cap").textContent`); !strings.Contains(got, "first 100 runs") {
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
	b := newBrowser(t, l.handler)
	b.open(t, "/models/"+labModel, "#timeline")
	kinds := evalChart[[]string](t, b, `Array.from(document.querySelectorAll("#timeline li")).map(li => li.className.replace("ev ev-", ""))`)
	if len(kinds) != 12 || kinds[len(kinds)-1] != "registered" {
		t.Errorf("timeline entries %q, want 12 ending with the first registration", kinds)
	}
	times := evalChart[[]string](t, b, `Array.from(document.querySelectorAll("#timeline time")).map(t => t.textContent)`)
	for i := 1; i < len(times); i++ {
		if times[i] > times[i-1] { // "2006-01-02 15:04:05 UTC" sorts as text
			t.Errorf("entry %d (%s) is newer than entry %d (%s)", i, times[i], i-1, times[i-1])
		}
	}
	// Every version's source is its run, linked.
	if n := evalChart[int](t, b, `document.querySelectorAll('table a[title="run"]').length`); n != 3 {
		t.Errorf("%d run links in the versions table, want 3", n)
	}
	b.shoot(t, "model-timeline")
	b.narrow(t, "model-timeline")
	b.do(t,
		chromedp.SendKeys(chromedp.ID("alias"), "staging-pick"),
		chromedp.SetValue(chromedp.ID("alias-version"), "3"),
		chromedp.Click(chromedp.CSS(`form.short[action$="/aliases"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.ID("confirm")),
	)
	if q := evalChart[string](t, b, `document.getElementById("question").textContent`); !strings.Contains(q, "@staging-pick") || !strings.Contains(q, "version 3") {
		t.Errorf("confirmation question %q", q)
	}
	b.do(t, chromedp.Click(chromedp.ID("confirm")), chromedp.WaitVisible(chromedp.CSS(".notice")))
	// The alias is the version's state now; it leaves no time of its own.
	if got := evalChart[string](t, b, `Array.from(document.querySelectorAll("#timeline li.ev-current")).map(li => li.textContent).join("|")`); !strings.Contains(got, "@staging-pick") {
		t.Errorf("the new alias is not on the timeline: %q", got)
	}
	b.shoot(t, "model-alias-set")
}
