package client

import (
	"context"
	"net/url"
	"strconv"
	"strings"

	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/wire"
)

// CreateRun creates a run.
func (c *Client) CreateRun(ctx context.Context, in tracking.CreateRun) (*tracking.Run, error) {
	var out wire.CreateRunResponse
	err := c.post(ctx, wire.PathCreateRun, wire.CreateRunRequest{
		ExperimentID: in.ExperimentID,
		UserID:       in.UserID,
		RunName:      in.RunName,
		StartTime:    in.StartTime,
		Tags:         wire.TagsFromDomain(in.Tags),
	}, &out)
	if err != nil {
		return nil, err
	}
	r := wire.RunToDomain(out.Run)
	return &r, nil
}

// GetRun returns a run with its latest metrics, params, tags and inputs. The id
// goes as run_uuid and run_id, as the Python client sends it.
func (c *Client) GetRun(ctx context.Context, runID string) (*tracking.Run, error) {
	var out wire.GetRunResponse
	if err := c.get(ctx, wire.PathGetRun, url.Values{"run_uuid": {runID}, "run_id": {runID}}, &out); err != nil {
		return nil, err
	}
	r := wire.RunToDomain(out.Run)
	return &r, nil
}

// UpdateRun changes a run's status, end time or name.
func (c *Client) UpdateRun(ctx context.Context, runID string, in tracking.UpdateRun) (*tracking.RunInfo, error) {
	req := wire.UpdateRunRequest{RunID: runID, RunUUID: runID}
	if in.Status != nil {
		req.Status = string(*in.Status)
	}
	if in.EndTime != nil {
		req.EndTime = *in.EndTime
	}
	if in.RunName != nil {
		req.RunName = *in.RunName
	}
	var out wire.UpdateRunResponse
	if err := c.post(ctx, wire.PathUpdateRun, req, &out); err != nil {
		return nil, err
	}
	info := wire.RunInfoToDomain(out.RunInfo)
	return &info, nil
}

// DeleteRun moves a run to the deleted stage.
func (c *Client) DeleteRun(ctx context.Context, runID string) error {
	return c.post(ctx, wire.PathDeleteRun, wire.DeleteRunRequest{RunID: runID}, nil)
}

// RestoreRun brings a deleted run back.
func (c *Client) RestoreRun(ctx context.Context, runID string) error {
	return c.post(ctx, wire.PathRestoreRun, wire.RestoreRunRequest{RunID: runID}, nil)
}

// SearchRuns returns one page of runs.
func (c *Client) SearchRuns(ctx context.Context, q tracking.RunQuery) (tracking.Page[tracking.Run], error) {
	view := q.ViewType
	if view == "" {
		view = tracking.ViewActiveOnly
	}
	max := q.MaxResults
	if max == 0 {
		max = tracking.DefaultSearchResults
	}
	var out wire.SearchRunsResponse
	err := c.post(ctx, wire.PathSearchRuns, wire.SearchRunsRequest{
		ExperimentIDs: q.ExperimentIDs,
		Filter:        q.Filter,
		RunViewType:   string(view),
		MaxResults:    int64(max),
		OrderBy:       q.OrderBy,
		PageToken:     q.PageToken,
	}, &out)
	if err != nil {
		return tracking.Page[tracking.Run]{}, err
	}
	return tracking.Page[tracking.Run]{Items: nonNil(wire.RunsToDomain(out.Runs)), NextPageToken: out.NextPageToken}, nil
}

// LogBatch logs metrics, params and tags in one request; the caller keeps within
// MLflow's limits (tracking.MaxMetricsPerBatch and the like).
func (c *Client) LogBatch(ctx context.Context, runID string, metrics []tracking.Metric, params []tracking.Param, tags []tracking.Tag) error {
	return c.post(ctx, wire.PathLogBatch, wire.LogBatchRequest{
		RunID:   runID,
		Metrics: wire.MetricsFromDomain(metrics),
		Params:  wire.ParamsFromDomain(params),
		Tags:    wire.TagsFromDomain(tags),
	}, nil)
}

// LogMetric logs one metric value (runs/log-metric).
func (c *Client) LogMetric(ctx context.Context, runID string, m tracking.Metric) error {
	return c.post(ctx, wire.PathLogMetric, wire.LogMetricRequest{
		RunID: runID, RunUUID: runID, Key: m.Key, Value: wire.Float(m.Value), Timestamp: m.Timestamp, Step: m.Step,
		ModelID: m.ModelID, DatasetName: m.DatasetName, DatasetDigest: m.DatasetDigest,
	}, nil)
}

// LogParam logs one param (runs/log-parameter).
func (c *Client) LogParam(ctx context.Context, runID, key, value string) error {
	return c.post(ctx, wire.PathLogParam, wire.LogParamRequest{RunID: runID, RunUUID: runID, Key: key, Value: value}, nil)
}

