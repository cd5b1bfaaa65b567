package sqlstore

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mlops-lab/housing/internal/testenv"
	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/search"
)

// TestSearchPlansAgree holds every plan runSegments chooses between to the
// pages of the plain one (planSorted: test and sort every run), on random runs
// and random searches, SQLite and PostgreSQL: the plan chosen, the walk where
// there is one, driving by each clause that can, and driving by the runs that
// a scan of each clause that can be scanned lists. The runs have ties, NaN
// (stored as 0 and, as another writer may leave it, as other values; on
// PostgreSQL also a NaN value without is_nan), ±Inf (clamped as MLflow does,
// and stored as such), missing metrics, params and tags, NULL tag values,
// NULL start and end times, names, users, statuses and artifact URIs, long
// values sharing their first 200 characters (the indexed prefix), non-ASCII
// values, deleted runs, and a second experiment with the same keys. Every
// fifth search is also paged one run a page, so that every run's sort keys
// (search.RunKeyValues, taken from the run as loaded) go through a token.
func TestSearchPlansAgree(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		var bytewise bool
		if err := s.readTx(ctx, func(tx *txn) (err error) { bytewise, err = s.bytewise(ctx, tx); return err }); err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(7, 11))
		exps, ids := fillRandomRuns(ctx, t, s, rng)
		for i := range 150 {
			q := randomRunQuery(rng, exps, ids)
			// The offset pages, as MLflow's tokens page them, are what
			// every plan must give following the tokens it hands out.
			want := searchAll(ctx, t, s, planChoice{kind: planSorted}, q, true)
			filter, err := search.ParseRunFilter(q.Filter)
			if err != nil {
				t.Fatal(err)
			}
			plans := []planChoice{{kind: planSorted}, {kind: planChosen}, {kind: planWalk}}
			for _, d := range search.RunDrivers(filter, bytewise) {
				// A bound of a run or two cuts most walks short, so the
				// fallback to driving reads their pages.
				plans = append(plans, planChoice{kind: planDriven, driver: d}, planChoice{kind: planBoundedWalk, driver: d, cap: 1 + i%2})
			}
			for _, c := range search.RunScans(filter, bytewise) {
				plans = append(plans, planChoice{kind: planScan, driver: c})
			}
			for _, p := range plans {
				if got := searchAll(ctx, t, s, p, q, false); !slices.Equal(got, want) {
					t.Errorf("search %d %+v, plan %+v:\n got %d runs %v\nwant %d runs %v", i, q, p, len(got), got, len(want), want)
				}
				if i%5 == 0 {
					one := q
					one.MaxResults = 1
					if got := searchAll(ctx, t, s, p, one, false); !slices.Equal(got, want) {
						t.Errorf("search %d %+v one run a page, plan %+v:\n got %d runs %v\nwant %d runs %v", i, one, p, len(got), got, len(want), want)
					}
				}
			}
		}
		s.plan = planChoice{}
		if s.walkFallbacks.Load() == 0 {
			t.Error("no bounded walk fell back to driving")
		}
	})
}

// TestSearchWalkBound searches runs whose names grow with their start
// times, and whose tag phase is "old" on the oldest 300 of them, so that a
// clause's matches are all among the oldest
// runs while the walk of the default order (start_time DESC) starts at the
// newest: chooseDriver, taking them as spread evenly, walks, and the bound
// on the walk (runSegments) must give up and drive, with the pages of the
// plain plan. Without the bound the walk reads past 700 of the 1,000 runs
// to fill a page, and no search falls back.
func TestSearchWalkBound(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		exp, err := s.CreateExperiment(ctx, "correlated", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		const n = 1000
		for i := range n {
			phase := "old"
			if i >= 300 {
				phase = "new"
			}
			if _, err := s.CreateRun(ctx, tracking.CreateRun{ExperimentID: exp, RunName: fmt.Sprint("run-", i), StartTime: int64(i),
				Tags: []tracking.Tag{{Key: "phase", Value: phase}}}); err != nil {
				t.Fatal(err)
			}
		}
		// Pages of 2 over 1,000 runs: chooseDriver counts up to
		// sqrt(2 * 1000) = 44 entries, which each clause passes (111
		// names, 300 tags, all among the 200 and 300 oldest runs), so it
		// walks, expecting ~45 runs; the bound stops it at 178.
		for _, filter := range []string{"attributes.run_name LIKE 'run-1%'", "tags.phase = 'old'"} {
			q := tracking.RunQuery{ExperimentIDs: []string{exp}, Filter: filter, MaxResults: 2}
			want := searchAll(ctx, t, s, planChoice{kind: planSorted}, q, true)
			before := s.walkFallbacks.Load()
			if got := searchAll(ctx, t, s, planChoice{}, q, false); !slices.Equal(got, want) {
				t.Errorf("%s:\n got %d runs %v\nwant %d runs %v", filter, len(got), got, len(want), want)
			}
			if s.walkFallbacks.Load() == before {
				t.Errorf("%s: the walk was not bounded (no page fell back to driving)", filter)
			}
		}
		s.plan = planChoice{}
	})
}

