package mlmodel

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// File names inside a model directory.
const (
	MLmodelFile             = "MLmodel"
	ModelFile               = "model.bin"
	InputExampleFile        = "input_example.json"
	ServingInputExampleFile = "serving_input_example.json"
)

// FlavorName is the name of this project's flavor in the MLmodel file.
const FlavorName = "housing"

// MLflowVersion is the MLflow release whose MLmodel format this package writes;
// MLflow's loaders compare it with their own version.
const MLflowVersion = "2.17.2"

// timeLayout is Python's str(datetime.utcnow()), which MLflow uses for
// utc_time_created; Python drops the fraction when it is zero.
const (
	timeLayout       = "2006-01-02 15:04:05.000000"
	timeLayoutNoFrac = "2006-01-02 15:04:05"
)

// Model is the content of an MLmodel file.
type Model struct {
	// ArtifactPath is where the directory was logged in its run ("model").
	ArtifactPath string
	// Flavors maps a flavor name to its configuration, as the YAML has it.
	// Flavor and SetFlavor convert to and from typed configurations.
	Flavors map[string]map[string]any
	// MLflowVersion is the MLflow version whose format the file follows.
	MLflowVersion string
	// ModelID is the MLflow 3 logged model the directory belongs to; empty for
	// a model logged into a run's artifacts (MLflow 2).
	ModelID string
	// ModelSizeBytes is the size of the directory's files other than MLmodel.
	ModelSizeBytes int64
	// ModelUUID is 32 hex digits, unique per saved model.
	ModelUUID string
	// RunID is the run the model was logged to; empty outside a run.
	RunID string
	// SavedInputExampleInfo says where the input example is and in which format.
	SavedInputExampleInfo map[string]string
	// Signature describes the model's inputs and outputs; nil when unknown.
	Signature *Signature
	// UTCTimeCreated is when the model was saved, in UTC.
	UTCTimeCreated time.Time
}

// file is the YAML shape of Model: fields in the alphabetical order of
// Python's yaml.safe_dump, which MLflow uses.
type file struct {
	ArtifactPath          string                    `yaml:"artifact_path,omitempty"`
	Flavors               map[string]map[string]any `yaml:"flavors"`
	MLflowVersion         string                    `yaml:"mlflow_version,omitempty"`
	ModelID               string                    `yaml:"model_id,omitempty"`
	ModelSizeBytes        int64                     `yaml:"model_size_bytes,omitempty"`
	ModelUUID             string                    `yaml:"model_uuid,omitempty"`
	RunID                 string                    `yaml:"run_id,omitempty"`
	SavedInputExampleInfo map[string]string         `yaml:"saved_input_example_info,omitempty"`
	Signature             *signatureFile            `yaml:"signature,omitempty"`
	UTCTimeCreated        singleQuoted              `yaml:"utc_time_created,omitempty"`
}

// singleQuoted is a string written in single quotes, as PyYAML quotes strings
// that look like timestamps (go-yaml would use double quotes).
type singleQuoted string

// MarshalYAML implements yaml.Marshaler.
func (s singleQuoted) MarshalYAML() (any, error) {
	return &yaml.Node{Kind: yaml.ScalarNode, Style: yaml.SingleQuotedStyle, Tag: "!!str", Value: string(s)}, nil
}

// Flavor decodes the configuration of flavor name into v (a pointer to a
// struct with yaml tags). It reports an error when the flavor is absent.
func (m *Model) Flavor(name string, v any) error {
	cfg, ok := m.Flavors[name]
	if !ok {
		return fmt.Errorf("mlmodel: no %q flavor (flavors: %s)", name, strings.Join(m.FlavorNames(), ", "))
	}
	b, err := yaml.Marshal(cfg)
	if err != nil {
		return fmt.Errorf("mlmodel: flavor %q: %w", name, err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		return fmt.Errorf("mlmodel: flavor %q: %w", name, err)
	}
	return nil
}

// SetFlavor sets the configuration of flavor name to v (a struct with yaml
// tags, or a map), replacing any configuration it had.
func (m *Model) SetFlavor(name string, v any) error {
	b, err := yaml.Marshal(v)
	if err != nil {
		return fmt.Errorf("mlmodel: flavor %q: %w", name, err)
	}
	var cfg map[string]any
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		return fmt.Errorf("mlmodel: flavor %q is not a mapping: %w", name, err)
	}
	if m.Flavors == nil {
		m.Flavors = map[string]map[string]any{}
	}
	m.Flavors[name] = cfg
	return nil
}

