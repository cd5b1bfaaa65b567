package server

import (
	"context"
	"net/http"
	"slices"

	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/wire"
)

// Limits of metrics/get-history-bulk-interval (mlflow/server/handlers.py).
const (
	maxBulkIntervalRuns   = 100
	maxBulkIntervalPoints = 2500 // MAX_RESULTS_PER_RUN, also the default
)

func handleGetMetricHistory(store tracking.RunStore) endpoint {
	var bufs answerBuffers
	var cache historyCache
	stamper, _ := store.(historyStamper)
	streamer, _ := store.(historyStreamer)
	since, _ := store.(historySincer)
	if stamper == nil {
		streamer = nil // both come from sqlstore (or auth's guard over it)
	}
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
		ctx := r.Context()
		k := historyKey{run: id, key: req.MetricKey, maxResults: int(req.MaxResults), pageToken: req.PageToken}
		var stamp int64
		var stamped bool
		if stamper != nil {
			if stamp, stamped, err = stamper.MetricHistoryStamp(ctx, id); err != nil {
				return err
			}
			body := cache.get(k, stamp)
			if body == nil && stamped {
				// Points were written since the answer was kept: taken after
				// it when they sort after it (a training loop's new steps).
				body = cache.extend(ctx, since, k, stamp)
			}
			if stamped && body != nil {
				writeAnswer(w, body)
				return nil
			}
		}
		if streamer != nil {
			a := &historyAnswer{w: w, keep: stamped}
			hw := wire.NewMetricHistoryWriter(a)
			var last tracking.Metric
			points := 0
			add := func(m tracking.Metric) error {
				last, points = m, points+1
				return hw.Add(m)
			}
			token, err := streamer.EachMetricHistory(ctx, id, req.MetricKey, int(req.MaxResults), req.PageToken, add)
			if err == nil {
				err = hw.Close(token)
			}
			if err != nil {
				if a.started {
					// Part of the answer is out: cut the connection, so that the
					// client cannot take what it got for a whole history.
					panic(http.ErrAbortHandler)
				}
				return err
			}
			// Kept only if nothing was written to the run while it was read:
			// the stamp only grows, so the same stamp after means the same
			// history.
			if body := a.finish(); body != nil {
				if after, ok, err := stamper.MetricHistoryStamp(ctx, id); err == nil && ok && after == stamp {
					var lastKept *tracking.Metric
					if points > 0 {
						lastKept = &last
					}
					cache.put(k, stamp, body, lastKept)
				}
			}
			return nil
		}
		page, err := store.GetMetricHistory(ctx, id, req.MetricKey, int(req.MaxResults), req.PageToken)
		if err != nil {
			return err
		}
		return encodeWith(w, &bufs, func(b []byte) []byte {
			// ~100 bytes a point: one allocation for a long history instead of
			// a doubling series of them.
			b = slices.Grow(b, 100*len(page.Items))
			return wire.AppendMetricHistory(b, page.Items, page.NextPageToken)
		})
	}
}

// handleGetMetricHistoryBulkInterval answers the UI's chart query (see
// bulkInterval).
func handleGetMetricHistoryBulkInterval(store tracking.RunStore) endpoint {
	return func(w http.ResponseWriter, r *http.Request) error {
		var req wire.GetMetricHistoryBulkIntervalRequest
		f, err := decode(r, &req, "run_ids", "metric_key")
		if err != nil {
			return err
		}
		if err := f.require("run_ids", "metric_key"); err != nil {
			return err
		}
		// 0 means the default to bulkInterval; here it was sent, and MLflow refuses it.
		if f.has("max_results") && req.MaxResults == 0 {
			return errBulkIntervalMaxResults()
		}
		out, err := bulkInterval(r.Context(), store, bulkIntervalQuery{
			RunIDs: req.RunIDs, MetricKey: req.MetricKey,
			StartStep: req.StartStep, EndStep: req.EndStep, MaxResults: req.MaxResults,
		})
		if err != nil {
			return err
		}
		return encode(w, wire.GetMetricHistoryBulkIntervalResponse{Metrics: out})
	}
}

// bulkIntervalQuery is what metrics/get-history-bulk-interval and GraphQL's
// mlflowGetMetricHistoryBulkInterval ask.
type bulkIntervalQuery struct {
	RunIDs     []string
	MetricKey  string
	StartStep  *int64 // with EndStep, or both nil: from step 0 to the last step
	EndStep    *int64
	MaxResults int64 // 0: maxBulkIntervalPoints
}

