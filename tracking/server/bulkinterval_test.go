package server_test

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/mlops-lab/housing/tracking/wire"
)

// TestBulkIntervalByStep logs a metric's values out of step order (later
// values at earlier steps): the bulk interval gives them by step, then
// timestamp, then value, as MLflow's SQL store sorts them, while the history
// comes by timestamp.
func TestBulkIntervalByStep(t *testing.T) {
	srv := newAPIServer(t)
	post := func(path, body string) response { return do(t, srv, "POST", path, js, body) }
	get := func(path string) response { return do(t, srv, "GET", path, "", "") }

	r := post(wire.PathCreateRun, `{"experiment_id":"0"}`)
	wantStatus(t, r, 200, "")
	run := field(t, r.body, "run", "info", "run_id")
	wantStatus(t, post(wire.PathLogBatch, `{"run_id":"`+run+`","metrics":[`+
		`{"key":"loss","value":0.2,"timestamp":300,"step":5},`+
		`{"key":"loss","value":0.1,"timestamp":400,"step":3},`+
		`{"key":"loss","value":0.3,"timestamp":250,"step":1},`+
		`{"key":"loss","value":0.4,"timestamp":200,"step":3}]}`), 200, "")

	steps := func(body string) []int64 {
		t.Helper()
		var out struct {
			Metrics []struct{ Step, Timestamp int64 } `json:"metrics"`
		}
		if err := json.Unmarshal([]byte(body), &out); err != nil {
			t.Fatalf("%v: %s", err, body)
		}
		var s []int64
		for _, m := range out.Metrics {
			s = append(s, m.Step, m.Timestamp)
		}
		return s
	}
	r = get(wire.PathGetMetricHistoryBulkInterval + "?run_ids=" + run + "&metric_key=loss")
	wantStatus(t, r, 200, "")
	if got, want := steps(r.body), []int64{1, 250, 3, 200, 3, 400, 5, 300}; !slices.Equal(got, want) {
		t.Errorf("bulk interval (step, timestamp) = %v, want %v", got, want)
	}
	r = get(wire.PathGetMetricHistory + "?run_id=" + run + "&metric_key=loss")
	wantStatus(t, r, 200, "")
	if got, want := steps(r.body), []int64{3, 200, 1, 250, 5, 300, 3, 400}; !slices.Equal(got, want) {
		t.Errorf("history (step, timestamp) = %v, want %v", got, want)
	}
}
