package server

import (
	"net/http"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/wire"
)

func handleCreateRegisteredModel(store tracking.RegistryStore) endpoint {
	return func(w http.ResponseWriter, r *http.Request) error {
		var req wire.CreateRegisteredModelRequest
		if _, err := decode(r, &req, "name"); err != nil {
			return err
		}
		rm, err := store.CreateRegisteredModel(r.Context(), req.Name, req.Description, wire.TagsToDomain(req.Tags))
		if err != nil {
			return err
		}
		return encode(w, wire.RegisteredModelResponse{RegisteredModel: wire.RegisteredModelFromDomain(*rm)})
	}
}

func handleGetRegisteredModel(store tracking.RegistryStore) endpoint {
	return func(w http.ResponseWriter, r *http.Request) error {
		var req wire.GetRegisteredModelRequest
		if _, err := decode(r, &req, "name"); err != nil {
			return err
		}
		rm, err := store.GetRegisteredModel(r.Context(), req.Name)
		if err != nil {
			return err
		}
		return encode(w, wire.RegisteredModelResponse{RegisteredModel: wire.RegisteredModelFromDomain(*rm)})
	}
}

func handleSearchRegisteredModels(store tracking.RegistryStore) endpoint {
	return func(w http.ResponseWriter, r *http.Request) error {
		var req wire.SearchRegisteredModelsRequest
		f, err := decode(r, &req)
		if err != nil {
			return err
		}
		if req.MaxResults < 0 {
			return invalidValue("max_results", f["max_results"])
		}
		page, err := store.SearchRegisteredModels(r.Context(), tracking.ModelQuery{
			Filter: req.Filter, OrderBy: req.OrderBy, MaxResults: int(req.MaxResults), PageToken: req.PageToken,
		})
		if err != nil {
			return err
		}
		return encode(w, wire.SearchRegisteredModelsResponse{
			RegisteredModels: wire.RegisteredModelsFromDomain(page.Items),
			NextPageToken:    page.NextPageToken,
		})
	}
}

func handleRenameRegisteredModel(store tracking.RegistryStore) endpoint {
	return func(w http.ResponseWriter, r *http.Request) error {
		var req wire.RenameRegisteredModelRequest
		if _, err := decode(r, &req, "name", "new_name"); err != nil {
			return err
		}
		rm, err := store.RenameRegisteredModel(r.Context(), req.Name, req.NewName)
		if err != nil {
			return err
		}
		return encode(w, wire.RegisteredModelResponse{RegisteredModel: wire.RegisteredModelFromDomain(*rm)})
	}
}

func handleUpdateRegisteredModel(store tracking.RegistryStore) endpoint {
	return func(w http.ResponseWriter, r *http.Request) error {
		var req wire.UpdateRegisteredModelRequest
		if _, err := decode(r, &req, "name"); err != nil {
			return err
		}
		rm, err := store.UpdateRegisteredModel(r.Context(), req.Name, req.Description)
		if err != nil {
			return err
		}
		return encode(w, wire.RegisteredModelResponse{RegisteredModel: wire.RegisteredModelFromDomain(*rm)})
	}
}

func handleDeleteRegisteredModel(store tracking.RegistryStore) endpoint {
	return func(w http.ResponseWriter, r *http.Request) error {
		var req wire.DeleteRegisteredModelRequest
		if _, err := decode(r, &req, "name"); err != nil {
			return err
		}
		if err := store.DeleteRegisteredModel(r.Context(), req.Name); err != nil {
			return err
		}
		return encode(w, wire.Empty{})
	}
}

func handleSetRegisteredModelTag(store tracking.RegistryStore) endpoint {
	return func(w http.ResponseWriter, r *http.Request) error {
		var req wire.SetRegisteredModelTagRequest
		if _, err := decode(r, &req, "name", "key"); err != nil {
			return err
		}
		if err := store.SetRegisteredModelTag(r.Context(), req.Name, req.Key, req.Value); err != nil {
			return err
		}
		return encode(w, wire.Empty{})
	}
}

