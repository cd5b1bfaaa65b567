package onnx

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"strings"

	pb "github.com/advancedclimatesystems/gonnx/onnx"
	"google.golang.org/protobuf/proto"

	"github.com/mlops-lab/housing/dataset"
	"github.com/mlops-lab/housing/learn"
	"github.com/mlops-lab/housing/learn/boost"
	"github.com/mlops-lab/housing/learn/forest"
	"github.com/mlops-lab/housing/learn/linear"
)

// Versions of the format and operator sets the exported models use.
const (
	IRVersion    = 8
	OpsetVersion = 15 // default domain
	MLDomain     = "ai.onnx.ml"
	MLOpset      = 3
)

// Options names the exported model's parts. The zero value is usable.
type Options struct {
	// FeatureNames name the input's columns; nil means
	// dataset.FeatureNames for a model of that many features, else x0, x1, ...
	FeatureNames []string
	InputName    string // "input" if empty
	OutputName   string // "variable" (skl2onnx's name) if empty
	GraphName    string // the model kind ("forest", "boost", "linear") if empty
	DocString    string // the model's doc string; a description of the model if empty
	ModelVersion int64
}

// Export writes model as an ONNX model to w. model must be a
// *forest.Forest, *boost.Model or *linear.Model.
func Export(w io.Writer, model learn.Regressor, opts Options) error {
	m, err := Build(model, opts)
	if err != nil {
		return err
	}
	b, err := proto.Marshal(m)
	if err != nil {
		return fmt.Errorf("onnx: encode model: %w", err)
	}
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("onnx: write model: %w", err)
	}
	return nil
}

