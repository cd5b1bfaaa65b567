package tracking

import (
	"context"
	"strconv"
)

// LoggedModelStatus is the state of a logged model's upload, as MLflow 3
// names it on the wire (LoggedModelStatus in service.proto). The database
// keeps its number (LoggedModelStatus.Int).
type LoggedModelStatus string

// Logged model statuses. A model is created PENDING; the client finalizes it
// READY once its files are uploaded, or UPLOAD_FAILED.
const (
	LoggedModelUnspecified  LoggedModelStatus = "LOGGED_MODEL_STATUS_UNSPECIFIED"
	LoggedModelPending      LoggedModelStatus = "LOGGED_MODEL_PENDING"
	LoggedModelReady        LoggedModelStatus = "LOGGED_MODEL_READY"
	LoggedModelUploadFailed LoggedModelStatus = "LOGGED_MODEL_UPLOAD_FAILED"
)

// loggedModelStatuses lists the statuses by their proto number, which is also
// the number MLflow stores in logged_models.status.
var loggedModelStatuses = [...]LoggedModelStatus{
	LoggedModelUnspecified, LoggedModelPending, LoggedModelReady, LoggedModelUploadFailed,
}

// Int returns the status's proto number (0 for an unknown status).
func (s LoggedModelStatus) Int() int {
	for i, st := range loggedModelStatuses {
		if st == s {
			return i
		}
	}
	return 0
}

// LoggedModelStatusFromInt returns the status with proto number n;
// INVALID_PARAMETER_VALUE for a number that is none.
func LoggedModelStatusFromInt(n int64) (LoggedModelStatus, error) {
	if n < 0 || n >= int64(len(loggedModelStatuses)) {
		return "", Errorf(ErrInvalidParameterValue, "Invalid logged model status: %d", n)
	}
	return loggedModelStatuses[n], nil
}

// ParseLoggedModelStatus accepts a status name exactly as written, or its
// proto number, as protobuf's JSON parser does.
func ParseLoggedModelStatus(s string) (LoggedModelStatus, error) {
	for _, st := range loggedModelStatuses {
		if string(st) == s {
			return st, nil
		}
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return LoggedModelStatusFromInt(n)
	}
	return "", Errorf(ErrInvalidParameterValue, "Invalid logged model status: %q", s)
}

// LoggedModel is a model logged to an experiment (MLflow 3): its own id,
// artifact location and lifecycle, optionally produced by a source run. Its
// metrics are those logged on runs with its id (Metric.ModelID).
type LoggedModel struct {
	ModelID      string // "m-" and 32 hex digits
	ExperimentID string
	Name         string
	// ArtifactLocation is <experiment artifact location>/models/<id>/artifacts.
	ArtifactLocation     string
	CreationTimestamp    int64 // milliseconds since the Unix epoch
	LastUpdatedTimestamp int64 // milliseconds since the Unix epoch
	ModelType            string
	SourceRunID          string
	Status               LoggedModelStatus
	StatusMessage        string
	LifecycleStage       LifecycleStage
	Tags                 []Tag    // sorted by key
	Params               []Param  // sorted by key
	Metrics              []Metric // every logged value, with ModelID, RunID and data set set
}

// URI returns models:/<model id>, the URI MLflow 3 resolves to the model.
func (m *LoggedModel) URI() string { return LoggedModelURIPrefix + m.ModelID }

// Tag returns the value of the model tag key and whether it is set.
func (m *LoggedModel) Tag(key string) (string, bool) {
	for _, t := range m.Tags {
		if t.Key == key {
			return t.Value, true
		}
	}
	return "", false
}

// Param returns the value of the model param key and whether it is set.
func (m *LoggedModel) Param(key string) (string, bool) {
	for _, p := range m.Params {
		if p.Key == key {
			return p.Value, true
		}
	}
	return "", false
}

// LoggedModelURIPrefix starts a logged model's URI; models:/<name>/<version>
// and models:/<name>@<alias> name registry versions instead.
const LoggedModelURIPrefix = "models:/"

// Where a logged model's files live under its experiment's artifact
// location: <location>/models/<model id>/artifacts (MLflow's MODELS_FOLDER_NAME
// and ARTIFACTS_FOLDER_NAME).
const (
	LoggedModelsFolder   = "models"
	LoggedModelArtifacts = "artifacts"
)

