package wire

// Experiments.

// CreateExperimentRequest is the body of experiments/create.
type CreateExperimentRequest struct {
	Name             string `json:"name"`
	ArtifactLocation string `json:"artifact_location,omitempty"`
	Tags             []Tag  `json:"tags,omitempty"`
}

// CreateExperimentResponse answers experiments/create.
type CreateExperimentResponse struct {
	ExperimentID string `json:"experiment_id"`
}

// GetExperimentRequest is the query of experiments/get.
type GetExperimentRequest struct {
	ExperimentID string `json:"experiment_id"`
}

// GetExperimentResponse answers experiments/get and experiments/get-by-name.
type GetExperimentResponse struct {
	Experiment Experiment `json:"experiment"`
}

// GetExperimentByNameRequest is the query of experiments/get-by-name.
type GetExperimentByNameRequest struct {
	ExperimentName string `json:"experiment_name"`
}

// SearchExperimentsRequest is the body (POST) or query (GET) of experiments/search.
// ViewType is ACTIVE_ONLY (the default), DELETED_ONLY or ALL.
type SearchExperimentsRequest struct {
	MaxResults int64    `json:"max_results,omitempty"`
	PageToken  string   `json:"page_token,omitempty"`
	Filter     string   `json:"filter,omitempty"`
	OrderBy    []string `json:"order_by,omitempty"`
	ViewType   string   `json:"view_type,omitempty"`
}

// SearchExperimentsResponse answers experiments/search.
type SearchExperimentsResponse struct {
	Experiments   []Experiment `json:"experiments,omitempty"`
	NextPageToken string       `json:"next_page_token,omitempty"`
}

// UpdateExperimentRequest renames an experiment.
type UpdateExperimentRequest struct {
	ExperimentID string `json:"experiment_id"`
	NewName      string `json:"new_name"`
}

// DeleteExperimentRequest is the body of experiments/delete.
type DeleteExperimentRequest struct {
	ExperimentID string `json:"experiment_id"`
}

// RestoreExperimentRequest is the body of experiments/restore.
type RestoreExperimentRequest struct {
	ExperimentID string `json:"experiment_id"`
}

// SetExperimentTagRequest is the body of experiments/set-experiment-tag.
type SetExperimentTagRequest struct {
	ExperimentID string `json:"experiment_id"`
	Key          string `json:"key"`
	Value        string `json:"value"`
}

// DeleteExperimentTagRequest is the body of experiments/delete-experiment-tag.
type DeleteExperimentTagRequest struct {
	ExperimentID string `json:"experiment_id"`
	Key          string `json:"key"`
}

// Runs.

// CreateRunRequest is the body of runs/create.
type CreateRunRequest struct {
	ExperimentID string `json:"experiment_id,omitempty"`
	UserID       string `json:"user_id,omitempty"`
	RunName      string `json:"run_name,omitempty"`
	StartTime    int64  `json:"start_time,omitempty"`
	Tags         []Tag  `json:"tags,omitempty"`
}

// CreateRunResponse answers runs/create (its run has no "inputs").
type CreateRunResponse struct {
	Run Run `json:"run"`
}

// GetRunRequest is the query of runs/get. The Python client sends the id as both
// run_id and run_uuid; a server takes run_id, else run_uuid.
type GetRunRequest struct {
	RunID   string `json:"run_id,omitempty"`
	RunUUID string `json:"run_uuid,omitempty"`
}

// GetRunResponse answers runs/get.
type GetRunResponse struct {
	Run Run `json:"run"`
}

// UpdateRunRequest is the body of runs/update. Only the fields present change the
// run; Status is a run status name.
type UpdateRunRequest struct {
	RunID   string `json:"run_id,omitempty"`
	RunUUID string `json:"run_uuid,omitempty"`
	Status  string `json:"status,omitempty"`
	EndTime int64  `json:"end_time,omitempty"`
	RunName string `json:"run_name,omitempty"`
}

// UpdateRunResponse answers runs/update.
type UpdateRunResponse struct {
	RunInfo RunInfo `json:"run_info"`
}

// DeleteRunRequest is the body of runs/delete.
type DeleteRunRequest struct {
	RunID string `json:"run_id"`
}

// RestoreRunRequest is the body of runs/restore.
type RestoreRunRequest struct {
	RunID string `json:"run_id"`
}

