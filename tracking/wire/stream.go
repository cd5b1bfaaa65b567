package wire

import (
	"bytes"
	"io"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/mlops-lab/housing/tracking"
)

// The answers of runs/search, runs/get and metrics/get-history are the large
// ones (a page of 100 runs is ~174 KB), so they are written directly into the
// output, byte for byte as Marshal writes them (json.dumps with indent=2 and
// ensure_ascii, fields in the struct's order, empty lists omitted), instead of
// being encoded by reflection and then indented and escaped in two more passes.
// stream_test.go checks them against Marshal.

// AppendSearchRunsResponse appends r to b as Marshal would write it.
func AppendSearchRunsResponse(b []byte, r *SearchRunsResponse) []byte {
	w := jsonWriter{buf: b}
	w.beginObject()
	if len(r.Runs) > 0 {
		w.key("runs")
		w.beginArray()
		for i := range r.Runs {
			w.elem()
			w.run(&r.Runs[i])
		}
		w.end(']')
	}
	if r.NextPageToken != "" {
		w.key("next_page_token")
		w.string(r.NextPageToken)
	}
	w.end('}')
	return w.buf
}

// AppendGetRunResponse appends r to b as Marshal would write it.
func AppendGetRunResponse(b []byte, r *GetRunResponse) []byte {
	w := jsonWriter{buf: b}
	w.beginObject()
	w.key("run")
	w.run(&r.Run)
	w.end('}')
	return w.buf
}

// AppendGetMetricHistoryResponse appends r to b as Marshal would write it.
func AppendGetMetricHistoryResponse(b []byte, r *GetMetricHistoryResponse) []byte {
	w := jsonWriter{buf: b}
	w.beginObject()
	if len(r.Metrics) > 0 {
		w.key("metrics")
		w.metrics(r.Metrics)
	}
	if r.NextPageToken != "" {
		w.key("next_page_token")
		w.string(r.NextPageToken)
	}
	w.end('}')
	return w.buf
}

// AppendMetricHistory appends what Marshal writes for a GetMetricHistoryResponse
// of MetricsFromDomain(ms) and nextPageToken, without converting ms first: a
// history can hold millions of points.
func AppendMetricHistory(b []byte, ms []tracking.Metric, nextPageToken string) []byte {
	w := jsonWriter{buf: b}
	w.beginObject()
	if len(ms) > 0 {
		w.key("metrics")
		w.domainMetrics(ms)
	}
	if nextPageToken != "" {
		w.key("next_page_token")
		w.string(nextPageToken)
	}
	w.end('}')
	return w.buf
}

// AppendMetricHistoryPoints returns the answer AppendMetricHistory(nil,
// append(old, ms...), "") would give, from that answer body of the points old
// (with no next_page_token) and the points ms that follow them, and true, in
// a new array: body itself is left as it is (a kept answer may be being sent
// meanwhile). It is false when old was empty (the answer is {}), and for any
// body AppendMetricHistory did not write so.
func AppendMetricHistoryPoints(body []byte, ms []tracking.Metric) ([]byte, bool) {
	// The answer ends with the metrics array closed at depth 2 and the object
	// at depth 1, each after a member.
	closing := jsonWriter{depth: 2}
	closing.end(']')
	closing.end('}')
	if !bytes.HasSuffix(body, closing.buf) || !bytes.HasPrefix(body, []byte("{\n  \"metrics\": [")) {
		return body, false
	}
	w := jsonWriter{buf: slices.Clip(body[:len(body)-len(closing.buf)]), depth: 2}
	for _, m := range ms {
		wm := MetricFromDomain(m)
		w.metric(&wm)
	}
	w.end(']')
	w.end('}')
	return w.buf, true
}

// jsonWriter appends indented JSON. first is whether the innermost open object
// or array has no member yet: members after the first are preceded by a comma,
// and an object or array closed without members is written {} or [].
type jsonWriter struct {
	buf   []byte
	depth int
	first bool
}

func (w *jsonWriter) beginObject() {
	w.buf = append(w.buf, '{')
	w.depth++
	w.first = true
}

func (w *jsonWriter) beginArray() {
	w.buf = append(w.buf, '[')
	w.depth++
	w.first = true
}

// elem starts a member: the comma after the previous one, a new line, the indent.
func (w *jsonWriter) elem() {
	if !w.first {
		w.buf = append(w.buf, ',')
	}
	w.first = false
	w.newline()
}

