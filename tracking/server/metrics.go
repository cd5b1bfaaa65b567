package server

import (
	"net/http"
	"slices"

	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/wire"
)

// Limits of metrics/get-history-bulk-interval (mlflow/server/handlers.py).
const (
	maxBulkIntervalRuns       = 100
	defaultBulkIntervalPoints = 320
	maxBulkIntervalPoints     = 1000
)

func handleGetMetricHistory(store tracking.RunStore) endpoint {
	var bufs answerBuffers
	return func(w http.ResponseWriter, r *http.Request) error {
		var req wire.GetMetricHistoryRequest
		f, err := decode(r, &req)
		if err != nil {
			return err
		}
		id, err := runID(req.RunID, req.RunUUID)
		if err != nil {
			return err
		}
		if err := f.require("metric_key"); err != nil {
			return err
		}
		page, err := store.GetMetricHistory(r.Context(), id, req.MetricKey, int(req.MaxResults), req.PageToken)
		if err != nil {
			return err
		}
		resp := wire.GetMetricHistoryResponse{
			Metrics:       wire.MetricsFromDomain(page.Items),
			NextPageToken: page.NextPageToken,
		}
		return encodeWith(w, &bufs, func(b []byte) []byte { return wire.AppendGetMetricHistoryResponse(b, &resp) })
	}
}

// handleGetMetricHistoryBulkInterval answers the UI's chart query: the history of
// one metric over several runs, sampled to at most max_results steps (the same
// steps for every run, always keeping the first and last), in [start_step,
// end_step] when given.
func handleGetMetricHistoryBulkInterval(store tracking.RunStore) endpoint {
	return func(w http.ResponseWriter, r *http.Request) error {
		var req wire.GetMetricHistoryBulkIntervalRequest
		f, err := decode(r, &req)
		if err != nil {
			return err
		}
		if err := f.require("run_ids", "metric_key"); err != nil {
			return err
		}
		if len(req.RunIDs) > maxBulkIntervalRuns {
			return tracking.Errorf(tracking.ErrInvalidParameterValue,
				"GetMetricHistoryBulkInterval request must specify at most %d run_ids. Received %d run_ids.",
				maxBulkIntervalRuns, len(req.RunIDs))
		}
		points := int(req.MaxResults)
		if points == 0 {
			points = defaultBulkIntervalPoints
		}
		if points < 0 || points > maxBulkIntervalPoints {
			return invalidValue("max_results", f["max_results"])
		}
		inRange := func(step int64) bool {
			return (req.StartStep == nil || step >= *req.StartStep) && (req.EndStep == nil || step <= *req.EndStep)
		}
		var all []wire.MetricWithRunID
		var steps []int64
		for _, id := range req.RunIDs {
			history, err := fullHistory(r, store, id, req.MetricKey)
			if err != nil {
				return err
			}
			for _, m := range history {
				if inRange(m.Step) {
					steps = append(steps, m.Step)
					all = append(all, wire.MetricWithRunID{
						Key: m.Key, Value: wire.Float(m.Value), Timestamp: m.Timestamp, Step: m.Step, RunID: id,
					})
				}
			}
		}
		keep := sampleSteps(steps, points)
		var out []wire.MetricWithRunID
		for _, m := range all {
			if _, ok := keep[m.Step]; ok {
				out = append(out, m)
			}
		}
		return encode(w, wire.GetMetricHistoryBulkIntervalResponse{Metrics: out})
	}
}

// fullHistory reads every page of a metric's history.
func fullHistory(r *http.Request, store tracking.RunStore, runID, key string) ([]tracking.Metric, error) {
	var out []tracking.Metric
	token := ""
	for {
		page, err := store.GetMetricHistory(r.Context(), runID, key, 0, token)
		if err != nil {
			return nil, err
		}
		out = append(out, page.Items...)
		if page.NextPageToken == "" || len(page.Items) == 0 {
			slices.SortStableFunc(out, byStep) // as the bulk interval answers
			return out, nil
		}
		token = page.NextPageToken
	}
}

// sampleSteps picks at most n of the distinct steps, evenly spaced, keeping the
// first and the last.
func sampleSteps(steps []int64, n int) map[int64]struct{} {
	slices.Sort(steps)
	steps = slices.Compact(steps)
	keep := make(map[int64]struct{}, min(len(steps), n))
	if len(steps) <= n {
		for _, s := range steps {
			keep[s] = struct{}{}
		}
		return keep
	}
	for i := range n - 1 {
		keep[steps[i*(len(steps)-1)/(n-1)]] = struct{}{}
	}
	keep[steps[len(steps)-1]] = struct{}{}
	return keep
}