// SearchRunsRequest is the body of runs/search. RunViewType is ACTIVE_ONLY (the
// default), DELETED_ONLY or ALL; MaxResults defaults to 1000 and may be at most 50000.
type SearchRunsRequest struct {
	ExperimentIDs []string `json:"experiment_ids,omitempty"`
	Filter        string   `json:"filter,omitempty"`
	RunViewType   string   `json:"run_view_type,omitempty"`
	MaxResults    int64    `json:"max_results,omitempty"`
	OrderBy       []string `json:"order_by,omitempty"`
	PageToken     string   `json:"page_token,omitempty"`
}

// SearchRunsResponse answers runs/search.
type SearchRunsResponse struct {
	Runs          []Run  `json:"runs,omitempty"`
	NextPageToken string `json:"next_page_token,omitempty"`
}

// LogMetricRequest is the body of runs/log-metric (timestamp is required).
type LogMetricRequest struct {
	RunID     string `json:"run_id,omitempty"`
	RunUUID   string `json:"run_uuid,omitempty"`
	Key       string `json:"key"`
	Value     Float  `json:"value"`
	Timestamp int64  `json:"timestamp"`
	Step      int64  `json:"step"`
	// MLflow 3: the logged model and data set the value is about.
	ModelID       string `json:"model_id,omitempty"`
	DatasetName   string `json:"dataset_name,omitempty"`
	DatasetDigest string `json:"dataset_digest,omitempty"`
}

// LogParamRequest is the body of runs/log-parameter.
type LogParamRequest struct {
	RunID   string `json:"run_id,omitempty"`
	RunUUID string `json:"run_uuid,omitempty"`
	Key     string `json:"key"`
	Value   string `json:"value"`
}

// SetTagRequest is the body of runs/set-tag.
type SetTagRequest struct {
	RunID   string `json:"run_id,omitempty"`
	RunUUID string `json:"run_uuid,omitempty"`
	Key     string `json:"key"`
	Value   string `json:"value"`
}

// DeleteTagRequest is the body of runs/delete-tag.
type DeleteTagRequest struct {
	RunID string `json:"run_id"`
	Key   string `json:"key"`
}

// LogBatchRequest is the body of runs/log-batch.
type LogBatchRequest struct {
	RunID   string   `json:"run_id"`
	Metrics []Metric `json:"metrics,omitempty"`
	Params  []Param  `json:"params,omitempty"`
	Tags    []Tag    `json:"tags,omitempty"`
}

// LogModelRequest is the body of runs/log-model: ModelJSON is the MLmodel file as
// a JSON object in a string.
type LogModelRequest struct {
	RunID     string `json:"run_id"`
	ModelJSON string `json:"model_json"`
}

// LogInputsRequest is the body of runs/log-inputs.
type LogInputsRequest struct {
	RunID    string         `json:"run_id"`
	Datasets []DatasetInput `json:"datasets,omitempty"`
}

// SearchDatasetsRequest is the body of experiments/search-datasets, which the
// MLflow UI calls for its data set filter.
type SearchDatasetsRequest struct {
	ExperimentIDs []string `json:"experiment_ids,omitempty"`
}

// SearchDatasetsResponse answers experiments/search-datasets.
type SearchDatasetsResponse struct {
	DatasetSummaries []DatasetSummary `json:"dataset_summaries,omitempty"`
}

// GetMetricHistoryRequest is the query of metrics/get-history.
type GetMetricHistoryRequest struct {
	RunID      string `json:"run_id,omitempty"`
	RunUUID    string `json:"run_uuid,omitempty"`
	MetricKey  string `json:"metric_key"`
	PageToken  string `json:"page_token,omitempty"`
	MaxResults int64  `json:"max_results,omitempty"`
}

// GetMetricHistoryResponse answers metrics/get-history.
type GetMetricHistoryResponse struct {
	Metrics       []Metric `json:"metrics,omitempty"`
	NextPageToken string   `json:"next_page_token,omitempty"`
}

// GetMetricHistoryBulkIntervalRequest is the query of
// metrics/get-history-bulk-interval: up to 100 runs, steps in [StartStep, EndStep]
// when given (both or neither), about MaxResults steps (1 to 2500, default 2500).
type GetMetricHistoryBulkIntervalRequest struct {
	RunIDs     []string `json:"run_ids"`
	MetricKey  string   `json:"metric_key"`
	StartStep  *int64   `json:"start_step,omitempty"`
	EndStep    *int64   `json:"end_step,omitempty"`
	MaxResults int64    `json:"max_results,omitempty"`
}

