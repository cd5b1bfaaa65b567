package server

import (
	"fmt"
	"math"
	"strconv"

	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/wire"
)

// The GraphQL schema's object types (graphql.graphql), resolved from their
// fields (graphql.UseFieldResolvers; names match case-insensitively). The
// schema makes every field nullable, so every field is a pointer; the
// constructors below fill all of them, as MLflow's resolvers read protobuf
// messages, whose unset fields read as "", 0 and false.

// longString is MLflow's LongString scalar: an int64 written as a JSON string,
// so that JavaScript clients keep every digit; read from integer literals (and,
// in variables, from what Python's int() takes: numbers and numeric strings).
type longString int64

func (longString) ImplementsGraphQLType(name string) bool { return name == "LongString" }

func (l *longString) UnmarshalGraphQL(input any) error {
	switch v := input.(type) {
	case int32:
		*l = longString(v)
	case int64:
		*l = longString(v)
	case float64:
		if v != math.Trunc(v) || math.Abs(v) > math.MaxInt64 {
			return fmt.Errorf("LongString cannot represent %v", v)
		}
		*l = longString(v)
	case string:
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("LongString cannot represent %q", v)
		}
		*l = longString(n)
	default:
		return fmt.Errorf("LongString cannot represent %v", input)
	}
	return nil
}

func (l longString) MarshalJSON() ([]byte, error) {
	return strconv.AppendQuote(nil, strconv.FormatInt(int64(l), 10)), nil
}

func ptr[T any](v T) *T { return &v }

func long(v int64) *longString { return ptr(longString(v)) }

