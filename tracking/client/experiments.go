package client

import (
	"context"
	"net/url"

	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/wire"
)

// CreateExperiment creates an experiment and returns its id.
func (c *Client) CreateExperiment(ctx context.Context, name, artifactLocation string, tags []tracking.Tag) (string, error) {
	var out wire.CreateExperimentResponse
	err := c.post(ctx, wire.PathCreateExperiment, wire.CreateExperimentRequest{
		Name: name, ArtifactLocation: artifactLocation, Tags: wire.TagsFromDomain(tags),
	}, &out)
	return out.ExperimentID, err
}

// GetExperiment returns the experiment with id.
func (c *Client) GetExperiment(ctx context.Context, id string) (*tracking.Experiment, error) {
	var out wire.GetExperimentResponse
	if err := c.get(ctx, wire.PathGetExperiment, url.Values{"experiment_id": {id}}, &out); err != nil {
		return nil, err
	}
	e := wire.ExperimentToDomain(out.Experiment)
	return &e, nil
}

// GetExperimentByName returns the experiment called name.
func (c *Client) GetExperimentByName(ctx context.Context, name string) (*tracking.Experiment, error) {
	var out wire.GetExperimentResponse
	if err := c.get(ctx, wire.PathGetExperimentByName, url.Values{"experiment_name": {name}}, &out); err != nil {
		return nil, err
	}
	e := wire.ExperimentToDomain(out.Experiment)
	return &e, nil
}

// SearchExperiments returns one page of experiments. MaxResults 0 asks for
// MLflow's default page: the real MLflow 2.17.2 server takes an absent
// max_results as 0 and refuses it, so the client always sends one, as MLflow's
// Python client does (1000).
func (c *Client) SearchExperiments(ctx context.Context, q tracking.ExperimentQuery) (tracking.Page[tracking.Experiment], error) {
	max := q.MaxResults
	if max == 0 {
		max = tracking.DefaultSearchResults
	}
	var out wire.SearchExperimentsResponse
	err := c.post(ctx, wire.PathSearchExperiments, wire.SearchExperimentsRequest{
		MaxResults: int64(max),
		PageToken:  q.PageToken,
		Filter:     q.Filter,
		OrderBy:    q.OrderBy,
		ViewType:   string(q.ViewType),
	}, &out)
	if err != nil {
		return tracking.Page[tracking.Experiment]{}, err
	}
	items := make([]tracking.Experiment, len(out.Experiments))
	for i, e := range out.Experiments {
		items[i] = wire.ExperimentToDomain(e)
	}
	return tracking.Page[tracking.Experiment]{Items: items, NextPageToken: out.NextPageToken}, nil
}

// RenameExperiment renames an experiment (experiments/update).
func (c *Client) RenameExperiment(ctx context.Context, id, newName string) error {
	return c.post(ctx, wire.PathUpdateExperiment, wire.UpdateExperimentRequest{ExperimentID: id, NewName: newName}, nil)
}

// DeleteExperiment moves an experiment and its runs to the deleted stage.
func (c *Client) DeleteExperiment(ctx context.Context, id string) error {
	return c.post(ctx, wire.PathDeleteExperiment, wire.DeleteExperimentRequest{ExperimentID: id}, nil)
}

// RestoreExperiment brings a deleted experiment back.
func (c *Client) RestoreExperiment(ctx context.Context, id string) error {
	return c.post(ctx, wire.PathRestoreExperiment, wire.RestoreExperimentRequest{ExperimentID: id}, nil)
}

// SetExperimentTag sets a tag on an experiment.
func (c *Client) SetExperimentTag(ctx context.Context, id, key, value string) error {
	return c.post(ctx, wire.PathSetExperimentTag, wire.SetExperimentTagRequest{ExperimentID: id, Key: key, Value: value}, nil)
}

// DeleteExperimentTag removes a tag from an experiment.
func (c *Client) DeleteExperimentTag(ctx context.Context, id, key string) error {
	return c.post(ctx, wire.PathDeleteExperimentTag, wire.DeleteExperimentTagRequest{ExperimentID: id, Key: key}, nil)
}
