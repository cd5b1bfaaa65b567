package boost

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/mlops-lab/housing/learn/internal/modelfile"
)

// Magic opens every boosted-model file.
var Magic = [8]byte{'H', 'O', 'U', 'S', 'B', 'O', 'S', 'T'}

// FormatVersion is the boosted-model file version this package writes and reads.
const FormatVersion = 1

// The payload (inside the modelfile frame) is
//
//	uvarint features, uvarint trees
//	bytes   params as JSON
//	float64 baseline
//	float64 importances[features]
//	per feature: uvarint count, float64 bin edges[count]
//	uvarint count, float64 training loss[count]
//	uvarint count, float64 validation loss[count]
//	per tree: uvarint nodes, then per node in breadth-first order
//	          uvarint (bin * features + feature) << 1 for a split,
//	          uvarint 1 and float64 value for a leaf.
//
// In breadth-first order the children of the k-th split are nodes 2k+1 and
// 2k+2, so no links are stored. A split's threshold is its feature's edge
// at its bin. Values are exact float64s: a model read back predicts
// bit-identically.

// WriteTo writes the model as a model file to w.
func (m *Model) WriteTo(w io.Writer) (int64, error) {
	d := m.nFeatures
	params, err := json.Marshal(m.params)
	if err != nil {
		return 0, fmt.Errorf("boost: encode params: %w", err)
	}
	e := &modelfile.Encoder{Buf: make([]byte, 0, 6*m.NumNodes()+1024)}
	e.Uvarint(uint64(d))
	e.Uvarint(uint64(len(m.trees)))
	e.Bytes(params)
	e.Float64(m.baseline)
	for _, v := range m.importances {
		e.Float64(v)
	}
	for _, edges := range m.edges {
		writeFloats(e, edges)
	}
	writeFloats(e, m.trainLoss)
	writeFloats(e, m.validLoss)
	for _, t := range m.trees {
		e.Uvarint(uint64(len(t.nodes)))
		for i, nd := range t.nodes {
			if t.isLeaf(int32(i)) {
				e.Uvarint(1)
				e.Float64(t.values[i])
				continue
			}
			e.Uvarint(uint64(int(nd.bin)*d+int(nd.feature)) << 1)
		}
	}
	return modelfile.Write(w, Magic, FormatVersion, e.Buf)
}

func writeFloats(e *modelfile.Encoder, v []float64) {
	e.Uvarint(uint64(len(v)))
	for _, x := range v {
		e.Float64(x)
	}
}

func readFloats(dec *modelfile.Decoder, what string) []float64 {
	n := dec.Count(what, 8)
	if n == 0 {
		return nil
	}
	v := make([]float64, n)
	for i := range v {
		v[i] = dec.Float64(what)
	}
	return v
}

// Read reads a boosted-model file written by WriteTo. It refuses another
// format or format version, and truncated or damaged files.
func Read(r io.Reader) (*Model, error) {
	payload, err := modelfile.Read(r, "boost", Magic, FormatVersion)
	if err != nil {
		return nil, fmt.Errorf("boost: %w", err)
	}
	m, err := decode(modelfile.NewDecoder(payload))
	if err != nil {
		return nil, fmt.Errorf("boost: read model file: %w", err)
	}
	return m, nil
}

func decode(dec *modelfile.Decoder) (*Model, error) {
	d := dec.Count("feature count", 8)
	nTrees := dec.Count("tree count", 1)
	params := dec.Bytes("params")
	if err := dec.Err(); err != nil {
		return nil, err
	}
	if d < 1 || d > 1<<16-2 {
		return nil, fmt.Errorf("%w: %d features", modelfile.ErrCorrupt, d)
	}
	m := &Model{nFeatures: d, trees: make([]tree, nTrees), importances: make([]float64, d), edges: make([][]float64, d)}
	if err := json.Unmarshal(params, &m.params); err != nil {
		return nil, fmt.Errorf("%w: params: %v", modelfile.ErrCorrupt, err)
	}
	m.baseline = dec.Float64("baseline")
	for f := range m.importances {
		m.importances[f] = dec.Float64("importances")
	}
	for f := range m.edges {
		m.edges[f] = readFloats(dec, "bin edges")
		if len(m.edges[f]) > 254 {
			return nil, fmt.Errorf("%w: feature %d has %d bin edges, at most 254 fit", modelfile.ErrCorrupt, f, len(m.edges[f]))
		}
	}
	m.trainLoss = readFloats(dec, "training loss")
	m.validLoss = readFloats(dec, "validation loss")
	for t := range m.trees {
		tr, err := m.decodeTree(dec)
		if err != nil {
			return nil, fmt.Errorf("tree %d: %w", t, err)
		}
		m.trees[t] = tr
	}
	if err := dec.Done(); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *Model) decodeTree(dec *modelfile.Decoder) (tree, error) {
	d := m.nFeatures
	n := dec.Count("node count", 1)
	if err := dec.Err(); err != nil {
		return tree{}, err
	}
	if n < 1 || n%2 == 0 {
		return tree{}, fmt.Errorf("%w: %d nodes, want an odd count", modelfile.ErrCorrupt, n)
	}
	t := tree{nodes: make([]pnode, n), values: make([]float64, n)}
	splits := 0
	for i := range t.nodes {
		tok := dec.Uvarint("node")
		if tok == 1 {
			t.nodes[i] = pnode{left: int32(i), feature: uint16(d), bin: 255}
			t.values[i] = dec.Float64("leaf value")
			continue
		}
		if tok&1 == 1 {
			return tree{}, fmt.Errorf("%w: node %d: bad token %d", modelfile.ErrCorrupt, i, tok)
		}
		f, bin := int((tok>>1)%uint64(d)), (tok>>1)/uint64(d)
		if bin >= uint64(len(m.edges[f])) {
			return tree{}, fmt.Errorf("%w: node %d: bin %d of feature %d, which has %d edges", modelfile.ErrCorrupt, i, bin, f, len(m.edges[f]))
		}
		left := 2*splits + 1
		if left <= i || left+1 >= n {
			// Children after their parent also keep every walk finite.
			return tree{}, fmt.Errorf("%w: node %d: children %d and %d not within (%d, %d)", modelfile.ErrCorrupt, i, left, left+1, i, n)
		}
		t.nodes[i] = pnode{left: int32(left), feature: uint16(f), bin: uint8(bin)}
		splits++
	}
	if err := dec.Err(); err != nil {
		return tree{}, err
	}
	if n != 2*splits+1 {
		return tree{}, fmt.Errorf("%w: %d splits for %d nodes", modelfile.ErrCorrupt, splits, n)
	}
	t.depth = t.maxDepth()
	return t, nil
}