// TestSearchRunKeysFromLoadedRuns pages every ordering one run a page, so
// that each run's sort keys, taken from the run as loaded
// (search.RunKeyValues), go through a token: a key that differs from what
// SQL yields for the run (a NaN's stored value, a NULL read as "" or 0, an
// infinity) resumes the next page elsewhere than its offset. The runs are
// those of TestSearchPlansAgree.
func TestSearchRunKeysFromLoadedRuns(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		exps, _ := fillRandomRuns(ctx, t, s, rand.New(rand.NewPCG(3, 5)))
		var orders [][]string
		for _, o := range runOrderings {
			for _, dir := range []string{" ASC", " DESC"} {
				orders = append(orders, []string{o + dir})
			}
		}
		orders = append(orders, []string{"metrics.m0 DESC", "metrics.m1 ASC"}, []string{"tags.t0", "metrics.m1 DESC"},
			[]string{"attributes.user_id", "params.p0 DESC"})
		for _, order := range orders {
			q := tracking.RunQuery{ExperimentIDs: exps[:1], OrderBy: order, MaxResults: 1}
			want := searchAll(ctx, t, s, planChoice{kind: planSorted}, q, true)
			for _, p := range []planChoice{{kind: planSorted}, {kind: planChosen}, {kind: planWalk}} {
				if got := searchAll(ctx, t, s, p, q, false); !slices.Equal(got, want) {
					t.Errorf("order %v, plan %+v:\n got %d runs %v\nwant %d runs %v", order, p, len(got), got, len(want), want)
				}
			}
		}
		s.plan = planChoice{}
	})
}

// searchAll returns the ids of every page of q under plan p, page by page,
// following the page tokens SearchRuns hands out or, with offsetOnly, their
// offsets alone (MLflow's tokens).
func searchAll(ctx context.Context, t *testing.T, s *Store, p planChoice, q tracking.RunQuery, offsetOnly bool) []string {
	t.Helper()
	s.plan = p
	var ids []string
	for range 1000 {
		page, err := s.SearchRuns(ctx, q)
		if err != nil {
			t.Fatalf("%+v, plan %+v: %v", q, p, err)
		}
		for _, r := range page.Items {
			ids = append(ids, r.Info.RunID)
		}
		if page.NextPageToken == "" {
			return ids
		}
		q.PageToken = page.NextPageToken
		pos, err := search.DecodeRunPageToken(q.PageToken)
		if err != nil {
			t.Fatalf("%+v: token %q: %v", q, q.PageToken, err)
		}
		if offsetOnly {
			q.PageToken = search.EncodePageToken(pos.Offset)
		} else if len(pos.After) == 0 {
			t.Fatalf("%+v: token %q holds no position", q, q.PageToken)
		}
	}
	t.Fatalf("%+v: more than 1000 pages", q)
	return nil
}

var (
	planWords = []string{"a", "b", "ab", "abc", "B", "é", "ü1", "x_y", "50%", "z"}
	longValue = strings.Repeat("p", 200) // long values share these 200 characters
)

