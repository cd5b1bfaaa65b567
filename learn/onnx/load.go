package onnx

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"slices"

	pb "github.com/advancedclimatesystems/gonnx/onnx"
	"google.golang.org/protobuf/proto"

	"github.com/mlops-lab/housing/learn"
)

// Load reads an ONNX model and returns a regressor that evaluates it in Go.
// It runs exactly the graphs Export writes: one double input [N, d], one
// float output [N, 1], and a chain of Cast (to float or double),
// ai.onnx.ml LinearRegressor and ai.onnx.ml TreeEnsembleRegressor nodes,
// each as its operator's definition says (see the package doc, Evaluation).
// Any other operator, attribute or attribute value, initializers, more
// inputs or outputs, or an opset it does not know is refused with an error
// that names it, rather than evaluated approximately.
func Load(r io.Reader) (learn.Regressor, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("onnx: read model: %w", err)
	}
	var m pb.ModelProto
	if err := proto.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("onnx: decode model (%d bytes): %w", len(b), err)
	}
	return compile(&m)
}

// elem is the element type of a tensor the evaluator carries. Values are
// held as float64 either way; a float tensor holds values float32 can
// represent exactly.
type elem int

const (
	elemDouble elem = iota
	elemFloat
)

func (e elem) String() string {
	if e == elemFloat {
		return "float"
	}
	return "double"
}

func elemOf(t int32) (elem, bool) {
	switch pb.TensorProto_DataType(t) {
	case pb.TensorProto_DOUBLE:
		return elemDouble, true
	case pb.TensorProto_FLOAT:
		return elemFloat, true
	}
	return 0, false
}

// step is one node of the chain: it maps n rows of in columns to n rows of
// out columns.
type step interface {
	apply(dst, src []float64, n int)
	cols() int // output columns
}

// program is a compiled graph: steps applied in order to the input.
type program struct {
	d     int
	steps []step
}

// NumFeatures implements learn.Regressor: the input's columns.
func (p *program) NumFeatures() int { return p.d }

// Predict implements learn.Regressor: the graph's output for each row of X.
// It panics if len(X) is not a multiple of NumFeatures.
func (p *program) Predict(dst, X []float64) []float64 {
	if len(X)%p.d != 0 {
		panic(fmt.Sprintf("onnx: X has %d values, not a multiple of %d features", len(X), p.d))
	}
	n := len(X) / p.d
	src := X
	for _, s := range p.steps {
		out := make([]float64, n*s.cols())
		s.apply(out, src, n)
		src = out
	}
	if cap(dst) < n {
		dst = make([]float64, n)
	}
	dst = dst[:n]
	copy(dst, src)
	return dst
}

// Opset versions Load accepts: Cast is the same for float and double in
// every default-domain version up to 21 (later ones add attributes for
// 8-bit floats only), and TreeEnsembleRegressor is as ai.onnx.ml 3 defines
// it through version 4 (5 deprecates it for TreeEnsemble).
const (
	minDefaultOpset, maxDefaultOpset = 6, 21
	minMLOpset, maxMLOpset           = 3, 4
)

