package wire_test

import (
	"bytes"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/mlops-lab/housing/tracking/wire"
)

// pieces are what random strings are made of: plain text, every character JSON
// or ensure_ascii escapes, HTML characters (kept), non-ASCII in and beyond the
// BMP, the line separators encoding/json always escapes, and invalid UTF-8.
var pieces = []string{"a", "run", "metrics.m0", " ", `"`, `\`, "/", "<", ">", "&", "\x00", "\x01", "\b", "\f", "\n", "\r",
	"\t", "\x1f", "\x7f", "é", "中文", "😀", "\u2028", "\u2029", "\ufffd", "\xff", "\xc3", "\xe4\xb8", "\xed\xa0\x80", "'"}

func randString(rng *rand.Rand) string {
	var b strings.Builder
	for range rng.IntN(6) {
		b.WriteString(pieces[rng.IntN(len(pieces))])
	}
	return b.String()
}

var specialFloats = []float64{0, math.Copysign(0, -1), 1, -1, 0.1, 1e-5, 1e-4, 1e15, 1e16, 123456789012345678, 1.5e300,
	math.MaxFloat64, -math.MaxFloat64, math.SmallestNonzeroFloat64, math.NaN(), math.Inf(1), math.Inf(-1), 0.81, 2.5e-7}

func randFloat(rng *rand.Rand) wire.Float {
	switch rng.IntN(3) {
	case 0:
		return wire.Float(specialFloats[rng.IntN(len(specialFloats))])
	case 1:
		return wire.Float(rng.Float64() * math.Pow(10, float64(rng.IntN(40)-20)))
	}
	f := math.Float64frombits(rng.Uint64())
	return wire.Float(f)
}

func randInt(rng *rand.Rand) int64 {
	switch rng.IntN(3) {
	case 0:
		return 0
	case 1:
		return rng.Int64N(2000) - 1000
	}
	return int64(rng.Uint64())
}

func randTags(rng *rand.Rand) []wire.Tag {
	var tags []wire.Tag
	for range rng.IntN(4) {
		tags = append(tags, wire.Tag{Key: randString(rng), Value: randString(rng)})
	}
	return tags
}

func randMetrics(rng *rand.Rand) []wire.Metric {
	var ms []wire.Metric
	for range rng.IntN(5) {
		m := wire.Metric{Key: randString(rng), Value: randFloat(rng), Timestamp: randInt(rng), Step: randInt(rng)}
		if rng.IntN(2) == 0 { // MLflow 3's fields, each maybe empty
			m.DatasetName, m.DatasetDigest, m.ModelID, m.RunID = randString(rng), randString(rng), randString(rng), randString(rng)
		}
		ms = append(ms, m)
	}
	return ms
}

func randRun(rng *rand.Rand) wire.Run {
	r := wire.Run{Info: wire.RunInfo{RunUUID: randString(rng), ExperimentID: randString(rng), RunName: randString(rng),
		UserID: randString(rng), Status: randString(rng), StartTime: randInt(rng), EndTime: randInt(rng),
		ArtifactURI: randString(rng), LifecycleStage: randString(rng), RunID: randString(rng)}}
	r.Data.Metrics = randMetrics(rng)
	for range rng.IntN(4) {
		r.Data.Params = append(r.Data.Params, wire.Param{Key: randString(rng), Value: randString(rng)})
	}
	r.Data.Tags = randTags(rng)
	if rng.IntN(4) > 0 {
		r.Inputs = &wire.RunInputs{}
		for range rng.IntN(3) {
			r.Inputs.DatasetInputs = append(r.Inputs.DatasetInputs, wire.DatasetInput{Tags: randTags(rng), Dataset: wire.Dataset{
				Name: randString(rng), Digest: randString(rng), SourceType: randString(rng), Source: randString(rng),
				Schema: randString(rng), Profile: randString(rng)}})
		}
		for range rng.IntN(2) {
			r.Inputs.ModelInputs = append(r.Inputs.ModelInputs, wire.ModelInput{ModelID: randString(rng)})
		}
	}
	if rng.IntN(3) == 0 {
		r.Outputs = &wire.RunOutputs{}
		for range rng.IntN(3) {
			r.Outputs.ModelOutputs = append(r.Outputs.ModelOutputs, wire.ModelOutput{ModelID: randString(rng), Step: randInt(rng)})
		}
	}
	return r
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := wire.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sameBytes(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		i := 0
		for i < min(len(got), len(want)) && got[i] == want[i] {
			i++
		}
		t.Fatalf("%s: streamed bytes differ from Marshal at byte %d:\ngot  %q\nwant %q", what, i,
			got[max(0, i-40):min(len(got), i+40)], want[max(0, i-40):min(len(want), i+40)])
	}
}

// TestStreamMatchesMarshal checks the direct encoders against Marshal, byte for
// byte, over many random runs, pages and histories (empty lists, absent inputs,
// unset end times and tokens, special floats, every kind of escaped string).
func TestStreamMatchesMarshal(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	prefix := []byte("prefix kept:")
	for i := range 2000 {
		var page wire.SearchRunsResponse
		for range rng.IntN(4) {
			page.Runs = append(page.Runs, randRun(rng))
		}
		if rng.IntN(2) == 0 {
			page.NextPageToken = randString(rng)
		}
		got := wire.AppendSearchRunsResponse(append([]byte(nil), prefix...), &page)
		if !bytes.HasPrefix(got, prefix) {
			t.Fatalf("case %d: the prefix was not kept", i)
		}
		sameBytes(t, "search-runs", got[len(prefix):], mustMarshal(t, page))

		get := wire.GetRunResponse{Run: randRun(rng)}
		sameBytes(t, "get-run", wire.AppendGetRunResponse(nil, &get), mustMarshal(t, get))

		hist := wire.GetMetricHistoryResponse{Metrics: randMetrics(rng)}
		if rng.IntN(2) == 0 {
			hist.NextPageToken = randString(rng)
		}
		sameBytes(t, "get-history", wire.AppendGetMetricHistoryResponse(nil, &hist), mustMarshal(t, hist))
		sameBytes(t, "get-history from the domain", wire.AppendMetricHistory(nil, wire.MetricsToDomain(hist.Metrics), hist.NextPageToken),
			mustMarshal(t, hist))
		sameBytes(t, "get-history streamed", streamHistory(t, hist), mustMarshal(t, hist))
	}
	// A history of many chunks.
	var long wire.GetMetricHistoryResponse
	for len(long.Metrics) < 5000 {
		long.Metrics = append(long.Metrics, randMetrics(rng)...)
	}
	long.NextPageToken = "eyJvZmZzZXQiOiA1MDAwfQ=="
	sameBytes(t, "long get-history streamed", streamHistory(t, long), mustMarshal(t, long))
}

// streamHistory writes hist through a MetricHistoryWriter.
func streamHistory(t *testing.T, hist wire.GetMetricHistoryResponse) []byte {
	t.Helper()
	var b bytes.Buffer
	w := wire.NewMetricHistoryWriter(&b)
	for _, m := range wire.MetricsToDomain(hist.Metrics) {
		if err := w.Add(m); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(hist.NextPageToken); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// FuzzStreamMatchesMarshal puts arbitrary strings, numbers and floats into every
// field of a run and checks the streamed answers against Marshal.
func FuzzStreamMatchesMarshal(f *testing.F) {
	f.Add("run", "é\x00\"\\", int64(1), 0.5, uint8(3))
	f.Add("\xff\xfe", "😀\u2028", int64(-1), math.Inf(-1), uint8(0))
	f.Fuzz(func(t *testing.T, a, b string, n int64, v float64, shape uint8) {
		m := wire.Metric{Key: a, Value: wire.Float(v), Timestamp: n, Step: -n}
		run := wire.Run{Info: wire.RunInfo{RunUUID: a, ExperimentID: b, RunName: a + b, UserID: b, Status: a,
			StartTime: n, EndTime: n * 3, ArtifactURI: b, LifecycleStage: a, RunID: b}}
		if shape&1 != 0 {
			run.Data = wire.RunData{Metrics: []wire.Metric{m, m}, Params: []wire.Param{{Key: b, Value: a}}, Tags: []wire.Tag{{Key: a, Value: b}}}
		}
		if shape&2 != 0 {
			run.Inputs = &wire.RunInputs{}
		}
		if shape&4 != 0 {
			run.Inputs = &wire.RunInputs{DatasetInputs: []wire.DatasetInput{{Tags: []wire.Tag{{Key: b, Value: a}},
				Dataset: wire.Dataset{Name: a, Digest: b, SourceType: a, Source: b, Schema: a, Profile: b}}}}
		}
		page := wire.SearchRunsResponse{Runs: []wire.Run{run, run}, NextPageToken: b}
		sameBytes(t, "search-runs", wire.AppendSearchRunsResponse(nil, &page), mustMarshal(t, page))
		get := wire.GetRunResponse{Run: run}
		sameBytes(t, "get-run", wire.AppendGetRunResponse(nil, &get), mustMarshal(t, get))
		hist := wire.GetMetricHistoryResponse{Metrics: []wire.Metric{m}, NextPageToken: a}
		sameBytes(t, "get-history", wire.AppendGetMetricHistoryResponse(nil, &hist), mustMarshal(t, hist))
		sameBytes(t, "get-history from the domain", wire.AppendMetricHistory(nil, wire.MetricsToDomain(hist.Metrics), hist.NextPageToken),
			mustMarshal(t, hist))
	})
}

// BenchmarkSearchRunsAnswer encodes a page of 100 runs (5 metrics, 5 params,
// 2 tags each) with Marshal and with the direct encoder.
func BenchmarkSearchRunsAnswer(b *testing.B) {
	var page wire.SearchRunsResponse
	for i := range 100 {
		r := wire.Run{Info: wire.RunInfo{RunUUID: strings.Repeat("ab", 16), ExperimentID: "1", RunName: "run-1", UserID: "u",
			Status: "FINISHED", StartTime: 1700000000000 + int64(i), ArtifactURI: "mlflow-artifacts:/1/x/artifacts",
			LifecycleStage: "active", RunID: strings.Repeat("ab", 16)}, Inputs: &wire.RunInputs{}}
		for k := range 5 {
			r.Data.Metrics = append(r.Data.Metrics, wire.Metric{Key: "m" + string(rune('0'+k)), Value: wire.Float(float64(i) / 7), Timestamp: 1700000000000})
			r.Data.Params = append(r.Data.Params, wire.Param{Key: "p" + string(rune('0'+k)), Value: "42"})
		}
		r.Data.Tags = []wire.Tag{{Key: "mlflow.runName", Value: "run-1"}, {Key: "mlflow.user", Value: "u"}}
		page.Runs = append(page.Runs, r)
	}
	b.Run("Marshal", func(b *testing.B) {
		for b.Loop() {
			if _, err := wire.Marshal(page); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Append", func(b *testing.B) {
		var buf []byte
		for b.Loop() {
			buf = wire.AppendSearchRunsResponse(buf[:0], &page)
		}
	})
}

// TestAppendMetricHistoryPoints extends random whole-history answers with
// more random points and checks the bytes against the answer of all the
// points; an empty history, an answer with a token and other bytes are not
// extended.
func TestAppendMetricHistoryPoints(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 2000 {
		old, more := wire.MetricsToDomain(randMetrics(rng)), wire.MetricsToDomain(randMetrics(rng))
		body := wire.AppendMetricHistory(nil, old, "")
		got, ok := wire.AppendMetricHistoryPoints(body, more)
		if len(old) == 0 {
			if ok {
				t.Fatalf("case %d: an empty history was extended: %q", i, got)
			}
			continue
		}
		if !ok {
			t.Fatalf("case %d: not extended: %q", i, body)
		}
		sameBytes(t, "extended history", got, wire.AppendMetricHistory(nil, append(old, more...), ""))
	}
	some := wire.MetricsToDomain(randMetrics(rand.New(rand.NewPCG(5, 6))))
	for _, body := range [][]byte{wire.AppendMetricHistory(nil, some, "token"), []byte(`{"metrics": []}`), nil} {
		if _, ok := wire.AppendMetricHistoryPoints(body, some); ok && len(some) > 0 {
			t.Errorf("%q was extended", body)
		}
	}
}
