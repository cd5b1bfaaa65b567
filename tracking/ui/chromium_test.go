package ui_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
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

	"github.com/mlops-lab/housing/internal/testenv"
)

// The one Chromium setup of the UI's browser tests: a tab (newTab) on a UI
// served over 127.0.0.1, and what the tests do with it (open, eval, wait,
// shoot, narrow, ...).

// tab is a headless Chromium tab on a test server. It records console errors
// and warnings (a CSP violation among them) and uncaught exceptions, and fails
// the test on any when the test ends; and the tab's navigations, which it logs
// when the test failed.
type tab struct {
	ctx   context.Context
	base  string
	shots string

	mu       sync.Mutex
	problems []string
	navs     []string // frame navigations with their times
}

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

// screenshotDir is where a browser test saves screenshots for a person to look
// at: ui/<test name> under $HOUSING_TEST_ARTIFACTS, or under the repository's
// test-output/ (ignored by git). A folder per test, so that two tests' "run"
// do not overwrite each other.
func screenshotDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("HOUSING_TEST_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", "..", "test-output")
	}
	dir = filepath.Join(dir, "ui", strings.ReplaceAll(t.Name(), "/", "-"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("screenshot directory: %v", err)
	}
	return dir
}

// newTab starts Chromium (1280×800) on handler; the browser and the server stop
// when the test ends. With script false the tab runs no JavaScript, as a
// browser with it turned off. It skips in -short mode.
func newTab(t *testing.T, handler http.Handler, script bool) *tab {
	t.Helper()
	chromiumPath(t)
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	srv := httptest.NewServer(handler) // 127.0.0.1
	t.Cleanup(srv.Close)
	return newTabAt(t, srv.URL, script)
}

// newTabAt starts Chromium (1280×800) on the UI at base (a server the test
// started on 127.0.0.1); the browser stops when the test ends.
func newTabAt(t *testing.T, base string, script bool) *tab {
	t.Helper()
	execPath := chromiumPath(t)
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
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
	ctx, cancelTab := chromedp.NewContext(actx)
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	b := &tab{ctx: ctx, base: base, shots: screenshotDir(t)}
	t.Cleanup(func() {
		cancel()
		cancelTab()
		cancelAlloc()
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
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank"), chromedp.EmulateViewport(1280, 800)); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	if !script {
		b.scripts(t, false)
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
	return b
}

func (b *tab) problem(p string) {
	b.mu.Lock()
	b.problems = append(b.problems, p)
	b.mu.Unlock()
}

// takeProblem waits up to 5 s for a recorded console problem containing
// substr, and takes it off the record, so that a test that expects one (a
// script the sandbox blocked, say) does not fail for it. It reports whether
// there was one.
func (b *tab) takeProblem(substr string) bool {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		b.mu.Lock()
		for i, p := range b.problems {
			if strings.Contains(p, substr) {
				b.problems = append(b.problems[:i], b.problems[i+1:]...)
				b.mu.Unlock()
				return true
			}
		}
		b.mu.Unlock()
	}
	return false
}

// scripts turns the page's JavaScript on or off (DevTools still evaluates).
func (b *tab) scripts(t *testing.T, on bool) {
	t.Helper()
	if _, err := chromedp.Call(b.ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: !on}); err != nil {
		t.Fatalf("turn JavaScript on=%v: %v", on, err)
	}
}

// open loads path and waits until ready (a CSS selector) is visible. It goes
// by way of a blank page, so that no element of the page before, which a page
// may share with the next, can be taken for the new page's.
func (b *tab) open(t *testing.T, path, ready string) {
	t.Helper()
	b.do(t, "open "+path, action("go to a blank page", chromedp.Navigate("about:blank")),
		action("load "+path, chromedp.Navigate(b.base+path)), visible(chromedp.CSS(ready)))
}

// actionTimeout bounds each browser action: a selector that matches nothing
// (a broken page) fails its test in seconds, naming the selector, instead of
// waiting out the tab's whole time.
const actionTimeout = 15 * time.Second

// act is one browser action and what it does, for the error when it fails.
type act struct {
	what string
	run  chromedp.Action[chromedp.Void]
}

// action names any chromedp action (a navigation, a mouse move, ...).
func action(what string, run chromedp.Action[chromedp.Void]) act { return act{what, run} }

// selector is the selectors the tests use (CSS, ID): strings.
type selector interface{ ~string }

// selName names a selector as the test wrote it: CSS("a.toggle"), ID("filter").
func selName[S selector](sel S) string {
	return fmt.Sprintf("%s(%q)", strings.TrimPrefix(fmt.Sprintf("%T", sel), "chromedp."), sel)
}

func click[S selector](sel S) act {
	return act{"click " + selName(sel), chromedp.Click(sel)}
}

func visible[S selector](sel S) act {
	return act{"wait until " + selName(sel) + " is visible", chromedp.WaitVisible(sel)}
}

func enabled[S selector](sel S) act {
	return act{"wait until " + selName(sel) + " is enabled", chromedp.WaitEnabled(sel)}
}

