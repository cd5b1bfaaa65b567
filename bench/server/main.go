// Command server is a load benchmark of the tracking server over loopback HTTP:
// log-batch (10 metrics) and create-run throughput with concurrent clients,
// search-runs latency over an experiment of many runs (5 params and 5 metrics
// each, filtered on one metric and ordered by another), and the process's
// resident memory. The server runs in process on 127.0.0.1:0 over SQLite, and
// over PostgreSQL too when -postgres gives a URI. Results are JSON lines.
//
//	go run ./bench/server -duration 5s -runs 10000 [-postgres postgresql://...]
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/artifacts"
	"github.com/mlops-lab/housing/tracking/server"
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
	fs.DurationVar(&cfg.duration, "duration", 5*time.Second, "how long each throughput phase runs")
	fs.IntVar(&cfg.clients, "clients", 8, "concurrent clients in the throughput phases")
	fs.IntVar(&cfg.runs, "runs", 10000, "runs in the searched experiment")
	fs.IntVar(&cfg.searches, "searches", 100, "search-runs requests timed")
	fs.StringVar(&cfg.postgres, "postgres", "", "also benchmark on this PostgreSQL URI (an empty database)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "bench-server-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	out := json.NewEncoder(stdout)
	backends := [][2]string{{"sqlite", "sqlite:///" + filepath.Join(dir, "mlflow.db")}}
	if cfg.postgres != "" {
		backends = append(backends, [2]string{"postgresql", cfg.postgres})
	}
	for _, b := range backends {
		if err := benchBackend(ctx, cfg, b[0], b[1], filepath.Join(dir, "artifacts-"+b[0]), out); err != nil {
			return fmt.Errorf("%s: %w", b[0], err)
		}
	}
	return nil
}

// result is one JSON line of output.
type result struct {
	Backend   string  `json:"backend"`
	Op        string  `json:"op"`
	Clients   int     `json:"clients,omitempty"`
	Requests  int64   `json:"requests,omitempty"`
	Seconds   float64 `json:"seconds,omitempty"`
	PerSecond float64 `json:"requests_per_second,omitempty"`
	Runs      int     `json:"runs,omitempty"`
	P50ms     float64 `json:"p50_ms,omitempty"`
	P99ms     float64 `json:"p99_ms,omitempty"`
	Hits      int     `json:"hits,omitempty"`
	RSSMiB    float64 `json:"rss_mib,omitempty"`
	PeakMiB   float64 `json:"peak_rss_mib,omitempty"`
}

