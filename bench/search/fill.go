package main

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// The searched experiment's runs: run i (0-based) starts at t0 + i minutes.
const (
	t0        = int64(1_700_000_000_000)
	runEveryM = int64(60_000)
)

// users, teams and optimizers are the values of the runs' categorical columns;
// their weights make some values broad (alice, adam) and some selective.
var (
	users      = weighted{{"alice", 40}, {"bob", 25}, {"carol", 15}, {"dave", 10}, {"erin", 5}, {"frank", 3}, {"grace", 1}, {"heidi", 1}}
	teams      = weighted{{"vision", 40}, {"nlp", 30}, {"tabular", 20}, {"speech", 10}}
	optimizers = weighted{{"adam", 50}, {"sgd", 30}, {"rmsprop", 15}, {"adagrad", 5}}
	statuses   = weighted{{"FINISHED", 90}, {"FAILED", 8}, {"RUNNING", 2}}
)

type weighted []struct {
	v string
	w int
}

func (ws weighted) pick(rng *rand.Rand) string {
	total := 0
	for _, w := range ws {
		total += w.w
	}
	n := rng.IntN(total)
	for _, w := range ws {
		if n < w.w {
			return w.v
		}
		n -= w.w
	}
	return ws[len(ws)-1].v
}

// runID is run i's id: 32 hex digits, spread like uuid4's (so the run_uuid
// tie-break and IN lists see no order from i).
func runID(i int) string {
	x := uint64(i)*0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019
	mix := func() uint64 {
		x += 0x9E3779B97F4A7C15
		z := x
		z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
		z = (z ^ (z >> 27)) * 0x94D049BB133111EB
		return z ^ (z >> 31)
	}
	return fmt.Sprintf("%016x%016x", mix(), mix())
}

// fakeRun is one generated run with its data, the same for every database.
type fakeRun struct {
	id, name, user, status string
	start                  int64
	end                    sql.NullInt64
	deleted                bool
	params                 [5]string
	metrics                [5]float64 // NaN is logged as NaN; missing means absent
	missing                [5]bool
	tags                   [][2]string
}

// genRun draws run i of an experiment: 5 params (p0: 100 values, p1: 10, p2:
// unique learning-rate-like numbers, p3: 1,000 values, p4: an optimizer), 5
// metrics (m0, m1, m4 uniform in [0,1), m2 normal with 0.5% NaN, m3 a
// loss-like exponential missing in 5% of runs), tags (mlflow.runName,
// mlflow.user, team, stage with 2% "prod", a unique git_sha) and attributes
// (8 users, 90% FINISHED, 1% deleted).
func genRun(i int, seed uint64) fakeRun {
	rng := rand.New(rand.NewPCG(seed, uint64(i)))
	r := fakeRun{id: runID(i), name: "run-" + strconv.Itoa(i), user: users.pick(rng), status: statuses.pick(rng)}
	r.start = t0 + int64(i)*runEveryM + rng.Int64N(30_000)
	if r.status != "RUNNING" {
		r.end = sql.NullInt64{Int64: r.start + 1000 + rng.Int64N(3_600_000), Valid: true}
	}
	r.deleted = rng.IntN(100) == 0
	r.params = [5]string{
		strconv.Itoa(rng.IntN(100)),
		"x" + strconv.Itoa(rng.IntN(10)),
		strconv.FormatFloat(rng.Float64()/10, 'g', 6, 64),
		strconv.Itoa(rng.IntN(1000)),
		optimizers.pick(rng),
	}
	r.metrics = [5]float64{rng.Float64(), rng.Float64(), rng.NormFloat64(), rng.ExpFloat64(), rng.Float64()}
	if rng.IntN(200) == 0 {
		r.metrics[2] = math.NaN()
	}
	r.missing[3] = rng.IntN(20) == 0
	stage := "dev"
	if rng.IntN(50) == 0 {
		stage = "prod"
	}
	r.tags = [][2]string{
		{"mlflow.runName", r.name}, {"mlflow.user", r.user}, {"team", teams.pick(rng)}, {"stage", stage},
		{"git_sha", fmt.Sprintf("%016x%016x%08x", rng.Uint64(), rng.Uint64(), rng.Uint32())},
	}
	return r
}

// filler writes generated runs into an MLflow database (the tables the store
// reads: runs, tags, params, metrics, latest_metrics), a batch of runs a
// transaction: multi-row INSERTs on SQLite, COPY on PostgreSQL.
type filler struct {
	db       *sql.DB
	postgres bool
	expID    int64
	artifact string // the experiment's artifact location
	seed     uint64
}

const fillBatch = 250

