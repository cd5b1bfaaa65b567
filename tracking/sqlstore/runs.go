package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/mlops-lab/housing/tracking"
)

const runColumns = `run_uuid, experiment_id, name, user_id, status, start_time, end_time, artifact_uri, lifecycle_stage`

func scanRunInfo(r rowScanner) (tracking.RunInfo, error) {
	info, _, err := scanRunRow(r)
	return info, err
}

// nullColumns records which columns of a runs row (runColumns) were NULL,
// which RunInfo holds as zero values.
type nullColumns struct{ name, user, status, start, end, uri bool }

// scanRunRow scans a row of runColumns.
func scanRunRow(r rowScanner) (tracking.RunInfo, nullColumns, error) {
	var (
		info                           tracking.RunInfo
		expID                          sql.NullInt64
		name, user, status, uri, stage sql.NullString
		start, end                     sql.NullInt64
	)
	if err := r.Scan(&info.RunID, &expID, &name, &user, &status, &start, &end, &uri, &stage); err != nil {
		return info, nullColumns{}, err
	}
	info.ExperimentID = strconv.FormatInt(expID.Int64, 10)
	info.RunName, info.UserID, info.Status = name.String, user.String, tracking.RunStatus(status.String)
	info.StartTime, info.EndTime = start.Int64, end.Int64
	info.ArtifactURI, info.LifecycleStage = uri.String, tracking.LifecycleStage(stage.String)
	return info, nullColumns{!name.Valid, !user.Valid, !status.Valid, !start.Valid, !end.Valid, !uri.Valid}, nil
}

func runNotFound(id string) error {
	return tracking.Errorf(tracking.ErrResourceDoesNotExist, "Run with id=%s not found", id)
}

func getRunInfo(ctx context.Context, tx *txn, runID string) (tracking.RunInfo, error) {
	info, err := scanRunInfo(tx.queryRow(ctx, `SELECT `+runColumns+` FROM runs WHERE run_uuid = ?`, runID))
	if errors.Is(err, sql.ErrNoRows) {
		return info, runNotFound(runID)
	}
	return info, dbError(err, "get run")
}

// activeRun returns the run's info, or an error when it is missing or deleted.
func activeRun(ctx context.Context, tx *txn, runID string) (tracking.RunInfo, error) {
	info, err := getRunInfo(ctx, tx, runID)
	if err != nil {
		return info, err
	}
	if info.LifecycleStage != tracking.LifecycleActive {
		return info, inactiveRun(runID, info.LifecycleStage)
	}
	return info, nil
}

func inactiveRun(runID string, stage tracking.LifecycleStage) error {
	return tracking.Errorf(tracking.ErrInvalidParameterValue,
		"The run %s must be in the 'active' state. Current state is %s.", runID, stage)
}

// CreateRun creates a RUNNING run in an active experiment; see tracking.RunStore.
// The run name is in.RunName, else the mlflow.runName tag, else generated; the
// tag is added when missing. Both given and different is INVALID_PARAMETER_VALUE.
func (s *Store) CreateRun(ctx context.Context, in tracking.CreateRun) (*tracking.Run, error) {
	expID, err := parseExperimentID(in.ExperimentID)
	if err != nil {
		return nil, err
	}
	for i, t := range in.Tags {
		if err := tracking.ValidateTag("tags["+strconv.Itoa(i)+"]", t); err != nil {
			return nil, err
		}
	}
	tags := dedupeTags(tracking.StoredTags(in.Tags))
	tagName := ""
	for _, t := range tags {
		if t.Key == tracking.TagRunName {
			tagName = t.Value
		}
	}
	if in.RunName != "" && tagName != "" && in.RunName != tagName {
		return nil, tracking.Errorf(tracking.ErrInvalidParameterValue,
			"Both 'run_name' argument and 'mlflow.runName' tag are specified, but with different values "+
				"(run_name='%s', mlflow.runName='%s').", in.RunName, tagName)
	}
	name := in.RunName
	if name == "" {
		name = tagName
	}
	if name == "" {
		name = s.runName()
	}
	if err := tracking.ValidateFieldLength("run_name", tracking.MaxRunNameLength, name); err != nil {
		return nil, err
	}
	if err := tracking.ValidateFieldLength("user_id", tracking.MaxUserIDLength, in.UserID); err != nil {
		return nil, err
	}
	if tagName == "" {
		tags = append(tags, tracking.Tag{Key: tracking.TagRunName, Value: name})
	}
	run := &tracking.Run{
		Info: tracking.RunInfo{
			RunID: newID(), ExperimentID: strconv.FormatInt(expID, 10), RunName: name, UserID: in.UserID,
			Status: tracking.RunRunning, StartTime: in.StartTime, LifecycleStage: tracking.LifecycleActive,
		},
		Data: tracking.RunData{Tags: tags},
	}
	err = s.inTx(ctx, func(tx *txn) error { return createRun(ctx, tx, run) })
	if err != nil {
		return nil, err
	}
	return run, nil
}

