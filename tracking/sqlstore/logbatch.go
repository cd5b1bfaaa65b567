package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/mlops-lab/housing/tracking"
)

// LogBatch writes metrics, params and tags on an active run in one transaction;
// see tracking.RunStore.
func (s *Store) LogBatch(ctx context.Context, runID string, metrics []tracking.Metric, params []tracking.Param, tags []tracking.Tag) error {
	if err := tracking.ValidateRunID(runID); err != nil {
		return err
	}
	params, tags = tracking.StoredParams(params), tracking.StoredTags(tags)
	if err := tracking.ValidateBatch(metrics, params, tags); err != nil {
		return err
	}
	if s.combiner != nil && combinable(metrics, params, tags) {
		return s.combiner.log(ctx, runID, metrics, tags)
	}
	if s.dialect == dialectPostgres && len(params) == 0 && !hasTag(tags, tracking.TagRunName) && !hasModelMetric(metrics) {
		return s.logBatchOneStatement(ctx, runID, metrics, tags)
	}
	return s.inTx(ctx, func(tx *txn) error { return logBatch(ctx, tx, runID, metrics, params, tags) })
}

// hasModelMetric reports whether a metric names a logged model, to be
// written to the model's metrics too.
func hasModelMetric(metrics []tracking.Metric) bool {
	for _, m := range metrics {
		if m.ModelID != "" {
			return true
		}
	}
	return false
}

func hasTag(tags []tracking.Tag, key string) bool {
	for _, t := range tags {
		if t.Key == key {
			return true
		}
	}
	return false
}

// logBatchOneStatement logs metrics and tags (no params, no run name) on
// PostgreSQL with one statement, so one round trip instead of five (begin, read
// the run, two inserts, commit): data-modifying CTEs write only if the run is
// active, and the statement returns the run's lifecycle stage to tell the caller
// why nothing was written. A single statement is atomic on its own.
func (s *Store) logBatchOneStatement(ctx context.Context, runID string, metrics []tracking.Metric, tags []tracking.Tag) error {
	var rows, latest, tagRows [][]any
	if len(metrics) > 0 {
		rows, latest = metricRows(runID, metrics)
		// Keys in one order, so that concurrent writes on the run lock its
		// latest_metrics rows in that order and cannot deadlock.
		latest = sortedByKey(latest)
	}
	if len(tags) > 0 {
		tags = dedupeTags(tags)
		tagRows = make([][]any, len(tags))
		for i, t := range tags {
			tagRows[i] = []any{t.Key, t.Value, runID}
		}
		tagRows = sortedByKey(tagRows) // as latest_metrics' keys
	}
	// The text depends only on the numbers of rows: kept, it is not written
	// again for each request (it was ~8 % of the server's CPU a log-batch).
	shape := oneStatementShape{len(rows), len(latest), len(tagRows)}
	var q string
	var args []any
	if kept, ok := s.oneStatements.Load(shape); ok {
		q, args = kept.(string), oneStatementArgs(runID, rows, latest, tagRows)
	} else {
		q, args = oneStatement(runID, rows, latest, tagRows)
		// At most maxKeptStatements texts, of at most maxKeptInsertRows rows.
		if len(rows)+len(tagRows) <= maxKeptInsertRows && s.keptStatements.Add(1) <= maxKeptStatements {
			s.oneStatements.Store(shape, q)
		}
	}
	var stage string
	if err := refuseNUL(args); err != nil {
		return err
	}
	err := s.db.QueryRowContext(ctx, q, args...).Scan(&stage)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return runNotFound(runID)
	case err != nil:
		return dbError(err, "log batch")
	case stage != string(tracking.LifecycleActive):
		return inactiveRun(runID, tracking.LifecycleStage(stage))
	}
	return nil
}

// maxKeptStatements bounds the texts logBatchOneStatement keeps: one for
// each number of metrics, keys and tags clients send, a few in practice.
const maxKeptStatements = 256

// oneStatementShape is what the text of logBatchOneStatement's statement
// depends on.
type oneStatementShape struct{ rows, latest, tags int }

