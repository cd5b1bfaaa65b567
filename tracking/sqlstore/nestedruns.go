package sqlstore

import (
	"context"
	"database/sql"
	"slices"

	"github.com/mlops-lab/housing/tracking"
)

var _ tracking.NestedRunCounter = (*Store)(nil)

// CountNestedRuns counts the active nested runs of each parent in the
// experiment with one grouped query on the parent tag's rows (index
// housing_tags_key_value), and reads the distinct param and metric keys of
// those runs: a page of 50 parents with 95 nested runs each is a few
// thousand index entries, where reading the runs whole (SearchRuns) loads
// every one of their params, metrics and tags. parentIDs are a page's worth
// (the UI's page size is capped), one IN list.
func (s *Store) CountNestedRuns(ctx context.Context, experimentID string, parentIDs []string) (tracking.NestedRuns, error) {
	out := tracking.NestedRuns{Counts: map[string]int{}}
	if len(parentIDs) == 0 {
		return out, nil
	}
	exp, err := parseExperimentID(experimentID)
	if err != nil {
		return out, err
	}
	args := []any{tracking.TagParentRunID}
	for _, id := range parentIDs {
		args = append(args, id)
	}
	args = append(args, exp, string(tracking.LifecycleActive))
	children := ` FROM tags t JOIN runs r ON r.run_uuid = t.run_uuid WHERE t."key" = ? AND t.value IN (` + inList(len(parentIDs)) +
		`) AND r.experiment_id = ? AND r.lifecycle_stage = ?`
	err = s.readTx(ctx, func(tx *txn) error {
		var parent string
		var n int
		if err := eachRow(ctx, tx, `SELECT t.value, COUNT(*)`+children+` GROUP BY t.value`, args, func(r *sql.Rows) error {
			if err := r.Scan(&parent, &n); err != nil {
				return err
			}
			out.Counts[parent] = n
			return nil
		}); err != nil {
			return dbError(err, "count nested runs")
		}
		for _, keys := range []struct {
			table string
			dst   *[]string
		}{{"params", &out.ParamKeys}, {"latest_metrics", &out.MetricKeys}} {
			var key string
			q := `SELECT DISTINCT "key" FROM ` + keys.table + ` WHERE run_uuid IN (SELECT t.run_uuid` + children + `)`
			if err := eachRow(ctx, tx, q, args, func(r *sql.Rows) error {
				if err := r.Scan(&key); err != nil {
					return err
				}
				*keys.dst = append(*keys.dst, key)
				return nil
			}); err != nil {
				return dbError(err, "read the keys of nested runs in "+keys.table)
			}
			slices.Sort(*keys.dst)
		}
		return nil
	})
	return out, err
}
