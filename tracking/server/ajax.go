package server

import (
	"bufio"
	"cmp"
	"errors"
	"io"
	"math"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/mlops-lab/housing/tracking"
)

// Limits of metrics/get-history-bulk (get_metric_history_bulk_handler in
// mlflow/server/handlers.py).
const (
	maxBulkHistoryRuns    = 100
	maxBulkHistoryResults = 25000
)

// handleGetMetricHistoryBulk answers the UI's older chart query: the whole
// history of one metric over up to 100 runs, ordered by run id, then
// timestamp, step and value (as MLflow's SQL store orders it), at most
// max_results values in all (25000 by default and at most). Repeated run ids
// count once; unknown runs have no values, as in MLflow, whose SQL store does
// not look the runs up. The answer is a Python dict through Flask (see
// encodeFlask), not a protobuf message.
//
// Deliberate difference: max_results that is not an integer is MLflow's
// INVALID_PARAMETER_VALUE here (MLflow answers an HTML 500), and a negative
// one too (MLflow drops that many values from the end, a Python slice).
func handleGetMetricHistoryBulk(store tracking.RunStore) endpoint {
	return func(w http.ResponseWriter, r *http.Request) error {
		q := r.URL.Query()
		ids := q["run_id"]
		if len(ids) == 0 {
			return tracking.Errorf(tracking.ErrInvalidParameterValue, "GetMetricHistoryBulk request must specify at least one run_id.")
		}
		if len(ids) > maxBulkHistoryRuns {
			return tracking.Errorf(tracking.ErrInvalidParameterValue,
				"GetMetricHistoryBulk request cannot specify more than %d run_ids. Received %d run_ids.", maxBulkHistoryRuns, len(ids))
		}
		if !q.Has("metric_key") {
			return tracking.Errorf(tracking.ErrInvalidParameterValue, "GetMetricHistoryBulk request must specify a metric_key.")
		}
		key := q.Get("metric_key")
		limit := maxBulkHistoryResults
		if q.Has("max_results") {
			raw := q.Get("max_results")
			n, err := strconv.Atoi(raw)
			if err != nil || n < 0 {
				return invalidValue("max_results", []byte(strconv.Quote(raw)))
			}
			limit = min(n, maxBulkHistoryResults)
		}
		ids = slices.Clone(ids)
		slices.Sort(ids)
		ids = slices.Compact(ids)
		metrics := []any{}
		for _, id := range ids {
			if len(metrics) >= limit {
				break
			}
			history, err := fullHistory(r.Context(), store, id, key)
			if tracking.IsNotFound(err) {
				continue
			}
			if err != nil {
				return err
			}
			slices.SortStableFunc(history, func(a, b tracking.Metric) int {
				return cmp.Or(cmp.Compare(a.Timestamp, b.Timestamp), cmp.Compare(a.Step, b.Step),
					cmp.Compare(sqlValue(a.Value), sqlValue(b.Value)))
			})
			for _, m := range history[:min(len(history), limit-len(metrics))] {
				metrics = append(metrics, map[string]any{
					"key": m.Key, "value": m.Value, "timestamp": m.Timestamp, "step": m.Step, "run_id": id,
				})
			}
		}
		return encodeFlask(w, map[string]any{"metrics": metrics})
	}
}

// sqlValue is the value a metric sorts by in MLflow's metrics table, where NaN
// is stored as 0 beside is_nan.
func sqlValue(v float64) float64 {
	if math.IsNaN(v) {
		return 0
	}
	return v
}

// maxUploadArtifactBytes is MLflow's bound on one upload-artifact body.
const maxUploadArtifactBytes = 10 << 20

// handleUploadArtifact writes the request body as the file at ?path= among the
// artifacts of run ?run_uuid=, in the repository the run's artifact URI
// resolves to (as the other run artifact handlers), streaming it. The checks
// and their order are MLflow's upload_artifact_handler's: run_uuid, path, a safe
// path, the 10 MB bound, a body, the run. MLflow answers 200 with an empty
// application/json body.
//
// Deliberate differences: a body without Content-Length is cut at 10 MB with
// the same error (MLflow reads it whole); paths are checked as every artifact
// path of this server is (artifacts.CleanPath), so a backslash is "Invalid
// path" (MLflow on Linux takes it as part of a name) and "." segments are
// dropped (MLflow answers 500); a path naming a directory ("dir/") is "Invalid
// path" (MLflow answers 500).
func handleUploadArtifact(store tracking.RunStore, roots artifactRoots) endpoint {
	return func(w http.ResponseWriter, r *http.Request) error {
		q := r.URL.Query()
		id := q.Get("run_uuid")
		if id == "" {
			return tracking.Errorf(tracking.ErrInvalidParameterValue, "Request must specify run_uuid.")
		}
		raw := q.Get("path")
		if raw == "" {
			return tracking.Errorf(tracking.ErrInvalidParameterValue, "Request must specify path.")
		}
		rel, err := uploadPath(raw)
		if err != nil {
			return err
		}
		if r.ContentLength > maxUploadArtifactBytes {
			return errUploadTooLarge()
		}
		body := bufio.NewReader(&capped{r: r.Body, left: maxUploadArtifactBytes})
		if _, err := body.Peek(1); errors.Is(err, io.EOF) {
			return tracking.Errorf(tracking.ErrInvalidParameterValue, "Request must specify data.")
		} else if err != nil {
			return err
		}
		run, err := store.GetRun(r.Context(), id)
		if err != nil {
			return err
		}
		repo, root, err := roots.resolve(r.Context(), run.Info.ArtifactURI)
		if err != nil {
			return err
		}
		size := r.ContentLength
		if size < 0 {
			size = -1
		}
		if err := repo.Put(r.Context(), joinPath(root, rel), body, size); err != nil {
			return artifactPathError(rel, err)
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusOK)
		return nil
	}
}

// uploadPath checks an upload's path as MLflow's validate_path_is_safe (no
// '#', no file: URIs, nothing CleanPath refuses) and that it names a file.
func uploadPath(p string) (string, error) {
	invalid := tracking.Errorf(tracking.ErrInvalidParameterValue, "Invalid path")
	if strings.Contains(p, "#") || strings.HasPrefix(p, "file:") {
		return "", invalid
	}
	rel, err := cleanPath(p, false)
	if err != nil {
		return "", err
	}
	if rel == "" || strings.HasSuffix(p, "/") || path.Base(p) == "." {
		return "", invalid
	}
	return rel, nil
}

func errUploadTooLarge() error {
	return tracking.Errorf(tracking.ErrInvalidParameterValue, "Artifact size is too large. Max size is 10MB.")
}

// capped reads r until left bytes were read, then fails with
// errUploadTooLarge if r has more.
type capped struct {
	r    io.Reader
	left int64
}

func (c *capped) Read(p []byte) (int, error) {
	if c.left <= 0 {
		var one [1]byte
		n, err := c.r.Read(one[:])
		if n > 0 {
			return 0, errUploadTooLarge()
		}
		return 0, err
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}
