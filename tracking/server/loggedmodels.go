package server

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/wire"
)

// modelIDParam and tagKeyParam are the path wildcards of the logged-model
// routes.
const (
	modelIDParam = "model_id"
	tagKeyParam  = "tag_key"
)

func encodeLoggedModel(w http.ResponseWriter, m *tracking.LoggedModel) error {
	wm := wire.LoggedModelFromDomain(*m)
	return encode(w, wire.LoggedModelResponse{Model: &wm})
}

func handleCreateLoggedModel(store tracking.LoggedModelStore) endpoint {
	return func(w http.ResponseWriter, r *http.Request) error {
		var req wire.CreateLoggedModelRequest
		if _, err := decode(r, &req, "experiment_id"); err != nil {
			return err
		}
		m, err := store.CreateLoggedModel(r.Context(), tracking.CreateLoggedModel{
			ExperimentID: req.ExperimentID,
			Name:         req.Name,
			ModelType:    req.ModelType,
			SourceRunID:  req.SourceRunID,
			Params:       wire.ParamsToDomain(req.Params),
			Tags:         wire.TagsToDomain(req.Tags),
		})
		if err != nil {
			return err
		}
		return encodeLoggedModel(w, m)
	}
}

func handleGetLoggedModel(store tracking.LoggedModelStore) endpoint {
	return func(w http.ResponseWriter, r *http.Request) error {
		allowDeleted := strings.EqualFold(r.URL.Query().Get("allow_deleted"), "true")
		m, err := store.GetLoggedModel(r.Context(), r.PathValue(modelIDParam), allowDeleted)
		if err != nil {
			return err
		}
		return encodeLoggedModel(w, m)
	}
}

// handleFinalizeLoggedModel takes the status by name or proto number. The
// body must name the model too, as MLflow requires; the path's id is the one
// finalized.
func handleFinalizeLoggedModel(store tracking.LoggedModelStore) endpoint {
	return func(w http.ResponseWriter, r *http.Request) error {
		var req wire.FinalizeLoggedModelRequest
		f, err := decode(r, &req, "model_id", "status")
		if err != nil {
			return err
		}
		status, err := tracking.ParseLoggedModelStatus(string(req.Status))
		if err != nil {
			return invalidValue("status", f["status"])
		}
		m, err := store.FinalizeLoggedModel(r.Context(), r.PathValue(modelIDParam), status)
		if err != nil {
			return err
		}
		return encodeLoggedModel(w, m)
	}
}

func handleDeleteLoggedModel(store tracking.LoggedModelStore) endpoint {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := store.DeleteLoggedModel(r.Context(), r.PathValue(modelIDParam)); err != nil {
			return err
		}
		return encode(w, wire.Empty{})
	}
}

func handleSetLoggedModelTags(store tracking.LoggedModelStore) endpoint {
	return func(w http.ResponseWriter, r *http.Request) error {
		var req wire.SetLoggedModelTagsRequest
		if _, err := decode(r, &req); err != nil {
			return err
		}
		if err := store.SetLoggedModelTags(r.Context(), r.PathValue(modelIDParam), wire.TagsToDomain(req.Tags)); err != nil {
			return err
		}
		return encode(w, wire.Empty{})
	}
}

func handleDeleteLoggedModelTag(store tracking.LoggedModelStore) endpoint {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := store.DeleteLoggedModelTag(r.Context(), r.PathValue(modelIDParam), r.PathValue(tagKeyParam)); err != nil {
			return err
		}
		return encode(w, wire.Empty{})
	}
}

func handleLogLoggedModelParams(store tracking.LoggedModelStore) endpoint {
	return func(w http.ResponseWriter, r *http.Request) error {
		var req wire.LogLoggedModelParamsRequest
		if _, err := decode(r, &req); err != nil {
			return err
		}
		if err := store.LogLoggedModelParams(r.Context(), r.PathValue(modelIDParam), wire.ParamsToDomain(req.Params)); err != nil {
			return err
		}
		return encode(w, wire.Empty{})
	}
}

func handleSearchLoggedModels(store tracking.LoggedModelStore) endpoint {
	return func(w http.ResponseWriter, r *http.Request) error {
		var req wire.SearchLoggedModelsRequest
		if _, err := decode(r, &req, "experiment_ids"); err != nil {
			return err
		}
		q := tracking.LoggedModelQuery{
			ExperimentIDs: req.ExperimentIDs,
			Filter:        req.Filter,
			MaxResults:    int(req.MaxResults),
			PageToken:     req.PageToken,
		}
		for _, d := range req.Datasets {
			q.Datasets = append(q.Datasets, tracking.LoggedModelDataset{Name: d.DatasetName, Digest: d.DatasetDigest})
		}
		for _, o := range req.OrderBy {
			// ascending defaults to true (proto2's [default = true]).
			q.OrderBy = append(q.OrderBy, tracking.LoggedModelOrder{FieldName: o.FieldName, Ascending: o.Ascending == nil || *o.Ascending,
				DatasetName: o.DatasetName, DatasetDigest: o.DatasetDigest})
		}
		page, err := store.SearchLoggedModels(r.Context(), q)
		if err != nil {
			return err
		}
		return encode(w, wire.SearchLoggedModelsResponse{Models: wire.LoggedModelsFromDomain(page.Items), NextPageToken: page.NextPageToken})
	}
}

