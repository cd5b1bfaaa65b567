package wire

import (
	"bytes"
	"encoding/json"
	"strconv"

	"github.com/mlops-lab/housing/tracking"
)

// TraceInfo is a trace's metadata, fields in MLflow's order. execution_time_ms
// is 0 while the trace is in progress; request metadata and tags are omitted
// when empty.
type TraceInfo struct {
	RequestID       string `json:"request_id"`
	ExperimentID    string `json:"experiment_id"`
	TimestampMs     int64  `json:"timestamp_ms"`
	ExecutionTimeMs int64  `json:"execution_time_ms"`
	Status          string `json:"status"`
	RequestMetadata []Tag  `json:"request_metadata,omitempty"`
	Tags            []Tag  `json:"tags,omitempty"`
}

// TraceStatus is a trace status in a request: its name, or its proto number
// (0-3), which decodes to the name. Any other value decodes to its JSON text,
// for the server to refuse by name.
type TraceStatus string

var traceStatusNumbers = []tracking.TraceStatus{tracking.TraceUnspecified, tracking.TraceOK, tracking.TraceError, tracking.TraceInProgress}

// UnmarshalJSON implements json.Unmarshaler.
func (s *TraceStatus) UnmarshalJSON(b []byte) error {
	var name string
	if json.Unmarshal(b, &name) == nil {
		*s = TraceStatus(name)
		return nil
	}
	b = bytes.TrimSpace(b)
	if n, err := strconv.Atoi(string(b)); err == nil && n >= 0 && n < len(traceStatusNumbers) {
		*s = TraceStatus(traceStatusNumbers[n])
		return nil
	}
	*s = TraceStatus(b)
	return nil
}

// StartTraceRequest is the body of POST traces.
type StartTraceRequest struct {
	ExperimentID    string `json:"experiment_id,omitempty"`
	TimestampMs     int64  `json:"timestamp_ms,omitempty"`
	RequestMetadata []Tag  `json:"request_metadata,omitempty"`
	Tags            []Tag  `json:"tags,omitempty"`
}

// TraceInfoResponse answers POST traces, PATCH traces/<id> and GET traces/<id>/info.
type TraceInfoResponse struct {
	TraceInfo TraceInfo `json:"trace_info"`
}

// EndTraceRequest is the body of PATCH traces/<request_id>; the Python client
// also sends the id in the body, the path's is the one used.
type EndTraceRequest struct {
	RequestID       string      `json:"request_id,omitempty"`
	TimestampMs     int64       `json:"timestamp_ms,omitempty"`
	Status          TraceStatus `json:"status,omitempty"`
	RequestMetadata []Tag       `json:"request_metadata,omitempty"`
	Tags            []Tag       `json:"tags,omitempty"`
}

// SearchTracesRequest is the query of GET traces: max_results defaults to 100
// and may be at most 500.
type SearchTracesRequest struct {
	ExperimentIDs []string `json:"experiment_ids,omitempty"`
	Filter        string   `json:"filter,omitempty"`
	MaxResults    int64    `json:"max_results,omitempty"`
	OrderBy       []string `json:"order_by,omitempty"`
	PageToken     string   `json:"page_token,omitempty"`
}

// SearchTracesResponse answers GET traces.
type SearchTracesResponse struct {
	Traces        []TraceInfo `json:"traces,omitempty"`
	NextPageToken string      `json:"next_page_token,omitempty"`
}

// DeleteTracesRequest is the body of POST traces/delete-traces: request_ids,
// or max_timestamp_millis with an optional max_traces (absent and 0 differ).
type DeleteTracesRequest struct {
	ExperimentID       string   `json:"experiment_id"`
	MaxTimestampMillis *int64   `json:"max_timestamp_millis,omitempty"`
	MaxTraces          *int64   `json:"max_traces,omitempty"`
	RequestIDs         []string `json:"request_ids,omitempty"`
}

// DeleteTracesResponse answers POST traces/delete-traces (traces_deleted is
// always present).
type DeleteTracesResponse struct {
	TracesDeleted int64 `json:"traces_deleted"`
}

// SetTraceTagRequest is the body of PATCH traces/<request_id>/tags.
type SetTraceTagRequest struct {
	RequestID string `json:"request_id,omitempty"`
	Key       string `json:"key"`
	Value     string `json:"value"`
}

// DeleteTraceTagRequest is the body of DELETE traces/<request_id>/tags.
type DeleteTraceTagRequest struct {
	RequestID string `json:"request_id,omitempty"`
	Key       string `json:"key"`
}

// maxTraceInfoChars is where MLflow's TraceInfo.to_proto cuts every key and
// value of request metadata and tags in its answers (the stored ones stay
// whole): MAX_CHARS_IN_TRACE_INFO_METADATA_AND_TAGS.
const maxTraceInfoChars = 250

// TraceInfoFromDomain converts a trace's info as MLflow answers it: keys and
// values cut to 250 characters.
func TraceInfoFromDomain(t tracking.TraceInfo) TraceInfo {
	return TraceInfo{
		RequestID:       t.RequestID,
		ExperimentID:    t.ExperimentID,
		TimestampMs:     t.TimestampMs,
		ExecutionTimeMs: t.ExecutionTimeMs,
		Status:          string(t.Status),
		RequestMetadata: cutTags(t.RequestMetadata),
		Tags:            cutTags(t.Tags),
	}
}

// TraceInfosFromDomain converts traces' infos; nil for none.
func TraceInfosFromDomain(ts []tracking.TraceInfo) []TraceInfo {
	if len(ts) == 0 {
		return nil
	}
	out := make([]TraceInfo, len(ts))
	for i, t := range ts {
		out[i] = TraceInfoFromDomain(t)
	}
	return out
}

func cutTags(tags []tracking.Tag) []Tag {
	out := TagsFromDomain(tags)
	for i := range out {
		out[i].Key, out[i].Value = cutChars(out[i].Key), cutChars(out[i].Value)
	}
	return out
}

// cutChars keeps the first maxTraceInfoChars characters (code points, as
// Python slices a str).
func cutChars(s string) string {
	if len(s) <= maxTraceInfoChars {
		return s
	}
	n := 0
	for i := range s {
		if n == maxTraceInfoChars {
			return s[:i]
		}
		n++
	}
	return s
}
