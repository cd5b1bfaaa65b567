package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/wire"
)

func (c *Client) registeredModel(ctx context.Context, method, path string, in any) (*tracking.RegisteredModel, error) {
	var out wire.RegisteredModelResponse
	if err := c.do(ctx, method, path, nil, in, &out); err != nil {
		return nil, err
	}
	rm := wire.RegisteredModelToDomain(out.RegisteredModel)
	return &rm, nil
}

func (c *Client) modelVersion(ctx context.Context, method, path string, query url.Values, in any) (*tracking.ModelVersion, error) {
	var out wire.ModelVersionResponse
	if err := c.do(ctx, method, path, query, in, &out); err != nil {
		return nil, err
	}
	mv := wire.ModelVersionToDomain(out.ModelVersion)
	return &mv, nil
}

// CreateRegisteredModel creates a registered model.
func (c *Client) CreateRegisteredModel(ctx context.Context, name, description string, tags []tracking.Tag) (*tracking.RegisteredModel, error) {
	return c.registeredModel(ctx, http.MethodPost, wire.PathCreateRegisteredModel, wire.CreateRegisteredModelRequest{
		Name: name, Description: description, Tags: wire.TagsFromDomain(tags),
	})
}

// GetRegisteredModel returns a registered model with its latest versions, tags and aliases.
func (c *Client) GetRegisteredModel(ctx context.Context, name string) (*tracking.RegisteredModel, error) {
	var out wire.RegisteredModelResponse
	if err := c.get(ctx, wire.PathGetRegisteredModel, url.Values{"name": {name}}, &out); err != nil {
		return nil, err
	}
	rm := wire.RegisteredModelToDomain(out.RegisteredModel)
	return &rm, nil
}

// RenameRegisteredModel renames a registered model.
func (c *Client) RenameRegisteredModel(ctx context.Context, name, newName string) (*tracking.RegisteredModel, error) {
	return c.registeredModel(ctx, http.MethodPost, wire.PathRenameRegisteredModel, wire.RenameRegisteredModelRequest{Name: name, NewName: newName})
}

// UpdateRegisteredModel sets a registered model's description (PATCH).
func (c *Client) UpdateRegisteredModel(ctx context.Context, name, description string) (*tracking.RegisteredModel, error) {
	return c.registeredModel(ctx, http.MethodPatch, wire.PathUpdateRegisteredModel, wire.UpdateRegisteredModelRequest{Name: name, Description: description})
}

// DeleteRegisteredModel deletes a registered model and its versions.
func (c *Client) DeleteRegisteredModel(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, wire.PathDeleteRegisteredModel, nil, wire.DeleteRegisteredModelRequest{Name: name}, nil)
}

// SearchRegisteredModels returns one page of registered models (GET form, as the Python client sends it).
func (c *Client) SearchRegisteredModels(ctx context.Context, q tracking.ModelQuery) (tracking.Page[tracking.RegisteredModel], error) {
	var out wire.SearchRegisteredModelsResponse
	if err := c.get(ctx, wire.PathSearchRegisteredModels, modelQuery(q), &out); err != nil {
		return tracking.Page[tracking.RegisteredModel]{}, err
	}
	return tracking.Page[tracking.RegisteredModel]{Items: nonNil(wire.RegisteredModelsToDomain(out.RegisteredModels)), NextPageToken: out.NextPageToken}, nil
}

func modelQuery(q tracking.ModelQuery) url.Values {
	v := url.Values{}
	if q.Filter != "" {
		v.Set("filter", q.Filter)
	}
	if q.MaxResults > 0 {
		v.Set("max_results", strconv.Itoa(q.MaxResults))
	}
	for _, o := range q.OrderBy {
		v.Add("order_by", o)
	}
	if q.PageToken != "" {
		v.Set("page_token", q.PageToken)
	}
	return v
}

// SetRegisteredModelTag sets a tag on a registered model.
func (c *Client) SetRegisteredModelTag(ctx context.Context, name, key, value string) error {
	return c.post(ctx, wire.PathSetRegisteredModelTag, wire.SetRegisteredModelTagRequest{Name: name, Key: key, Value: value}, nil)
}

// DeleteRegisteredModelTag removes a tag from a registered model.
func (c *Client) DeleteRegisteredModelTag(ctx context.Context, name, key string) error {
	return c.do(ctx, http.MethodDelete, wire.PathDeleteRegisteredModelTag, nil, wire.DeleteRegisteredModelTagRequest{Name: name, Key: key}, nil)
}

// GetLatestVersions returns the latest version per stage (POST, as the Python client sends it).
func (c *Client) GetLatestVersions(ctx context.Context, name string, stages []tracking.Stage) ([]tracking.ModelVersion, error) {
	req := wire.GetLatestVersionsRequest{Name: name}
	for _, s := range stages {
		req.Stages = append(req.Stages, string(s))
	}
	var out wire.ModelVersionsResponse
	if err := c.post(ctx, wire.PathGetLatestVersions, req, &out); err != nil {
		return nil, err
	}
	return nonNil(wire.ModelVersionsToDomain(out.ModelVersions)), nil
}

