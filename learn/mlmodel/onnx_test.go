package mlmodel_test

import (
	"context"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mlops-lab/housing/internal/testenv"
	"github.com/mlops-lab/housing/learn/boost"
	"github.com/mlops-lab/housing/learn/forest"
	"github.com/mlops-lab/housing/learn/linear"
	"github.com/mlops-lab/housing/learn/mlmodel"
)

// savedModels saves a model of each kind, fitted on synthetic rows, and
// returns their directories and the models.
func savedModels(t *testing.T) (X []float64, dirs map[string]string, models map[string]mlmodel.Writable) {
	t.Helper()
	X, y := synthetic(400)
	ctx := context.Background()
	f, err := forest.Fit(ctx, X, 8, y, forest.Params{NEstimators: 5, MaxDepth: 4, Bootstrap: true, Seed: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	bp := boost.DefaultParams()
	bp.MaxIter, bp.Seed = 20, 1
	b, err := boost.Fit(ctx, X, 8, y, bp, nil)
	if err != nil {
		t.Fatal(err)
	}
	l, err := linear.Fit(X, 8, y)
	if err != nil {
		t.Fatal(err)
	}
	models = map[string]mlmodel.Writable{mlmodel.KindForest: f, mlmodel.KindBoost: b, mlmodel.KindLinear: l}
	dirs = map[string]string{}
	root := t.TempDir()
	for kind, m := range models {
		dir := filepath.Join(root, kind)
		if _, err := mlmodel.Save(dir, m, mlmodel.SaveOptions{RunID: "r1", ArtifactPath: "model", InputExample: rows(X, 2)}); err != nil {
			t.Fatal(err)
		}
		dirs[kind] = dir
	}
	return X, dirs, models
}

// TestSaveONNXFlavors checks the onnx and python_function flavors and the
// environment files, as mlflow.onnx.save_model writes them, for every kind.
func TestSaveONNXFlavors(t *testing.T) {
	X, dirs, models := savedModels(t)
	for kind, dir := range dirs {
		t.Run(kind, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(dir, mlmodel.MLmodelFile))
			if err != nil {
				t.Fatal(err)
			}
			text := string(b)
			for _, want := range []string{
				"  onnx:\n    code: null\n    data: model.onnx\n    onnx_session_options: null\n    onnx_version: " + mlmodel.ONNXVersion + "\n    providers:\n      - CUDAExecutionProvider\n      - CPUExecutionProvider\n",
				"  python_function:\n    data: model.onnx\n    env:\n      conda: conda.yaml\n      virtualenv: python_env.yaml\n    loader_module: mlflow.onnx\n    python_version: " + mlmodel.PythonVersion + "\n",
				"    model_kind: " + kind + "\n",
			} {
				if !strings.Contains(text, want) {
					t.Errorf("MLmodel lacks\n%s\nin\n%s", want, text)
				}
			}
			for name, want := range map[string][]string{
				mlmodel.RequirementsFile: {"mlflow==2.17.2", "onnx==", "onnxruntime=="},
				mlmodel.CondaFile:        {"- python=" + mlmodel.PythonVersion, "  - mlflow==2.17.2\n", "  - onnxruntime==", "name: mlflow-env"},
				mlmodel.PythonEnvFile:    {"python: " + mlmodel.PythonVersion, "- -r requirements.txt"},
			} {
				b, err := os.ReadFile(filepath.Join(dir, name))
				if err != nil {
					t.Fatal(err)
				}
				for _, w := range want {
					if !strings.Contains(string(b), w) {
						t.Errorf("%s lacks %q:\n%s", name, w, b)
					}
				}
			}

			// Both engines load it and agree; the native one is the model.
			want := models[kind].Predict(nil, X)
			mm, native, used, err := mlmodel.LoadEngine(dir, mlmodel.EngineAuto)
			if err != nil || used != mlmodel.EngineNative {
				t.Fatalf("LoadEngine auto: engine %q, %v", used, err)
			}
			if !slices.Equal(native.Predict(nil, X), want) {
				t.Error("native engine predicts differently from the saved model")
			}
			if !slices.Equal(mm.FlavorNames(), []string{"housing", "onnx", "python_function"}) {
				t.Errorf("flavors %v", mm.FlavorNames())
			}
			_, ev, used, err := mlmodel.LoadEngine(dir, mlmodel.EngineONNX)
			if err != nil || used != mlmodel.EngineONNX {
				t.Fatalf("LoadEngine onnx: engine %q, %v", used, err)
			}
			got := ev.Predict(nil, X)
			for r := range want {
				// float32 output; the linear model computes in float too.
				if d := math.Abs(got[r] - want[r]); d > 1e-5*(1+math.Abs(want[r])) {
					t.Fatalf("row %d: onnx %v, native %v", r, got[r], want[r])
				}
			}
		})
	}
}

// TestAutoEngineWithoutHousingFlavor: a directory with only MLflow's
// flavors (as another tool would leave it) is scored through ONNX by auto,
// and refused by native naming the flavors it has.
func TestAutoEngineWithoutHousingFlavor(t *testing.T) {
	X, dirs, models := savedModels(t)
	dir := dirs[mlmodel.KindBoost]
	mm, err := mlmodel.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	delete(mm.Flavors, mlmodel.FlavorName)
	b, err := mm.MarshalYAML()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, mlmodel.MLmodelFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, mlmodel.ModelFile)); err != nil {
		t.Fatal(err)
	}
	_, reg, used, err := mlmodel.LoadEngine(dir, mlmodel.EngineAuto)
	if err != nil || used != mlmodel.EngineONNX {
		t.Fatalf("auto without the housing flavor: engine %q, %v", used, err)
	}
	want := models[mlmodel.KindBoost].Predict(nil, X)
	for r, v := range reg.Predict(nil, X) {
		if v != float64(float32(want[r])) {
			t.Fatalf("row %d: onnx %v, model %v", r, v, want[r])
		}
	}
	if _, _, _, err := mlmodel.LoadEngine(dir, mlmodel.EngineNative); err == nil || !strings.Contains(err.Error(), "onnx, python_function") {
		t.Errorf("native without the housing flavor: %v", err)
	}
	if _, _, _, err := mlmodel.LoadEngine(dir, "tensorrt"); err == nil || !strings.Contains(err.Error(), `"tensorrt"`) {
		t.Errorf("unknown engine: %v", err)
	}
}

// TestSavedONNXPassesChecker runs onnx.checker with full_check on the
// model.onnx that Save writes, for every kind.
func TestSavedONNXPassesChecker(t *testing.T) {
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import onnx").Run(); err != nil {
		testenv.Unavailable(t, "%s with the onnx module (Debian python3-onnx) is needed: %v", py, err)
		return
	}
	_, dirs, _ := savedModels(t)
	for kind, dir := range dirs {
		path := filepath.Join(dir, mlmodel.ONNXFile)
		out, err := exec.Command(py, "-c", "import onnx, sys; onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)", path).CombinedOutput()
		if err != nil {
			t.Errorf("onnx.checker refuses the %s model.onnx: %v\n%s", kind, err, out)
		}
	}
}