func handleDeleteRegisteredModelTag(store tracking.RegistryStore) endpoint {
	return func(w http.ResponseWriter, r *http.Request) error {
		var req wire.DeleteRegisteredModelTagRequest
		if _, err := decode(r, &req, "name", "key"); err != nil {
			return err
		}
		if err := store.DeleteRegisteredModelTag(r.Context(), req.Name, req.Key); err != nil {
			return err
		}
		return encode(w, wire.Empty{})
	}
}

func handleGetLatestVersions(store tracking.RegistryStore) endpoint {
	return func(w http.ResponseWriter, r *http.Request) error {
		var req wire.GetLatestVersionsRequest
		if _, err := decode(r, &req, "name"); err != nil {
			return err
		}
		var stages []tracking.Stage
		for _, s := range req.Stages {
			st, err := tracking.ParseStage(s)
			if err != nil {
				return err
			}
			stages = append(stages, st)
		}
		mvs, err := store.GetLatestVersions(r.Context(), req.Name, stages)
		if err != nil {
			return err
		}
		return encode(w, wire.ModelVersionsResponse{ModelVersions: wire.ModelVersionsFromDomain(mvs)})
	}
}

func handleSetRegisteredModelAlias(store tracking.RegistryStore) endpoint {
	return func(w http.ResponseWriter, r *http.Request) error {
		var req wire.SetRegisteredModelAliasRequest
		if _, err := decode(r, &req, "name", "alias", "version"); err != nil {
			return err
		}
		if err := store.SetRegisteredModelAlias(r.Context(), req.Name, req.Alias, req.Version); err != nil {
			return err
		}
		return encode(w, wire.Empty{})
	}
}

func handleDeleteRegisteredModelAlias(store tracking.RegistryStore) endpoint {
	return func(w http.ResponseWriter, r *http.Request) error {
		var req wire.DeleteRegisteredModelAliasRequest
		if _, err := decode(r, &req, "name", "alias"); err != nil {
			return err
		}
		if err := store.DeleteRegisteredModelAlias(r.Context(), req.Name, req.Alias); err != nil {
			return err
		}
		return encode(w, wire.Empty{})
	}
}

func handleGetModelVersionByAlias(store tracking.RegistryStore) endpoint {
	return func(w http.ResponseWriter, r *http.Request) error {
		var req wire.GetModelVersionByAliasRequest
		if _, err := decode(r, &req, "name", "alias"); err != nil {
			return err
		}
		mv, err := store.GetModelVersionByAlias(r.Context(), req.Name, req.Alias)
		if err != nil {
			return err
		}
		return encode(w, wire.ModelVersionResponse{ModelVersion: wire.ModelVersionFromDomain(*mv)})
	}
}

// handleCreateModelVersion registers a version. sources, when non-nil, is
// what every source must match (MLflow 3's
// MLFLOW_CREATE_MODEL_VERSION_SOURCE_VALIDATION_REGEX, searched anywhere in the
// source as Python's re.search does), checked before MLflow's own rules. It
// also takes MLflow 3's model_id, when the server keeps logged models: the
// source is checked against the model's artifact location instead of the
// run's, and the model's mlflow.modelVersions tag names the new version.
func handleCreateModelVersion(store tracking.Store, sources *regexp.Regexp, models tracking.LoggedModelStore) endpoint {
	return func(w http.ResponseWriter, r *http.Request) error {
		var req wire.CreateModelVersionRequest
		if _, err := decode(r, &req, "name", "source"); err != nil {
			return err
		}
		if sources != nil && !sources.MatchString(req.Source) {
			return tracking.Errorf(tracking.ErrInvalidParameterValue, "Invalid model version source: '%s'.", req.Source)
		}
		modelID := req.ModelID
		if models == nil {
			modelID = ""
		}
		validate := validateSource
		if isPromptRequest(req.Tags) {
			validate = validatePromptSource
		}
		if modelID != "" {
			if err := validateModelSource(r, models, req.Source, modelID); err != nil {
				return err
			}
		} else if err := validate(r, store, req.Source, req.RunID); err != nil {
			return err
		}
		mv, err := store.CreateModelVersion(r.Context(), tracking.CreateModelVersion{
			Name:        req.Name,
			Source:      req.Source,
			RunID:       req.RunID,
			Tags:        wire.TagsToDomain(req.Tags),
			RunLink:     req.RunLink,
			Description: req.Description,
			ModelID:     modelID,
		})
		if err != nil {
			return err
		}
		if modelID != "" {
			if err := linkModelVersion(r, models, modelID, mv.Name, mv.Version); err != nil {
				return err
			}
		}
		return encode(w, wire.ModelVersionResponse{ModelVersion: wire.ModelVersionFromDomain(*mv)})
	}
}