// Limits of logged models (MLflow 3.11.1's schema and handlers).
const (
	DefaultLoggedModelSearchResults = 100 // SEARCH_LOGGED_MODEL_MAX_RESULTS_DEFAULT
	MaxLoggedModelNameLength        = 500 // logged_models.name
)

// CreateLoggedModel says how to create a logged model. An empty Name means a
// generated one, as for runs ("casual-dove-178").
type CreateLoggedModel struct {
	ExperimentID string
	Name         string
	ModelType    string
	SourceRunID  string
	Params       []Param
	Tags         []Tag
}

// ModelOutput says that a run produced a logged model, at a step
// (runs/outputs).
type ModelOutput struct {
	ModelID string
	Step    int64
}

// ModelInput says that a run used a logged model (log-inputs' models).
type ModelInput struct {
	ModelID string
}

// LoggedModelDataset selects the metrics of one data set: by name, and by
// digest too when Digest is set.
type LoggedModelDataset struct {
	Name   string
	Digest string
}

// LoggedModelOrder is one key of a logged model search's order: an attribute
// (name, creation_timestamp, last_updated_timestamp, model_type, ...) or
// "metrics.<key>", whose latest value orders, on a data set when one is set.
type LoggedModelOrder struct {
	FieldName     string
	Ascending     bool
	DatasetName   string
	DatasetDigest string
}

// LoggedModelQuery selects the active logged models of experiments.
type LoggedModelQuery struct {
	ExperimentIDs []string
	// Filter is MLflow's logged model filter grammar
	// (search.ParseLoggedModelFilter): comparisons on attributes, metrics.k,
	// params.k and tags.k joined by AND.
	Filter string
	// Datasets keeps the models with a metric on one of these data sets; a
	// metric filter then only looks at metrics on them.
	Datasets []LoggedModelDataset
	// OrderBy defaults to creation time, newest first, which also breaks ties.
	OrderBy    []LoggedModelOrder
	MaxResults int // 0 means DefaultLoggedModelSearchResults
	PageToken  string
}

// LoggedModelStore keeps MLflow 3's logged models. It is its own interface,
// beside Store: the SQL store implements both, while a Store over MLflow
// 2.x's REST API cannot.
type LoggedModelStore interface {
	// CreateLoggedModel creates a PENDING model in an active experiment.
	// RESOURCE_DOES_NOT_EXIST for an unknown experiment, INVALID_PARAMETER_VALUE
	// for a deleted one and for a bad name.
	CreateLoggedModel(ctx context.Context, in CreateLoggedModel) (*LoggedModel, error)
	// GetLoggedModel returns RESOURCE_DOES_NOT_EXIST for an unknown model, and
	// for a deleted one unless allowDeleted.
	GetLoggedModel(ctx context.Context, modelID string, allowDeleted bool) (*LoggedModel, error)
	// FinalizeLoggedModel sets the model's status.
	FinalizeLoggedModel(ctx context.Context, modelID string, status LoggedModelStatus) (*LoggedModel, error)
	// DeleteLoggedModel moves the model to the deleted stage.
	DeleteLoggedModel(ctx context.Context, modelID string) error
	// SearchLoggedModels returns INVALID_PARAMETER_VALUE for a bad filter,
	// order, data set or token.
	SearchLoggedModels(ctx context.Context, q LoggedModelQuery) (Page[LoggedModel], error)
	// SetLoggedModelTags sets (overwrites) tags on the model.
	SetLoggedModelTags(ctx context.Context, modelID string, tags []Tag) error
	// DeleteLoggedModelTag returns RESOURCE_DOES_NOT_EXIST when the tag is not set.
	DeleteLoggedModelTag(ctx context.Context, modelID, key string) error
	// LogLoggedModelParams adds params to the model.
	LogLoggedModelParams(ctx context.Context, modelID string, params []Param) error
	// LogOutputs records that an active run produced the models.
	LogOutputs(ctx context.Context, runID string, outputs []ModelOutput) error
	// LogModelInputs records that an active run used the models.
	LogModelInputs(ctx context.Context, runID string, inputs []ModelInput) error
}
