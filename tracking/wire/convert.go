package wire

import (
	"github.com/mlops-lab/housing/tracking"
)

// TagsFromDomain converts tags; nil for none.
func TagsFromDomain(tags []tracking.Tag) []Tag {
	if len(tags) == 0 {
		return nil
	}
	out := make([]Tag, len(tags))
	for i, t := range tags {
		out[i] = Tag{Key: t.Key, Value: t.Value}
	}
	return out
}

// TagsToDomain converts tags; nil for none.
func TagsToDomain(tags []Tag) []tracking.Tag {
	if len(tags) == 0 {
		return nil
	}
	out := make([]tracking.Tag, len(tags))
	for i, t := range tags {
		out[i] = tracking.Tag{Key: t.Key, Value: t.Value}
	}
	return out
}

// ParamsFromDomain converts params; nil for none.
func ParamsFromDomain(params []tracking.Param) []Param {
	if len(params) == 0 {
		return nil
	}
	out := make([]Param, len(params))
	for i, p := range params {
		out[i] = Param{Key: p.Key, Value: p.Value}
	}
	return out
}

// ParamsToDomain converts params; nil for none.
func ParamsToDomain(params []Param) []tracking.Param {
	if len(params) == 0 {
		return nil
	}
	out := make([]tracking.Param, len(params))
	for i, p := range params {
		out[i] = tracking.Param{Key: p.Key, Value: p.Value}
	}
	return out
}

// MetricFromDomain converts one metric value.
func MetricFromDomain(m tracking.Metric) Metric {
	return Metric{Key: m.Key, Value: Float(m.Value), Timestamp: m.Timestamp, Step: m.Step,
		DatasetName: m.DatasetName, DatasetDigest: m.DatasetDigest, ModelID: m.ModelID, RunID: m.RunID}
}

// MetricToDomain converts one metric value.
func MetricToDomain(m Metric) tracking.Metric {
	return tracking.Metric{Key: m.Key, Value: float64(m.Value), Timestamp: m.Timestamp, Step: m.Step,
		DatasetName: m.DatasetName, DatasetDigest: m.DatasetDigest, ModelID: m.ModelID, RunID: m.RunID}
}

// MetricsFromDomain converts metrics; nil for none.
func MetricsFromDomain(ms []tracking.Metric) []Metric {
	if len(ms) == 0 {
		return nil
	}
	out := make([]Metric, len(ms))
	for i, m := range ms {
		out[i] = MetricFromDomain(m)
	}
	return out
}

// MetricsToDomain converts metrics; nil for none.
func MetricsToDomain(ms []Metric) []tracking.Metric {
	if len(ms) == 0 {
		return nil
	}
	out := make([]tracking.Metric, len(ms))
	for i, m := range ms {
		out[i] = MetricToDomain(m)
	}
	return out
}

// ExperimentFromDomain converts an experiment.
func ExperimentFromDomain(e tracking.Experiment) Experiment {
	return Experiment{
		ExperimentID:     e.ID,
		Name:             e.Name,
		ArtifactLocation: e.ArtifactLocation,
		LifecycleStage:   string(e.LifecycleStage),
		LastUpdateTime:   e.LastUpdateTime,
		CreationTime:     e.CreationTime,
		Tags:             TagsFromDomain(e.Tags),
	}
}

// ExperimentToDomain converts an experiment.
func ExperimentToDomain(e Experiment) tracking.Experiment {
	return tracking.Experiment{
		ID:               e.ExperimentID,
		Name:             e.Name,
		ArtifactLocation: e.ArtifactLocation,
		LifecycleStage:   tracking.LifecycleStage(e.LifecycleStage),
		CreationTime:     e.CreationTime,
		LastUpdateTime:   e.LastUpdateTime,
		Tags:             TagsToDomain(e.Tags),
	}
}

// ExperimentsFromDomain converts experiments; nil for none.
func ExperimentsFromDomain(es []tracking.Experiment) []Experiment {
	if len(es) == 0 {
		return nil
	}
	out := make([]Experiment, len(es))
	for i, e := range es {
		out[i] = ExperimentFromDomain(e)
	}
	return out
}

