package mlmodel

import (
	"bufio"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/mlops-lab/housing/dataset"
	"github.com/mlops-lab/housing/learn"
	"github.com/mlops-lab/housing/learn/boost"
	"github.com/mlops-lab/housing/learn/forest"
	"github.com/mlops-lab/housing/learn/linear"
)

// LoaderModule names the Go package that loads the housing flavor, in the
// place where MLflow's flavors name their Python loader module.
const LoaderModule = "github.com/mlops-lab/housing/learn/mlmodel"

// Model kinds recorded in the housing flavor.
const (
	KindForest = "random_forest"
	KindBoost  = "gradient_boosting"
	KindLinear = "linear_regression"
)

// HousingFlavor is the configuration of the "housing" flavor.
type HousingFlavor struct {
	LoaderModule  string `yaml:"loader_module"`
	ModelFile     string `yaml:"model_file"`     // relative to the model directory
	ModelKind     string `yaml:"model_kind"`     // KindForest, KindBoost, KindLinear
	FormatVersion int    `yaml:"format_version"` // of the model file
}

// Writable is a regressor that can write its learn model file.
type Writable interface {
	learn.Regressor
	io.WriterTo
}

// SaveOptions says what to record beside the model. The zero value is valid.
type SaveOptions struct {
	// RunID and ArtifactPath say where the model is logged ("", "model" outside a run).
	RunID        string
	ArtifactPath string
	// ModelID is the MLflow 3 logged model the directory is saved for. As
	// MLflow 3's Model.log does, it is also the model_uuid, and ArtifactPath is
	// then the logged model's artifact location.
	ModelID string
	// FeatureNames name the input columns in order; default dataset.FeatureNames.
	FeatureNames []string
	// InputExample holds a few rows (each NumFeatures values) written as the
	// input example; none is written when it is empty.
	InputExample [][]float64
	// Now is the clock for utc_time_created; default time.Now.
	Now func() time.Time
	// Rand is the source of model_uuid; default crypto/rand.Reader.
	Rand io.Reader
}

// describe returns the kind and file format version of a model this package knows.
func describe(m learn.Regressor) (kind string, version int, err error) {
	switch m.(type) {
	case *forest.Forest:
		return KindForest, forest.FormatVersion, nil
	case *boost.Model:
		return KindBoost, boost.FormatVersion, nil
	case *linear.Model:
		return KindLinear, linear.FormatVersion, nil
	}
	return "", 0, fmt.Errorf("mlmodel: model type %T has no model kind (known: %s, %s, %s)", m, KindForest, KindBoost, KindLinear)
}

// Save writes m as a model directory into dir (created if missing; files of
// the same names are replaced) and returns the MLmodel it wrote.
func Save(dir string, m Writable, opts SaveOptions) (*Model, error) {
	kind, version, err := describe(m)
	if err != nil {
		return nil, err
	}
	names := opts.FeatureNames
	if names == nil {
		names = dataset.FeatureNames[:]
	}
	if len(names) != m.NumFeatures() {
		return nil, fmt.Errorf("mlmodel: %d feature names for a model of %d features", len(names), m.NumFeatures())
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	rnd := opts.Rand
	if rnd == nil {
		rnd = rand.Reader
	}
	id, err := uuid.NewRandomFromReader(rnd)
	if err != nil {
		return nil, fmt.Errorf("mlmodel: model uuid: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("mlmodel: %w", err)
	}

	uuidHex := strings.ReplaceAll(id.String(), "-", "")
	if opts.ModelID != "" {
		uuidHex = opts.ModelID
	}
	mm := &Model{
		ArtifactPath:   opts.ArtifactPath,
		MLflowVersion:  MLflowVersion,
		ModelID:        opts.ModelID,
		ModelUUID:      uuidHex,
		RunID:          opts.RunID,
		Signature:      RegressionSignature(names),
		UTCTimeCreated: now().UTC(),
	}
	if err := mm.SetFlavor(FlavorName, HousingFlavor{
		LoaderModule: LoaderModule, ModelFile: ModelFile, ModelKind: kind, FormatVersion: version,
	}); err != nil {
		return nil, err
	}

	// The two encodings of the model are written at once: each walks the
	// whole model on one core (seconds for a large forest), and neither
	// changes it.
	var size int64
	var sizeErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		size, sizeErr = writeFile(filepath.Join(dir, ModelFile), m.WriteTo)
	}()
	n, err := saveONNX(dir, mm, m, names)
	<-done
	if err := errors.Join(sizeErr, err); err != nil {
		return nil, err
	}
	mm.ModelSizeBytes = size + n
	if len(opts.InputExample) > 0 {
		n, err := writeExamples(dir, names, opts.InputExample)
		if err != nil {
			return nil, err
		}
		mm.ModelSizeBytes += n
		mm.SavedInputExampleInfo = map[string]string{
			"artifact_path":      InputExampleFile,
			"pandas_orient":      "split",
			"serving_input_path": ServingInputExampleFile,
			"type":               "dataframe",
		}
	}
	b, err := mm.MarshalYAML()
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, MLmodelFile), b, 0o644); err != nil {
		return nil, fmt.Errorf("mlmodel: %w", err)
	}
	return mm, nil
}