func sendKeys[S selector](sel S, keys string) act {
	return act{fmt.Sprintf("type %q into %s", keys, selName(sel)), chromedp.SendKeys(sel, keys)}
}

func submit[S selector](sel S) act {
	return act{"submit " + selName(sel), chromedp.Submit(sel)}
}

func setValue[S selector](sel S, value string) act {
	return act{fmt.Sprintf("set %s to %q", selName(sel), value), chromedp.SetValue(sel, value)}
}

// do runs steps in order, each within actionTimeout, failing the test with
// what it was doing and the step that failed.
func (b *tab) do(t *testing.T, what string, steps ...act) {
	t.Helper()
	for _, s := range steps {
		ctx, cancel := context.WithTimeout(b.ctx, actionTimeout)
		err := chromedp.Do(ctx, s.run)
		cancel()
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) && b.ctx.Err() == nil {
				t.Fatalf("%s: %s: not done within %v (no such element, or never ready?)", what, s.what, actionTimeout)
			}
			t.Fatalf("%s: %s: %v", what, s.what, err)
		}
	}
}

// run runs one action that returns a value, within actionTimeout.
func run[T any](t *testing.T, b *tab, what string, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, actionTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && b.ctx.Err() == nil {
			t.Fatalf("%s: not done within %v (no such element, or never ready?)", what, actionTimeout)
		}
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// text is the visible text of the first element sel matches.
func (b *tab) text(t *testing.T, sel string) string {
	t.Helper()
	return run(t, b, "text of "+selName(chromedp.CSS(sel)), chromedp.Text(chromedp.CSS(sel)))
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](t *testing.T, b *tab, expr string) T {
	t.Helper()
	return run(t, b, "evaluate "+expr, chromedp.Evaluate[T](expr))
}

// wait polls a JavaScript expression until it is true, also across a
// navigation (which ends a poll in the page it started in).
func (b *tab) wait(t *testing.T, expr string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithDeadline(b.ctx, deadline)
		_, err := chromedp.Run(ctx, chromedp.Poll[bool](expr))
		cancel()
		switch {
		case err == nil:
			return
		case time.Now().After(deadline) || !strings.Contains(err.Error(), "(-32000)"):
			t.Fatalf("waiting for %s: %v", expr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitQuery waits until the page's URL has the query parameter name=value and
// the page has loaded: a form's submission has navigated (a plot of the old
// page may match what the new one should show).
func (b *tab) waitQuery(t *testing.T, name, value string) {
	t.Helper()
	b.wait(t, `new URLSearchParams(location.search).get(`+strconv.Quote(name)+`) === `+strconv.Quote(value)+` && document.readyState === "complete"`)
}

// location is the tab's URL, without the server's address.
func (b *tab) location(t *testing.T) string {
	t.Helper()
	return strings.TrimPrefix(run(t, b, "read the address", chromedp.Location()), b.base)
}

// query is the query of the tab's URL.
func (b *tab) query(t *testing.T) url.Values {
	t.Helper()
	u, err := url.Parse(b.location(t))
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}

// shoot saves a full-page screenshot at 1280 px wide as name.png.
func (b *tab) shoot(t *testing.T, name string) {
	t.Helper()
	b.capture(t, name)
}

// capture saves a full-page screenshot as name.png at the current viewport.
// It waits for the page's load first, and gives the capture 20 s: one that
// hangs fails the test rather than the whole run.
func (b *tab) capture(t *testing.T, name string) {
	t.Helper()
	b.wait(t, `document.readyState === "complete"`)
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
// plots scale down, tables scroll in their own boxes), saves name-390.png, and
// goes back to 1280.
func (b *tab) narrow(t *testing.T, name string) {
	t.Helper()
	b.do(t, "narrow the viewport", action("emulate 390x844", chromedp.EmulateViewport(390, 844)))
	defer b.do(t, "widen the viewport", action("emulate 1280x800", chromedp.EmulateViewport(1280, 800)))
	if wide := eval[bool](t, b, `document.documentElement.scrollWidth > window.innerWidth + 1`); wide {
		t.Errorf("%s scrolls horizontally at 390 px wide", name)
	}
	b.capture(t, name+"-390")
}

// setQuietly sets the value of the select id as a person's choice would
// before the form is sent, but without the change event (chromedp's SetValue
// fires one, and charts.js submits the form on it).
func (b *tab) setQuietly(t *testing.T, id, value string) {
	t.Helper()
	js := `(() => { const e = document.getElementById(` + strconv.Quote(id) + `); e.value = ` + strconv.Quote(value) + `; return e.value })()`
	if got := eval[string](t, b, js); got != value {
		t.Fatalf("select #%s took %q, not %q", id, got, value)
	}
}

// rowNames are the run names of the runs table's rows, in order ("  " before a
// nested run's).
const rowNames = `Array.from(document.querySelectorAll("table.runs tbody tr:not([hidden]) td.name > a:last-of-type")).map(a => (a.closest("tr").dataset.parent ? "  " : "") + a.textContent)`