func compile(m *pb.ModelProto) (*program, error) {
	if m.IrVersion < 3 || m.IrVersion > 10 {
		return nil, fmt.Errorf("onnx: IR version %d, want 3 to 10", m.IrVersion)
	}
	for _, o := range m.OpsetImport {
		switch o.Domain {
		case "", "ai.onnx":
			if o.Version < minDefaultOpset || o.Version > maxDefaultOpset {
				return nil, fmt.Errorf("onnx: default-domain opset %d, want %d to %d", o.Version, minDefaultOpset, maxDefaultOpset)
			}
		case MLDomain:
			if o.Version < minMLOpset || o.Version > maxMLOpset {
				return nil, fmt.Errorf("onnx: %s opset %d, want %d to %d", MLDomain, o.Version, minMLOpset, maxMLOpset)
			}
		default:
			return nil, fmt.Errorf("onnx: opset domain %q is not supported (only the default domain and %s)", o.Domain, MLDomain)
		}
	}
	if len(m.Functions) > 0 {
		return nil, fmt.Errorf("onnx: model functions (%s, ...) are not supported", m.Functions[0].Name)
	}
	g := m.Graph
	if g == nil {
		return nil, fmt.Errorf("onnx: model has no graph")
	}
	if len(g.Initializer) > 0 || len(g.SparseInitializer) > 0 {
		return nil, fmt.Errorf("onnx: graph %q has initializers; this evaluator takes models whose nodes hold all their parameters as attributes", g.Name)
	}
	if len(g.Input) != 1 || len(g.Output) != 1 {
		return nil, fmt.Errorf("onnx: graph %q has %d inputs and %d outputs, want one of each", g.Name, len(g.Input), len(g.Output))
	}
	in := g.Input[0]
	inElem, inCols, err := tensorInfo(in)
	if err != nil {
		return nil, err
	}
	if inElem != elemDouble || inCols < 1 {
		return nil, fmt.Errorf("onnx: input %q is %s [N, %d], want double [N, features] as Export writes it", in.Name, inElem, inCols)
	}
	opsets := map[string]int64{}
	for _, o := range m.OpsetImport {
		opsets[o.Domain] = o.Version
	}

	type value struct {
		elem elem
		cols int
	}
	values := map[string]value{in.Name: {inElem, inCols}}
	cur := in.Name
	p := &program{d: inCols}
	for i, nd := range g.Node {
		name := nd.Name
		if name == "" {
			name = fmt.Sprintf("#%d", i)
		}
		if len(nd.Input) != 1 || len(nd.Output) != 1 {
			return nil, fmt.Errorf("onnx: node %s (%s) has %d inputs and %d outputs, want one of each", name, nd.OpType, len(nd.Input), len(nd.Output))
		}
		// The nodes form one chain from the graph input: each takes what
		// the one before it made.
		if nd.Input[0] != cur {
			return nil, fmt.Errorf("onnx: node %s (%s) reads %q, want %q (the nodes must form a chain from the input)", name, nd.OpType, nd.Input[0], cur)
		}
		if _, dup := values[nd.Output[0]]; dup {
			return nil, fmt.Errorf("onnx: node %s (%s) writes %q, which already exists", name, nd.OpType, nd.Output[0])
		}
		src := values[cur]
		attrs, err := attributes(name, nd)
		if err != nil {
			return nil, err
		}
		var s step
		var out elem
		switch {
		case nd.OpType == "Cast" && (nd.Domain == "" || nd.Domain == "ai.onnx"):
			if opsets[""] == 0 && opsets["ai.onnx"] == 0 {
				return nil, fmt.Errorf("onnx: node %s (Cast): the model imports no default-domain opset", name)
			}
			s, out, err = castStep(name, attrs, src.cols)
		case nd.OpType == "LinearRegressor" && nd.Domain == MLDomain:
			s, out, err = linearStep(name, attrs, src.cols)
		case nd.OpType == "TreeEnsembleRegressor" && nd.Domain == MLDomain:
			if opsets[MLDomain] == 0 {
				return nil, fmt.Errorf("onnx: node %s (TreeEnsembleRegressor): the model imports no %s opset", name, MLDomain)
			}
			s, out, err = treeStep(name, attrs, src.cols)
		default:
			return nil, fmt.Errorf("onnx: node %s: operator %s of domain %q is not supported (this evaluator runs Cast, %s LinearRegressor and %s TreeEnsembleRegressor)",
				name, nd.OpType, nd.Domain, MLDomain, MLDomain)
		}
		if err != nil {
			return nil, err
		}
		p.steps = append(p.steps, s)
		cur = nd.Output[0]
		values[cur] = value{out, s.cols()}
	}
	o := g.Output[0]
	if o.Name != cur {
		return nil, fmt.Errorf("onnx: graph output %q is not what the last node writes (%q)", o.Name, cur)
	}
	oElem, oCols, err := tensorInfo(o)
	if err != nil {
		return nil, err
	}
	if got := values[cur]; got.elem != oElem || got.cols != 1 || (oCols != 1 && oCols != 0) {
		return nil, fmt.Errorf("onnx: graph output %q is declared %s [N, %d], but the nodes make %s [N, %d]; want one prediction per row",
			o.Name, oElem, oCols, got.elem, got.cols)
	}
	return p, nil
}

// tensorInfo returns the element type and the column count of a [N, cols]
// tensor; cols is 0 when the second dimension is symbolic or absent.
func tensorInfo(v *pb.ValueInfoProto) (elem, int, error) {
	tt := v.GetType().GetTensorType()
	if tt == nil {
		return 0, 0, fmt.Errorf("onnx: %q is not a tensor", v.Name)
	}
	e, ok := elemOf(tt.ElemType)
	if !ok {
		return 0, 0, fmt.Errorf("onnx: %q has element type %s, want double or float", v.Name, pb.TensorProto_DataType(tt.ElemType))
	}
	if tt.Shape == nil || len(tt.Shape.Dim) != 2 {
		return 0, 0, fmt.Errorf("onnx: %q is not a 2-D tensor (shape %v)", v.Name, tt.Shape)
	}
	return e, int(tt.Shape.Dim[1].GetDimValue()), nil
}

