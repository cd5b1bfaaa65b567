package tracking

import "strings"

// PromptTagKey is the tag MLflow 3 marks its prompts with: a prompt is a
// registered model (and its versions are model versions) whose PromptTagKey
// tag is "true". Registry searches leave prompts out unless they ask for them.
const PromptTagKey = "mlflow.prompt.is_prompt"

// Stage is a model version's stage in MLflow's (deprecated but widely used) stage workflow.
type Stage string

// The four stages, as MLflow spells them on output.
const (
	StageNone       Stage = "None"
	StageStaging    Stage = "Staging"
	StageProduction Stage = "Production"
	StageArchived   Stage = "Archived"
)

// ParseStage accepts a stage name case-insensitively, as MLflow does on input, and
// returns it in MLflow's spelling.
func ParseStage(s string) (Stage, error) {
	for _, st := range []Stage{StageNone, StageStaging, StageProduction, StageArchived} {
		if strings.EqualFold(s, string(st)) {
			return st, nil
		}
	}
	return "", Errorf(ErrInvalidParameterValue,
		"Invalid Model Version stage: %s. Value must be one of None, Staging, Production, Archived.", s)
}

// Active reports whether versions in stage s are in use (Staging or Production):
// only those may be archived by a transition with archive_existing_versions.
func (s Stage) Active() bool { return s == StageStaging || s == StageProduction }

// ModelVersionStatus is a model version's registration status.
type ModelVersionStatus string

// Model version statuses.
const (
	VersionPendingRegistration ModelVersionStatus = "PENDING_REGISTRATION"
	VersionFailedRegistration  ModelVersionStatus = "FAILED_REGISTRATION"
	VersionReady               ModelVersionStatus = "READY"
)

// Alias names a model version of a registered model ("champion" -> "3").
type Alias struct {
	Alias   string
	Version string
}

// RegisteredModel is a named model in the registry.
type RegisteredModel struct {
	Name                 string
	CreationTimestamp    int64
	LastUpdatedTimestamp int64
	UserID               string
	Description          string
	LatestVersions       []ModelVersion // latest version per stage
	Tags                 []Tag
	Aliases              []Alias
}

// ModelVersion is one registered version of a model.
type ModelVersion struct {
	Name                 string
	Version              string // "1", "2", ...: a string on the wire, an integer in the database
	CreationTimestamp    int64
	LastUpdatedTimestamp int64
	UserID               string
	CurrentStage         Stage
	Description          string
	Source               string // the model's artifact URI, kept verbatim
	RunID                string
	Status               ModelVersionStatus
	StatusMessage        string
	Tags                 []Tag
	RunLink              string
	Aliases              []string
	// ModelID is the logged model the version was registered from
	// (models:/<model id>), MLflow 3; "" otherwise.
	ModelID string
}

// ReservedAliasLatest cannot be set as an alias: models:/name@latest is not an alias.
const ReservedAliasLatest = "latest"
