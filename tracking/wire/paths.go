package wire

// Path prefixes under which MLflow serves the REST API. The web UI uses the ajax
// prefix; both serve the same endpoints.
const (
	APIPrefix     = "/api/2.0"
	AjaxAPIPrefix = "/ajax-api/2.0"
)

// Endpoint paths, under APIPrefix. The comment on each says its HTTP method(s);
// GET endpoints take their fields as query parameters (lists as repeated
// parameters), the others a JSON body.
const (
	PathCreateExperiment    = APIPrefix + "/mlflow/experiments/create"             // POST
	PathGetExperiment       = APIPrefix + "/mlflow/experiments/get"                // GET
	PathGetExperimentByName = APIPrefix + "/mlflow/experiments/get-by-name"        // GET
	PathSearchExperiments   = APIPrefix + "/mlflow/experiments/search"             // POST, GET
	PathUpdateExperiment    = APIPrefix + "/mlflow/experiments/update"             // POST
	PathDeleteExperiment    = APIPrefix + "/mlflow/experiments/delete"             // POST
	PathRestoreExperiment   = APIPrefix + "/mlflow/experiments/restore"            // POST
	PathSetExperimentTag    = APIPrefix + "/mlflow/experiments/set-experiment-tag" // POST
	PathDeleteExperimentTag = APIPrefix + "/mlflow/experiments/delete-experiment-tag"

	PathCreateRun  = APIPrefix + "/mlflow/runs/create"        // POST
	PathGetRun     = APIPrefix + "/mlflow/runs/get"           // GET
	PathUpdateRun  = APIPrefix + "/mlflow/runs/update"        // POST
	PathDeleteRun  = APIPrefix + "/mlflow/runs/delete"        // POST
	PathRestoreRun = APIPrefix + "/mlflow/runs/restore"       // POST
	PathSearchRuns = APIPrefix + "/mlflow/runs/search"        // POST
	PathLogMetric  = APIPrefix + "/mlflow/runs/log-metric"    // POST
	PathLogParam   = APIPrefix + "/mlflow/runs/log-parameter" // POST
	PathSetTag     = APIPrefix + "/mlflow/runs/set-tag"       // POST
	PathDeleteTag  = APIPrefix + "/mlflow/runs/delete-tag"    // POST
	PathLogBatch   = APIPrefix + "/mlflow/runs/log-batch"     // POST
	PathLogModel   = APIPrefix + "/mlflow/runs/log-model"     // POST
	PathLogInputs  = APIPrefix + "/mlflow/runs/log-inputs"    // POST
	// PathSearchDatasets is not in MLflow's REST documentation; its web UI calls it.
	PathSearchDatasets = APIPrefix + "/mlflow/experiments/search-datasets" // POST
	PathListArtifacts  = APIPrefix + "/mlflow/artifacts/list"              // GET

	PathGetMetricHistory             = APIPrefix + "/mlflow/metrics/get-history"               // GET
	PathGetMetricHistoryBulkInterval = APIPrefix + "/mlflow/metrics/get-history-bulk-interval" // GET

	PathCreateRegisteredModel    = APIPrefix + "/mlflow/registered-models/create"              // POST
	PathGetRegisteredModel       = APIPrefix + "/mlflow/registered-models/get"                 // GET
	PathSearchRegisteredModels   = APIPrefix + "/mlflow/registered-models/search"              // GET
	PathRenameRegisteredModel    = APIPrefix + "/mlflow/registered-models/rename"              // POST
	PathUpdateRegisteredModel    = APIPrefix + "/mlflow/registered-models/update"              // PATCH
	PathDeleteRegisteredModel    = APIPrefix + "/mlflow/registered-models/delete"              // DELETE (JSON body)
	PathSetRegisteredModelTag    = APIPrefix + "/mlflow/registered-models/set-tag"             // POST
	PathDeleteRegisteredModelTag = APIPrefix + "/mlflow/registered-models/delete-tag"          // DELETE (JSON body)
	PathGetLatestVersions        = APIPrefix + "/mlflow/registered-models/get-latest-versions" // POST, GET
	PathRegisteredModelAlias     = APIPrefix + "/mlflow/registered-models/alias"               // POST set, DELETE (JSON body) delete, GET get

	PathCreateModelVersion         = APIPrefix + "/mlflow/model-versions/create"           // POST
	PathGetModelVersion            = APIPrefix + "/mlflow/model-versions/get"              // GET
	PathSearchModelVersions        = APIPrefix + "/mlflow/model-versions/search"           // GET
	PathUpdateModelVersion         = APIPrefix + "/mlflow/model-versions/update"           // PATCH
	PathDeleteModelVersion         = APIPrefix + "/mlflow/model-versions/delete"           // DELETE (JSON body)
	PathTransitionModelVersion     = APIPrefix + "/mlflow/model-versions/transition-stage" // POST
	PathSetModelVersionTag         = APIPrefix + "/mlflow/model-versions/set-tag"          // POST
	PathDeleteModelVersionTag      = APIPrefix + "/mlflow/model-versions/delete-tag"       // DELETE (JSON body)
	PathGetModelVersionDownloadURI = APIPrefix + "/mlflow/model-versions/get-download-uri" // GET

	// PathArtifacts is the proxied artifact store: GET/PUT/DELETE
	// PathArtifacts+"/"+path moves one file; GET PathArtifacts?path=dir lists.
	PathArtifacts = APIPrefix + "/mlflow-artifacts/artifacts"
	// Multipart upload through the proxy: POST PathMultipartCreate+"/"+path, etc.
	PathMultipartCreate   = APIPrefix + "/mlflow-artifacts/mpu/create"
	PathMultipartComplete = APIPrefix + "/mlflow-artifacts/mpu/complete"
	PathMultipartAbort    = APIPrefix + "/mlflow-artifacts/mpu/abort"
)

