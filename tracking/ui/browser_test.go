package ui_test

import (
	"context"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/mlops-lab/housing/internal/testenv"
	"github.com/mlops-lab/housing/tracking"
)

// chromiumPath finds Debian's chromium, or skips (fails under HOUSING_REQUIRE_SERVICES=1).
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("HOUSING_CHROMIUM"), "/usr/bin/chromium"} {
		if p != "" {
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	testenv.Unavailable(t, "chromium not found at /usr/bin/chromium or on PATH (apt-get install -y chromium)")
	return ""
}

// artifactDir is where the browser test saves its screenshots.
func artifactDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("HOUSING_TEST_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	}
	dir = filepath.Join(dir, "ui")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("screenshot directory: %v", err)
	}
	return dir
}

// TestBrowser drives headless Chromium through the UI over a seeded store: every
// page, selecting and comparing runs, and a promotion to Production through the
// form and its confirmation. It saves a screenshot of each page at 1280x800 and
// at 390 wide, and fails on any console error (a CSP violation among them).
func TestBrowser(t *testing.T) {
	execPath := chromiumPath(t)
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	l := newLab(t)
	logged := seedLoggedModel(t, l)
	srv := httptest.NewServer(l.handler) // 127.0.0.1
	defer srv.Close()
	shots := artifactDir(t)

	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(execPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
	)
	defer cancelAlloc()
	ctx, cancelTab := chromedp.NewContext(actx)
	defer cancelTab()
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()

	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank"), chromedp.EmulateViewport(1280, 800)); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	var mu sync.Mutex
	var problems []string
	logs := chromedp.Events(ctx, cdplog.EntryAdded)
	exceptions := chromedp.Events(ctx, runtime.ExceptionThrown)
	go func() {
		for ev, err := range logs {
			if err != nil {
				return
			}
			if ev.Entry.Level == cdplog.EntryLevelError || ev.Entry.Level == cdplog.EntryLevelWarning {
				mu.Lock()
				problems = append(problems, ev.Entry.Level.String()+": "+ev.Entry.Text+" ("+ev.Entry.URL+")")
				mu.Unlock()
			}
		}
	}()
	go func() {
		for ev, err := range exceptions {
			if err != nil {
				return
			}
			mu.Lock()
			problems = append(problems, "exception: "+ev.ExceptionDetails.Text)
			mu.Unlock()
		}
	}()
	if _, err := chromedp.Call(ctx, cdplog.Enable, cdp.Empty{}); err != nil {
		t.Fatalf("enable log: %v", err)
	}

	open := func(t *testing.T, path, ready string) {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+path), chromedp.WaitVisible(chromedp.CSS(ready))); err != nil {
			t.Fatalf("open %s: %v", path, err)
		}
	}
	text := func(t *testing.T, sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}
	shoot := func(t *testing.T, name string) {
		t.Helper()
		for _, size := range []struct{ w, h int64 }{{1280, 800}, {390, 844}} {
			if err := chromedp.Do(ctx, chromedp.EmulateViewport(size.w, size.h)); err != nil {
				t.Fatalf("viewport: %v", err)
			}
			png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
			if err != nil {
				t.Fatalf("screenshot %s: %v", name, err)
			}
			file := filepath.Join(shots, name+"-"+map[int64]string{1280: "1280x800", 390: "390"}[size.w]+".png")
			if err := os.WriteFile(file, png, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800)); err != nil {
			t.Fatalf("viewport: %v", err)
		}
	}
	// noHorizontalOverflow checks that the page itself does not scroll sideways at
	// 390 wide: wide tables scroll inside their own boxes.
	noHorizontalOverflow := func(t *testing.T) {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844)); err != nil {
			t.Fatal(err)
		}
		wide, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`))
		if err != nil {
			t.Fatal(err)
		}
		if wide {
			t.Error("the page scrolls horizontally at 390 px wide")
		}
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800)); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("Experiments", func(t *testing.T) {
		open(t, "/", "table")
		if got := text(t, "tbody"); !strings.Contains(got, "california-housing") || !strings.Contains(got, "scratch") {
			t.Errorf("experiments table: %q", got)
		}
		shoot(t, "experiments")
		noHorizontalOverflow(t)
	})
	t.Run("FilterError", func(t *testing.T) {
		open(t, "/", "#filter")
		if err := chromedp.Do(ctx,
			chromedp.SendKeys(chromedp.ID("filter"), "name >< 'x'"),
			chromedp.Submit(chromedp.ID("filter")),
			chromedp.WaitVisible(chromedp.ID("filter-error")),
		); err != nil {
			t.Fatal(err)
		}
		if got := text(t, "#filter-error"); got == "" {
			t.Error("no inline filter error")
		}
	})
	t.Run("RunsSelectCompare", func(t *testing.T) {
		open(t, "/", "table")
		if err := chromedp.Do(ctx,
			chromedp.Click(chromedp.CSS(`a[href="/experiments/`+l.expID+`"]`)),
			chromedp.WaitVisible(chromedp.CSS("table.runs")),
		); err != nil {
			t.Fatal(err)
		}
		if got := text(t, "table.runs tbody"); !strings.Contains(got, "rf-baseline") || !strings.Contains(got, "rf-optimized") {
			t.Errorf("runs table: %q", got)
		}
		disabled, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById("compare").disabled`))
		if err != nil || !disabled {
			t.Errorf("compare button enabled with no run ticked (%v)", err)
		}
		shoot(t, "runs")
		noHorizontalOverflow(t)
		a, b := l.runs["rf-baseline"].Info.RunID, l.runs["rf-optimized"].Info.RunID
		if err := chromedp.Do(ctx,
			chromedp.Click(chromedp.CSS(`input[name="runs"][value="`+a+`"]`)),
			chromedp.Click(chromedp.CSS(`input[name="runs"][value="`+b+`"]`)),
			chromedp.WaitEnabled(chromedp.ID("compare")),
			chromedp.Click(chromedp.ID("compare")),
			chromedp.WaitVisible(chromedp.CSS("table.compare")),
		); err != nil {
			t.Fatal(err)
		}
		if got := text(t, "h1"); got != "Compare 2 runs" {
			t.Errorf("compare heading %q", got)
		}
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		if u, err := url.Parse(loc); err != nil || len(u.Query()["runs"]) != 2 {
			t.Errorf("compare URL %q", loc)
		}
		bars, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("rect.bar").length`))
		if err != nil || bars < 4 { // two runs, at least two metrics
			t.Errorf("%d bars (%v)", bars, err)
		}
		shoot(t, "compare")
	})
	t.Run("Run", func(t *testing.T) {
		run := l.runs["rf-tuned"]
		open(t, "/runs/"+run.Info.RunID+"?artifact="+url.QueryEscape("plots/predicted_vs_actual.png"), ".preview img")
		// The PNG loads through the UI's artifact route under the page's CSP.
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelector(".preview img").naturalWidth === 40`)); err != nil {
			t.Errorf("artifact image did not load: %v", err)
		}
		if got := text(t, "h1"); got != "rf-tuned" {
			t.Errorf("run heading %q", got)
		}
		charts, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#h-charts ~ .charts svg polyline").length`))
		if err != nil || charts != 2 {
			t.Errorf("%d metric history charts (%v), want 2", charts, err)
		}
		shoot(t, "run")
		noHorizontalOverflow(t)
		open(t, "/runs/"+run.Info.RunID+"?artifact="+url.QueryEscape("model/MLmodel"), "pre.file")
		if got := text(t, "pre.file"); !strings.Contains(got, "flavors:") {
			t.Errorf("MLmodel preview %q", got)
		}
		shoot(t, "run-mlmodel")
	})
	t.Run("LoggedModel", func(t *testing.T) {
		open(t, "/experiments/"+l.expID, "nav.tabs")
		if err := chromedp.Do(ctx,
			chromedp.Click(chromedp.CSS(`nav.tabs a[href$="/models"]`)),
			chromedp.WaitVisible(chromedp.CSS("table")),
		); err != nil {
			t.Fatal(err)
		}
		shoot(t, "logged-models")
		noHorizontalOverflow(t)
		if err := chromedp.Do(ctx,
			chromedp.Click(chromedp.CSS(`a[href="/logged-models/`+logged.ModelID+`"]`)),
			chromedp.WaitVisible(chromedp.ID("h-metrics")),
		); err != nil {
			t.Fatal(err)
		}
		if got := text(t, "h1"); !strings.Contains(got, "rf-model") {
			t.Errorf("logged model heading %q", got)
		}
		shoot(t, "logged-model")
		noHorizontalOverflow(t)
	})
	t.Run("Models", func(t *testing.T) {
		open(t, "/models", "table")
		if got := text(t, "tbody"); !strings.Contains(got, modelName) {
			t.Errorf("models table: %q", got)
		}
		shoot(t, "models")
		open(t, "/models/"+modelName, "#h-history")
		shoot(t, "model")
		noHorizontalOverflow(t)
	})
	t.Run("PromoteToProduction", func(t *testing.T) {
		open(t, "/models/"+modelName+"/versions/2", "#stage-select")
		if got := text(t, "#stage"); got != "Staging" {
			t.Fatalf("version 2 is in %q, want Staging", got)
		}
		shoot(t, "version")
		if err := chromedp.Do(ctx,
			chromedp.SetValue(chromedp.ID("stage-select"), "Production"),
			chromedp.Click(chromedp.CSS(`form[action$="/stage"] button[type="submit"]`)),
			chromedp.WaitVisible(chromedp.ID("confirm")),
		); err != nil {
			t.Fatal(err)
		}
		q := text(t, "#question")
		if !strings.Contains(q, "from Staging to Production") {
			t.Errorf("confirmation question %q", q)
		}
		if got := text(t, ".warning"); !strings.Contains(got, "Version 1") {
			t.Errorf("confirmation does not say version 1 will be archived: %q", got)
		}
		shoot(t, "confirm")
		if err := chromedp.Do(ctx,
			chromedp.Click(chromedp.ID("confirm")),
			chromedp.WaitVisible(chromedp.CSS(".notice")),
		); err != nil {
			t.Fatal(err)
		}
		if got := text(t, "#stage"); got != "Production" {
			t.Errorf("stage shown after the change: %q", got)
		}
		v1, err := l.store.GetModelVersion(ctx, modelName, "1")
		if err != nil || v1.CurrentStage != tracking.StageArchived {
			t.Errorf("version 1 after the promotion: %+v, %v", v1, err)
		}
		shoot(t, "version-promoted")
	})

	mu.Lock()
	defer mu.Unlock()
	for _, p := range problems {
		t.Errorf("browser console: %s", p)
	}
	t.Logf("screenshots in %s", shots)
}