// isPromptRequest reports whether a new version is one of MLflow 3's prompt
// versions: it carries the prompt tag, whatever its value (MLflow 3.11.1's
// _is_prompt_request).
func isPromptRequest(tags []wire.Tag) bool {
	for _, t := range tags {
		if t.Key == tracking.PromptTagKey {
			return true
		}
	}
	return false
}

// validatePromptSource is MLflow 3.11.1's rule for a prompt version's source,
// which names no model files (MLflow 3's client sends "dummy-source"): no local
// path (a file: URI or an absolute path), and a URI with a scheme must hold no
// relative path parts; a schemeless placeholder is fine. The run is not looked at.
func validatePromptSource(_ *http.Request, _ tracking.RunStore, source, _ string) error {
	scheme := tracking.ParseURI(source).Scheme
	if scheme == "file" || scheme == "" && strings.HasPrefix(source, "/") {
		return tracking.Errorf(tracking.ErrInvalidParameterValue,
			"Invalid prompt source: '%s'. Local source paths are not allowed for prompts.", source)
	}
	if scheme != "" {
		return validateRemoteSource(source)
	}
	return nil
}

// validateModelSource is validateSource for a version made from a logged
// model (MLflow 3's _validate_source_model): a local source must lie inside
// the model's artifact location.
func validateModelSource(r *http.Request, models tracking.LoggedModelStore, source, modelID string) error {
	local, err := tracking.IsLocalURI(source)
	if err != nil {
		return err
	}
	if !local {
		return validateRemoteSource(source)
	}
	m, err := models.GetLoggedModel(r.Context(), modelID, false)
	if err != nil {
		return err
	}
	src := resolvePath(tracking.LocalURIToPath(source))
	artifactsLocal, err := tracking.IsLocalURI(m.ArtifactLocation)
	if err != nil {
		return err
	}
	if artifactsLocal {
		dir := resolvePath(tracking.LocalURIToPath(m.ArtifactLocation))
		if src == dir || strings.HasPrefix(src, strings.TrimSuffix(dir, "/")+"/") {
			return nil
		}
	}
	return tracking.Errorf(tracking.ErrInvalidParameterValue,
		"Invalid model version source: '%s'. To use a local path as a model version source, the model_id request parameter has to be specified and the local path has to be contained within the artifact directory of the run specified by the model_id.", src)
}

// validateSource applies MLflow's rules on model version sources (its handler's
// _validate_source): a local path or file: URI must lie inside the artifact
// directory of the run given with it (both resolved, symlinks followed); a
// file: URI naming another host is MLflow's INTERNAL_ERROR; any other source
// must hold an absolute path without "..", "." or NUL, even once
// percent-decoded (as often as it decodes).
func validateSource(r *http.Request, runs tracking.RunStore, source, runID string) error {
	local, err := tracking.IsLocalURI(source)
	if err != nil {
		return err
	}
	if !local {
		return validateRemoteSource(source)
	}
	shown := source
	if runID != "" {
		run, err := runs.GetRun(r.Context(), runID)
		if err != nil {
			return err
		}
		src := resolvePath(tracking.LocalURIToPath(source))
		shown = src // MLflow's message names the resolved path
		artifactsLocal, err := tracking.IsLocalURI(run.Info.ArtifactURI)
		if err != nil {
			return err
		}
		if artifactsLocal {
			dir := resolvePath(tracking.LocalURIToPath(run.Info.ArtifactURI))
			if src == dir || strings.HasPrefix(src, strings.TrimSuffix(dir, "/")+"/") {
				return nil
			}
		}
	}
	return tracking.Errorf(tracking.ErrInvalidParameterValue,
		"Invalid model version source: '%s'. To use a local path as a model version source, the run_id request parameter has to be specified and the local path has to be contained within the artifact directory of the run specified by the run_id.", shown)
}

