// Package kfpapi is a small client of the Kubeflow Pipelines REST API
// v2beta1: upload a pipeline (or a new version of it), find or create an
// experiment, and create a run or a recurring run. JSON bodies use the
// API's snake_case field names, as its grpc-gateway serves them.
package kfpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
)

// Client talks to one KFP API server.
type Client struct {
	base  *url.URL
	token string
	http  *http.Client
}

// New returns a client of the KFP API at host (e.g.
// http://ml-pipeline-ui.kubeflow or https://host/pipeline). A non-empty token
// is sent as a bearer token. A nil hc means http.DefaultClient.
func New(host, token string, hc *http.Client) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(host, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("kfpapi: host %q is not an http(s) URL", host)
	}
	if hc == nil {
		hc = http.DefaultClient
	}
	return &Client{base: u, token: token, http: hc}, nil
}

// Pipeline is a v2beta1 Pipeline.
type Pipeline struct {
	PipelineID  string `json:"pipeline_id,omitempty"`
	DisplayName string `json:"display_name,omitempty"`
	Description string `json:"description,omitempty"`
	Namespace   string `json:"namespace,omitempty"`
}

// PipelineVersion is a v2beta1 PipelineVersion.
type PipelineVersion struct {
	PipelineID        string `json:"pipeline_id,omitempty"`
	PipelineVersionID string `json:"pipeline_version_id,omitempty"`
	DisplayName       string `json:"display_name,omitempty"`
}

// Experiment is a v2beta1 Experiment.
type Experiment struct {
	ExperimentID string `json:"experiment_id,omitempty"`
	DisplayName  string `json:"display_name,omitempty"`
	Namespace    string `json:"namespace,omitempty"`
}

// PipelineVersionReference names the pipeline version a run runs.
type PipelineVersionReference struct {
	PipelineID        string `json:"pipeline_id"`
	PipelineVersionID string `json:"pipeline_version_id,omitempty"`
}

// RuntimeConfig holds a run's parameter values.
type RuntimeConfig struct {
	Parameters   map[string]any `json:"parameters,omitempty"`
	PipelineRoot string         `json:"pipeline_root,omitempty"`
}

// Run is a v2beta1 Run, as far as creating one needs.
type Run struct {
	RunID                    string                    `json:"run_id,omitempty"`
	ExperimentID             string                    `json:"experiment_id,omitempty"`
	DisplayName              string                    `json:"display_name"`
	Description              string                    `json:"description,omitempty"`
	PipelineVersionReference *PipelineVersionReference `json:"pipeline_version_reference"`
	RuntimeConfig            *RuntimeConfig            `json:"runtime_config,omitempty"`
	ServiceAccount           string                    `json:"service_account,omitempty"`
	State                    string                    `json:"state,omitempty"`
}

// CronSchedule runs on a cron schedule. KFP's cron has six fields, seconds
// first: "0 0 * * * *" is hourly.
type CronSchedule struct {
	Cron string `json:"cron"`
}

// Trigger says when a recurring run starts runs.
type Trigger struct {
	CronSchedule *CronSchedule `json:"cron_schedule,omitempty"`
}

// RecurringRun is a v2beta1 RecurringRun, as far as creating one needs.
type RecurringRun struct {
	RecurringRunID           string                    `json:"recurring_run_id,omitempty"`
	DisplayName              string                    `json:"display_name"`
	Description              string                    `json:"description,omitempty"`
	PipelineVersionReference *PipelineVersionReference `json:"pipeline_version_reference"`
	RuntimeConfig            *RuntimeConfig            `json:"runtime_config,omitempty"`
	// MaxConcurrency is an int64, which proto3 JSON writes as a string.
	MaxConcurrency int64    `json:"max_concurrency,string"`
	Trigger        *Trigger `json:"trigger"`
	Mode           string   `json:"mode"` // ENABLE or DISABLE
	NoCatchup      bool     `json:"no_catchup"`
	Namespace      string   `json:"namespace,omitempty"`
	ExperimentID   string   `json:"experiment_id,omitempty"`
	Status         string   `json:"status,omitempty"`
}

// APIError is a non-2xx answer of the KFP API.
type APIError struct {
	Method, Path string
	Status       int
	Message      string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("kfpapi: %s %s: %d %s: %s", e.Method, e.Path, e.Status, http.StatusText(e.Status), e.Message)
}

// UploadPipeline uploads a pipeline YAML as a new pipeline named name; KFP
// makes it the pipeline's first version.
func (c *Client) UploadPipeline(ctx context.Context, name, description, namespace string, spec []byte) (Pipeline, error) {
	q := url.Values{"name": {name}}
	if description != "" {
		q.Set("description", description)
	}
	if namespace != "" {
		q.Set("namespace", namespace)
	}
	var p Pipeline
	err := c.upload(ctx, "/apis/v2beta1/pipelines/upload", q, name, spec, &p)
	return p, err
}

// UploadPipelineVersion uploads a pipeline YAML as a new version, named
// name, of an existing pipeline.
func (c *Client) UploadPipelineVersion(ctx context.Context, pipelineID, name string, spec []byte) (PipelineVersion, error) {
	q := url.Values{"name": {name}, "pipelineid": {pipelineID}}
	var v PipelineVersion
	err := c.upload(ctx, "/apis/v2beta1/pipelines/upload_version", q, name, spec, &v)
	return v, err
}