// Routes outside the API prefixes: the UI's download routes, health and version.
const (
	PathGetArtifact             = "/get-artifact"                // GET ?path=&run_uuid=
	PathGetModelVersionArtifact = "/model-versions/get-artifact" // GET ?path=&name=&version=
	PathHealth                  = "/health"                      // GET: "OK"
	PathVersion                 = "/version"                     // GET: the MLflow version served
)

// MLflowVersion is the MLflow version whose REST API this package speaks.
const MLflowVersion = "2.17.2"

// GraphQL: MLflow's /graphql, at the root only (not under the API prefixes),
// GET and POST, both with a JSON body {"query", "variables", "operationName"}.
const PathGraphQL = "/graphql"

// Traces (MLflow 2.17's tracing API). The single-trace paths put the request
// id in the path: PATCH PathTraces+"/<request_id>" ends a trace, GET
// PathTraces+"/<request_id>/info" reads it, PATCH and DELETE (JSON body)
// PathTraces+"/<request_id>/tags" set and delete a tag.
const (
	PathTraces       = APIPrefix + "/mlflow/traces"               // POST start, GET search
	PathDeleteTraces = APIPrefix + "/mlflow/traces/delete-traces" // POST
	// PathGetTraceArtifact sends a trace's data file (GET ?request_id=); MLflow
	// serves it under the ajax prefix only.
	PathGetTraceArtifact = AjaxAPIPrefix + "/mlflow/get-trace-artifact"
)

// The web UI's own endpoints (ajax-api): MLflow serves these only under
// AjaxAPIPrefix, outside its REST API.
const (
	PathGetMetricHistoryBulk = AjaxAPIPrefix + "/mlflow/metrics/get-history-bulk"  // GET ?run_id=...&metric_key=
	PathUploadArtifact       = AjaxAPIPrefix + "/mlflow/upload-artifact"           // POST ?run_uuid=&path=, the file as the body
	PathCreatePromptlabRun   = AjaxAPIPrefix + "/mlflow/runs/create-promptlab-run" // POST
	PathGatewayProxy         = AjaxAPIPrefix + "/mlflow/gateway-proxy"             // GET, POST
)

// MLflow 3 (server side, no new schema): the server-info endpoint MLflow 3's
// client probes (telemetry, and whether workspaces may be used), served under
// the 3.0 prefixes of both the REST API and the UI's ajax-api.
const (
	PathServerInfo     = "/api/3.0/mlflow/server-info"      // GET
	PathAjaxServerInfo = "/ajax-api/3.0/mlflow/server-info" // GET
)

// WorkspaceHeader is the header MLflow 3's client names its workspace in
// (MLFLOW_WORKSPACE, which Kubeflow Pipelines hands each task).
const WorkspaceHeader = "X-MLflow-Workspace"

// Logged models (MLflow 3). The single-model paths put the id in the path:
// PathLoggedModels+"/<model_id>" (GET get, PATCH finalize, DELETE),
// +"/tags" (PATCH), +"/tags/<key>" (DELETE), +"/params" (POST),
// +"/artifacts/directories" (GET ?artifact_directory_path=).
const (
	PathLoggedModels       = APIPrefix + "/mlflow/logged-models"        // POST create
	PathSearchLoggedModels = APIPrefix + "/mlflow/logged-models/search" // POST
	PathLogOutputs         = APIPrefix + "/mlflow/runs/outputs"         // POST
	// PathLoggedModelArtifactFiles, under PathLoggedModels+"/<model_id>",
	// sends one file (?artifact_file_path=); MLflow serves it under the ajax
	// prefix only.
	PathLoggedModelArtifactFiles = "/artifacts/files"
)