// RunInfoFromDomain converts run metadata; the id goes into run_id and run_uuid.
func RunInfoFromDomain(ri tracking.RunInfo) RunInfo {
	return RunInfo{
		RunUUID:        ri.RunID,
		ExperimentID:   ri.ExperimentID,
		RunName:        ri.RunName,
		UserID:         ri.UserID,
		Status:         string(ri.Status),
		StartTime:      ri.StartTime,
		EndTime:        ri.EndTime,
		ArtifactURI:    ri.ArtifactURI,
		LifecycleStage: string(ri.LifecycleStage),
		RunID:          ri.RunID,
	}
}

// RunInfoToDomain converts run metadata; run_id wins over run_uuid.
func RunInfoToDomain(ri RunInfo) tracking.RunInfo {
	id := ri.RunID
	if id == "" {
		id = ri.RunUUID
	}
	return tracking.RunInfo{
		RunID:          id,
		ExperimentID:   ri.ExperimentID,
		RunName:        ri.RunName,
		UserID:         ri.UserID,
		Status:         tracking.RunStatus(ri.Status),
		StartTime:      ri.StartTime,
		EndTime:        ri.EndTime,
		ArtifactURI:    ri.ArtifactURI,
		LifecycleStage: tracking.LifecycleStage(ri.LifecycleStage),
	}
}

// DatasetInputsFromDomain converts data set inputs; nil for none.
func DatasetInputsFromDomain(in []tracking.DatasetInput) []DatasetInput {
	if len(in) == 0 {
		return nil
	}
	out := make([]DatasetInput, len(in))
	for i, d := range in {
		out[i] = DatasetInput{
			Tags: TagsFromDomain(d.Tags),
			Dataset: Dataset{
				Name: d.Dataset.Name, Digest: d.Dataset.Digest, SourceType: d.Dataset.SourceType,
				Source: d.Dataset.Source, Schema: d.Dataset.Schema, Profile: d.Dataset.Profile,
			},
		}
	}
	return out
}

// DatasetInputsToDomain converts data set inputs; nil for none.
func DatasetInputsToDomain(in []DatasetInput) []tracking.DatasetInput {
	if len(in) == 0 {
		return nil
	}
	out := make([]tracking.DatasetInput, len(in))
	for i, d := range in {
		out[i] = tracking.DatasetInput{
			Tags: TagsToDomain(d.Tags),
			Dataset: tracking.Dataset{
				Name: d.Dataset.Name, Digest: d.Dataset.Digest, SourceType: d.Dataset.SourceType,
				Source: d.Dataset.Source, Schema: d.Dataset.Schema, Profile: d.Dataset.Profile,
			},
		}
	}
	return out
}

// RunFromDomain converts a run as runs/get and runs/search send it, with
// "inputs" present ({} when the run has none). runs/create leaves inputs out: set
// Inputs to nil there.
func RunFromDomain(r tracking.Run) Run {
	return Run{
		Info: RunInfoFromDomain(r.Info),
		Data: RunData{
			Metrics: MetricsFromDomain(r.Data.Metrics),
			Params:  ParamsFromDomain(r.Data.Params),
			Tags:    TagsFromDomain(r.Data.Tags),
		},
		Inputs: &RunInputs{DatasetInputs: DatasetInputsFromDomain(r.Inputs)},
	}
}

// RunToDomain converts a run.
func RunToDomain(r Run) tracking.Run {
	run := tracking.Run{
		Info: RunInfoToDomain(r.Info),
		Data: tracking.RunData{
			Metrics: MetricsToDomain(r.Data.Metrics),
			Params:  ParamsToDomain(r.Data.Params),
			Tags:    TagsToDomain(r.Data.Tags),
		},
	}
	if r.Inputs != nil {
		run.Inputs = DatasetInputsToDomain(r.Inputs.DatasetInputs)
	}
	return run
}

