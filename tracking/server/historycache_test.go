package server_test

import (
	"context"
	"database/sql"
	"io"
	"math"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	"github.com/mlops-lab/housing/internal/testenv"

	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/server"
	"github.com/mlops-lab/housing/tracking/sqlstore"
	"github.com/mlops-lab/housing/tracking/wire"
)

// TestGetMetricHistoryKeptAnswersSeeOtherWriters holds a server that keeps long
// get-history answers to the answers of a server started afresh on the same
// database (SQLite and PostgreSQL), after each way the history can change
// behind its back: another replica's log-batch, rows inserted by hand (as
// MLflow's own server writes them, latest_metrics untouched: an older point),
// on PostgreSQL rows updated and deleted by hand (its triggers see those; on
// SQLite they are not detected, see MetricHistoryStamp), and the run deleted
// by hand with its points.
func TestGetMetricHistoryKeptAnswersSeeOtherWriters(t *testing.T) {
	for _, be := range []struct {
		name   string
		uri    func(t *testing.T) (uri, driver, dsn string)
		params func(q string) string // ? to the driver's placeholders
	}{
		{"sqlite", func(t *testing.T) (string, string, string) {
			path := filepath.Join(t.TempDir(), "mlflow.db")
			return "sqlite:///" + path, "sqlite", path
		}, func(q string) string { return q }},
		{"postgresql", func(t *testing.T) (string, string, string) {
			uri := testenv.PostgresURI(t)
			return uri, "pgx", uri
		}, func(q string) string { return strings.ReplaceAll(q, "?", "$1") }},
	} {
		t.Run(be.name, func(t *testing.T) {
			uri, driver, dsn := be.uri(t)
			testKeptAnswers(t, uri, driver, dsn, be.params)
		})
	}
}

func testKeptAnswers(t *testing.T, uri, driver, dsn string, params func(string) string) {
	ctx := context.Background()
	kept := newAPIServerOn(t, uri, server.Options{})
	other, err := sqlstore.Open(ctx, uri, sqlstore.Options{DefaultArtifactRoot: "mlflow-artifacts:/"})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	// 15,000 points: an answer of ~1.5 MB, long enough to be kept and sent in
	// chunks as it is read (past startStreaming).
	id := logHistory(t, other, 15000)
	raw, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	exec := func(q string) error {
		_, err := raw.ExecContext(ctx, params(q), id)
		return err
	}

	queries := []string{"", "&max_results=2000", "&max_results=2000&page_token=eyJvZmZzZXQiOiAyMDAwfQ%3D%3D"}
	get := func(base, q string) (int, string) {
		resp, err := http.Get(base + wire.PathGetMetricHistory + "?run_id=" + id + "&metric_key=loss" + q)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(b)
	}
	// check compares every query's answer (asked twice, so that the second may
	// come from what was kept) with a fresh server's.
	check := func(when string) {
		t.Helper()
		fresh := newAPIServerOn(t, uri, server.Options{})
		defer fresh.Close()
		for _, q := range queries {
			for range 2 {
				gotStatus, got := get(kept.URL, q)
				wantStatus, want := get(fresh.URL, q)
				if gotStatus != wantStatus || got != want {
					t.Fatalf("%s, query %q: kept server answers %d (%d bytes), a fresh one %d (%d bytes)",
						when, q, gotStatus, len(got), wantStatus, len(want))
				}
			}
		}
	}
	check("at first")
	type change struct {
		name  string
		apply func() error
		// extends: on SQLite the kept whole answer is extended with the
		// points written since rather than read again (it comes whole, with
		// its length; a read again of 1.5 MB is streamed, without).
		extends bool
	}
	changes := []change{
		{"another replica logs a point", func() error {
			return other.LogBatch(ctx, id, []tracking.Metric{{Key: "loss", Value: 1, Timestamp: 1800000000000, Step: 9000}}, nil, nil)
		}, driver == "sqlite"},
		{"another replica logs two more points", func() error {
			return other.LogBatch(ctx, id, []tracking.Metric{{Key: "loss", Value: 3, Timestamp: 1800000000002, Step: 9002},
				{Key: "loss", Value: math.NaN(), Timestamp: 1800000000001, Step: 9001}}, nil, nil)
		}, driver == "sqlite"},
		{"an older point inserted by hand", func() error {
			return exec(`INSERT INTO metrics ("key", value, timestamp, run_uuid, step, is_nan) VALUES ('loss', 0.5, 1600000000000, ?, -1, false)`)
		}, false},
		{"a point of another key inserted by hand", func() error {
			return exec(`INSERT INTO metrics ("key", value, timestamp, run_uuid, step, is_nan) VALUES ('acc', 0.5, 1600000000000, ?, 0, false)`)
		}, driver == "sqlite"},
	}
	if driver == "pgx" {
		changes = append(changes, []change{
			{"a point updated by hand", func() error {
				return exec(`UPDATE metrics SET value = 42 WHERE run_uuid = ? AND "key" = 'loss' AND step = 7`)
			}, false},
			{"a point deleted by hand", func() error {
				return exec(`DELETE FROM metrics WHERE run_uuid = ? AND "key" = 'loss' AND step = 8`)
			}, false},
		}...)
	}
	changes = append(changes, change{"the run deleted by hand", func() error {
		for _, q := range []string{`DELETE FROM metrics WHERE run_uuid = ?`, `DELETE FROM latest_metrics WHERE run_uuid = ?`,
			`DELETE FROM tags WHERE run_uuid = ?`, `DELETE FROM runs WHERE run_uuid = ?`} {
			if err := exec(q); err != nil {
				return err
			}
		}
		return nil
	}, false})
	for _, change := range changes {
		if err := change.apply(); err != nil {
			t.Fatalf("%s: %v", change.name, err)
		}
		if change.extends {
			resp, err := http.Get(kept.URL + wire.PathGetMetricHistory + "?run_id=" + id + "&metric_key=loss")
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.ContentLength != int64(len(b)) {
				t.Errorf("after %s: the whole answer came with Content-Length %d for %d bytes (%v); want it extended and whole",
					change.name, resp.ContentLength, len(b), err)
			}
		}
		check("after " + change.name)
	}
	if status, _ := get(kept.URL, ""); status != http.StatusNotFound {
		t.Errorf("history of a deleted run: %d, want 404", status)
	}
}
