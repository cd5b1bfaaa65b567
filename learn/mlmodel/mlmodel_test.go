package mlmodel_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mlops-lab/housing/dataset"
	"github.com/mlops-lab/housing/learn/forest"
	"github.com/mlops-lab/housing/learn/linear"
	"github.com/mlops-lab/housing/learn/mlmodel"
)

// synthetic returns n rows of 8 features and a target that depends on them.
func synthetic(n int) (X, y []float64) {
	r := rand.New(rand.NewPCG(3, 4))
	X = make([]float64, n*8)
	y = make([]float64, n)
	for i := range n {
		for j := range 8 {
			X[i*8+j] = r.Float64() * float64(j+1)
		}
		y[i] = 2*X[i*8] - X[i*8+3] + 0.5*X[i*8+6] + 0.1*r.NormFloat64()
	}
	return X, y
}

func rows(X []float64, n int) [][]float64 {
	out := make([][]float64, n)
	for i := range out {
		out[i] = X[i*8 : (i+1)*8]
	}
	return out
}

var created = time.Date(2026, 11, 29, 11, 51, 11, 923467000, time.UTC)

func TestSaveLoadForest(t *testing.T) {
	X, y := synthetic(400)
	f, err := forest.Fit(context.Background(), X, 8, y, forest.Params{NEstimators: 5, MaxDepth: 4, Bootstrap: true, Seed: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "model")
	mm, err := mlmodel.Save(dir, f, mlmodel.SaveOptions{
		RunID: "2b51d7d6af4943359afb598267dd4f34", ArtifactPath: "model",
		InputExample: rows(X, 3),
		Now:          func() time.Time { return created.In(time.FixedZone("PST", -8*3600)) },
		Rand:         rand.NewChaCha8([32]byte{5, 6}),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(mm.ModelUUID) != 32 || strings.Trim(mm.ModelUUID, "0123456789abcdef") != "" {
		t.Errorf("model_uuid %q is not 32 hex digits", mm.ModelUUID)
	}

	t.Run("MLmodel text", func(t *testing.T) {
		b, err := os.ReadFile(filepath.Join(dir, mlmodel.MLmodelFile))
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		for _, want := range []string{
			"artifact_path: model\n",
			"run_id: 2b51d7d6af4943359afb598267dd4f34\n",
			// utc_time_created in UTC, Python's str(datetime) form, quoted as MLflow's YAML does.
			"utc_time_created: '2026-11-29 11:51:11.923467'\n",
			"mlflow_version: " + mlmodel.MLflowVersion + "\n",
			"  housing:\n",
			"    model_kind: random_forest\n",
			"    model_file: model.bin\n",
			`  inputs: '[{"type": "double", "name": "MedInc", "required": true}, {"type": "double", "name": "HouseAge", "required": true}`,
			`  outputs: '[{"type": "double", "required": true}]'` + "\n",
			"  params: null\n",
			"  pandas_orient: split\n",
		} {
			if !strings.Contains(text, want) {
				t.Errorf("MLmodel lacks %q:\n%s", want, text)
			}
		}
		// Keys are sorted as Python's yaml.safe_dump sorts them.
		var top []string
		for _, line := range strings.Split(text, "\n") {
			if line != "" && line[0] != ' ' {
				top = append(top, strings.SplitN(line, ":", 2)[0])
			}
		}
		if !slices.IsSorted(top) {
			t.Errorf("top-level keys not sorted: %v", top)
		}
	})

	t.Run("input example", func(t *testing.T) {
		b, err := os.ReadFile(filepath.Join(dir, mlmodel.InputExampleFile))
		if err != nil {
			t.Fatal(err)
		}
		var ex struct {
			Columns []string    `json:"columns"`
			Data    [][]float64 `json:"data"`
		}
		if err := json.Unmarshal(b, &ex); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ex.Columns, dataset.FeatureNames[:]) || len(ex.Data) != 3 || !slices.Equal(ex.Data[2], X[16:24]) {
			t.Errorf("input example = %s", b)
		}
		var serving map[string]json.RawMessage
		b, err = os.ReadFile(filepath.Join(dir, mlmodel.ServingInputExampleFile))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &serving); err != nil || serving["dataframe_split"] == nil {
			t.Errorf("serving input example = %s (%v)", b, err)
		}
	})

	t.Run("Load", func(t *testing.T) {
		got, reg, err := mlmodel.Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		if !got.UTCTimeCreated.Equal(created) || got.ModelUUID != mm.ModelUUID || got.RunID != mm.RunID {
			t.Errorf("read back %+v, wrote %+v", got, mm)
		}
		if !slices.Equal(got.Signature.InputNames(), dataset.FeatureNames[:]) {
			t.Errorf("signature inputs %v", got.Signature.InputNames())
		}
		want := f.Predict(nil, X)
		if p := reg.Predict(nil, X); !slices.Equal(p, want) {
			t.Error("loaded forest predicts differently")
		}
		var fl mlmodel.HousingFlavor
		if err := got.Flavor(mlmodel.FlavorName, &fl); err != nil || fl.FormatVersion != forest.FormatVersion {
			t.Errorf("flavor %+v, %v", fl, err)
		}
		cols, ex, err := mlmodel.InputExample(dir)
		if err != nil || len(cols) != 8 || len(ex) != 3 {
			t.Errorf("InputExample: %v %v %v", cols, ex, err)
		}
	})

	t.Run("history entry", func(t *testing.T) {
		e := mm.HistoryEntry()
		if e["run_id"] != mm.RunID || e["artifact_path"] != "model" || e["utc_time_created"] != "2026-11-29 11:51:11.923467" {
			t.Errorf("history entry %v", e)
		}
		if _, err := json.Marshal(e); err != nil {
			t.Errorf("history entry does not marshal: %v", err)
		}
	})
}

func TestSaveLoadLinearWithoutExample(t *testing.T) {
	X, y := synthetic(100)
	m, err := linear.Fit(X, 8, y)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	mm, err := mlmodel.Save(dir, m, mlmodel.SaveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if mm.SavedInputExampleInfo != nil {
		t.Errorf("input example info without an example: %v", mm.SavedInputExampleInfo)
	}
	if _, _, err := mlmodel.InputExample(dir); !errors.Is(err, mlmodel.ErrNoInputExample) {
		t.Errorf("InputExample without one: %v", err)
	}
	_, reg, err := mlmodel.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(reg.Predict(nil, X), m.Predict(nil, X)) {
		t.Error("loaded linear model predicts differently")
	}
}

// sklearnMLmodel is the MLmodel MLflow 2.17.2 wrote for a scikit-learn model.
const sklearnMLmodel = `artifact_path: model
flavors:
  python_function:
    env:
      conda: conda.yaml
      virtualenv: python_env.yaml
    loader_module: mlflow.sklearn
    model_path: model.pkl
    predict_fn: predict
    python_version: 3.11.2
  sklearn:
    code: null
    pickled_model: model.pkl
    serialization_format: cloudpickle
    sklearn_version: 1.2.1
mlflow_version: 2.17.2
model_size_bytes: 531
model_uuid: bb26666a962d43a597f395844a592cde
run_id: 2b51d7d6af4943359afb598267dd4f34
signature:
  inputs: '[{"type": "double", "name": "MedInc", "required": true}]'
  outputs: '[{"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1]}}]'
  params: null
utc_time_created: '2026-11-29 11:51:11.923467'
`

func TestMLflowModelRefused(t *testing.T) {
	m, err := mlmodel.Parse(strings.NewReader(sklearnMLmodel))
	if err != nil {
		t.Fatalf("MLflow's own MLmodel does not parse: %v", err)
	}
	if !slices.Equal(m.FlavorNames(), []string{"python_function", "sklearn"}) || m.Signature.Inputs[0].Name != "MedInc" {
		t.Errorf("parsed %+v", m)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "MLmodel"), []byte(sklearnMLmodel), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err = mlmodel.Load(dir)
	if err == nil || !strings.Contains(err.Error(), `no "housing" flavor`) || !strings.Contains(err.Error(), "python_function, sklearn") {
		t.Errorf("Load of a scikit-learn model: %v", err)
	}
}

func TestLoadRefusesBadDirs(t *testing.T) {
	X, y := synthetic(100)
	m, err := linear.Fit(X, 8, y)
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]func(dir string) error{
		"no MLmodel": func(dir string) error { return os.Remove(filepath.Join(dir, "MLmodel")) },
		"escaping model file": func(dir string) error {
			return rewrite(dir, "model_file: model.bin", "model_file: ../model.bin")
		},
		"wrong kind": func(dir string) error {
			return rewrite(dir, "model_kind: linear_regression", "model_kind: random_forest")
		},
		"corrupt model file": func(dir string) error {
			return os.WriteFile(filepath.Join(dir, "model.bin"), []byte("HOUSLINRgarbage"), 0o644)
		},
	}
	for name, damage := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if _, err := mlmodel.Save(dir, m, mlmodel.SaveOptions{}); err != nil {
				t.Fatal(err)
			}
			if err := damage(dir); err != nil {
				t.Fatal(err)
			}
			if _, _, err := mlmodel.Load(dir); err == nil {
				t.Error("damaged model directory loaded")
			}
		})
	}
}

