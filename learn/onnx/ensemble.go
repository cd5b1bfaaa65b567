package onnx

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"

	pb "github.com/advancedclimatesystems/gonnx/onnx"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/mlops-lab/housing/learn/boost"
	"github.com/mlops-lab/housing/learn/forest"
)

// ensemble is a tree ensemble as the exporter reads it: one tree at a
// time, so that no list of all its nodes is ever held.
type ensemble struct {
	trees     int
	nodes     func(t int, dst []treeNode) []treeNode // tree t, ONNX node id = index
	aggregate string
	base      float64
}

// treeNode is one node of a tree: x <= value takes the true branch (left),
// as in the Go trees; a NaN takes the false branch, as it goes right in Go.
type treeNode struct {
	feature     int     // -1 for a leaf
	value       float64 // a split's threshold, a leaf's value
	left, right int
}

func forestEnsemble(f *forest.Forest) *ensemble {
	var scratch []forest.TreeNode
	return &ensemble{trees: f.NumTrees(), aggregate: "AVERAGE", nodes: func(t int, dst []treeNode) []treeNode {
		scratch = f.AppendLayoutNodes(scratch[:0], t)
		dst = dst[:0]
		for _, nd := range scratch {
			if nd.Feature < 0 {
				dst = append(dst, treeNode{feature: -1, value: nd.Value})
				continue
			}
			dst = append(dst, treeNode{feature: nd.Feature, value: nd.Threshold, left: nd.Left, right: nd.Right})
		}
		return dst
	}}
}

func boostEnsemble(m *boost.Model) *ensemble {
	return &ensemble{trees: m.NumTrees(), aggregate: "SUM", base: m.Baseline(), nodes: func(t int, dst []treeNode) []treeNode {
		dst = dst[:0]
		for _, nd := range m.TreeNodes(t) {
			if nd.Feature < 0 {
				dst = append(dst, treeNode{feature: -1, value: nd.Value})
				continue
			}
			dst = append(dst, treeNode{feature: nd.Feature, value: nd.Threshold, left: nd.Left, right: nd.Left + 1})
		}
		return dst
	}}
}

// A column is one of TreeEnsembleRegressor's parallel list attributes: one
// value per node, or per leaf for the target_* lists.
type column struct {
	name   string
	leaves bool
	// One of these gives the value of node id of tree t: ints go into a
	// packed INTS attribute, strs into STRINGS, dbls into a 1-D double
	// tensor (the *_as_tensor attributes of ai.onnx.ml 3).
	ints func(t, id int, nd treeNode) int64
	strs func(nd treeNode) string
	dbls func(nd treeNode) float64
}

// columns are the lists in the order the node's attributes carry them. A
// leaf's feature, threshold and children are 0, as skl2onnx writes them.
var columns = []column{
	{name: "nodes_treeids", ints: func(t, _ int, _ treeNode) int64 { return int64(t) }},
	{name: "nodes_nodeids", ints: func(_, id int, _ treeNode) int64 { return int64(id) }},
	{name: "nodes_featureids", ints: func(_, _ int, nd treeNode) int64 { return int64(max(nd.feature, 0)) }},
	{name: "nodes_modes", strs: func(nd treeNode) string {
		if nd.feature < 0 {
			return "LEAF"
		}
		return "BRANCH_LEQ"
	}},
	{name: "nodes_values_as_tensor", dbls: func(nd treeNode) float64 {
		if nd.feature < 0 {
			return 0
		}
		return nd.value
	}},
	{name: "nodes_truenodeids", ints: func(_, _ int, nd treeNode) int64 { return int64(nd.left) }},
	{name: "nodes_falsenodeids", ints: func(_, _ int, nd treeNode) int64 { return int64(nd.right) }},
	{name: "target_treeids", leaves: true, ints: func(t, _ int, _ treeNode) int64 { return int64(t) }},
	{name: "target_nodeids", leaves: true, ints: func(_, id int, _ treeNode) int64 { return int64(id) }},
	{name: "target_ids", leaves: true, ints: func(_, _ int, _ treeNode) int64 { return 0 }},
	{name: "target_weights_as_tensor", leaves: true, dbls: func(nd treeNode) float64 { return nd.value }},
}