func createRun(ctx context.Context, tx *txn, run *tracking.Run) error {
	expID, _ := strconv.ParseInt(run.Info.ExperimentID, 10, 64)
	exp, err := getExperiment(ctx, tx, expID)
	if err != nil {
		return err
	}
	if err := checkExperimentActive(exp); err != nil {
		return err
	}
	run.Info.ArtifactURI = joinURI(exp.ArtifactLocation, run.Info.RunID, "artifacts")
	_, err = tx.exec(ctx, `INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id, status,
		start_time, end_time, source_version, lifecycle_stage, artifact_uri, experiment_id, deleted_time)
		VALUES (?, ?, 'UNKNOWN', '', '', ?, ?, ?, NULL, '', 'active', ?, ?, NULL)`,
		run.Info.RunID, run.Info.RunName, run.Info.UserID, string(run.Info.Status), run.Info.StartTime,
		run.Info.ArtifactURI, expID)
	if err != nil {
		return dbError(err, "create run")
	}
	rows := make([][]any, len(run.Data.Tags))
	for i, t := range run.Data.Tags {
		rows[i] = []any{t.Key, t.Value, run.Info.RunID}
	}
	return tx.insertRows(ctx, "tags", []string{`"key"`, "value", "run_uuid"}, rows, "")
}

// GetRun returns a run with its latest metrics, params, tags and inputs; deleted
// runs too. RESOURCE_DOES_NOT_EXIST for an unknown id.
// GetRunInfo returns a run's attributes alone, without its metrics, params
// and tags: what a permission check needs (the run's experiment), one row.
func (s *Store) GetRunInfo(ctx context.Context, runID string) (tracking.RunInfo, error) {
	var info tracking.RunInfo
	err := s.readTx(ctx, func(tx *txn) (err error) {
		info, err = getRunInfo(ctx, tx, runID)
		return err
	})
	return info, err
}

func (s *Store) GetRun(ctx context.Context, runID string) (*tracking.Run, error) {
	var run *tracking.Run
	err := s.readTx(ctx, func(tx *txn) error {
		info, err := getRunInfo(ctx, tx, runID)
		if err != nil {
			return err
		}
		runs, err := loadRuns(ctx, tx, []tracking.RunInfo{info}, nil)
		if err != nil {
			return err
		}
		run = &runs[0]
		return nil
	})
	return run, err
}