// GetMetricHistoryBulkIntervalResponse answers metrics/get-history-bulk-interval.
type GetMetricHistoryBulkIntervalResponse struct {
	Metrics []MetricWithRunID `json:"metrics,omitempty"`
}

// ListArtifactsRequest is the query of artifacts/list.
type ListArtifactsRequest struct {
	RunID     string `json:"run_id,omitempty"`
	RunUUID   string `json:"run_uuid,omitempty"`
	Path      string `json:"path,omitempty"`
	PageToken string `json:"page_token,omitempty"`
}

// ListArtifactsResponse answers artifacts/list: paths relative to the run's root.
type ListArtifactsResponse struct {
	RootURI       string     `json:"root_uri,omitempty"`
	Files         []FileInfo `json:"files,omitempty"`
	NextPageToken string     `json:"next_page_token,omitempty"`
}

// Registered models.

// CreateRegisteredModelRequest is the body of registered-models/create.
type CreateRegisteredModelRequest struct {
	Name        string `json:"name"`
	Tags        []Tag  `json:"tags,omitempty"`
	Description string `json:"description,omitempty"`
}

// RegisteredModelResponse answers registered-models/create, get, rename and update.
type RegisteredModelResponse struct {
	RegisteredModel RegisteredModel `json:"registered_model"`
}

// GetRegisteredModelRequest is the query of registered-models/get.
type GetRegisteredModelRequest struct {
	Name string `json:"name"`
}

// RenameRegisteredModelRequest is the body of registered-models/rename.
type RenameRegisteredModelRequest struct {
	Name    string `json:"name"`
	NewName string `json:"new_name"`
}

// UpdateRegisteredModelRequest is the body of registered-models/update (PATCH).
type UpdateRegisteredModelRequest struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

// DeleteRegisteredModelRequest is the body of registered-models/delete (DELETE).
type DeleteRegisteredModelRequest struct {
	Name string `json:"name"`
}

// SearchRegisteredModelsRequest is the query of registered-models/search.
type SearchRegisteredModelsRequest struct {
	Filter     string   `json:"filter,omitempty"`
	MaxResults int64    `json:"max_results,omitempty"`
	OrderBy    []string `json:"order_by,omitempty"`
	PageToken  string   `json:"page_token,omitempty"`
}

// SearchRegisteredModelsResponse answers registered-models/search.
type SearchRegisteredModelsResponse struct {
	RegisteredModels []RegisteredModel `json:"registered_models,omitempty"`
	NextPageToken    string            `json:"next_page_token,omitempty"`
}

// SetRegisteredModelTagRequest is the body of registered-models/set-tag.
type SetRegisteredModelTagRequest struct {
	Name  string `json:"name"`
	Key   string `json:"key"`
	Value string `json:"value"`
}

// DeleteRegisteredModelTagRequest is the body of registered-models/delete-tag (DELETE).
type DeleteRegisteredModelTagRequest struct {
	Name string `json:"name"`
	Key  string `json:"key"`
}

// GetLatestVersionsRequest is the body (POST) or query (GET) of
// registered-models/get-latest-versions; no stages means every stage.
type GetLatestVersionsRequest struct {
	Name   string   `json:"name"`
	Stages []string `json:"stages,omitempty"`
}

// ModelVersionsResponse answers registered-models/get-latest-versions.
type ModelVersionsResponse struct {
	ModelVersions []ModelVersion `json:"model_versions,omitempty"`
}

// SetRegisteredModelAliasRequest is the body of POST registered-models/alias.
type SetRegisteredModelAliasRequest struct {
	Name    string `json:"name"`
	Alias   string `json:"alias"`
	Version string `json:"version"`
}

// DeleteRegisteredModelAliasRequest is the body of DELETE registered-models/alias.
type DeleteRegisteredModelAliasRequest struct {
	Name  string `json:"name"`
	Alias string `json:"alias"`
}

// GetModelVersionByAliasRequest is the query of GET registered-models/alias.
type GetModelVersionByAliasRequest struct {
	Name  string `json:"name"`
	Alias string `json:"alias"`
}

// Model versions.