// validateRemoteSource is MLflow's _validate_non_local_source_contains_relative_paths,
// except that the path is checked lexically: MLflow resolves it against the
// server's own file system (pathlib's resolve), so that a source such as
// s3://bucket/tmp/m is refused wherever /tmp is a symlink on the server. Here the
// server's files say nothing about another store's paths.
func validateRemoteSource(source string) error {
	s := source
	for u := tracking.Unquote(s, true); u != s; u = tracking.Unquote(s, true) {
		s = u
	}
	p := collapseSlashes(strings.TrimRight(tracking.ParseURI(s).Path, "/"))
	if strings.Contains(p, "\x00") || slices.Contains(strings.Split(s, "/"), "..") || !path.IsAbs(p) || path.Clean(p) != p {
		return tracking.Errorf(tracking.ErrInvalidParameterValue,
			"Invalid model version source: '%s'. If supplying a source as an http, https, local file path, ftp, objectstore, or mlflow-artifacts uri, an absolute path must be provided without relative path references present. Please provide an absolute path.", source)
	}
	return nil
}

func collapseSlashes(p string) string {
	for strings.Contains(p, "//") {
		p = strings.ReplaceAll(p, "//", "/")
	}
	return p
}

// resolvePath is Python's pathlib resolve (not strict): absolute, cleaned, and
// the symlinks of the part that exists followed.
func resolvePath(p string) string {
	abs, err := filepath.Abs(p)
	if err != nil {
		return filepath.Clean(p)
	}
	rest := ""
	for dir := abs; ; dir = filepath.Dir(dir) {
		if real, err := filepath.EvalSymlinks(dir); err == nil {
			return filepath.Join(real, rest)
		}
		if dir == filepath.Dir(dir) {
			return abs
		}
		rest = filepath.Join(filepath.Base(dir), rest)
	}
}

func handleGetModelVersion(store tracking.RegistryStore) endpoint {
	return func(w http.ResponseWriter, r *http.Request) error {
		var req wire.GetModelVersionRequest
		if _, err := decode(r, &req, "name", "version"); err != nil {
			return err
		}
		mv, err := store.GetModelVersion(r.Context(), req.Name, req.Version)
		if err != nil {
			return err
		}
		return encode(w, wire.ModelVersionResponse{ModelVersion: wire.ModelVersionFromDomain(*mv)})
	}
}

func handleSearchModelVersions(store tracking.RegistryStore) endpoint {
	return func(w http.ResponseWriter, r *http.Request) error {
		var req wire.SearchModelVersionsRequest
		f, err := decode(r, &req)
		if err != nil {
			return err
		}
		if req.MaxResults < 0 {
			return invalidValue("max_results", f["max_results"])
		}
		page, err := store.SearchModelVersions(r.Context(), tracking.ModelQuery{
			Filter: req.Filter, OrderBy: req.OrderBy, MaxResults: int(req.MaxResults), PageToken: req.PageToken,
		})
		if err != nil {
			return err
		}
		return encode(w, wire.SearchModelVersionsResponse{
			ModelVersions: wire.ModelVersionsFromDomain(page.Items),
			NextPageToken: page.NextPageToken,
		})
	}
}