// splitFrame is pandas' DataFrame.to_dict(orient="split") without the index,
// the form of MLflow's input_example.json.
type splitFrame struct {
	Columns []string    `json:"columns"`
	Data    [][]float64 `json:"data"`
}

func writeExamples(dir string, names []string, rows [][]float64) (int64, error) {
	for i, row := range rows {
		if len(row) != len(names) {
			return 0, fmt.Errorf("mlmodel: input example row %d has %d values, want %d", i, len(row), len(names))
		}
		for j, v := range row {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return 0, fmt.Errorf("mlmodel: input example row %d column %s is %v; JSON cannot hold it", i, names[j], v)
			}
		}
	}
	frame := splitFrame{Columns: names, Data: rows}
	var total int64
	for _, f := range []struct {
		name string
		v    any
	}{
		{InputExampleFile, frame},
		{ServingInputExampleFile, map[string]any{"dataframe_split": frame}},
	} {
		n, err := writeFile(filepath.Join(dir, f.name), func(w io.Writer) (int64, error) {
			s, err := jsonString(f.v)
			if err != nil {
				return 0, err
			}
			k, err := io.WriteString(w, s)
			return int64(k), err
		})
		if err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}

// writeFile creates path and fills it with write, returning the bytes written.
func writeFile(path string, write func(io.Writer) (int64, error)) (n int64, err error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, fmt.Errorf("mlmodel: %w", err)
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("mlmodel: %w", cerr)
		}
	}()
	bw := bufio.NewWriter(f)
	if n, err = write(bw); err != nil {
		return n, fmt.Errorf("mlmodel: write %s: %w", path, err)
	}
	if err := bw.Flush(); err != nil {
		return n, fmt.Errorf("mlmodel: write %s: %w", path, err)
	}
	return n, nil
}

// Load reads the model directory dir: its MLmodel file and, through the
// housing flavor, the regressor. It refuses a directory without the housing
// flavor (a scikit-learn model logged by MLflow, say), a model file outside
// dir, and a model whose kind or feature count disagrees with the MLmodel.
func Load(dir string) (*Model, learn.Regressor, error) {
	mm, err := ReadDir(dir)
	if err != nil {
		return nil, nil, err
	}
	fl, err := mm.housingFlavor()
	if err != nil {
		return nil, nil, fmt.Errorf("%w (in %s)", err, dir)
	}
	reg, err := learn.LoadModelFile(filepath.Join(dir, fl.ModelFile))
	if err != nil {
		return nil, nil, fmt.Errorf("mlmodel: %w", err)
	}
	kind, _, err := describe(reg)
	if err != nil {
		return nil, nil, err
	}
	if kind != fl.ModelKind {
		return nil, nil, fmt.Errorf("mlmodel: %s: MLmodel says model_kind %q but %s holds a %s", dir, fl.ModelKind, fl.ModelFile, kind)
	}
	if s := mm.Signature; s != nil && len(s.Inputs) != reg.NumFeatures() {
		return nil, nil, fmt.Errorf("mlmodel: %s: signature has %d inputs but the model takes %d features", dir, len(s.Inputs), reg.NumFeatures())
	}
	return mm, reg, nil
}

// ErrNoInputExample is wrapped by InputExample's error when the directory has none.
var ErrNoInputExample = errors.New("mlmodel: the model directory has no input example")

// InputExample reads the input example of the model directory dir.
func InputExample(dir string) (columns []string, rows [][]float64, err error) {
	b, err := os.ReadFile(filepath.Join(dir, InputExampleFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, fmt.Errorf("%w (%s)", ErrNoInputExample, dir)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("mlmodel: %w", err)
	}
	var f splitFrame
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, nil, fmt.Errorf("mlmodel: %s: %w", filepath.Join(dir, InputExampleFile), err)
	}
	return f.Columns, f.Data, nil
}

// HousingModelFile returns the path, relative to the model directory, of the
// file that Load reads the regressor from: the one other file of the
// directory it needs beside MLmodel (so a caller fetching a model from an
// artifact store can leave model.onnx and the Python environment behind).
func (m *Model) HousingModelFile() (string, error) {
	fl, err := m.housingFlavor()
	if err != nil {
		return "", err
	}
	return fl.ModelFile, nil
}

// housingFlavor returns the housing flavor's configuration, refusing a model
// without it (a scikit-learn model logged by MLflow, say) and a model file
// outside the model directory.
func (m *Model) housingFlavor() (HousingFlavor, error) {
	var fl HousingFlavor
	if _, ok := m.Flavors[FlavorName]; !ok {
		return fl, fmt.Errorf("mlmodel: the model has no %q flavor, so this program cannot load it (its flavors: %s)",
			FlavorName, strings.Join(m.FlavorNames(), ", "))
	}
	if err := m.Flavor(FlavorName, &fl); err != nil {
		return fl, err
	}
	if !filepath.IsLocal(fl.ModelFile) {
		return fl, fmt.Errorf("mlmodel: model_file %q is not a path inside the model directory", fl.ModelFile)
	}
	return fl, nil
}