// fillRandomRuns creates two experiments of random runs and returns their ids
// and the runs' ids.
func fillRandomRuns(ctx context.Context, t *testing.T, s *Store, rng *rand.Rand) ([]string, []string) {
	t.Helper()
	var exps, ids []string
	for e := range 2 {
		exp, err := s.CreateExperiment(ctx, fmt.Sprint("plans", e), "", nil)
		if err != nil {
			t.Fatal(err)
		}
		exps = append(exps, exp)
		for i := range 60 + 40*e {
			run, err := s.CreateRun(ctx, tracking.CreateRun{ExperimentID: exp, RunName: planWords[rng.IntN(len(planWords))] + fmt.Sprint(i%7),
				StartTime: int64(rng.IntN(20)), UserID: planWords[rng.IntN(3)]})
			if err != nil {
				t.Fatal(err)
			}
			id := run.Info.RunID
			ids = append(ids, id)
			var ms []tracking.Metric
			var ps []tracking.Param
			var ts []tracking.Tag
			for k := range 3 {
				switch rng.IntN(9) {
				case 0: // missing
				case 1:
					ms = append(ms, tracking.Metric{Key: fmt.Sprint("m", k), Value: math.NaN()})
				case 2:
					ms = append(ms, tracking.Metric{Key: fmt.Sprint("m", k), Value: math.Inf(1 - 2*rng.IntN(2))})
				default:
					ms = append(ms, tracking.Metric{Key: fmt.Sprint("m", k), Value: float64(rng.IntN(10)) / 4})
				}
				value := func() string {
					switch rng.IntN(6) {
					case 0:
						return longValue + planWords[rng.IntN(len(planWords))]
					case 1:
						return longValue
					}
					return planWords[rng.IntN(len(planWords))]
				}
				if rng.IntN(6) > 0 {
					ps = append(ps, tracking.Param{Key: fmt.Sprint("p", k), Value: value()})
				}
				if rng.IntN(6) > 0 {
					ts = append(ts, tracking.Tag{Key: fmt.Sprint("t", k), Value: value()})
				}
			}
			if err := s.LogBatch(ctx, id, ms, ps, ts); err != nil {
				t.Fatal(err)
			}
			if rng.IntN(2) == 0 {
				end := int64(rng.IntN(30))
				status := tracking.RunFinished
				if _, err := s.UpdateRun(ctx, id, tracking.UpdateRun{Status: &status, EndTime: &end}); err != nil {
					t.Fatal(err)
				}
			}
			if rng.IntN(10) == 0 {
				if err := s.DeleteRun(ctx, id); err != nil {
					t.Fatal(err)
				}
			}
			for _, set := range []string{"start_time = NULL", "name = NULL", "user_id = NULL", "status = NULL", "artifact_uri = NULL"} {
				if rng.IntN(12) == 0 {
					if _, err := s.DB().ExecContext(ctx, "UPDATE runs SET "+set+" WHERE run_uuid = '"+id+"'"); err != nil {
						t.Fatal(err)
					}
				}
			}
			// Values as other writers may leave them: NaN stored as a
			// number other than MLflow's 0, a true infinity (MLflow clamps
			// to ±MaxFloat64), and on PostgreSQL a NaN value without is_nan.
			inf, minusInf, nan, yes, no := "9e999", "-9e999", "", "1", "0"
			if s.dialect == dialectPostgres {
				inf, minusInf, nan, yes, no = "'Infinity'", "'-Infinity'", "'NaN'", "true", "false"
			}
			raw := []string{"value = 1.5 WHERE is_nan = " + yes, "value = -2 WHERE is_nan = " + yes, "value = " + minusInf + " WHERE is_nan = " + no, "value = " + inf + " WHERE is_nan = " + no}
			if nan != "" {
				raw = append(raw, "value = "+nan+" WHERE is_nan = "+no)
			}
			for _, set := range raw {
				if rng.IntN(5) == 0 {
					if _, err := s.DB().ExecContext(ctx, "UPDATE latest_metrics SET "+set+" AND key = 'm"+fmt.Sprint(rng.IntN(3))+"' AND run_uuid = '"+id+"'"); err != nil {
						t.Fatal(err)
					}
				}
			}
			if rng.IntN(12) == 0 {
				if _, err := s.DB().ExecContext(ctx, "UPDATE tags SET value = NULL WHERE key = 't0' AND run_uuid = '"+id+"'"); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	return exps, ids
}

// runOrderings are what the random searches order by.
var runOrderings = []string{"metrics.m0", "metrics.m1", "params.p0", "params.p1", "tags.t0", "tags.t2",
	"attributes.start_time", "attributes.end_time", "attributes.run_name", "attributes.user_id",
	"attributes.status", "attributes.artifact_uri", "attributes.run_id"}

// randomRunQuery draws a search: up to three clauses, up to two orderings, a
// page size and a view type.
func randomRunQuery(rng *rand.Rand, exps, ids []string) tracking.RunQuery {
	word := func() string {
		w := planWords[rng.IntN(len(planWords))]
		if rng.IntN(5) == 0 {
			w = longValue + w
		}
		return strings.ReplaceAll(w, "'", "")
	}
	clause := func() string {
		k := rng.IntN(3)
		switch rng.IntN(9) {
		case 0, 1:
			ops := []string{"=", "!=", "<", "<=", ">", ">="}
			return fmt.Sprintf("metrics.m%d %s %g", k, ops[rng.IntN(len(ops))], float64(rng.IntN(10))/4)
		case 2, 3, 4:
			kind := []string{"params", "tags"}[rng.IntN(2)]
			switch rng.IntN(4) {
			case 0:
				return fmt.Sprintf("%s.%s%d != '%s'", kind, kind[:1], k, word())
			case 1:
				w := word()
				return fmt.Sprintf("%s.%s%d LIKE '%s%%'", kind, kind[:1], k, w[:rng.IntN(len(w)+1)])
			case 2:
				return fmt.Sprintf("%s.%s%d ILIKE '%%%s%%'", kind, kind[:1], k, word())
			}
			return fmt.Sprintf("%s.%s%d = '%s'", kind, kind[:1], k, word())
		case 5:
			switch rng.IntN(3) {
			case 0:
				return fmt.Sprintf("attributes.run_name LIKE '%s%%'", planWords[rng.IntN(len(planWords))])
			case 1:
				return fmt.Sprintf("attributes.run_name ILIKE '%%%s%%'", planWords[rng.IntN(len(planWords))])
			}
			return fmt.Sprintf("attributes.run_name = '%s%d'", planWords[rng.IntN(len(planWords))], rng.IntN(7))
		case 6:
			pick := []string{ids[rng.IntN(len(ids))], ids[rng.IntN(len(ids))], ids[rng.IntN(len(ids))], "nope"}
			return "attributes.run_id IN ('" + strings.Join(pick[:1+rng.IntN(4)], "', '") + "')"
		case 7:
			return fmt.Sprintf("attributes.start_time >= %d", rng.IntN(20))
		}
		return "attributes.status = 'FINISHED'"
	}
	var clauses []string
	for range rng.IntN(4) {
		clauses = append(clauses, clause())
	}
	var order []string
	for _, i := range rng.Perm(len(runOrderings))[:rng.IntN(3)] {
		order = append(order, runOrderings[i]+[]string{" ASC", " DESC", ""}[rng.IntN(3)])
	}
	view := []tracking.ViewType{"", tracking.ViewActiveOnly, tracking.ViewAll, tracking.ViewDeletedOnly}[rng.IntN(4)]
	return tracking.RunQuery{ExperimentIDs: exps[:1+rng.IntN(2)], Filter: strings.Join(clauses, " AND "), OrderBy: order,
		ViewType: view, MaxResults: 1 + rng.IntN(25)}
}

// TestSearchRunsTokenAfterChangedData names a deliberate difference from
// MLflow: where runs are created or deleted between pages, our tokens resume
// after the last run of the page before (no run repeated or skipped), where
// MLflow's offset shifts with the runs before it. A token used with another
// search falls back to its offset, as MLflow's.
func TestSearchRunsTokenAfterChangedData(t *testing.T) {
	ctx := t.Context()
	s, err := Open(ctx, "sqlite:///"+filepath.Join(t.TempDir(), "mlflow.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	exp, err := s.CreateExperiment(ctx, "changed", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	create := func(start int64) string {
		run, err := s.CreateRun(ctx, tracking.CreateRun{ExperimentID: exp, StartTime: start})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.LogBatch(ctx, run.Info.RunID, []tracking.Metric{{Key: "m", Value: float64(start % 3)}}, nil, nil); err != nil {
			t.Fatal(err)
		}
		return run.Info.RunID
	}
	var ids []string // newest first: the default order
	for i := range 10 {
		ids = append([]string{create(int64(100 + i))}, ids...)
	}
	q := tracking.RunQuery{ExperimentIDs: []string{exp}, MaxResults: 3}
	first, err := s.SearchRuns(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	// Two newer runs come first in the order, and the first page's last run
	// (the token's) goes.
	create(200)
	create(201)
	if err := s.DeleteRun(ctx, ids[2]); err != nil {
		t.Fatal(err)
	}
	pageIDs := func(q tracking.RunQuery) []string {
		t.Helper()
		page, err := s.SearchRuns(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range page.Items {
			out = append(out, r.Info.RunID)
		}
		return out
	}
	q.PageToken = first.NextPageToken
	if got, want := pageIDs(q), ids[3:6]; !slices.Equal(got, want) {
		t.Errorf("next page after changes = %v, want the runs after the first page %v", got, want)
	}
	pos, err := search.DecodeRunPageToken(first.NextPageToken)
	if err != nil {
		t.Fatal(err)
	}
	q.PageToken = search.EncodePageToken(pos.Offset) // MLflow's token: offset 3 of the changed runs
	if got, want := pageIDs(q), []string{ids[1], ids[3], ids[4]}; !slices.Equal(got, want) {
		t.Errorf("offset page after changes = %v, want %v", got, want)
	}
	// Values that do not fit the ordering (a token made by hand, with the
	// search's fingerprint) leave the offset.
	forged := search.EncodeRunPageToken(search.RunPosition{Offset: pos.Offset, Search: pos.Search, After: []any{"late", int64(1)}})
	q.PageToken = forged
	if got, want := pageIDs(q), []string{ids[1], ids[3], ids[4]}; !slices.Equal(got, want) {
		t.Errorf("page of a forged position = %v, want the offset page %v", got, want)
	}
	// The same token in a search ordered otherwise pages by its offset.
	other := tracking.RunQuery{ExperimentIDs: []string{exp}, MaxResults: 3, OrderBy: []string{"metrics.m DESC"}}
	other.PageToken = search.EncodePageToken(pos.Offset)
	want := pageIDs(other)
	other.PageToken = first.NextPageToken
	if got := pageIDs(other); !slices.Equal(got, want) {
		t.Errorf("another search's token = %v, want its offset page %v", got, want)
	}
}

// BenchmarkWalkBound times, on the database HOUSING_SEARCH_DB names (filled
// by bench/search: run i is named run-<i> and started in that order), the
// name-prefix searches whose matches gather among the oldest runs, under the
// chosen plan and under the unbounded walk that was chosen before the bound
// (runSegments), alternately search by search; p50-ms is the chosen plan's
// median, walk-p50-ms the unbounded walk's, fallbacks/op how many of the
// chosen plan's pages fell back to driving.
func BenchmarkWalkBound(b *testing.B) {
	uri := os.Getenv("HOUSING_SEARCH_DB")
	if uri == "" {
		b.Skip("HOUSING_SEARCH_DB not set")
	}
	s, err := Open(b.Context(), uri, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	exp, err := s.GetExperimentByName(b.Context(), "bench-search")
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		filter, order string
		offset        int
	}{
		{"attributes.run_name LIKE 'run-1%'", "", 0},
		{"attributes.run_name LIKE 'run-12%'", "", 0},
		{"attributes.run_name LIKE 'run-9%'", "", 0},
		// A deep page whose walk the bound holds (and does not cut).
		{"tags.team = 'nlp'", "attributes.start_time ASC", 5000},
	} {
		b.Run(c.filter+c.order, func(b *testing.B) {
			q := tracking.RunQuery{ExperimentIDs: []string{exp.ID}, Filter: c.filter, MaxResults: 100}
			if c.order != "" {
				q.OrderBy = []string{c.order}
			}
			if c.offset > 0 {
				q.PageToken = search.EncodeRunPageToken(search.RunPosition{Offset: c.offset})
			}
			var chosen, walk []time.Duration
			fallbacks := s.walkFallbacks.Load()
			for b.Loop() {
				for _, p := range []planChoice{{}, {kind: planWalk}} {
					s.plan = p
					start := time.Now()
					if _, err := s.SearchRuns(b.Context(), q); err != nil {
						b.Fatal(err)
					}
					if p.kind == planChosen {
						chosen = append(chosen, time.Since(start))
					} else {
						walk = append(walk, time.Since(start))
					}
				}
			}
			s.plan = planChoice{}
			b.ReportMetric(median(chosen), "p50-ms")
			b.ReportMetric(median(walk), "walk-p50-ms")
			b.ReportMetric(float64(s.walkFallbacks.Load()-fallbacks)/float64(len(chosen)), "fallbacks/op")
		})
	}
}

func median(d []time.Duration) float64 {
	slices.Sort(d)
	return float64(d[len(d)/2].Microseconds()) / 1000
}

// eachBackend runs test on a fresh store of each backend: SQLite in a
// temporary file and the test PostgreSQL.
func eachBackend(t *testing.T, test func(t *testing.T, s *Store)) {
	for _, b := range []struct {
		name string
		uri  func(testing.TB) string
	}{
		{"sqlite", func(tb testing.TB) string { return "sqlite:///" + filepath.Join(tb.TempDir(), "mlflow.db") }},
		{"postgresql", testenv.PostgresURI},
	} {
		t.Run(b.name, func(t *testing.T) { test(t, openInternal(t, b.uri(t))) })
	}
}