// fill writes runs [0, n) in batches.
func (f *filler) fill(ctx context.Context, n int) error {
	for lo := 0; lo < n; lo += fillBatch {
		runs := make([]fakeRun, 0, fillBatch)
		for i := lo; i < min(n, lo+fillBatch); i++ {
			runs = append(runs, genRun(i, f.seed))
		}
		if err := f.batch(ctx, runs); err != nil {
			return fmt.Errorf("runs %d..%d: %w", lo, lo+len(runs)-1, err)
		}
	}
	return nil
}

func (f *filler) batch(ctx context.Context, runs []fakeRun) error {
	var runRows, tagRows, paramRows, metricRows, latestRows [][]any
	for _, r := range runs {
		stage, deletedTime := "active", sql.NullInt64{}
		if r.deleted {
			stage, deletedTime = "deleted", sql.NullInt64{Int64: r.start + 7_200_000, Valid: true}
		}
		runRows = append(runRows, []any{r.id, r.name, "UNKNOWN", "", "", r.user, r.status, r.start, r.end, "",
			stage, f.artifact + "/" + r.id + "/artifacts", f.expID, deletedTime})
		for _, t := range r.tags {
			tagRows = append(tagRows, []any{t[0], t[1], r.id})
		}
		for k, v := range r.params {
			paramRows = append(paramRows, []any{"p" + strconv.Itoa(k), v, r.id})
		}
		for k, v := range r.metrics {
			if r.missing[k] {
				continue
			}
			isNaN := math.IsNaN(v)
			if isNaN {
				v = 0 // MLflow stores NaN as 0 with is_nan set
			}
			ts := r.start + 1000
			metricRows = append(metricRows, []any{"m" + strconv.Itoa(k), v, ts, int64(0), isNaN, r.id})
			latestRows = append(latestRows, []any{"m" + strconv.Itoa(k), v, ts, int64(0), isNaN, r.id})
		}
	}
	tables := []fillTable{
		{"runs", []string{"run_uuid", "name", "source_type", "source_name", "entry_point_name", "user_id", "status", "start_time", "end_time", "source_version", "lifecycle_stage", "artifact_uri", "experiment_id", "deleted_time"}, runRows},
		{"tags", []string{"key", "value", "run_uuid"}, tagRows},
		{"params", []string{"key", "value", "run_uuid"}, paramRows},
		{"metrics", []string{"key", "value", "timestamp", "step", "is_nan", "run_uuid"}, metricRows},
		{"latest_metrics", []string{"key", "value", "timestamp", "step", "is_nan", "run_uuid"}, latestRows},
	}
	if f.postgres {
		return f.copy(ctx, tables)
	}
	tx, err := f.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, t := range tables {
		if err := f.insert(ctx, tx, t.table, `"`+strings.Join(t.cols, `", "`)+`"`, t.rows); err != nil {
			return fmt.Errorf("insert into %s: %w", t.table, err)
		}
	}
	return tx.Commit()
}

// fillTable is a batch of rows for one table.
type fillTable struct {
	table string
	cols  []string
	rows  [][]any
}

// copy writes the batch to PostgreSQL with COPY, in one transaction, on
// pgx's connection under database/sql's.
func (f *filler) copy(ctx context.Context, tables []fillTable) error {
	conn, err := f.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		pc := dc.(*stdlib.Conn).Conn()
		tx, err := pc.Begin(ctx)
		if err != nil {
			return err
		}
		defer tx.Rollback(ctx)
		for _, t := range tables {
			for _, row := range t.rows {
				for j, v := range row {
					if n, ok := v.(sql.NullInt64); ok {
						row[j] = nil
						if n.Valid {
							row[j] = n.Int64
						}
					}
				}
			}
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{t.table}, t.cols, pgx.CopyFromRows(t.rows)); err != nil {
				return fmt.Errorf("copy into %s: %w", t.table, err)
			}
		}
		return tx.Commit(ctx)
	})
}

// insert writes rows in one INSERT per 1,000 rows.
func (f *filler) insert(ctx context.Context, tx *sql.Tx, table, cols string, rows [][]any) error {
	for lo := 0; lo < len(rows); lo += 1000 {
		chunk := rows[lo:min(len(rows), lo+1000)]
		var b strings.Builder
		args := make([]any, 0, len(chunk)*len(chunk[0]))
		b.WriteString("INSERT INTO " + table + " (" + cols + ") VALUES ")
		for i, row := range chunk {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteByte('(')
			for j, v := range row {
				if j > 0 {
					b.WriteString(", ")
				}
				args = append(args, v)
				if f.postgres {
					b.WriteString("$" + strconv.Itoa(len(args)))
				} else {
					b.WriteByte('?')
				}
			}
			b.WriteByte(')')
		}
		if _, err := tx.ExecContext(ctx, b.String(), args...); err != nil {
			return err
		}
	}
	return nil
}