// gqlFloat is a metric value: GraphQL's Float has no NaN or infinities, so
// those are null (graphene fails the whole field instead).
func gqlFloat(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

// each maps a list to the pointer-to-slice-of-pointers a nullable list of
// non-null objects resolves to; nil and empty are [].
func each[S any, T any](in []S, f func(S) *T) *[]*T {
	out := make([]*T, len(in))
	for i, v := range in {
		out[i] = f(v)
	}
	return &out
}

// gqlAPIError is MLflow's ApiError. MLflow 2.17.2 never fills the apiError
// fields (a failing resolver's error goes to the answer's "errors"), and neither
// does this server; the type is there so that queries naming them validate.
type gqlAPIError struct {
	Code, Message, HelpURL, TraceID *string
	ErrorDetails                    *[]*gqlErrorDetail
}

type gqlErrorDetail struct{ Field, Message *string }

// gqlKeyValue is every tag type and MlflowParam.
type gqlKeyValue struct{ Key, Value *string }

func gqlTag(t tracking.Tag) *gqlKeyValue { return &gqlKeyValue{ptr(t.Key), ptr(t.Value)} }

func gqlParam(p tracking.Param) *gqlKeyValue { return &gqlKeyValue{ptr(p.Key), ptr(p.Value)} }

type gqlExperiment struct {
	ExperimentID, Name, ArtifactLocation, LifecycleStage *string
	LastUpdateTime, CreationTime                         *longString
	Tags                                                 *[]*gqlKeyValue
}

func gqlExperimentOf(e tracking.Experiment) *gqlExperiment {
	return &gqlExperiment{
		ExperimentID: ptr(e.ID), Name: ptr(e.Name), ArtifactLocation: ptr(e.ArtifactLocation),
		LifecycleStage: ptr(string(e.LifecycleStage)),
		LastUpdateTime: long(e.LastUpdateTime), CreationTime: long(e.CreationTime),
		Tags: each(e.Tags, gqlTag),
	}
}

type gqlRunInfo struct {
	RunID, RunUUID, RunName, ExperimentID, UserID, Status *string
	StartTime, EndTime                                    *longString
	ArtifactURI, LifecycleStage                           *string
}

type gqlMetric struct {
	Key             *string
	Value           *float64
	Timestamp, Step *longString
}

type gqlRunData struct {
	Metrics *[]*gqlMetric
	Params  *[]*gqlKeyValue
	Tags    *[]*gqlKeyValue
}

type gqlDataset struct {
	Name, Digest, SourceType, Source, Schema, Profile *string
}

type gqlDatasetInput struct {
	Tags    *[]*gqlKeyValue
	Dataset *gqlDataset
}

type gqlRunInputs struct{ DatasetInputs *[]*gqlDatasetInput }

func gqlRunInfoOf(i tracking.RunInfo) *gqlRunInfo {
	return &gqlRunInfo{
		RunID: ptr(i.RunID), RunUUID: ptr(i.RunID), RunName: ptr(i.RunName), ExperimentID: ptr(i.ExperimentID),
		UserID: ptr(i.UserID), Status: ptr(string(i.Status)),
		StartTime: long(i.StartTime), EndTime: long(i.EndTime),
		ArtifactURI: ptr(i.ArtifactURI), LifecycleStage: ptr(string(i.LifecycleStage)),
	}
}

func gqlRunDataOf(d tracking.RunData) *gqlRunData {
	return &gqlRunData{
		Metrics: each(d.Metrics, func(m tracking.Metric) *gqlMetric {
			return &gqlMetric{Key: ptr(m.Key), Value: gqlFloat(m.Value), Timestamp: long(m.Timestamp), Step: long(m.Step)}
		}),
		Params: each(d.Params, gqlParam),
		Tags:   each(d.Tags, gqlTag),
	}
}

func gqlRunInputsOf(in []tracking.DatasetInput) *gqlRunInputs {
	return &gqlRunInputs{DatasetInputs: each(in, func(di tracking.DatasetInput) *gqlDatasetInput {
		d := di.Dataset
		return &gqlDatasetInput{
			Tags: each(di.Tags, gqlTag),
			Dataset: &gqlDataset{
				Name: ptr(d.Name), Digest: ptr(d.Digest), SourceType: ptr(d.SourceType),
				Source: ptr(d.Source), Schema: ptr(d.Schema), Profile: ptr(d.Profile),
			},
		}
	})}
}

type gqlModelVersion struct {
	Name, Version                           *string
	CreationTimestamp, LastUpdatedTimestamp *longString
	UserID, CurrentStage, Description       *string
	Source, RunID, Status, StatusMessage    *string
	Tags                                    *[]*gqlKeyValue
	RunLink                                 *string
	Aliases                                 *[]*string
}

func gqlModelVersionOf(mv tracking.ModelVersion) *gqlModelVersion {
	return &gqlModelVersion{
		Name: ptr(mv.Name), Version: ptr(mv.Version),
		CreationTimestamp: long(mv.CreationTimestamp), LastUpdatedTimestamp: long(mv.LastUpdatedTimestamp),
		UserID: ptr(mv.UserID), CurrentStage: ptr(string(mv.CurrentStage)), Description: ptr(mv.Description),
		Source: ptr(mv.Source), RunID: ptr(mv.RunID), Status: ptr(string(mv.Status)), StatusMessage: ptr(mv.StatusMessage),
		Tags:    each(mv.Tags, gqlTag),
		RunLink: ptr(mv.RunLink),
		Aliases: each(mv.Aliases, ptr[string]),
	}
}

type gqlFileInfo struct {
	Path     *string
	IsDir    *bool
	FileSize *longString
}

func gqlFileInfoOf(f tracking.FileInfo) *gqlFileInfo {
	return &gqlFileInfo{Path: ptr(f.Path), IsDir: ptr(f.IsDir), FileSize: long(f.FileSize)}
}

type gqlMetricWithRunID struct {
	Key             *string
	Value           *float64
	Timestamp, Step *longString
	RunID           *string
}

func gqlMetricWithRunIDOf(m wire.MetricWithRunID) *gqlMetricWithRunID {
	return &gqlMetricWithRunID{
		Key: ptr(m.Key), Value: gqlFloat(float64(m.Value)), Timestamp: long(m.Timestamp), Step: long(m.Step), RunID: ptr(m.RunID),
	}
}

type gqlDatasetSummary struct{ ExperimentID, Name, Digest, Context *string }

func gqlDatasetSummaryOf(d tracking.DatasetSummary) *gqlDatasetSummary {
	return &gqlDatasetSummary{ptr(d.ExperimentID), ptr(d.Name), ptr(d.Digest), ptr(d.Context)}
}

// The responses: MLflow's Response messages plus apiError.

type gqlGetExperimentResponse struct {
	Experiment *gqlExperiment
	APIError   *gqlAPIError
}

type gqlGetRunResponse struct {
	Run      *gqlRun
	APIError *gqlAPIError
}

type gqlSearchRunsResponse struct {
	Runs          *[]*gqlRun
	NextPageToken *string
	APIError      *gqlAPIError
}

type gqlListArtifactsResponse struct {
	RootURI       *string
	Files         *[]*gqlFileInfo
	NextPageToken *string
	APIError      *gqlAPIError
}

type gqlGetMetricHistoryBulkIntervalResponse struct {
	Metrics  *[]*gqlMetricWithRunID
	APIError *gqlAPIError
}

type gqlSearchDatasetsResponse struct {
	DatasetSummaries *[]*gqlDatasetSummary
	APIError         *gqlAPIError
}

type gqlSearchModelVersionsResponse struct {
	ModelVersions *[]*gqlModelVersion
	NextPageToken *string
	APIError      *gqlAPIError
}

type gqlEcho struct{ Output *string }

// The inputs: every field optional, as in MLflow's input types.

type gqlGetExperimentInput struct{ ExperimentID *string }

type gqlGetRunInput struct{ RunID, RunUUID *string }

type gqlSearchRunsInput struct {
	ExperimentIDs *[]*string
	Filter        *string
	RunViewType   *string
	MaxResults    *int32
	OrderBy       *[]*string
	PageToken     *string
}

type gqlListArtifactsInput struct{ RunID, RunUUID, Path, PageToken *string }

type gqlGetMetricHistoryBulkIntervalInput struct {
	RunIDs                         *[]*string
	MetricKey                      *string
	StartStep, EndStep, MaxResults *int32
}

type gqlSearchDatasetsInput struct{ ExperimentIDs *[]*string }

type gqlSearchModelVersionsInput struct {
	Filter     *string
	MaxResults *longString
	OrderBy    *[]*string
	PageToken  *string
}

// deref returns *p, or the zero value when p is nil.
func deref[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}

// strings returns a list argument's non-null elements.
func stringsOf(p *[]*string) []string {
	if p == nil {
		return nil
	}
	out := make([]string, 0, len(*p))
	for _, s := range *p {
		if s != nil {
			out = append(out, *s)
		}
	}
	return out
}
