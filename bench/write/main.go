// Command write benchmarks the tracking server's write path and the reads that
// grow with what was written, over loopback HTTP against the real
// tracking-server binary (run as its own process, so its memory is measured
// alone from /proc/<pid>/status):
//
//   - throughput: log-batch of 10 metrics from concurrent clients, each on its
//     own run, then every acknowledged point read back through every replica
//     (counted exactly once, the replicas' answers byte-identical); during the
//     load every 16th acknowledged request is read back at once through another
//     replica (a write answered before its commit would be missing there);
//     with -replicas 1,2 on PostgreSQL, one and two server processes on one
//     database;
//   - history: log-batch latency of one client on a run whose history holds
//     0, 10k, 100k, 1M points (filled through the store), fresh points only
//     and with one point the run already has in each request (a client's
//     retry), and get-history of one metric with 100,000 points;
//   - mlflow: the same log-batch latency against the real MLflow server (via
//     internal/testenv) on the same SQLite database, side by side with ours;
//   - ui: the web UI's experiments page and one experiment's runs page over an
//     experiment of many runs (filled through the store).
//
// Every result is one JSON line with the server's largest VmRSS during the
// phase and the machine's load average.
//
//	go build -o /tmp/tracking-server ./cmd/tracking-server
//	go run ./bench/write -server /tmp/tracking-server -backends sqlite,postgresql
//
// On PostgreSQL the benchmark starts a throwaway cluster with internal/testenv
// (fsync off, as the tests use) unless -postgres gives a server's URI (a
// database is created there for each phase).
package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/mlops-lab/housing/bench/internal/benchproc"
	"github.com/mlops-lab/housing/internal/testenv"
	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/sqlstore"
	"github.com/mlops-lab/housing/tracking/wire"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bench/write:", err)
		os.Exit(1)
	}
}

type config struct {
	server        string
	backends      []string
	phases        map[string]bool
	duration      time.Duration
	clients       int
	replicas      []int
	history       []int
	latencyN      int
	historyPoints int
	mlflow        string
	mlflowHistory []int
	uiRuns        int
	postgres      string
	dir           string
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench/write", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg config
	var backends, phases, replicas, history, mlflowHistory string
	fs.StringVar(&cfg.server, "server", "", "tracking-server binary (default: go build ./cmd/tracking-server into a temp dir)")
	fs.StringVar(&backends, "backends", "sqlite,postgresql", "backends: sqlite, postgresql")
	fs.StringVar(&phases, "phases", "throughput,history,ui", "phases: throughput, history, ui, mlflow (SQLite only)")
	fs.DurationVar(&cfg.duration, "duration", 5*time.Second, "how long the throughput phase runs")
	fs.IntVar(&cfg.clients, "clients", 8, "concurrent clients in the throughput phase")
	fs.StringVar(&replicas, "replicas", "1,2", "server processes on one database in the throughput phase (PostgreSQL; SQLite runs 1)")
	fs.StringVar(&history, "history", "0,10000,100000,1000000", "run history sizes (points) at which log-batch latency is measured")
	fs.IntVar(&cfg.latencyN, "latency-requests", 200, "sequential log-batch requests timed per history size (after 5 untimed)")
	fs.IntVar(&cfg.historyPoints, "history-points", 100000, "points of the metric read by get-history")
	fs.StringVar(&cfg.mlflow, "mlflow", "2.17.2", "real MLflow version of the mlflow phase")
	fs.StringVar(&mlflowHistory, "mlflow-history", "0,10000,100000", "history sizes of the mlflow phase")
	fs.IntVar(&cfg.uiRuns, "ui-runs", 100000, "runs in the experiment of the ui phase")
	fs.StringVar(&cfg.postgres, "postgres", "", "PostgreSQL URI of a server to use (default: a throwaway one from internal/testenv)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg.backends = strings.Split(backends, ",")
	cfg.phases = map[string]bool{}
	for _, p := range strings.Split(phases, ",") {
		cfg.phases[p] = true
	}
	var err error
	if cfg.replicas, err = ints(replicas); err != nil {
		return err
	}
	if cfg.history, err = ints(history); err != nil {
		return err
	}
	if cfg.mlflowHistory, err = ints(mlflowHistory); err != nil {
		return err
	}
	if cfg.dir, err = os.MkdirTemp("", "bench-write-"); err != nil {
		return err
	}
	defer os.RemoveAll(cfg.dir)
	if cfg.server == "" {
		cfg.server = filepath.Join(cfg.dir, "tracking-server")
		build := exec.CommandContext(ctx, "go", "build", "-o", cfg.server, "github.com/mlops-lab/housing/cmd/tracking-server")
		build.Stdout, build.Stderr = stderr, stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("build tracking-server: %w", err)
		}
	}
	b := &bench{cfg: cfg, out: json.NewEncoder(stdout)}
	for _, backend := range cfg.backends {
		if err := b.backend(ctx, backend); err != nil {
			return fmt.Errorf("%s: %w", backend, err)
		}
	}
	return nil
}

