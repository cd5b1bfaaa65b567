package sqlstore

import (
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/mlops-lab/housing/tracking"
)

// TestSortedAndWalkedSearchesAgree searches runs ordered by a metric on SQLite
// both ways fewRuns chooses between (sorting the experiment's runs, walking
// the metric's index) and wants the same pages: ties, NaN, runs without the
// metric, a filter, and runs of another experiment with the same metric.
func TestSortedAndWalkedSearchesAgree(t *testing.T) {
	ctx := t.Context()
	s, err := Open(ctx, "sqlite:///"+filepath.Join(t.TempDir(), "mlflow.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var exps []string
	for e := range 2 {
		id, err := s.CreateExperiment(ctx, fmt.Sprint("exp", e), "", nil)
		if err != nil {
			t.Fatal(err)
		}
		exps = append(exps, id)
		for i := range 40 {
			run, err := s.CreateRun(ctx, tracking.CreateRun{ExperimentID: id, StartTime: int64(i % 7)})
			if err != nil {
				t.Fatal(err)
			}
			var ms []tracking.Metric
			switch {
			case i%9 == 0: // no "loss"
			case i%11 == 0:
				ms = append(ms, tracking.Metric{Key: "loss", Value: math.NaN()})
			default:
				ms = append(ms, tracking.Metric{Key: "loss", Value: float64(i % 5)}) // ties
			}
			ms = append(ms, tracking.Metric{Key: "acc", Value: float64(i) / 40})
			if err := s.LogBatch(ctx, run.Info.RunID, ms, nil, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	for below, want := range map[int]bool{40: false, 41: true} {
		s.sortRunsBelow = below
		err := s.readTx(ctx, func(tx *txn) error {
			got, err := fewRuns(ctx, tx, []any{exps[0]}, []any{"active"})
			if err == nil && got != want {
				t.Errorf("40 runs, sorting below %d: fewRuns = %v, want %v", below, got, want)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	search := func(below int, q tracking.RunQuery) []string {
		s.sortRunsBelow = below
		var ids []string
		for {
			page, err := s.SearchRuns(ctx, q)
			if err != nil {
				t.Fatalf("%+v: %v", q, err)
			}
			for _, r := range page.Items {
				ids = append(ids, r.Info.RunID)
			}
			if page.NextPageToken == "" {
				return ids
			}
			q.PageToken = page.NextPageToken
		}
	}
	for _, q := range []tracking.RunQuery{
		{ExperimentIDs: exps[:1], OrderBy: []string{"metrics.loss DESC"}, MaxResults: 7},
		{ExperimentIDs: exps[1:], OrderBy: []string{"metrics.loss ASC", "metrics.acc DESC"}, MaxResults: 6},
		{ExperimentIDs: exps, Filter: "metrics.acc > 0.3", OrderBy: []string{"metrics.loss"}, MaxResults: 9},
	} {
		sorted, walked := search(math.MaxInt32, q), search(0, q)
		if len(sorted) == 0 || !slices.Equal(sorted, walked) {
			t.Errorf("%+v:\nsorted %v\nwalked %v", q, sorted, walked)
		}
	}
}

// TestFewRunsMemory: an answer is kept for answersFor, not across a clock that
// went back, and the memory starts over when full.
func TestFewRunsMemory(t *testing.T) {
	var m answerMemory[bool]
	t0 := time.Unix(1700000000, 0)
	m.put("a", true, t0)
	if few, ok := m.get("a", t0.Add(answersFor-time.Millisecond)); !ok || !few {
		t.Errorf("within %v: %v, %v; want the answer true", answersFor, few, ok)
	}
	for _, at := range []time.Time{t0.Add(answersFor), t0.Add(-time.Second)} {
		if _, ok := m.get("a", at); ok {
			t.Errorf("at %v after the answer: still remembered", at.Sub(t0))
		}
	}
	if _, ok := m.get("b", t0); ok {
		t.Error("an unknown key was answered")
	}
	for i := range answersMaxSeen {
		m.put(fmt.Sprint(i), false, t0)
	}
	if len(m.seen) != 1 {
		t.Errorf("after %d answers past a full memory it holds %d, want it started over", answersMaxSeen, len(m.seen))
	}
}