// RunsFromDomain converts runs as runs/search sends them; nil for none.
func RunsFromDomain(rs []tracking.Run) []Run {
	if len(rs) == 0 {
		return nil
	}
	out := make([]Run, len(rs))
	for i, r := range rs {
		out[i] = RunFromDomain(r)
	}
	return out
}

// RunsToDomain converts runs; nil for none.
func RunsToDomain(rs []Run) []tracking.Run {
	if len(rs) == 0 {
		return nil
	}
	out := make([]tracking.Run, len(rs))
	for i, r := range rs {
		out[i] = RunToDomain(r)
	}
	return out
}

// FileInfoFromDomain converts an artifact listing entry; directories carry no size.
func FileInfoFromDomain(f tracking.FileInfo) FileInfo {
	fi := FileInfo{Path: f.Path, IsDir: f.IsDir}
	if !f.IsDir {
		size := f.FileSize
		fi.FileSize = &size
	}
	return fi
}

// FileInfoToDomain converts an artifact listing entry.
func FileInfoToDomain(f FileInfo) tracking.FileInfo {
	fi := tracking.FileInfo{Path: f.Path, IsDir: f.IsDir}
	if f.FileSize != nil {
		fi.FileSize = *f.FileSize
	}
	return fi
}

// FileInfosFromDomain converts a listing; nil for none.
func FileInfosFromDomain(fs []tracking.FileInfo) []FileInfo {
	if len(fs) == 0 {
		return nil
	}
	out := make([]FileInfo, len(fs))
	for i, f := range fs {
		out[i] = FileInfoFromDomain(f)
	}
	return out
}

// FileInfosToDomain converts a listing; nil for none.
func FileInfosToDomain(fs []FileInfo) []tracking.FileInfo {
	if len(fs) == 0 {
		return nil
	}
	out := make([]tracking.FileInfo, len(fs))
	for i, f := range fs {
		out[i] = FileInfoToDomain(f)
	}
	return out
}

// ModelVersionFromDomain converts a model version.
func ModelVersionFromDomain(mv tracking.ModelVersion) ModelVersion {
	var aliases []string
	if len(mv.Aliases) > 0 {
		aliases = append(aliases, mv.Aliases...)
	}
	return ModelVersion{
		Name:                 mv.Name,
		Version:              mv.Version,
		CreationTimestamp:    mv.CreationTimestamp,
		LastUpdatedTimestamp: mv.LastUpdatedTimestamp,
		UserID:               mv.UserID,
		CurrentStage:         string(mv.CurrentStage),
		Description:          mv.Description,
		Source:               mv.Source,
		RunID:                mv.RunID,
		Status:               string(mv.Status),
		StatusMessage:        mv.StatusMessage,
		Tags:                 TagsFromDomain(mv.Tags),
		RunLink:              mv.RunLink,
		Aliases:              aliases,
	}
}

// ModelVersionToDomain converts a model version.
func ModelVersionToDomain(mv ModelVersion) tracking.ModelVersion {
	var aliases []string
	if len(mv.Aliases) > 0 {
		aliases = append(aliases, mv.Aliases...)
	}
	return tracking.ModelVersion{
		Name:                 mv.Name,
		Version:              mv.Version,
		CreationTimestamp:    mv.CreationTimestamp,
		LastUpdatedTimestamp: mv.LastUpdatedTimestamp,
		UserID:               mv.UserID,
		CurrentStage:         tracking.Stage(mv.CurrentStage),
		Description:          mv.Description,
		Source:               mv.Source,
		RunID:                mv.RunID,
		Status:               tracking.ModelVersionStatus(mv.Status),
		StatusMessage:        mv.StatusMessage,
		Tags:                 TagsToDomain(mv.Tags),
		RunLink:              mv.RunLink,
		Aliases:              aliases,
	}
}

// ModelVersionsFromDomain converts model versions; nil for none.
func ModelVersionsFromDomain(mvs []tracking.ModelVersion) []ModelVersion {
	if len(mvs) == 0 {
		return nil
	}
	out := make([]ModelVersion, len(mvs))
	for i, mv := range mvs {
		out[i] = ModelVersionFromDomain(mv)
	}
	return out
}