// CreateModelVersionRequest is the body of model-versions/create.
type CreateModelVersionRequest struct {
	Name        string `json:"name"`
	Source      string `json:"source"`
	RunID       string `json:"run_id,omitempty"`
	Tags        []Tag  `json:"tags,omitempty"`
	RunLink     string `json:"run_link,omitempty"`
	Description string `json:"description,omitempty"`
	ModelID     string `json:"model_id,omitempty"` // MLflow 3
}

// ModelVersionResponse answers model-versions/create, get, update,
// transition-stage and GET registered-models/alias.
type ModelVersionResponse struct {
	ModelVersion ModelVersion `json:"model_version"`
}

// GetModelVersionRequest is the query of model-versions/get.
type GetModelVersionRequest struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// UpdateModelVersionRequest is the body of model-versions/update (PATCH).
type UpdateModelVersionRequest struct {
	Name        string `json:"name"`
	Version     string `json:"version"`
	Description string `json:"description,omitempty"`
}

// DeleteModelVersionRequest is the body of model-versions/delete (DELETE).
type DeleteModelVersionRequest struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// SearchModelVersionsRequest is the query of model-versions/search.
type SearchModelVersionsRequest struct {
	Filter     string   `json:"filter,omitempty"`
	MaxResults int64    `json:"max_results,omitempty"`
	OrderBy    []string `json:"order_by,omitempty"`
	PageToken  string   `json:"page_token,omitempty"`
}

// SearchModelVersionsResponse answers model-versions/search.
type SearchModelVersionsResponse struct {
	ModelVersions []ModelVersion `json:"model_versions,omitempty"`
	NextPageToken string         `json:"next_page_token,omitempty"`
}

// TransitionModelVersionStageRequest is the body of model-versions/transition-stage.
// Stage is case-insensitive.
type TransitionModelVersionStageRequest struct {
	Name                    string `json:"name"`
	Version                 string `json:"version"`
	Stage                   string `json:"stage"`
	ArchiveExistingVersions bool   `json:"archive_existing_versions"`
}

// SetModelVersionTagRequest is the body of model-versions/set-tag.
type SetModelVersionTagRequest struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Key     string `json:"key"`
	Value   string `json:"value"`
}

// DeleteModelVersionTagRequest is the body of model-versions/delete-tag (DELETE).
type DeleteModelVersionTagRequest struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Key     string `json:"key"`
}

// GetModelVersionDownloadURIRequest is the query of model-versions/get-download-uri.
type GetModelVersionDownloadURIRequest struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// GetModelVersionDownloadURIResponse answers model-versions/get-download-uri.
type GetModelVersionDownloadURIResponse struct {
	ArtifactURI string `json:"artifact_uri"`
}

// Proxied artifacts.

// ListProxiedArtifactsResponse answers GET mlflow-artifacts/artifacts?path=:
// paths relative to the listed directory.
type ListProxiedArtifactsResponse struct {
	Files []FileInfo `json:"files,omitempty"`
}

// CreateMultipartUploadRequest is the body of mlflow-artifacts/mpu/create/<path>.
type CreateMultipartUploadRequest struct {
	Path     string `json:"path"`
	NumParts int64  `json:"num_parts"`
}

// MultipartUploadCredential is where to PUT one part.
type MultipartUploadCredential struct {
	URL        string            `json:"url"`
	PartNumber int64             `json:"part_number"`
	Headers    map[string]string `json:"headers,omitempty"`
}

// CreateMultipartUploadResponse answers mlflow-artifacts/mpu/create.
type CreateMultipartUploadResponse struct {
	UploadID    string                      `json:"upload_id,omitempty"`
	Credentials []MultipartUploadCredential `json:"credentials,omitempty"`
}

// MultipartUploadPart is one uploaded part.
type MultipartUploadPart struct {
	PartNumber int64  `json:"part_number"`
	ETag       string `json:"etag"`
	URL        string `json:"url,omitempty"`
}

// CompleteMultipartUploadRequest is the body of mlflow-artifacts/mpu/complete/<path>.
type CompleteMultipartUploadRequest struct {
	Path     string                `json:"path"`
	UploadID string                `json:"upload_id"`
	Parts    []MultipartUploadPart `json:"parts,omitempty"`
}

// AbortMultipartUploadRequest is the body of mlflow-artifacts/mpu/abort/<path>.
type AbortMultipartUploadRequest struct {
	Path     string `json:"path"`
	UploadID string `json:"upload_id"`
}
