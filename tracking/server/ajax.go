package server

import (
	"cmp"
	"math"
	"net/http"
	"slices"
	"strconv"

	"github.com/mlops-lab/housing/tracking"
)

// Limits of metrics/get-history-bulk (get_metric_history_bulk_handler in
// mlflow/server/handlers.py).
const (
	maxBulkHistoryRuns    = 100
	maxBulkHistoryResults = 25000
)

// handleGetMetricHistoryBulk answers the UI's older chart query: the whole
// history of one metric over up to 100 runs, ordered by run id, then
// timestamp, step and value (as MLflow's SQL store orders it), at most
// max_results values in all (25000 by default and at most). Repeated run ids
// count once; unknown runs have no values, as in MLflow, whose SQL store does
// not look the runs up. The answer is a Python dict through Flask (see
// encodeFlask), not a protobuf message.
//
// Deliberate difference: max_results that is not an integer is MLflow's
// INVALID_PARAMETER_VALUE here (MLflow answers an HTML 500), and a negative
// one too (MLflow drops that many values from the end, a Python slice).
func handleGetMetricHistoryBulk(store tracking.RunStore) endpoint {
	return func(w http.ResponseWriter, r *http.Request) error {
		q := r.URL.Query()
		ids := q["run_id"]
		if len(ids) == 0 {
			return tracking.Errorf(tracking.ErrInvalidParameterValue, "GetMetricHistoryBulk request must specify at least one run_id.")
		}
		if len(ids) > maxBulkHistoryRuns {
			return tracking.Errorf(tracking.ErrInvalidParameterValue,
				"GetMetricHistoryBulk request cannot specify more than %d run_ids. Received %d run_ids.", maxBulkHistoryRuns, len(ids))
		}
		if !q.Has("metric_key") {
			return tracking.Errorf(tracking.ErrInvalidParameterValue, "GetMetricHistoryBulk request must specify a metric_key.")
		}
		key := q.Get("metric_key")
		limit := maxBulkHistoryResults
		if q.Has("max_results") {
			raw := q.Get("max_results")
			n, err := strconv.Atoi(raw)
			if err != nil || n < 0 {
				return invalidValue("max_results", []byte(strconv.Quote(raw)))
			}
			limit = min(n, maxBulkHistoryResults)
		}
		ids = slices.Clone(ids)
		slices.Sort(ids)
		ids = slices.Compact(ids)
		metrics := []any{}
		for _, id := range ids {
			if len(metrics) >= limit {
				break
			}
			history, err := fullHistory(r, store, id, key)
			if tracking.IsNotFound(err) {
				continue
			}
			if err != nil {
				return err
			}
			slices.SortStableFunc(history, func(a, b tracking.Metric) int {
				return cmp.Or(cmp.Compare(a.Timestamp, b.Timestamp), cmp.Compare(a.Step, b.Step),
					cmp.Compare(sqlValue(a.Value), sqlValue(b.Value)))
			})
			for _, m := range history[:min(len(history), limit-len(metrics))] {
				metrics = append(metrics, map[string]any{
					"key": m.Key, "value": m.Value, "timestamp": m.Timestamp, "step": m.Step, "run_id": id,
				})
			}
		}
		return encodeFlask(w, map[string]any{"metrics": metrics})
	}
}

// sqlValue is the value a metric sorts by in MLflow's metrics table, where NaN
// is stored as 0 beside is_nan.
func sqlValue(v float64) float64 {
	if math.IsNaN(v) {
		return 0
	}
	return v
}