// attributes returns a node's attributes by name, refusing duplicates.
func attributes(node string, nd *pb.NodeProto) (map[string]*pb.AttributeProto, error) {
	out := make(map[string]*pb.AttributeProto, len(nd.Attribute))
	for _, a := range nd.Attribute {
		if a.RefAttrName != "" {
			return nil, fmt.Errorf("onnx: node %s (%s): attribute %s refers to a function attribute, which is not supported", node, nd.OpType, a.Name)
		}
		if _, dup := out[a.Name]; dup {
			return nil, fmt.Errorf("onnx: node %s (%s): attribute %s appears twice", node, nd.OpType, a.Name)
		}
		out[a.Name] = a
	}
	return out, nil
}

// attrReader reads a node's attributes, checking each one's type, and
// knows which it has read so that leftovers can be refused by name.
type attrReader struct {
	node, op string
	attrs    map[string]*pb.AttributeProto
	read     map[string]bool
	err      error
}

func newAttrReader(node, op string, attrs map[string]*pb.AttributeProto) *attrReader {
	return &attrReader{node: node, op: op, attrs: attrs, read: map[string]bool{}}
}

func (r *attrReader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("onnx: node %s (%s): %s", r.node, r.op, fmt.Sprintf(format, args...))
	}
}

// get returns attribute name if present with type typ.
func (r *attrReader) get(name string, typ pb.AttributeProto_AttributeType) *pb.AttributeProto {
	r.read[name] = true
	a := r.attrs[name]
	if a == nil {
		return nil
	}
	if a.Type != typ {
		r.fail("attribute %s is of type %s, want %s", name, a.Type, typ)
		return nil
	}
	return a
}

func (r *attrReader) has(name string) bool { return r.attrs[name] != nil }

func (r *attrReader) int(name string, def int64) int64 {
	if a := r.get(name, pb.AttributeProto_INT); a != nil {
		return a.I
	}
	return def
}

func (r *attrReader) str(name, def string) string {
	if a := r.get(name, pb.AttributeProto_STRING); a != nil {
		return string(a.S)
	}
	return def
}

func (r *attrReader) ints(name string) []int64 {
	if a := r.get(name, pb.AttributeProto_INTS); a != nil {
		return a.Ints
	}
	return nil
}

func (r *attrReader) strs(name string) []string {
	a := r.get(name, pb.AttributeProto_STRINGS)
	if a == nil {
		return nil
	}
	out := make([]string, len(a.Strings))
	for i, s := range a.Strings {
		out[i] = string(s)
	}
	return out
}

// floats reads a FLOATS attribute, widened to float64.
func (r *attrReader) floats(name string) ([]float64, bool) {
	a := r.get(name, pb.AttributeProto_FLOATS)
	if a == nil {
		return nil, false
	}
	out := make([]float64, len(a.Floats))
	for i, f := range a.Floats {
		out[i] = float64(f)
	}
	return out, true
}

// numbers reads the values of name (FLOATS) or of name+"_as_tensor" (a
// 1-D float or double tensor), which the ai.onnx.ml 3 operators forbid
// together.
func (r *attrReader) numbers(name string) ([]float64, bool) {
	f, okF := r.floats(name)
	a := r.get(name+"_as_tensor", pb.AttributeProto_TENSOR)
	if a == nil {
		return f, okF
	}
	if okF {
		r.fail("attributes %s and %s_as_tensor are both set; the operator allows one", name, name)
		return nil, false
	}
	v, err := tensorValues(a.T)
	if err != nil {
		r.fail("attribute %s_as_tensor: %v", name, err)
		return nil, false
	}
	return v, true
}

// done refuses any attribute not read.
func (r *attrReader) done() error {
	if r.err != nil {
		return r.err
	}
	var extra []string
	for name := range r.attrs {
		if !r.read[name] {
			extra = append(extra, name)
		}
	}
	if len(extra) > 0 {
		slices.Sort(extra)
		return fmt.Errorf("onnx: node %s (%s): attribute %v is not supported by this evaluator", r.node, r.op, extra)
	}
	return nil
}

