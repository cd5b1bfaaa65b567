// Command server is a load benchmark of the tracking server over loopback HTTP.
// It runs the real tracking-server binary as a separate process (so that the
// server's memory is measured alone), and measures: create-run and log-batch
// (10 metrics) throughput with concurrent clients, search-runs latency over an
// experiment of many runs (5 params and 5 metrics each, filtered on one metric and
// ordered by another), and the server's resident memory (VmRSS sampled during the
// load, and VmHWM) from /proc/<pid>/status. Results are JSON lines, one per
// measurement, each with the machine's load average when it was taken.
//
//	go build -o /tmp/tracking-server ./cmd/tracking-server
//	go run ./bench/server -server /tmp/tracking-server -backends sqlite,postgresql
//
// On PostgreSQL the benchmark starts its own server with internal/testenv (a
// throwaway cluster with fsync off, as the tests use) unless -postgres gives the
// URI of an empty database. The searched runs are written through the SQL store
// directly, not through the server, to save time, and on PostgreSQL the tables are
// analyzed after (as autovacuum would soon do); everything timed goes over HTTP.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/mlops-lab/housing/bench/internal/benchproc"
	"github.com/mlops-lab/housing/internal/testenv"
	"github.com/mlops-lab/housing/tracking/sqlstore"
	"github.com/mlops-lab/housing/tracking/wire"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bench/server:", err)
		os.Exit(1)
	}
}