// each calls fn for every node (or leaf) of the ensemble that c covers.
func (e *ensemble) each(c column, fn func(t, id int, nd treeNode)) {
	var buf []treeNode
	for t := range e.trees {
		buf = e.nodes(t, buf)
		for id, nd := range buf {
			if !c.leaves || nd.feature < 0 {
				fn(t, id, nd)
			}
		}
	}
}

// node returns the TreeEnsembleRegressor node, with the column attributes
// only when withLists is set.
func (e *ensemble) node(in, out string, withLists bool) *pb.NodeProto {
	var attrs []*pb.AttributeProto
	if withLists {
		for _, c := range columns {
			attrs = append(attrs, e.attribute(c))
		}
	}
	attrs = append(attrs, e.scalars()...)
	return &pb.NodeProto{
		Name:      "tree_ensemble",
		OpType:    "TreeEnsembleRegressor",
		Domain:    MLDomain,
		Input:     []string{in},
		Output:    []string{out},
		Attribute: attrs,
	}
}

// scalars are the attributes after the columns.
func (e *ensemble) scalars() []*pb.AttributeProto {
	return []*pb.AttributeProto{
		doubles("base_values_as_tensor", []float64{e.base}),
		{Name: "n_targets", Type: pb.AttributeProto_INT, I: 1},
		str("aggregate_function", e.aggregate),
		str("post_transform", "NONE"),
	}
}

// attribute is column c as an AttributeProto, in memory.
func (e *ensemble) attribute(c column) *pb.AttributeProto {
	switch {
	case c.ints != nil:
		var v []int64
		e.each(c, func(t, id int, nd treeNode) { v = append(v, c.ints(t, id, nd)) })
		return &pb.AttributeProto{Name: c.name, Type: pb.AttributeProto_INTS, Ints: v}
	case c.strs != nil:
		var v [][]byte
		e.each(c, func(_, _ int, nd treeNode) { v = append(v, []byte(c.strs(nd))) })
		return &pb.AttributeProto{Name: c.name, Type: pb.AttributeProto_STRINGS, Strings: v}
	}
	var v []float64
	e.each(c, func(_, _ int, nd treeNode) { v = append(v, c.dbls(nd)) })
	return doubles(c.name, v)
}