// FlavorNames returns the model's flavor names, sorted.
func (m *Model) FlavorNames() []string {
	return slices.Sorted(maps.Keys(m.Flavors))
}

// MarshalYAML returns the MLmodel file's bytes.
func (m *Model) MarshalYAML() ([]byte, error) {
	f := file{
		ArtifactPath:          m.ArtifactPath,
		Flavors:               m.Flavors,
		MLflowVersion:         m.MLflowVersion,
		ModelID:               m.ModelID,
		ModelSizeBytes:        m.ModelSizeBytes,
		ModelUUID:             m.ModelUUID,
		RunID:                 m.RunID,
		SavedInputExampleInfo: m.SavedInputExampleInfo,
	}
	if f.Flavors == nil {
		f.Flavors = map[string]map[string]any{}
	}
	if !m.UTCTimeCreated.IsZero() {
		f.UTCTimeCreated = singleQuoted(m.UTCTimeCreated.UTC().Format(timeLayout))
	}
	if m.Signature != nil {
		s, err := m.Signature.file()
		if err != nil {
			return nil, err
		}
		f.Signature = s
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&f); err != nil {
		return nil, fmt.Errorf("mlmodel: encode MLmodel: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("mlmodel: encode MLmodel: %w", err)
	}
	return buf.Bytes(), nil
}

// Parse reads an MLmodel file, as written by MLflow or by this package.
func Parse(r io.Reader) (*Model, error) {
	var f file
	dec := yaml.NewDecoder(r)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("mlmodel: parse MLmodel: %w", err)
	}
	m := &Model{
		ArtifactPath:          f.ArtifactPath,
		Flavors:               f.Flavors,
		MLflowVersion:         f.MLflowVersion,
		ModelID:               f.ModelID,
		ModelSizeBytes:        f.ModelSizeBytes,
		ModelUUID:             f.ModelUUID,
		RunID:                 f.RunID,
		SavedInputExampleInfo: f.SavedInputExampleInfo,
	}
	if f.UTCTimeCreated != "" {
		t, err := time.Parse(timeLayout, string(f.UTCTimeCreated))
		if err != nil {
			t, err = time.Parse(timeLayoutNoFrac, string(f.UTCTimeCreated))
		}
		if err != nil {
			return nil, fmt.Errorf("mlmodel: parse MLmodel: utc_time_created %q is not a time like %q", f.UTCTimeCreated, timeLayout)
		}
		m.UTCTimeCreated = t
	}
	if f.Signature != nil {
		s, err := f.Signature.signature()
		if err != nil {
			return nil, err
		}
		m.Signature = s
	}
	return m, nil
}

// ReadDir reads the MLmodel file of the model directory dir.
func ReadDir(dir string) (*Model, error) {
	f, err := os.Open(filepath.Join(dir, MLmodelFile))
	if err != nil {
		return nil, fmt.Errorf("mlmodel: %s is not a model directory: %w", dir, err)
	}
	defer f.Close()
	m, err := Parse(f)
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, dir)
	}
	return m, nil
}

// HistoryEntry returns what MLflow records about a logged model in the run tag
// mlflow.log-model.history: the identifying fields and the flavors.
func (m *Model) HistoryEntry() map[string]any {
	e := map[string]any{
		"artifact_path": m.ArtifactPath,
		"flavors":       m.Flavors,
		"model_uuid":    m.ModelUUID,
		"run_id":        m.RunID,
	}
	if !m.UTCTimeCreated.IsZero() {
		e["utc_time_created"] = m.UTCTimeCreated.UTC().Format(timeLayout)
	}
	return e
}

// jsonString marshals v as compact JSON with Python's json.dumps separators
// (", " and ": "), as MLflow writes signature specs.
func jsonString(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	var out strings.Builder
	inString, escaped := false, false
	for _, c := range string(b) {
		out.WriteRune(c)
		switch {
		case escaped:
			escaped = false
		case c == '\\' && inString:
			escaped = true
		case c == '"':
			inString = !inString
		case !inString && (c == ',' || c == ':'):
			out.WriteByte(' ')
		}
	}
	return out.String(), nil
}
