package onnx

import (
	"fmt"
	"io"
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
// *forest.Forest, *boost.Model or *linear.Model. A tree ensemble is written
// as a stream, tree by tree, without the whole ModelProto in memory: its
// node lists are as large as the model file (80 MB for a forest of 300
// full-depth trees) and as a ModelProto several times that. The bytes are
// those proto.Marshal makes of Build's ModelProto.
func Export(w io.Writer, model learn.Regressor, opts Options) error {
	m, ens, err := build(model, opts, false)
	if err != nil {
		return err
	}
	if ens == nil {
		b, err := proto.Marshal(m)
		if err != nil {
			return fmt.Errorf("onnx: encode model: %w", err)
		}
		if _, err := w.Write(b); err != nil {
			return fmt.Errorf("onnx: write model: %w", err)
		}
		return nil
	}
	return writeStreamed(w, m, ens)
}

// Build returns model as an ONNX ModelProto, for callers that add to it
// before writing. See Export.
func Build(model learn.Regressor, opts Options) (*pb.ModelProto, error) {
	m, _, err := build(model, opts, true)
	return m, err
}

// build returns model as a ModelProto and, for a tree ensemble, the
// ensemble, whose node lists (the TreeEnsembleRegressor's first attributes)
// are in the ModelProto only when withLists is set.
func build(model learn.Regressor, opts Options, withLists bool) (*pb.ModelProto, *ensemble, error) {
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
		return nil, nil, fmt.Errorf("onnx: %d feature names for a model of %d features", len(names), d)
	}
	in, out := cmpOr(opts.InputName, "input"), cmpOr(opts.OutputName, "variable")

	var nodes []*pb.NodeProto
	var kind, doc string
	var ens *ensemble
	switch m := model.(type) {
	case *forest.Forest:
		kind = "forest"
		doc = fmt.Sprintf("random forest of %d trees: the mean of their leaf values", m.NumTrees())
		ens = forestEnsemble(m)
	case *boost.Model:
		kind = "boost"
		doc = fmt.Sprintf("gradient-boosted ensemble of %d trees: the baseline plus the sum of their leaf values", m.NumTrees())
		ens = boostEnsemble(m)
	case *linear.Model:
		kind = "linear"
		doc = "linear regression in float32: LinearRegressor holds float coefficients, and onnxruntime runs it on float input only"
		// Cast keeps the input double like the other models', so one
		// signature fits all of them.
		cast := &pb.NodeProto{Name: "to_float", OpType: "Cast", Input: []string{in}, Output: []string{in + "_float"},
			Attribute: []*pb.AttributeProto{{Name: "to", Type: pb.AttributeProto_INT, I: int64(pb.TensorProto_FLOAT)}}}
		nodes = []*pb.NodeProto{cast, linearNode(m, in+"_float", out)}
	default:
		return nil, nil, fmt.Errorf("onnx: cannot export a %T: want *forest.Forest, *boost.Model or *linear.Model", model)
	}
	if ens != nil {
		nodes = []*pb.NodeProto{ens.node(in, out, withLists)}
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
	}, ens, nil
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
