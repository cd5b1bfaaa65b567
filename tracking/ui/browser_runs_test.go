package ui_test

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

var labTopLevel = []string{"rf-optimized", "rf-tuned", "rf-baseline"}

var labTrialsNewestFirst = []string{"  rf-optimized-trial-4-r2", "  rf-optimized-trial-2-r2", "  rf-optimized-trial-4-r1",
	"  rf-optimized-trial-3-r1", "  rf-optimized-trial-2-r1", "  rf-optimized-trial-1-r1"}

// TestBrowserRunsTable drives the runs table of the lab's experiment in
// Chromium: nested trials folded under their search with a count, opened and
// folded in place, the state kept in the address; default columns (name, start,
// duration, metrics, then params) with names on one line; sorting and the column
// choice through the URL; a filter that matches trials only; a filter error
// shown inline.
func TestBrowserRunsTable(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	l := newLab(t)
	b := newTab(t, l.handler, true)
	base := "/experiments/" + l.expID
	parent := l.runs["rf-optimized"].Info.RunID

	t.Run("FoldedByDefault", func(t *testing.T) {
		b.open(t, base, "table.runs")
		if got := eval[[]string](t, b, rowNames); !slices.Equal(got, labTopLevel) {
			t.Errorf("rows %q, want %q", got, labTopLevel)
		}
		if got := b.text(t, `a.toggle[data-run="`+parent+`"] .count`); got != "6" {
			t.Errorf("nested count %q, want 6", got)
		}
		heads := eval[[]string](t, b, `Array.from(document.querySelectorAll("table.runs thead tr:last-child th")).map(th => th.textContent.trim())`)
		// The top-level runs' keys first, then those only the trials have.
		want := []string{"Select", "Run", "Started", "Duration", "mse", "r2", "rmse", "train_r2", "cv_r2", "cv_r2_std",
			"max_depth", "model_type", "n_estimators", "cv_folds", "search_round"}
		if !slices.Equal(heads, want) {
			t.Errorf("columns %q, want %q", heads, want)
		}
		b.shoot(t, "runs-folded")
	})
	t.Run("NamesDoNotWrap", func(t *testing.T) {
		b.open(t, base+"?open=all", "tr.child")
		// Every name cell is one line high, however long the name, and carries
		// the whole name as its title.
		tall := eval[[]string](t, b, `Array.from(document.querySelectorAll("table.runs td.name")).filter(td => td.getBoundingClientRect().height > 2.2 * parseFloat(getComputedStyle(td).lineHeight)).map(td => td.textContent)`)
		if len(tall) > 0 {
			t.Errorf("name cells wrap: %q", tall)
		}
		if got := eval[string](t, b, `getComputedStyle(document.querySelector("table.runs td.name")).textOverflow`); got != "ellipsis" {
			t.Errorf("text-overflow %q", got)
		}
	})
	t.Run("OpenAndFoldInPlace", func(t *testing.T) {
		b.open(t, base, "table.runs")
		b.do(t, "open rf-optimized", click(chromedp.CSS(`a.toggle[data-run="`+parent+`"]`)))
		b.wait(t, `document.querySelectorAll("tr.child").length === 6`)
		want := append([]string{"rf-optimized"}, labTrialsNewestFirst...)
		want = append(want, "rf-tuned", "rf-baseline")
		if got := eval[[]string](t, b, rowNames); !slices.Equal(got, want) {
			t.Errorf("rows %q, want %q", got, want)
		}
		if loc := b.location(t); loc != base+"?open="+parent {
			t.Errorf("address %q, want the open parent in it", loc)
		}
		// The fetched rows fit the page's columns: cv_r2 is in its column.
		cells := eval[[]int](t, b, `Array.from(document.querySelectorAll("table.runs tbody tr")).map(tr => tr.children.length)`)
		if heads := eval[int](t, b, `document.querySelectorAll("table.runs thead tr:last-child th").length`); slices.ContainsFunc(cells, func(n int) bool { return n != heads }) {
			t.Errorf("rows of %v cells under %d columns", cells, heads)
		}
		col := eval[int](t, b, `Array.from(document.querySelectorAll("table.runs thead tr:last-child th")).findIndex(th => th.textContent.trim() === "cv_r2")`)
		if got := eval[string](t, b, fmt.Sprintf(`document.querySelector("tr.child").children[%d].textContent`, col)); got != "0.8102" {
			t.Errorf("first trial's cv_r2 cell %q, want 0.8102", got)
		}
		b.shoot(t, "runs-open")
		b.do(t, "fold rf-optimized", click(chromedp.CSS(`a.toggle[data-run="`+parent+`"]`)))
		b.wait(t, `document.querySelectorAll("tr.child:not([hidden])").length === 0`)
		if loc := b.location(t); loc != base+"?open=" {
			t.Errorf("address %q after folding", loc)
		}
		// Reloaded, the page is as it was left.
		b.do(t, "reload", action("reload", chromedp.Reload()), visible(chromedp.CSS("table.runs")))
		if got := eval[[]string](t, b, rowNames); !slices.Equal(got, labTopLevel) {
			t.Errorf("rows after reload %q", got)
		}
		b.do(t, "expand all", click(chromedp.ID("expand-all")), visible(chromedp.CSS("tr.child")))
		if n := eval[int](t, b, `document.querySelectorAll("tr.child").length`); n != 6 {
			t.Errorf("%d nested rows after expanding all", n)
		}
	})
	t.Run("SortByMetric", func(t *testing.T) {
		b.open(t, base+"?open=all", "table.runs")
		b.do(t, "sort by cv_r2", click(chromedp.CSS(`thead th a[href*="cv_r2%60+DESC"]`)), visible(chromedp.CSS(`th[aria-sort="descending"]`)))
		if loc, _ := url.Parse(b.location(t)); loc.Query().Get("order") != "metrics.`cv_r2` DESC" {
			t.Errorf("address %q does not keep the order", loc)
		}
		// Sorting starts over folded; the trials come in cv_r2 order when opened.
		b.do(t, "open", click(chromedp.CSS(`a.toggle[data-run="`+parent+`"]`)))
		b.wait(t, `document.querySelectorAll("tr.child").length === 6`)
		got := eval[[]string](t, b, rowNames)
		if want := []string{"rf-optimized", "  rf-optimized-trial-4-r2", "  rf-optimized-trial-2-r2", "  rf-optimized-trial-4-r1",
			"  rf-optimized-trial-2-r1", "  rf-optimized-trial-3-r1", "  rf-optimized-trial-1-r1"}; !slices.Equal(got[:7], want) {
			t.Errorf("rows by cv_r2 descending %q, want %q first", got, want)
		}
		b.shoot(t, "runs-sorted")
	})
	t.Run("ChooseColumns", func(t *testing.T) {
		b.open(t, base, "details.columns")
		// Every box starts ticked; untick all but r2 and max_depth, as a person would.
		b.do(t, "open the chooser", click(chromedp.CSS("details.columns summary")))
		boxes := eval[[]string](t, b, `Array.from(document.querySelectorAll("details.columns input:checked")).map(c => c.value)`)
		for _, v := range boxes {
			if v != "r2" && v != "max_depth" {
				b.do(t, "untick "+v, click(chromedp.CSS(`details.columns input[value="`+v+`"]`)))
			}
		}
		b.do(t, "show columns", click(chromedp.CSS("details.columns button[type=submit]")))
		b.wait(t, `location.search.includes("metric=r2") && document.readyState === "complete"`)
		heads := eval[[]string](t, b, `Array.from(document.querySelectorAll("table.runs thead tr:last-child th")).map(th => th.textContent.trim())`)
		if want := []string{"Select", "Run", "Started", "Duration", "r2", "max_depth"}; !slices.Equal(heads, want) {
			t.Errorf("columns %q, want %q", heads, want)
		}
		loc, _ := url.Parse(b.location(t))
		if q := loc.Query(); !slices.Equal(q["metric"], []string{"r2"}) || !slices.Equal(q["param"], []string{"max_depth"}) {
			t.Errorf("address %q does not keep the columns", loc)
		}
		// The choice survives a sort.
		b.do(t, "sort by name", click(chromedp.CSS(`thead th.name a`)), visible(chromedp.CSS(`th.name[aria-sort="ascending"]`)))
		if n := eval[int](t, b, `document.querySelectorAll("table.runs thead tr:last-child th").length`); n != 6 {
			t.Errorf("%d columns after sorting", n)
		}
		b.shoot(t, "runs-columns")
	})
	t.Run("FilterMatchesTrials", func(t *testing.T) {
		b.open(t, base, "#filter")
		b.do(t, "filter",
			sendKeys(chromedp.ID("filter"), "metrics.cv_r2 > 0.805"),
			submit(chromedp.ID("filter")),
			visible(chromedp.CSS("tr.child")),
		)
		want := []string{"rf-optimized", "  rf-optimized-trial-4-r2", "  rf-optimized-trial-2-r2", "  rf-optimized-trial-4-r1"}
		if got := eval[[]string](t, b, rowNames); !slices.Equal(got, want) {
			t.Errorf("rows %q, want %q", got, want)
		}
		if !strings.Contains(b.text(t, `tr[data-context]`), "(parent)") {
			t.Error("the parent the filter did not match is not marked")
		}
		b.shoot(t, "runs-filter-trials")
	})
	t.Run("FilterError", func(t *testing.T) {
		b.open(t, base, "#filter")
		b.do(t, "bad filter",
			sendKeys(chromedp.ID("filter"), "metrics.r2 >> 0.7"),
			submit(chromedp.ID("filter")),
			visible(chromedp.ID("filter-error")),
		)
		msg := b.text(t, "#filter-error")
		if !strings.Contains(msg, `"metrics.r2 >> 0.7"`) || !strings.Contains(msg, "Invalid comparator '>>'") {
			t.Errorf("inline error %q does not name the filter and the problem", msg)
		}
		if v := eval[string](t, b, `document.getElementById("filter").value`); v != "metrics.r2 >> 0.7" {
			t.Errorf("filter box holds %q", v)
		}
		if eval[string](t, b, `document.getElementById("filter").getAttribute("aria-invalid")`) != "true" {
			t.Error("filter box not marked invalid")
		}
		b.shoot(t, "runs-filter-error")
	})
}