// oneStatement writes logBatchOneStatement's statement on runID with rows and
// latest (metrics and latest_metrics rows) and tagRows, and its arguments.
func oneStatement(runID string, rows, latest, tagRows [][]any) (string, []any) {
	p := &params{d: dialectPostgres}
	run := p.add(runID)
	var b strings.Builder
	b.WriteString(`WITH run AS (SELECT lifecycle_stage FROM runs WHERE run_uuid = ` + run + `),
		active AS (SELECT 1 FROM run WHERE lifecycle_stage = 'active')`)
	if len(rows) > 0 {
		casts := []string{"::varchar", "::double precision", "::bigint", "::bigint", "::boolean", "::varchar"}
		b.WriteString(`, m AS (INSERT INTO metrics ("key", value, timestamp, step, is_nan, run_uuid)
			SELECT * FROM (VALUES ` + valuesList(p, rows, casts) + `) v WHERE EXISTS (SELECT 1 FROM active) ON CONFLICT DO NOTHING)`)
		b.WriteString(`, lm AS (INSERT INTO latest_metrics ("key", value, timestamp, step, is_nan, run_uuid)
			SELECT * FROM (VALUES ` + valuesList(p, latest, casts) + `) v WHERE EXISTS (SELECT 1 FROM active) ` + latestUpsert + `)`)
	}
	if len(tagRows) > 0 {
		b.WriteString(`, t AS (INSERT INTO tags ("key", value, run_uuid)
			SELECT * FROM (VALUES ` + valuesList(p, tagRows, []string{"::varchar", "::varchar", "::varchar"}) + `) v
			WHERE EXISTS (SELECT 1 FROM active) ON CONFLICT ("key", run_uuid) DO UPDATE SET value = excluded.value)`)
	}
	b.WriteString(` SELECT lifecycle_stage FROM run`)
	return b.String(), p.args
}

// oneStatementArgs are oneStatement's arguments, in the order its text
// numbers them.
func oneStatementArgs(runID string, rows, latest, tagRows [][]any) []any {
	args := make([]any, 0, 1+6*(len(rows)+len(latest))+3*len(tagRows))
	args = append(args, runID)
	for _, part := range [][][]any{rows, latest, tagRows} {
		for _, r := range part {
			args = append(args, r...)
		}
	}
	return args
}

func logBatch(ctx context.Context, tx *txn, runID string, metrics []tracking.Metric, params []tracking.Param, tags []tracking.Tag) error {
	run, err := activeRun(ctx, tx, runID)
	if err != nil {
		return err
	}
	if err := logParams(ctx, tx, runID, params); err != nil {
		return err
	}
	// Rows are locked in the order the one-statement and combined writes lock
	// them (PostgreSQL runs a statement's data-modifying CTEs last to first):
	// tags by key, then latest_metrics by key, then metrics, whose triggers
	// lock the run's housing.metric_stamps row at the end of the statement;
	// so that writers of every path on one run cannot deadlock one another.
	if err := setTags(ctx, tx, runID, tags); err != nil {
		return err
	}
	rows, latest := metricRows(runID, metrics)
	if err := tx.insertRows(ctx, "latest_metrics", metricColumns, sortedByKey(latest), latestUpsert); err != nil {
		return err
	}
	if err := logModelMetrics(ctx, tx, run, metrics); err != nil {
		return err
	}
	return tx.insertRows(ctx, "metrics", metricColumns, rows, "ON CONFLICT DO NOTHING")
}

// metricColumns are the columns of metricRows' rows.
var metricColumns = []string{`"key"`, "value", "timestamp", "step", "is_nan", "run_uuid"}

// sortedByKey sorts rows whose first column is a key by it, and returns them.
func sortedByKey(rows [][]any) [][]any {
	slices.SortFunc(rows, func(a, b []any) int { return strings.Compare(a[0].(string), b[0].(string)) })
	return rows
}

// logParams inserts params that are new and refuses any that changes a logged value.
func logParams(ctx context.Context, tx *txn, runID string, params []tracking.Param) error {
	if len(params) == 0 {
		return nil
	}
	keys := make([]any, len(params))
	for i, p := range params {
		keys[i] = p.Key
	}
	existing := make(map[string]string, len(params))
	err := eachRow(ctx, tx, `SELECT "key", value FROM params WHERE run_uuid = ? AND "key" IN (`+inList(len(keys))+`)`,
		append([]any{runID}, keys...), func(r *sql.Rows) error {
			var k, v string
			if err := r.Scan(&k, &v); err != nil {
				return err
			}
			existing[k] = v
			return nil
		})
	if err != nil {
		return dbError(err, "read params")
	}
	var changed []string
	rows := make([][]any, 0, len(params))
	for _, p := range params {
		old, ok := existing[p.Key]
		if !ok {
			rows = append(rows, []any{p.Key, p.Value, runID})
			continue
		}
		if old != p.Value {
			changed = append(changed, fmt.Sprintf("{'key': '%s', 'old_value': '%s', 'new_value': '%s'}", p.Key, old, p.Value))
		}
	}
	if len(changed) > 0 {
		return tracking.Errorf(tracking.ErrInvalidParameterValue,
			"Changing param values is not allowed. Params were already logged='[%s]' for run ID='%s'.",
			strings.Join(changed, ", "), runID)
	}
	// A concurrent writer may have logged the same key since the read above;
	// ON CONFLICT keeps its value rather than failing the whole batch.
	return tx.insertRows(ctx, "params", []string{`"key"`, "value", "run_uuid"}, rows, "ON CONFLICT DO NOTHING")
}