// loadRuns fills in data and inputs of the runs whose infos are given, with one
// query per table for all of them, and returns the runs in the given order.
// keep, when not nil, receives the rows of run infos[keep.run] as stored.
func loadRuns(ctx context.Context, tx *txn, infos []tracking.RunInfo, keep *storedRun) ([]tracking.Run, error) {
	runs := make([]tracking.Run, len(infos))
	index := make(map[string]int, len(infos))
	ids := make([]any, len(infos))
	for i, info := range infos {
		runs[i].Info = info
		index[info.RunID] = i
		ids[i] = info.RunID
	}
	if len(ids) == 0 {
		return runs, nil
	}
	var (
		metrics []ofRun[tracking.Metric]
		params  []ofRun[tracking.Param]
		tags    []ofRun[tracking.Tag]
		// Scan destinations are shared by all rows: declared per row they
		// would each escape to the heap, four allocations a metric.
		id    string
		m     tracking.Metric
		ts    sql.NullInt64
		isNaN bool
		key   string
		value sql.NullString
	)
	err := eachRunPart(tx.s.dialect, ids, func(part []any) error {
		return tx.queryAll(ctx,
			rowQuery{"load metrics", runDataQuery(tx.s.dialect, "latest_metrics", `"key", value, timestamp, step, is_nan`, len(part)), part,
				func(r rowScanner) error {
					if err := r.Scan(&id, &m.Key, &m.Value, &ts, &m.Step, &isNaN); err != nil {
						return err
					}
					m.Timestamp = ts.Int64
					i, ok := index[id]
					if ok && keep != nil && i == keep.run {
						keep.metrics[m.Key] = keptMetric{m.Value, isNaN}
					}
					if isNaN {
						m.Value = math.NaN()
					}
					if ok {
						metrics = append(metrics, ofRun[tracking.Metric]{i, m})
					}
					return nil
				}},
			rowQuery{"load params", runDataQuery(tx.s.dialect, "params", `"key", value`, len(part)), part,
				func(r rowScanner) error {
					if err := r.Scan(&id, &key, &value); err != nil {
						return err
					}
					if i, ok := index[id]; ok {
						if keep != nil && i == keep.run {
							keep.params[key] = value
						}
						params = append(params, ofRun[tracking.Param]{i, tracking.Param{Key: key, Value: value.String}})
					}
					return nil
				}},
			rowQuery{"load tags", runDataQuery(tx.s.dialect, "tags", `"key", value`, len(part)), part,
				func(r rowScanner) error {
					if err := r.Scan(&id, &key, &value); err != nil {
						return err
					}
					if i, ok := index[id]; ok {
						if keep != nil && i == keep.run {
							keep.tags[key] = value
						}
						tags = append(tags, ofRun[tracking.Tag]{i, tracking.Tag{Key: key, Value: value.String}})
					}
					return nil
				}},
			inputsQuery(tx.s.dialect, part, runs, index))
	})
	if err == nil {
		err = loadRunModels(ctx, tx, runs, index, ids)
	}
	if err != nil {
		return runs, err
	}
	// SQLite's rows come unsorted (see runDataQuery); PostgreSQL's in key order.
	sorted := tx.s.dialect == dialectPostgres
	distribute(metrics, len(runs), byKey(sorted, func(m tracking.Metric) string { return m.Key }),
		func(i int, ms []tracking.Metric) { runs[i].Data.Metrics = ms })
	distribute(params, len(runs), byKey(sorted, func(p tracking.Param) string { return p.Key }),
		func(i int, ps []tracking.Param) { runs[i].Data.Params = ps })
	distribute(tags, len(runs), byKey(sorted, func(t tracking.Tag) string { return t.Key }),
		func(i int, ts []tracking.Tag) { runs[i].Data.Tags = ts })
	return runs, nil
}

// ofRun is a row of a run data table and the index of its run in a page.
type ofRun[T any] struct {
	run int
	v   T
}

// byKey orders rows by their key (BINARY collation is Go's byte order), or is
// nil when the database returned them in key order already.
func byKey[T any](sorted bool, key func(T) string) func(a, b T) int {
	if sorted {
		return nil
	}
	return func(a, b T) int { return strings.Compare(key(a), key(b)) }
}

// distribute hands each run of a page of n its rows, as parts of one new slice
// (one allocation for the page instead of a few for each run), each part in
// compare's order or, when compare is nil, in the rows' order; runs without
// rows are left out.
func distribute[T any](rows []ofRun[T], n int, compare func(a, b T) int, set func(run int, vs []T)) {
	if len(rows) == 0 {
		return
	}
	start := make([]int, n+1) // rows of run i go to all[start[i]:start[i+1]]
	for _, r := range rows {
		start[r.run+1]++
	}
	for i := range n {
		start[i+1] += start[i]
	}
	all := make([]T, len(rows))
	next := slices.Clone(start[:n])
	for _, r := range rows {
		all[next[r.run]] = r.v
		next[r.run]++
	}
	for i := range n {
		if start[i+1] > start[i] {
			part := all[start[i]:start[i+1]:start[i+1]]
			if compare != nil {
				slices.SortFunc(part, compare)
			}
			set(i, part)
		}
	}
}

// eachRunPart calls fn with the ids of a page of runs in the parts that
// runDataQuery takes: on PostgreSQL one text[] parameter, on SQLite lists of
// bound variables under its limit.
func eachRunPart(d dialect, ids []any, fn func(part []any) error) error {
	if d == dialectPostgres {
		names := make([]string, len(ids))
		for i, id := range ids {
			names[i] = id.(string)
		}
		return fn([]any{names})
	}
	return chunks(ids, maxVars, fn)
}

