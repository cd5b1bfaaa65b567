package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/mlops-lab/housing/internal/testenv"
	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/server"
	"github.com/mlops-lab/housing/tracking/sqlstore"
	"github.com/mlops-lab/housing/tracking/wire"
)

// benchServer serves a SQLite store over httptest, as bench/server runs the
// binary, so that `go test -bench -cpuprofile` profiles the server's own work
// (the in-process client's share shows up separately in the profile).
func benchServer(b *testing.B) (*httptest.Server, *sqlstore.Store) {
	return benchServerOn(b, "sqlite:///"+filepath.Join(b.TempDir(), "mlflow.db"))
}

// benchServerOn serves the store at uri over httptest.
func benchServerOn(b *testing.B, uri string) (*httptest.Server, *sqlstore.Store) {
	b.Helper()
	store, err := sqlstore.Open(context.Background(), uri, sqlstore.Options{DefaultArtifactRoot: "mlflow-artifacts:/"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { store.Close() })
	srv := httptest.NewServer(server.New(store, nil, server.Options{}))
	b.Cleanup(srv.Close)
	return srv, store
}

func benchPost(b *testing.B, c *http.Client, url string, body []byte) []byte {
	resp, err := c.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		b.Fatalf("%s: %d %s %v", url, resp.StatusCode, out, err)
	}
	return out
}

// BenchmarkSearchRunsHTTP searches 10,000 runs (5 params and 5 metrics each)
// filtered on one metric and ordered by another, a page of 100, over HTTP, on
// SQLite and on PostgreSQL (after ANALYZE, as autovacuum would run it).
func BenchmarkSearchRunsHTTP(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) {
		srv, store := benchServer(b)
		benchmarkSearchRunsHTTP(b, srv, store)
	})
	b.Run("postgresql", func(b *testing.B) {
		srv, store := benchServerOn(b, testenv.PostgresURI(b))
		benchmarkSearchRunsHTTP(b, srv, store)
	})
}

func benchmarkSearchRunsHTTP(b *testing.B, srv *httptest.Server, store *sqlstore.Store) {
	ctx := b.Context()
	expID, err := store.CreateExperiment(ctx, "bench", "", nil)
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 7))
	for i := range 10000 {
		run, err := store.CreateRun(ctx, tracking.CreateRun{ExperimentID: expID, RunName: "run-" + strconv.Itoa(i), StartTime: int64(i)})
		if err != nil {
			b.Fatal(err)
		}
		var ms []tracking.Metric
		var ps []tracking.Param
		for k := range 5 {
			ms = append(ms, tracking.Metric{Key: "m" + strconv.Itoa(k), Value: rng.Float64(), Timestamp: int64(i)})
			ps = append(ps, tracking.Param{Key: "p" + strconv.Itoa(k), Value: strconv.Itoa(rng.IntN(100))})
		}
		if err := store.LogBatch(ctx, run.Info.RunID, ms, ps, nil); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := store.DB().ExecContext(ctx, "ANALYZE"); err != nil {
		b.Fatal(err)
	}
	body, _ := json.Marshal(wire.SearchRunsRequest{ExperimentIDs: []string{expID}, Filter: "metrics.m0 > 0.5",
		OrderBy: []string{"metrics.m1 DESC"}, MaxResults: 100})
	c := srv.Client()
	url := srv.URL + wire.PathSearchRuns
	for b.Loop() {
		if out := benchPost(b, c, url, body); len(out) < 100000 {
			b.Fatalf("short answer: %d bytes", len(out))
		}
	}
}

// BenchmarkLogBatchHTTP logs 10 metrics a request from 8 clients, each to its
// own run, over HTTP.
func BenchmarkLogBatchHTTP(b *testing.B) {
	srv, store := benchServer(b)
	ctx := b.Context()
	expID, err := store.CreateExperiment(ctx, "bench", "", nil)
	if err != nil {
		b.Fatal(err)
	}
	var next atomic.Int64
	transport := &http.Transport{MaxIdleConnsPerHost: 16}
	defer transport.CloseIdleConnections()
	b.SetParallelism(4) // 8 clients on 2 cores
	b.RunParallel(func(pb *testing.PB) {
		run, err := store.CreateRun(ctx, tracking.CreateRun{ExperimentID: expID})
		if err != nil {
			b.Error(err)
			return
		}
		c := &http.Client{Transport: transport}
		url := srv.URL + wire.PathLogBatch
		for pb.Next() {
			step := next.Add(1)
			ms := make([]wire.Metric, 10)
			for i := range ms {
				ms[i] = wire.Metric{Key: "m" + strconv.Itoa(i), Value: wire.Float(float64(step) / 7), Timestamp: 1700000000000 + step, Step: step}
			}
			body, _ := json.Marshal(wire.LogBatchRequest{RunID: run.Info.RunID, Metrics: ms})
			benchPost(b, c, url, body)
		}
	})
}

