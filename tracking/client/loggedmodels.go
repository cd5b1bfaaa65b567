package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/wire"
)

// MLflow 3's logged-model API as the real MLflow 3.11.1 serves it (its
// service.proto and store/tracking/rest_store.py), on package wire's paths.
// The client keeps its own JSON shapes for the answers: they are read into
// the domain types here, as the other areas of the client do.

// modelOf is the logged model of an answer that must carry one.
func modelOf(out wire.LoggedModelResponse, path string) (*tracking.LoggedModel, error) {
	if out.Model == nil {
		return nil, tracking.Errorf(tracking.ErrInternal, "%s answered no model", path)
	}
	m := wire.LoggedModelToDomain(*out.Model)
	return &m, nil
}

var (
	_ tracking.LoggedModelStore   = (*Client)(nil)
	_ tracking.LoggedModelSupport = (*Client)(nil)
)

func loggedModelPath(modelID string) string {
	return wire.PathLoggedModels + "/" + url.PathEscape(modelID)
}

// CreateLoggedModel creates a logged model in the PENDING state. Params beyond
// the first batch go in further requests, as MLflow's client sends them.
func (c *Client) CreateLoggedModel(ctx context.Context, in tracking.CreateLoggedModel) (*tracking.LoggedModel, error) {
	first, rest := in.Params, []tracking.Param(nil)
	if len(first) > tracking.MaxParamsPerBatch {
		first, rest = first[:tracking.MaxParamsPerBatch], first[tracking.MaxParamsPerBatch:]
	}
	var out wire.LoggedModelResponse
	err := c.post(ctx, wire.PathLoggedModels, wire.CreateLoggedModelRequest{
		ExperimentID: in.ExperimentID, Name: in.Name, ModelType: in.ModelType, SourceRunID: in.SourceRunID,
		Params: wire.ParamsFromDomain(first), Tags: wire.TagsFromDomain(in.Tags)}, &out)
	if err != nil {
		return nil, err
	}
	m, err := modelOf(out, wire.PathLoggedModels)
	if err != nil {
		return nil, err
	}
	if len(rest) == 0 {
		return m, nil
	}
	if err := c.LogLoggedModelParams(ctx, m.ModelID, rest); err != nil {
		return nil, err
	}
	return c.GetLoggedModel(ctx, m.ModelID, false)
}

// GetLoggedModel returns one logged model with its tags, params and metrics.
// allowDeleted is what MLflow's REST store does with it too: nothing, since
// the REST API has no such parameter and the server answers as it does.
func (c *Client) GetLoggedModel(ctx context.Context, modelID string, allowDeleted bool) (*tracking.LoggedModel, error) {
	var out wire.LoggedModelResponse
	if err := c.get(ctx, loggedModelPath(modelID), nil, &out); err != nil {
		return nil, err
	}
	return modelOf(out, loggedModelPath(modelID))
}

// DeleteLoggedModel deletes a logged model.
func (c *Client) DeleteLoggedModel(ctx context.Context, modelID string) error {
	return c.do(ctx, http.MethodDelete, loggedModelPath(modelID), nil, nil, nil)
}

// DeleteLoggedModelTag removes a tag of a logged model.
func (c *Client) DeleteLoggedModelTag(ctx context.Context, modelID, key string) error {
	return c.do(ctx, http.MethodDelete, loggedModelPath(modelID)+"/tags/"+url.PathEscape(key), nil, nil, nil)
}

// LogModelInputs records logged models a run used (runs/log-inputs' models).
func (c *Client) LogModelInputs(ctx context.Context, runID string, inputs []tracking.ModelInput) error {
	type input struct {
		ModelID string `json:"model_id"`
	}
	req := struct {
		RunID  string  `json:"run_id"`
		Models []input `json:"models"`
	}{RunID: runID}
	for _, in := range inputs {
		req.Models = append(req.Models, input{in.ModelID})
	}
	return c.post(ctx, wire.PathLogInputs, req, nil)
}

// FinalizeLoggedModel sets a logged model's final status (READY or FAILED).
func (c *Client) FinalizeLoggedModel(ctx context.Context, modelID string, status tracking.LoggedModelStatus) (*tracking.LoggedModel, error) {
	var out wire.LoggedModelResponse
	err := c.do(ctx, http.MethodPatch, loggedModelPath(modelID), nil, struct {
		ModelID string `json:"model_id"`
		Status  string `json:"status"`
	}{modelID, string(status)}, &out)
	if err != nil {
		return nil, err
	}
	return modelOf(out, loggedModelPath(modelID))
}