// storedMetric is a metric as MLflow stores it: NaN as 0 with is_nan, ±Inf clamped.
type storedMetric struct {
	key       string
	value     float64
	timestamp int64
	step      int64
	isNaN     bool
}

func toStored(m tracking.Metric) storedMetric {
	sm := storedMetric{key: m.Key, value: m.Value, timestamp: m.Timestamp, step: m.Step}
	switch {
	case math.IsNaN(m.Value):
		sm.value, sm.isNaN = 0, true
	case math.IsInf(m.Value, 1):
		sm.value = math.MaxFloat64
	case math.IsInf(m.Value, -1):
		sm.value = -math.MaxFloat64
	}
	return sm
}

// newer reports whether a is more recent than b by (step, timestamp, value), as
// MLflow compares candidates for latest_metrics.
func (a storedMetric) newer(b storedMetric) bool {
	if a.step != b.step {
		return a.step > b.step
	}
	if a.timestamp != b.timestamp {
		return a.timestamp > b.timestamp
	}
	return a.value > b.value
}

// latestUpsert raises a latest_metrics row only to a newer value, as storedMetric.newer.
const latestUpsert = `ON CONFLICT ("key", run_uuid) DO UPDATE SET
		value = excluded.value, timestamp = excluded.timestamp, step = excluded.step, is_nan = excluded.is_nan
		WHERE excluded.step > latest_metrics.step
		   OR (excluded.step = latest_metrics.step AND excluded.timestamp > latest_metrics.timestamp)
		   OR (excluded.step = latest_metrics.step AND excluded.timestamp = latest_metrics.timestamp
		       AND excluded.value > latest_metrics.value)`

// metricRows returns the metrics rows to insert, without exact duplicates, and
// the newest of them for each key, as rows of ("key", value, timestamp, step,
// is_nan, run_uuid).
func metricRows(runID string, metrics []tracking.Metric) (rows, latestRows [][]any) {
	rows = make([][]any, 0, len(metrics))
	seen := make(map[storedMetric]bool, len(metrics))
	latest := make(map[string]storedMetric)
	var order []string
	for _, m := range metrics {
		sm := toStored(m)
		if seen[sm] {
			continue
		}
		seen[sm] = true
		rows = append(rows, []any{sm.key, sm.value, sm.timestamp, sm.step, sm.isNaN, runID})
		cur, ok := latest[sm.key]
		if !ok {
			order = append(order, sm.key)
		}
		if !ok || sm.newer(cur) {
			latest[sm.key] = sm
		}
	}
	latestRows = make([][]any, len(order))
	for i, k := range order {
		sm := latest[k]
		latestRows[i] = []any{sm.key, sm.value, sm.timestamp, sm.step, sm.isNaN, runID}
	}
	return rows, latestRows
}

// setTags overwrites tags (the last value of a key in the batch wins) and keeps
// the run's name in sync with mlflow.runName.
func setTags(ctx context.Context, tx *txn, runID string, tags []tracking.Tag) error {
	if len(tags) == 0 {
		return nil
	}
	tags = dedupeTags(tags)
	rows := make([][]any, len(tags))
	for i, t := range tags {
		rows[i] = []any{t.Key, t.Value, runID}
		if t.Key == tracking.TagRunName {
			// The tag's value is also the run's name, in a shorter column.
			if err := tracking.ValidateFieldLength(tracking.TagRunName, tracking.MaxRunNameLength, t.Value); err != nil {
				return err
			}
			if _, err := tx.exec(ctx, `UPDATE runs SET name = ? WHERE run_uuid = ?`, t.Value, runID); err != nil {
				return dbError(err, "rename run")
			}
		}
	}
	return tx.insertRows(ctx, "tags", []string{`"key"`, "value", "run_uuid"}, sortedByKey(rows),
		`ON CONFLICT ("key", run_uuid) DO UPDATE SET value = excluded.value`)
}

// GetMetricHistory returns the logged values of a metric ordered by step, then
// timestamp, a page of maxResults at a time (0: all).
func (s *Store) GetMetricHistory(ctx context.Context, runID, key string, maxResults int, pageToken string) (tracking.Page[tracking.Metric], error) {
	var page tracking.Page[tracking.Metric]
	token, err := s.EachMetricHistory(ctx, runID, key, maxResults, pageToken, func(m tracking.Metric) error {
		page.Items = append(page.Items, m)
		return nil
	})
	page.NextPageToken = token
	return page, err
}