// logHistory creates a run whose metric "loss" holds steps 0 ... points-1
// (points a multiple of 1,000), through the store, and returns its id.
func logHistory(tb testing.TB, store *sqlstore.Store, points int) string {
	tb.Helper()
	ctx := context.Background()
	run, err := store.CreateRun(ctx, tracking.CreateRun{})
	if err != nil {
		tb.Fatal(err)
	}
	for start := 0; start < points; start += 1000 {
		ms := make([]tracking.Metric, 1000)
		for i := range ms {
			step := int64(start + i)
			ms[i] = tracking.Metric{Key: "loss", Value: float64(step) / 7, Timestamp: 1700000000000 + step, Step: step}
		}
		if err := store.LogBatch(ctx, run.Info.RunID, ms, nil, nil); err != nil {
			tb.Fatal(err)
		}
	}
	return run.Info.RunID
}

// BenchmarkGetMetricHistoryHTTP reads one metric of 100,000 points over HTTP,
// of a run beside another whose same metric holds 100,000 more: whole
// ("unpaged", max_results unset) and as MLflow 2.17.2's and 3.11.1's
// client.get_metric_history asks for it ("paged": max_results 25000,
// GET_METRIC_HISTORY_MAX_RESULTS, then each next_page_token until there is none).
func BenchmarkGetMetricHistoryHTTP(b *testing.B) {
	srv, store := benchServer(b)
	logHistory(b, store, 100000)
	target := logHistory(b, store, 100000)
	c := &http.Client{}
	// get returns the answer and its next_page_token, found at its end (where
	// wire.AppendMetricHistory writes it): decoding 10 MB of JSON here would
	// cost the client more than the server's answer.
	tokenRE := regexp.MustCompile(`"next_page_token": "([^"]*)"`)
	get := func(q string) (body []byte, token string) {
		resp, err := c.Get(srv.URL + wire.PathGetMetricHistory + "?run_id=" + target + "&metric_key=loss" + q)
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		body, err = io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("%d %v %.200s", resp.StatusCode, err, body)
		}
		if m := tokenRE.FindSubmatch(body[max(0, len(body)-200):]); m != nil {
			token = string(m[1])
		}
		return body, token
	}
	// paged reads the history as the clients do and returns the pages' points.
	paged := func() (points, pages int) {
		for token := ""; pages == 0 || token != ""; pages++ {
			q := "&max_results=25000"
			if token != "" {
				q += "&page_token=" + token
			}
			body, next := get(q)
			if pages == 0 || points == 0 {
				points += bytes.Count(body, []byte(`"step"`))
			}
			token = next
		}
		return points, pages
	}
	if body, _ := get(""); bytes.Count(body, []byte(`"step"`)) != 100000 {
		b.Fatalf("unpaged: %d points", bytes.Count(body, []byte(`"step"`)))
	}
	if points, pages := paged(); points != 25000 || pages != 4 {
		b.Fatalf("paged: %d points in the first page, %d pages", points, pages)
	}
	b.Run("unpaged", func(b *testing.B) {
		for b.Loop() {
			get("")
		}
	})
	b.Run("paged", func(b *testing.B) {
		for b.Loop() {
			paged()
		}
	})
	// The first whole read after a point is logged: one that follows the
	// history (a training loop's next step) extends the kept answer; one
	// that sorts before its last point makes the server read it all again.
	step := int64(100000)
	for _, c := range []struct {
		name      string
		timestamp func(step int64) int64
	}{
		{"unpaged-after-next-point", func(step int64) int64 { return 1700000000000 + step }},
		{"unpaged-after-older-point", func(int64) int64 { return 1600000000000 }},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				m := tracking.Metric{Key: "loss", Value: 1, Timestamp: c.timestamp(step), Step: step}
				if err := store.LogBatch(context.Background(), target, []tracking.Metric{m}, nil, nil); err != nil {
					b.Fatal(err)
				}
				step++
				b.StartTimer()
				get("")
			}
		})
	}
}