// ModelVersionsToDomain converts model versions; nil for none.
func ModelVersionsToDomain(mvs []ModelVersion) []tracking.ModelVersion {
	if len(mvs) == 0 {
		return nil
	}
	out := make([]tracking.ModelVersion, len(mvs))
	for i, mv := range mvs {
		out[i] = ModelVersionToDomain(mv)
	}
	return out
}

// RegisteredModelFromDomain converts a registered model.
func RegisteredModelFromDomain(rm tracking.RegisteredModel) RegisteredModel {
	var aliases []RegisteredModelAlias
	for _, a := range rm.Aliases {
		aliases = append(aliases, RegisteredModelAlias{Alias: a.Alias, Version: a.Version})
	}
	return RegisteredModel{
		Name:                 rm.Name,
		CreationTimestamp:    rm.CreationTimestamp,
		LastUpdatedTimestamp: rm.LastUpdatedTimestamp,
		UserID:               rm.UserID,
		Description:          rm.Description,
		LatestVersions:       ModelVersionsFromDomain(rm.LatestVersions),
		Tags:                 TagsFromDomain(rm.Tags),
		Aliases:              aliases,
	}
}

// RegisteredModelToDomain converts a registered model.
func RegisteredModelToDomain(rm RegisteredModel) tracking.RegisteredModel {
	var aliases []tracking.Alias
	for _, a := range rm.Aliases {
		aliases = append(aliases, tracking.Alias{Alias: a.Alias, Version: a.Version})
	}
	return tracking.RegisteredModel{
		Name:                 rm.Name,
		CreationTimestamp:    rm.CreationTimestamp,
		LastUpdatedTimestamp: rm.LastUpdatedTimestamp,
		UserID:               rm.UserID,
		Description:          rm.Description,
		LatestVersions:       ModelVersionsToDomain(rm.LatestVersions),
		Tags:                 TagsToDomain(rm.Tags),
		Aliases:              aliases,
	}
}

// RegisteredModelsFromDomain converts registered models; nil for none.
func RegisteredModelsFromDomain(rms []tracking.RegisteredModel) []RegisteredModel {
	if len(rms) == 0 {
		return nil
	}
	out := make([]RegisteredModel, len(rms))
	for i, rm := range rms {
		out[i] = RegisteredModelFromDomain(rm)
	}
	return out
}

// RegisteredModelsToDomain converts registered models; nil for none.
func RegisteredModelsToDomain(rms []RegisteredModel) []tracking.RegisteredModel {
	if len(rms) == 0 {
		return nil
	}
	out := make([]tracking.RegisteredModel, len(rms))
	for i, rm := range rms {
		out[i] = RegisteredModelToDomain(rm)
	}
	return out
}

// ErrorFromDomain is the body a server sends for err. It does not hide internal
// errors' text: a server does that before calling it.
func ErrorFromDomain(err error) ErrorResponse {
	return ErrorResponse{ErrorCode: string(tracking.ErrorCodeOf(err)), Message: tracking.ErrorMessage(err)}
}

// Err turns an error body into the domain error with its code and message.
func (e ErrorResponse) Err() *tracking.Error {
	return &tracking.Error{Code: tracking.ErrorCode(e.ErrorCode), Message: e.Message}
}

// DatasetSummariesFromDomain converts data set summaries to the wire.
func DatasetSummariesFromDomain(ds []tracking.DatasetSummary) []DatasetSummary {
	out := make([]DatasetSummary, len(ds))
	for i, d := range ds {
		out[i] = DatasetSummary{ExperimentID: d.ExperimentID, Name: d.Name, Digest: d.Digest, Context: d.Context}
	}
	return out
}

// DatasetSummariesToDomain converts data set summaries from the wire.
func DatasetSummariesToDomain(ds []DatasetSummary) []tracking.DatasetSummary {
	out := make([]tracking.DatasetSummary, len(ds))
	for i, d := range ds {
		out[i] = tracking.DatasetSummary{ExperimentID: d.ExperimentID, Name: d.Name, Digest: d.Digest, Context: d.Context}
	}
	return out
}
