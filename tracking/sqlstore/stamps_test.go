package sqlstore_test

import (
	"context"
	"fmt"
	"math"
	"sync"
	"testing"

	"github.com/mlops-lab/housing/internal/testenv"
	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/search"
	"github.com/mlops-lab/housing/tracking/sqlstore"
)

// TestMetricStampsConcurrentWritersDoNotDeadlock writes the same runs' metrics
// and tags from many goroutines of two stores (two replicas) on PostgreSQL,
// through every write path (combined writes, the one-statement batch, the
// transaction of a batch with params) so that housing.metric_stamps' rows,
// locked by the triggers on metrics, and latest_metrics' and tags' rows are
// taken by writers of every kind at once. No write may fail (PostgreSQL
// breaks a deadlock by failing one of its transactions), and each run's
// stamp must have moved past what it was before.
func TestMetricStampsConcurrentWritersDoNotDeadlock(t *testing.T) {
	ctx := context.Background()
	uri := testenv.PostgresURI(t)
	stores := []*sqlstore.Store{mustOpen(t, uri), mustOpen(t, uri)}
	var runs []string
	for range 3 {
		r, err := stores[0].CreateRun(ctx, tracking.CreateRun{})
		if err != nil {
			t.Fatal(err)
		}
		runs = append(runs, r.Info.RunID)
	}
	before := map[string]int64{}
	for _, id := range runs {
		stamp, ok, err := stores[0].MetricHistoryStamp(ctx, id)
		if err != nil || !ok {
			t.Fatalf("stamp of %s: %d, %v, %v", id, stamp, ok, err)
		}
		before[id] = stamp
	}
	const writers, batches = 12, 60
	var wg sync.WaitGroup
	errs := make(chan error, writers*batches)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := stores[w%2]
			for i := range batches {
				id := runs[(w+i)%len(runs)]
				metrics := []tracking.Metric{{Key: "b", Value: float64(i), Timestamp: int64(i), Step: int64(w)},
					{Key: "a", Value: float64(w), Timestamp: int64(i), Step: int64(i)}}
				tags := []tracking.Tag{{Key: "t", Value: fmt.Sprint(w, i)}}
				var params []tracking.Param
				if w%3 == 0 {
					// A param takes the batch out of the combined writes and
					// the one-statement path into a transaction of statements.
					params = []tracking.Param{{Key: fmt.Sprintf("p%d-%d", w, i), Value: "x"}}
				}
				if err := s.LogBatch(ctx, id, metrics, params, tags); err != nil {
					errs <- fmt.Errorf("writer %d, batch %d on %s: %w", w, i, id, err)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, id := range runs {
		stamp, ok, err := stores[1].MetricHistoryStamp(ctx, id)
		if err != nil || !ok || stamp == before[id] {
			t.Errorf("stamp of %s after the writes: %d (before %d), %v, %v", id, stamp, before[id], ok, err)
		}
	}
}

// TestMetricHistoryPageTokens pages a metric history with the tokens the store
// hands out (which resume after the point that ended the page before), with
// their offsets alone (MLflow's tokens) and with a token of another key (its
// offset stands): the pages are the same, ties of timestamp and step and a NaN
// beside a stored 0 included, and are the whole history in order. After an
// older point is added between two pages our token repeats no point, where
// the offset does.
func TestMetricHistoryPageTokens(t *testing.T) {
	for _, be := range []struct {
		name string
		uri  func(testing.TB) string
	}{{"sqlite", sqliteURI}, {"postgresql", testenv.PostgresURI}} {
		t.Run(be.name, func(t *testing.T) {
			ctx := context.Background()
			s := mustOpen(t, be.uri(t))
			r, err := s.CreateRun(ctx, tracking.CreateRun{})
			if err != nil {
				t.Fatal(err)
			}
			id := r.Info.RunID
			var ms []tracking.Metric
			for i := range 57 {
				// Few timestamps and steps: most points tie on both.
				m := tracking.Metric{Key: "loss", Value: float64(i % 4), Timestamp: int64(i % 3), Step: int64(i % 5)}
				if i%11 == 0 {
					m.Value = math.NaN() // stored as 0 with is_nan, beside a real 0
				}
				ms = append(ms, m)
			}
			// A real 0 where point 0 is a NaN: the two differ in is_nan alone.
			ms = append(ms, tracking.Metric{Key: "loss", Value: 0, Timestamp: 0, Step: 0},
				tracking.Metric{Key: "acc", Value: 1, Timestamp: 1, Step: 1})
			if err := s.LogBatch(ctx, id, ms, nil, nil); err != nil {
				t.Fatal(err)
			}
			whole, err := s.GetMetricHistory(ctx, id, "loss", 0, "")
			if err != nil || whole.NextPageToken != "" {
				t.Fatalf("whole history: %v, token %q", err, whole.NextPageToken)
			}
			want := fmt.Sprint(whole.Items)
			for i := 1; i < len(whole.Items); i++ {
				a, b := whole.Items[i-1], whole.Items[i]
				if a.Timestamp > b.Timestamp || a.Timestamp == b.Timestamp && a.Step > b.Step {
					t.Fatalf("whole history out of order at %d: %v then %v", i, a, b)
				}
			}
			otherKey, err := s.GetMetricHistory(ctx, id, "acc", 0, "")
			if err != nil || len(otherKey.Items) != 1 {
				t.Fatal(otherKey, err)
			}
			// A token of ours for another history: resumes at its offset.
			foreign := func(offset int) string {
				p, _ := s.GetMetricHistory(ctx, id, "loss", offset, "")
				return p.NextPageToken
			}
			for _, c := range []struct {
				name  string
				token func(ours string, offset int) string
			}{
				{"our tokens", func(ours string, _ int) string { return ours }},
				{"MLflow's offsets", func(_ string, offset int) string { return search.EncodePageToken(offset) }},
			} {
				var got []tracking.Metric
				token, pages := "", 0
				for {
					p, err := s.GetMetricHistory(ctx, id, "loss", 10, token)
					if err != nil {
						t.Fatalf("%s: page %d: %v", c.name, pages, err)
					}
					got = append(got, p.Items...)
					pages++
					if p.NextPageToken == "" {
						break
					}
					token = c.token(p.NextPageToken, len(got))
				}
				if fmt.Sprint(got) != want || pages != 6 {
					t.Errorf("%s: %d pages\n%v\nwant 6 pages of the whole history\n%s", c.name, pages, got, want)
				}
			}
			// acc's token at offset 20 of loss's history is foreign there.
			p, err := s.GetMetricHistory(ctx, id, "acc", 10, foreign(20))
			if err != nil || len(p.Items) != 0 {
				t.Errorf("acc's history from loss's token at offset 20: %v, %v; want empty (offset 20 of 1 point)", p.Items, err)
			}

			first, err := s.GetMetricHistory(ctx, id, "loss", 10, "")
			if err != nil {
				t.Fatal(err)
			}
			if err := s.LogBatch(ctx, id, []tracking.Metric{{Key: "loss", Value: -1, Timestamp: -5, Step: 0}}, nil, nil); err != nil {
				t.Fatal(err)
			}
			seek, err := s.GetMetricHistory(ctx, id, "loss", 10, first.NextPageToken)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(seek.Items) != fmt.Sprint(whole.Items[10:20]) {
				t.Errorf("our token after an older point: %v, want %v", seek.Items, whole.Items[10:20])
			}
			byOffset, err := s.GetMetricHistory(ctx, id, "loss", 10, search.EncodePageToken(10))
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(byOffset.Items) != fmt.Sprint(whole.Items[9:19]) {
				t.Errorf("MLflow's offset after an older point: %v, want %v (one point again)", byOffset.Items, whole.Items[9:19])
			}
		})
	}
}
