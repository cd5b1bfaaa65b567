package wire

import (
	"bytes"
	"encoding/json"
	"strconv"

	"github.com/mlops-lab/housing/tracking"
)

// LoggedModel is MLflow 3's logged model: info and data, fields in MLflow's
// order (LoggedModel in service.proto).
type LoggedModel struct {
	Info LoggedModelInfo `json:"info"`
	Data LoggedModelData `json:"data"`
}

// LoggedModelInfo is a logged model's metadata. MLflow's answers carry no
// status_message and no registrations (its to_proto leaves them out), and
// model_type and source_run_id even when "" (its REST handler stores "").
type LoggedModelInfo struct {
	ModelID                string `json:"model_id"`
	ExperimentID           string `json:"experiment_id"`
	Name                   string `json:"name"`
	CreationTimestampMs    int64  `json:"creation_timestamp_ms"`
	LastUpdatedTimestampMs int64  `json:"last_updated_timestamp_ms"`
	ArtifactURI            string `json:"artifact_uri"`
	Status                 string `json:"status"`
	ModelType              string `json:"model_type"`
	SourceRunID            string `json:"source_run_id"`
	StatusMessage          string `json:"status_message,omitempty"`
	Tags                   []Tag  `json:"tags,omitempty"`
}

// LoggedModelData is what was logged on a model.
type LoggedModelData struct {
	Params  []Param  `json:"params,omitempty"`
	Metrics []Metric `json:"metrics,omitempty"`
}

// LoggedModelStatus is a status in a request: its name or its proto number,
// which decodes to the name. Anything else decodes to its JSON text, for the
// server to refuse.
type LoggedModelStatus string

// UnmarshalJSON implements json.Unmarshaler.
func (s *LoggedModelStatus) UnmarshalJSON(b []byte) error {
	var name string
	if json.Unmarshal(b, &name) == nil {
		*s = LoggedModelStatus(name)
		return nil
	}
	b = bytes.TrimSpace(b)
	if n, err := strconv.ParseInt(string(b), 10, 64); err == nil {
		if st, err := tracking.LoggedModelStatusFromInt(n); err == nil {
			*s = LoggedModelStatus(st)
			return nil
		}
	}
	*s = LoggedModelStatus(b)
	return nil
}

// CreateLoggedModelRequest is the body of POST logged-models.
type CreateLoggedModelRequest struct {
	ExperimentID string  `json:"experiment_id"`
	Name         string  `json:"name,omitempty"`
	ModelType    string  `json:"model_type,omitempty"`
	SourceRunID  string  `json:"source_run_id,omitempty"`
	Params       []Param `json:"params,omitempty"`
	Tags         []Tag   `json:"tags,omitempty"`
}

// LoggedModelResponse answers create, get, finalize (and set-tags, whose
// MLflow answer is empty).
type LoggedModelResponse struct {
	Model *LoggedModel `json:"model,omitempty"`
}

// FinalizeLoggedModelRequest is the body of PATCH logged-models/<id>.
type FinalizeLoggedModelRequest struct {
	ModelID string            `json:"model_id,omitempty"`
	Status  LoggedModelStatus `json:"status"`
}

// SetLoggedModelTagsRequest is the body of PATCH logged-models/<id>/tags.
type SetLoggedModelTagsRequest struct {
	ModelID string `json:"model_id,omitempty"`
	Tags    []Tag  `json:"tags,omitempty"`
}

// LogLoggedModelParamsRequest is the body of POST logged-models/<id>/params.
type LogLoggedModelParamsRequest struct {
	ModelID string  `json:"model_id,omitempty"`
	Params  []Param `json:"params,omitempty"`
}

// LoggedModelDataset names a data set in a logged models search.
type LoggedModelDataset struct {
	DatasetName   string `json:"dataset_name,omitempty"`
	DatasetDigest string `json:"dataset_digest,omitempty"`
}

// LoggedModelOrderBy is one key of a logged models search's order.
type LoggedModelOrderBy struct {
	FieldName     string `json:"field_name"`
	Ascending     *bool  `json:"ascending,omitempty"`
	DatasetName   string `json:"dataset_name,omitempty"`
	DatasetDigest string `json:"dataset_digest,omitempty"`
}

