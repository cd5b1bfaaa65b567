package onnx_test

import (
	"bytes"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	pb "github.com/advancedclimatesystems/gonnx/onnx"
	"google.golang.org/protobuf/proto"

	"github.com/mlops-lab/housing/internal/benchtest"
	"github.com/mlops-lab/housing/internal/testenv"
	"github.com/mlops-lab/housing/learn"
	"github.com/mlops-lab/housing/learn/linear"
	"github.com/mlops-lab/housing/learn/onnx"
)

// runtimeTolerance is how far two runtimes of one ONNX file may differ:
// for trees, one float32 step of the output (their double sums may run in
// another order); for the linear model, float arithmetic on both sides.
func runtimeTolerance(m learn.Regressor, x []float64, want float64) float64 {
	if l, ok := m.(*linear.Model); ok {
		return linearTolerance(l)(x, want)
	}
	return treeTolerance(x, want)
}

func load(t *testing.T, b []byte) learn.Regressor {
	t.Helper()
	m, err := onnx.Load(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestLoadMatchesModel evaluates every exported model in Go on the whole
// test part: the tree ensembles give the Go model's prediction rounded to
// float32, exactly; the linear model is within float arithmetic of it.
func TestLoadMatchesModel(t *testing.T) {
	_, te := benchtest.LabSplit(t)
	for kind, m := range models(t) {
		t.Run(kind, func(t *testing.T) {
			ev := load(t, export(t, m, filepath.Join(t.TempDir(), kind+".onnx")))
			if ev.NumFeatures() != 8 {
				t.Fatalf("NumFeatures %d", ev.NumFeatures())
			}
			got := ev.Predict(nil, te.X)
			want := m.Predict(nil, te.X)
			if len(got) != len(want) {
				t.Fatalf("%d predictions for %d rows", len(got), len(want))
			}
			l, isLinear := m.(*linear.Model)
			bad := 0
			for r := range want {
				ok := got[r] == float64(float32(want[r]))
				if isLinear {
					ok = math.Abs(got[r]-want[r]) <= linearTolerance(l)(te.Row(r), want[r])
				}
				if !ok {
					if bad++; bad <= 5 {
						t.Errorf("row %d: onnx.Load %v, Go model %v (as float32 %v)", r, got[r], want[r], float32(want[r]))
					}
				}
			}
			if bad > 0 {
				t.Fatalf("%d of %d rows differ", bad, len(want))
			}
			// dst is reused when it is long enough.
			dst := make([]float64, te.Rows())
			if out := ev.Predict(dst, te.X); &out[0] != &dst[0] {
				t.Error("Predict did not reuse dst")
			}
		})
	}
}

// decoded exports m and decodes it again, for tests that change it.
func decoded(t *testing.T, m learn.Regressor) *pb.ModelProto {
	t.Helper()
	b := export(t, m, filepath.Join(t.TempDir(), "m.onnx"))
	var mp pb.ModelProto
	if err := proto.Unmarshal(b, &mp); err != nil {
		t.Fatal(err)
	}
	return &mp
}

func attr(n *pb.NodeProto, name string) *pb.AttributeProto {
	for _, a := range n.Attribute {
		if a.Name == name {
			return a
		}
	}
	return nil
}

// TestLoadRefuses changes exported models in ways the evaluator does not
// implement, and checks that each is refused naming what it refuses.
func TestLoadRefuses(t *testing.T) {
	lin := &linear.Model{Intercept: 1, Coef: []float64{1, 2, 3, 4, 5, 6, 7, 8}}
	ms := models(t)
	cases := []struct {
		name  string
		model learn.Regressor
		edit  func(m *pb.ModelProto)
		want  string
	}{
		{"unknown operator", ms["boost"], func(m *pb.ModelProto) { m.Graph.Node[0].OpType = "TreeEnsemble" }, "operator TreeEnsemble"},
		{"unknown attribute", ms["boost"], func(m *pb.ModelProto) {
			m.Graph.Node[0].Attribute = append(m.Graph.Node[0].Attribute, &pb.AttributeProto{Name: "nodes_colour", Type: pb.AttributeProto_INT})
		}, "nodes_colour"},
		{"post transform", ms["forest"], func(m *pb.ModelProto) { attr(m.Graph.Node[0], "post_transform").S = []byte("LOGISTIC") }, "post_transform LOGISTIC"},
		{"aggregate", ms["boost"], func(m *pb.ModelProto) { attr(m.Graph.Node[0], "aggregate_function").S = []byte("MAX") }, "aggregate_function MAX"},
		{"mode", ms["boost"], func(m *pb.ModelProto) { attr(m.Graph.Node[0], "nodes_modes").Strings[0] = []byte("BRANCH_MEMBER") }, "BRANCH_MEMBER"},
		{"two targets", ms["boost"], func(m *pb.ModelProto) { attr(m.Graph.Node[0], "n_targets").I = 2 }, "n_targets 2"},
		{"cycle", ms["boost"], func(m *pb.ModelProto) {
			// The root's true child points back at the root.
			a := attr(m.Graph.Node[0], "nodes_truenodeids")
			a.Ints[0] = 0
		}, "tree 0"},
		{"wrong attribute type", ms["forest"], func(m *pb.ModelProto) {
			a := attr(m.Graph.Node[0], "n_targets")
			a.Type, a.F = pb.AttributeProto_FLOAT, 1
		}, "n_targets is of type FLOAT"},
		{"float and tensor thresholds", ms["forest"], func(m *pb.ModelProto) {
			n := len(attr(m.Graph.Node[0], "nodes_nodeids").Ints)
			m.Graph.Node[0].Attribute = append(m.Graph.Node[0].Attribute, &pb.AttributeProto{Name: "nodes_values", Type: pb.AttributeProto_FLOATS, Floats: make([]float32, n)})
		}, "nodes_values and nodes_values_as_tensor"},
		{"ml opset", ms["boost"], func(m *pb.ModelProto) { m.OpsetImport[1].Version = 5 }, "ai.onnx.ml opset 5"},
		{"float input", ms["boost"], func(m *pb.ModelProto) {
			m.Graph.Input[0].Type.GetTensorType().ElemType = int32(pb.TensorProto_FLOAT)
		}, "want double"},
		{"initializer", ms["boost"], func(m *pb.ModelProto) {
			m.Graph.Initializer = append(m.Graph.Initializer, &pb.TensorProto{Name: "w"})
		}, "initializers"},
		{"linear post transform", lin, func(m *pb.ModelProto) { attr(m.Graph.Node[1], "post_transform").S = []byte("PROBIT") }, "post_transform PROBIT"},
		{"cast to int", lin, func(m *pb.ModelProto) { attr(m.Graph.Node[0], "to").I = int64(pb.TensorProto_INT64) }, "to INT64"},
		{"cast saturate", lin, func(m *pb.ModelProto) {
			m.Graph.Node[0].Attribute = append(m.Graph.Node[0].Attribute, &pb.AttributeProto{Name: "saturate", Type: pb.AttributeProto_INT, I: 1})
		}, "saturate"},
		{"coefficient count", lin, func(m *pb.ModelProto) {
			a := attr(m.Graph.Node[1], "coefficients")
			a.Floats = a.Floats[:7]
		}, "7 coefficients"},
		{"output type", lin, func(m *pb.ModelProto) {
			m.Graph.Output[0].Type.GetTensorType().ElemType = int32(pb.TensorProto_DOUBLE)
		}, "declared double"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := decoded(t, c.model)
			c.edit(m)
			b, err := proto.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			_, err = onnx.Load(bytes.NewReader(b))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Load: %v, want an error naming %q", err, c.want)
			}
		})
	}
	if _, err := onnx.Load(strings.NewReader("not a model")); err == nil {
		t.Error("Load of garbage succeeded")
	}
}

