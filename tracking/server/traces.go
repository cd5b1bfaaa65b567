package server

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"

	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/wire"
)

// requestIDParam is the path wildcard of the single-trace routes.
const requestIDParam = "request_id"

func handleStartTrace(store tracking.TraceStore) endpoint {
	return func(w http.ResponseWriter, r *http.Request) error {
		var req wire.StartTraceRequest
		f, err := decode(r, &req)
		if err != nil {
			return err
		}
		// MLflow does not require it and fails on the database's foreign key
		// (400) without one.
		if err := f.require("experiment_id"); err != nil {
			return err
		}
		info, err := store.StartTrace(r.Context(), tracking.StartTrace{
			ExperimentID:    req.ExperimentID,
			TimestampMs:     req.TimestampMs,
			RequestMetadata: wire.TagsToDomain(req.RequestMetadata),
			Tags:            wire.TagsToDomain(req.Tags),
		})
		if err != nil {
			return err
		}
		return encode(w, wire.TraceInfoResponse{TraceInfo: wire.TraceInfoFromDomain(*info)})
	}
}

// handleEndTrace refuses a status that is not one of the four names or
// numbers, where MLflow stores TRACE_STATUS_UNSPECIFIED for it.
func handleEndTrace(store tracking.TraceStore) endpoint {
	return func(w http.ResponseWriter, r *http.Request) error {
		var req wire.EndTraceRequest
		f, err := decode(r, &req)
		if err != nil {
			return err
		}
		status, err := tracking.ParseTraceStatus(string(req.Status))
		if err != nil {
			return invalidValue("status", f["status"])
		}
		info, err := store.EndTrace(r.Context(), r.PathValue(requestIDParam), tracking.EndTrace{
			TimestampMs:     req.TimestampMs,
			Status:          status,
			RequestMetadata: wire.TagsToDomain(req.RequestMetadata),
			Tags:            wire.TagsToDomain(req.Tags),
		})
		if err != nil {
			return err
		}
		return encode(w, wire.TraceInfoResponse{TraceInfo: wire.TraceInfoFromDomain(*info)})
	}
}

func handleGetTraceInfo(store tracking.TraceStore) endpoint {
	return func(w http.ResponseWriter, r *http.Request) error {
		info, err := store.GetTraceInfo(r.Context(), r.PathValue(requestIDParam))
		if err != nil {
			return err
		}
		return encode(w, wire.TraceInfoResponse{TraceInfo: wire.TraceInfoFromDomain(*info)})
	}
}

func handleSearchTraces(store tracking.TraceStore) endpoint {
	return func(w http.ResponseWriter, r *http.Request) error {
		var req wire.SearchTracesRequest
		f, err := decode(r, &req)
		if err != nil {
			return err
		}
		if err := f.require("experiment_ids"); err != nil {
			return err
		}
		switch {
		case f.has("max_results") && req.MaxResults < 1:
			// The store's message, as MLflow's: 0 given is not the default.
			return tracking.Errorf(tracking.ErrInvalidParameterValue,
				"Invalid value %d for parameter 'max_results' supplied. It must be a positive integer", req.MaxResults)
		case req.MaxResults > tracking.MaxTraceSearchResults:
			return invalidValue("max_results", f["max_results"])
		}
		page, err := store.SearchTraces(r.Context(), tracking.TraceQuery{
			ExperimentIDs: req.ExperimentIDs,
			Filter:        req.Filter,
			OrderBy:       req.OrderBy,
			MaxResults:    int(req.MaxResults),
			PageToken:     req.PageToken,
		})
		if err != nil {
			return err
		}
		return encode(w, wire.SearchTracesResponse{
			Traces:        wire.TraceInfosFromDomain(page.Items),
			NextPageToken: page.NextPageToken,
		})
	}
}

