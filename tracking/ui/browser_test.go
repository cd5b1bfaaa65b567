package ui_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/mlops-lab/housing/tracking"
)

// TestBrowser drives headless Chromium through the UI over a seeded store: every
// page, selecting and comparing runs, and a promotion to Production through the
// form and its confirmation. It saves a screenshot of each page at 1280 px and
// at 390 wide (where the page must not scroll sideways), and fails on any
// console error (a CSP violation among them).
func TestBrowser(t *testing.T) {
	l := newLab(t)
	logged := seedLoggedModel(t, l)
	b := newTab(t, l.handler, true)
	shoot := func(t *testing.T, name string) {
		t.Helper()
		b.shoot(t, name)
		b.narrow(t, name)
	}

	t.Run("Experiments", func(t *testing.T) {
		b.open(t, "/", "table")
		if got := b.text(t, "tbody"); !strings.Contains(got, "california-housing") || !strings.Contains(got, "scratch") {
			t.Errorf("experiments table: %q", got)
		}
		shoot(t, "experiments")
	})
	t.Run("FilterError", func(t *testing.T) {
		b.open(t, "/", "#filter")
		b.do(t, "filter",
			sendKeys(chromedp.ID("filter"), "name >< 'x'"),
			submit(chromedp.ID("filter")),
			visible(chromedp.ID("filter-error")),
		)
		if got := b.text(t, "#filter-error"); got == "" {
			t.Error("no inline filter error")
		}
	})
	t.Run("RunsSelectCompare", func(t *testing.T) {
		b.open(t, "/", "table")
		b.do(t, "open the experiment",
			click(chromedp.CSS(`a[href="/experiments/`+l.expID+`"]`)),
			visible(chromedp.CSS("table.runs")),
		)
		if got := b.text(t, "table.runs tbody"); !strings.Contains(got, "rf-baseline") || !strings.Contains(got, "rf-optimized") {
			t.Errorf("runs table: %q", got)
		}
		if !eval[bool](t, b, `document.getElementById("compare").disabled`) {
			t.Error("compare button enabled with no run ticked")
		}
		shoot(t, "runs")
		r1, r2 := l.runs["rf-baseline"].Info.RunID, l.runs["rf-optimized"].Info.RunID
		b.do(t, "compare two runs",
			click(chromedp.CSS(`input[name="runs"][value="`+r1+`"]`)),
			click(chromedp.CSS(`input[name="runs"][value="`+r2+`"]`)),
			enabled(chromedp.ID("compare")),
			click(chromedp.ID("compare")),
			visible(chromedp.CSS("table.compare")),
		)
		if got := b.text(t, "h1"); got != "Compare 2 runs" {
			t.Errorf("compare heading %q", got)
		}
		if q := b.query(t); len(q["runs"]) != 2 {
			t.Errorf("compare URL %q", b.location(t))
		}
		if bars := eval[int](t, b, `document.querySelectorAll("rect.bar").length`); bars < 4 { // two runs, at least two metrics
			t.Errorf("%d bars", bars)
		}
		shoot(t, "compare")
	})
	t.Run("Run", func(t *testing.T) {
		run := l.runs["rf-tuned"]
		b.open(t, "/runs/"+run.Info.RunID+"?artifact="+url.QueryEscape("plots/predicted_vs_actual.png"), ".preview img")
		// The PNG loads through the UI's artifact route under the page's CSP.
		b.wait(t, `document.querySelector(".preview img").naturalWidth === 40`)
		if got := b.text(t, "h1"); got != "rf-tuned" {
			t.Errorf("run heading %q", got)
		}
		if charts := eval[int](t, b, `document.querySelectorAll("#h-charts ~ .charts svg polyline").length`); charts != 2 {
			t.Errorf("%d metric history charts, want 2", charts)
		}
		shoot(t, "run")
		b.open(t, "/runs/"+run.Info.RunID+"?artifact="+url.QueryEscape("model/MLmodel"), "pre.file")
		if got := b.text(t, "pre.file"); !strings.Contains(got, "flavors:") {
			t.Errorf("MLmodel preview %q", got)
		}
		b.shoot(t, "run-mlmodel")
	})
	t.Run("LoggedModel", func(t *testing.T) {
		b.open(t, "/experiments/"+l.expID, "nav.tabs")
		b.do(t, "open the logged models tab",
			click(chromedp.CSS(`nav.tabs a[href$="/models"]`)),
			visible(chromedp.CSS("table")),
		)
		shoot(t, "logged-models")
		b.do(t, "open the logged model",
			click(chromedp.CSS(`a[href="/logged-models/`+logged.ModelID+`"]`)),
			visible(chromedp.ID("h-metrics")),
		)
		if got := b.text(t, "h1"); !strings.Contains(got, "rf-model") {
			t.Errorf("logged model heading %q", got)
		}
		shoot(t, "logged-model")
	})
	t.Run("Models", func(t *testing.T) {
		b.open(t, "/models", "table")
		if got := b.text(t, "tbody"); !strings.Contains(got, modelName) {
			t.Errorf("models table: %q", got)
		}
		b.shoot(t, "models")
		b.open(t, "/models/"+modelName, "#h-history")
		shoot(t, "model")
	})
	t.Run("PromoteToProduction", func(t *testing.T) {
		b.open(t, "/models/"+modelName+"/versions/2", "#stage-select")
		if got := b.text(t, "#stage"); got != "Staging" {
			t.Fatalf("version 2 is in %q, want Staging", got)
		}
		b.shoot(t, "version")
		b.do(t, "ask for Production",
			setValue(chromedp.ID("stage-select"), "Production"),
			click(chromedp.CSS(`form[action$="/stage"] button[type="submit"]`)),
			visible(chromedp.ID("confirm")),
		)
		if q := b.text(t, "#question"); !strings.Contains(q, "from Staging to Production") {
			t.Errorf("confirmation question %q", q)
		}
		if got := b.text(t, ".warning"); !strings.Contains(got, "Version 1") {
			t.Errorf("confirmation does not say version 1 will be archived: %q", got)
		}
		b.shoot(t, "confirm")
		b.do(t, "confirm", click(chromedp.ID("confirm")), visible(chromedp.CSS(".notice")))
		if got := b.text(t, "#stage"); got != "Production" {
			t.Errorf("stage shown after the change: %q", got)
		}
		v1, err := l.store.GetModelVersion(context.Background(), modelName, "1")
		if err != nil || v1.CurrentStage != tracking.StageArchived {
			t.Errorf("version 1 after the promotion: %+v, %v", v1, err)
		}
		b.shoot(t, "version-promoted")
	})
}
