// Command search is a query-mix benchmark of runs/search over HTTP. It fills
// one experiment with N runs (5 params, 5 metrics and 5 tags each; see genRun)
// by writing MLflow's tables directly (multi-row INSERTs; not timed as a
// client), starts a search server on the database, and times each search shape
// (shapes) as a client: request out, whole response in, max_results 100.
// Every shape reports p50 and p95. Over the smallest size it also runs four
// clients through the compound shapes for a while and reports searches per
// second, and checks that every server answers each shape's first page with
// the same runs.
//
// Servers: ours (tracking-server) on SQLite and PostgreSQL, and the real
// MLflow 2.17.2 and 3.11.1 (internal/testenv, ../shared/mlflow) on SQLite
// databases filled the same way at their own schema (MLflow's exact schema:
// the housing_ indexes are dropped from their copies).
//
//	go build -o /tmp/tracking-server ./cmd/tracking-server
//	go run ./bench/search -server /tmp/tracking-server                     # 10k and 100k, SQLite and PostgreSQL, MLflow at 10k
//	go run ./bench/search -server /tmp/tracking-server -pg-sizes 1000000 -sqlite-sizes '' -mlflow ''
//
// Results are JSON lines on stdout, then a markdown table of p50s.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/mlops-lab/housing/bench/internal/benchproc"
	"github.com/mlops-lab/housing/internal/testenv"
	"github.com/mlops-lab/housing/tracking/search"
	"github.com/mlops-lab/housing/tracking/sqlstore"
	"github.com/mlops-lab/housing/tracking/wire"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bench/search:", err)
		os.Exit(1)
	}
}

type config struct {
	server        string
	data          string
	sqliteSizes   []int
	pgSizes       []int
	mlflow        []string
	mlflowSize    int
	postgres      string
	samples       int
	budget        time.Duration
	mlflowSamples int
	mlflowBudget  time.Duration
	clients       int
	duration      time.Duration
	only          *regexp.Regexp
}

func sizes(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 10 {
			return nil, fmt.Errorf("bad size %q: want a number of runs >= 10", f)
		}
		out = append(out, n)
	}
	return out, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench/search", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg config
	var sqliteSizes, pgSizes, mlflow, only, report string
	fs.StringVar(&cfg.server, "server", "", "tracking-server binary (default: go build ./cmd/tracking-server into a temp dir)")
	fs.StringVar(&cfg.data, "data", "", "directory that keeps the filled SQLite databases between runs (default: a temp dir, removed)")
	fs.StringVar(&sqliteSizes, "sqlite-sizes", "10000,100000", "experiment sizes on SQLite (comma-separated runs)")
	fs.StringVar(&pgSizes, "pg-sizes", "10000,100000", "experiment sizes on PostgreSQL (add 1000000 for the large one)")
	fs.StringVar(&mlflow, "mlflow", testenv.MLflow2+","+testenv.MLflow3, "real MLflow versions to measure on SQLite at -mlflow-size ('' for none)")
	fs.IntVar(&cfg.mlflowSize, "mlflow-size", 10000, "experiment size for the real MLflow servers")
	fs.StringVar(&cfg.postgres, "postgres", "", "URI of a PostgreSQL database whose server the benchmark may create databases bench_search_<n> on (kept and reused); default: a throwaway server")
	fs.IntVar(&cfg.samples, "samples", 40, "timed searches per shape on our server (after one untimed)")
	fs.DurationVar(&cfg.budget, "budget", 2*time.Second, "stop timing a shape on our server after this long (at least 5 samples)")
	fs.IntVar(&cfg.mlflowSamples, "mlflow-samples", 7, "timed searches per shape on a real MLflow")
	fs.DurationVar(&cfg.mlflowBudget, "mlflow-budget", 15*time.Second, "stop timing a shape on MLflow after this long (at least 3 samples)")
	fs.IntVar(&cfg.clients, "clients", 4, "concurrent clients in the throughput phase")
	fs.DurationVar(&cfg.duration, "duration", 5*time.Second, "length of the throughput phase")
	fs.StringVar(&only, "shapes", "", "regexp: time only the shapes whose name matches")
	fs.StringVar(&report, "report", "", "print only the table of these files of results (comma-separated JSON lines of earlier runs)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var err error
	if cfg.sqliteSizes, err = sizes(sqliteSizes); err != nil {
		return err
	}
	if cfg.pgSizes, err = sizes(pgSizes); err != nil {
		return err
	}
	if mlflow != "" {
		cfg.mlflow = strings.Split(mlflow, ",")
	}
	if only != "" {
		if cfg.only, err = regexp.Compile(only); err != nil {
			return err
		}
	}
	tmp, err := os.MkdirTemp("", "bench-search-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if cfg.data == "" {
		cfg.data = tmp
	} else if err := os.MkdirAll(cfg.data, 0o755); err != nil {
		return err
	}
	if cfg.server, err = benchproc.BuildServer(ctx, cfg.server, tmp, stderr); err != nil {
		return err
	}
	b := &bench{cfg: cfg, out: json.NewEncoder(stdout), log: stderr}
	if report != "" {
		for _, f := range strings.Split(report, ",") {
			if err := b.load(f); err != nil {
				return err
			}
		}
		b.table(stdout)
		return nil
	}
	b.logf("load average before: %s", benchproc.LoadAvg())
	for _, n := range cfg.sqliteSizes {
		if err := b.ours(ctx, "sqlite", n, tmp); err != nil {
			return fmt.Errorf("sqlite %d runs: %w", n, err)
		}
	}
	if len(cfg.pgSizes) > 0 {
		base := cfg.postgres
		if base == "" {
			pg, err := testenv.StartPostgres(ctx)
			if err != nil {
				return fmt.Errorf("start PostgreSQL: %w", err)
			}
			defer pg.Stop()
			base = pg.URI("postgres")
		}
		b.pgBase = base
		for _, n := range cfg.pgSizes {
			if err := b.ours(ctx, "postgresql", n, tmp); err != nil {
				return fmt.Errorf("postgresql %d runs: %w", n, err)
			}
		}
	}
	for _, v := range cfg.mlflow {
		if err := b.mlflow(ctx, v, cfg.mlflowSize, tmp); err != nil {
			return fmt.Errorf("MLflow %s: %w", v, err)
		}
	}
	b.logf("load average after: %s", benchproc.LoadAvg())
	b.table(stdout)
	return nil
}

