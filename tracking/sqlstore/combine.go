package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mlops-lab/housing/tracking"
)

// Bounds of a combined write (see batchCombiner).
const (
	maxCombinedMembers = 64
	// maxCombinedRows bounds the metrics and tags of a combined write, so that
	// its statements stay under maxVars bound values (12 a metric: its row and
	// its latest_metrics row).
	maxCombinedRows = 2000
	// maxMemberRows is the largest log-batch that is combined with others;
	// bigger ones gain nothing from sharing a statement and go alone.
	maxMemberRows = 100
	// sqliteLinger is how long a combined write on SQLite waits for the
	// members it expects (batchCombiner.loop): a few times the time a client
	// takes from its answer to its next request on a busy machine.
	sqliteLinger = time.Millisecond
)

// batchCombiner writes concurrent log-batch requests of the training loop's
// shape (metrics and tags; no params, no run name, no logged model) together:
// the requests that queue while a combined write runs make up the next one,
// whose rows go into each table with one statement (on PostgreSQL the whole
// write is one statement, so one round trip and one commit). Each caller gets
// its answer once the combined write is committed.
//
// Per request it answers what the request would get alone, as MLflow's
// per-request transactions do: a member whose run is missing or not active
// gets that error and writes nothing, and the others are written. When the
// combined write fails as a whole (a value the database refuses, a deadlock,
// a lost connection) nothing of it is committed, and each member is written
// again alone, so that a fault of one member fails that member only. A
// member written again cannot be stored twice: a metric point is unique on
// all its columns (ON CONFLICT DO NOTHING), latest_metrics only moves to a
// newer point and a tag is overwritten with the same value.
//
// Concurrent requests on one run are applied in queue order, which is one
// of the orders in which they could have run alone: the newest point of a
// key wins latest_metrics, the last request's value of a tag wins.
type batchCombiner struct {
	s *Store
	// linger bounds how long a write waits for the members it expects (see
	// loop); 0 waits for none.
	linger time.Duration
	jobs   chan *batchJob
	quit   chan struct{}
	once   sync.Once
	wg     sync.WaitGroup
}

// batchJob is one log-batch request waiting for a combined write.
type batchJob struct {
	ctx     context.Context
	runID   string
	metrics []tracking.Metric
	tags    []tracking.Tag
	result  chan error
}

// newBatchCombiner starts writers goroutines that each run one combined
// write at a time, each waiting at most linger for the members it expects.
func newBatchCombiner(s *Store, writers int, linger time.Duration) *batchCombiner {
	c := &batchCombiner{s: s, linger: linger, jobs: make(chan *batchJob), quit: make(chan struct{})}
	for range writers {
		c.wg.Add(1)
		go c.loop()
	}
	return c
}

// combinable reports whether a log-batch may be combined with others.
func combinable(metrics []tracking.Metric, params []tracking.Param, tags []tracking.Tag) bool {
	return len(params) == 0 && len(metrics)+len(tags) <= maxMemberRows &&
		!hasTag(tags, tracking.TagRunName) && !hasModelMetric(metrics)
}

// log writes the batch with others and returns once it is committed (or failed).
func (c *batchCombiner) log(ctx context.Context, runID string, metrics []tracking.Metric, tags []tracking.Tag) error {
	job := &batchJob{ctx: ctx, runID: runID, metrics: metrics, tags: tags, result: make(chan error, 1)}
	select {
	case c.jobs <- job:
	case <-ctx.Done():
		return dbError(ctx.Err(), "log batch")
	case <-c.quit:
		return dbError(sql.ErrConnDone, "log batch")
	}
	// Wait even when ctx ends: the combined write may be running.
	return <-job.result
}

// close stops the combiner after the writes in progress.
func (c *batchCombiner) close() {
	c.once.Do(func() { close(c.quit) })
	c.wg.Wait()
}

