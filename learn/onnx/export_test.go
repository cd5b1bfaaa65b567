package onnx_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"maps"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	pb "github.com/advancedclimatesystems/gonnx/onnx"
	"google.golang.org/protobuf/proto"

	"github.com/mlops-lab/housing/dataset"
	"github.com/mlops-lab/housing/internal/benchtest"
	"github.com/mlops-lab/housing/internal/testenv"
	"github.com/mlops-lab/housing/learn"
	"github.com/mlops-lab/housing/learn/boost"
	"github.com/mlops-lab/housing/learn/forest"
	"github.com/mlops-lab/housing/learn/linear"
	"github.com/mlops-lab/housing/learn/onnx"
)

var (
	modelsOnce sync.Once
	fitted     map[string]learn.Regressor
	fitErr     error
)

// models fits one model of each kind on the housing train part, once per
// test binary.
func models(t *testing.T) map[string]learn.Regressor {
	t.Helper()
	train, _ := benchtest.LabSplit(t)
	modelsOnce.Do(func() { fitted, fitErr = fitModels(train) })
	if fitErr != nil {
		t.Fatal(fitErr)
	}
	return fitted
}

func fitModels(tr *dataset.Dataset) (map[string]learn.Regressor, error) {
	ctx := context.Background()
	fp := forest.DefaultParams()
	fp.NEstimators, fp.MaxDepth, fp.Seed = 20, 10, 42
	f, err := forest.Fit(ctx, tr.X, dataset.NumFeatures, tr.Y, fp, nil)
	if err != nil {
		return nil, err
	}
	bp := boost.LabParams()
	if testing.Short() {
		bp.MaxIter = 50
	}
	b, err := boost.Fit(ctx, tr.X, dataset.NumFeatures, tr.Y, bp, nil)
	if err != nil {
		return nil, err
	}
	l, err := linear.Fit(tr.X, dataset.NumFeatures, tr.Y)
	if err != nil {
		return nil, err
	}
	return map[string]learn.Regressor{"forest": f, "boost": b, "linear": l}, nil
}