// bench collects the results of one invocation.
type bench struct {
	cfg     config
	out     *json.Encoder
	log     io.Writer
	pgBase  string
	results []result
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.log, time.Now().Format("15:04:05 ")+format+"\n", args...)
}

// result is one JSON line of output.
type result struct {
	Target    string  `json:"target"` // sqlite, postgresql, mlflow-2.17.2, ...
	Runs      int     `json:"runs"`
	Op        string  `json:"op"` // fill, search, throughput
	Shape     string  `json:"shape,omitempty"`
	Filter    string  `json:"filter,omitempty"`
	OrderBy   string  `json:"order_by,omitempty"`
	Offset    int     `json:"offset,omitempty"`
	Samples   int     `json:"samples,omitempty"`
	P50ms     float64 `json:"p50_ms,omitempty"`
	P95ms     float64 `json:"p95_ms,omitempty"`
	Hits      int     `json:"hits"`
	Page      string  `json:"page,omitempty"`  // SHA-256 of the first page's run ids, in order
	Error     string  `json:"error,omitempty"` // the search failed (a real MLflow's worker timed out)
	Seconds   float64 `json:"seconds,omitempty"`
	PerSecond float64 `json:"per_second,omitempty"`
	Clients   int     `json:"clients,omitempty"`
	LoadAvg   string  `json:"loadavg"`
}

func (b *bench) emit(r result) {
	r.LoadAvg = benchproc.LoadAvg()
	b.results = append(b.results, r)
	b.out.Encode(r)
}

// ours fills (or reuses) a database of n runs for backend and measures our server on it.
func (b *bench) ours(ctx context.Context, backend string, n int, tmp string) error {
	var uri string
	switch backend {
	case "sqlite":
		uri = "sqlite:///" + filepath.Join(b.cfg.data, fmt.Sprintf("ours-%d.db", n))
	case "postgresql":
		var err error
		if uri, err = pgDatabase(ctx, b.pgBase, fmt.Sprintf("bench_search_%d", n)); err != nil {
			return err
		}
	}
	expID, err := b.prepare(ctx, backend, uri, sqlstore.SchemaMLflow3, n, false)
	if err != nil {
		return err
	}
	srv, err := benchproc.StartServer(ctx, b.cfg.server, uri, filepath.Join(tmp, "artifacts"))
	if err != nil {
		return err
	}
	defer srv.Stop()
	return b.measure(ctx, backend, srv.URL, expID, n, b.cfg.samples, b.cfg.budget)
}

