package tracking

import (
	"strings"
)

// LifecycleStage says whether an experiment or run is active or in the trash.
type LifecycleStage string

// Lifecycle stages, as MLflow stores and sends them.
const (
	LifecycleActive  LifecycleStage = "active"
	LifecycleDeleted LifecycleStage = "deleted"
)

// ViewType selects experiments or runs by lifecycle stage in searches.
type ViewType string

// View types, as MLflow names them on the wire.
const (
	ViewActiveOnly  ViewType = "ACTIVE_ONLY"
	ViewDeletedOnly ViewType = "DELETED_ONLY"
	ViewAll         ViewType = "ALL"
)

// Tag is a key/value pair on an experiment, run, registered model or model version.
type Tag struct {
	Key   string
	Value string
}

// Param is a run's hyperparameter: written once, re-logging the same value is allowed.
type Param struct {
	Key   string
	Value string
}

// Experiment groups runs.
type Experiment struct {
	ID               string
	Name             string
	ArtifactLocation string
	LifecycleStage   LifecycleStage
	CreationTime     int64 // milliseconds since the Unix epoch
	LastUpdateTime   int64 // milliseconds since the Unix epoch
	Tags             []Tag
}

// RunStatus is the state of a run's work.
type RunStatus string

// Run statuses, as MLflow names them.
const (
	RunRunning   RunStatus = "RUNNING"
	RunScheduled RunStatus = "SCHEDULED"
	RunFinished  RunStatus = "FINISHED"
	RunFailed    RunStatus = "FAILED"
	RunKilled    RunStatus = "KILLED"
)

// ParseRunStatus accepts a run status name, case-insensitively.
func ParseRunStatus(s string) (RunStatus, error) {
	switch st := RunStatus(strings.ToUpper(s)); st {
	case RunRunning, RunScheduled, RunFinished, RunFailed, RunKilled:
		return st, nil
	}
	return "", Errorf(ErrInvalidParameterValue, "Invalid run status %q: must be one of RUNNING, SCHEDULED, FINISHED, FAILED, KILLED", s)
}

// Terminal reports whether a run in status s has ended.
func (s RunStatus) Terminal() bool {
	return s == RunFinished || s == RunFailed || s == RunKilled
}

// RunInfo is a run's metadata.
type RunInfo struct {
	RunID          string
	ExperimentID   string
	RunName        string
	UserID         string
	Status         RunStatus
	StartTime      int64 // milliseconds since the Unix epoch; 0 when not given
	EndTime        int64 // milliseconds since the Unix epoch; 0 while running
	ArtifactURI    string
	LifecycleStage LifecycleStage
}

// Metric is one logged value of a metric. A run's metric history is every Metric
// with that key; its latest value is the one with the highest (Step, Timestamp, Value).
type Metric struct {
	Key       string
	Value     float64 // NaN and ±Inf allowed; SQL stores keep ±Inf as ±math.MaxFloat64 like MLflow
	Timestamp int64   // milliseconds since the Unix epoch
	Step      int64
	// MLflow 3: the logged model the value is about and the data set it was
	// computed on (all "" for a plain run metric). RunID is set on a logged
	// model's metrics, which come from several runs.
	ModelID       string
	DatasetName   string
	DatasetDigest string
	RunID         string
}

// RunData holds what was logged on a run: latest metric values, params, tags.
type RunData struct {
	Metrics []Metric
	Params  []Param
	Tags    []Tag
}

// Dataset describes a data set a run used (MLflow's log-inputs).
type Dataset struct {
	Name       string
	Digest     string
	SourceType string // "local", "http", "s3", "code", ...
	Source     string // JSON, as MLflow's DatasetSource.to_json gives it
	Schema     string // JSON, optional
	Profile    string // JSON, optional
}

// DatasetInput is a data set with the tags that say how a run used it
// (MLflow sets "mlflow.data.context" to "training", "testing", ...).
type DatasetInput struct {
	Tags    []Tag
	Dataset Dataset
}

// DatasetSummary is a data set some run of an experiment used, with the
// context it was used in (InputTagContext; "" when not given).
type DatasetSummary struct {
	ExperimentID string
	Name         string
	Digest       string
	Context      string
}

// Run is a run with everything logged on it.
type Run struct {
	Info   RunInfo
	Data   RunData
	Inputs []DatasetInput
	// MLflow 3: the logged models the run used and produced.
	ModelInputs  []ModelInput
	ModelOutputs []ModelOutput
}

// Tag returns the value of the run tag key and whether it is set.
func (r *Run) Tag(key string) (string, bool) {
	for _, t := range r.Data.Tags {
		if t.Key == key {
			return t.Value, true
		}
	}
	return "", false
}

// Param returns the value of the param key and whether it is set.
func (r *Run) Param(key string) (string, bool) {
	for _, p := range r.Data.Params {
		if p.Key == key {
			return p.Value, true
		}
	}
	return "", false
}

// Metric returns the latest value of the metric key and whether it is set.
func (r *Run) Metric(key string) (float64, bool) {
	for _, m := range r.Data.Metrics {
		if m.Key == key {
			return m.Value, true
		}
	}
	return 0, false
}

// System tags MLflow sets on runs.
const (
	TagRunName          = "mlflow.runName"
	TagUser             = "mlflow.user"
	TagSourceName       = "mlflow.source.name"
	TagSourceType       = "mlflow.source.type"
	TagGitCommit        = "mlflow.source.git.commit"
	TagParentRunID      = "mlflow.parentRunId"
	TagLogModelHist     = "mlflow.log-model.history"
	TagNote             = "mlflow.note.content"
	InputTagContext     = "mlflow.data.context"
	DefaultExperimentID = "0"
)
