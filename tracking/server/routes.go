package server

import (
	"net/http"
	"strings"
	"time"

	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/wire"
)

// addRoutes lists the whole API surface. Every API route is mounted under both
// /api/2.0 and /ajax-api/2.0. The mux answers unknown paths 404 and known paths
// with another method 405.
func addRoutes(mux *http.ServeMux, store tracking.Store, artifacts tracking.ArtifactRepository, opts Options) {
	logger := opts.Logger
	roots := artifactRoots{proxied: artifacts, open: opts.OpenArtifactRepository}
	api := func(method, path string, e endpoint) {
		h := limitBody(opts.MaxBodyBytes, serve(logger, e))
		mux.Handle(method+" "+path, h)
		mux.Handle(method+" "+wire.AjaxAPIPrefix+strings.TrimPrefix(path, wire.APIPrefix), h)
	}

	// Experiments.
	api("POST", wire.PathCreateExperiment, handleCreateExperiment(store))
	api("GET", wire.PathGetExperiment, handleGetExperiment(store))
	api("GET", wire.PathGetExperimentByName, handleGetExperimentByName(store))
	api("POST", wire.PathSearchExperiments, handleSearchExperiments(store))
	api("GET", wire.PathSearchExperiments, handleSearchExperiments(store))
	api("POST", wire.PathUpdateExperiment, handleUpdateExperiment(store))
	api("POST", wire.PathDeleteExperiment, handleDeleteExperiment(store))
	api("POST", wire.PathRestoreExperiment, handleRestoreExperiment(store))
	api("POST", wire.PathSetExperimentTag, handleSetExperimentTag(store))
	api("POST", wire.PathDeleteExperimentTag, handleDeleteExperimentTag(store))

	// Runs.
	api("POST", wire.PathCreateRun, handleCreateRun(store))
	api("GET", wire.PathGetRun, handleGetRun(store))
	api("POST", wire.PathUpdateRun, handleUpdateRun(store))
	api("POST", wire.PathDeleteRun, handleDeleteRun(store))
	api("POST", wire.PathRestoreRun, handleRestoreRun(store))
	api("POST", wire.PathSearchRuns, handleSearchRuns(store))
	api("POST", wire.PathLogMetric, handleLogMetric(store))
	api("POST", wire.PathLogParam, handleLogParam(store))
	api("POST", wire.PathSetTag, handleSetTag(store))
	api("POST", wire.PathDeleteTag, handleDeleteTag(store))
	api("POST", wire.PathLogBatch, handleLogBatch(store))
	api("POST", wire.PathLogModel, handleLogModel(store))
	api("POST", wire.PathLogInputs, handleLogInputs(store, opts.LoggedModels))
	api("POST", wire.PathSearchDatasets, handleSearchDatasets(store))
	api("GET", wire.PathGetMetricHistory, handleGetMetricHistory(store))
	api("GET", wire.PathGetMetricHistoryBulkInterval, handleGetMetricHistoryBulkInterval(store))
	api("GET", wire.PathListArtifacts, handleListArtifacts(store, roots))

	// Registered models.
	api("POST", wire.PathCreateRegisteredModel, handleCreateRegisteredModel(store))
	api("GET", wire.PathGetRegisteredModel, handleGetRegisteredModel(store))
	api("GET", wire.PathSearchRegisteredModels, handleSearchRegisteredModels(store))
	api("POST", wire.PathRenameRegisteredModel, handleRenameRegisteredModel(store))
	api("PATCH", wire.PathUpdateRegisteredModel, handleUpdateRegisteredModel(store))
	api("DELETE", wire.PathDeleteRegisteredModel, handleDeleteRegisteredModel(store))
	api("POST", wire.PathSetRegisteredModelTag, handleSetRegisteredModelTag(store))
	api("DELETE", wire.PathDeleteRegisteredModelTag, handleDeleteRegisteredModelTag(store))
	api("POST", wire.PathGetLatestVersions, handleGetLatestVersions(store))
	api("GET", wire.PathGetLatestVersions, handleGetLatestVersions(store))
	api("POST", wire.PathRegisteredModelAlias, handleSetRegisteredModelAlias(store))
	api("DELETE", wire.PathRegisteredModelAlias, handleDeleteRegisteredModelAlias(store))
	api("GET", wire.PathRegisteredModelAlias, handleGetModelVersionByAlias(store))

	// Model versions.
	api("POST", wire.PathCreateModelVersion, handleCreateModelVersion(store, opts.ModelVersionSources, opts.LoggedModels))
	api("GET", wire.PathGetModelVersion, handleGetModelVersion(store))
	api("GET", wire.PathSearchModelVersions, handleSearchModelVersions(store))
	api("PATCH", wire.PathUpdateModelVersion, handleUpdateModelVersion(store))
	api("DELETE", wire.PathDeleteModelVersion, handleDeleteModelVersion(store))
	api("POST", wire.PathTransitionModelVersion, handleTransitionModelVersionStage(store))
	api("POST", wire.PathSetModelVersionTag, handleSetModelVersionTag(store))
	api("DELETE", wire.PathDeleteModelVersionTag, handleDeleteModelVersionTag(store))
	api("GET", wire.PathGetModelVersionDownloadURI, handleGetModelVersionDownloadURI(store))

	// GraphQL: /graphql at the root only, as MLflow 2.17.2 routes it (GET reads a
	// JSON body too), over the same store and artifact roots as the REST API.
	graphql := limitBody(opts.MaxBodyBytes, serve(logger, handleGraphQL(store, roots, logger)))
	mux.Handle("POST "+wire.PathGraphQL, graphql)
	mux.Handle("GET "+wire.PathGraphQL, graphql)

	// Traces: served when the server has a TraceStore (Options.Traces).
	if traces := opts.Traces; traces != nil {
		single := wire.PathTraces + "/{" + requestIDParam + "}"
		api("POST", wire.PathTraces, handleStartTrace(traces))
		api("GET", wire.PathTraces, handleSearchTraces(traces))
		api("PATCH", single, handleEndTrace(traces))
		api("GET", single+"/info", handleGetTraceInfo(traces))
		api("PATCH", single+"/tags", handleSetTraceTag(traces))
		api("DELETE", single+"/tags", handleDeleteTraceTag(traces))
		api("POST", wire.PathDeleteTraces, handleDeleteTraces(traces))
		mux.Handle("GET "+wire.PathGetTraceArtifact, serve(logger, handleGetTraceArtifact(traces, roots)))
	}

	// The web UI's ajax-only endpoints: MLflow serves them under /ajax-api/2.0
	// alone. upload-artifact is streamed, so only MaxArtifactBytes (and MLflow's
	// own 10 MB) bounds it.
	ajax := func(method, path string, e endpoint, max int64) {
		mux.Handle(method+" "+path, limitBody(max, serve(logger, e)))
	}
	ajax("GET", wire.PathGetMetricHistoryBulk, handleGetMetricHistoryBulk(store), opts.MaxBodyBytes)
	ajax("POST", wire.PathUploadArtifact, handleUploadArtifact(store, roots), opts.MaxArtifactBytes)
	ajax("POST", wire.PathCreatePromptlabRun, handleCreatePromptlabRun(store, roots, time.Now), opts.MaxBodyBytes)
	gateway := handleGatewayProxy(opts.DeploymentsTarget, opts.MaxBodyBytes)
	ajax("GET", wire.PathGatewayProxy, gateway, opts.MaxBodyBytes)
	ajax("POST", wire.PathGatewayProxy, gateway, opts.MaxBodyBytes)

	// MLflow 3, server side (no new schema): server-info under both 3.0
	// prefixes. MLflow 3's GenAI APIs (traces v3, assessments, datasets,
	// scorers, prompts, gateway, issues, workspaces, jobs) stay unrouted: their
	// paths answer JSON ENDPOINT_NOT_FOUND, on which MLflow 3's client falls back
	// to the 2.x trace API for traces and only warns elsewhere.
	serverInfo := serve(logger, handleServerInfo(opts.StoreType))
	mux.Handle("GET "+wire.PathServerInfo, serverInfo)
	mux.Handle("GET "+wire.PathAjaxServerInfo, serverInfo)
	if traces := opts.Traces; traces != nil {
		// MLflow 3's client, finding no v3 trace API, reads a trace's info at
		// GET traces/<id>, its 2.x GetTraceInfo path, where MLflow 2.17.2 (and
		// 3.11.1) route only PATCH and answer 405, so that mlflow.get_trace
		// only warns. Deliberately unlike both, it is served as
		// traces/<id>/info, so that the trace is read.
		api("GET", wire.PathTraces+"/{"+requestIDParam+"}", handleGetTraceInfo(traces))
	}

	// Logged models (MLflow 3): served when the server has a LoggedModelStore
	// (Options.LoggedModels).
	if models := opts.LoggedModels; models != nil {
		single := wire.PathLoggedModels + "/{" + modelIDParam + "}"
		api("POST", wire.PathLoggedModels, handleCreateLoggedModel(models))
		api("POST", wire.PathSearchLoggedModels, handleSearchLoggedModels(models))
		api("GET", single, handleGetLoggedModel(models))
		api("PATCH", single, handleFinalizeLoggedModel(models))
		api("DELETE", single, handleDeleteLoggedModel(models))
		api("PATCH", single+"/tags", handleSetLoggedModelTags(models))
		api("DELETE", single+"/tags/{"+tagKeyParam+"}", handleDeleteLoggedModelTag(models))
		api("POST", single+"/params", handleLogLoggedModelParams(models))
		api("GET", single+"/artifacts/directories", handleListLoggedModelArtifacts(models, roots))
		api("POST", wire.PathLogOutputs, handleLogOutputs(models))
		files := wire.AjaxAPIPrefix + strings.TrimPrefix(single, wire.APIPrefix) + wire.PathLoggedModelArtifactFiles
		mux.Handle("GET "+files, serve(logger, handleGetLoggedModelArtifact(models, roots)))
	}

	// Proxied artifacts: streamed, so only MaxArtifactBytes bounds uploads.
	files := func(method, path string, e endpoint, max int64) {
		h := limitBody(max, serve(logger, e))
		mux.Handle(method+" "+path, h)
		mux.Handle(method+" "+wire.AjaxAPIPrefix+strings.TrimPrefix(path, wire.APIPrefix), h)
	}
	files("GET", wire.PathArtifacts, handleListProxiedArtifacts(artifacts), opts.MaxBodyBytes)
	files("GET", wire.PathArtifacts+"/{path...}", handleDownloadProxiedArtifact(artifacts), opts.MaxBodyBytes)
	files("PUT", wire.PathArtifacts+"/{path...}", handleUploadProxiedArtifact(artifacts), opts.MaxArtifactBytes)
	files("DELETE", wire.PathArtifacts+"/{path...}", handleDeleteProxiedArtifact(artifacts), opts.MaxBodyBytes)
	mpu := newMultipart(artifacts, logger, opts.Multipart)
	files("POST", wire.PathMultipartCreate+"/{path...}", mpu.handleCreate(), opts.MaxBodyBytes)
	files("POST", wire.PathMultipartComplete+"/{path...}", mpu.handleComplete(), opts.MaxBodyBytes)
	files("POST", wire.PathMultipartAbort+"/{path...}", mpu.handleAbort(), opts.MaxBodyBytes)
	files("PUT", PathMultipartPart, mpu.handlePart(), opts.MaxArtifactBytes)

	// The UI's download routes, health and version.
	mux.Handle("GET "+wire.PathGetArtifact, serve(logger, handleGetRunArtifact(store, roots)))
	mux.Handle("GET "+wire.PathGetModelVersionArtifact, serve(logger, handleGetModelVersionArtifact(store, roots)))
	mux.Handle("GET "+wire.PathHealth, handleHealth(logger, store))
	mux.Handle("GET "+wire.PathVersion, handleVersion())
}
