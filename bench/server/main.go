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
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/mlops-lab/housing/internal/testenv"
	"github.com/mlops-lab/housing/tracking"
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
	if cfg.server == "" {
		cfg.server = filepath.Join(dir, "tracking-server")
		build := exec.CommandContext(ctx, "go", "build", "-o", cfg.server, "github.com/mlops-lab/housing/cmd/tracking-server")
		build.Stdout, build.Stderr = stderr, stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("build tracking-server: %w", err)
		}
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
	srv, err := startServer(ctx, cfg.server, uri, artifactDir)
	if err != nil {
		return err
	}
	defer srv.stop()
	c := &client{base: srv.url, http: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: cfg.clients * 2}}}
	emit := func(r result) {
		r.Backend, r.LoadAvg = name, loadAvg()
		out.Encode(r)
	}

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
	emit(result{Op: "create-run", Clients: cfg.clients, Requests: n, Seconds: secs, PerSecond: float64(n) / secs})

	// log-batch throughput: each client logs 10 metrics a request to its own run.
	runIDs := make([]string, cfg.clients)
	for i := range runIDs {
		var created wire.CreateRunResponse
		if err := c.post(wire.PathCreateRun, wire.CreateRunRequest{ExperimentID: exp.ExperimentID}, &created); err != nil {
			return err
		}
		runIDs[i] = created.Run.Info.RunID
	}
	steps := make([]atomic.Int64, cfg.clients)
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
	emit(result{Op: "log-batch-10-metrics", Clients: cfg.clients, Requests: n, Seconds: secs, PerSecond: float64(n) / secs})

	// search-runs latency over cfg.runs runs, written through the store.
	var searchExp wire.CreateExperimentResponse
	if err := c.post(wire.PathCreateExperiment, wire.CreateExperimentRequest{Name: "bench-search"}, &searchExp); err != nil {
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
		body, err := c.postRaw(wire.PathSearchRuns, req)
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
		P50ms: ms(lat[len(lat)/2]), P99ms: ms(lat[min(len(lat)-1, len(lat)*99/100)])})

	// search-runs throughput with concurrent clients.
	n, secs, err = hammer(ctx, cfg, func(int) error { return c.post(wire.PathSearchRuns, req, nil) })
	if err != nil {
		return fmt.Errorf("search: %w", err)
	}
	emit(result{Op: "search-runs-concurrent", Clients: cfg.clients, Requests: n, Seconds: secs, PerSecond: float64(n) / secs})

	m := procMemory(srv.cmd.Process.Pid)
	emit(result{Op: "server-memory", RSSMiB: srv.maxRSS(), PeakMiB: m.peak, AnonMiB: m.anon, FileMiB: m.file})
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// server is a running tracking-server process.
type server struct {
	cmd  *exec.Cmd
	url  string
	done chan struct{}

	mu     sync.Mutex
	rssMax float64
}

var listeningRE = regexp.MustCompile(`msg=listening addr=(\S+)`)

// startServer runs the tracking-server binary on a free loopback port and waits
// until it logs where it listens. Its resident memory is sampled every 50 ms.
func startServer(ctx context.Context, bin, uri, artifactDir string) (*server, error) {
	cmd := exec.CommandContext(ctx, bin, "--backend-store-uri", uri, "--artifacts-destination", artifactDir,
		"--host", "127.0.0.1", "--port", "0")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	s := &server{cmd: cmd, done: make(chan struct{})}
	addr := make(chan string, 1)
	var logTail bytes.Buffer
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := listeningRE.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			} else if logTail.Len() < 4096 {
				logTail.WriteString(sc.Text() + "\n")
			}
		}
	}()
	select {
	case a := <-addr:
		s.url = "http://" + a
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		return nil, fmt.Errorf("%s did not start listening within 30s:\n%s", bin, logTail.String())
	}
	go func() {
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-s.done:
				return
			case <-t.C:
				m := procMemory(cmd.Process.Pid)
				s.mu.Lock()
				s.rssMax = max(s.rssMax, m.rss)
				s.mu.Unlock()
			}
		}
	}()
	return s, nil
}

func (s *server) maxRSS() float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rssMax
}

// stop ends the server with SIGTERM (it drains and exits) and waits for it.
func (s *server) stop() {
	close(s.done)
	s.cmd.Process.Signal(syscall.SIGTERM)
	s.cmd.Wait()
}

// hammer runs fn from cfg.clients goroutines for cfg.duration and counts calls.
func hammer(ctx context.Context, cfg config, fn func(worker int) error) (int64, float64, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.duration)
	defer cancel()
	var count atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, cfg.clients)
	start := time.Now()
	for w := range cfg.clients {
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

// populate creates n runs with 5 params and 5 metrics each in experiment exp,
// through the SQL store on the server's database, 4 at a time.
func populate(ctx context.Context, uri, exp string, n int) error {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	store, err := sqlstore.Open(ctx, uri, sqlstore.Options{DefaultArtifactRoot: "mlflow-artifacts:/", Logger: logger})
	if err != nil {
		return err
	}
	defer store.Close()
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
	if firstErr != nil || !strings.HasPrefix(uri, "postgres") {
		return firstErr
	}
	// Measure PostgreSQL's steady state: autovacuum analyzes the tables within a
	// minute of a bulk load like this one; until then the planner believes the
	// runs table is empty and picks plans for that.
	_, err = store.DB().ExecContext(ctx, "ANALYZE")
	return err
}

// memory is a process's memory in MiB, from /proc/<pid>/status.
type memory struct {
	rss, peak  float64 // VmRSS, VmHWM
	anon, file float64 // RssAnon, RssFile (mapped file pages: the binary, SQLite's mmap)
}

// procMemory reads the memory of process pid.
func procMemory(pid int) memory {
	var m memory
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return m
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "VmRSS:":
			m.rss = kb / 1024
		case "VmHWM:":
			m.peak = kb / 1024
		case "RssAnon:":
			m.anon = kb / 1024
		case "RssFile:":
			m.file = kb / 1024
		}
	}
	return m
}

// loadAvg returns the 1, 5 and 15 minute load averages from /proc/loadavg.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ")
}

// client posts JSON to the server.
type client struct {
	base string
	http *http.Client
}

func (c *client) post(path string, in, out any) error {
	b, err := c.postRaw(path, in)
	if err != nil || out == nil {
		return err
	}
	return json.Unmarshal(b, out)
}

// postRaw posts in as JSON and returns the body of a 200 response.
func (c *client) postRaw(path string, in any) ([]byte, error) {
	body, err := json.Marshal(in)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Post(c.base+path, "application/json", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %d %s", path, resp.StatusCode, b)
	}
	return b, nil
}