func rewrite(dir, old, new string) error {
	p := filepath.Join(dir, "MLmodel")
	b, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	if !bytes.Contains(b, []byte(old)) {
		return errors.New("MLmodel lacks " + old)
	}
	return os.WriteFile(p, bytes.Replace(b, []byte(old), []byte(new), 1), 0o644)
}

func TestSaveRefusesBadInput(t *testing.T) {
	X, y := synthetic(100)
	m, err := linear.Fit(X, 8, y)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mlmodel.Save(t.TempDir(), m, mlmodel.SaveOptions{FeatureNames: []string{"a"}}); err == nil {
		t.Error("saved with 1 feature name for 8 features")
	}
	if _, err := mlmodel.Save(t.TempDir(), m, mlmodel.SaveOptions{InputExample: [][]float64{{1, 2}}}); err == nil {
		t.Error("saved a 2-value example row")
	}
}

// TestSaveForLoggedModel: saved for an MLflow 3 logged model, the MLmodel file
// carries model_id, with model_uuid the same id and artifact_path the model's
// artifact location, as MLflow 3's Model.log writes it; Parse reads it back.
func TestSaveForLoggedModel(t *testing.T) {
	X, y := synthetic(100)
	f, err := forest.Fit(context.Background(), X, 8, y, forest.Params{NEstimators: 2, MaxDepth: 2, Seed: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	const id, loc = "m-4edf931e727a44288906346290c95aab", "mlflow-artifacts:/1/models/m-4edf931e727a44288906346290c95aab/artifacts"
	dir := filepath.Join(t.TempDir(), "model")
	if _, err := mlmodel.Save(dir, f, mlmodel.SaveOptions{RunID: "r1", ModelID: id, ArtifactPath: loc}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, mlmodel.MLmodelFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"model_id: " + id + "\n", "model_uuid: " + id + "\n", "artifact_path: " + loc + "\n", "run_id: r1\n"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("MLmodel lacks %q:\n%s", want, b)
		}
	}
	m, err := mlmodel.Parse(strings.NewReader(string(b)))
	if err != nil || m.ModelID != id {
		t.Errorf("parsed model_id %q (%v), want %s", m.ModelID, err, id)
	}
}
