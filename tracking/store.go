package tracking

import (
	"context"
	"io"
)

// Limits MLflow enforces on logged data (mlflow/utils/validation.py, 2.17).
const (
	MaxMetricsPerBatch          = 1000
	MaxParamsPerBatch           = 100
	MaxTagsPerBatch             = 100
	MaxEntitiesPerBatch         = 1000
	MaxBatchRequestBytes        = 1 << 20
	MaxEntityKeyLength          = 250
	MaxParamValueLength         = 6000
	MaxTagValueLength           = 8000
	MaxExperimentTagValueLength = 5000
	MaxSearchResults            = 50000 // runs/search max_results above this is refused
	DefaultSearchResults        = 1000
)

// Page is one page of a search: the items and the token of the next page ("" when
// there is none). Tokens are base64 of {"offset": N}, as MLflow makes them.
type Page[T any] struct {
	Items         []T
	NextPageToken string
}

// ExperimentQuery selects experiments.
type ExperimentQuery struct {
	Filter     string   // MLflow filter grammar over name, tags, creation_time, last_update_time
	OrderBy    []string // e.g. "name ASC", "last_update_time DESC"
	ViewType   ViewType // "" means ACTIVE_ONLY
	MaxResults int      // 0 means the default
	PageToken  string
}

// RunQuery selects runs of one or more experiments.
type RunQuery struct {
	ExperimentIDs []string
	Filter        string   // e.g. "metrics.r2 > 0.7 and params.max_depth = '10'"
	OrderBy       []string // e.g. "metrics.r2 DESC"; default start_time DESC
	ViewType      ViewType // "" means ACTIVE_ONLY
	MaxResults    int      // 0 means 1000
	PageToken     string
}

// ModelQuery selects registered models or model versions.
type ModelQuery struct {
	Filter     string // e.g. "name = 'california-housing'", "run_id = '...'", "tags.k = 'v'"
	OrderBy    []string
	MaxResults int
	PageToken  string
}

// CreateRun says how to create a run. Empty RunName means: take it from the
// mlflow.runName tag, or generate one like MLflow's "casual-dove-178".
type CreateRun struct {
	ExperimentID string
	UserID       string
	RunName      string
	StartTime    int64
	Tags         []Tag
}

// UpdateRun changes a run's status, end time or name; nil fields stay as they are.
type UpdateRun struct {
	Status  *RunStatus
	EndTime *int64
	RunName *string
}

// CreateModelVersion says how to register a model version.
type CreateModelVersion struct {
	Name        string
	Source      string
	RunID       string
	Tags        []Tag
	RunLink     string
	Description string
	ModelID     string // MLflow 3: the logged model the version comes from
}

// ExperimentStore keeps experiments.
type ExperimentStore interface {
	// CreateExperiment returns the new experiment's id. An empty artifactLocation
	// means the store's default root joined with the id. RESOURCE_ALREADY_EXISTS when
	// the name is taken (also by a deleted experiment); INVALID_PARAMETER_VALUE for an
	// empty or too long name.
	CreateExperiment(ctx context.Context, name, artifactLocation string, tags []Tag) (string, error)
	// GetExperiment returns RESOURCE_DOES_NOT_EXIST for an unknown or malformed id.
	GetExperiment(ctx context.Context, id string) (*Experiment, error)
	// GetExperimentByName returns RESOURCE_DOES_NOT_EXIST for an unknown name.
	GetExperimentByName(ctx context.Context, name string) (*Experiment, error)
	// SearchExperiments returns INVALID_PARAMETER_VALUE for a bad filter, order or token.
	SearchExperiments(ctx context.Context, q ExperimentQuery) (Page[Experiment], error)
	// RenameExperiment returns RESOURCE_DOES_NOT_EXIST, RESOURCE_ALREADY_EXISTS, INVALID_STATE when deleted.
	RenameExperiment(ctx context.Context, id, newName string) error
	// DeleteExperiment moves the experiment and its runs to the deleted stage.
	DeleteExperiment(ctx context.Context, id string) error
	// RestoreExperiment moves a deleted experiment and its runs back.
	RestoreExperiment(ctx context.Context, id string) error
	SetExperimentTag(ctx context.Context, id, key, value string) error
	DeleteExperimentTag(ctx context.Context, id, key string) error
}

// RunStore keeps runs and what is logged on them.
type RunStore interface {
	// CreateRun returns RESOURCE_DOES_NOT_EXIST for an unknown experiment and
	// INVALID_STATE for a deleted one.
	CreateRun(ctx context.Context, in CreateRun) (*Run, error)
	// GetRun returns RESOURCE_DOES_NOT_EXIST for an unknown run (deleted runs are returned).
	GetRun(ctx context.Context, runID string) (*Run, error)
	UpdateRun(ctx context.Context, runID string, in UpdateRun) (*RunInfo, error)
	DeleteRun(ctx context.Context, runID string) error
	RestoreRun(ctx context.Context, runID string) error
	SearchRuns(ctx context.Context, q RunQuery) (Page[Run], error)
	// LogBatch writes metrics (appended), params (write-once; the same value again is
	// accepted, another value is INVALID_PARAMETER_VALUE) and tags (overwritten) in
	// one transaction, within MLflow's limits. Writes to a deleted run are INVALID_PARAMETER_VALUE.
	LogBatch(ctx context.Context, runID string, metrics []Metric, params []Param, tags []Tag) error
	DeleteTag(ctx context.Context, runID, key string) error
	// GetMetricHistory returns every logged value of key, ordered by step, timestamp.
	GetMetricHistory(ctx context.Context, runID, key string, maxResults int, pageToken string) (Page[Metric], error)
	LogInputs(ctx context.Context, runID string, inputs []DatasetInput) error
	// SearchDatasets lists the distinct data sets (and contexts) that runs of
	// the experiments used, at most MaxDatasetSummaries, for the web UI's
	// data set filter; at most MaxSearchDatasetsExperiments experiments.
	SearchDatasets(ctx context.Context, experimentIDs []string) ([]DatasetSummary, error)
}