// SearchLoggedModelsRequest is the body of POST logged-models/search.
type SearchLoggedModelsRequest struct {
	ExperimentIDs []string             `json:"experiment_ids,omitempty"`
	Filter        string               `json:"filter,omitempty"`
	Datasets      []LoggedModelDataset `json:"datasets,omitempty"`
	MaxResults    int64                `json:"max_results,omitempty"`
	OrderBy       []LoggedModelOrderBy `json:"order_by,omitempty"`
	PageToken     string               `json:"page_token,omitempty"`
}

// SearchLoggedModelsResponse answers POST logged-models/search.
type SearchLoggedModelsResponse struct {
	Models        []LoggedModel `json:"models,omitempty"`
	NextPageToken string        `json:"next_page_token,omitempty"`
}

// ModelOutput says that a run produced a logged model, at a step.
type ModelOutput struct {
	ModelID string `json:"model_id"`
	Step    int64  `json:"step"`
}

// ModelInput says that a run used a logged model.
type ModelInput struct {
	ModelID string `json:"model_id"`
}

// RunOutputs are the models a run produced (runs/get's outputs).
type RunOutputs struct {
	ModelOutputs []ModelOutput `json:"model_outputs,omitempty"`
}

// LogOutputsRequest is the body of POST runs/outputs.
type LogOutputsRequest struct {
	RunID  string        `json:"run_id"`
	Models []ModelOutput `json:"models,omitempty"`
}

// LoggedModelFromDomain converts a logged model.
func LoggedModelFromDomain(m tracking.LoggedModel) LoggedModel {
	return LoggedModel{
		Info: LoggedModelInfo{
			ModelID:                m.ModelID,
			ExperimentID:           m.ExperimentID,
			Name:                   m.Name,
			CreationTimestampMs:    m.CreationTimestamp,
			LastUpdatedTimestampMs: m.LastUpdatedTimestamp,
			ArtifactURI:            m.ArtifactLocation,
			Status:                 string(m.Status),
			ModelType:              m.ModelType,
			SourceRunID:            m.SourceRunID,
			Tags:                   TagsFromDomain(m.Tags),
		},
		Data: LoggedModelData{Params: ParamsFromDomain(m.Params), Metrics: MetricsFromDomain(m.Metrics)},
	}
}

// LoggedModelToDomain converts a logged model.
func LoggedModelToDomain(m LoggedModel) tracking.LoggedModel {
	status, err := tracking.ParseLoggedModelStatus(m.Info.Status)
	if err != nil {
		status = tracking.LoggedModelUnspecified
	}
	return tracking.LoggedModel{
		ModelID:              m.Info.ModelID,
		ExperimentID:         m.Info.ExperimentID,
		Name:                 m.Info.Name,
		ArtifactLocation:     m.Info.ArtifactURI,
		CreationTimestamp:    m.Info.CreationTimestampMs,
		LastUpdatedTimestamp: m.Info.LastUpdatedTimestampMs,
		ModelType:            m.Info.ModelType,
		SourceRunID:          m.Info.SourceRunID,
		Status:               status,
		StatusMessage:        m.Info.StatusMessage,
		LifecycleStage:       tracking.LifecycleActive,
		Tags:                 TagsToDomain(m.Info.Tags),
		Params:               ParamsToDomain(m.Data.Params),
		Metrics:              MetricsToDomain(m.Data.Metrics),
	}
}

// LoggedModelsFromDomain converts logged models; nil for none.
func LoggedModelsFromDomain(ms []tracking.LoggedModel) []LoggedModel {
	if len(ms) == 0 {
		return nil
	}
	out := make([]LoggedModel, len(ms))
	for i, m := range ms {
		out[i] = LoggedModelFromDomain(m)
	}
	return out
}

// ModelOutputsFromDomain converts a run's outputs; nil for none.
func ModelOutputsFromDomain(os []tracking.ModelOutput) *RunOutputs {
	if len(os) == 0 {
		return nil
	}
	out := &RunOutputs{ModelOutputs: make([]ModelOutput, len(os))}
	for i, o := range os {
		out.ModelOutputs[i] = ModelOutput{ModelID: o.ModelID, Step: o.Step}
	}
	return out
}

// ModelInputsFromDomain converts the models a run used; nil for none.
func ModelInputsFromDomain(ins []tracking.ModelInput) []ModelInput {
	if len(ins) == 0 {
		return nil
	}
	out := make([]ModelInput, len(ins))
	for i, in := range ins {
		out[i] = ModelInput{ModelID: in.ModelID}
	}
	return out
}
