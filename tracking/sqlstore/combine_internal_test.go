package sqlstore

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mlops-lab/housing/internal/testenv"
	"github.com/mlops-lab/housing/tracking"
)

func openInternal(t *testing.T, uri string) *Store {
	t.Helper()
	s, err := Open(t.Context(), uri, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func countMetrics(t *testing.T, s *Store, runID string) int {
	t.Helper()
	var n int
	if err := s.db.QueryRowContext(t.Context(), s.rebind(`SELECT COUNT(*) FROM metrics WHERE run_uuid = ?`), runID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestCombinedWriteMemberFaultFailsAlone hands one combined write five
// log-batches: two good ones, one the database refuses, one on a deleted run
// and one on a missing run. Each must get what it would get alone, as
// MLflow's per-request transactions give: the good ones are stored, the
// others fail and store nothing. The refused batch fails the combined
// statement, so this also covers the fallback that writes each member alone.
func TestCombinedWriteMemberFaultFailsAlone(t *testing.T) {
	for _, tc := range []struct {
		name string
		uri  func(t *testing.T) string
		// fault is a tag the database refuses. SQLite enforces no length
		// on VARCHAR and a validated batch breaks none of its constraints,
		// so there the store's own guard on NUL characters stands in.
		fault tracking.Tag
	}{
		{"sqlite", func(t *testing.T) string { return "sqlite:///" + filepath.Join(t.TempDir(), "mlflow.db") },
			tracking.Tag{Key: "bad", Value: "a\x00b"}},
		{"postgresql", testenvPostgresURI, tracking.Tag{Key: "bad", Value: strings.Repeat("x", 8001)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openInternal(t, tc.uri(t))
			ctx := t.Context()
			var runs []string
			for range 4 {
				r, err := s.CreateRun(ctx, tracking.CreateRun{ExperimentID: "0"})
				if err != nil {
					t.Fatal(err)
				}
				runs = append(runs, r.Info.RunID)
			}
			if err := s.DeleteRun(ctx, runs[3]); err != nil {
				t.Fatal(err)
			}
			metrics := []tracking.Metric{{Key: "loss", Value: 1, Step: 1, Timestamp: 1}, {Key: "acc", Value: 2, Step: 1, Timestamp: 1}}
			missing := strings.Repeat("f", 32)
			jobs := []*batchJob{
				{runID: runs[0], metrics: metrics, tags: []tracking.Tag{{Key: "t", Value: "1"}}},
				{runID: runs[1], metrics: metrics, tags: []tracking.Tag{tc.fault}},
				{runID: runs[2], metrics: metrics},
				{runID: runs[3], metrics: metrics},
				{runID: missing, metrics: metrics},
			}
			for _, j := range jobs {
				j.ctx, j.result = ctx, make(chan error, 1)
			}
			s.flushBatches(jobs)
			want := []tracking.ErrorCode{"", tracking.ErrInvalidParameterValue, "", tracking.ErrInvalidParameterValue, tracking.ErrResourceDoesNotExist}
			stored := []int{2, 0, 2, 0, 0}
			for i, j := range jobs {
				err := <-j.result
				if got := tracking.ErrorCodeOf(err); err != nil && got != want[i] || err == nil && want[i] != "" {
					t.Errorf("member %d: %v, want %q", i, err, want[i])
				}
				if n := countMetrics(t, s, j.runID); n != stored[i] {
					t.Errorf("member %d: %d metrics stored, want %d", i, n, stored[i])
				}
			}
			if got, err := s.GetRun(ctx, runs[0]); err != nil {
				t.Fatal(err)
			} else if v, _ := got.Tag("t"); v != "1" {
				t.Errorf("member 0: tag t = %q, want 1", v)
			}
		})
	}
}

// testenvPostgresURI returns a fresh PostgreSQL database (skipped without
// PostgreSQL unless HOUSING_REQUIRE_SERVICES is set).
func testenvPostgresURI(t *testing.T) string { return testenv.PostgresURI(t) }

// TestGroupCommitFaultFailsEveryMember puts three write transactions in one
// group commit of the SQLite writer, one of which breaks a foreign key with
// the check deferred to COMMIT (PRAGMA defer_foreign_keys), so that the
// group's COMMIT itself fails: every member must get an error, none is
// acknowledged, and nothing of any of them is stored. The writer goes on
// with the next group.
func TestGroupCommitFaultFailsEveryMember(t *testing.T) {
	s := openInternal(t, "sqlite:///"+filepath.Join(t.TempDir(), "mlflow.db"))
	ctx := t.Context()
	var runs []string
	for range 2 {
		r, err := s.CreateRun(ctx, tracking.CreateRun{ExperimentID: "0"})
		if err != nil {
			t.Fatal(err)
		}
		runs = append(runs, r.Info.RunID)
	}
	good := func(run string) func(tx *txn) error {
		return func(tx *txn) error {
			return logBatch(ctx, tx, run, []tracking.Metric{{Key: "m", Value: 1, Timestamp: 1}}, nil, nil)
		}
	}
	fault := func(tx *txn) error {
		if _, err := tx.exec(ctx, `PRAGMA defer_foreign_keys = ON`); err != nil {
			return err
		}
		_, err := tx.exec(ctx, `INSERT INTO metrics ("key", value, timestamp, step, is_nan, run_uuid) VALUES ('m', 1, 1, 0, 0, ?)`,
			strings.Repeat("0", 32))
		return err
	}

	// Hold the writer in a transaction while the three queue, so that they
	// make up the next group together.
	release, holding := make(chan struct{}), make(chan struct{})
	go s.writer.run(ctx, func(*txn) error { close(holding); <-release; return nil })
	<-holding
	fns := []func(*txn) error{good(runs[0]), fault, good(runs[1])}
	errs := make([]error, len(fns))
	var wg sync.WaitGroup
	for i, fn := range fns {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = s.writer.run(ctx, fn) }()
	}
	time.Sleep(200 * time.Millisecond) // until all three wait at the writer's queue
	close(release)
	wg.Wait()

	for i, err := range errs {
		if err == nil {
			t.Errorf("member %d of the failed group commit was acknowledged", i)
		}
	}
	for _, run := range runs {
		if n := countMetrics(t, s, run); n != 0 {
			t.Errorf("run %s: %d metrics stored by a group whose commit failed", run, n)
		}
	}
	if err := s.LogBatch(ctx, runs[0], []tracking.Metric{{Key: "m", Value: 2, Timestamp: 2}}, nil, nil); err != nil {
		t.Fatalf("the write after the failed group: %v", err)
	}
	if n := countMetrics(t, s, runs[0]); n != 1 {
		t.Errorf("after the failed group: %d metrics, want 1", n)
	}
}

// TestCombineIsOneAfterTheOther holds combine to what the members would
// leave written one after the other, on random members of few runs and keys
// with repeated points and ties: every point of an active run once, the
// newest point of each run's key (the first of equals) for latest_metrics,
// the last value of each tag; rows in run and key order.
func TestCombineIsOneAfterTheOther(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	type runKey struct{ run, key string }
	for range 2000 {
		var jobs []*batchJob
		for range 1 + rng.IntN(6) {
			j := &batchJob{runID: []string{"r1", "r2", "r3"}[rng.IntN(3)]}
			for range rng.IntN(6) {
				v := float64(rng.IntN(3))
				if rng.IntN(8) == 0 {
					v = math.NaN()
				}
				j.metrics = append(j.metrics, tracking.Metric{Key: []string{"a", "b"}[rng.IntN(2)], Value: v,
					Timestamp: int64(rng.IntN(2)), Step: int64(rng.IntN(2))})
			}
			for range rng.IntN(3) {
				j.tags = append(j.tags, tracking.Tag{Key: []string{"t", "u"}[rng.IntN(2)], Value: fmt.Sprint(rng.IntN(3))})
			}
			jobs = append(jobs, j)
		}
		active := func(run string) bool { return run != "r3" }
		got := combine(jobs, active)

		points := map[metricRow]bool{}
		latest := map[runKey]storedMetric{}
		tags := map[runKey]string{}
		for _, j := range jobs {
			if !active(j.runID) {
				continue
			}
			for _, m := range j.metrics {
				sm, k := toStored(m), runKey{j.runID, m.Key}
				points[metricRow{j.runID, sm}] = true
				if cur, ok := latest[k]; !ok || sm.newer(cur) {
					latest[k] = sm
				}
			}
			for _, tg := range j.tags {
				tags[runKey{j.runID, tg.Key}] = tg.Value
			}
		}
		inOrder := func(a, b runKey) bool { return a.run < b.run || (a.run == b.run && a.key <= b.key) }
		seen := map[metricRow]bool{}
		for i, r := range got.metrics {
			if !points[r] || seen[r] {
				t.Fatalf("metric row %+v: not a point of an active member, or twice", r)
			}
			seen[r] = true
			if i > 0 && !inOrder(runKey{got.metrics[i-1].run, got.metrics[i-1].key}, runKey{r.run, r.key}) {
				t.Fatalf("metric rows out of order at %d", i)
			}
		}
		if len(seen) != len(points) {
			t.Fatalf("%d metric rows, want %d", len(seen), len(points))
		}
		if len(got.latest) != len(latest) {
			t.Fatalf("%d latest rows, want %d", len(got.latest), len(latest))
		}
		for i, r := range got.latest {
			if want := latest[runKey{r.run, r.key}]; r.storedMetric != want {
				t.Fatalf("latest of %s %s: %+v, want %+v", r.run, r.key, r.storedMetric, want)
			}
			if i > 0 && !inOrder(runKey{got.latest[i-1].run, got.latest[i-1].key}, runKey{r.run, r.key}) {
				t.Fatalf("latest rows out of order at %d", i)
			}
		}
		if len(got.tags) != len(tags) {
			t.Fatalf("%d tag rows, want %d", len(got.tags), len(tags))
		}
		for i, r := range got.tags {
			if want := tags[runKey{r.run, r.key}]; r.value != want {
				t.Fatalf("tag %s %s: %q, want %q", r.run, r.key, r.value, want)
			}
			if i > 0 && !inOrder(runKey{got.tags[i-1].run, got.tags[i-1].key}, runKey{r.run, r.key}) {
				t.Fatalf("tag rows out of order at %d", i)
			}
		}
	}
}

// TestOneStatementArgsAreTheTexts holds the arguments logBatchOneStatement
// sends with a kept text to the ones the text was written with, and the text
// to one shape: batches of the same numbers of rows share it.
func TestOneStatementArgsAreTheTexts(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for range 500 {
		var metrics []tracking.Metric
		for range rng.IntN(12) {
			metrics = append(metrics, tracking.Metric{Key: fmt.Sprint("k", rng.IntN(4)), Value: rng.Float64(),
				Timestamp: rng.Int64(), Step: int64(rng.IntN(3))})
		}
		var tagRows [][]any
		for i := range rng.IntN(4) {
			tagRows = append(tagRows, []any{fmt.Sprint("t", i), fmt.Sprint(rng.IntN(9)), "run1"})
		}
		var rows, latest [][]any
		if len(metrics) > 0 {
			rows, latest = metricRows("run1", metrics)
		}
		q, args := oneStatement("run1", rows, latest, tagRows)
		if got := oneStatementArgs("run1", rows, latest, tagRows); !reflect.DeepEqual(got, args) {
			t.Fatalf("arguments %v, the text was written with %v", got, args)
		}
		other := make([][]any, len(rows))
		for i := range other {
			other[i] = []any{"x", 1.5, int64(2), int64(3), false, "run2"}
		}
		if q2, _ := oneStatement("run2", other, latest, tagRows); q2 != q {
			t.Fatalf("two texts for one shape:\n%s\n%s", q, q2)
		}
	}
}