// SetTag sets one run tag (runs/set-tag).
func (c *Client) SetTag(ctx context.Context, runID, key, value string) error {
	return c.post(ctx, wire.PathSetTag, wire.SetTagRequest{RunID: runID, RunUUID: runID, Key: key, Value: value}, nil)
}

// LogModel records a logged model on its run (runs/log-model): modelJSON is the
// MLmodel file as a JSON object; the server appends it to the run's
// mlflow.log-model.history tag.
func (c *Client) LogModel(ctx context.Context, runID, modelJSON string) error {
	return c.post(ctx, wire.PathLogModel, wire.LogModelRequest{RunID: runID, ModelJSON: modelJSON}, nil)
}

// DeleteTag removes a run tag.
func (c *Client) DeleteTag(ctx context.Context, runID, key string) error {
	return c.post(ctx, wire.PathDeleteTag, wire.DeleteTagRequest{RunID: runID, Key: key}, nil)
}

// metricHistoryPage is the page size MLflow's Python client asks for when it
// wants a metric's whole history (GET_METRIC_HISTORY_MAX_RESULTS).
const metricHistoryPage = 25000

// GetMetricHistory returns logged values of one metric: one page of maxResults,
// or with maxResults 0 every value, fetched page by page as MLflow's Python
// client does. An absent max_results is not "all" everywhere: the real MLflow
// 3.11.1 server takes it as 0 and answers an empty page (with a token).
func (c *Client) GetMetricHistory(ctx context.Context, runID, key string, maxResults int, pageToken string) (tracking.Page[tracking.Metric], error) {
	if maxResults > 0 {
		return c.metricHistoryPage(ctx, runID, key, maxResults, pageToken)
	}
	var all []tracking.Metric
	for {
		page, err := c.metricHistoryPage(ctx, runID, key, metricHistoryPage, pageToken)
		if err != nil {
			return tracking.Page[tracking.Metric]{}, err
		}
		all = append(all, page.Items...)
		if page.NextPageToken == "" || len(page.Items) == 0 {
			return tracking.Page[tracking.Metric]{Items: nonNil(all)}, nil
		}
		pageToken = page.NextPageToken
	}
}

func (c *Client) metricHistoryPage(ctx context.Context, runID, key string, maxResults int, pageToken string) (tracking.Page[tracking.Metric], error) {
	q := url.Values{"run_id": {runID}, "run_uuid": {runID}, "metric_key": {key}, "max_results": {strconv.Itoa(maxResults)}}
	if pageToken != "" {
		q.Set("page_token", pageToken)
	}
	var out wire.GetMetricHistoryResponse
	if err := c.get(ctx, wire.PathGetMetricHistory, q, &out); err != nil {
		return tracking.Page[tracking.Metric]{}, err
	}
	return tracking.Page[tracking.Metric]{Items: nonNil(wire.MetricsToDomain(out.Metrics)), NextPageToken: out.NextPageToken}, nil
}

// SearchDatasets lists the data sets runs of the experiments used. It calls the
// /ajax-api path: the real MLflow server (2.17.2 and 3.11.1) serves
// experiments/search-datasets only there, for its web UI; ours serves both.
func (c *Client) SearchDatasets(ctx context.Context, experimentIDs []string) ([]tracking.DatasetSummary, error) {
	var resp wire.SearchDatasetsResponse
	path := wire.AjaxAPIPrefix + strings.TrimPrefix(wire.PathSearchDatasets, wire.APIPrefix)
	if err := c.post(ctx, path, wire.SearchDatasetsRequest{ExperimentIDs: experimentIDs}, &resp); err != nil {
		return nil, err
	}
	if len(resp.DatasetSummaries) == 0 {
		return nil, nil
	}
	return wire.DatasetSummariesToDomain(resp.DatasetSummaries), nil
}

// LogInputs records the data sets a run used.
func (c *Client) LogInputs(ctx context.Context, runID string, inputs []tracking.DatasetInput) error {
	return c.post(ctx, wire.PathLogInputs, wire.LogInputsRequest{RunID: runID, Datasets: wire.DatasetInputsFromDomain(inputs)}, nil)
}

// ListArtifacts lists a run's artifacts at path (artifacts/list) and returns the
// run's artifact root URI with the entries, paths relative to that root.
func (c *Client) ListArtifacts(ctx context.Context, runID, path string) (string, []tracking.FileInfo, error) {
	q := url.Values{"run_id": {runID}, "run_uuid": {runID}}
	if path != "" {
		q.Set("path", path)
	}
	var out wire.ListArtifactsResponse
	if err := c.get(ctx, wire.PathListArtifacts, q, &out); err != nil {
		return "", nil, err
	}
	return out.RootURI, nonNil(wire.FileInfosToDomain(out.Files)), nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