// Build returns model as an ONNX ModelProto, for callers that add to it
// before writing. See Export.
func Build(model learn.Regressor, opts Options) (*pb.ModelProto, error) {
	d := model.NumFeatures()
	names := opts.FeatureNames
	switch {
	case names == nil && d == dataset.NumFeatures:
		names = dataset.FeatureNames[:]
	case names == nil:
		for j := range d {
			names = append(names, fmt.Sprintf("x%d", j))
		}
	case len(names) != d:
		return nil, fmt.Errorf("onnx: %d feature names for a model of %d features", len(names), d)
	}
	in, out := cmpOr(opts.InputName, "input"), cmpOr(opts.OutputName, "variable")

	var nodes []*pb.NodeProto
	var kind, doc string
	switch m := model.(type) {
	case *forest.Forest:
		kind = "forest"
		doc = fmt.Sprintf("random forest of %d trees: the mean of their leaf values", m.NumTrees())
		nodes = []*pb.NodeProto{forestNode(m, in, out)}
	case *boost.Model:
		kind = "boost"
		doc = fmt.Sprintf("gradient-boosted ensemble of %d trees: the baseline plus the sum of their leaf values", m.NumTrees())
		nodes = []*pb.NodeProto{boostNode(m, in, out)}
	case *linear.Model:
		kind = "linear"
		doc = "linear regression in float32: LinearRegressor holds float coefficients, and onnxruntime runs it on float input only"
		// Cast keeps the input double like the other models', so one
		// signature fits all of them.
		cast := &pb.NodeProto{Name: "to_float", OpType: "Cast", Input: []string{in}, Output: []string{in + "_float"},
			Attribute: []*pb.AttributeProto{{Name: "to", Type: pb.AttributeProto_INT, I: int64(pb.TensorProto_FLOAT)}}}
		nodes = []*pb.NodeProto{cast, linearNode(m, in+"_float", out)}
	default:
		return nil, fmt.Errorf("onnx: cannot export a %T: want *forest.Forest, *boost.Model or *linear.Model", model)
	}
	doc = cmpOr(opts.DocString, doc)

	graph := &pb.GraphProto{
		Name:      cmpOr(opts.GraphName, kind),
		Node:      nodes,
		DocString: doc,
		Input: []*pb.ValueInfoProto{valueInfo(in, pb.TensorProto_DOUBLE, int64(d),
			"rows of the features "+strings.Join(names, ", ")+", in that order")},
		Output: []*pb.ValueInfoProto{valueInfo(out, pb.TensorProto_FLOAT, 1, "the prediction for each row")},
	}
	return &pb.ModelProto{
		IrVersion:       IRVersion,
		ProducerName:    "housing",
		ProducerVersion: "1",
		Domain:          "github.com/mlops-lab/housing",
		ModelVersion:    opts.ModelVersion,
		DocString:       doc,
		Graph:           graph,
		OpsetImport: []*pb.OperatorSetIdProto{
			{Domain: "", Version: OpsetVersion},
			{Domain: MLDomain, Version: MLOpset},
		},
		MetadataProps: []*pb.StringStringEntryProto{
			{Key: "feature_names", Value: strings.Join(names, ",")},
			{Key: "model_kind", Value: kind},
		},
	}, nil
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// valueInfo describes a [N, cols] tensor of elem, N symbolic.
func valueInfo(name string, elem pb.TensorProto_DataType, cols int64, doc string) *pb.ValueInfoProto {
	return &pb.ValueInfoProto{
		Name:      name,
		DocString: doc,
		Type: &pb.TypeProto{Value: &pb.TypeProto_TensorType{TensorType: &pb.TypeProto_Tensor{
			ElemType: int32(elem),
			Shape: &pb.TensorShapeProto{Dim: []*pb.TensorShapeProto_Dimension{
				{Value: &pb.TensorShapeProto_Dimension_DimParam{DimParam: "N"}},
				{Value: &pb.TensorShapeProto_Dimension_DimValue{DimValue: cols}},
			}},
		}}},
	}
}

// ensemble accumulates the parallel node and target lists of a
// TreeEnsembleRegressor.
type ensemble struct {
	treeIDs, nodeIDs, featureIDs, trueIDs, falseIDs []int64
	modes                                           [][]byte
	thresholds                                      []float64
	targetTree, targetNode, targetID                []int64
	weights                                         []float64
}

func (e *ensemble) split(tree, id, feature, left, right int, threshold float64) {
	e.add(tree, id, feature, left, right, threshold, "BRANCH_LEQ")
}

func (e *ensemble) leaf(tree, id int, value float64) {
	e.add(tree, id, 0, 0, 0, 0, "LEAF")
	e.targetTree = append(e.targetTree, int64(tree))
	e.targetNode = append(e.targetNode, int64(id))
	e.targetID = append(e.targetID, 0)
	e.weights = append(e.weights, value)
}

func (e *ensemble) add(tree, id, feature, left, right int, threshold float64, mode string) {
	e.treeIDs = append(e.treeIDs, int64(tree))
	e.nodeIDs = append(e.nodeIDs, int64(id))
	e.featureIDs = append(e.featureIDs, int64(feature))
	e.trueIDs = append(e.trueIDs, int64(left))
	e.falseIDs = append(e.falseIDs, int64(right))
	e.thresholds = append(e.thresholds, threshold)
	e.modes = append(e.modes, []byte(mode))
}

// node returns the TreeEnsembleRegressor node: x <= threshold takes the
// true branch (the left child), as in the Go trees; a NaN takes the false
// branch, as it goes right in Go.
func (e *ensemble) node(in, out, aggregate string, base float64) *pb.NodeProto {
	return &pb.NodeProto{
		Name:   "tree_ensemble",
		OpType: "TreeEnsembleRegressor",
		Domain: MLDomain,
		Input:  []string{in},
		Output: []string{out},
		Attribute: []*pb.AttributeProto{
			ints("nodes_treeids", e.treeIDs),
			ints("nodes_nodeids", e.nodeIDs),
			ints("nodes_featureids", e.featureIDs),
			strs("nodes_modes", e.modes),
			doubles("nodes_values_as_tensor", e.thresholds),
			ints("nodes_truenodeids", e.trueIDs),
			ints("nodes_falsenodeids", e.falseIDs),
			ints("target_treeids", e.targetTree),
			ints("target_nodeids", e.targetNode),
			ints("target_ids", e.targetID),
			doubles("target_weights_as_tensor", e.weights),
			doubles("base_values_as_tensor", []float64{base}),
			{Name: "n_targets", Type: pb.AttributeProto_INT, I: 1},
			str("aggregate_function", aggregate),
			str("post_transform", "NONE"),
		},
	}
}

func forestNode(f *forest.Forest, in, out string) *pb.NodeProto {
	var e ensemble
	for t := range f.NumTrees() {
		for i, nd := range f.TreeNodes(t) {
			if nd.Feature < 0 {
				e.leaf(t, i, nd.Value)
				continue
			}
			e.split(t, i, nd.Feature, i+1, nd.Right, nd.Threshold)
		}
	}
	return e.node(in, out, "AVERAGE", 0)
}

func boostNode(m *boost.Model, in, out string) *pb.NodeProto {
	var e ensemble
	for t := range m.NumTrees() {
		for i, nd := range m.TreeNodes(t) {
			if nd.Feature < 0 {
				e.leaf(t, i, nd.Value)
				continue
			}
			e.split(t, i, nd.Feature, nd.Left, nd.Left+1, nd.Threshold)
		}
	}
	return e.node(in, out, "SUM", m.Baseline())
}

func linearNode(m *linear.Model, in, out string) *pb.NodeProto {
	coef := make([]float32, len(m.Coef))
	for j, c := range m.Coef {
		coef[j] = float32(c)
	}
	return &pb.NodeProto{
		Name:   "linear",
		OpType: "LinearRegressor",
		Domain: MLDomain,
		Input:  []string{in},
		Output: []string{out},
		Attribute: []*pb.AttributeProto{
			{Name: "coefficients", Type: pb.AttributeProto_FLOATS, Floats: coef},
			{Name: "intercepts", Type: pb.AttributeProto_FLOATS, Floats: []float32{float32(m.Intercept)}},
			{Name: "targets", Type: pb.AttributeProto_INT, I: 1},
			str("post_transform", "NONE"),
		},
	}
}

func ints(name string, v []int64) *pb.AttributeProto {
	return &pb.AttributeProto{Name: name, Type: pb.AttributeProto_INTS, Ints: v}
}

func str(name, v string) *pb.AttributeProto {
	return &pb.AttributeProto{Name: name, Type: pb.AttributeProto_STRING, S: []byte(v)}
}

func strs(name string, v [][]byte) *pb.AttributeProto {
	return &pb.AttributeProto{Name: name, Type: pb.AttributeProto_STRINGS, Strings: v}
}

// doubles is a 1-D double tensor attribute, the element type the
// *_as_tensor attributes take for double precision.
func doubles(name string, v []float64) *pb.AttributeProto {
	raw := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(raw[8*i:], math.Float64bits(x))
	}
	return &pb.AttributeProto{Name: name, Type: pb.AttributeProto_TENSOR, T: &pb.TensorProto{
		Name:     name,
		Dims:     []int64{int64(len(v))},
		DataType: int32(pb.TensorProto_DOUBLE),
		RawData:  raw,
	}}
}
