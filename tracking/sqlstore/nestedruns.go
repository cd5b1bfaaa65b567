package sqlstore

import (
	"context"
	"database/sql"
	"slices"
	"strconv"
	"strings"

	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/search"
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
	// The parent tag's rows are found through housing_tags_key_value, whose
	// value is a prefix (search.ValuePrefix): run ids are far shorter, and the
	// value itself is compared too. CROSS JOIN keeps SQLite's join order (that
	// index, then each run by its key) where it would scan the experiment's
	// runs; to PostgreSQL it is the inner join it plans freely.
	ids := make([]any, len(parentIDs))
	for i, id := range parentIDs {
		ids[i] = id
	}
	args := append(append(append([]any{tracking.TagParentRunID}, ids...), ids...), exp, string(tracking.LifecycleActive))
	children := ` FROM tags t CROSS JOIN runs r WHERE t."key" = ? AND substr(t.value, 1, ` + strconv.Itoa(search.ValuePrefix) + `) IN (` + inList(len(ids)) +
		`) AND t.value IN (` + inList(len(ids)) + `) AND r.run_uuid = t.run_uuid AND r.experiment_id = ? AND r.lifecycle_stage = ?`
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
			q := `SELECT DISTINCT k."key"` + strings.Replace(children, " WHERE ", " CROSS JOIN "+keys.table+" k WHERE k.run_uuid = t.run_uuid AND ", 1)
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
