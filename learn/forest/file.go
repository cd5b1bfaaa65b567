package forest

import (
	"cmp"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"

	"github.com/mlops-lab/housing/learn/internal/modelfile"
)

// Magic opens every forest model file.
var Magic = [8]byte{'H', 'O', 'U', 'S', 'F', 'R', 'S', 'T'}

// FormatVersion is the forest model file version this package writes and reads.
const FormatVersion = 1

// The payload (inside the modelfile frame) is
//
//	uvarint features, uvarint trees
//	bytes   params as JSON
//	float64 importances[features]
//	uvarint 1 if there is an OOB score, float64 OOB score
//	per feature: uvarint count, float64 thresholds[count]
//	uvarint count, float64 leaf values[count]
//	per tree: uvarint nodes, then one uvarint token per node in depth-first
//	          order: (threshold index * features + feature) << 1 for a split,
//	          value index << 1 | 1 for a leaf.
//
// Depth-first order makes child links implicit: a split's left child comes
// next and its right child follows the left subtree. Thresholds and leaf
// values are exact float64s kept once in tables, the most used first so
// their indexes take the fewest varint bytes; predictions of a file read
// back are bit-identical.

// WriteTo writes the forest as a model file to w, as a stream: each pass
// over the trees walks one tree at a time in depth-first order, and nothing
// of the file is held but its small head (parameters, importances and the
// thresholds' tables) and the tables of leaf values. The first pass counts
// the uses of each threshold and leaf value, which also gives the payload's
// length for the header; the second writes the tokens.
//
// Thresholds are counted by their rank among the feature's thresholds (the
// prediction layout's own index), so only the leaf values need a map.
func (f *Forest) WriteTo(w io.Writer) (int64, error) {
	d := f.nFeatures
	thrUse := make([][]int, d)
	for i := range thrUse {
		thrUse[i] = make([]int, len(f.thresholds[i]))
	}
	leafUse := map[uint64]int{}
	var stack []walkItem
	for t := range f.trees {
		stack = f.trees[t].walk(stack, func(id int, leaf bool) {
			if leaf {
				leafUse[f.trees[t].nodes[id]]++
				return
			}
			_, feature, rank := f.trees[t].split(id)
			thrUse[feature][rank]++
		})
	}
	thrTables := make([][]uint64, d)
	thrIndex := make([][]int, d) // per feature, by rank
	for i := range d {
		uses := make([]valueUse, 0, len(thrUse[i]))
		for r, n := range thrUse[i] {
			if n > 0 {
				uses = append(uses, valueUse{math.Float64bits(f.thresholds[i][r]), n, r})
			}
		}
		sortByUse(uses)
		thrTables[i] = make([]uint64, len(uses))
		thrIndex[i] = make([]int, len(thrUse[i]))
		for j, u := range uses {
			thrTables[i][j] = u.bits
			thrIndex[i][u.key] = j
		}
	}
	leafUses := make([]valueUse, 0, len(leafUse))
	for bits, n := range leafUse {
		leafUses = append(leafUses, valueUse{bits: bits, n: n})
	}
	sortByUse(leafUses)
	leafTable := make([]uint64, len(leafUses))
	for j, u := range leafUses {
		leafTable[j] = u.bits
		leafUse[u.bits] = j // from here on the map holds each value's index
	}
	leafIndex := leafUse

	params, err := json.Marshal(f.params)
	if err != nil {
		return 0, fmt.Errorf("forest: encode params: %w", err)
	}
	head := &modelfile.Encoder{}
	head.Uvarint(uint64(d))
	head.Uvarint(uint64(len(f.trees)))
	head.Bytes(params)
	for _, v := range f.importances {
		head.Float64(v)
	}
	if f.hasOOB {
		head.Uvarint(1)
	} else {
		head.Uvarint(0)
	}
	head.Float64(f.oob)
	for _, tab := range thrTables {
		writeTable(head, tab)
	}
	// The tokens' size follows from the uses counted: every use of a value
	// is one token of the same length.
	size := int64(len(head.Buf)) + int64(uvarintLen(uint64(len(leafTable)))+8*len(leafTable))
	for i, u := range leafUses {
		size += int64(u.n * uvarintLen(uint64(i)<<1|1))
	}
	for feature := range thrTables {
		for rank, n := range thrUse[feature] {
			if n > 0 {
				size += int64(n * uvarintLen(uint64(thrIndex[feature][rank]*d+feature)<<1))
			}
		}
	}
	for t := range f.trees {
		size += int64(uvarintLen(uint64(len(f.trees[t].nodes))))
	}

	mw, err := modelfile.NewWriter(w, Magic, FormatVersion, size)
	if err != nil {
		return 0, err
	}
	// chunk carries the payload to mw in pieces of about 64 KiB.
	chunk := &modelfile.Encoder{Buf: head.Buf}
	flush := func(force bool) {
		if force || len(chunk.Buf) >= 1<<16 {
			mw.Write(chunk.Buf) // the first error is kept for Close
			chunk.Buf = chunk.Buf[:0]
		}
	}
	chunk.Uvarint(uint64(len(leafTable)))
	for _, bits := range leafTable {
		chunk.Float64(math.Float64frombits(bits))
		flush(false)
	}
	for t := range f.trees {
		tr := &f.trees[t]
		chunk.Uvarint(uint64(len(tr.nodes)))
		stack = tr.walk(stack, func(id int, leaf bool) {
			if leaf {
				chunk.Uvarint(uint64(leafIndex[tr.nodes[id]])<<1 | 1)
			} else {
				_, feature, rank := tr.split(id)
				chunk.Uvarint(uint64(thrIndex[feature][rank]*d+feature) << 1)
			}
			flush(false)
		})
	}
	flush(true)
	return mw.Close()
}