// Limits of SearchDatasets, as MLflow's.
const (
	MaxSearchDatasetsExperiments = 20
	MaxDatasetSummaries          = 1000
)

// RegistryStore keeps registered models and their versions.
type RegistryStore interface {
	CreateRegisteredModel(ctx context.Context, name, description string, tags []Tag) (*RegisteredModel, error)
	GetRegisteredModel(ctx context.Context, name string) (*RegisteredModel, error)
	RenameRegisteredModel(ctx context.Context, name, newName string) (*RegisteredModel, error)
	UpdateRegisteredModel(ctx context.Context, name, description string) (*RegisteredModel, error)
	DeleteRegisteredModel(ctx context.Context, name string) error
	SearchRegisteredModels(ctx context.Context, q ModelQuery) (Page[RegisteredModel], error)
	SetRegisteredModelTag(ctx context.Context, name, key, value string) error
	DeleteRegisteredModelTag(ctx context.Context, name, key string) error
	// GetLatestVersions returns the latest version in each of stages (all stages when empty).
	GetLatestVersions(ctx context.Context, name string, stages []Stage) ([]ModelVersion, error)

	// CreateModelVersion registers the next version. A models:/name/version
	// source is kept as given; the version's files are those of the version it
	// names (see GetModelVersionDownloadURI).
	CreateModelVersion(ctx context.Context, in CreateModelVersion) (*ModelVersion, error)
	GetModelVersion(ctx context.Context, name, version string) (*ModelVersion, error)
	// GetModelVersionDownloadURI returns where a version's files are, as MLflow's
	// stores: its source, except for a models:/ source, whose location was that
	// version's download URI when it was created. Other URIs (runs:/...) are
	// returned as they are.
	GetModelVersionDownloadURI(ctx context.Context, name, version string) (string, error)
	UpdateModelVersion(ctx context.Context, name, version, description string) (*ModelVersion, error)
	DeleteModelVersion(ctx context.Context, name, version string) error
	SearchModelVersions(ctx context.Context, q ModelQuery) (Page[ModelVersion], error)
	// TransitionModelVersionStage moves a version to stage; with archiveExisting, the
	// other versions in stage become Archived in the same transaction (only for
	// Staging and Production).
	TransitionModelVersionStage(ctx context.Context, name, version string, stage Stage, archiveExisting bool) (*ModelVersion, error)
	SetModelVersionTag(ctx context.Context, name, version, key, value string) error
	DeleteModelVersionTag(ctx context.Context, name, version, key string) error

	// SetRegisteredModelAlias points alias at version; "latest" is reserved.
	SetRegisteredModelAlias(ctx context.Context, name, alias, version string) error
	DeleteRegisteredModelAlias(ctx context.Context, name, alias string) error
	// GetModelVersionByAlias returns INVALID_PARAMETER_VALUE for an unknown alias, as MLflow does.
	GetModelVersionByAlias(ctx context.Context, name, alias string) (*ModelVersion, error)
}

// Store is everything a tracking backend keeps. sqlstore implements it on a
// database; client implements it over MLflow's REST API.
type Store interface {
	ExperimentStore
	RunStore
	RegistryStore
	// Ping reports whether the backend can be reached (for /health).
	Ping(ctx context.Context) error
	Close() error
}

// FileInfo describes one entry of an artifact listing. Path is relative to the
// listed repository's root, with forward slashes.
type FileInfo struct {
	Path     string
	IsDir    bool
	FileSize int64 // bytes; 0 for directories
}

// ArtifactRepository stores a tree of files under one root URI (a run's artifact
// URI, or the server's artifacts destination). Paths are relative, slash-separated,
// and never escape the root: implementations return INVALID_PARAMETER_VALUE for
// "..", absolute paths and the like. Contents are streamed, never held whole.
type ArtifactRepository interface {
	// Put stores the contents of r at path; size is the length when known, else -1.
	Put(ctx context.Context, path string, r io.Reader, size int64) error
	// Get opens the file at path; RESOURCE_DOES_NOT_EXIST when it is missing.
	Get(ctx context.Context, path string) (io.ReadCloser, error)
	// List lists the direct children of the directory at path ("" is the root),
	// sorted by path; an empty list when path does not exist.
	List(ctx context.Context, path string) ([]FileInfo, error)
	// Delete removes the file or tree at path.
	Delete(ctx context.Context, path string) error
}