// TestBrowserRunsTableWithoutJavaScript checks that the runs table's
// interactions are links and forms: with JavaScript off, opening a search lists
// its trials, and sorting is a link.
func TestBrowserRunsTableWithoutJavaScript(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	l := newLab(t)
	b := newTab(t, l.handler, false)
	base := "/experiments/" + l.expID
	parent := l.runs["rf-optimized"].Info.RunID
	b.open(t, base, "table.runs")
	b.do(t, "open rf-optimized", click(chromedp.CSS(`a.toggle[data-run="`+parent+`"]`)), visible(chromedp.CSS("tr.child")))
	if loc := b.location(t); loc != base+"?open="+parent+"#run-"+parent {
		t.Errorf("address %q", loc)
	}
	if nodes := run(t, b, "nested rows", chromedp.Nodes(chromedp.CSSAll("tr.child"))); len(nodes) != 6 {
		t.Errorf("%d nested rows, want 6", len(nodes))
	}
	b.shoot(t, "runs-open-nojs")
}

// TestBrowserRunPage drives the run page of the lab's search run in Chromium:
// one-point metrics in the table and histories as charts, the models it
// produced, the artifact tree (directories fold as <details>), and previews of
// an image, MLmodel, YAML and JSON; and a trial's page, which links its parent.
func TestBrowserRunPage(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	l := newLab(t)
	logged := seedLoggedModel(t, l)
	b := newTab(t, l.handler, true)
	run := l.runs["rf-tuned"]
	page := "/runs/" + run.Info.RunID

	t.Run("Metrics", func(t *testing.T) {
		b.open(t, page, "#metrics")
		table := eval[[]string](t, b, `Array.from(document.querySelectorAll("#metrics tbody th")).map(th => th.textContent)`)
		if !slices.Equal(table, []string{"rmse", "train_r2"}) {
			t.Errorf("metrics table %q, want the one-point metrics rmse and train_r2", table)
		}
		charts := eval[[]string](t, b, `Array.from(document.querySelectorAll(".history svg")).map(s => s.getAttribute("aria-label"))`)
		if !slices.Equal(charts, []string{"mse", "r2"}) {
			t.Errorf("charts %q, want mse and r2", charts)
		}
		if n := eval[int](t, b, `document.querySelectorAll(".history svg polyline").length`); n != 2 {
			t.Errorf("%d lines", n)
		}
		if n := eval[int](t, b, `document.querySelector("#metric-r2 svg polyline").getAttribute("points").trim().split(/\s+/).length`); n != 5 {
			t.Errorf("r2 line through %d points, want 5", n)
		}
		// Five points of the run's own; two more were logged with the run's
		// logged model (MLflow 3 keeps them in the run's history too): they are
		// counted, not drawn as steps of the run.
		if got := b.text(t, "#metric-r2 p"); got != "latest 0.7737 at step 4 · 5 points (the run's own); 2 more logged on model rf-model" {
			t.Errorf("r2 chart caption %q", got)
		}
		b.shoot(t, "run")
	})
	t.Run("Models", func(t *testing.T) {
		b.open(t, page, "#h-models")
		if got := b.text(t, "#h-versions + ul"); !strings.Contains(got, modelName+" v2") || !strings.Contains(got, "Staging") {
			t.Errorf("registered versions %q", got)
		}
		if got := b.text(t, "#h-outputs + ul"); !strings.Contains(got, logged.Name) || !strings.Contains(got, logged.ModelID) {
			t.Errorf("logged models %q, want %s", got, logged.ModelID)
		}
	})
	t.Run("ArtifactTree", func(t *testing.T) {
		b.open(t, page, "#artifacts .tree")
		if !eval[bool](t, b, `Array.from(document.querySelectorAll(".tree > ul > li > details")).every(d => d.open)`) {
			t.Error("top-level directories start folded")
		}
		// Folding a directory hides its files; opening shows them again.
		b.do(t, "fold model/", click(chromedp.CSS(`.tree details summary`)))
		b.wait(t, `!document.querySelector(".tree details").open && !document.querySelector(".tree details a").checkVisibility()`)
		b.do(t, "open model/", click(chromedp.CSS(`.tree details summary`)))
		b.wait(t, `document.querySelector(".tree details").open && document.querySelector(".tree details a").checkVisibility()`)
	})
	previews := []struct{ name, file, ready, check, want string }{
		{"Image", "plots/predicted_vs_actual.png", ".preview img", `String(document.querySelector(".preview img").naturalWidth)`, "40"},
		{"MLmodel", "model/MLmodel", "pre.file", `document.querySelector("pre.file").textContent.includes("flavors:")`, "true"},
		{"YAML", "model/conda.yaml", "pre.file", `document.querySelector("pre.file").textContent.includes("- python=3.11")`, "true"},
		{"JSON", "model/input_example.json", "pre.file", `document.querySelector("pre.file").textContent.startsWith('{\n  "columns": [')`, "true"},
	}
	for _, p := range previews {
		t.Run("Preview"+p.name, func(t *testing.T) {
			b.open(t, page, "#artifacts .tree")
			b.do(t, "choose "+p.file, click(chromedp.CSS(`.tree a[href*="artifact=`+url.QueryEscape(p.file)+`"]`)), visible(chromedp.CSS(p.ready)))
			b.wait(t, fmt.Sprintf("String(%s) === %q", p.check, p.want))
			if got := eval[string](t, b, `document.querySelector(".preview a[download]").getAttribute("href")`); !strings.Contains(got, "download=1") {
				t.Errorf("download link %q", got)
			}
			b.shoot(t, "run-artifact-"+strings.ToLower(p.name))
		})
	}
	t.Run("NestedRun", func(t *testing.T) {
		b.open(t, "/runs/"+l.trials[0].Info.RunID, "#parent-run")
		b.do(t, "go to parent", click(chromedp.ID("parent-run")), visible(chromedp.ID("nested")))
		if got := b.text(t, "h1"); got != "rf-optimized" {
			t.Errorf("parent link led to %q", got)
		}
		// The search's page lists its trials, newest first.
		names := eval[[]string](t, b, `Array.from(document.querySelectorAll("#nested td.name a")).map(a => "  " + a.textContent)`)
		if !slices.Equal(names, labTrialsNewestFirst) {
			t.Errorf("nested runs %q, want %q", names, labTrialsNewestFirst)
		}
		b.shoot(t, "run-search")
	})
}
