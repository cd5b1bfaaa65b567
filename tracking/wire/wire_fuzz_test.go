package wire_test

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"testing"

	"github.com/mlops-lab/housing/tracking/wire"
)

// FuzzFloat checks that any JSON value either decodes into a Float or is refused
// without a panic, that a decoded Float encodes to a value that decodes back to
// it, and that FormatFloat round-trips through strconv.
func FuzzFloat(f *testing.F) {
	for _, s := range []string{`1`, `1.5`, `"NaN"`, `"Infinity"`, `"-Infinity"`, `"0.25"`, `"x"`, `null`, `{}`, `[]`,
		`1e999`, `-0.0`, `5e-324`, `1.7976931348623157e+308`, `" 3 "`, `true`, `"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var v wire.Float
		if err := json.Unmarshal(b, &v); err != nil {
			return
		}
		out, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("Float %v from %q does not encode: %v", float64(v), b, err)
		}
		var back wire.Float
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("Float encoding %s of %q does not decode: %v", out, b, err)
		}
		if !sameFloat(float64(v), float64(back)) {
			t.Fatalf("%q decoded to %v, encoded as %s, decoded back to %v", b, float64(v), out, float64(back))
		}
		if x := float64(v); !math.IsNaN(x) && !math.IsInf(x, 0) {
			p, err := strconv.ParseFloat(wire.FormatFloat(x), 64)
			if err != nil || !sameFloat(p, x) {
				t.Fatalf("FormatFloat(%v) = %s does not parse back: %v, %v", x, wire.FormatFloat(x), p, err)
			}
		}
	})
}

func sameFloat(a, b float64) bool {
	return a == b && math.Signbit(a) == math.Signbit(b) || math.IsNaN(a) && math.IsNaN(b)
}

// FuzzRequests decodes arbitrary bytes into the request messages that carry the
// most structure and checks that whatever decodes re-encodes (wire.Marshal, as
// the client sends and the server answers) to JSON that decodes to the same
// encoding again: no panic, no value lost or invented on the way.
func FuzzRequests(f *testing.F) {
	for _, s := range []string{
		`{"run_id":"r","metrics":[{"key":"m","value":"NaN","timestamp":1,"step":2}],"params":[{"key":"p","value":"v"}],"tags":[{"key":"t","value":"é"}]}`,
		`{"experiment_ids":["1"],"filter":"metrics.r2 > 0.5","max_results":10,"order_by":["metrics.r2 DESC"],"page_token":"x"}`,
		`{"name":"m","source":"runs:/r/model","run_id":"r","tags":[{"key":"k","value":"v"}],"description":"\u0000"}`,
		`{"run_id":"r","datasets":[{"dataset":{"name":"d","digest":"x","source_type":"local","source":"{}"},"tags":[]}]}`,
		`{"metrics":{}}`, `[]`, `{"value":1e400}`, `{"run_id":"\ud800"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, newMsg := range []func() any{
			func() any { return new(wire.LogBatchRequest) },
			func() any { return new(wire.SearchRunsRequest) },
			func() any { return new(wire.CreateModelVersionRequest) },
			func() any { return new(wire.LogInputsRequest) },
			func() any { return new(wire.LogMetricRequest) },
			func() any { return new(wire.CreateRunRequest) },
		} {
			msg := newMsg()
			if json.Unmarshal(b, msg) != nil {
				continue
			}
			first, err := wire.Marshal(msg)
			if err != nil {
				t.Fatalf("%T decoded from %q does not encode: %v", msg, b, err)
			}
			again := newMsg()
			if err := json.Unmarshal(first, again); err != nil {
				t.Fatalf("%T: encoding %s does not decode: %v", msg, first, err)
			}
			second, err := wire.Marshal(again)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(first, second) {
				t.Fatalf("%T from %q: encoding changed on a round trip:\n%s\n%s", msg, b, first, second)
			}
		}
	})
}