// mlflow fills a SQLite database of n runs at the version's schema without our
// indexes and measures the real MLflow server on it.
func (b *bench) mlflow(ctx context.Context, version string, n int, tmp string) error {
	schema := sqlstore.SchemaMLflow3
	if strings.HasPrefix(version, "2.") {
		schema = sqlstore.SchemaMLflow2
	}
	path := filepath.Join(b.cfg.data, fmt.Sprintf("mlflow-%s-%d.db", version, n))
	uri := "sqlite:///" + path
	expID, err := b.prepare(ctx, "sqlite", uri, schema, n, true)
	if err != nil {
		return err
	}
	srv, err := testenv.StartMLflow(ctx, version, uri, filepath.Join(tmp, "mlflow-artifacts-"+version))
	if err != nil {
		return err
	}
	defer srv.Stop()
	return b.measure(ctx, "mlflow-"+version, srv.URL, expID, n, b.cfg.mlflowSamples, b.cfg.mlflowBudget)
}

// experimentName is the searched experiment.
const experimentName = "bench-search"

// prepare opens the database through our store (creating MLflow's schema) and
// fills experimentName with n runs unless it holds them already; it returns the
// experiment's id. mlflowOnly drops the housing_ indexes afterwards.
func (b *bench) prepare(ctx context.Context, backend, uri, schema string, n int, mlflowOnly bool) (string, error) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	store, err := sqlstore.Open(ctx, uri, sqlstore.Options{DefaultArtifactRoot: "mlflow-artifacts:/", Logger: logger, SchemaVersion: schema})
	if err != nil {
		return "", err
	}
	defer store.Close()
	db := store.DB()
	var id int64
	var have int
	err = db.QueryRowContext(ctx, `SELECT e.experiment_id, (SELECT COUNT(*) FROM runs r WHERE r.experiment_id = e.experiment_id)
		FROM experiments e WHERE e.name = '`+experimentName+`'`).Scan(&id, &have)
	switch {
	case err == nil && have == n:
		b.logf("%s: reusing %d runs in %s", backend, n, uri)
	case err == nil:
		return "", fmt.Errorf("%s has experiment %s with %d runs, want %d: remove it", uri, experimentName, have, n)
	case errors.Is(err, sqlRowsNone):
		idStr, err := store.CreateExperiment(ctx, experimentName, "", nil)
		if err != nil {
			return "", err
		}
		id, _ = strconv.ParseInt(idStr, 10, 64)
		b.logf("%s: filling %d runs in %s", backend, n, uri)
		start := time.Now()
		f := &filler{db: db, postgres: backend == "postgresql", expID: id, artifact: "mlflow-artifacts:/" + idStr, seed: 42}
		if err := f.fill(ctx, n); err != nil {
			return "", err
		}
		filled := time.Since(start)
		if backend == "postgresql" {
			// Autovacuum analyzes the tables within a minute of such a load;
			// until then the planner believes they are empty.
			if _, err := db.ExecContext(ctx, "VACUUM ANALYZE"); err != nil {
				return "", err
			}
		}
		b.emit(result{Target: backend, Runs: n, Op: "fill", Seconds: time.Since(start).Seconds(),
			PerSecond: float64(n) / filled.Seconds()})
	default:
		return "", err
	}
	if mlflowOnly {
		for _, idx := range sqlstore.ExtraIndexes {
			if _, err := db.ExecContext(ctx, "DROP INDEX IF EXISTS "+idx); err != nil {
				return "", fmt.Errorf("drop %s: %w", idx, err)
			}
		}
	}
	return strconv.FormatInt(id, 10), nil
}

