package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"runtime"
	"slices"
	"strings"
	"sync"

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
	s    *Store
	jobs chan *batchJob
	quit chan struct{}
	once sync.Once
	wg   sync.WaitGroup
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
// write at a time.
func newBatchCombiner(s *Store, writers int) *batchCombiner {
	c := &batchCombiner{s: s, jobs: make(chan *batchJob), quit: make(chan struct{})}
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

func (c *batchCombiner) loop() {
	defer c.wg.Done()
	batch := make([]*batchJob, 0, maxCombinedMembers)
	for {
		select {
		case job := <-c.jobs:
			batch = append(batch[:0], job)
		case <-c.quit:
			return
		}
		rows := len(batch[0].metrics) + len(batch[0].tags)
		yielded := false
	collect:
		for len(batch) < maxCombinedMembers && rows < maxCombinedRows-maxMemberRows {
			select {
			case job := <-c.jobs:
				batch = append(batch, job)
				rows += len(job.metrics) + len(job.tags)
			default:
				if yielded {
					break collect
				}
				// Let the request goroutines that are ready run once before
				// writing: on a busy machine their batches are a moment away,
				// and a write of several costs much less CPU than several.
				yielded = true
				runtime.Gosched()
			}
		}
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
	metrics, latest, tags [][]any
}

// combine builds the rows of the members for which active(runID) holds.
func combine(jobs []*batchJob, active func(runID string) bool) combinedRows {
	var out combinedRows
	type runKey struct{ run, key string }
	latest := map[runKey]storedMetric{}
	tags := map[runKey]string{}
	for _, j := range jobs {
		if !active(j.runID) {
			continue
		}
		rows, _ := metricRows(j.runID, j.metrics)
		out.metrics = append(out.metrics, rows...)
		for _, m := range j.metrics {
			sm, k := toStored(m), runKey{j.runID, m.Key}
			if cur, ok := latest[k]; !ok || sm.newer(cur) {
				latest[k] = sm
			}
		}
		for _, t := range j.tags {
			tags[runKey{j.runID, t.Key}] = t.Value
		}
	}
	for k, sm := range latest {
		out.latest = append(out.latest, []any{sm.key, sm.value, sm.timestamp, sm.step, sm.isNaN, k.run})
	}
	for k, v := range tags {
		out.tags = append(out.tags, []any{k.key, v, k.run})
	}
	// Metric rows: ("key", value, timestamp, step, is_nan, run_uuid); tag rows: ("key", value, run_uuid).
	byRunKey := func(run, key int) func(a, b []any) int {
		return func(a, b []any) int {
			return cmp.Or(strings.Compare(a[run].(string), b[run].(string)), strings.Compare(a[key].(string), b[key].(string)))
		}
	}
	slices.SortFunc(out.metrics, byRunKey(5, 0))
	slices.SortFunc(out.latest, byRunKey(5, 0))
	slices.SortFunc(out.tags, byRunKey(2, 0))
	return out
}

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
			cols := []string{`"key"`, "value", "timestamp", "step", "is_nan", "run_uuid"}
			if err := tx.insertRows(ctx, "metrics", cols, rows.metrics, "ON CONFLICT DO NOTHING"); err != nil {
				return err
			}
			if err := tx.insertRows(ctx, "latest_metrics", cols, rows.latest, latestUpsert); err != nil {
				return err
			}
			return tx.insertRows(ctx, "tags", []string{`"key"`, "value", "run_uuid"}, rows.tags,
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
	metricCols := `v(k, val, ts, st, nan, run)`
	if len(rows.metrics) > 0 {
		b.WriteString(`, m AS (INSERT INTO metrics ("key", value, timestamp, step, is_nan, run_uuid)
			SELECT v.* FROM (VALUES ` + valuesList(p, rows.metrics, metricCasts) + `) ` + metricCols + `
			WHERE v.run IN (SELECT run_uuid FROM active) ON CONFLICT DO NOTHING)`)
		b.WriteString(`, lm AS (INSERT INTO latest_metrics ("key", value, timestamp, step, is_nan, run_uuid)
			SELECT v.* FROM (VALUES ` + valuesList(p, rows.latest, metricCasts) + `) ` + metricCols + `
			WHERE v.run IN (SELECT run_uuid FROM active) ` + latestUpsert + `)`)
	}
	if len(rows.tags) > 0 {
		b.WriteString(`, t AS (INSERT INTO tags ("key", value, run_uuid)
			SELECT v.* FROM (VALUES ` + valuesList(p, rows.tags, []string{"::varchar", "::varchar", "::varchar"}) + `) v(k, val, run)
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