// loop runs combined writes. A write takes the requests that are queued,
// after letting the request goroutines that are ready run once (on a busy
// machine their batches are a moment away, and a write of several costs
// much less CPU than several: one commit, one statement per table). When
// it has fewer members than the last write had, it waits up to c.linger
// for more: the callers of the last write are likely on their way back with
// their next batch (clients that log in a loop), and on SQLite a commit of
// eight members writes 66 WAL pages against 18 for one (8 a member against
// 18; bench/README.md). A lone client never
// waits (its last write had one member); when clients leave, one write
// waits c.linger and the next expects fewer.
func (c *batchCombiner) loop() {
	defer c.wg.Done()
	batch := make([]*batchJob, 0, maxCombinedMembers)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	last := 0
	for {
		select {
		case job := <-c.jobs:
			batch = append(batch[:0], job)
		case <-c.quit:
			return
		}
		rows := len(batch[0].metrics) + len(batch[0].tags)
		yielded, lingering := false, false
	collect:
		for len(batch) < maxCombinedMembers && rows < maxCombinedRows-maxMemberRows {
			select {
			case job := <-c.jobs:
				batch = append(batch, job)
				rows += len(job.metrics) + len(job.tags)
				continue
			default:
			}
			switch {
			case !yielded:
				yielded = true
				runtime.Gosched()
				continue
			case len(batch) >= last || c.linger <= 0:
				break collect
			case !lingering:
				lingering = true
				timer.Reset(c.linger)
			}
			select {
			case job := <-c.jobs:
				batch = append(batch, job)
				rows += len(job.metrics) + len(job.tags)
			case <-timer.C:
				lingering = false
				break collect
			}
		}
		if lingering {
			timer.Stop()
		}
		last = len(batch)
		c.s.flushBatches(batch)
	}
}

// flushBatches writes the jobs in one combined write and answers each; see
// batchCombiner. Jobs whose caller has gone are answered without writing.
func (s *Store) flushBatches(jobs []*batchJob) {
	live := make([]*batchJob, 0, len(jobs))
	for _, j := range jobs {
		if err := j.ctx.Err(); err != nil {
			j.result <- dbError(err, "log batch")
			continue
		}
		live = append(live, j)
	}
	if len(live) == 1 {
		live[0].result <- s.logBatchAlone(live[0])
		return
	}
	if len(live) == 0 {
		return
	}
	results, err := s.logBatches(context.Background(), live)
	if err != nil {
		// Nothing of the combined write is committed: each member alone.
		for _, j := range live {
			j.result <- s.logBatchAlone(j)
		}
		return
	}
	for i, j := range live {
		j.result <- results[i]
	}
}

// logBatchAlone writes one job in its own transaction.
func (s *Store) logBatchAlone(j *batchJob) error {
	if s.dialect == dialectPostgres {
		return s.logBatchOneStatement(j.ctx, j.runID, j.metrics, j.tags)
	}
	return s.inTx(j.ctx, func(tx *txn) error { return logBatch(j.ctx, tx, j.runID, j.metrics, nil, j.tags) })
}

// combinedRows are the rows of a combined write, of the members whose run is
// active, sorted by run and key so that concurrent writes lock shared rows
// (latest_metrics, tags) in one order and cannot deadlock one another.
type combinedRows struct {
	metrics, latest []metricRow
	tags            []tagRow
}

// metricRow is a row of metrics or latest_metrics.
type metricRow struct {
	run string
	storedMetric
}

type tagRow struct{ run, key, value string }