type config struct {
	server   string
	backends []string
	duration time.Duration
	clients  int
	runs     int
	searches int
	postgres string
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench/server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg config
	var backends string
	fs.StringVar(&cfg.server, "server", "", "tracking-server binary to run (default: go build ./cmd/tracking-server into a temp dir)")
	fs.StringVar(&backends, "backends", "sqlite", "comma-separated backends to benchmark: sqlite, postgresql")
	fs.DurationVar(&cfg.duration, "duration", 5*time.Second, "how long each throughput phase runs")
	fs.IntVar(&cfg.clients, "clients", 8, "concurrent clients in the throughput phases")
	fs.IntVar(&cfg.runs, "runs", 10000, "runs in the searched experiment")
	fs.IntVar(&cfg.searches, "searches", 200, "search-runs requests timed (after 5 untimed)")
	fs.StringVar(&cfg.postgres, "postgres", "", "PostgreSQL URI of an empty database (default: start a throwaway server with internal/testenv)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg.backends = strings.Split(backends, ",")
	dir, err := os.MkdirTemp("", "bench-server-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if cfg.server, err = benchproc.BuildServer(ctx, cfg.server, dir, stderr); err != nil {
		return err
	}
	out := json.NewEncoder(stdout)
	for _, b := range cfg.backends {
		var uri string
		switch b {
		case "sqlite":
			uri = "sqlite:///" + filepath.Join(dir, "mlflow.db")
		case "postgresql":
			uri = cfg.postgres
			if uri == "" {
				pg, err := testenv.StartPostgres(ctx)
				if err != nil {
					return fmt.Errorf("start PostgreSQL: %w", err)
				}
				defer pg.Stop()
				uri = pg.URI("postgres")
			}
		default:
			return fmt.Errorf("unknown backend %q: want sqlite or postgresql", b)
		}
		if err := benchBackend(ctx, cfg, b, uri, filepath.Join(dir, "artifacts-"+b), out); err != nil {
			return fmt.Errorf("%s: %w", b, err)
		}
	}
	return nil
}

// result is one JSON line of output.
type result struct {
	Backend       string  `json:"backend"`
	Op            string  `json:"op"`
	Clients       int     `json:"clients,omitempty"`
	Requests      int64   `json:"requests,omitempty"`
	Seconds       float64 `json:"seconds,omitempty"`
	PerSecond     float64 `json:"requests_per_second,omitempty"`
	Runs          int     `json:"runs,omitempty"`
	P50ms         float64 `json:"p50_ms,omitempty"`
	P99ms         float64 `json:"p99_ms,omitempty"`
	Hits          int     `json:"hits,omitempty"`
	ResponseBytes int     `json:"response_bytes,omitempty"`
	RSSMiB        float64 `json:"max_rss_mib,omitempty"`
	PeakMiB       float64 `json:"vmhwm_mib,omitempty"`
	AnonMiB       float64 `json:"rss_anon_mib,omitempty"`
	FileMiB       float64 `json:"rss_file_mib,omitempty"`
	LoadAvg       string  `json:"loadavg"`
}

func benchBackend(ctx context.Context, cfg config, name, uri, artifactDir string, out *json.Encoder) error {
	srv, err := benchproc.StartServer(ctx, cfg.server, uri, artifactDir)
	if err != nil {
		return err
	}
	defer srv.Stop()
	c := benchproc.NewClient(srv.URL, cfg.clients*2)
	emit := func(r result) {
		r.Backend, r.LoadAvg = name, benchproc.LoadAvg()
		out.Encode(r)
	}

	var exp wire.CreateExperimentResponse
	if err := c.Post(ctx, wire.PathCreateExperiment, wire.CreateExperimentRequest{Name: "bench-throughput"}, &exp); err != nil {
		return err
	}

	// create-run throughput.
	n, secs, err := benchproc.Hammer(ctx, cfg.clients, cfg.duration, func(ctx context.Context, _ int) error {
		return c.Post(ctx, wire.PathCreateRun, wire.CreateRunRequest{ExperimentID: exp.ExperimentID, StartTime: time.Now().UnixMilli()}, nil)
	})
	if err != nil {
		return fmt.Errorf("create-run: %w", err)
	}
	emit(result{Op: "create-run", Clients: cfg.clients, Requests: n, Seconds: secs, PerSecond: float64(n) / secs})

	// log-batch throughput: each client logs 10 metrics a request to its own run.
	runIDs := make([]string, cfg.clients)
	for i := range runIDs {
		var created wire.CreateRunResponse
		if err := c.Post(ctx, wire.PathCreateRun, wire.CreateRunRequest{ExperimentID: exp.ExperimentID}, &created); err != nil {
			return err
		}
		runIDs[i] = created.Run.Info.RunID
	}
	steps := make([]atomic.Int64, cfg.clients)
	n, secs, err = benchproc.Hammer(ctx, cfg.clients, cfg.duration, func(ctx context.Context, worker int) error {
		step := steps[worker].Add(1)
		now := time.Now().UnixMilli()
		ms := make([]wire.Metric, 10)
		for i := range ms {
			ms[i] = wire.Metric{Key: "m" + strconv.Itoa(i), Value: wire.Float(float64(step) / 7), Timestamp: now, Step: step}
		}
		return c.Post(ctx, wire.PathLogBatch, wire.LogBatchRequest{RunID: runIDs[worker], Metrics: ms}, nil)
	})
	if err != nil {
		return fmt.Errorf("log-batch: %w", err)
	}
	emit(result{Op: "log-batch-10-metrics", Clients: cfg.clients, Requests: n, Seconds: secs, PerSecond: float64(n) / secs})

	// search-runs latency over cfg.runs runs, written through the store.
	var searchExp wire.CreateExperimentResponse
	if err := c.Post(ctx, wire.PathCreateExperiment, wire.CreateExperimentRequest{Name: "bench-search"}, &searchExp); err != nil {
		return err
	}
	start := time.Now()
	if err := populate(ctx, uri, searchExp.ExperimentID, cfg.runs); err != nil {
		return fmt.Errorf("populate: %w", err)
	}
	emit(result{Op: "populate", Runs: cfg.runs, Seconds: time.Since(start).Seconds()})
	req := wire.SearchRunsRequest{
		ExperimentIDs: []string{searchExp.ExperimentID},
		Filter:        "metrics.m0 > 0.5",
		OrderBy:       []string{"metrics.m1 DESC"},
		MaxResults:    100,
	}
	var lat []time.Duration
	var hits int
	var size int
	for i := range cfg.searches + 5 {
		// Timed: request out, whole response in; decoding it is the client's work.
		t0 := time.Now()
		body, err := c.PostRaw(ctx, wire.PathSearchRuns, req)
		if err != nil {
			return fmt.Errorf("search: %w", err)
		}
		if i >= 5 {
			lat = append(lat, time.Since(t0))
		}
		var resp wire.SearchRunsResponse
		if err := json.Unmarshal(body, &resp); err != nil {
			return fmt.Errorf("search: %w", err)
		}
		hits, size = len(resp.Runs), len(body)
	}
	slices.Sort(lat)
	emit(result{Op: "search-runs", Runs: cfg.runs, Requests: int64(len(lat)), Hits: hits, ResponseBytes: size,
		P50ms: benchproc.Ms(lat[len(lat)/2]), P99ms: benchproc.Ms(lat[min(len(lat)-1, len(lat)*99/100)])})

	// search-runs throughput with concurrent clients.
	n, secs, err = benchproc.Hammer(ctx, cfg.clients, cfg.duration, func(ctx context.Context, _ int) error { return c.Post(ctx, wire.PathSearchRuns, req, nil) })
	if err != nil {
		return fmt.Errorf("search: %w", err)
	}
	emit(result{Op: "search-runs-concurrent", Clients: cfg.clients, Requests: n, Seconds: secs, PerSecond: float64(n) / secs})

	m := benchproc.ProcMemory(srv.PID())
	emit(result{Op: "server-memory", RSSMiB: srv.MaxRSS(), PeakMiB: m.Peak, AnonMiB: m.Anon, FileMiB: m.File})
	return nil
}

// populate fills experiment exp with n runs through a store of its own on uri;
// on PostgreSQL it then analyzes the tables.
func populate(ctx context.Context, uri, exp string, n int) error {
	store, err := sqlstore.Open(ctx, uri, sqlstore.Options{DefaultArtifactRoot: "mlflow-artifacts:/", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	defer store.Close()
	if err := benchproc.Populate(ctx, store, exp, n, 4); err != nil || !strings.HasPrefix(uri, "postgres") {
		return err
	}
	// Measure PostgreSQL's steady state: autovacuum analyzes the tables within a
	// minute of a bulk load like this one; until then the planner believes the
	// runs table is empty and picks plans for that.
	_, err = store.DB().ExecContext(ctx, "ANALYZE")
	return err
}