func str(name, v string) *pb.AttributeProto {
	return &pb.AttributeProto{Name: name, Type: pb.AttributeProto_STRING, S: []byte(v)}
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

// Field numbers of the ONNX messages the stream writes itself.
const (
	fieldModelGraph     = 7 // ModelProto.graph
	fieldGraphNode      = 1 // GraphProto.node
	fieldNodeAttribute  = 5 // NodeProto.attribute
	fieldAttrT          = 5 // AttributeProto.t
	fieldAttrInts       = 8 // AttributeProto.ints (packed)
	fieldAttrStrings    = 9 // AttributeProto.strings
	fieldTensorRawData  = 9 // TensorProto.raw_data
	bufferedWriterBytes = 1 << 16
)

// streamedColumn is column c for the stream: its values encoded into a
// temporary file of their own, and the encoded fields around them.
type streamedColumn struct {
	c          column
	head, tail []byte // the encoded AttributeProto before and after the values
	count      int    // values
	values     int    // bytes of the values (for strings, each with its tag and length)
	file       *os.File
	w          *bufio.Writer
}

func (s *streamedColumn) size() int { return len(s.head) + s.values + len(s.tail) }

// writeStreamed writes m (built without the column attributes) with e's
// columns in place, as proto.Marshal would encode the whole ModelProto:
// protobuf-go writes a message's fields in field-number order, so each
// message is its fields before the streamed one, the streamed one, and its
// fields after it, each part marshalled on its own. Each length-delimited
// field is preceded by its length and the columns follow one another, so
// one pass over the trees encodes every column into a temporary file of its
// own (on disk, not in memory: 79 MB for the lab's rf-optimized), and the
// files are then copied into w in order. A pass per column and one to size
// them walked every tree twelve times, half of the export's time.
func writeStreamed(w io.Writer, m *pb.ModelProto, e *ensemble) (err error) {
	cols := make([]*streamedColumn, len(columns))
	for i, c := range columns {
		f, ferr := os.CreateTemp("", "housing-onnx-column-")
		if ferr != nil {
			return fmt.Errorf("onnx: column file: %w", ferr)
		}
		defer func() {
			f.Close()
			os.Remove(f.Name())
		}()
		cols[i] = &streamedColumn{c: c, file: f, w: bufio.NewWriterSize(f, bufferedWriterBytes)}
	}
	var buf []treeNode
	var scratch []byte
	for t := range e.trees {
		buf = e.nodes(t, buf)
		for _, s := range cols {
			for id, nd := range buf {
				if s.c.leaves && nd.feature >= 0 {
					continue
				}
				s.count++
				scratch = scratch[:0]
				switch {
				case s.c.ints != nil:
					scratch = protowire.AppendVarint(scratch, uint64(s.c.ints(t, id, nd)))
				case s.c.strs != nil:
					scratch = protowire.AppendTag(scratch, fieldAttrStrings, protowire.BytesType)
					scratch = protowire.AppendString(scratch, s.c.strs(nd))
				default:
					scratch = binary.LittleEndian.AppendUint64(scratch, math.Float64bits(s.c.dbls(nd)))
				}
				s.values += len(scratch)
				s.w.Write(scratch) // bufio keeps the first error for Flush
			}
		}
	}
	for _, s := range cols {
		if err := s.w.Flush(); err != nil {
			return fmt.Errorf("onnx: column file of %s: %w", s.c.name, err)
		}
		if s.head, s.tail, s.values, err = s.frame(); err != nil {
			return err
		}
	}

	graph, node := m.Graph, m.Graph.Node[0]
	parts := func(msgs ...proto.Message) ([][]byte, error) {
		out := make([][]byte, len(msgs))
		for i, msg := range msgs {
			if out[i], err = proto.Marshal(msg); err != nil {
				return nil, fmt.Errorf("onnx: encode model: %w", err)
			}
		}
		return out, nil
	}
	p, err := parts(
		&pb.ModelProto{IrVersion: m.IrVersion, ProducerName: m.ProducerName, ProducerVersion: m.ProducerVersion,
			Domain: m.Domain, ModelVersion: m.ModelVersion, DocString: m.DocString},
		&pb.ModelProto{OpsetImport: m.OpsetImport, MetadataProps: m.MetadataProps, TrainingInfo: m.TrainingInfo, Functions: m.Functions},
		&pb.GraphProto{Name: graph.Name, Initializer: graph.Initializer, SparseInitializer: graph.SparseInitializer,
			DocString: graph.DocString, Input: graph.Input, Output: graph.Output, ValueInfo: graph.ValueInfo, QuantizationAnnotation: graph.QuantizationAnnotation},
		&pb.NodeProto{Input: node.Input, Output: node.Output, Name: node.Name, OpType: node.OpType},
		&pb.NodeProto{Attribute: node.Attribute, DocString: node.DocString, Domain: node.Domain},
	)
	if err != nil {
		return err
	}
	modelHead, modelTail, graphRest, nodeHead, nodeTail := p[0], p[1], p[2], p[3], p[4]
	nodeSize := len(nodeHead) + len(nodeTail)
	for _, s := range cols {
		nodeSize += protowire.SizeTag(fieldNodeAttribute) + protowire.SizeBytes(s.size())
	}
	graphSize := protowire.SizeTag(fieldGraphNode) + protowire.SizeBytes(nodeSize) + len(graphRest)

	bw := bufio.NewWriterSize(w, bufferedWriterBytes)
	bw.Write(modelHead)
	scratch = protowire.AppendTag(scratch[:0], fieldModelGraph, protowire.BytesType)
	scratch = protowire.AppendVarint(scratch, uint64(graphSize))
	scratch = protowire.AppendTag(scratch, fieldGraphNode, protowire.BytesType)
	scratch = protowire.AppendVarint(scratch, uint64(nodeSize))
	bw.Write(scratch)
	bw.Write(nodeHead)
	for _, s := range cols {
		scratch = protowire.AppendTag(scratch[:0], fieldNodeAttribute, protowire.BytesType)
		scratch = protowire.AppendVarint(scratch, uint64(s.size()))
		bw.Write(scratch)
		bw.Write(s.head)
		if _, err := s.file.Seek(0, io.SeekStart); err != nil {
			return fmt.Errorf("onnx: column file of %s: %w", s.c.name, err)
		}
		if n, err := io.Copy(bw, s.file); err != nil || n != int64(s.values) {
			return fmt.Errorf("onnx: write model: %s: %d of %d bytes: %w", s.c.name, n, s.values, errors.Join(err, bw.Flush()))
		}
		bw.Write(s.tail)
	}
	bw.Write(nodeTail)
	bw.Write(graphRest)
	bw.Write(modelTail)
	if err := bw.Flush(); err != nil { // bufio keeps the first write error
		return fmt.Errorf("onnx: write model: %w", err)
	}
	return nil
}

// frame returns the encoded AttributeProto before the column's values
// (its name, and the framing of the packed field or of the tensor and its
// raw_data) and after them (its type), and the size of the values.
func (s *streamedColumn) frame() (head, tail []byte, values int, err error) {
	typ := pb.AttributeProto_INTS
	switch {
	case s.c.strs != nil:
		typ = pb.AttributeProto_STRINGS
	case s.c.dbls != nil:
		typ = pb.AttributeProto_TENSOR
	}
	if head, err = proto.Marshal(&pb.AttributeProto{Name: s.c.name}); err != nil {
		return nil, nil, 0, fmt.Errorf("onnx: encode %s: %w", s.c.name, err)
	}
	if tail, err = proto.Marshal(&pb.AttributeProto{Type: typ}); err != nil {
		return nil, nil, 0, fmt.Errorf("onnx: encode %s: %w", s.c.name, err)
	}
	switch typ {
	case pb.AttributeProto_STRINGS:
		return head, tail, s.values, nil
	case pb.AttributeProto_INTS:
		if s.count > 0 { // proto3 writes no empty packed field
			head = protowire.AppendTag(head, fieldAttrInts, protowire.BytesType)
			head = protowire.AppendVarint(head, uint64(s.values))
		}
		return head, tail, s.values, nil
	}
	// A tensor: t is a TensorProto whose raw_data (field 9) comes after
	// its dims, data type and name.
	t, err := proto.Marshal(&pb.TensorProto{Name: s.c.name, Dims: []int64{int64(s.count)}, DataType: int32(pb.TensorProto_DOUBLE)})
	if err != nil {
		return nil, nil, 0, fmt.Errorf("onnx: encode %s: %w", s.c.name, err)
	}
	raw := 8 * s.count
	tensor := len(t)
	if raw > 0 {
		tensor += protowire.SizeTag(fieldTensorRawData) + protowire.SizeBytes(raw)
	}
	head = protowire.AppendTag(head, fieldAttrT, protowire.BytesType)
	head = protowire.AppendVarint(head, uint64(tensor))
	head = append(head, t...)
	if raw > 0 {
		head = protowire.AppendTag(head, fieldTensorRawData, protowire.BytesType)
		head = protowire.AppendVarint(head, uint64(raw))
	}
	return head, tail, raw, nil
}