// combine builds the rows of the members for which active(runID) holds:
// each metric point once, the newest point of each run's key for
// latest_metrics (the first of equals, in queue order), the last value of
// each run's tag, as the members would leave them written one after the
// other.
func combine(jobs []*batchJob, active func(runID string) bool) combinedRows {
	var out combinedRows
	n, nt := 0, 0
	for _, j := range jobs {
		n += len(j.metrics)
		nt += len(j.tags)
	}
	all := make([]metricRow, 0, n)
	out.tags = make([]tagRow, 0, nt)
	for _, j := range jobs {
		if !active(j.runID) {
			continue
		}
		for _, m := range j.metrics {
			all = append(all, metricRow{j.runID, toStored(m)})
		}
		for _, t := range j.tags {
			out.tags = append(out.tags, tagRow{j.runID, t.Key, t.Value})
		}
	}
	// Stable: within a run's key the points stay in queue order.
	slices.SortStableFunc(all, func(a, b metricRow) int {
		return cmp.Or(strings.Compare(a.run, b.run), strings.Compare(a.key, b.key))
	})
	out.metrics = all[:0:0]
	for start := 0; start < len(all); {
		end := start + 1
		for end < len(all) && all[end].run == all[start].run && all[end].key == all[start].key {
			end++
		}
		newest := all[start]
		for i, r := range all[start:end] {
			if slices.Contains(all[start:start+i], r) {
				continue // an exact duplicate, stored once
			}
			out.metrics = append(out.metrics, r)
			if r.newer(newest.storedMetric) {
				newest = r
			}
		}
		out.latest = append(out.latest, newest)
		start = end
	}
	slices.SortStableFunc(out.tags, func(a, b tagRow) int {
		return cmp.Or(strings.Compare(a.run, b.run), strings.Compare(a.key, b.key))
	})
	tags := out.tags[:0]
	for i, t := range out.tags {
		if i+1 < len(out.tags) && out.tags[i+1].run == t.run && out.tags[i+1].key == t.key {
			continue // a later value of the tag wins
		}
		tags = append(tags, t)
	}
	out.tags = tags
	return out
}

// metricArgs appends the rows' values in the column order of metricCols.
func metricArgs(args []any, rows []metricRow) []any {
	var run any
	for i, r := range rows {
		if i == 0 || r.run != rows[i-1].run {
			run = r.run // boxed once a run
		}
		args = append(args, r.key, r.value, r.timestamp, r.step, r.isNaN, run)
	}
	return args
}

// metricCols are the columns of a metrics or latest_metrics row.
var metricCols = []string{`"key"`, "value", "timestamp", "step", "is_nan", "run_uuid"}

// anyRows returns rows as rows of values, in the order of their columns.
func anyRows[T any](rows []T, values func(T) []any) [][]any {
	out := make([][]any, len(rows))
	for i, r := range rows {
		out[i] = values(r)
	}
	return out
}

func metricValues(r metricRow) []any {
	return []any{r.key, r.value, r.timestamp, r.step, r.isNaN, r.run}
}

func tagValues(r tagRow) []any { return []any{r.key, r.value, r.run} }

// logBatches writes the jobs' batches in one transaction and returns each
// job's answer: nil, or why its run takes no batch. An error means nothing
// was written.
func (s *Store) logBatches(ctx context.Context, jobs []*batchJob) ([]error, error) {
	ids := make([]string, 0, len(jobs))
	for _, j := range jobs {
		if !slices.Contains(ids, j.runID) {
			ids = append(ids, j.runID)
		}
	}
	stages := map[string]tracking.LifecycleStage{}
	var err error
	if s.dialect == dialectPostgres {
		err = s.logBatchesOneStatement(ctx, jobs, ids, stages)
	} else {
		err = s.inTx(ctx, func(tx *txn) error {
			err := eachRow(ctx, tx, `SELECT run_uuid, lifecycle_stage FROM runs WHERE run_uuid IN (`+inList(len(ids))+`)`,
				anySlice(ids), func(r *sql.Rows) error {
					var id, stage string
					if err := r.Scan(&id, &stage); err != nil {
						return err
					}
					stages[id] = tracking.LifecycleStage(stage)
					return nil
				})
			if err != nil {
				return dbError(err, "read runs")
			}
			rows := combine(jobs, func(id string) bool { return stages[id] == tracking.LifecycleActive })
			args := make([]any, 0, max(6*len(rows.metrics), 3*len(rows.tags)))
			if err := tx.insertFlat(ctx, "metrics", metricCols, metricArgs(args, rows.metrics), "ON CONFLICT DO NOTHING"); err != nil {
				return err
			}
			if err := tx.insertFlat(ctx, "latest_metrics", metricCols, metricArgs(args[:0], rows.latest), latestUpsert); err != nil {
				return err
			}
			args = args[:0]
			for _, t := range rows.tags {
				args = append(args, t.key, t.value, t.run)
			}
			return tx.insertFlat(ctx, "tags", []string{`"key"`, "value", "run_uuid"}, args,
				`ON CONFLICT ("key", run_uuid) DO UPDATE SET value = excluded.value`)
		})
	}
	if err != nil {
		return nil, err
	}
	results := make([]error, len(jobs))
	for i, j := range jobs {
		switch stage, ok := stages[j.runID]; {
		case !ok:
			results[i] = runNotFound(j.runID)
		case stage != tracking.LifecycleActive:
			results[i] = inactiveRun(j.runID, stage)
		}
	}
	return results, nil
}