type walkItem struct {
	id   int32
	leaf bool
}

// walk calls visit for each node of the tree in depth-first order, left
// subtree first (the order of depthFirst and of the model file), with its
// prediction-layout id and whether it is a leaf. stack is scratch space,
// returned for the next tree.
func (t *tree) walk(stack []walkItem, visit func(id int, leaf bool)) []walkItem {
	stack = append(stack[:0], walkItem{0, len(t.nodes) == 1})
	for len(stack) > 0 {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		visit(int(it.id), it.leaf)
		if it.leaf {
			continue
		}
		left, _, _ := t.split(int(it.id))
		stack = append(stack, walkItem{int32(left + 1), t.childIsLeaf(int(it.id), 1)}, walkItem{int32(left), t.childIsLeaf(int(it.id), 0)})
	}
	return stack
}

// valueUse is a value (float64 bits) of a table, how often the trees use
// it, and a key of the caller's (a threshold's rank).
type valueUse struct {
	bits uint64
	n    int
	key  int
}

// sortByUse orders values by how often they are used, most first (ties by
// value bits, so files are reproducible). The counts travel with the
// values: looking them up in a map from the comparison was most of the
// writing's time.
func sortByUse(uses []valueUse) {
	slices.SortFunc(uses, func(a, b valueUse) int {
		if c := cmp.Compare(b.n, a.n); c != 0 {
			return c
		}
		return cmp.Compare(a.bits, b.bits)
	})
}

func uvarintLen(v uint64) int {
	var b [binary.MaxVarintLen64]byte
	return binary.PutUvarint(b[:], v)
}

func writeTable(e *modelfile.Encoder, tab []uint64) {
	e.Uvarint(uint64(len(tab)))
	for _, bits := range tab {
		e.Float64(math.Float64frombits(bits))
	}
}

// Read reads a forest model file written by WriteTo. It refuses another
// format or format version, and truncated or damaged files.
func Read(r io.Reader) (*Forest, error) {
	payload, err := modelfile.Read(r, "forest", Magic, FormatVersion)
	if err != nil {
		return nil, fmt.Errorf("forest: %w", err)
	}
	f, err := decode(modelfile.NewDecoder(payload))
	if err != nil {
		return nil, fmt.Errorf("forest: read model file: %w", err)
	}
	return f, nil
}