func handleDeleteTraces(store tracking.TraceStore) endpoint {
	return func(w http.ResponseWriter, r *http.Request) error {
		var req wire.DeleteTracesRequest
		f, err := decode(r, &req)
		if err != nil {
			return err
		}
		if err := f.require("experiment_id"); err != nil {
			return err
		}
		n, err := store.DeleteTraces(r.Context(), tracking.DeleteTraces{
			ExperimentID:       req.ExperimentID,
			MaxTimestampMillis: req.MaxTimestampMillis,
			MaxTraces:          req.MaxTraces,
			RequestIDs:         req.RequestIDs,
		})
		if err != nil {
			return err
		}
		return encode(w, wire.DeleteTracesResponse{TracesDeleted: int64(n)})
	}
}

func handleSetTraceTag(store tracking.TraceStore) endpoint {
	return func(w http.ResponseWriter, r *http.Request) error {
		var req wire.SetTraceTagRequest
		f, err := decode(r, &req)
		if err != nil {
			return err
		}
		if err := f.require("key"); err != nil {
			return err
		}
		if err := store.SetTraceTag(r.Context(), r.PathValue(requestIDParam), req.Key, req.Value); err != nil {
			return err
		}
		return encode(w, wire.Empty{})
	}
}

func handleDeleteTraceTag(store tracking.TraceStore) endpoint {
	return func(w http.ResponseWriter, r *http.Request) error {
		var req wire.DeleteTraceTagRequest
		f, err := decode(r, &req)
		if err != nil {
			return err
		}
		if err := f.require("key"); err != nil {
			return err
		}
		if err := store.DeleteTraceTag(r.Context(), r.PathValue(requestIDParam), req.Key); err != nil {
			return err
		}
		return encode(w, wire.Empty{})
	}
}

// handleGetTraceArtifact sends a trace's data file (the spans, as the client
// wrote them to the trace's artifact location) as the web UI asks for it.
// Like MLflow it reads the whole file and refuses one that is empty
// (NOT_FOUND) or not JSON (INVALID_STATE); it then sends the bytes as stored,
// where MLflow sends them parsed and dumped again (the same JSON value,
// Python's spacing).
func handleGetTraceArtifact(store tracking.TraceStore, roots artifactRoots) endpoint {
	return func(w http.ResponseWriter, r *http.Request) error {
		id := r.URL.Query().Get(requestIDParam)
		if id == "" {
			return tracking.Errorf(tracking.ErrBadRequest, `Request must include the "request_id" query parameter.`)
		}
		info, err := store.GetTraceInfo(r.Context(), id)
		if err != nil {
			return err
		}
		loc, ok := info.Tag(tracking.TagTraceArtifactLocation)
		if !ok {
			return tracking.Errorf(tracking.ErrInternal, "Unable to determine trace artifact location.")
		}
		repo, root, err := roots.resolve(r.Context(), loc)
		if err != nil {
			return err
		}
		notFound := tracking.Errorf(tracking.ErrNotFound, "Trace data not found for request_id=%s", id)
		rc, err := repo.Get(r.Context(), joinPath(root, tracking.TraceDataFile))
		if tracking.IsNotFound(err) {
			return notFound
		}
		if err != nil {
			return artifactPathError(tracking.TraceDataFile, err)
		}
		defer rc.Close()
		data, err := io.ReadAll(rc)
		if err != nil {
			return artifactPathError(tracking.TraceDataFile, err)
		}
		if len(data) == 0 {
			return notFound
		}
		if !json.Valid(data) {
			return tracking.Errorf(tracking.ErrInvalidState, "Trace data is corrupted for request_id=%s", id)
		}
		h := w.Header()
		h.Set("Content-Type", guessMIMEType(tracking.TraceDataFile))
		h.Set("Content-Disposition", "attachment; filename="+tracking.TraceDataFile)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-cache")
		h.Set("Content-Length", strconv.Itoa(len(data)))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(data) // the client went away: nothing left to tell it
		return nil
	}
}