func handleUpdateModelVersion(store tracking.RegistryStore) endpoint {
	return func(w http.ResponseWriter, r *http.Request) error {
		var req wire.UpdateModelVersionRequest
		if _, err := decode(r, &req, "name", "version"); err != nil {
			return err
		}
		mv, err := store.UpdateModelVersion(r.Context(), req.Name, req.Version, req.Description)
		if err != nil {
			return err
		}
		return encode(w, wire.ModelVersionResponse{ModelVersion: wire.ModelVersionFromDomain(*mv)})
	}
}

func handleDeleteModelVersion(store tracking.RegistryStore) endpoint {
	return func(w http.ResponseWriter, r *http.Request) error {
		var req wire.DeleteModelVersionRequest
		if _, err := decode(r, &req, "name", "version"); err != nil {
			return err
		}
		if err := store.DeleteModelVersion(r.Context(), req.Name, req.Version); err != nil {
			return err
		}
		return encode(w, wire.Empty{})
	}
}

func handleTransitionModelVersionStage(store tracking.RegistryStore) endpoint {
	return func(w http.ResponseWriter, r *http.Request) error {
		var req wire.TransitionModelVersionStageRequest
		if _, err := decode(r, &req, "name", "version", "stage"); err != nil {
			return err
		}
		stage, err := tracking.ParseStage(req.Stage)
		if err != nil {
			return err
		}
		mv, err := store.TransitionModelVersionStage(r.Context(), req.Name, req.Version, stage, req.ArchiveExistingVersions)
		if err != nil {
			return err
		}
		return encode(w, wire.ModelVersionResponse{ModelVersion: wire.ModelVersionFromDomain(*mv)})
	}
}

func handleSetModelVersionTag(store tracking.RegistryStore) endpoint {
	return func(w http.ResponseWriter, r *http.Request) error {
		var req wire.SetModelVersionTagRequest
		if _, err := decode(r, &req, "name", "version", "key"); err != nil {
			return err
		}
		if err := store.SetModelVersionTag(r.Context(), req.Name, req.Version, req.Key, req.Value); err != nil {
			return err
		}
		return encode(w, wire.Empty{})
	}
}

func handleDeleteModelVersionTag(store tracking.RegistryStore) endpoint {
	return func(w http.ResponseWriter, r *http.Request) error {
		var req wire.DeleteModelVersionTagRequest
		if _, err := decode(r, &req, "name", "version", "key"); err != nil {
			return err
		}
		if err := store.DeleteModelVersionTag(r.Context(), req.Name, req.Version, req.Key); err != nil {
			return err
		}
		return encode(w, wire.Empty{})
	}
}

func handleGetModelVersionDownloadURI(store tracking.Store) endpoint {
	return func(w http.ResponseWriter, r *http.Request) error {
		var req wire.GetModelVersionDownloadURIRequest
		if _, err := decode(r, &req, "name", "version"); err != nil {
			return err
		}
		uri, err := store.GetModelVersionDownloadURI(r.Context(), req.Name, req.Version)
		if err != nil {
			return err
		}
		return encode(w, wire.GetModelVersionDownloadURIResponse{ArtifactURI: uri})
	}
}

// modelVersionArtifactURI is where a model version's files are: its download
// URI, with runs:/<id>/<path> resolved against the run's artifact URI (MLflow
// opens such a URI with its runs:/ repository).
func modelVersionArtifactURI(r *http.Request, store tracking.Store, name, version string) (string, error) {
	uri, err := store.GetModelVersionDownloadURI(r.Context(), name, version)
	if err != nil {
		return "", err
	}
	rest, ok := strings.CutPrefix(uri, "runs:/")
	if !ok {
		return uri, nil
	}
	id, p, _ := strings.Cut(rest, "/")
	run, err := store.GetRun(r.Context(), id)
	if err != nil {
		return "", err
	}
	if p == "" {
		return run.Info.ArtifactURI, nil
	}
	return strings.TrimRight(run.Info.ArtifactURI, "/") + "/" + path.Clean(p), nil
}
