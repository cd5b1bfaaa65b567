package sqlstore_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"testing"
	"time"

	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/search"
	"github.com/mlops-lab/housing/tracking/sqlstore"
)

// seedRuns creates n runs with 5 params and 5 metrics each in a new experiment.
func seedRuns(b testing.TB, s *sqlstore.Store, name string, n int) string {
	b.Helper()
	ctx := b.Context()
	expID, err := s.CreateExperiment(ctx, name, "", nil)
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 7))
	for i := range n {
		r, err := s.CreateRun(ctx, tracking.CreateRun{ExperimentID: expID, StartTime: int64(1700000000000 + i)})
		if err != nil {
			b.Fatal(err)
		}
		var metrics []tracking.Metric
		var params []tracking.Param
		for k := range 5 {
			metrics = append(metrics, tracking.Metric{Key: fmt.Sprintf("m%d", k), Value: rng.Float64(), Timestamp: int64(i)})
			params = append(params, tracking.Param{Key: fmt.Sprintf("p%d", k), Value: fmt.Sprint(rng.IntN(100))})
		}
		if err := s.LogBatch(ctx, r.Info.RunID, metrics, params, nil); err != nil {
			b.Fatal(err)
		}
	}
	return expID
}

// BenchmarkSearchRuns10k searches 10,000 runs (5 params, 5 metrics each) with a
// metric filter, ordered by another metric; it reports the median latency.
// On PostgreSQL it first runs ANALYZE, as autovacuum would within a minute of
// such a load.
func BenchmarkSearchRuns10k(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { benchmarkSearchRuns10k(b, openSQLite(b)) })
	b.Run("postgresql", func(b *testing.B) { benchmarkSearchRuns10k(b, openPostgres(b)) })
}

func benchmarkSearchRuns10k(b *testing.B, s *sqlstore.Store) {
	expID := seedRuns(b, s, "bench", 10000)
	if _, err := s.DB().ExecContext(b.Context(), "ANALYZE"); err != nil {
		b.Fatal(err)
	}
	for _, max := range []int{100, 1000} {
		b.Run(fmt.Sprintf("max_results=%d", max), func(b *testing.B) {
			q := tracking.RunQuery{ExperimentIDs: []string{expID}, Filter: "metrics.m0 > 0.5", OrderBy: []string{"metrics.m1 DESC"}, MaxResults: max}
			var lat []time.Duration
			for b.Loop() {
				start := time.Now()
				page, err := s.SearchRuns(b.Context(), q)
				lat = append(lat, time.Since(start))
				if err != nil {
					b.Fatal(err)
				}
				if len(page.Items) != max || len(page.Items[0].Data.Metrics) != 5 || len(page.Items[0].Data.Params) != 5 {
					b.Fatalf("page of %d runs, first with %d metrics", len(page.Items), len(page.Items[0].Data.Metrics))
				}
			}
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		})
	}
}