// branchModel is a hand-made ensemble of one tree per branch mode, each
// splitting feature 0 at 1 and with NaN sent to the true branch in the
// trees where missing says so: the parts of ai.onnx.ml 3's definition that
// Export does not use, for TestLoadBranchModes.
func branchModel(t *testing.T, missing []int64) []byte {
	t.Helper()
	modes := []string{"BRANCH_LEQ", "BRANCH_LT", "BRANCH_GTE", "BRANCH_GT", "BRANCH_EQ", "BRANCH_NEQ"}
	var treeIDs, nodeIDs, feats, trueIDs, falseIDs, tt, tn, tids, miss []int64
	var ms [][]byte
	var values []float32
	var weights []float32
	for i, mode := range modes {
		tr := int64(i)
		for node, m := range []string{mode, "LEAF", "LEAF"} {
			treeIDs = append(treeIDs, tr)
			nodeIDs = append(nodeIDs, int64(node))
			feats = append(feats, 0)
			ms = append(ms, []byte(m))
			values = append(values, 1)
			if node == 0 {
				trueIDs, falseIDs = append(trueIDs, 1), append(falseIDs, 2)
				miss = append(miss, missing[i])
			} else {
				trueIDs, falseIDs = append(trueIDs, 0), append(falseIDs, 0)
				miss = append(miss, 0)
				tt, tn, tids = append(tt, tr), append(tn, int64(node)), append(tids, 0)
				// True leaves weigh 10^i, false ones 2*10^i: each tree's
				// branch shows in its own decimal digit.
				weights = append(weights, float32(node)*float32(math.Pow(10, float64(i))))
			}
		}
	}
	node := &pb.NodeProto{OpType: "TreeEnsembleRegressor", Domain: "ai.onnx.ml", Input: []string{"input"}, Output: []string{"y"},
		Attribute: []*pb.AttributeProto{
			{Name: "nodes_treeids", Type: pb.AttributeProto_INTS, Ints: treeIDs},
			{Name: "nodes_nodeids", Type: pb.AttributeProto_INTS, Ints: nodeIDs},
			{Name: "nodes_featureids", Type: pb.AttributeProto_INTS, Ints: feats},
			{Name: "nodes_modes", Type: pb.AttributeProto_STRINGS, Strings: ms},
			{Name: "nodes_values", Type: pb.AttributeProto_FLOATS, Floats: values},
			{Name: "nodes_truenodeids", Type: pb.AttributeProto_INTS, Ints: trueIDs},
			{Name: "nodes_falsenodeids", Type: pb.AttributeProto_INTS, Ints: falseIDs},
			{Name: "nodes_missing_value_tracks_true", Type: pb.AttributeProto_INTS, Ints: miss},
			{Name: "target_treeids", Type: pb.AttributeProto_INTS, Ints: tt},
			{Name: "target_nodeids", Type: pb.AttributeProto_INTS, Ints: tn},
			{Name: "target_ids", Type: pb.AttributeProto_INTS, Ints: tids},
			{Name: "target_weights", Type: pb.AttributeProto_FLOATS, Floats: weights},
			{Name: "base_values", Type: pb.AttributeProto_FLOATS, Floats: []float32{0.5}},
			{Name: "n_targets", Type: pb.AttributeProto_INT, I: 1},
			{Name: "aggregate_function", Type: pb.AttributeProto_STRING, S: []byte("SUM")},
		}}
	tensor := func(name string, elem pb.TensorProto_DataType, cols int64) *pb.ValueInfoProto {
		return &pb.ValueInfoProto{Name: name, Type: &pb.TypeProto{Value: &pb.TypeProto_TensorType{TensorType: &pb.TypeProto_Tensor{
			ElemType: int32(elem), Shape: &pb.TensorShapeProto{Dim: []*pb.TensorShapeProto_Dimension{
				{Value: &pb.TensorShapeProto_Dimension_DimParam{DimParam: "N"}},
				{Value: &pb.TensorShapeProto_Dimension_DimValue{DimValue: cols}}}}}}}}
	}
	m := &pb.ModelProto{IrVersion: 8, OpsetImport: []*pb.OperatorSetIdProto{{Domain: "", Version: 15}, {Domain: "ai.onnx.ml", Version: 3}},
		Graph: &pb.GraphProto{Name: "modes", Node: []*pb.NodeProto{node},
			Input: []*pb.ValueInfoProto{tensor("input", pb.TensorProto_DOUBLE, 1)}, Output: []*pb.ValueInfoProto{tensor("y", pb.TensorProto_FLOAT, 1)}}}
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestLoadBranchModes checks each branch mode, with and without NaN
// tracking the true branch, on values below, at and above the threshold
// and on NaN: against the definition, and against onnxruntime when it is
// here.
func TestLoadBranchModes(t *testing.T) {
	missing := []int64{0, 1, 0, 1, 0, 1}
	b := branchModel(t, missing)
	ev := load(t, b)
	xs := []float64{0.5, 1, 1.5, math.NaN()}
	got := ev.Predict(nil, xs)
	conds := []func(x float64) bool{
		func(x float64) bool { return x <= 1 }, func(x float64) bool { return x < 1 },
		func(x float64) bool { return x >= 1 }, func(x float64) bool { return x > 1 },
		func(x float64) bool { return x == 1 }, func(x float64) bool { return x != 1 },
	}
	for r, x := range xs {
		want := 0.5
		for i, c := range conds {
			leaf := 2.0
			if c(x) || (missing[i] == 1 && math.IsNaN(x)) {
				leaf = 1
			}
			want += leaf * math.Pow(10, float64(i))
		}
		if got[r] != float64(float32(want)) {
			t.Errorf("x = %v: got %v, want %v", x, got[r], want)
		}
	}

	node, script, ok := ortRunner(t)
	if !ok {
		return
	}
	dir := t.TempDir()
	path, input, output := filepath.Join(dir, "modes.onnx"), filepath.Join(dir, "in.bin"), filepath.Join(dir, "out.bin")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(input, float64Bytes(xs), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(node, script, path, input, strconv.Itoa(len(xs)), "1", output).CombinedOutput(); err != nil {
		t.Fatalf("onnxruntime-node: %v\n%s", err, out)
	}
	raw, err := os.ReadFile(output)
	if err != nil {
		t.Fatal(err)
	}
	for r, v := range bytesFloat64(raw) {
		if v != got[r] {
			t.Errorf("x = %v: onnxruntime %v, onnx.Load %v", xs[r], v, got[r])
		}
	}
}

// ortRunner finds node and the onnxruntime-node script, or marks the test
// as lacking them.
func ortRunner(t *testing.T) (node, script string, ok bool) {
	t.Helper()
	script, err := filepath.Abs(filepath.Join("testdata", "ort", "run.js"))
	if err != nil {
		t.Fatal(err)
	}
	node, err = exec.LookPath("node")
	if err != nil {
		testenv.Unavailable(t, "node is needed to run onnxruntime-node: %v", err)
		return "", "", false
	}
	if _, err := os.Stat(filepath.Join("testdata", "ort", "node_modules", "onnxruntime-node", "package.json")); err != nil {
		testenv.Unavailable(t, "onnxruntime-node is not installed: run `cd learn/onnx/testdata/ort && ONNXRUNTIME_NODE_INSTALL=skip npm ci` (%v)", err)
		return "", "", false
	}
	return node, script, true
}
