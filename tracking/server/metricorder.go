package server

import (
	"cmp"

	"github.com/mlops-lab/housing/tracking"
)

// byStep orders a metric's values by step, timestamp and value, as MLflow's
// SQL store sorts the answers of metrics/get-history-bulk-interval; a store
// gives a history by timestamp.
func byStep(a, b tracking.Metric) int {
	return cmp.Or(cmp.Compare(a.Step, b.Step), cmp.Compare(a.Timestamp, b.Timestamp), cmp.Compare(a.Value, b.Value))
}
