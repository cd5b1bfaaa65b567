package main

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/mlops-lab/housing/tracking/wire"
)

// TestAppendLogBatchIsTheRequest checks that the body written directly is
// the request json.Marshal would have sent.
func TestAppendLogBatchIsTheRequest(t *testing.T) {
	for _, v := range []float64{1, 0.5, 1e-7, 123456789} {
		body := appendLogBatch(nil, "abc", 42, v, 1700000000123)
		var got wire.LogBatchRequest
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		ms := batch(keysPerBatch, 42, v)
		for i := range ms {
			ms[i].Timestamp = 1700000000123
		}
		want := wire.LogBatchRequest{RunID: "abc", Metrics: ms}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("body %s reads as %+v, want %+v", body, got, want)
		}
		if wantBody, _ := json.Marshal(want); string(wantBody) != string(body) {
			t.Errorf("body %s, json.Marshal writes %s", body, wantBody)
		}
	}
}
