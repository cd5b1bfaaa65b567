package server_test

import (
	"context"
	"database/sql"
	"io"
	"net/http"
	"path/filepath"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/server"
	"github.com/mlops-lab/housing/tracking/sqlstore"
	"github.com/mlops-lab/housing/tracking/wire"
)

// TestGetMetricHistoryKeptAnswersSeeOtherWriters holds a server that keeps long
// get-history answers to the answers of a server started afresh on the same
// SQLite database, after each way the history can change behind its back:
// another replica's log-batch, rows inserted by hand (as MLflow's own server
// writes them, latest_metrics untouched: an older point), and the run deleted
// by hand with its points.
func TestGetMetricHistoryKeptAnswersSeeOtherWriters(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "mlflow.db")
	uri := "sqlite:///" + path
	kept := newAPIServerOn(t, uri, server.Options{})
	other, err := sqlstore.Open(ctx, uri, sqlstore.Options{DefaultArtifactRoot: "mlflow-artifacts:/"})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	// 15,000 points: an answer of ~1.5 MB, long enough to be kept and sent in
	// chunks as it is read (past startStreaming).
	id := logHistory(t, other, 15000)
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()

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
	for _, change := range []struct {
		name  string
		apply func() error
	}{
		{"another replica logs a point", func() error {
			return other.LogBatch(ctx, id, []tracking.Metric{{Key: "loss", Value: 1, Timestamp: 1800000000000, Step: 9000}}, nil, nil)
		}},
		{"an older point inserted by hand", func() error {
			_, err := raw.ExecContext(ctx, `INSERT INTO metrics ("key", value, timestamp, run_uuid, step, is_nan) VALUES ('loss', 0.5, 1600000000000, ?, -1, 0)`, id)
			return err
		}},
		{"a point of another key inserted by hand", func() error {
			_, err := raw.ExecContext(ctx, `INSERT INTO metrics ("key", value, timestamp, run_uuid, step, is_nan) VALUES ('acc', 0.5, 1600000000000, ?, 0, 0)`, id)
			return err
		}},
		{"the run deleted by hand", func() error {
			for _, q := range []string{`DELETE FROM metrics WHERE run_uuid = ?`, `DELETE FROM latest_metrics WHERE run_uuid = ?`,
				`DELETE FROM tags WHERE run_uuid = ?`, `DELETE FROM runs WHERE run_uuid = ?`} {
				if _, err := raw.ExecContext(ctx, q, id); err != nil {
					return err
				}
			}
			return nil
		}},
	} {
		if err := change.apply(); err != nil {
			t.Fatalf("%s: %v", change.name, err)
		}
		check("after " + change.name)
	}
	if status, _ := get(kept.URL, ""); status != http.StatusNotFound {
		t.Errorf("history of a deleted run: %d, want 404", status)
	}
}
