package ui_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"html"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/search"
	"github.com/mlops-lab/housing/tracking/sqlstore"
	"github.com/mlops-lab/housing/tracking/ui"
)

// The big store's shape: bigTopLevel top-level runs, of which bigParents
// (every bigTopLevel/bigParents-th, a "search") have bigChildren nested runs.
const (
	bigTopLevel = 5000
	bigParents  = 1000
	bigChildren = 95 // 5,000 + 1,000 × 95 = 100,000 runs
	bigRuns     = bigTopLevel + bigParents*bigChildren
	bigStart    = int64(1_700_000_000_000) // the first run's start, ms
)

// bigStore is one experiment of 100,000 runs (3 params and 3 metrics each) in a
// real SQLite store.
type bigStore struct {
	store   *sqlstore.Store
	expID   string
	parents []string // the searches' run ids, oldest first
	newest  string   // the newest top-level run's name
}

// newBigStore fills the store's tables in one transaction, in MLflow's schema
// as the store writes it (runs, tags with mlflow.runName and
// mlflow.parentRunId, params, metrics, latest_metrics): through the Store's own
// calls, three writes a run, 100,000 runs take minutes on a loaded 2-core
// machine. The tests then read everything through the Store (GetRun,
// SearchRuns), so a row the store would not read back fails them.
func newBigStore(t testing.TB) *bigStore {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	store, err := sqlstore.Open(ctx, "sqlite:///"+filepath.Join(dir, "mlflow.db"), sqlstore.Options{
		DefaultArtifactRoot: filepath.Join(dir, "mlruns"),
		Logger:              slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { store.Close() })
	b := &bigStore{store: store}
	if b.expID, err = store.CreateExperiment(ctx, "big", "", nil); err != nil {
		t.Fatalf("create experiment: %v", err)
	}
	exp, err := store.GetExperiment(ctx, b.expID)
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	conn, err := store.DB().Conn(ctx)
	if err != nil {
		t.Fatalf("connection: %v", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "PRAGMA cache_size = -262144"); err != nil { // 256 MiB for the load
		t.Fatalf("cache size: %v", err)
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		t.Fatalf("begin: %v", err)
	}
	defer tx.Rollback()
	salt := randomID(t)[:24]
	w := &bulkWriter{t: t, tx: tx}
	n := 0
	add := func(name, parent string, at int64) string {
		// Ids in increasing order, so that every index on run_uuid is appended to.
		id := fmt.Sprintf("%08x", n) + salt
		v := float64(n%1000) / 1000
		w.add("runs", "run_uuid, name, source_type, source_name, entry_point_name, user_id, status, start_time, end_time, source_version, lifecycle_stage, artifact_uri, experiment_id, deleted_time",
			id, name, "UNKNOWN", "", "", "bench", "FINISHED", at, at+1000+int64(n%5000), "", "active",
			exp.ArtifactLocation+"/"+id+"/artifacts", b.expID, nil)
		w.add("tags", `"key", value, run_uuid`, tracking.TagRunName, name, id)
		if parent != "" {
			w.add("tags", `"key", value, run_uuid`, tracking.TagParentRunID, parent, id)
		}
		for _, p := range [][2]string{{"n_estimators", fmt.Sprint(50 + n%300)}, {"max_depth", fmt.Sprint(n % 30)}, {"seed", "42"}} {
			w.add("params", `"key", value, run_uuid`, p[0], p[1], id)
		}
		for _, m := range []struct {
			k string
			v float64
		}{{"r2", v}, {"mse", 1 - v}, {"fit_seconds", float64(n % 60)}} {
			w.add("metrics", `"key", value, timestamp, step, is_nan, run_uuid`, m.k, m.v, at, 0, false, id)
			w.add("latest_metrics", `"key", value, timestamp, step, is_nan, run_uuid`, m.k, m.v, at, 0, false, id)
		}
		n++
		return id
	}
	every := bigTopLevel / bigParents
	for i := range bigTopLevel {
		at := bigStart + int64(i)*60_000
		name := fmt.Sprintf("run-%05d", i)
		if i%every != 0 {
			add(name, "", at)
			b.newest = name
			continue
		}
		name = fmt.Sprintf("search-%05d", i)
		id := add(name, "", at)
		b.newest = name
		b.parents = append(b.parents, id)
		for c := range bigChildren {
			add(fmt.Sprintf("search-%05d-trial-%02d", i, c+1), id, at+int64(c+1)*500)
		}
	}
	w.flushAll()
	if err := tx.Commit(); err != nil {
		t.Fatalf("commit: %v", err)
	}
	if _, err := store.DB().ExecContext(ctx, "ANALYZE"); err != nil {
		t.Fatalf("analyze: %v", err)
	}
	if n != bigRuns {
		t.Fatalf("wrote %d runs, want %d", n, bigRuns)
	}
	t.Logf("filled %d runs in %v", n, time.Since(began).Round(time.Millisecond))
	return b
}

// bulkWriter inserts rows with multi-row INSERTs of up to bulkRows rows.
type bulkWriter struct {
	t       testing.TB
	tx      *sql.Tx
	pending map[string]*bulkTable
	order   []string
}

type bulkTable struct {
	cols string
	n    int // columns
	args []any
}

const bulkRows = 100

func (w *bulkWriter) add(table, cols string, vals ...any) {
	if w.pending == nil {
		w.pending = map[string]*bulkTable{}
	}
	bt, ok := w.pending[table]
	if !ok {
		bt = &bulkTable{cols: cols, n: len(vals)}
		w.pending[table] = bt
		w.order = append(w.order, table)
	}
	bt.args = append(bt.args, vals...)
	if len(bt.args) >= bulkRows*bt.n {
		w.flush(table)
	}
}

func (w *bulkWriter) flush(table string) {
	if table != "runs" {
		w.flush("runs") // the other tables refer to runs
	}
	bt := w.pending[table]
	rows := len(bt.args) / bt.n
	if rows == 0 {
		return
	}
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", bt.n), ", ") + ")"
	q := "INSERT INTO " + table + " (" + bt.cols + ") VALUES " + strings.TrimSuffix(strings.Repeat(row+", ", rows), ", ")
	if _, err := w.tx.Exec(q, bt.args...); err != nil {
		w.t.Fatalf("insert %d rows into %s: %v", rows, table, err)
	}
	bt.args = bt.args[:0]
}

// flushAll writes what is left.
func (w *bulkWriter) flushAll() {
	for _, table := range w.order {
		w.flush(table)
	}
}

func randomID(t testing.TB) string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// TestBrowserBigExperiment drives the runs table over 100,000 runs in
// Chromium: the first page lists 50 top-level runs with their searches folded,
// pages go forward and back and to the last, a search of 95 trials opens in
// place, sorting by a metric and a filter matching trials (paged, under their
// parent) answer; the experiments page and a run page answer too. It asserts
// what the pages show, not how fast.
func TestBrowserBigExperiment(t *testing.T) {
	if testing.Short() {
		t.Skip("100,000 runs")
	}
	big := newBigStore(t)
	b := newTab(t, ui.New(big.store, nil, ui.Options{}), true)
	base := "/experiments/" + big.expID
	rows := `document.querySelectorAll("table.runs tbody tr").length`

	t.Run("FirstPage", func(t *testing.T) {
		b.open(t, base, "table.runs")
		names := eval[[]string](t, b, rowNames)
		if len(names) != 50 || names[0] != big.newest {
			t.Fatalf("first page: %d rows from %q, want 50 from %q", len(names), names[0], big.newest)
		}
		counts := eval[[]string](t, b, `Array.from(document.querySelectorAll("a.toggle .count")).map(c => c.textContent)`)
		if len(counts) != 10 || slices.ContainsFunc(counts, func(c string) bool { return c != fmt.Sprint(bigChildren) }) {
			t.Errorf("nested counts %q, want ten searches of %d", counts, bigChildren)
		}
		if got := b.text(t, "#range"); got != "runs 1–50" {
			t.Errorf("range %q", got)
		}
		b.shoot(t, "big-runs")
	})
	t.Run("Paging", func(t *testing.T) {
		b.open(t, base, "table.runs")
		for _, want := range []string{"runs 51–100", "runs 101–150"} {
			b.do(t, "next page", click(chromedp.CSS(`a[rel="next"]`)), visible(chromedp.CSS("table.runs")))
			b.wait(t, fmt.Sprintf(`document.getElementById("range").textContent === %q`, want))
		}
		first := eval[string](t, b, `document.querySelector("table.runs tbody td.name > a:last-of-type").textContent`)
		if want := fmt.Sprintf("run-%05d", bigTopLevel-1-100); first != want {
			t.Errorf("third page starts with %q, want %q", first, want)
		}
		b.do(t, "previous page", click(chromedp.CSS(`a[rel="prev"]`)), visible(chromedp.CSS("table.runs")))
		b.wait(t, `document.getElementById("range").textContent === "runs 51–100"`)
		// The last page: 50 runs, and no next page.
		last := base + "?page_token=" + url.QueryEscape(search.EncodePageToken(bigTopLevel-50))
		b.open(t, last, "table.runs")
		if got := b.text(t, "#range"); got != "runs 4951–5000" {
			t.Errorf("last page range %q", got)
		}
		if eval[bool](t, b, `document.querySelector('a[rel="next"]') !== null`) {
			t.Error("the last page links a next page")
		}
		if got := eval[string](t, b, `Array.from(document.querySelectorAll("table.runs td.name > a:last-of-type")).pop().textContent`); got != "search-00000" {
			t.Errorf("the last page ends with %q, want the oldest run", got)
		}
	})
	t.Run("OpenSearch", func(t *testing.T) {
		b.open(t, base, "a.toggle")
		parent := big.parents[len(big.parents)-1]
		b.do(t, "open a search", click(chromedp.CSS(`a.toggle[data-run="`+parent+`"]`)))
		b.wait(t, fmt.Sprintf(`document.querySelectorAll('tr.child[data-parent="%s"]').length === %d`, parent, bigChildren))
		if n := eval[int](t, b, rows); n != 50+bigChildren {
			t.Errorf("%d rows with one search open", n)
		}
		b.shoot(t, "big-runs-open")
	})
	t.Run("SortByMetric", func(t *testing.T) {
		b.open(t, base, "table.runs")
		b.do(t, "sort by r2", click(chromedp.CSS(`thead th a[href*="r2%60+DESC"]`)), visible(chromedp.CSS(`th[aria-sort="descending"]`)))
		vals := eval[[]string](t, b, `Array.from(document.querySelectorAll("table.runs tbody tr")).map(tr => tr.children[5].textContent)`)
		if len(vals) != 50 || !slices.IsSortedFunc(vals, func(a, b string) int { return strings.Compare(b, a) }) {
			t.Errorf("r2 column %q, want 50 values in descending order", vals)
		}
	})
	t.Run("FilterMatchesTrials", func(t *testing.T) {
		b.open(t, base, "#filter")
		b.do(t, "filter",
			sendKeys(chromedp.ID("filter"), "attributes.run_name LIKE 'search-04995-trial%'"),
			submit(chromedp.ID("filter")),
			visible(chromedp.CSS("tr.child")),
		)
		names := eval[[]string](t, b, rowNames)
		if len(names) != 51 || names[0] != "search-04995" || names[1] != "  search-04995-trial-95" {
			t.Errorf("rows %q..., want search-04995 and 50 of its trials, newest first", names[:min(3, len(names))])
		}
		b.shoot(t, "big-runs-filter")
		b.do(t, "next page", click(chromedp.CSS(`a[rel="next"]`)))
		b.wait(t, `document.readyState === "complete" && document.getElementById("range").textContent === "runs 51–95"`)
		names = eval[[]string](t, b, rowNames)
		if len(names) != 46 || names[0] != "search-04995" || names[45] != "  search-04995-trial-01" {
			t.Errorf("second page %d rows %q..., want search-04995 and its 45 oldest trials", len(names), names[:min(3, len(names))])
		}
	})
	t.Run("Charts", func(t *testing.T) { bigCharts(t, b, big) })
	t.Run("ExperimentsAndRun", func(t *testing.T) {
		b.open(t, "/", "table")
		if got := b.text(t, "tbody tr td.num"); got != "200+ +200+ nested" {
			t.Errorf("run count %q, want the capped counts", got)
		}
		b.open(t, "/runs/"+big.parents[0], "h1")
		if got := b.text(t, "h1"); got != "search-00000" {
			t.Errorf("run page of %q", got)
		}
	})
}

// BenchmarkRunsPage100k serves the UI's pages over the 100,000-run store (the
// fill is not timed) and reports each page's median time to render, in process
// (no network). bench/README.md has the command and figures.
func BenchmarkRunsPage100k(b *testing.B) {
	big := newBigStore(b)
	h := ui.New(big.store, nil, ui.Options{})
	base := "/experiments/" + big.expID
	parent := big.parents[len(big.parents)-1]
	// The pages a reader reaches with the Next links: each link's token
	// resumes after the page before (a seek); the forged ones above are
	// MLflow's offset tokens, which read the runs before the page.
	followed := func(offset int) string {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", base+"?page_token="+url.QueryEscape(search.EncodePageToken(offset)), nil))
		m := regexp.MustCompile(`<a href="([^"]*)" rel="next">`).FindStringSubmatch(rec.Body.String())
		if m == nil {
			b.Fatalf("no next page after offset %d", offset)
		}
		return html.UnescapeString(m[1])
	}
	pages := []struct{ name, target string }{
		{"first", base},
		{"page50", base + "?page_token=" + url.QueryEscape(search.EncodePageToken(49*50))},
		{"last", base + "?page_token=" + url.QueryEscape(search.EncodePageToken(bigTopLevel-50))},
		{"page50-followed", followed(48 * 50)},
		{"last-followed", followed(bigTopLevel - 100)},
		{"sort-r2", base + "?order=" + url.QueryEscape("metrics.`r2` DESC")},
		{"open-search", base + "?open=" + parent},
		{"filter-trials", base + "?filter=" + url.QueryEscape("attributes.run_name LIKE 'search-04995-trial%'")},
		{"filter-metric", base + "?filter=" + url.QueryEscape("metrics.r2 > 0.99")},
		{"run-search", "/runs/" + parent},
		{"experiments", "/"},
	}
	for _, p := range pages {
		b.Run(p.name, func(b *testing.B) {
			var lat []time.Duration
			for b.Loop() {
				rec := httptest.NewRecorder()
				start := time.Now()
				h.ServeHTTP(rec, httptest.NewRequest("GET", p.target, nil))
				lat = append(lat, time.Since(start))
				if rec.Code != 200 {
					b.Fatalf("%s: status %d", p.target, rec.Code)
				}
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		})
	}
}
