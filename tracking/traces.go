package tracking

import (
	"context"
	"unicode/utf8"
)

// TraceStatus is the state of a trace, as MLflow names it (TraceStatus in
// service.proto).
type TraceStatus string

// Trace statuses. A trace starts IN_PROGRESS; EndTrace sets what the client
// says, UNSPECIFIED when it says nothing.
const (
	TraceUnspecified TraceStatus = "TRACE_STATUS_UNSPECIFIED"
	TraceOK          TraceStatus = "OK"
	TraceError       TraceStatus = "ERROR"
	TraceInProgress  TraceStatus = "IN_PROGRESS"
)

// ParseTraceStatus accepts one of the four trace status names, exactly as
// written; "" is TRACE_STATUS_UNSPECIFIED.
func ParseTraceStatus(s string) (TraceStatus, error) {
	switch st := TraceStatus(s); st {
	case "":
		return TraceUnspecified, nil
	case TraceUnspecified, TraceOK, TraceError, TraceInProgress:
		return st, nil
	}
	return "", Errorf(ErrInvalidParameterValue,
		"Invalid trace status %q: must be one of OK, ERROR, IN_PROGRESS, TRACE_STATUS_UNSPECIFIED", s)
}

// TraceInfo is what the tracking store keeps of a trace: its metadata, not its
// spans. The spans are a JSON file (TraceDataFile) that the client writes
// under the trace's artifact location (the tag TagTraceArtifactLocation).
type TraceInfo struct {
	RequestID    string
	ExperimentID string
	TimestampMs  int64 // start, milliseconds since the Unix epoch
	// ExecutionTimeMs is the end time minus the start; 0 while in progress.
	ExecutionTimeMs int64
	Status          TraceStatus
	// RequestMetadata and Tags are sorted by key. Metadata is written at the
	// start and the end of a trace; tags can also be set and deleted later.
	RequestMetadata []Tag
	Tags            []Tag
}

// Tag returns the value of the trace tag key and whether it is set.
func (t *TraceInfo) Tag(key string) (string, bool) {
	for _, tag := range t.Tags {
		if tag.Key == key {
			return tag.Value, true
		}
	}
	return "", false
}

// Tags and request metadata keys MLflow 2.17 gives a meaning to.
const (
	// TagTraceArtifactLocation is set by the store at StartTrace:
	// <experiment artifact location>/traces/<request id>/artifacts.
	TagTraceArtifactLocation = "mlflow.artifactLocation"
	// TagTraceName is the name of the trace's root span; filters and orderings
	// on the attribute "name" read it.
	TagTraceName = "mlflow.traceName"
	// MetadataSourceRun is the run a trace was logged in; filters and
	// orderings on the attribute "run_id" read it.
	MetadataSourceRun = "mlflow.sourceRun"
	// TraceDataFile is the file under the artifact location that holds the
	// trace's spans.
	TraceDataFile = "traces.json"
)

// Limits of trace searches and trace tags (MLflow 2.17's handlers and schema).
const (
	DefaultTraceSearchResults = 100
	MaxTraceSearchResults     = 500
	MaxTraceTagKeyLength      = 250  // trace_tags.key, trace_request_metadata.key
	MaxTraceTagValueLength    = 8000 // trace_tags.value, trace_request_metadata.value
)

// StartTrace says how to start a trace.
type StartTrace struct {
	ExperimentID    string
	TimestampMs     int64
	RequestMetadata []Tag
	Tags            []Tag
}

// EndTrace says how a trace ended. Metadata and tags are merged into what the
// trace has: a key given again takes the new value.
type EndTrace struct {
	TimestampMs     int64
	Status          TraceStatus
	RequestMetadata []Tag
	Tags            []Tag
}

// TraceQuery selects traces of one or more experiments.
type TraceQuery struct {
	ExperimentIDs []string
	// Filter is MLflow's trace filter grammar (search.ParseTraceFilter), e.g.
	// "status = 'OK' and tags.env = 'prod'".
	Filter string
	// OrderBy defaults to timestamp_ms DESC; request_id ASC breaks ties.
	OrderBy    []string
	MaxResults int // 0 means DefaultTraceSearchResults; at most MaxTraceSearchResults
	PageToken  string
}

// DeleteTraces selects the traces of an experiment to delete: those in
// RequestIDs, or those started at or before MaxTimestampMillis, the oldest
// MaxTraces of them when MaxTraces is set.
type DeleteTraces struct {
	ExperimentID       string
	MaxTimestampMillis *int64
	MaxTraces          *int64
	RequestIDs         []string
}