// measure times every shape against the server at url, then (at mlflowSize)
// the throughput of the compound shapes.
func (b *bench) measure(ctx context.Context, target, url, expID string, n, samples int, budget time.Duration) error {
	tolerant := strings.HasPrefix(target, "mlflow-")
	c := benchproc.NewClient(url, 16)
	var compound []wire.SearchRunsRequest
	for _, s := range shapes(n) {
		req := wire.SearchRunsRequest{ExperimentIDs: []string{expID}, Filter: s.filter, OrderBy: s.orderBy, MaxResults: 100}
		if s.offset > 0 {
			req.PageToken = search.EncodePageToken(s.offset)
		}
		if s.compound {
			compound = append(compound, req)
		}
		if b.cfg.only != nil && !b.cfg.only.MatchString(s.name) {
			continue
		}
		if s.follow && !tolerant {
			// MLflow's tokens are the offset: following them gives the
			// forged token, so only our server's are followed.
			token, err := follow(ctx, c, req, s.offset)
			if err != nil {
				return fmt.Errorf("shape %q: %w", s.name, err)
			}
			req.PageToken = token
		}
		var lat []time.Duration
		var ids []string
		var failed string
		began := time.Now()
		for i := 0; i <= samples; i++ {
			if i > 0 && time.Since(began) > budget && len(lat) >= min(samples, 3) {
				break
			}
			t := time.Now()
			body, err := c.PostRaw(ctx, wire.PathSearchRuns, req)
			if err != nil && tolerant {
				// MLflow's gunicorn kills a worker after 30 s (and starts another).
				b.logf("%s %s: %v", target, s.name, err)
				failed = err.Error()
				break
			}
			if err != nil {
				return fmt.Errorf("shape %q: %w", s.name, err)
			}
			if i > 0 { // the first request warms caches and prepares statements
				lat = append(lat, time.Since(t))
				continue
			}
			var resp wire.SearchRunsResponse
			if err := json.Unmarshal(body, &resp); err != nil {
				return fmt.Errorf("shape %q: %w", s.name, err)
			}
			for _, r := range resp.Runs {
				ids = append(ids, r.Info.RunID)
			}
			began = time.Now()
		}
		r := result{Target: target, Runs: n, Op: "search", Shape: s.name, Filter: s.filter, OrderBy: strings.Join(s.orderBy, ", "),
			Offset: s.offset, Samples: len(lat), Hits: len(ids), Error: failed}
		if len(lat) > 0 {
			slices.Sort(lat)
			r.P50ms, r.P95ms = benchproc.Ms(lat[len(lat)/2]), benchproc.Ms(lat[min(len(lat)-1, len(lat)*95/100)])
		}
		if failed == "" {
			sum := sha256.Sum256([]byte(strings.Join(ids, ",")))
			r.Page = hex.EncodeToString(sum[:8])
		}
		b.emit(r)
	}
	if n != b.cfg.mlflowSize || b.cfg.only != nil {
		return nil
	}
	if tolerant {
		return nil // MLflow's compound searches take seconds each
	}
	var seq atomic.Int64
	count, secs, err := benchproc.Hammer(ctx, b.cfg.clients, b.cfg.duration, func(ctx context.Context, _ int) error {
		_, err := c.PostRaw(ctx, wire.PathSearchRuns, compound[seq.Add(1)%int64(len(compound))])
		return err
	})
	if err != nil {
		return fmt.Errorf("throughput: %w", err)
	}
	b.emit(result{Target: target, Runs: n, Op: "throughput", Shape: "compound mix", Clients: b.cfg.clients,
		Seconds: secs, PerSecond: float64(count) / secs})
	return nil
}

// follow pages req from the first page, max_results at a time, as a client
// does, and returns the token the server handed out for the page at offset.
func follow(ctx context.Context, c *benchproc.Client, req wire.SearchRunsRequest, offset int) (string, error) {
	req.PageToken = ""
	for seen := 0; seen < offset; {
		body, err := c.PostRaw(ctx, wire.PathSearchRuns, req)
		if err != nil {
			return "", err
		}
		var resp wire.SearchRunsResponse
		if err := json.Unmarshal(body, &resp); err != nil {
			return "", err
		}
		seen += len(resp.Runs)
		if resp.NextPageToken == "" {
			return "", fmt.Errorf("no page after %d runs, want %d", seen, offset)
		}
		req.PageToken = resp.NextPageToken
	}
	return req.PageToken, nil
}