// EachMetricHistory is GetMetricHistory handing each point to fn as it is
// read (inside the read transaction), instead of collecting them, and
// returning the next page's token. An error of fn ends the read and is
// returned as it is.
func (s *Store) EachMetricHistory(ctx context.Context, runID, key string, maxResults int, pageToken string, fn func(tracking.Metric) error) (nextPageToken string, err error) {
	offset, after, err := decodeHistoryToken(pageToken, runID, key)
	if err != nil {
		return "", err
	}
	if maxResults < 0 {
		return "", tracking.Errorf(tracking.ErrInvalidParameterValue, "max_results must be positive, got %d", maxResults)
	}
	var fnErr error
	err = s.readTx(ctx, func(tx *txn) error {
		if _, err := getRunInfo(ctx, tx, runID); err != nil {
			return err
		}
		// In the order MLflow 3.11.1 gives (its SQL store sorts by timestamp,
		// step and value), and the order MLflow 2.17.2 gives on SQLite (it
		// sorts nothing: SQLite walks the primary key, "key", timestamp,
		// step, run_uuid, value, is_nan); see historyOrder.
		// The key is the one asked for: not read again for every point.
		q := `SELECT value, timestamp, step, is_nan FROM metrics WHERE run_uuid = ? AND "key" = ?`
		args := []any{runID, key}
		if after != nil {
			// A page that resumes after the point that ended the one before:
			// the rows before it are skipped by the filter, not sorted and
			// counted off as an OFFSET would.
			q += ` AND (` + historyOrder + `) > (?, ?, ?, ?)`
			args = append(args, after.timestamp, after.step, after.value, after.isNaN)
		}
		q += ` ORDER BY ` + historyOrder
		skip := offset
		if after != nil {
			skip = 0
		}
		if maxResults > 0 {
			// One more than asked for tells whether another page follows, so
			// that, as in MLflow 3.11.1, a history of exactly max_results
			// points ends without a token (and without an empty last page).
			q += ` LIMIT ? OFFSET ?`
			args = append(args, maxResults+1, skip)
		} else if skip > 0 {
			q += ` LIMIT -1 OFFSET ?`
			if s.dialect == dialectPostgres {
				q = strings.Replace(q, "LIMIT -1 ", "", 1)
			}
			args = append(args, skip)
		}
		n := 0
		var last historyAfter
		return dbError(eachRow(ctx, tx, q, args, func(r *sql.Rows) error {
			if n++; maxResults > 0 && n > maxResults {
				nextPageToken = encodeHistoryToken(runID, key, offset+maxResults, last)
				return nil
			}
			m := tracking.Metric{Key: key}
			if err := r.Scan(&last.value, &last.timestamp, &last.step, &last.isNaN); err != nil {
				return err
			}
			m.Value, m.Timestamp, m.Step = last.value, last.timestamp, last.step
			if last.isNaN {
				m.Value = math.NaN()
			}
			if err := fn(m); err != nil {
				fnErr = err
				return err
			}
			return nil
		}), "get metric history")
	})
	if fnErr != nil {
		return "", fnErr
	}
	return nextPageToken, err
}

// MetricHistoryStamp returns a number that changes whenever a metric point of
// the run is written, by any process writing to the database (MLflow's own
// server too), and never comes back to a value it had, and ok; ok is false
// when the run does not exist.
//
// On SQLite it is the largest rowid of the run's points, one step down
// index_metrics_run_uuid (whose entries end with the rowid): a new row's rowid
// is one more than the table's largest, so it exceeds every rowid the run
// had. Points leave a run only with the run itself (MLflow's gc deletes the
// run's rows with it; no API deletes single points): then ok is false.
// Near the largest rowid SQLite picks rowids at random: ok is false there.
//
// On PostgreSQL it is the run's row of housing.metric_stamps (one primary key
// seek), which triggers on metrics set to a new number from a sequence in
// each statement that inserts, updates or deletes points of the run, in the
// writer's transaction (schema/housing-postgres.sql): 0 when none did since
// the triggers exist; ok is false when the store could not create them (see
// createMetricStamps).
func (s *Store) MetricHistoryStamp(ctx context.Context, runID string) (stamp int64, ok bool, err error) {
	q := `SELECT coalesce((SELECT max(rowid) FROM metrics WHERE run_uuid = ?), 0) FROM runs WHERE run_uuid = ?`
	if s.dialect == dialectPostgres {
		if !s.metricStamps {
			return 0, false, nil
		}
		q = `SELECT coalesce((SELECT stamp FROM housing.metric_stamps WHERE run_uuid = ?), 0) FROM runs WHERE run_uuid = ?`
	}
	err = s.readTx(ctx, func(tx *txn) error {
		return dbError(eachRow(ctx, tx, q, []any{runID, runID}, func(r *sql.Rows) error {
			ok = true
			return r.Scan(&stamp)
		}), "read metric history stamp")
	})
	if err != nil || s.dialect == dialectSQLite && stamp > math.MaxInt64/2 {
		return 0, false, err
	}
	return stamp, ok, nil
}