func (c *Client) upload(ctx context.Context, path string, q url.Values, name string, spec []byte, out any) error {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, err := mw.CreateFormFile("uploadfile", name+".yaml")
	if err != nil {
		return err
	}
	if _, err := fw.Write(spec); err != nil {
		return err
	}
	if err := mw.Close(); err != nil {
		return err
	}
	return c.do(ctx, http.MethodPost, path, q, mw.FormDataContentType(), &body, out)
}

// FindPipeline returns the pipeline whose display name is name, and false
// when there is none.
func (c *Client) FindPipeline(ctx context.Context, name, namespace string) (Pipeline, bool, error) {
	q := url.Values{"filter": {equalsFilter("display_name", name)}}
	if namespace != "" {
		q.Set("namespace", namespace)
	}
	var res struct {
		Pipelines []Pipeline `json:"pipelines"`
	}
	if err := c.do(ctx, http.MethodGet, "/apis/v2beta1/pipelines", q, "", nil, &res); err != nil {
		return Pipeline{}, false, err
	}
	switch len(res.Pipelines) {
	case 0:
		return Pipeline{}, false, nil
	case 1:
		return res.Pipelines[0], true, nil
	default:
		return Pipeline{}, false, fmt.Errorf("kfpapi: %d pipelines are named %q", len(res.Pipelines), name)
	}
}

// LatestPipelineVersion returns the most recently created version of a pipeline.
func (c *Client) LatestPipelineVersion(ctx context.Context, pipelineID string) (PipelineVersion, error) {
	q := url.Values{"sort_by": {"created_at desc"}, "page_size": {"1"}}
	var res struct {
		PipelineVersions []PipelineVersion `json:"pipeline_versions"`
	}
	if err := c.do(ctx, http.MethodGet, "/apis/v2beta1/pipelines/"+url.PathEscape(pipelineID)+"/versions", q, "", nil, &res); err != nil {
		return PipelineVersion{}, err
	}
	if len(res.PipelineVersions) == 0 {
		return PipelineVersion{}, fmt.Errorf("kfpapi: pipeline %s has no versions", pipelineID)
	}
	return res.PipelineVersions[0], nil
}

// EnsureExperiment returns the experiment named name in namespace,
// creating it if there is none.
func (c *Client) EnsureExperiment(ctx context.Context, name, namespace string) (Experiment, error) {
	q := url.Values{"filter": {equalsFilter("display_name", name)}}
	if namespace != "" {
		q.Set("namespace", namespace)
	}
	var res struct {
		Experiments []Experiment `json:"experiments"`
	}
	if err := c.do(ctx, http.MethodGet, "/apis/v2beta1/experiments", q, "", nil, &res); err != nil {
		return Experiment{}, err
	}
	if len(res.Experiments) > 0 {
		return res.Experiments[0], nil
	}
	var e Experiment
	err := c.postJSON(ctx, "/apis/v2beta1/experiments", Experiment{DisplayName: name, Namespace: namespace}, &e)
	return e, err
}

// CreateRun starts a run.
func (c *Client) CreateRun(ctx context.Context, run Run) (Run, error) {
	var out Run
	err := c.postJSON(ctx, "/apis/v2beta1/runs", run, &out)
	return out, err
}

// CreateRecurringRun creates a recurring run.
func (c *Client) CreateRecurringRun(ctx context.Context, rr RecurringRun) (RecurringRun, error) {
	var out RecurringRun
	err := c.postJSON(ctx, "/apis/v2beta1/recurringruns", rr, &out)
	return out, err
}

func (c *Client) postJSON(ctx context.Context, path string, in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("kfpapi: encode %s body: %w", path, err)
	}
	return c.do(ctx, http.MethodPost, path, nil, "application/json", bytes.NewReader(b), out)
}

func (c *Client) do(ctx context.Context, method, path string, q url.Values, contentType string, body io.Reader, out any) error {
	u := *c.base
	u.Path = c.base.Path + path
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return fmt.Errorf("kfpapi: %s %s: %w", method, path, err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("kfpapi: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("kfpapi: %s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		return &APIError{Method: method, Path: path, Status: resp.StatusCode, Message: errorMessage(data)}
	}
	if out == nil || len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("kfpapi: %s %s: decode answer: %w", method, path, err)
	}
	return nil
}

// errorMessage takes the message out of a KFP error body
// ({"error": ..., "code": ..., "message": ...}), or the body itself.
func errorMessage(data []byte) string {
	var e struct {
		Error   string `json:"error"`
		Message string `json:"message"`
	}
	if json.Unmarshal(data, &e) == nil {
		if e.Message != "" {
			return e.Message
		}
		if e.Error != "" {
			return e.Error
		}
	}
	s := strings.TrimSpace(string(data))
	if len(s) > 500 {
		s = s[:500] + "..."
	}
	return s
}

// equalsFilter is the JSON Filter (backend/api/v2beta1/filter.proto) that
// selects key == value, as the KFP SDK writes it.
func equalsFilter(key, value string) string {
	b, _ := json.Marshal(map[string]any{"predicates": []map[string]any{{
		"operation": "EQUALS", "key": key, "stringValue": value,
	}}})
	return string(b)
}
