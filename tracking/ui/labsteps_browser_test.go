package ui_test

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserLabSteps drives the UI that cmd/tracking-server serves over a
// store the lab's own steps filled (newStepsLab), in Chromium: the runs
// table with rf-optimized's trials folded under it and their durations
// (their cross-validation's own times); the compare and search-result charts;
// the run page's metrics, nested runs, artifact tree, inline image and the
// models it produced, the logged model's MLmodel as text; and the registered
// model's versions, stages, alias and the promotion timeline the register
// step left, with an alias set through the form's confirmation. It asserts
// what the steps logged, read back through the server's REST API, and saves
// screenshots.
func TestBrowserLabSteps(t *testing.T) {
	l := newStepsLab(t)
	b := newTabAt(t, l.uri, true)
	exp := "/experiments/" + l.expID
	opt := l.runs["rf-optimized"]
	parent := opt.Info.RunID
	trialNames := make([]string, len(l.trials))
	for i, tr := range l.trials {
		trialNames[i] = "  " + tr.Info.RunName
	}
	slices.Sort(trialNames)

	t.Run("RunsTable", func(t *testing.T) {
		b.open(t, exp, "table.runs")
		top := eval[[]string](t, b, rowNames)
		for _, want := range append(slices.Clone(labTopLevel), "ingest") {
			if !slices.Contains(top, want) {
				t.Errorf("top-level rows %q lack %s", top, want)
			}
		}
		if len(top) != 4 {
			t.Errorf("top-level rows %q, want the ingest run and the three trained ones, trials folded", top)
		}
		if got := b.text(t, `a.toggle[data-run="`+parent+`"] .count`); got != strconv.Itoa(len(l.trials)) {
			t.Errorf("rf-optimized's nested count %q, want %d", got, len(l.trials))
		}
		b.shoot(t, "runs-folded")
		b.do(t, "open rf-optimized", click(chromedp.CSS(`a.toggle[data-run="`+parent+`"]`)))
		b.wait(t, fmt.Sprintf(`document.querySelectorAll("tr.child:not([hidden])").length === %d`, len(l.trials)))
		got := slices.DeleteFunc(eval[[]string](t, b, rowNames), func(s string) bool { return !strings.HasPrefix(s, "  ") })
		slices.Sort(got)
		if !slices.Equal(got, trialNames) {
			t.Errorf("nested rows %q, want rf-optimized's trials %q", got, trialNames)
		}
		// Each trial lasts its cross-validation, within its search's run:
		// long enough to mean something, and shown as the store has it.
		col := eval[int](t, b, `Array.from(document.querySelectorAll("table.runs thead tr:last-child th")).findIndex(th => th.textContent.trim() === "Duration")`)
		shown := map[string]string{}
		for _, kv := range eval[[][]string](t, b, fmt.Sprintf(`Array.from(document.querySelectorAll("tr.child")).map(tr => [tr.querySelector("td.name > a:last-of-type").textContent, tr.children[%d].textContent.trim()])`, col)) {
			shown[kv[0]] = kv[1]
		}
		for _, tr := range l.trials {
			d := tr.Info.EndTime - tr.Info.StartTime
			if d < 5 || tr.Info.StartTime < opt.Info.StartTime || tr.Info.EndTime > opt.Info.EndTime {
				t.Errorf("trial %s ran %d..%d (%d ms), want a real cross-validation's time inside rf-optimized's %d..%d",
					tr.Info.RunName, tr.Info.StartTime, tr.Info.EndTime, d, opt.Info.StartTime, opt.Info.EndTime)
			}
			if want := fmt.Sprintf("%dms", d); d < 1000 && shown[tr.Info.RunName] != want {
				t.Errorf("trial %s's duration cell %q, want %q", tr.Info.RunName, shown[tr.Info.RunName], want)
			}
		}
		b.shoot(t, "runs-open")
	})

	labIDs := make([]string, len(labTopLevel))
	for i, name := range labTopLevel {
		labIDs[i] = l.runs[name].Info.RunID
	}
	compare := "/compare?" + url.Values{"runs": labIDs}.Encode()
	t.Run("CompareCharts", func(t *testing.T) {
		b.open(t, compare, "#plots")
		legend := legendNames(t, b)
		slices.Sort(legend)
		if want := slices.Sorted(slices.Values(labTopLevel)); !slices.Equal(legend, want) {
			t.Errorf("legend %q, want %q", legend, want)
		}
		// r2 is logged as trees are added: a history of each run.
		var r2 *plotShape
		for _, h := range plotsOf(t, b, "history") {
			if h.Title == "r2" {
				r2 = &h
			}
		}
		if r2 == nil || len(r2.PathRuns) != 3 || distinct(r2.PathRuns) != 3 {
			t.Fatalf("r2 history chart %+v, want a path for each of the 3 runs", r2)
		}
		containsAll(t, "r2 chart's labels", r2.Labels, "step", "r2")
		p := onePlot(t, b, "parallel")
		containsAll(t, "parallel axes", p.Labels, "max_depth", "n_estimators")
		if len(p.PathRuns) != 3 {
			t.Errorf("parallel plot: %d paths, want 3", len(p.PathRuns))
		}
		if s := onePlot(t, b, "scatter"); len(s.MarkRuns) != 3 {
			t.Errorf("scatter %q: %d marks, want 3", s.Title, len(s.MarkRuns))
		}
		b.shoot(t, "compare")
	})
	t.Run("SearchTrialCharts", func(t *testing.T) {
		b.open(t, exp+"/charts?"+url.Values{"filter": {"tags.mlflow.parentRunId = '" + parent + "'"}, "order": {"metrics.cv_r2 DESC"}}.Encode(), "#plots")
		if got := legendNames(t, b); len(got) != len(l.trials) {
			t.Errorf("legend %q, want the %d trials", got, len(l.trials))
		}
		p := onePlot(t, b, "parallel")
		if len(p.PathRuns) != len(l.trials) {
			t.Errorf("parallel plot: %d paths, want %d", len(p.PathRuns), len(l.trials))
		}
		containsAll(t, "parallel axes", p.Labels, "n_estimators", "cv_r2")
		if s := onePlot(t, b, "scatter"); len(s.MarkRuns) != len(l.trials) {
			t.Errorf("scatter %q: %d marks, want %d", s.Title, len(s.MarkRuns), len(l.trials))
		}
		c := onePlot(t, b, "contour")
		if c.Cells == 0 || c.Contours == 0 || len(c.MarkRuns) != len(l.trials) {
			t.Errorf("contour %q: %d cells, %d lines, %d marks", c.Title, c.Cells, c.Contours, len(c.MarkRuns))
		}
		b.shoot(t, "search-trials")
	})

	page := "/runs/" + parent
	t.Run("RunPage", func(t *testing.T) {
		b.open(t, page, "#metrics")
		// r2 has a point per tree count: a chart, not a table row; the
		// one-point metrics are in the table.
		table := eval[[]string](t, b, `Array.from(document.querySelectorAll("#metrics tbody th")).map(th => th.textContent)`)
		if slices.Contains(table, "r2") || !slices.Contains(table, "rmse") || !slices.Contains(table, "train_r2") {
			t.Errorf("metrics table %q, want rmse and train_r2 and not r2", table)
		}
		if got := eval[[]string](t, b, `Array.from(document.querySelectorAll(".history svg")).map(s => s.getAttribute("aria-label"))`); !slices.Equal(got, []string{"r2"}) {
			t.Errorf("history charts %q, want r2", got)
		}
		nested := eval[[]string](t, b, `Array.from(document.querySelectorAll("#nested td.name a")).map(a => "  " + a.textContent)`)
		slices.Sort(nested)
		if !slices.Equal(nested, trialNames) {
			t.Errorf("nested runs %q, want %q", nested, trialNames)
		}
		if got := b.text(t, "#h-versions + ul"); !strings.Contains(got, l.model+" v"+l.versions[parent]) || !strings.Contains(got, "Production") {
			t.Errorf("registered versions %q, want %s v%s in Production", got, l.model, l.versions[parent])
		}
		if got := b.text(t, "#h-outputs + ul"); !strings.Contains(got, "m-") {
			t.Errorf("logged models %q, want the model train logged", got)
		}
		b.shoot(t, "run")
	})
	t.Run("RunArtifacts", func(t *testing.T) {
		b.open(t, page, "#artifacts .tree")
		files := eval[[]string](t, b, `Array.from(document.querySelectorAll(".tree a[href*='artifact=']")).map(a => a.textContent)`)
		for _, want := range []string{"predicted_vs_actual.png", "residuals.png", "feature_importances.png", "r2_vs_trees.png"} {
			if !slices.Contains(files, want) {
				t.Errorf("artifact tree %q lacks %s", files, want)
			}
		}
		b.do(t, "fold plots/", click(chromedp.CSS(`.tree details summary`)))
		b.wait(t, `!document.querySelector(".tree details").open && !document.querySelector(".tree details a").checkVisibility()`)
		b.do(t, "open plots/", click(chromedp.CSS(`.tree details summary`)))
		b.do(t, "choose predicted_vs_actual.png", click(chromedp.CSS(`.tree a[href*="artifact=`+url.QueryEscape("plots/predicted_vs_actual.png")+`"]`)), visible(chromedp.CSS(".preview img")))
		// The step's matplotlib-sized PNG, loaded through the server's artifact proxy.
		b.wait(t, `document.querySelector(".preview img").complete && document.querySelector(".preview img").naturalWidth > 200`)
		b.shoot(t, "run-artifact-png")
	})
	t.Run("LoggedModelMLmodel", func(t *testing.T) {
		b.open(t, page, "#h-outputs")
		b.do(t, "open the logged model", click(chromedp.CSS(`#h-outputs + ul a[href^="/logged-models/"]`)), visible(chromedp.CSS("#artifacts .tree")))
		b.do(t, "choose MLmodel", click(chromedp.CSS(`.tree a[href*="artifact=MLmodel"]`)), visible(chromedp.CSS("pre.file")))
		got := b.text(t, "pre.file")
		for _, want := range []string{"flavors:", "run_id: " + parent, "model_id: m-"} {
			if !strings.Contains(got, want) {
				t.Errorf("MLmodel shows %q, want %q in it", got[:min(len(got), 300)], want)
			}
		}
		b.shoot(t, "logged-model-mlmodel")
	})
	t.Run("Registry", func(t *testing.T) {
		// rf-baseline was registered first; the run compare picked beat it.
		if l.best == l.runs["rf-baseline"].Info.RunID {
			t.Fatalf("compare picked rf-baseline, the first champion: no promotion to show")
		}
		b.open(t, "/models/"+l.model, "#timeline")
		rows := eval[[]string](t, b, `Array.from(document.querySelectorAll("#h-versions ~ .scroll tbody tr")).map(tr => Array.from(tr.children).slice(0, 3).map(td => td.textContent.trim()).join(" | ").trim())`)
		want := []string{"Version 2 | Production | @champion", "Version 1 | Archived |"}
		if !slices.Equal(rows, want) {
			t.Errorf("versions %q, want %q", rows, want)
		}
		if n := eval[int](t, b, `document.querySelectorAll('#h-versions ~ .scroll a[title="run"]').length`); n != 2 {
			t.Errorf("%d versions link their run, want 2", n)
		}
		events := b.text(t, "#timeline")
		for _, want := range []string{"v2 entered Production", "v1 left Production", "replaced by version 2", "v1 registered", "v2 registered", "gate decision", "beats the champion (version 1)"} {
			if !strings.Contains(strings.Join(strings.Fields(events), " "), want) {
				t.Errorf("promotion timeline lacks %q:\n%s", want, events)
			}
		}
		// Newest first: each version's gate decision comes after (above) its
		// registration, which the decision's time tag must not place earlier.
		labels := eval[[]string](t, b, `Array.from(document.querySelectorAll("#timeline li .what")).map(w => w.querySelector("a").textContent.trim() + " " + w.querySelector(".evlabel").textContent.trim())`)
		for _, v := range []string{"v1", "v2"} {
			decided, registered := slices.Index(labels, v+" gate decision"), slices.Index(labels, v+" registered")
			if decided < 0 || registered < 0 || decided > registered {
				t.Errorf("timeline %q: %s's gate decision is not after its registration", labels, v)
			}
		}
		b.shoot(t, "model")
		b.do(t, "set an alias",
			sendKeys(chromedp.ID("alias"), "challenger"),
			setValue(chromedp.ID("alias-version"), "1"),
			click(chromedp.CSS(`form.short[action$="/aliases"] button[type="submit"]`)),
			visible(chromedp.ID("confirm")),
		)
		if q := b.text(t, "#question"); !strings.Contains(q, "@challenger") || !strings.Contains(q, "version 1") {
			t.Errorf("confirmation question %q", q)
		}
		b.do(t, "confirm", click(chromedp.ID("confirm")), visible(chromedp.CSS(".notice")))
		v, err := l.store.GetModelVersionByAlias(t.Context(), l.model, "challenger")
		if err != nil || v.Version != "1" {
			t.Errorf("@challenger after the form: %+v, %v; want version 1", v, err)
		}
		b.shoot(t, "model-alias-set")
	})
}