// runDataQuery reads cols (the first is "key") of a run data table for the n
// runs of a part (see eachRunPart), each row led by its run_uuid.
//
// SQLite answers an IN list through the table's run_uuid index and leaves the
// rows unsorted: sorting each run's few rows by key in Go (BINARY collation is
// Go's byte order) costs less than sorting them all. On PostgreSQL, whose
// collation may not be byte order, the query sorts; it looks each run up on its
// own (LATERAL, kept from being flattened by OFFSET 0) because for an IN list
// or a join the planner prefers hashing a scan of the whole table, 3-4 times
// slower at 10,000 runs.
func runDataQuery(d dialect, table, cols string, n int) string {
	if d == dialectPostgres {
		return `SELECT ids.id, t.* FROM unnest($1::text[]) AS ids(id) CROSS JOIN LATERAL (SELECT ` + cols +
			` FROM ` + table + ` WHERE run_uuid = ids.id OFFSET 0) t ORDER BY 1, 2`
	}
	return `SELECT run_uuid, ` + cols + ` FROM ` + table + ` WHERE run_uuid IN (` + inList(n) + `)`
}

// eachRow runs query and calls fn for each row.
func eachRow(ctx context.Context, tx *txn, query string, args []any, fn func(*sql.Rows) error) error {
	rows, err := tx.query(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// UpdateRun changes status, end time and name of an active run; the
// mlflow.runName tag follows the name.
func (s *Store) UpdateRun(ctx context.Context, runID string, in tracking.UpdateRun) (*tracking.RunInfo, error) {
	var info tracking.RunInfo
	err := s.inTx(ctx, func(tx *txn) error {
		var err error
		info, err = updateRun(ctx, tx, runID, in)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &info, nil
}

func updateRun(ctx context.Context, tx *txn, runID string, in tracking.UpdateRun) (tracking.RunInfo, error) {
	info, err := activeRun(ctx, tx, runID)
	if err != nil {
		return info, err
	}
	if in.Status != nil {
		info.Status = *in.Status
	}
	if in.EndTime != nil {
		info.EndTime = *in.EndTime
	}
	var end any
	if in.EndTime != nil || info.EndTime != 0 {
		end = info.EndTime
	}
	if in.RunName != nil && *in.RunName != "" {
		if err := tracking.ValidateFieldLength("run_name", tracking.MaxRunNameLength, *in.RunName); err != nil {
			return info, err
		}
		info.RunName = *in.RunName
		if err := setRunNameTag(ctx, tx, runID, info.RunName); err != nil {
			return info, err
		}
	}
	_, err = tx.exec(ctx, `UPDATE runs SET status = ?, end_time = ?, name = ? WHERE run_uuid = ?`,
		string(info.Status), end, info.RunName, runID)
	return info, dbError(err, "update run")
}

func setRunNameTag(ctx context.Context, tx *txn, runID, name string) error {
	_, err := tx.exec(ctx, `INSERT INTO tags ("key", value, run_uuid) VALUES (?, ?, ?)
		ON CONFLICT ("key", run_uuid) DO UPDATE SET value = excluded.value`, tracking.TagRunName, name, runID)
	return dbError(err, "set run name tag")
}

// DeleteRun moves a run to the deleted stage.
func (s *Store) DeleteRun(ctx context.Context, runID string) error {
	return s.inTx(ctx, func(tx *txn) error {
		return setRunStage(ctx, tx, runID, tracking.LifecycleDeleted, tx.s.nowMillis())
	})
}

// RestoreRun moves a deleted run back to active.
func (s *Store) RestoreRun(ctx context.Context, runID string) error {
	return s.inTx(ctx, func(tx *txn) error {
		return setRunStage(ctx, tx, runID, tracking.LifecycleActive, nil)
	})
}

func setRunStage(ctx context.Context, tx *txn, runID string, stage tracking.LifecycleStage, deletedTime any) error {
	if _, err := getRunInfo(ctx, tx, runID); err != nil {
		return err
	}
	_, err := tx.exec(ctx, `UPDATE runs SET lifecycle_stage = ?, deleted_time = ? WHERE run_uuid = ?`,
		string(stage), deletedTime, runID)
	return dbError(err, "update run lifecycle")
}

// DeleteTag removes a tag from an active run; RESOURCE_DOES_NOT_EXIST when unset.
func (s *Store) DeleteTag(ctx context.Context, runID, key string) error {
	return s.inTx(ctx, func(tx *txn) error {
		if _, err := activeRun(ctx, tx, runID); err != nil {
			return err
		}
		res, err := tx.exec(ctx, `DELETE FROM tags WHERE run_uuid = ? AND "key" = ?`, runID, key)
		if err != nil {
			return dbError(err, "delete tag")
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return tracking.Errorf(tracking.ErrResourceDoesNotExist, "No tag with name: %s in run with id %s", key, runID)
		}
		return nil
	})
}