// key starts an object member; k needs no escaping (the keys are field names).
func (w *jsonWriter) key(k string) {
	w.elem()
	w.buf = append(w.buf, '"')
	w.buf = append(w.buf, k...)
	w.buf = append(w.buf, '"', ':', ' ')
}

// end closes the innermost object ('}') or array (']').
func (w *jsonWriter) end(c byte) {
	w.depth--
	if !w.first {
		w.newline()
	}
	w.buf = append(w.buf, c)
	w.first = false
}

func (w *jsonWriter) newline() {
	w.buf = append(w.buf, '\n')
	for range w.depth {
		w.buf = append(w.buf, ' ', ' ')
	}
}

func (w *jsonWriter) int(v int64) { w.buf = strconv.AppendInt(w.buf, v, 10) }

// float writes v as Float.MarshalJSON does.
func (w *jsonWriter) float(v float64) {
	switch {
	case math.IsNaN(v):
		w.buf = append(w.buf, `"NaN"`...)
	case math.IsInf(v, 1):
		w.buf = append(w.buf, `"Infinity"`...)
	case math.IsInf(v, -1):
		w.buf = append(w.buf, `"-Infinity"`...)
	default:
		w.buf = appendFloat(w.buf, v)
	}
}

const hexDigits = "0123456789abcdef"