// tensorValues returns the values of a 1-D float or double tensor.
func tensorValues(t *pb.TensorProto) ([]float64, error) {
	if t == nil {
		return nil, fmt.Errorf("no tensor")
	}
	if len(t.Dims) > 1 {
		return nil, fmt.Errorf("tensor of %d dimensions, want 1", len(t.Dims))
	}
	if t.DataLocation == pb.TensorProto_EXTERNAL || len(t.ExternalData) > 0 {
		return nil, fmt.Errorf("tensor data stored outside the model is not supported")
	}
	var out []float64
	switch pb.TensorProto_DataType(t.DataType) {
	case pb.TensorProto_DOUBLE:
		if len(t.RawData) > 0 {
			if len(t.RawData)%8 != 0 || len(t.DoubleData) > 0 {
				return nil, fmt.Errorf("double tensor with %d raw bytes and %d values", len(t.RawData), len(t.DoubleData))
			}
			for i := 0; i < len(t.RawData); i += 8 {
				out = append(out, math.Float64frombits(binary.LittleEndian.Uint64(t.RawData[i:])))
			}
		} else {
			out = append(out, t.DoubleData...)
		}
	case pb.TensorProto_FLOAT:
		if len(t.RawData) > 0 {
			if len(t.RawData)%4 != 0 || len(t.FloatData) > 0 {
				return nil, fmt.Errorf("float tensor with %d raw bytes and %d values", len(t.RawData), len(t.FloatData))
			}
			for i := 0; i < len(t.RawData); i += 4 {
				out = append(out, float64(math.Float32frombits(binary.LittleEndian.Uint32(t.RawData[i:]))))
			}
		} else {
			for _, f := range t.FloatData {
				out = append(out, float64(f))
			}
		}
	default:
		return nil, fmt.Errorf("tensor of element type %s, want double or float", pb.TensorProto_DataType(t.DataType))
	}
	if len(t.Dims) == 1 && t.Dims[0] != int64(len(out)) {
		return nil, fmt.Errorf("tensor of dimension %d holds %d values", t.Dims[0], len(out))
	}
	return out, nil
}

// cast is Cast to float or double: to float rounds each value to the
// nearest float32 (ties to even), as IEEE 754 conversion does.
type cast struct {
	to int
	n  int // columns
}

func (c cast) cols() int { return c.n }

func (c cast) apply(dst, src []float64, _ int) {
	if c.to == int(pb.TensorProto_DOUBLE) {
		copy(dst, src)
		return
	}
	for i, v := range src {
		dst[i] = float64(float32(v))
	}
}

func castStep(node string, attrs map[string]*pb.AttributeProto, cols int) (step, elem, error) {
	r := newAttrReader(node, "Cast", attrs)
	if !r.has("to") {
		return nil, 0, fmt.Errorf("onnx: node %s (Cast): attribute to is missing", node)
	}
	to := r.int("to", 0)
	if err := r.done(); err != nil {
		return nil, 0, err
	}
	e, ok := elemOf(int32(to))
	if !ok {
		return nil, 0, fmt.Errorf("onnx: node %s (Cast): to %s is not supported (float or double only)", node, pb.TensorProto_DataType(to))
	}
	return cast{to: int(to), n: cols}, e, nil
}

// linearReg is LinearRegressor with one target and no post transform:
// y = intercept + sum coef[j]*x[j], its float coefficients widened to
// double, the sum taken in double and rounded once to the float output.
type linearReg struct {
	coef      []float64
	intercept float64
}

func (l linearReg) cols() int { return 1 }

func (l linearReg) apply(dst, src []float64, n int) {
	d := len(l.coef)
	for r := range n {
		s := 0.0
		for j, c := range l.coef {
			s += c * src[r*d+j]
		}
		dst[r] = float64(float32(s + l.intercept))
	}
}

func linearStep(node string, attrs map[string]*pb.AttributeProto, cols int) (step, elem, error) {
	r := newAttrReader(node, "LinearRegressor", attrs)
	coef, _ := r.floats("coefficients")
	intercepts, _ := r.floats("intercepts")
	targets := r.int("targets", 1)
	post := r.str("post_transform", "NONE")
	if err := r.done(); err != nil {
		return nil, 0, err
	}
	switch {
	case targets != 1:
		return nil, 0, fmt.Errorf("onnx: node %s (LinearRegressor): targets %d, want 1", node, targets)
	case post != "NONE":
		return nil, 0, fmt.Errorf("onnx: node %s (LinearRegressor): post_transform %s is not supported (NONE only)", node, post)
	case cols < 1 || len(coef) != cols:
		return nil, 0, fmt.Errorf("onnx: node %s (LinearRegressor): %d coefficients for an input of %d columns", node, len(coef), cols)
	case len(intercepts) > 1:
		return nil, 0, fmt.Errorf("onnx: node %s (LinearRegressor): %d intercepts for 1 target", node, len(intercepts))
	}
	l := linearReg{coef: coef}
	if len(intercepts) == 1 {
		l.intercept = intercepts[0]
	}
	return l, elemFloat, nil
}