func errBulkIntervalMaxResults() error {
	return tracking.Errorf(tracking.ErrInvalidParameterValue,
		"max_results must be between 1 and %d. See the API docs for more information about request parameters.", maxBulkIntervalPoints)
}

// bulkInterval returns the history of one metric over several runs, sampled to
// about q.MaxResults steps (the same steps for every run), as MLflow's
// get_metric_history_bulk_interval_impl: see sampleSteps. The values come run
// by run in the order of q.RunIDs, each run's by step, timestamp and value.
// Unknown runs have no values, as in MLflow, whose SQL store does not look the
// runs up.
func bulkInterval(ctx context.Context, store tracking.RunStore, q bulkIntervalQuery) ([]wire.MetricWithRunID, error) {
	if len(q.RunIDs) > maxBulkIntervalRuns {
		return nil, tracking.Errorf(tracking.ErrInvalidParameterValue,
			"GetMetricHistoryBulkInterval request must specify at most %d run_ids. Received %d run_ids.",
			maxBulkIntervalRuns, len(q.RunIDs))
	}
	points := int(q.MaxResults)
	if points == 0 {
		points = maxBulkIntervalPoints
	}
	if points < 1 || points > maxBulkIntervalPoints {
		return nil, errBulkIntervalMaxResults()
	}
	switch {
	case q.StartStep != nil && q.EndStep != nil:
		if *q.StartStep > *q.EndStep {
			return nil, tracking.Errorf(tracking.ErrInvalidParameterValue,
				"end_step must be greater than start_step. Found start_step=%d and end_step=%d.", *q.StartStep, *q.EndStep)
		}
	case q.StartStep != nil || q.EndStep != nil:
		return nil, tracking.Errorf(tracking.ErrInvalidParameterValue,
			"If either start step or end step are specified, both must be specified.")
	}
	histories := make([][]tracking.Metric, len(q.RunIDs))
	for i, id := range q.RunIDs {
		history, err := fullHistory(ctx, store, id, q.MetricKey)
		if err != nil && !tracking.IsNotFound(err) {
			return nil, err
		}
		histories[i] = history
	}
	keep := sampleSteps(histories, q.StartStep, q.EndStep, points)
	var out []wire.MetricWithRunID
	for i, history := range histories {
		for _, m := range history {
			if _, ok := keep[m.Step]; ok {
				out = append(out, wire.MetricWithRunID{
					Key: m.Key, Value: wire.Float(m.Value), Timestamp: m.Timestamp, Step: m.Step, RunID: q.RunIDs[i],
				})
			}
		}
	}
	return out, nil
}

// fullHistory reads every page of a metric's history.
func fullHistory(ctx context.Context, store tracking.RunStore, runID, key string) ([]tracking.Metric, error) {
	var out []tracking.Metric
	token := ""
	for {
		page, err := store.GetMetricHistory(ctx, runID, key, 0, token)
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

// sampleSteps returns the steps to answer, as MLflow's _get_sampled_steps: of
// the distinct steps of all runs in [start, end] (default [0, the last step]),
// n evenly spaced ones and the last one, or all when there are at most n, plus
// each run's first and last step when in range. The sampling keeps MLflow's
// arithmetic (a float interval, truncated indices, and its check of an index
// against the count rather than the end), so that both pick the same steps.
func sampleSteps(histories [][]tracking.Metric, start, end *int64, n int) map[int64]struct{} {
	var steps, ends []int64
	for _, h := range histories {
		if len(h) == 0 {
			continue
		}
		lo, hi := h[0].Step, h[0].Step
		for _, m := range h {
			steps = append(steps, m.Step)
			lo, hi = min(lo, m.Step), max(hi, m.Step)
		}
		ends = append(ends, lo, hi)
	}
	slices.Sort(steps)
	steps = slices.Compact(steps)
	var from, to int64
	switch {
	case start != nil:
		from, to = *start, *end
	case len(steps) > 0:
		to = steps[len(steps)-1]
	}
	keep := map[int64]struct{}{}
	for _, s := range ends {
		if from <= s && s <= to {
			keep[s] = struct{}{}
		}
	}
	lo, _ := slices.BinarySearch(steps, from)
	hi, found := slices.BinarySearch(steps, to)
	if found {
		hi++
	}
	if hi-lo <= n {
		for _, s := range steps[lo:hi] {
			keep[s] = struct{}{}
		}
		return keep
	}
	count := hi - lo
	interval := float64(count) / float64(n)
	for i := range n {
		if idx := lo + int(float64(i)*interval); idx < count {
			keep[steps[idx]] = struct{}{}
		}
	}
	keep[steps[hi-1]] = struct{}{}
	return keep
}
