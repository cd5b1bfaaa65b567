package tracking

import "context"

// MLflow 3's logged models as a client sees them (the client side of issue 14;
// the server and SQL store side is another branch's tracking/loggedmodels.go,
// and the two are to be merged into one set of types).

// LoggedModelStatus is a logged model's state, named as on MLflow's wire.
type LoggedModelStatus string

// Logged model states: created PENDING, then finalized READY or FAILED.
const (
	LoggedModelPending LoggedModelStatus = "LOGGED_MODEL_PENDING"
	LoggedModelReady   LoggedModelStatus = "LOGGED_MODEL_READY"
	LoggedModelFailed  LoggedModelStatus = "LOGGED_MODEL_UPLOAD_FAILED"
)

// LoggedModel is an MLflow 3 logged model: a model with its own id and
// artifact location (<experiment>/models/<model_id>/artifacts), linked to the
// run that produced it.
type LoggedModel struct {
	ModelID         string
	ExperimentID    string
	Name            string
	CreationTime    int64 // milliseconds since the Unix epoch
	LastUpdatedTime int64
	ArtifactURI     string
	Status          LoggedModelStatus
	StatusMessage   string
	CreatorID       int64
	ModelType       string
	SourceRunID     string
	Tags            []Tag
	Params          []Param
	Metrics         []Metric
	Registrations   []LoggedModelRegistration
}

// LoggedModelRegistration is a registered model version made from a logged model.
type LoggedModelRegistration struct {
	Name    string
	Version string
}

// CreateLoggedModel is what a new logged model starts with.
type CreateLoggedModel struct {
	ExperimentID string
	Name         string // empty: the store picks one
	ModelType    string
	SourceRunID  string
	Params       []Param
	Tags         []Tag
}

// LoggedModelQuery selects logged models.
type LoggedModelQuery struct {
	ExperimentIDs []string
	Filter        string // e.g. "name = 'model'"
	MaxResults    int    // 0: the store's default
	PageToken     string
	OrderBy       []LoggedModelOrder
}

// LoggedModelOrder is one order_by clause of a logged-model search.
type LoggedModelOrder struct {
	FieldName                  string
	Ascending                  bool
	DatasetName, DatasetDigest string // for metrics of one data set
}

// ModelOutput links a logged model to the run that produced it, at a step.
type ModelOutput struct {
	ModelID string
	Step    int64
}

// LoggedModelStore is what a Store offers when its backend keeps MLflow 3's
// logged models. A Store may implement it and still talk to a backend without
// them; LoggedModelSupport says which.
type LoggedModelStore interface {
	CreateLoggedModel(ctx context.Context, in CreateLoggedModel) (*LoggedModel, error)
	GetLoggedModel(ctx context.Context, modelID string) (*LoggedModel, error)
	FinalizeLoggedModel(ctx context.Context, modelID string, status LoggedModelStatus) (*LoggedModel, error)
	SearchLoggedModels(ctx context.Context, q LoggedModelQuery) (Page[LoggedModel], error)
	SetLoggedModelTags(ctx context.Context, modelID string, tags []Tag) error
	LogLoggedModelParams(ctx context.Context, modelID string, params []Param) error
	// LogOutputs records models as outputs of a run (runs/outputs).
	LogOutputs(ctx context.Context, runID string, models []ModelOutput) error
}

// LoggedModelSupport is implemented by stores that can only tell at run time
// whether their backend keeps logged models (a REST client of an MLflow 2.x or
// 3.x server).
type LoggedModelSupport interface {
	SupportsLoggedModels(ctx context.Context) (bool, error)
}

// LoggedModels returns s as a LoggedModelStore when its backend keeps logged
// models, nil when it does not.
func LoggedModels(ctx context.Context, s Store) (LoggedModelStore, error) {
	lm, ok := s.(LoggedModelStore)
	if !ok {
		return nil, nil
	}
	if sup, ok := s.(LoggedModelSupport); ok {
		yes, err := sup.SupportsLoggedModels(ctx)
		if err != nil || !yes {
			return nil, err
		}
	}
	return lm, nil
}
