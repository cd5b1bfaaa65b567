package mlmodel

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/mlops-lab/housing/learn"
	"github.com/mlops-lab/housing/learn/onnx"
)

// Files and flavors that let MLflow serve the model from its ONNX form,
// as mlflow.onnx.save_model (MLflow 2.17) writes them.
const (
	ONNXFile         = "model.onnx"
	CondaFile        = "conda.yaml"
	PythonEnvFile    = "python_env.yaml"
	RequirementsFile = "requirements.txt"

	ONNXFlavorName   = "onnx"
	PyFuncFlavorName = "python_function"
	// ONNXLoaderModule is the python_function loader of MLflow's onnx flavor.
	ONNXLoaderModule = "mlflow.onnx"
)

// The Python environment written for MLflow: the Python and pip that MLflow
// 2.17.2 recorded in this lab, and releases of onnx and onnxruntime that
// run the exported operators (onnxruntime 1.16 or later for double tree
// ensembles) on that Python.
const (
	PythonVersion      = "3.11.2"
	ONNXVersion        = "1.17.0"
	ONNXRuntimeVersion = "1.19.2"
)

// ONNXProviders are the execution providers MLflow's onnx flavor records
// by default: CUDA when it is there, else the CPU.
var ONNXProviders = []string{"CUDAExecutionProvider", "CPUExecutionProvider"}

// ONNXFlavor is the configuration of the "onnx" flavor. Code and
// SessionOptions are null, as mlflow.onnx writes them without code paths
// or session options.
type ONNXFlavor struct {
	Code           *string  `yaml:"code"`
	Data           string   `yaml:"data"`
	SessionOptions any      `yaml:"onnx_session_options"`
	ONNXVersion    string   `yaml:"onnx_version"`
	Providers      []string `yaml:"providers"`
}

// PyFuncFlavor is the configuration of the "python_function" flavor.
type PyFuncFlavor struct {
	Data          string            `yaml:"data"`
	Env           map[string]string `yaml:"env"`
	LoaderModule  string            `yaml:"loader_module"`
	PythonVersion string            `yaml:"python_version"`
}

// requirements are the pip requirements of the served model.
func requirements() []string {
	return []string{"mlflow==" + MLflowVersion, "onnx==" + ONNXVersion, "onnxruntime==" + ONNXRuntimeVersion}
}

// saveONNX writes model.onnx and the Python environment files into dir,
// adds the onnx and python_function flavors to mm, and returns the size of
// model.onnx.
func saveONNX(dir string, mm *Model, m learn.Regressor, names []string) (int64, error) {
	size, err := writeFile(filepath.Join(dir, ONNXFile), func(w io.Writer) (int64, error) {
		cw := &countingWriter{w: w}
		err := onnx.Export(cw, m, onnx.Options{FeatureNames: names})
		return cw.n, err
	})
	if err != nil {
		return 0, err
	}
	if err := mm.SetFlavor(ONNXFlavorName, ONNXFlavor{Data: ONNXFile, ONNXVersion: ONNXVersion, Providers: ONNXProviders}); err != nil {
		return 0, err
	}
	if err := mm.SetFlavor(PyFuncFlavorName, PyFuncFlavor{
		Data:          ONNXFile,
		Env:           map[string]string{"conda": CondaFile, "virtualenv": PythonEnvFile},
		LoaderModule:  ONNXLoaderModule,
		PythonVersion: PythonVersion,
	}); err != nil {
		return 0, err
	}
	reqs := requirements()
	// The three files as MLflow writes them: conda.yaml and python_env.yaml
	// by yaml.safe_dump, requirements.txt joined by newlines with none at
	// the end.
	conda := "channels:\n- conda-forge\ndependencies:\n- python=" + PythonVersion + "\n- pip<=23.0.1\n- pip:\n"
	for _, r := range reqs {
		conda += "  - " + r + "\n"
	}
	conda += "name: mlflow-env\n"
	env := "python: " + PythonVersion + "\nbuild_dependencies:\n- pip==23.0.1\n- setuptools==66.1.1\n- wheel==0.38.4\ndependencies:\n- -r " + RequirementsFile + "\n"
	for name, text := range map[string]string{CondaFile: conda, PythonEnvFile: env, RequirementsFile: strings.Join(reqs, "\n")} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			return 0, fmt.Errorf("mlmodel: %w", err)
		}
	}
	return size, nil
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// LoadONNX reads the model directory dir through its onnx flavor: the
// MLmodel file, and the ONNX graph evaluated by onnx.Load. It works on any
// directory whose onnx flavor holds a graph onnx.Load runs, with or without
// the housing flavor.
func LoadONNX(dir string) (*Model, learn.Regressor, error) {
	mm, err := ReadDir(dir)
	if err != nil {
		return nil, nil, err
	}
	if _, ok := mm.Flavors[ONNXFlavorName]; !ok {
		return nil, nil, fmt.Errorf("mlmodel: %s has no %q flavor (its flavors: %s)", dir, ONNXFlavorName, strings.Join(mm.FlavorNames(), ", "))
	}
	var fl ONNXFlavor
	if err := mm.Flavor(ONNXFlavorName, &fl); err != nil {
		return nil, nil, fmt.Errorf("%w (in %s)", err, dir)
	}
	if !filepath.IsLocal(fl.Data) {
		return nil, nil, fmt.Errorf("mlmodel: %s: onnx data %q is not a path inside the model directory", dir, fl.Data)
	}
	path := filepath.Join(dir, fl.Data)
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("mlmodel: %w", err)
	}
	defer f.Close()
	reg, err := onnx.Load(f)
	if err != nil {
		return nil, nil, fmt.Errorf("mlmodel: %s: %w", path, err)
	}
	if s := mm.Signature; s != nil && len(s.Inputs) != reg.NumFeatures() {
		return nil, nil, fmt.Errorf("mlmodel: %s: signature has %d inputs but %s takes %d features", dir, len(s.Inputs), fl.Data, reg.NumFeatures())
	}
	return mm, reg, nil
}

// Engines that score a model directory.
const (
	EngineNative = "native" // the housing flavor's model file, in Go
	EngineONNX   = "onnx"   // the onnx flavor's graph, evaluated by onnx.Load
	EngineAuto   = "auto"   // native when the housing flavor is there, else onnx
)

// LoadEngine loads dir with engine (EngineNative, EngineONNX or
// EngineAuto) and returns the engine it used.
func LoadEngine(dir, engine string) (*Model, learn.Regressor, string, error) {
	switch engine {
	case EngineAuto:
		mm, err := ReadDir(dir)
		if err != nil {
			return nil, nil, "", err
		}
		engine = EngineONNX
		if _, ok := mm.Flavors[FlavorName]; ok {
			engine = EngineNative
		}
		return LoadEngine(dir, engine)
	case EngineNative:
		mm, reg, err := Load(dir)
		return mm, reg, engine, err
	case EngineONNX:
		mm, reg, err := LoadONNX(dir)
		return mm, reg, engine, err
	}
	return nil, nil, "", fmt.Errorf("mlmodel: engine %q, want %s, %s or %s", engine, EngineNative, EngineONNX, EngineAuto)
}
