package sqlstore

import (
	"context"
	"database/sql"
	"math"

	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/search"
)

// A metric history is ordered by timestamp, step, value and is_nan: within a
// run and key these are the rest of MLflow's primary key ("key", timestamp,
// step, run_uuid, value, is_nan), so no two points tie and a page can resume
// right after the point that ended the one before.
const historyOrder = `timestamp, step, value, is_nan`

// historyAfter is where a page of a metric history resumes: after the point
// (timestamp, step, stored value, is_nan), as the page tokens this store hands
// out say.
type historyAfter struct {
	timestamp, step int64
	value           float64
	isNaN           bool
}

// historyFingerprint ties a page token to the history it pages: elsewhere
// only its offset stands.
func historyFingerprint(runID, key string) string {
	return search.SearchFingerprint([]string{runID}, "metric-history", key, []string{historyOrder})
}

// encodeHistoryToken returns the token of the page at offset that resumes
// after a: MLflow's {"offset": n} with the point beside it, so that MLflow's
// servers (which read the offset alone) and ours agree on it.
func encodeHistoryToken(runID, key string, offset int, a historyAfter) string {
	var nan int64
	if a.isNaN {
		nan = 1
	}
	return search.EncodeRunPageToken(search.RunPosition{Offset: offset,
		After: []any{a.timestamp, a.step, a.value, nan}, Search: historyFingerprint(runID, key)})
}

// decodeHistoryToken returns the offset of a page token and, when it is one of
// ours for this history, the point to resume after. MLflow's tokens, and ours
// of another history, page by their offset (MLflow's errors for tokens that do
// not parse).
func decodeHistoryToken(token, runID, key string) (int, *historyAfter, error) {
	p, err := search.DecodeRunPageToken(token)
	if err != nil || len(p.After) != 4 || p.Search != historyFingerprint(runID, key) {
		return p.Offset, nil, err
	}
	ts, ok1 := p.After[0].(int64)
	step, ok2 := p.After[1].(int64)
	value, ok3 := p.After[2].(float64)
	nan, ok4 := p.After[3].(int64)
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return p.Offset, nil, nil
	}
	return p.Offset, &historyAfter{timestamp: ts, step: step, value: value, isNaN: nan != 0}, nil
}

// MetricHistorySince hands fn the points of key written to the run after
// stamp (a MetricHistoryStamp of the run), in history order, and returns the
// run's stamp they bring it to, read in the same transaction; ok is false when
// that cannot be told (PostgreSQL, whose stamps are no rowids; the run is
// gone; SQLite's rowids near their end). On SQLite the points are the run's
// rows of rowid above stamp, one range of index_metrics_run_uuid, so a kept
// answer can take the points logged since instead of being read again; like
// the stamp it does not see rows changed or deleted by hand.
func (s *Store) MetricHistorySince(ctx context.Context, runID, key string, stamp int64, fn func(tracking.Metric) error) (newStamp int64, ok bool, err error) {
	if s.dialect != dialectSQLite {
		return 0, false, nil
	}
	var fnErr error
	err = s.readTx(ctx, func(tx *txn) error {
		err := eachRow(ctx, tx, `SELECT coalesce((SELECT max(rowid) FROM metrics WHERE run_uuid = ?), 0) FROM runs WHERE run_uuid = ?`,
			[]any{runID, runID}, func(r *sql.Rows) error {
				ok = true
				return r.Scan(&newStamp)
			})
		if err != nil || !ok || newStamp == stamp {
			return dbError(err, "read metric history stamp")
		}
		return dbError(eachRow(ctx, tx, `SELECT value, timestamp, step, is_nan FROM metrics INDEXED BY index_metrics_run_uuid
			WHERE run_uuid = ? AND rowid > ? AND "key" = ? ORDER BY `+historyOrder, []any{runID, stamp, key}, func(r *sql.Rows) error {
			m := tracking.Metric{Key: key}
			var isNaN bool
			if err := r.Scan(&m.Value, &m.Timestamp, &m.Step, &isNaN); err != nil {
				return err
			}
			if isNaN {
				m.Value = math.NaN()
			}
			if err := fn(m); err != nil {
				fnErr = err
				return err
			}
			return nil
		}), "read new metric points")
	})
	if fnErr != nil {
		return 0, false, fnErr
	}
	if err != nil || newStamp > math.MaxInt64/2 {
		return 0, false, err
	}
	return newStamp, ok, nil
}