func export(t *testing.T, m learn.Regressor, path string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := onnx.Export(&buf, m, onnx.Options{}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestModelStructure decodes each exported model and checks what the
// runtimes rely on: versions, the double input named by the features, and
// for trees one threshold and one target weight per node and leaf.
func TestModelStructure(t *testing.T) {
	for kind, m := range models(t) {
		t.Run(kind, func(t *testing.T) {
			b := export(t, m, filepath.Join(t.TempDir(), kind+".onnx"))
			var mp pb.ModelProto
			if err := proto.Unmarshal(b, &mp); err != nil {
				t.Fatal(err)
			}
			if mp.IrVersion != 8 || len(mp.OpsetImport) != 2 || mp.OpsetImport[0].Version != 15 ||
				mp.OpsetImport[1].Domain != "ai.onnx.ml" || mp.OpsetImport[1].Version != 3 {
				t.Fatalf("IR %d, opsets %v", mp.IrVersion, mp.OpsetImport)
			}
			in := mp.Graph.Input[0]
			tt := in.Type.GetTensorType()
			if in.Name != "input" || tt.ElemType != int32(pb.TensorProto_DOUBLE) || tt.Shape.Dim[1].GetDimValue() != 8 ||
				!strings.Contains(in.DocString, strings.Join(dataset.FeatureNames[:], ", ")) {
				t.Fatalf("input %q, type %d, shape %v, doc %q", in.Name, tt.ElemType, tt.Shape, in.DocString)
			}
			node := mp.Graph.Node[len(mp.Graph.Node)-1]
			attrs := map[string]*pb.AttributeProto{}
			for _, a := range node.Attribute {
				attrs[a.Name] = a
			}
			if kind == "linear" {
				if node.OpType != "LinearRegressor" || len(attrs["coefficients"].Floats) != 8 {
					t.Fatalf("node %s with %d coefficients", node.OpType, len(attrs["coefficients"].Floats))
				}
				return
			}
			nodes := len(attrs["nodes_nodeids"].Ints)
			leaves := len(attrs["target_nodeids"].Ints)
			if node.OpType != "TreeEnsembleRegressor" || len(attrs["nodes_values_as_tensor"].T.RawData) != 8*nodes ||
				len(attrs["target_weights_as_tensor"].T.RawData) != 8*leaves || 2*leaves-nodes != countTrees(m) {
				t.Fatalf("%s: %d nodes, %d leaves, %d threshold bytes, %d weight bytes", node.OpType, nodes, leaves,
					len(attrs["nodes_values_as_tensor"].T.RawData), len(attrs["target_weights_as_tensor"].T.RawData))
			}
		})
	}
}

// TestExportStreamsBuildsBytes holds the streamed export of the tree
// ensembles (written tree by tree, see Export) to the bytes proto.Marshal
// makes of Build's whole ModelProto, for each kind, a one-leaf forest
// included, and checks that a failing writer's error comes back.
func TestExportStreamsBuildsBytes(t *testing.T) {
	ms := maps.Clone(models(t))
	stump, err := forest.Fit(context.Background(), []float64{1, 1}, 1, []float64{2, 2}, forest.DefaultParams(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ms["one-leaf forest"] = stump
	for kind, m := range ms {
		t.Run(kind, func(t *testing.T) {
			mp, err := onnx.Build(m, onnx.Options{ModelVersion: 3})
			if err != nil {
				t.Fatal(err)
			}
			want, err := proto.Marshal(mp)
			if err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			if err := onnx.Export(&got, m, onnx.Options{ModelVersion: 3}); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), want) {
				n := 0
				for n < min(got.Len(), len(want)) && got.Bytes()[n] == want[n] {
					n++
				}
				t.Fatalf("Export wrote %d bytes, proto.Marshal of Build %d; they differ from byte %d", got.Len(), len(want), n)
			}
			if err := onnx.Export(failingWriter{}, m, onnx.Options{}); err == nil || !strings.Contains(err.Error(), "disk full") {
				t.Fatalf("Export to a failing writer: %v", err)
			}
		})
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func countTrees(m learn.Regressor) int {
	switch m := m.(type) {
	case *forest.Forest:
		return m.NumTrees()
	case *boost.Model:
		return m.NumTrees()
	}
	return 0
}

func TestExportRefuses(t *testing.T) {
	l := &linear.Model{Intercept: 1, Coef: []float64{1, 2}}
	var buf bytes.Buffer
	if err := onnx.Export(&buf, l, onnx.Options{FeatureNames: []string{"a"}}); err == nil || !strings.Contains(err.Error(), "1 feature names for a model of 2 features") {
		t.Errorf("wrong name count: err %v", err)
	}
	if err := onnx.Export(&buf, otherModel{}, onnx.Options{}); err == nil || !strings.Contains(err.Error(), "cannot export") {
		t.Errorf("unknown model: err %v", err)
	}
}

type otherModel struct{}

func (otherModel) Predict(dst, X []float64) []float64 { return dst }
func (otherModel) NumFeatures() int                   { return 1 }

// TestONNXChecker runs onnx.checker with full_check on every exported model.
func TestONNXChecker(t *testing.T) {
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import onnx").Run(); err != nil {
		testenv.Unavailable(t, "%s with the onnx module (Debian python3-onnx) is needed: %v", py, err)
		return
	}
	dir := t.TempDir()
	for kind, m := range models(t) {
		t.Run(kind, func(t *testing.T) {
			path := filepath.Join(dir, kind+".onnx")
			export(t, m, path)
			out, err := exec.Command(py, "-c", "import onnx, sys; onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)", path).CombinedOutput()
			if err != nil {
				t.Fatalf("onnx.checker refuses %s: %v\n%s", kind, err, out)
			}
		})
	}
}

// TestONNXRuntime runs every exported model with onnxruntime-node on the
// whole test part and compares each row with Predict, within the
// precision the package doc promises.
func TestONNXRuntime(t *testing.T) {
	script, err := filepath.Abs(filepath.Join("testdata", "ort", "run.js"))
	if err != nil {
		t.Fatal(err)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		testenv.Unavailable(t, "node is needed to run onnxruntime-node: %v", err)
		return
	}
	if _, err := os.Stat(filepath.Join("testdata", "ort", "node_modules", "onnxruntime-node", "package.json")); err != nil {
		testenv.Unavailable(t, "onnxruntime-node is not installed: run `cd learn/onnx/testdata/ort && ONNXRUNTIME_NODE_INSTALL=skip npm ci` (%v)", err)
		return
	}
	_, te := benchtest.LabSplit(t)
	dir := t.TempDir()
	input := filepath.Join(dir, "input.bin")
	if err := os.WriteFile(input, float64Bytes(te.X), 0o644); err != nil {
		t.Fatal(err)
	}
	for kind, m := range models(t) {
		t.Run(kind, func(t *testing.T) {
			path := filepath.Join(dir, kind+".onnx")
			export(t, m, path)
			output := filepath.Join(dir, kind+".out")
			cmd := exec.Command(node, script, path, input, strconv.Itoa(te.Rows()), "8", output)
			stdout, err := cmd.Output()
			if err != nil {
				var stderr []byte
				if ee, ok := err.(*exec.ExitError); ok {
					stderr = ee.Stderr
				}
				t.Fatalf("onnxruntime-node: %v\n%s", err, stderr)
			}
			var info struct {
				Type string  `json:"type"`
				Dims []int64 `json:"dims"`
			}
			if err := json.Unmarshal(stdout, &info); err != nil {
				t.Fatalf("run.js said %q: %v", stdout, err)
			}
			if info.Type != "float32" || len(info.Dims) != 2 || info.Dims[0] != int64(te.Rows()) || info.Dims[1] != 1 {
				t.Fatalf("output %s %v, want float32 [%d 1]", info.Type, info.Dims, te.Rows())
			}
			raw, err := os.ReadFile(output)
			if err != nil {
				t.Fatal(err)
			}
			got := bytesFloat64(raw)
			want := m.Predict(nil, te.X)
			tol := treeTolerance
			if l, ok := m.(*linear.Model); ok {
				tol = linearTolerance(l)
			}
			bad := 0
			for r := range want {
				if d := math.Abs(got[r] - want[r]); !(d <= tol(te.Row(r), want[r])) {
					if bad++; bad <= 5 {
						t.Errorf("row %d: onnxruntime %v, Go %v (diff %.3g, allowed %.3g)", r, got[r], want[r], d, tol(te.Row(r), want[r]))
					}
				}
			}
			if bad > 0 {
				t.Fatalf("%d of %d rows differ", bad, len(want))
			}

			// The Go evaluator of the same file agrees with onnxruntime on
			// every row.
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			ev, err := onnx.Load(f)
			if err != nil {
				t.Fatal(err)
			}
			mine := ev.Predict(nil, te.X)
			exact := 0
			for r := range mine {
				if mine[r] == got[r] {
					exact++
				} else if d := math.Abs(mine[r] - got[r]); !(d <= runtimeTolerance(m, te.Row(r), got[r])) {
					if bad++; bad <= 5 {
						t.Errorf("row %d: onnxruntime %v, onnx.Load %v (diff %.3g)", r, got[r], mine[r], d)
					}
				}
			}
			if bad > 0 {
				t.Fatalf("%d of %d rows differ between onnxruntime and onnx.Load", bad, len(mine))
			}
			t.Logf("onnx.Load equals onnxruntime exactly on %d of %d rows, within the tolerance on the rest", exact, len(mine))
		})
	}
}

// eps32 is float32's unit roundoff.
const eps32 = 1.0 / (1 << 24)

// treeTolerance allows the one rounding of the double sum to the float32
// output, and a double sum in another order landing on the next float32.
func treeTolerance(_ []float64, want float64) float64 { return 2 * eps32 * math.Abs(want) }

// linearTolerance allows float32 coefficients and float arithmetic: a few
// roundings of each term and of the intercept.
func linearTolerance(l *linear.Model) func(x []float64, want float64) float64 {
	return func(x []float64, _ float64) float64 {
		s := math.Abs(l.Intercept)
		for j, c := range l.Coef {
			s += math.Abs(c * x[j])
		}
		return float64(len(x)+2) * 2 * eps32 * s
	}
}

func float64Bytes(v []float64) []byte {
	b := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(b[8*i:], math.Float64bits(x))
	}
	return b
}

func bytesFloat64(b []byte) []float64 {
	v := make([]float64, len(b)/8)
	for i := range v {
		v[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
	}
	return v
}