// CreateModelVersion registers a model version.
func (c *Client) CreateModelVersion(ctx context.Context, in tracking.CreateModelVersion) (*tracking.ModelVersion, error) {
	return c.modelVersion(ctx, http.MethodPost, wire.PathCreateModelVersion, nil, wire.CreateModelVersionRequest{
		Name: in.Name, Source: in.Source, RunID: in.RunID, Tags: wire.TagsFromDomain(in.Tags),
		RunLink: in.RunLink, Description: in.Description, ModelID: in.ModelID,
	})
}

// GetModelVersion returns one model version.
func (c *Client) GetModelVersion(ctx context.Context, name, version string) (*tracking.ModelVersion, error) {
	return c.modelVersion(ctx, http.MethodGet, wire.PathGetModelVersion, url.Values{"name": {name}, "version": {version}}, nil)
}

// UpdateModelVersion sets a model version's description (PATCH).
func (c *Client) UpdateModelVersion(ctx context.Context, name, version, description string) (*tracking.ModelVersion, error) {
	return c.modelVersion(ctx, http.MethodPatch, wire.PathUpdateModelVersion, nil, wire.UpdateModelVersionRequest{Name: name, Version: version, Description: description})
}

// DeleteModelVersion deletes a model version.
func (c *Client) DeleteModelVersion(ctx context.Context, name, version string) error {
	return c.do(ctx, http.MethodDelete, wire.PathDeleteModelVersion, nil, wire.DeleteModelVersionRequest{Name: name, Version: version}, nil)
}

// SearchModelVersions returns one page of model versions.
func (c *Client) SearchModelVersions(ctx context.Context, q tracking.ModelQuery) (tracking.Page[tracking.ModelVersion], error) {
	var out wire.SearchModelVersionsResponse
	if err := c.get(ctx, wire.PathSearchModelVersions, modelQuery(q), &out); err != nil {
		return tracking.Page[tracking.ModelVersion]{}, err
	}
	return tracking.Page[tracking.ModelVersion]{Items: nonNil(wire.ModelVersionsToDomain(out.ModelVersions)), NextPageToken: out.NextPageToken}, nil
}

// TransitionModelVersionStage moves a model version to stage.
func (c *Client) TransitionModelVersionStage(ctx context.Context, name, version string, stage tracking.Stage, archiveExisting bool) (*tracking.ModelVersion, error) {
	return c.modelVersion(ctx, http.MethodPost, wire.PathTransitionModelVersion, nil, wire.TransitionModelVersionStageRequest{
		Name: name, Version: version, Stage: string(stage), ArchiveExistingVersions: archiveExisting,
	})
}

// SetModelVersionTag sets a tag on a model version.
func (c *Client) SetModelVersionTag(ctx context.Context, name, version, key, value string) error {
	return c.post(ctx, wire.PathSetModelVersionTag, wire.SetModelVersionTagRequest{Name: name, Version: version, Key: key, Value: value}, nil)
}

// DeleteModelVersionTag removes a tag from a model version.
func (c *Client) DeleteModelVersionTag(ctx context.Context, name, version, key string) error {
	return c.do(ctx, http.MethodDelete, wire.PathDeleteModelVersionTag, nil, wire.DeleteModelVersionTagRequest{Name: name, Version: version, Key: key}, nil)
}

// SetRegisteredModelAlias points alias at version.
func (c *Client) SetRegisteredModelAlias(ctx context.Context, name, alias, version string) error {
	return c.post(ctx, wire.PathRegisteredModelAlias, wire.SetRegisteredModelAliasRequest{Name: name, Alias: alias, Version: version}, nil)
}

// DeleteRegisteredModelAlias removes an alias.
func (c *Client) DeleteRegisteredModelAlias(ctx context.Context, name, alias string) error {
	return c.do(ctx, http.MethodDelete, wire.PathRegisteredModelAlias, nil, wire.DeleteRegisteredModelAliasRequest{Name: name, Alias: alias}, nil)
}

// GetModelVersionByAlias returns the version alias points at.
func (c *Client) GetModelVersionByAlias(ctx context.Context, name, alias string) (*tracking.ModelVersion, error) {
	return c.modelVersion(ctx, http.MethodGet, wire.PathRegisteredModelAlias, url.Values{"name": {name}, "alias": {alias}}, nil)
}

// GetModelVersionDownloadURI returns where a model version's files are.
func (c *Client) GetModelVersionDownloadURI(ctx context.Context, name, version string) (string, error) {
	var out wire.GetModelVersionDownloadURIResponse
	err := c.get(ctx, wire.PathGetModelVersionDownloadURI, url.Values{"name": {name}, "version": {version}}, &out)
	return out.ArtifactURI, err
}