func decode(dec *modelfile.Decoder) (*Forest, error) {
	d := dec.Count("feature count", 8)
	nTrees := dec.Count("tree count", 1)
	params := dec.Bytes("params")
	if err := dec.Err(); err != nil {
		return nil, err
	}
	if d < 1 || nTrees < 1 {
		return nil, fmt.Errorf("%w: %d features, %d trees", modelfile.ErrCorrupt, d, nTrees)
	}
	if d > maxFeatures {
		return nil, fmt.Errorf("%w: %d features, at most %d supported", modelfile.ErrCorrupt, d, maxFeatures)
	}
	f := &Forest{nFeatures: d, importances: make([]float64, d)}
	if err := json.Unmarshal(params, &f.params); err != nil {
		return nil, fmt.Errorf("%w: params: %v", modelfile.ErrCorrupt, err)
	}
	for i := range f.importances {
		f.importances[i] = dec.Float64("importances")
	}
	switch dec.Uvarint("OOB flag") {
	case 0:
	case 1:
		f.hasOOB = true
	default:
		return nil, fmt.Errorf("%w: OOB flag not 0 or 1", modelfile.ErrCorrupt)
	}
	f.oob = dec.Float64("OOB score")
	if err := dec.Err(); err != nil {
		return nil, err
	}
	thr := make([][]float64, d)
	for i := range thr {
		thr[i] = readTable(dec, "threshold table")
	}
	leaves := readTable(dec, "leaf value table")
	dfs := make([][]node, nTrees)
	for t := range dfs {
		nodes, err := decodeTree(dec, d, thr, leaves)
		if err != nil {
			return nil, fmt.Errorf("tree %d: %w", t, err)
		}
		dfs[t] = nodes
	}
	if err := dec.Done(); err != nil {
		return nil, err
	}
	if err := f.setTrees(dfs, runtime.GOMAXPROCS(0)); err != nil {
		return nil, err
	}
	return f, nil
}

func readTable(dec *modelfile.Decoder, what string) []float64 {
	tab := make([]float64, dec.Count(what, 8))
	for i := range tab {
		tab[i] = dec.Float64(what)
	}
	return tab
}

// decodeTree rebuilds the child links from the depth-first order: after a
// leaf, the next node is the right child of the deepest split still
// waiting for one.
func decodeTree(dec *modelfile.Decoder, d int, thr [][]float64, leaves []float64) ([]node, error) {
	n := dec.Count("node count", 1)
	if err := dec.Err(); err != nil {
		return nil, err
	}
	if n < 1 {
		return nil, fmt.Errorf("%w: empty tree", modelfile.ErrCorrupt)
	}
	nodes := make([]node, n)
	var waiting []int32
	for i := range nodes {
		tok := dec.Uvarint("node")
		if err := dec.Err(); err != nil {
			return nil, err
		}
		if i > 0 && nodes[i-1].feature < 0 {
			if len(waiting) == 0 {
				return nil, fmt.Errorf("%w: node %d follows a complete tree", modelfile.ErrCorrupt, i)
			}
			nodes[waiting[len(waiting)-1]].right = int32(i)
			waiting = waiting[:len(waiting)-1]
		}
		if tok&1 == 1 {
			idx := tok >> 1
			if idx >= uint64(len(leaves)) {
				return nil, fmt.Errorf("%w: node %d: leaf value %d of %d", modelfile.ErrCorrupt, i, idx, len(leaves))
			}
			nodes[i] = node{threshold: leaves[idx], feature: -1}
			continue
		}
		feature, idx := int((tok>>1)%uint64(d)), (tok>>1)/uint64(d)
		if idx >= uint64(len(thr[feature])) {
			return nil, fmt.Errorf("%w: node %d: threshold %d of %d for feature %d", modelfile.ErrCorrupt, i, idx, len(thr[feature]), feature)
		}
		nodes[i] = node{threshold: thr[feature][idx], feature: int32(feature)}
		waiting = append(waiting, int32(i))
	}
	if len(waiting) != 0 || nodes[n-1].feature >= 0 {
		return nil, fmt.Errorf("%w: tree ends with %d splits missing a right child", modelfile.ErrCorrupt, max(len(waiting), 1))
	}
	return nodes, nil
}