func ints(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("bad number %q in %q", f, s)
		}
		out = append(out, n)
	}
	return out, nil
}

type bench struct {
	cfg config
	out *json.Encoder
	// newDB returns the URI of a new, empty database of the backend.
	newDB func(ctx context.Context, name string) (string, error)
	// dbCPU returns the CPU seconds the database server has used (the
	// throwaway PostgreSQL cluster's), nil when not known.
	dbCPU func() float64
}

// result is one JSON line of output.
type result struct {
	Backend   string  `json:"backend"`
	Op        string  `json:"op"`
	Server    string  `json:"server,omitempty"` // "ours" or "mlflow-<version>"
	Replicas  int     `json:"replicas,omitempty"`
	Clients   int     `json:"clients,omitempty"`
	Requests  int64   `json:"requests,omitempty"`
	Seconds   float64 `json:"seconds,omitempty"`
	PerSecond float64 `json:"requests_per_second,omitempty"`
	History   *int    `json:"history_points,omitempty"`
	Repeat    bool    `json:"with_repeated_point,omitempty"`
	Runs      int     `json:"runs,omitempty"`
	P50ms     float64 `json:"p50_ms,omitempty"`
	P99ms     float64 `json:"p99_ms,omitempty"`
	Points    int64   `json:"points,omitempty"`
	Bytes     int     `json:"response_bytes,omitempty"`
	Pages     int     `json:"pages,omitempty"`
	Acked     int64   `json:"acked_points,omitempty"`
	Stored    int64   `json:"stored_points,omitempty"`
	Checks    int64   `json:"read_after_ack_checks,omitempty"`
	ServerCPU float64 `json:"server_cpu_ms_per_request,omitempty"`
	ClientCPU float64 `json:"client_cpu_ms_per_request,omitempty"`
	DBCPU     float64 `json:"db_cpu_ms_per_request,omitempty"`
	Verified  *bool   `json:"verified,omitempty"`
	Problem   string  `json:"problem,omitempty"`
	RSSMiB    float64 `json:"max_rss_mib,omitempty"`
	VmHWMMiB  float64 `json:"vmhwm_mib,omitempty"`
	LoadAvg   string  `json:"loadavg"`
}

func (b *bench) emit(backend string, r result) {
	r.Backend, r.LoadAvg = backend, benchproc.LoadAvg()
	b.out.Encode(r)
}

func (b *bench) backend(ctx context.Context, name string) error {
	switch name {
	case "sqlite":
		b.newDB = func(_ context.Context, db string) (string, error) {
			return "sqlite:///" + filepath.Join(b.cfg.dir, db+".db"), nil
		}
	case "postgresql":
		admin := b.cfg.postgres
		if admin == "" {
			pg, err := testenv.StartPostgres(ctx)
			if err != nil {
				return fmt.Errorf("start PostgreSQL: %w", err)
			}
			defer pg.Stop()
			admin = pg.URI("postgres")
			b.dbCPU = func() float64 {
				pid, err := os.ReadFile(filepath.Join(pg.Dir, "data", "postmaster.pid"))
				if err != nil {
					return 0
				}
				n, _ := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(pid), "\n", 2)[0]))
				return benchproc.TreeCPUSeconds(n)
			}
		}
		b.newDB = func(ctx context.Context, db string) (string, error) { return createDatabase(ctx, admin, db) }
	default:
		return fmt.Errorf("unknown backend %q: want sqlite or postgresql", name)
	}
	if b.cfg.phases["throughput"] {
		replicas := b.cfg.replicas
		if name == "sqlite" {
			replicas = []int{1}
		}
		for _, n := range replicas {
			if err := b.throughput(ctx, name, n); err != nil {
				return fmt.Errorf("throughput, %d replicas: %w", n, err)
			}
		}
	}
	if b.cfg.phases["history"] {
		if err := b.history(ctx, name); err != nil {
			return fmt.Errorf("history: %w", err)
		}
	}
	if b.cfg.phases["mlflow"] && name == "sqlite" {
		if err := b.mlflowHistory(ctx, name); err != nil {
			return fmt.Errorf("mlflow: %w", err)
		}
	}
	if b.cfg.phases["ui"] {
		if err := b.ui(ctx, name); err != nil {
			return fmt.Errorf("ui: %w", err)
		}
	}
	return nil
}