// SearchLoggedModels returns one page of logged models.
func (c *Client) SearchLoggedModels(ctx context.Context, q tracking.LoggedModelQuery) (tracking.Page[tracking.LoggedModel], error) {
	type order struct {
		FieldName     string `json:"field_name"`
		Ascending     bool   `json:"ascending"`
		DatasetName   string `json:"dataset_name,omitempty"`
		DatasetDigest string `json:"dataset_digest,omitempty"`
	}
	type dataset struct {
		DatasetName   string `json:"dataset_name"`
		DatasetDigest string `json:"dataset_digest,omitempty"`
	}
	req := struct {
		ExperimentIDs []string  `json:"experiment_ids"`
		Filter        string    `json:"filter,omitempty"`
		Datasets      []dataset `json:"datasets,omitempty"`
		MaxResults    int       `json:"max_results,omitempty"`
		OrderBy       []order   `json:"order_by,omitempty"`
		PageToken     string    `json:"page_token,omitempty"`
	}{ExperimentIDs: q.ExperimentIDs, Filter: q.Filter, MaxResults: q.MaxResults, PageToken: q.PageToken}
	for _, d := range q.Datasets {
		req.Datasets = append(req.Datasets, dataset{d.Name, d.Digest})
	}
	for _, o := range q.OrderBy {
		req.OrderBy = append(req.OrderBy, order{o.FieldName, o.Ascending, o.DatasetName, o.DatasetDigest})
	}
	var out wire.SearchLoggedModelsResponse
	if err := c.post(ctx, wire.PathSearchLoggedModels, req, &out); err != nil {
		return tracking.Page[tracking.LoggedModel]{}, err
	}
	items := make([]tracking.LoggedModel, len(out.Models))
	for i := range out.Models {
		items[i] = wire.LoggedModelToDomain(out.Models[i])
	}
	return tracking.Page[tracking.LoggedModel]{Items: items, NextPageToken: out.NextPageToken}, nil
}

// SetLoggedModelTags sets tags on a logged model.
func (c *Client) SetLoggedModelTags(ctx context.Context, modelID string, tags []tracking.Tag) error {
	return c.do(ctx, http.MethodPatch, loggedModelPath(modelID)+"/tags", nil, struct {
		Tags []wire.Tag `json:"tags"`
	}{wire.TagsFromDomain(tags)}, nil)
}

// LogLoggedModelParams logs params on a logged model, in batches of MLflow's size.
func (c *Client) LogLoggedModelParams(ctx context.Context, modelID string, params []tracking.Param) error {
	for len(params) > 0 {
		n := min(len(params), tracking.MaxParamsPerBatch)
		err := c.post(ctx, loggedModelPath(modelID)+"/params", struct {
			ModelID string       `json:"model_id"`
			Params  []wire.Param `json:"params"`
		}{modelID, wire.ParamsFromDomain(params[:n])}, nil)
		if err != nil {
			return err
		}
		params = params[n:]
	}
	return nil
}

// LogOutputs records logged models as outputs of a run (runs/outputs).
func (c *Client) LogOutputs(ctx context.Context, runID string, models []tracking.ModelOutput) error {
	type output struct {
		ModelID string `json:"model_id"`
		Step    int64  `json:"step"`
	}
	req := struct {
		RunID  string   `json:"run_id"`
		Models []output `json:"models"`
	}{RunID: runID}
	for _, m := range models {
		req.Models = append(req.Models, output{m.ModelID, m.Step})
	}
	return c.post(ctx, wire.PathLogOutputs, req, nil)
}

// SupportsLoggedModels reports whether the server speaks MLflow 3's
// logged-model API, asking once (a successful answer is kept).
//
// It asks for a logged model that cannot exist (GET logged-models/<id>): a
// server that keeps logged models answers RESOURCE_DOES_NOT_EXIST; MLflow 2.x
// answers a plain 404 page and our server without logged models JSON
// ENDPOINT_NOT_FOUND; our server on a database at MLflow 2.17.2's schema
// answers NOT_IMPLEMENTED (until tracking-server db upgrade). MLflow 3's
// server-info is not enough: our server answers it whether or not its
// database holds logged models. The probe changes nothing, and MLflow 2.17.2
// does not log it as an error.
func (c *Client) SupportsLoggedModels(ctx context.Context) (bool, error) {
	c.infoMu.Lock()
	defer c.infoMu.Unlock()
	if c.mlflow3 != nil {
		return *c.mlflow3, nil
	}
	yes, err := c.probeMLflow3(ctx)
	if err != nil {
		return false, err
	}
	c.mlflow3 = &yes
	return yes, nil
}

func (c *Client) probeMLflow3(ctx context.Context) (bool, error) {
	_, err := c.GetLoggedModel(ctx, "m-00000000000000000000000000000000", false)
	switch {
	case err == nil, tracking.IsNotFound(err):
		return true, nil
	case notServed(err), tracking.ErrorCodeOf(err) == tracking.ErrNotImplemented:
		return false, nil
	}
	return false, err
}

// notServed reports whether err says the path is not served at all: a plain
// 404 page (MLflow 2.x) or JSON ENDPOINT_NOT_FOUND (our server), as opposed to
// RESOURCE_DOES_NOT_EXIST for a missing model.
func notServed(err error) bool {
	return tracking.ErrorCodeOf(err) == tracking.ErrEndpointNotFound
}
