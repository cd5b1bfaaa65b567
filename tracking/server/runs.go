package server

import (
	"net/http"

	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/wire"
)

func handleCreateRun(store tracking.RunStore) endpoint {
	return func(w http.ResponseWriter, r *http.Request) error {
		var req wire.CreateRunRequest
		if _, err := decode(r, &req); err != nil {
			return err
		}
		run, err := store.CreateRun(r.Context(), tracking.CreateRun{
			ExperimentID: req.ExperimentID,
			UserID:       req.UserID,
			RunName:      req.RunName,
			StartTime:    req.StartTime,
			Tags:         wire.TagsToDomain(req.Tags),
		})
		if err != nil {
			return err
		}
		resp := wire.CreateRunResponse{Run: wire.RunFromDomain(*run)}
		resp.Run.Inputs = nil // MLflow's runs/create answer has no "inputs"
		return encode(w, resp)
	}
}

func handleGetRun(store tracking.RunStore) endpoint {
	var bufs answerBuffers
	return func(w http.ResponseWriter, r *http.Request) error {
		var req wire.GetRunRequest
		if _, err := decode(r, &req); err != nil {
			return err
		}
		id, err := runID(req.RunID, req.RunUUID)
		if err != nil {
			return err
		}
		run, err := store.GetRun(r.Context(), id)
		if err != nil {
			return err
		}
		resp := wire.GetRunResponse{Run: wire.RunFromDomain(*run)}
		return encodeWith(w, &bufs, func(b []byte) []byte { return wire.AppendGetRunResponse(b, &resp) })
	}
}

func handleUpdateRun(store tracking.RunStore) endpoint {
	return func(w http.ResponseWriter, r *http.Request) error {
		var req wire.UpdateRunRequest
		f, err := decode(r, &req)
		if err != nil {
			return err
		}
		id, err := runID(req.RunID, req.RunUUID)
		if err != nil {
			return err
		}
		var in tracking.UpdateRun
		if f.has("status") {
			st, err := tracking.ParseRunStatus(req.Status)
			if err != nil {
				return err
			}
			in.Status = &st
		}
		if f.has("end_time") {
			in.EndTime = &req.EndTime
		}
		if f.has("run_name") {
			in.RunName = &req.RunName
		}
		info, err := store.UpdateRun(r.Context(), id, in)
		if err != nil {
			return err
		}
		return encode(w, wire.UpdateRunResponse{RunInfo: wire.RunInfoFromDomain(*info)})
	}
}

func handleDeleteRun(store tracking.RunStore) endpoint {
	return func(w http.ResponseWriter, r *http.Request) error {
		var req wire.DeleteRunRequest
		if _, err := decode(r, &req, "run_id"); err != nil {
			return err
		}
		if err := store.DeleteRun(r.Context(), req.RunID); err != nil {
			return err
		}
		return encode(w, wire.Empty{})
	}
}

func handleRestoreRun(store tracking.RunStore) endpoint {
	return func(w http.ResponseWriter, r *http.Request) error {
		var req wire.RestoreRunRequest
		if _, err := decode(r, &req, "run_id"); err != nil {
			return err
		}
		if err := store.RestoreRun(r.Context(), req.RunID); err != nil {
			return err
		}
		return encode(w, wire.Empty{})
	}
}

func handleSearchRuns(store tracking.RunStore) endpoint {
	var bufs answerBuffers
	return func(w http.ResponseWriter, r *http.Request) error {
		var req wire.SearchRunsRequest
		f, err := decode(r, &req)
		if err != nil {
			return err
		}
		view, err := viewType(f, "run_view_type", req.RunViewType)
		if err != nil {
			return err
		}
		if req.MaxResults < 0 || req.MaxResults > tracking.MaxSearchResults {
			return invalidValue("max_results", f["max_results"])
		}
		page, err := store.SearchRuns(r.Context(), tracking.RunQuery{
			ExperimentIDs: req.ExperimentIDs,
			Filter:        req.Filter,
			OrderBy:       req.OrderBy,
			ViewType:      view,
			MaxResults:    int(req.MaxResults),
			PageToken:     req.PageToken,
		})
		if err != nil {
			return err
		}
		resp := wire.SearchRunsResponse{Runs: wire.RunsFromDomain(page.Items), NextPageToken: page.NextPageToken}
		return encodeWith(w, &bufs, func(b []byte) []byte { return wire.AppendSearchRunsResponse(b, &resp) })
	}
}

func handleLogMetric(store tracking.RunStore) endpoint {
	return func(w http.ResponseWriter, r *http.Request) error {
		var req wire.LogMetricRequest
		f, err := decode(r, &req)
		if err != nil {
			return err
		}
		id, err := runID(req.RunID, req.RunUUID)
		if err != nil {
			return err
		}
		if err := f.require("key", "value", "timestamp"); err != nil {
			return err
		}
		m := wire.MetricToDomain(wire.Metric{Key: req.Key, Value: req.Value, Timestamp: req.Timestamp, Step: req.Step,
			ModelID: req.ModelID, DatasetName: req.DatasetName, DatasetDigest: req.DatasetDigest})
		if err := store.LogBatch(r.Context(), id, []tracking.Metric{m}, nil, nil); err != nil {
			return err
		}
		return encode(w, wire.Empty{})
	}
}