// handleListLoggedModelArtifacts lists a directory of a model's artifacts,
// paths relative to the model's artifact location.
func handleListLoggedModelArtifacts(store tracking.LoggedModelStore, roots artifactRoots) endpoint {
	return func(w http.ResponseWriter, r *http.Request) error {
		rel, err := cleanPath(r.URL.Query().Get("artifact_directory_path"), false)
		if err != nil {
			return err
		}
		m, err := store.GetLoggedModel(r.Context(), r.PathValue(modelIDParam), false)
		if err != nil {
			return err
		}
		repo, root, err := roots.resolve(r.Context(), m.ArtifactLocation)
		if err != nil {
			return err
		}
		files, err := repo.List(r.Context(), joinPath(root, rel))
		if err != nil {
			return artifactPathError(rel, err)
		}
		return encode(w, wire.ListArtifactsResponse{RootURI: m.ArtifactLocation, Files: wire.FileInfosFromDomain(relativeTo(files, root))})
	}
}

// handleGetLoggedModelArtifact sends one file of a model's artifacts
// (?artifact_file_path=), as the web UI downloads it.
func handleGetLoggedModelArtifact(store tracking.LoggedModelStore, roots artifactRoots) endpoint {
	return func(w http.ResponseWriter, r *http.Request) error {
		p := r.URL.Query().Get("artifact_file_path")
		if p == "" {
			return tracking.Errorf(tracking.ErrBadRequest, `Request must include the "artifact_file_path" query parameter.`)
		}
		p, err := cleanPath(p, false)
		if err != nil {
			return err
		}
		m, err := store.GetLoggedModel(r.Context(), r.PathValue(modelIDParam), false)
		if err != nil {
			return err
		}
		repo, root, err := roots.resolve(r.Context(), m.ArtifactLocation)
		if err != nil {
			return err
		}
		return sendArtifact(w, r, repo, joinPath(root, p))
	}
}

func handleLogOutputs(store tracking.LoggedModelStore) endpoint {
	return func(w http.ResponseWriter, r *http.Request) error {
		var req wire.LogOutputsRequest
		if _, err := decode(r, &req, "run_id", "models"); err != nil {
			return err
		}
		outputs := make([]tracking.ModelOutput, len(req.Models))
		for i, m := range req.Models {
			outputs[i] = tracking.ModelOutput{ModelID: m.ModelID, Step: m.Step}
		}
		if err := store.LogOutputs(r.Context(), req.RunID, outputs); err != nil {
			return err
		}
		return encode(w, wire.Empty{})
	}
}

// linkModelVersion records on a logged model the registry version made from
// it, in its mlflow.modelVersions tag (a JSON list of {"name", "version"}),
// as MLflow 3's create-model-version handler does after creating it.
func linkModelVersion(r *http.Request, store tracking.LoggedModelStore, modelID, name, version string) error {
	m, err := store.GetLoggedModel(r.Context(), modelID, false)
	if err != nil {
		return err
	}
	v, err := strconv.ParseInt(version, 10, 64)
	if err != nil {
		return tracking.Errorf(tracking.ErrInternal, "model version %q is not a number", version)
	}
	type ref struct {
		Name    string `json:"name"`
		Version int64  `json:"version"`
	}
	var refs []ref
	if old, ok := m.Tag(tagModelVersions); ok {
		// A value that is not such a list is replaced (MLflow's handler fails on it).
		_ = json.Unmarshal([]byte(old), &refs)
	}
	if !slices.Contains(refs, ref{name, v}) {
		refs = append(refs, ref{name, v})
	}
	// Python's json.dumps spacing: ", " and ": ".
	parts := make([]string, len(refs))
	for i, x := range refs {
		n, _ := json.Marshal(x.Name)
		parts[i] = `{"name": ` + string(n) + `, "version": ` + strconv.FormatInt(x.Version, 10) + `}`
	}
	return store.SetLoggedModelTags(r.Context(), modelID, []tracking.Tag{{Key: tagModelVersions, Value: "[" + strings.Join(parts, ", ") + "]"}})
}

// tagModelVersions is the logged model tag of its registry versions.
const tagModelVersions = "mlflow.modelVersions"