// BenchmarkLogBatch logs 50 metrics, 10 params and 10 tags per call on SQLite.
func BenchmarkLogBatch(b *testing.B) {
	s := openSQLite(b)
	ctx := b.Context()
	run, err := s.CreateRun(ctx, tracking.CreateRun{})
	if err != nil {
		b.Fatal(err)
	}
	i := 0
	for b.Loop() {
		var metrics []tracking.Metric
		var params []tracking.Param
		var tags []tracking.Tag
		for k := range 50 {
			metrics = append(metrics, tracking.Metric{Key: fmt.Sprintf("m%d", k%5), Value: float64(k), Timestamp: int64(i), Step: int64(k)})
		}
		for k := range 10 {
			params = append(params, tracking.Param{Key: fmt.Sprintf("p%d_%d", i, k), Value: "v"})
			tags = append(tags, tracking.Tag{Key: fmt.Sprintf("t%d", k), Value: fmt.Sprint(i)})
		}
		if err := s.LogBatch(ctx, run.Info.RunID, metrics, params, tags); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkSearchSmallBesideLarge searches experiments of 10 and 100 runs,
// ordered by a metric that an experiment of 10,000 runs logs too (the case
// where walking the metric's index would pass all of its entries).
func BenchmarkSearchSmallBesideLarge(b *testing.B) {
	s := openSQLite(b)
	seedRuns(b, s, "large", 10000)
	for _, n := range []int{10, 100} {
		expID := seedRuns(b, s, fmt.Sprint("small-", n), n)
		b.Run(fmt.Sprintf("runs=%d", n), func(b *testing.B) {
			q := tracking.RunQuery{ExperimentIDs: []string{expID}, Filter: "metrics.m0 > 0.5", OrderBy: []string{"metrics.m1 DESC"}}
			for b.Loop() {
				page, err := s.SearchRuns(b.Context(), q)
				if err != nil || len(page.Items) == 0 || len(page.Items) >= n {
					b.Fatalf("%d runs, %v", len(page.Items), err)
				}
			}
		})
	}
}

// BenchmarkGetMetricHistory100k reads one metric of 100,000 points, of a run
// beside another whose same metric holds 100,000 more.
func BenchmarkGetMetricHistory100k(b *testing.B) {
	for _, bc := range []struct {
		name string
		open func(testing.TB) *sqlstore.Store
	}{{"sqlite", openSQLite}, {"postgresql", openPostgres}} {
		b.Run(bc.name, func(b *testing.B) {
			s := bc.open(b)
			ctx := b.Context()
			var target string
			for r := range 2 {
				run, err := s.CreateRun(ctx, tracking.CreateRun{})
				if err != nil {
					b.Fatal(err)
				}
				target = run.Info.RunID
				for start := 0; start < 100000; start += 1000 {
					ms := make([]tracking.Metric, 1000)
					for i := range ms {
						step := int64(start + i)
						ms[i] = tracking.Metric{Key: "loss", Value: float64(r) + float64(step)/7, Timestamp: 1700000000000 + step, Step: step}
					}
					if err := s.LogBatch(ctx, target, ms, nil, nil); err != nil {
						b.Fatal(err)
					}
				}
			}
			if _, err := s.DB().ExecContext(ctx, "ANALYZE"); err != nil {
				b.Fatal(err)
			}
			// Whole, and in MLflow's clients' pages of 25,000 following our
			// tokens (each page seeks past the one before) or MLflow's
			// offsets (each page sorts and skips what came before).
			for _, read := range []struct {
				name  string
				page  int
				token func(ours string, offset int) string
			}{
				{"whole", 0, nil},
				{"paged-seek", 25000, func(ours string, _ int) string { return ours }},
				{"paged-offset", 25000, func(_ string, offset int) string { return search.EncodePageToken(offset) }},
			} {
				b.Run(read.name, func(b *testing.B) {
					for b.Loop() {
						n, token := 0, ""
						for {
							page, err := s.GetMetricHistory(ctx, target, "loss", read.page, token)
							if err != nil {
								b.Fatal(err)
							}
							n += len(page.Items)
							if page.NextPageToken == "" {
								break
							}
							token = read.token(page.NextPageToken, n)
						}
						if n != 100000 {
							b.Fatalf("%d points", n)
						}
					}
				})
			}
		})
	}
}

// BenchmarkSearchShapes times the slow shapes of bench/search in process, for
// profiling (-cpuprofile) without HTTP: on the database HOUSING_SEARCH_DB (a
// URI; bench/search -data keeps its SQLite ones) holding bench/search's
// experiment "bench-search". Skipped without it.
func BenchmarkSearchShapes(b *testing.B) {
	uri := os.Getenv("HOUSING_SEARCH_DB")
	if uri == "" {
		b.Skip("HOUSING_SEARCH_DB not set")
	}
	s := mustOpen(b, uri)
	exp, err := s.GetExperimentByName(b.Context(), "bench-search")
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name, filter, order string
	}{
		{"m0>0.5 p1=x3 by m1 DESC", "metrics.m0 > 0.5 AND params.p1 = 'x3'", "metrics.m1 DESC"},
		{"m0>0.5 adam nlp by m1 DESC", "metrics.m0 > 0.5 AND params.p4 = 'adam' AND tags.team = 'nlp'", "metrics.m1 DESC"},
		{"m1>0.9 m2>1 by m0 ASC", "metrics.m1 > 0.9 AND metrics.m2 > 1", "metrics.m0 ASC"},
		{"nlp p3 LIKE 5% by m4 DESC", "tags.team = 'nlp' AND params.p3 LIKE '5%'", "metrics.m4 DESC"},
		{"run_name ILIKE %-99%", "attributes.run_name ILIKE '%-99%'", ""},
		{"m4>0.99 by p3 DESC", "metrics.m4 > 0.99", "params.p3 DESC"},
		{"p1 LIKE x1%", "params.p1 LIKE 'x1%'", ""},
		{"default order", "", ""},
	} {
		b.Run(c.name, func(b *testing.B) {
			q := tracking.RunQuery{ExperimentIDs: []string{exp.ID}, Filter: c.filter, MaxResults: 100}
			if c.order != "" {
				q.OrderBy = []string{c.order}
			}
			var lat []time.Duration
			for b.Loop() {
				start := time.Now()
				if _, err := s.SearchRuns(b.Context(), q); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(start))
			}
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		})
	}
}