// createDatabase creates database name on the PostgreSQL server of adminURI
// and returns its URI.
func createDatabase(ctx context.Context, adminURI, name string) (string, error) {
	db, err := sql.Open("pgx", adminURI)
	if err != nil {
		return "", err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	u, err := url.Parse(adminURI)
	if err != nil {
		return "", err
	}
	u.Path = "/" + name
	return u.String(), nil
}

// startServers starts n tracking-server processes on uri, the first alone (it
// creates the schema).
func (b *bench) startServers(ctx context.Context, uri string, n int) ([]*benchproc.Server, error) {
	var servers []*benchproc.Server
	for i := range n {
		s, err := benchproc.StartServer(ctx, b.cfg.server, uri, filepath.Join(b.cfg.dir, "artifacts"))
		if err != nil {
			for _, s := range servers {
				s.Stop()
			}
			return nil, fmt.Errorf("server %d: %w", i, err)
		}
		servers = append(servers, s)
	}
	return servers, nil
}

func stopAll(servers []*benchproc.Server) {
	for _, s := range servers {
		s.Stop()
	}
}

// rss returns the largest VmRSS of any of servers since the last call.
func rss(servers []*benchproc.Server) float64 {
	var m float64
	for _, s := range servers {
		m = max(m, s.TakeRSS())
	}
	return m
}

func batch(keys int, step int64, value float64) []wire.Metric {
	now := time.Now().UnixMilli()
	ms := make([]wire.Metric, keys)
	for i := range ms {
		ms[i] = wire.Metric{Key: "m" + strconv.Itoa(i), Value: wire.Float(value), Timestamp: now, Step: step}
	}
	return ms
}

const keysPerBatch = 10

// metricKeys are the keys of a batch: m0, m1, ...
var metricKeys = func() []string {
	keys := make([]string, keysPerBatch)
	for i := range keys {
		keys[i] = "m" + strconv.Itoa(i)
	}
	return keys
}()

// appendLogBatch appends the JSON body of a log-batch of batch(keysPerBatch,
// step, value) on run at time now, written directly: json.Marshal of the
// request (reflection, wire.Float's MarshalJSON and the check of its output)
// cost the benchmark's client, which shares the machine with the server,
// more CPU than the rest of its request.
func appendLogBatch(b []byte, run string, step int64, value float64, now int64) []byte {
	b = append(b, `{"run_id":"`...)
	b = append(b, run...)
	b = append(b, `","metrics":[`...)
	v := wire.FormatFloat(value)
	for i, k := range metricKeys {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"key":"`...)
		b = append(b, k...)
		b = append(b, `","value":`...)
		b = append(b, v...)
		b = append(b, `,"timestamp":`...)
		b = strconv.AppendInt(b, now, 10)
		b = append(b, `,"step":`...)
		b = strconv.AppendInt(b, step, 10)
		b = append(b, '}')
	}
	return append(b, "]}"...)
}

// throughput runs log-batch from cfg.clients clients against n servers on one
// new database for cfg.duration, then verifies what was acknowledged.
func (b *bench) throughput(ctx context.Context, backend string, n int) error {
	uri, err := b.newDB(ctx, fmt.Sprintf("throughput_%d", n))
	if err != nil {
		return err
	}
	servers, err := b.startServers(ctx, uri, n)
	if err != nil {
		return err
	}
	defer stopAll(servers)
	clients := make([]*benchproc.Client, n)
	for i, s := range servers {
		clients[i] = benchproc.NewClient(s.URL, b.cfg.clients*2)
	}
	var exp wire.CreateExperimentResponse
	if err := clients[0].Post(ctx, wire.PathCreateExperiment, wire.CreateExperimentRequest{Name: "bench-throughput"}, &exp); err != nil {
		return err
	}
	runIDs := make([]string, b.cfg.clients)
	for i := range runIDs {
		var created wire.CreateRunResponse
		if err := clients[i%n].Post(ctx, wire.PathCreateRun, wire.CreateRunRequest{ExperimentID: exp.ExperimentID}, &created); err != nil {
			return err
		}
		runIDs[i] = created.Run.Info.RunID
	}
	rss(servers)

	// Client w writes to replica w%n, and every 16th acknowledged step is
	// read back at once through replica (w+1)%n.
	acked := make([]int64, b.cfg.clients)
	var checks atomic.Int64
	lctx, cancel := context.WithTimeout(ctx, b.cfg.duration)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, b.cfg.clients)
	serverCPU := func() float64 {
		var sum float64
		for _, s := range servers {
			sum += benchproc.CPUSeconds(s.PID())
		}
		return sum
	}
	dbCPU := func() float64 {
		if b.dbCPU == nil {
			return 0
		}
		return b.dbCPU()
	}
	cpu0, self0, db0 := serverCPU(), benchproc.SelfCPU(), dbCPU()
	start := time.Now()
	for w := range b.cfg.clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			writer, reader := clients[w%n], clients[(w+1)%n]
			var body []byte
			for step := int64(1); lctx.Err() == nil; step++ {
				body = appendLogBatch(body[:0], runIDs[w], step, float64(step), time.Now().UnixMilli())
				if _, err := writer.PostBody(ctx, wire.PathLogBatch, body); err != nil {
					errs[w] = fmt.Errorf("client %d, step %d: %w", w, step, err)
					return
				}
				acked[w] = step
				if step%16 == 0 {
					if err := readAfterAck(ctx, reader, runIDs[w], step); err != nil {
						errs[w] = fmt.Errorf("client %d: %w", w, err)
						return
					}
					checks.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	cpu, self, db := serverCPU()-cpu0, benchproc.SelfCPU()-self0, dbCPU()-db0
	if err := errors.Join(errs...); err != nil {
		return err
	}
	var requests int64
	for _, a := range acked {
		requests += a
	}
	r := result{Op: "log-batch-10-metrics", Replicas: n, Clients: b.cfg.clients, Requests: requests, Seconds: secs,
		PerSecond: float64(requests) / secs, Acked: requests * keysPerBatch, Checks: checks.Load(), RSSMiB: rss(servers),
		ServerCPU: 1000 * cpu / float64(requests), ClientCPU: 1000 * self / float64(requests),
		DBCPU: 1000 * db / float64(requests)}
	stored, problem, err := verifyStored(ctx, clients, runIDs, acked)
	if err != nil {
		return err
	}
	ok := problem == ""
	r.Stored, r.Problem, r.Verified = stored, problem, &ok
	r.VmHWMMiB = benchproc.ProcMemory(servers[0].PID()).Peak
	b.emit(backend, r)
	return nil
}

// readAfterAck reads the run's latest m0 through c and fails unless it is at
// least the acknowledged step.
func readAfterAck(ctx context.Context, c *benchproc.Client, runID string, step int64) error {
	body, err := c.Get(ctx, wire.PathGetRun, url.Values{"run_id": {runID}})
	if err != nil {
		return err
	}
	var got wire.GetRunResponse
	if err := json.Unmarshal(body, &got); err != nil {
		return err
	}
	for _, m := range got.Run.Data.Metrics {
		if m.Key == "m0" {
			if m.Step < step {
				return fmt.Errorf("run %s: step %d acknowledged, another replica reads latest m0 at step %d", runID, step, m.Step)
			}
			return nil
		}
	}
	return fmt.Errorf("run %s: step %d acknowledged, another replica reads no m0", runID, step)
}

// verifyStored reads every key's history of every run through every client and
// checks each holds steps 1..acked exactly once, and that all clients answer
// the same bytes. It returns the points stored and what is wrong, if anything.
func verifyStored(ctx context.Context, clients []*benchproc.Client, runIDs []string, acked []int64) (int64, string, error) {
	var stored int64
	var problems []string
	for w, id := range runIDs {
		for k := range keysPerBatch {
			key := "m" + strconv.Itoa(k)
			var first []byte
			for i, c := range clients {
				body, err := c.Get(ctx, wire.PathGetMetricHistory, url.Values{"run_id": {id}, "metric_key": {key}})
				if err != nil {
					return 0, "", err
				}
				if i == 0 {
					first = body
					var h wire.GetMetricHistoryResponse
					if err := json.Unmarshal(body, &h); err != nil {
						return 0, "", err
					}
					stored += int64(len(h.Metrics))
					if p := checkSteps(h.Metrics, acked[w]); p != "" {
						problems = append(problems, fmt.Sprintf("run %d %s: %s", w, key, p))
					}
				} else if string(body) != string(first) {
					problems = append(problems, fmt.Sprintf("run %d %s: replica %d answers other bytes than replica 0", w, key, i))
				}
			}
		}
	}
	return stored, strings.Join(problems, "; "), nil
}

// checkSteps says what is wrong with a history that should hold steps 1..n once each.
func checkSteps(ms []wire.Metric, n int64) string {
	seen := make(map[int64]int, len(ms))
	for _, m := range ms {
		seen[m.Step]++
	}
	var missing, dup int
	for s := int64(1); s <= n; s++ {
		switch seen[s] {
		case 0:
			missing++
		case 1:
		default:
			dup++
		}
	}
	if extra := len(ms) - int(n) - dup + missing; missing > 0 || dup > 0 || extra != 0 {
		return fmt.Sprintf("%d acknowledged steps, %d points: %d missing, %d doubled", n, len(ms), missing, dup)
	}
	return ""
}

// filler writes a run's history through the store, on the server's database.
type filler struct {
	store *sqlstore.Store
	run   string
	keys  int
	next  int64 // next step of every key
}

func openStore(ctx context.Context, uri string, schema string) (*sqlstore.Store, error) {
	return sqlstore.Open(ctx, uri, sqlstore.Options{DefaultArtifactRoot: "mlflow-artifacts:/",
		Logger: slog.New(slog.DiscardHandler), SchemaVersion: schema})
}

// fillTo logs steps until each of the run's keys has points/keys points, in
// batches of 1000 metrics (MLflow's limit).
func (f *filler) fillTo(ctx context.Context, points int) error {
	target := int64(points / f.keys)
	var ms []tracking.Metric
	for ; f.next < target; f.next++ {
		for k := range f.keys {
			ms = append(ms, tracking.Metric{Key: "m" + strconv.Itoa(k), Value: float64(f.next), Timestamp: f.next, Step: f.next})
		}
		if len(ms) >= 1000-f.keys || f.next == target-1 {
			if err := f.store.LogBatch(ctx, f.run, ms, nil, nil); err != nil {
				return err
			}
			ms = ms[:0]
		}
	}
	return nil
}

// latency times cfg.latencyN sequential log-batch requests (after 5 untimed)
// through c on run, continuing f's steps.
// With repeat, each request also carries a point the run already has, as a
// client's retry of a batch does: MLflow's SQL store then reads the logged
// keys' whole history to drop it (_log_metrics after an IntegrityError).
func (b *bench) latency(ctx context.Context, c *benchproc.Client, run string, f *filler, n int, repeat bool) (p50, p99 float64, err error) {
	var lat []time.Duration
	for i := range n + 5 {
		req := wire.LogBatchRequest{RunID: run, Metrics: batch(keysPerBatch, f.next, 1)}
		if repeat {
			req.Metrics = append(req.Metrics, wire.Metric{Key: "m0", Value: 0, Timestamp: 0, Step: 0})
		}
		f.next++
		t0 := time.Now()
		if err := c.Post(ctx, wire.PathLogBatch, req, nil); err != nil {
			return 0, 0, err
		}
		if i >= 5 {
			lat = append(lat, time.Since(t0))
		}
	}
	return percentiles(lat)
}

func percentiles(lat []time.Duration) (p50, p99 float64, err error) {
	if len(lat) == 0 {
		return 0, 0, errors.New("nothing timed")
	}
	slices.Sort(lat)
	return benchproc.Ms(lat[len(lat)/2]), benchproc.Ms(lat[min(len(lat)-1, len(lat)*99/100)]), nil
}

// history measures log-batch latency as a run's history grows, and get-history
// of one metric with cfg.historyPoints points.
func (b *bench) history(ctx context.Context, backend string) error {
	uri, err := b.newDB(ctx, "history")
	if err != nil {
		return err
	}
	servers, err := b.startServers(ctx, uri, 1)
	if err != nil {
		return err
	}
	defer stopAll(servers)
	c := benchproc.NewClient(servers[0].URL, 2)
	store, err := openStore(ctx, uri, "")
	if err != nil {
		return err
	}
	defer store.Close()
	run, err := store.CreateRun(ctx, tracking.CreateRun{ExperimentID: "0", RunName: "history"})
	if err != nil {
		return err
	}
	f := &filler{store: store, run: run.Info.RunID, keys: keysPerBatch}
	for _, h := range b.cfg.history {
		t0 := time.Now()
		if err := f.fillTo(ctx, h); err != nil {
			return fmt.Errorf("fill %d points: %w", h, err)
		}
		b.emit(backend, result{Op: "fill-history", History: &h, Seconds: time.Since(t0).Seconds()})
		if err := analyze(ctx, store, backend); err != nil {
			return err
		}
		rss(servers)
		for _, repeat := range []bool{false, true} {
			p50, p99, err := b.latency(ctx, c, run.Info.RunID, f, b.cfg.latencyN, repeat)
			if err != nil {
				return fmt.Errorf("log-batch at %d points: %w", h, err)
			}
			b.emit(backend, result{Op: "log-batch-latency", Server: "ours", History: &h, Repeat: repeat,
				Requests: int64(b.cfg.latencyN), P50ms: p50, P99ms: p99, RSSMiB: rss(servers)})
		}
	}

	// get-history of one metric of cfg.historyPoints points.
	gh, err := store.CreateRun(ctx, tracking.CreateRun{ExperimentID: "0", RunName: "get-history"})
	if err != nil {
		return err
	}
	one := &filler{store: store, run: gh.Info.RunID, keys: 1}
	if err := one.fillTo(ctx, b.cfg.historyPoints); err != nil {
		return err
	}
	if err := analyze(ctx, store, backend); err != nil {
		return err
	}
	rss(servers)
	id := gh.Info.RunID
	// Whole, then as MLflow 2.17.2's and 3.11.1's client.get_metric_history
	// asks: pages of GET_METRIC_HISTORY_MAX_RESULTS (25,000), each next token.
	for _, pageSize := range []int{0, 25000} {
		op := "get-history"
		if pageSize > 0 {
			op = "get-history-paged"
		}
		var lat []time.Duration
		var size, points, pages int
		for i := range 23 {
			t0 := time.Now()
			n, size1, requests, err := readHistory(ctx, c, id, "m0", pageSize, i == 0)
			if err != nil {
				return fmt.Errorf("%s: %w", op, err)
			}
			if i >= 3 {
				lat = append(lat, time.Since(t0))
			}
			if i == 0 {
				size, points, pages = size1, n, requests
			}
		}
		if points != b.cfg.historyPoints {
			return fmt.Errorf("%s answered %d points, want %d", op, points, b.cfg.historyPoints)
		}
		p50, p99, err := percentiles(lat)
		if err != nil {
			return err
		}
		b.emit(backend, result{Op: op, Points: int64(points), Bytes: size, Pages: pages, Requests: int64(len(lat)),
			P50ms: p50, P99ms: p99, RSSMiB: rss(servers)})
	}
	b.emit(backend, result{Op: "server-memory", RSSMiB: servers[0].MaxRSS(), VmHWMMiB: benchproc.ProcMemory(servers[0].PID()).Peak})
	return nil
}

// readHistory reads one metric's history through c, whole (pageSize 0) or in
// pages of pageSize following next_page_token, and returns the bytes and the
// requests it took, and with count its points. It does not decode the answers
// (10 MB of JSON would cost this client more than the server's answer): the
// token is at an answer's end, where wire.AppendMetricHistory writes it.
func readHistory(ctx context.Context, c *benchproc.Client, runID, key string, pageSize int, count bool) (points, size, requests int, err error) {
	q := url.Values{"run_id": {runID}, "metric_key": {key}}
	if pageSize > 0 {
		q.Set("max_results", strconv.Itoa(pageSize))
	}
	for {
		body, err := c.Get(ctx, wire.PathGetMetricHistory, q)
		if err != nil {
			return 0, 0, 0, err
		}
		if count {
			points += bytes.Count(body, []byte(`"step"`))
		}
		size, requests = size+len(body), requests+1
		m := nextTokenRE.FindSubmatch(body[max(0, len(body)-300):])
		if m == nil {
			return points, size, requests, nil
		}
		q.Set("page_token", string(m[1]))
	}
}

var nextTokenRE = regexp.MustCompile(`"next_page_token": "([^"]+)"`)

// analyze runs ANALYZE on PostgreSQL, as autovacuum soon would after a bulk load.
func analyze(ctx context.Context, store *sqlstore.Store, backend string) error {
	if backend != "postgresql" {
		return nil
	}
	_, err := store.DB().ExecContext(ctx, "ANALYZE")
	return err
}

// mlflowHistory measures log-batch latency of our server and the real MLflow
// side by side on one SQLite database at MLflow 2.17.2's schema, as one run's
// history grows.
func (b *bench) mlflowHistory(ctx context.Context, backend string) error {
	uri, err := b.newDB(ctx, "mlflow_history")
	if err != nil {
		return err
	}
	store, err := openStore(ctx, uri, sqlstore.SchemaMLflow2)
	if err != nil {
		return err
	}
	defer store.Close()
	servers, err := b.startServers(ctx, uri, 1)
	if err != nil {
		return err
	}
	defer stopAll(servers)
	ml, err := testenv.StartMLflow(ctx, b.cfg.mlflow, uri, filepath.Join(b.cfg.dir, "mlflow-artifacts"))
	if err != nil {
		return err
	}
	defer ml.Stop()
	ours, theirs := benchproc.NewClient(servers[0].URL, 2), benchproc.NewClient(ml.URL, 2)
	run, err := store.CreateRun(ctx, tracking.CreateRun{ExperimentID: "0", RunName: "history"})
	if err != nil {
		return err
	}
	f := &filler{store: store, run: run.Info.RunID, keys: keysPerBatch}
	for _, h := range b.cfg.mlflowHistory {
		if err := f.fillTo(ctx, h); err != nil {
			return err
		}
		for _, side := range []struct {
			name string
			c    *benchproc.Client
		}{{"ours", ours}, {"mlflow-" + b.cfg.mlflow, theirs}} {
			// Fewer requests with a repeated point: MLflow reads the whole history for each.
			for _, mode := range []struct {
				repeat bool
				n      int
			}{{false, b.cfg.latencyN}, {true, max(10, b.cfg.latencyN/5)}} {
				p50, p99, err := b.latency(ctx, side.c, run.Info.RunID, f, mode.n, mode.repeat)
				if err != nil {
					return fmt.Errorf("%s at %d points: %w", side.name, h, err)
				}
				b.emit(backend, result{Op: "log-batch-latency", Server: side.name, History: &h, Repeat: mode.repeat,
					Requests: int64(mode.n), P50ms: p50, P99ms: p99})
			}
		}
	}
	return nil
}

// ui times the web UI's experiments page and the runs page of an experiment of
// cfg.uiRuns runs (5 params and 5 metrics each).
func (b *bench) ui(ctx context.Context, backend string) error {
	uri, err := b.newDB(ctx, "ui")
	if err != nil {
		return err
	}
	store, err := openStore(ctx, uri, "")
	if err != nil {
		return err
	}
	defer store.Close()
	exp, err := store.CreateExperiment(ctx, "bench-ui", "", nil)
	if err != nil {
		return err
	}
	t0 := time.Now()
	if err := benchproc.Populate(ctx, store, exp, b.cfg.uiRuns, 8); err != nil {
		return fmt.Errorf("populate: %w", err)
	}
	if err := analyze(ctx, store, backend); err != nil {
		return err
	}
	b.emit(backend, result{Op: "populate", Runs: b.cfg.uiRuns, Seconds: time.Since(t0).Seconds()})
	servers, err := b.startServers(ctx, uri, 1)
	if err != nil {
		return err
	}
	defer stopAll(servers)
	c := benchproc.NewClient(servers[0].URL, 2)
	for _, page := range []struct{ op, path string }{
		{"ui-experiments-page", "/"},
		{"ui-runs-page", "/experiments/" + exp},
	} {
		rss(servers)
		var lat []time.Duration
		var size int
		for i := range 23 {
			t0 := time.Now()
			body, err := c.Get(ctx, page.path, nil)
			if err != nil {
				return err
			}
			if i >= 3 {
				lat = append(lat, time.Since(t0))
			}
			size = len(body)
		}
		p50, p99, err := percentiles(lat)
		if err != nil {
			return err
		}
		b.emit(backend, result{Op: page.op, Runs: b.cfg.uiRuns, Requests: int64(len(lat)), Bytes: size,
			P50ms: p50, P99ms: p99, RSSMiB: rss(servers)})
	}
	return nil
}
