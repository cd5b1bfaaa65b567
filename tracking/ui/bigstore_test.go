package ui_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

func TestBigFillTiming(t *testing.T) {
	if testing.Short() {
		t.Skip("100,000 runs")
	}
	b := newBigStore(t)
	h := ui.New(b.store, nil, ui.Options{})
	ctx := context.Background()
	ids := "('" + strings.Join(b.parents[len(b.parents)-10:], "', '") + "')"
	for _, q := range []tracking.RunQuery{
		{Filter: "tags.`mlflow.parentRunId` IS NULL", MaxResults: 50},
		{Filter: "tags.`mlflow.parentRunId` IS NULL", MaxResults: 50, OrderBy: []string{"metrics.r2 DESC"}},
		{Filter: "tags.`mlflow.parentRunId` IN " + ids, MaxResults: 2000},
		{Filter: "tags.`mlflow.parentRunId` IN " + ids, MaxResults: 2000, OrderBy: []string{"metrics.r2 DESC"}},
		{Filter: "tags.`mlflow.parentRunId` = '" + b.parents[len(b.parents)-1] + "'", MaxResults: 2000},
		{Filter: "attributes.run_id IN " + ids, MaxResults: 2000},
		{Filter: "tags.`mlflow.parentRunId` IS NULL", MaxResults: 1000},
	} {
		q.ExperimentIDs = []string{b.expID}
		for range 2 {
			start := time.Now()
			res, err := b.store.SearchRuns(ctx, q)
			t.Logf("%v %d runs %v: %s %v", time.Since(start).Round(time.Millisecond), len(res.Items), err, q.Filter[:min(len(q.Filter), 40)], q.OrderBy)
		}
	}
	for _, target := range []string{
		"/", "/experiments/" + b.expID, "/experiments/" + b.expID + "?page_token=" + url.QueryEscape(search.EncodePageToken(4950)),
		"/experiments/" + b.expID + "?order=" + url.QueryEscape("metrics.r2 DESC"),
		"/experiments/" + b.expID + "?filter=" + url.QueryEscape("metrics.r2 > 0.99"),
		"/experiments/" + b.expID + "?filter=" + url.QueryEscape("attributes.run_name LIKE 'search-00100%'"),
		"/runs/" + b.parents[3],
	} {
		for range 2 {
			start := time.Now()
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("GET", target, nil))
			t.Logf("%v %d %d bytes %s", time.Since(start).Round(time.Millisecond), rec.Code, rec.Body.Len(), target)
		}
	}
}