// logBatchesOneStatement is logBatches on PostgreSQL: one statement whose
// data-modifying CTEs write the rows of the runs that are active and which
// returns the stage of every run found, as logBatchOneStatement for one run.
func (s *Store) logBatchesOneStatement(ctx context.Context, jobs []*batchJob, ids []string, stages map[string]tracking.LifecycleStage) error {
	// Which runs are active is decided by the statement itself; the rows of
	// every member are sent, each filtered by its run.
	rows := combine(jobs, func(string) bool { return true })
	p := &params{d: s.dialect}
	idList := make([]string, len(ids))
	for i, id := range ids {
		idList[i] = p.add(id)
	}
	var b strings.Builder
	b.WriteString(`WITH run AS (SELECT run_uuid, lifecycle_stage FROM runs WHERE run_uuid IN (` + strings.Join(idList, ", ") + `)),
		active AS (SELECT run_uuid FROM run WHERE lifecycle_stage = 'active')`)
	metricCasts := []string{"::varchar", "::double precision", "::bigint", "::bigint", "::boolean", "::varchar"}
	valueCols := `v(k, val, ts, st, nan, run)`
	if len(rows.metrics) > 0 {
		b.WriteString(`, m AS (INSERT INTO metrics ("key", value, timestamp, step, is_nan, run_uuid)
			SELECT v.* FROM (VALUES ` + valuesList(p, anyRows(rows.metrics, metricValues), metricCasts) + `) ` + valueCols + `
			WHERE v.run IN (SELECT run_uuid FROM active) ON CONFLICT DO NOTHING)`)
		b.WriteString(`, lm AS (INSERT INTO latest_metrics ("key", value, timestamp, step, is_nan, run_uuid)
			SELECT v.* FROM (VALUES ` + valuesList(p, anyRows(rows.latest, metricValues), metricCasts) + `) ` + valueCols + `
			WHERE v.run IN (SELECT run_uuid FROM active) ` + latestUpsert + `)`)
	}
	if len(rows.tags) > 0 {
		b.WriteString(`, t AS (INSERT INTO tags ("key", value, run_uuid)
			SELECT v.* FROM (VALUES ` + valuesList(p, anyRows(rows.tags, tagValues), []string{"::varchar", "::varchar", "::varchar"}) + `) v(k, val, run)
			WHERE v.run IN (SELECT run_uuid FROM active) ON CONFLICT ("key", run_uuid) DO UPDATE SET value = excluded.value)`)
	}
	b.WriteString(` SELECT run_uuid, lifecycle_stage FROM run`)
	if err := refuseNUL(p.args); err != nil {
		return err
	}
	rs, err := s.db.QueryContext(ctx, b.String(), p.args...)
	if err != nil {
		return dbError(err, "log batch")
	}
	defer rs.Close()
	for rs.Next() {
		var id, stage string
		if err := rs.Scan(&id, &stage); err != nil {
			return dbError(err, "log batch")
		}
		stages[id] = tracking.LifecycleStage(stage)
	}
	return dbError(rs.Err(), "log batch")
}

// valuesList writes rows as the rows of a VALUES list, each value a
// parameter with its cast.
func valuesList(p *params, rows [][]any, casts []string) string {
	var v strings.Builder
	for i, r := range rows {
		if i > 0 {
			v.WriteString(", ")
		}
		v.WriteByte('(')
		for j, x := range r {
			if j > 0 {
				v.WriteString(", ")
			}
			v.WriteString(p.add(x) + casts[j])
		}
		v.WriteByte(')')
	}
	return v.String()
}