// string writes s as encoding/json does without HTML escaping, followed by
// Marshal's ensure_ascii pass: ", \ and control characters escaped (\b, \f, \n,
// \r, \t short), invalid UTF-8 as \ufffd, every other non-ASCII rune as \uXXXX
// (a surrogate pair beyond the BMP), lower-case hex throughout.
func (w *jsonWriter) string(s string) {
	b := append(w.buf, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		b = append(b, s[start:i]...)
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else if r > 0xFFFF {
			r -= 0x10000
			b = appendU4(b, 0xD800+(r>>10))
			b = appendU4(b, 0xDC00+(r&0x3FF))
		} else {
			b = appendU4(b, r)
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	w.buf = append(b, '"')
}

func appendU4(b []byte, r rune) []byte {
	return append(b, '\\', 'u', hexDigits[r>>12&0xF], hexDigits[r>>8&0xF], hexDigits[r>>4&0xF], hexDigits[r&0xF])
}

// keyValue writes {"key": ..., "value": ...}, the shape of Tag and Param.
func (w *jsonWriter) keyValue(k, v string) {
	w.beginObject()
	w.key("key")
	w.string(k)
	w.key("value")
	w.string(v)
	w.end('}')
}

func (w *jsonWriter) tags(tags []Tag) {
	w.beginArray()
	for _, t := range tags {
		w.elem()
		w.keyValue(t.Key, t.Value)
	}
	w.end(']')
}

func (w *jsonWriter) metrics(ms []Metric) {
	w.beginArray()
	for _, m := range ms {
		w.metric(&m)
	}
	w.end(']')
}

// domainMetrics writes ms as metrics writes MetricsFromDomain(ms), without
// the copy.
func (w *jsonWriter) domainMetrics(ms []tracking.Metric) {
	w.beginArray()
	for _, m := range ms {
		wm := MetricFromDomain(m)
		w.metric(&wm)
	}
	w.end(']')
}

func (w *jsonWriter) metric(m *Metric) {
	w.elem()
	w.beginObject()
	w.key("key")
	w.string(m.Key)
	w.key("value")
	w.float(float64(m.Value))
	w.key("timestamp")
	w.int(m.Timestamp)
	w.key("step")
	w.int(m.Step)
	for _, kv := range [...][2]string{{"dataset_name", m.DatasetName}, {"dataset_digest", m.DatasetDigest},
		{"model_id", m.ModelID}, {"run_id", m.RunID}} {
		if kv[1] != "" {
			w.key(kv[0])
			w.string(kv[1])
		}
	}
	w.end('}')
}

func (w *jsonWriter) run(r *Run) {
	w.beginObject()
	w.key("info")
	w.runInfo(&r.Info)
	w.key("data")
	w.beginObject()
	if len(r.Data.Metrics) > 0 {
		w.key("metrics")
		w.metrics(r.Data.Metrics)
	}
	if len(r.Data.Params) > 0 {
		w.key("params")
		w.beginArray()
		for _, p := range r.Data.Params {
			w.elem()
			w.keyValue(p.Key, p.Value)
		}
		w.end(']')
	}
	if len(r.Data.Tags) > 0 {
		w.key("tags")
		w.tags(r.Data.Tags)
	}
	w.end('}')
	if r.Inputs != nil {
		w.key("inputs")
		w.runInputs(r.Inputs)
	}
	if r.Outputs != nil {
		w.key("outputs")
		w.beginObject()
		if len(r.Outputs.ModelOutputs) > 0 {
			w.key("model_outputs")
			w.beginArray()
			for _, o := range r.Outputs.ModelOutputs {
				w.elem()
				w.beginObject()
				w.key("model_id")
				w.string(o.ModelID)
				w.key("step")
				w.int(o.Step)
				w.end('}')
			}
			w.end(']')
		}
		w.end('}')
	}
	w.end('}')
}

func (w *jsonWriter) runInfo(i *RunInfo) {
	w.beginObject()
	w.key("run_uuid")
	w.string(i.RunUUID)
	w.key("experiment_id")
	w.string(i.ExperimentID)
	w.key("run_name")
	w.string(i.RunName)
	w.key("user_id")
	w.string(i.UserID)
	w.key("status")
	w.string(i.Status)
	w.key("start_time")
	w.int(i.StartTime)
	if i.EndTime != 0 {
		w.key("end_time")
		w.int(i.EndTime)
	}
	w.key("artifact_uri")
	w.string(i.ArtifactURI)
	w.key("lifecycle_stage")
	w.string(i.LifecycleStage)
	w.key("run_id")
	w.string(i.RunID)
	w.end('}')
}

func (w *jsonWriter) runInputs(in *RunInputs) {
	w.beginObject()
	if len(in.DatasetInputs) > 0 {
		w.key("dataset_inputs")
		w.beginArray()
		for i := range in.DatasetInputs {
			d := &in.DatasetInputs[i]
			w.elem()
			w.beginObject()
			if len(d.Tags) > 0 {
				w.key("tags")
				w.tags(d.Tags)
			}
			w.key("dataset")
			w.beginObject()
			w.key("name")
			w.string(d.Dataset.Name)
			w.key("digest")
			w.string(d.Dataset.Digest)
			w.key("source_type")
			w.string(d.Dataset.SourceType)
			w.key("source")
			w.string(d.Dataset.Source)
			if d.Dataset.Schema != "" {
				w.key("schema")
				w.string(d.Dataset.Schema)
			}
			if d.Dataset.Profile != "" {
				w.key("profile")
				w.string(d.Dataset.Profile)
			}
			w.end('}')
			w.end('}')
		}
		w.end(']')
	}
	if len(in.ModelInputs) > 0 {
		w.key("model_inputs")
		w.beginArray()
		for _, m := range in.ModelInputs {
			w.elem()
			w.beginObject()
			w.key("model_id")
			w.string(m.ModelID)
			w.end('}')
		}
		w.end(']')
	}
	w.end('}')
}

// MetricHistoryWriter writes a metrics/get-history answer to an io.Writer a
// point at a time, in chunks of about 64 KiB: the same bytes as
// AppendMetricHistory of all the points, without holding them, so that a
// history of a million points (~100 MB of JSON) costs the server one chunk.
type MetricHistoryWriter struct {
	dst   io.Writer
	w     jsonWriter
	begun bool // the "metrics" array is open
	err   error
}

const historyChunk = 64 << 10

// NewMetricHistoryWriter starts an answer to dst.
func NewMetricHistoryWriter(dst io.Writer) *MetricHistoryWriter {
	h := &MetricHistoryWriter{dst: dst, w: jsonWriter{buf: make([]byte, 0, historyChunk+1024)}}
	h.w.beginObject()
	return h
}

// Add writes one point; it returns the error of an earlier write to dst, if any.
func (h *MetricHistoryWriter) Add(m tracking.Metric) error {
	if h.err != nil {
		return h.err
	}
	if !h.begun {
		h.w.key("metrics")
		h.w.beginArray()
		h.begun = true
	}
	wm := MetricFromDomain(m)
	h.w.metric(&wm)
	if len(h.w.buf) >= historyChunk {
		h.flush()
	}
	return h.err
}

// Close ends the answer with nextPageToken (if not empty) and writes the rest.
func (h *MetricHistoryWriter) Close(nextPageToken string) error {
	if h.err != nil {
		return h.err
	}
	if h.begun {
		h.w.end(']')
	}
	if nextPageToken != "" {
		h.w.key("next_page_token")
		h.w.string(nextPageToken)
	}
	h.w.end('}')
	h.flush()
	return h.err
}

func (h *MetricHistoryWriter) flush() {
	if _, err := h.dst.Write(h.w.buf); err != nil {
		h.err = err
	}
	h.w.buf = h.w.buf[:0]
}
