package server

import (
	"net/http"
	"net/url"
	"path"
	"path/filepath"
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

func handleCreateModelVersion(store tracking.Store) endpoint {
	return func(w http.ResponseWriter, r *http.Request) error {
		var req wire.CreateModelVersionRequest
		if _, err := decode(r, &req, "name", "source"); err != nil {
			return err
		}
		if err := validateSource(r, store, req.Source, req.RunID); err != nil {
			return err
		}
		mv, err := store.CreateModelVersion(r.Context(), tracking.CreateModelVersion{
			Name:        req.Name,
			Source:      req.Source,
			RunID:       req.RunID,
			Tags:        wire.TagsToDomain(req.Tags),
			RunLink:     req.RunLink,
			Description: req.Description,
		})
		if err != nil {
			return err
		}
		return encode(w, wire.ModelVersionResponse{ModelVersion: wire.ModelVersionFromDomain(*mv)})
	}
}

// validateSource applies MLflow's rules on model version sources: a local path
// must lie inside the artifact directory of the run given with it, and no source
// may climb out of its directory with "..".
func validateSource(r *http.Request, runs tracking.RunStore, source, runID string) error {
	if local, ok := localPath(source); ok {
		if runID != "" {
			run, err := runs.GetRun(r.Context(), runID)
			if err != nil {
				return err
			}
			if root, ok := localPath(run.Info.ArtifactURI); ok {
				src, dir := filepath.Clean(local), filepath.Clean(root)
				if src == dir || strings.HasPrefix(src, dir+string(filepath.Separator)) {
					return nil
				}
			}
		}
		return tracking.Errorf(tracking.ErrInvalidParameterValue,
			"Invalid model version source: '%s'. To use a local path as a model version source, the run_id request parameter has to be specified and the local path has to be contained within the artifact directory of the run specified by the run_id.", source)
	}
	p := source
	if u, err := url.Parse(source); err == nil {
		p = u.Path
	}
	if unescaped, err := url.PathUnescape(p); err == nil {
		p = unescaped
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == ".." {
			return tracking.Errorf(tracking.ErrInvalidParameterValue,
				"Invalid model version source: '%s'. If supplying a source as an http, https, local file path, ftp, objectstore, or mlflow-artifacts uri, an absolute path without relative path references must be supplied.", source)
		}
	}
	return nil
}

// localPath returns the file path of a plain path or file: URI.
func localPath(uri string) (string, bool) {
	scheme, rest, ok := strings.Cut(uri, ":")
	if !ok || len(scheme) == 1 || strings.ContainsAny(scheme, "/\\") {
		return uri, true
	}
	if !strings.EqualFold(scheme, "file") {
		return "", false
	}
	if u, err := url.Parse(uri); err == nil && u.Path != "" {
		return u.Path, true
	}
	return strings.TrimPrefix(rest, "//"), true
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
		uri, err := modelVersionArtifactURI(r, store, req.Name, req.Version)
		if err != nil {
			return err
		}
		return encode(w, wire.GetModelVersionDownloadURIResponse{ArtifactURI: uri})
	}
}

// modelVersionArtifactURI is where a model version's files are: its source, with
// runs:/<id>/<path> resolved against the run's artifact URI, as MLflow's SQL
// store keeps it in storage_location.
func modelVersionArtifactURI(r *http.Request, store tracking.Store, name, version string) (string, error) {
	mv, err := store.GetModelVersion(r.Context(), name, version)
	if err != nil {
		return "", err
	}
	rest, ok := strings.CutPrefix(mv.Source, "runs:/")
	if !ok {
		return mv.Source, nil
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