func handleLogParam(store tracking.RunStore) endpoint {
	return func(w http.ResponseWriter, r *http.Request) error {
		var req wire.LogParamRequest
		f, err := decode(r, &req)
		if err != nil {
			return err
		}
		id, err := runID(req.RunID, req.RunUUID)
		if err != nil {
			return err
		}
		if err := f.require("key"); err != nil {
			return err
		}
		p := tracking.Param{Key: req.Key, Value: req.Value}
		if err := store.LogBatch(r.Context(), id, nil, []tracking.Param{p}, nil); err != nil {
			return err
		}
		return encode(w, wire.Empty{})
	}
}

func handleSetTag(store tracking.RunStore) endpoint {
	return func(w http.ResponseWriter, r *http.Request) error {
		var req wire.SetTagRequest
		f, err := decode(r, &req)
		if err != nil {
			return err
		}
		id, err := runID(req.RunID, req.RunUUID)
		if err != nil {
			return err
		}
		if err := f.require("key"); err != nil {
			return err
		}
		t := tracking.Tag{Key: req.Key, Value: req.Value}
		if err := store.LogBatch(r.Context(), id, nil, nil, []tracking.Tag{t}); err != nil {
			return err
		}
		return encode(w, wire.Empty{})
	}
}

func handleDeleteTag(store tracking.RunStore) endpoint {
	return func(w http.ResponseWriter, r *http.Request) error {
		var req wire.DeleteTagRequest
		if _, err := decode(r, &req, "run_id", "key"); err != nil {
			return err
		}
		if err := store.DeleteTag(r.Context(), req.RunID, req.Key); err != nil {
			return err
		}
		return encode(w, wire.Empty{})
	}
}

func handleLogBatch(store tracking.RunStore) endpoint {
	return func(w http.ResponseWriter, r *http.Request) error {
		body, err := readBody(r)
		if err != nil {
			return err
		}
		req, ok := parseLogBatch(body)
		if !ok {
			if req, err = decodeLogBatch(body); err != nil {
				return err
			}
		}
		err = store.LogBatch(r.Context(), req.RunID,
			wire.MetricsToDomain(req.Metrics), wire.ParamsToDomain(req.Params), wire.TagsToDomain(req.Tags))
		if err != nil {
			return err
		}
		return writeEmpty(w)
	}
}

// decodeLogBatch reads a runs/log-batch body with decode's rules and MLflow's
// errors: run_id, then each list's required fields.
func decodeLogBatch(body []byte) (wire.LogBatchRequest, error) {
	var req wire.LogBatchRequest
	f, err := decodeBody(body, &req, "run_id")
	if err != nil {
		return req, err
	}
	if err := f.requireInEach("metrics", "key", "value", "timestamp"); err != nil {
		return req, err
	}
	if err := f.requireInEach("params", "key"); err != nil {
		return req, err
	}
	if err := f.requireInEach("tags", "key"); err != nil {
		return req, err
	}
	return req, nil
}

func handleSearchDatasets(store tracking.RunStore) endpoint {
	return func(w http.ResponseWriter, r *http.Request) error {
		var req wire.SearchDatasetsRequest
		if _, err := decode(r, &req); err != nil {
			return err
		}
		// MLflow's handler checks these, in its own words, before its store's limit.
		if len(req.ExperimentIDs) == 0 {
			return tracking.Errorf(tracking.ErrInvalidParameterValue, "SearchDatasets request must specify at least one experiment_id.")
		}
		if len(req.ExperimentIDs) > tracking.MaxSearchDatasetsExperiments {
			return tracking.Errorf(tracking.ErrInvalidParameterValue,
				"SearchDatasets request cannot specify more than %d experiment_ids. Received %d experiment_ids.",
				tracking.MaxSearchDatasetsExperiments, len(req.ExperimentIDs))
		}
		summaries, err := store.SearchDatasets(r.Context(), req.ExperimentIDs)
		if err != nil {
			return err
		}
		return encode(w, wire.SearchDatasetsResponse{DatasetSummaries: wire.DatasetSummariesFromDomain(summaries)})
	}
}

// handleLogInputs also logs the models a run used (MLflow 3's models), when
// the server keeps logged models (else models are ignored).
//
// Deliberate difference: datasets are required unless models are given, as
// MLflow 2.17.2 requires them, so that both its clients and MLflow 3's
// (which may send models alone) are answered; MLflow 3.11.1 also accepts a
// body with neither, which logs nothing. Named in TestLoggedModelEndpoints.
func handleLogInputs(store tracking.RunStore, models tracking.LoggedModelStore) endpoint {
	return func(w http.ResponseWriter, r *http.Request) error {
		var req wire.LogInputsRequest
		f, err := decode(r, &req, "run_id")
		if err != nil {
			return err
		}
		if models == nil || !f.has("models") {
			if err := f.require("datasets"); err != nil {
				return err
			}
		}
		if err := store.LogInputs(r.Context(), req.RunID, wire.DatasetInputsToDomain(req.Datasets)); err != nil {
			return err
		}
		if models != nil && len(req.Models) > 0 {
			inputs := make([]tracking.ModelInput, len(req.Models))
			for i, m := range req.Models {
				inputs[i] = tracking.ModelInput{ModelID: m.ModelID}
			}
			if err := models.LogModelInputs(r.Context(), req.RunID, inputs); err != nil {
				return err
			}
		}
		return encode(w, wire.Empty{})
	}
}
