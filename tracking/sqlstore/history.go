package sqlstore

import "github.com/mlops-lab/housing/tracking/search"

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