// Validate applies MLflow's rules (AbstractStore.delete_traces): exactly one
// of MaxTimestampMillis and RequestIDs, MaxTraces only with the timestamp and
// positive. MLflow tests the timestamp for truth, so that 0 counts as absent
// beside request ids and as no bound at all in the deletion; here a timestamp
// given is a timestamp, 0 included (nothing started after the epoch is
// deleted by it).
func (d DeleteTraces) Validate() error {
	switch {
	case d.MaxTimestampMillis == nil && len(d.RequestIDs) == 0:
		return Errorf(ErrInvalidParameterValue, "Either `max_timestamp_millis` or `request_ids` must be specified.")
	case d.MaxTimestampMillis != nil && len(d.RequestIDs) > 0:
		return Errorf(ErrInvalidParameterValue, "Only one of `max_timestamp_millis` and `request_ids` can be specified.")
	case len(d.RequestIDs) > 0 && d.MaxTraces != nil:
		return Errorf(ErrInvalidParameterValue, "`max_traces` can't be specified if `request_ids` is specified.")
	case d.MaxTraces != nil && *d.MaxTraces <= 0:
		return Errorf(ErrInvalidParameterValue, "`max_traces` must be a positive integer, received %d.", *d.MaxTraces)
	}
	return nil
}

// TraceStore keeps traces. It is its own interface, beside Store: the SQL
// store implements both, while a Store over MLflow's REST API need not.
type TraceStore interface {
	// StartTrace creates an IN_PROGRESS trace in an active experiment, with a
	// new request id and the artifact location tag. RESOURCE_DOES_NOT_EXIST for
	// an unknown experiment, INVALID_PARAMETER_VALUE for a deleted one, for
	// keys or values longer than their columns and for a client-given artifact
	// location tag.
	StartTrace(ctx context.Context, in StartTrace) (*TraceInfo, error)
	// EndTrace sets the trace's execution time (in.TimestampMs minus its start)
	// and status, and merges metadata and tags. RESOURCE_DOES_NOT_EXIST for an
	// unknown request id.
	EndTrace(ctx context.Context, requestID string, in EndTrace) (*TraceInfo, error)
	// GetTraceInfo returns RESOURCE_DOES_NOT_EXIST for an unknown request id.
	GetTraceInfo(ctx context.Context, requestID string) (*TraceInfo, error)
	// SearchTraces returns INVALID_PARAMETER_VALUE for a bad filter, order,
	// token or max results. A page of exactly MaxResults traces carries a next
	// token, as in MLflow.
	SearchTraces(ctx context.Context, q TraceQuery) (Page[TraceInfo], error)
	// DeleteTraces deletes the traces in.Validate accepts and returns how many
	// there were; none is not an error.
	DeleteTraces(ctx context.Context, in DeleteTraces) (int, error)
	// SetTraceTag sets a tag (key checked as MLflow checks tag keys, value cut
	// to MaxTraceTagValueLength as MLflow cuts it). RESOURCE_DOES_NOT_EXIST for
	// an unknown request id.
	SetTraceTag(ctx context.Context, requestID, key, value string) error
	// DeleteTraceTag returns RESOURCE_DOES_NOT_EXIST when the tag is not set.
	DeleteTraceTag(ctx context.Context, requestID, key string) error
}

// ValidateTraceTag checks a tag for SetTraceTag as MLflow's _validate_trace_tag
// does, and returns the value cut to MaxTraceTagValueLength characters
// (MLflow truncates rather than refuses, MLFLOW_TRUNCATE_LONG_VALUES being on
// by default).
func ValidateTraceTag(key, value string) (string, error) {
	if err := validateEntityName("key", key); err != nil {
		return "", err
	}
	if err := validateLength("Trace tag key", MaxTraceTagKeyLength, key); err != nil {
		return "", err
	}
	if utf8.RuneCountInString(value) > MaxTraceTagValueLength {
		value = string([]rune(value)[:MaxTraceTagValueLength])
	}
	return value, nil
}

// ValidateTraceFields checks the metadata or tags given at the start or end
// of a trace against their columns. MLflow does not check them (PostgreSQL
// refuses what is too long, SQLite keeps it); the store refuses on both.
// what is "Trace tag" or "Trace request metadata", for the message.
func ValidateTraceFields(what string, tags []Tag) error {
	for _, t := range tags {
		if err := validateLength(what+" key", MaxTraceTagKeyLength, t.Key); err != nil {
			return err
		}
		if err := validateLength(what+" value", MaxTraceTagValueLength, t.Value); err != nil {
			return err
		}
	}
	return nil
}