func benchBackend(ctx context.Context, cfg config, name, uri, artifactDir string, out *json.Encoder) error {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	store, err := sqlstore.Open(ctx, uri, sqlstore.Options{DefaultArtifactRoot: "mlflow-artifacts:/", Logger: logger})
	if err != nil {
		return err
	}
	defer store.Close()
	repo, err := artifacts.NewLocal(artifactDir)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: server.New(store, repo, server.Options{Logger: logger})}
	go srv.Serve(ln)
	defer srv.Close()
	c := &client{base: "http://" + ln.Addr().String(), http: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: cfg.clients * 2}}}

	var exp wire.CreateExperimentResponse
	if err := c.post(wire.PathCreateExperiment, wire.CreateExperimentRequest{Name: "bench-throughput"}, &exp); err != nil {
		return err
	}

	// create-run throughput.
	n, secs, err := hammer(ctx, cfg, func(int) error {
		return c.post(wire.PathCreateRun, wire.CreateRunRequest{ExperimentID: exp.ExperimentID, StartTime: time.Now().UnixMilli()}, nil)
	})
	if err != nil {
		return fmt.Errorf("create-run: %w", err)
	}
	out.Encode(result{Backend: name, Op: "create-run", Clients: cfg.clients, Requests: n, Seconds: secs, PerSecond: float64(n) / secs})

	// log-batch throughput: each client logs 10 metrics a request to its own run.
	runIDs := make([]string, cfg.clients)
	for i := range runIDs {
		var created wire.CreateRunResponse
		if err := c.post(wire.PathCreateRun, wire.CreateRunRequest{ExperimentID: exp.ExperimentID}, &created); err != nil {
			return err
		}
		runIDs[i] = created.Run.Info.RunID
	}
	var steps [64]atomic.Int64
	n, secs, err = hammer(ctx, cfg, func(worker int) error {
		step := steps[worker].Add(1)
		now := time.Now().UnixMilli()
		ms := make([]wire.Metric, 10)
		for i := range ms {
			ms[i] = wire.Metric{Key: "m" + strconv.Itoa(i), Value: wire.Float(float64(step) / 7), Timestamp: now, Step: step}
		}
		return c.post(wire.PathLogBatch, wire.LogBatchRequest{RunID: runIDs[worker], Metrics: ms}, nil)
	})
	if err != nil {
		return fmt.Errorf("log-batch: %w", err)
	}
	out.Encode(result{Backend: name, Op: "log-batch-10-metrics", Clients: cfg.clients, Requests: n, Seconds: secs, PerSecond: float64(n) / secs})

	// search-runs latency over cfg.runs runs, populated through the store.
	searchExp, err := store.CreateExperiment(ctx, "bench-search", "", nil)
	if err != nil {
		return err
	}
	start := time.Now()
	if err := populate(ctx, store, searchExp, cfg.runs); err != nil {
		return fmt.Errorf("populate: %w", err)
	}
	out.Encode(result{Backend: name, Op: "populate", Runs: cfg.runs, Seconds: time.Since(start).Seconds()})
	req := wire.SearchRunsRequest{
		ExperimentIDs: []string{searchExp},
		Filter:        "metrics.m0 > 0.5",
		OrderBy:       []string{"metrics.m1 DESC"},
		MaxResults:    100,
	}
	var lat []time.Duration
	var hits int
	for range cfg.searches {
		var resp wire.SearchRunsResponse
		t0 := time.Now()
		if err := c.post(wire.PathSearchRuns, req, &resp); err != nil {
			return fmt.Errorf("search: %w", err)
		}
		lat = append(lat, time.Since(t0))
		hits = len(resp.Runs)
	}
	slices.Sort(lat)
	out.Encode(result{Backend: name, Op: "search-runs", Runs: cfg.runs, Requests: int64(len(lat)), Hits: hits,
		P50ms: ms(lat[len(lat)/2]), P99ms: ms(lat[min(len(lat)-1, len(lat)*99/100)])})

	rss, peak := memory()
	out.Encode(result{Backend: name, Op: "memory", RSSMiB: rss, PeakMiB: peak})
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// hammer runs fn from cfg.clients goroutines for cfg.duration and counts calls.
func hammer(ctx context.Context, cfg config, fn func(worker int) error) (int64, float64, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.duration)
	defer cancel()
	var count atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, cfg.clients)
	start := time.Now()
	for w := range min(cfg.clients, 64) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if err := fn(w); err != nil {
					errs <- err
					cancel()
					return
				}
				count.Add(1)
			}
		}()
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	close(errs)
	return count.Load(), secs, <-errs
}

// populate creates n runs with 5 params and 5 metrics each, 4 at a time.
func populate(ctx context.Context, store tracking.Store, exp string, n int) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	var firstErr error
	var mu sync.Mutex
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 42))
			for i := next.Add(1); i <= int64(n); i = next.Add(1) {
				run, err := store.CreateRun(ctx, tracking.CreateRun{ExperimentID: exp, RunName: "run-" + strconv.FormatInt(i, 10), StartTime: i})
				if err == nil {
					var ms []tracking.Metric
					var ps []tracking.Param
					for k := range 5 {
						ms = append(ms, tracking.Metric{Key: "m" + strconv.Itoa(k), Value: rng.Float64(), Timestamp: i})
						ps = append(ps, tracking.Param{Key: "p" + strconv.Itoa(k), Value: strconv.Itoa(rng.IntN(100))})
					}
					err = store.LogBatch(ctx, run.Info.RunID, ms, ps, nil)
				}
				if err != nil {
					mu.Lock()
					firstErr = errors.Join(firstErr, err)
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	return firstErr
}

// memory returns this process's resident and peak resident memory in MiB
// (server and load generator together), from /proc/self/status.
func memory() (rss, peak float64) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "VmRSS:":
			rss = kb / 1024
		case "VmHWM:":
			peak = kb / 1024
		}
	}
	return rss, peak
}

// client posts JSON to the server.
type client struct {
	base string
	http *http.Client
}

func (c *client) post(path string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	resp, err := c.http.Post(c.base+path, "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %d %s", path, resp.StatusCode, b)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}
