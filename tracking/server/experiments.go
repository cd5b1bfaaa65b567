package server

import (
	"net/http"
	"strings"

	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/wire"
)

func handleCreateExperiment(store tracking.ExperimentStore) endpoint {
	return func(w http.ResponseWriter, r *http.Request) error {
		var req wire.CreateExperimentRequest
		if _, err := decode(r, &req, "name"); err != nil {
			return err
		}
		if err := checkArtifactLocation(req.ArtifactLocation); err != nil {
			return err
		}
		id, err := store.CreateExperiment(r.Context(), req.Name, req.ArtifactLocation, wire.TagsToDomain(req.Tags))
		if err != nil {
			return err
		}
		return encode(w, wire.CreateExperimentResponse{ExperimentID: id})
	}
}

// checkArtifactLocation applies MLflow's handler's checks on an experiment's
// artifact location: no fragment or ;params, and no ".." in the query however
// often it percent-decodes (the query would end up in artifact paths). Where
// MLflow gives up decoding after 10 rounds (a 500), the location is refused
// the same way as one with "..".
func checkArtifactLocation(loc string) error {
	u := tracking.ParseURI(loc)
	if u.Fragment != "" || u.Params != "" {
		return tracking.Errorf(tracking.ErrInvalidParameterValue, "'artifact_location' URL can't include fragments or params.")
	}
	q := u.Query
	for range 10 {
		decoded := tracking.ParseURI(tracking.Unquote(q, false)).String()
		if decoded == q {
			if strings.Contains(q, "..") {
				break
			}
			return nil
		}
		q = decoded
	}
	return tracking.Errorf(tracking.ErrInvalidParameterValue, "Invalid query string")
}

func handleGetExperiment(store tracking.ExperimentStore) endpoint {
	return func(w http.ResponseWriter, r *http.Request) error {
		var req wire.GetExperimentRequest
		if _, err := decode(r, &req, "experiment_id"); err != nil {
			return err
		}
		e, err := store.GetExperiment(r.Context(), req.ExperimentID)
		if err != nil {
			return err
		}
		return encode(w, wire.GetExperimentResponse{Experiment: wire.ExperimentFromDomain(*e)})
	}
}

func handleGetExperimentByName(store tracking.ExperimentStore) endpoint {
	return func(w http.ResponseWriter, r *http.Request) error {
		var req wire.GetExperimentByNameRequest
		if _, err := decode(r, &req, "experiment_name"); err != nil {
			return err
		}
		e, err := store.GetExperimentByName(r.Context(), req.ExperimentName)
		if err != nil {
			return err
		}
		return encode(w, wire.GetExperimentResponse{Experiment: wire.ExperimentFromDomain(*e)})
	}
}

func handleSearchExperiments(store tracking.ExperimentStore) endpoint {
	return func(w http.ResponseWriter, r *http.Request) error {
		var req wire.SearchExperimentsRequest
		f, err := decode(r, &req)
		if err != nil {
			return err
		}
		view, err := viewType(f, "view_type", req.ViewType)
		if err != nil {
			return err
		}
		if req.MaxResults < 0 || req.MaxResults > tracking.MaxSearchResults {
			return invalidValue("max_results", f["max_results"])
		}
		page, err := store.SearchExperiments(r.Context(), tracking.ExperimentQuery{
			Filter:     req.Filter,
			OrderBy:    req.OrderBy,
			ViewType:   view,
			MaxResults: int(req.MaxResults),
			PageToken:  req.PageToken,
		})
		if err != nil {
			return err
		}
		return encode(w, wire.SearchExperimentsResponse{
			Experiments:   wire.ExperimentsFromDomain(page.Items),
			NextPageToken: page.NextPageToken,
		})
	}
}

// viewType parses a view type name (ACTIVE_ONLY, DELETED_ONLY, ALL) or its proto
// number (1, 2, 3); absent means ACTIVE_ONLY.
func viewType(f fields, name, v string) (tracking.ViewType, error) {
	switch strings.ToUpper(v) {
	case "", "ACTIVE_ONLY", "1":
		return tracking.ViewActiveOnly, nil
	case "DELETED_ONLY", "2":
		return tracking.ViewDeletedOnly, nil
	case "ALL", "3":
		return tracking.ViewAll, nil
	}
	return "", invalidValue(name, f[name])
}

func handleUpdateExperiment(store tracking.ExperimentStore) endpoint {
	return func(w http.ResponseWriter, r *http.Request) error {
		var req wire.UpdateExperimentRequest
		if _, err := decode(r, &req, "experiment_id"); err != nil {
			return err
		}
		if req.NewName != "" {
			if err := store.RenameExperiment(r.Context(), req.ExperimentID, req.NewName); err != nil {
				return err
			}
		}
		return encode(w, wire.Empty{})
	}
}

func handleDeleteExperiment(store tracking.ExperimentStore) endpoint {
	return func(w http.ResponseWriter, r *http.Request) error {
		var req wire.DeleteExperimentRequest
		if _, err := decode(r, &req, "experiment_id"); err != nil {
			return err
		}
		if err := store.DeleteExperiment(r.Context(), req.ExperimentID); err != nil {
			return err
		}
		return encode(w, wire.Empty{})
	}
}

func handleRestoreExperiment(store tracking.ExperimentStore) endpoint {
	return func(w http.ResponseWriter, r *http.Request) error {
		var req wire.RestoreExperimentRequest
		if _, err := decode(r, &req, "experiment_id"); err != nil {
			return err
		}
		if err := store.RestoreExperiment(r.Context(), req.ExperimentID); err != nil {
			return err
		}
		return encode(w, wire.Empty{})
	}
}

func handleSetExperimentTag(store tracking.ExperimentStore) endpoint {
	return func(w http.ResponseWriter, r *http.Request) error {
		var req wire.SetExperimentTagRequest
		if _, err := decode(r, &req, "experiment_id", "key"); err != nil {
			return err
		}
		if err := store.SetExperimentTag(r.Context(), req.ExperimentID, req.Key, req.Value); err != nil {
			return err
		}
		return encode(w, wire.Empty{})
	}
}

func handleDeleteExperimentTag(store tracking.ExperimentStore) endpoint {
	return func(w http.ResponseWriter, r *http.Request) error {
		var req wire.DeleteExperimentTagRequest
		if _, err := decode(r, &req, "experiment_id", "key"); err != nil {
			return err
		}
		if err := store.DeleteExperimentTag(r.Context(), req.ExperimentID, req.Key); err != nil {
			return err
		}
		return encode(w, wire.Empty{})
	}
}
