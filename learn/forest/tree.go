package forest

import (
	"fmt"
	"math"
	"slices"
	"unsafe"

	"github.com/mlops-lab/housing/learn/internal/par"
)

// node is one node of a tree in depth-first order, as the builder grows it
// and the model file stores it: an internal node's left child is the next
// node and right is the index of its right child; a leaf has feature -1
// and keeps its value in threshold.
type node struct {
	threshold float64
	right     int32
	feature   int32
}

// The trees predict with a layout of 8-byte nodes, a uint64 each. A split
// is
//
//	left | leftLeaf<<30 | rightLeaf<<31 | feature<<32 | rank<<40
//
// Its threshold is thresholds[feature][rank] of the forest; rows are
// mapped once to the rank of their values among those thresholds, so the
// walk compares small integers, exactly as it would compare the floats. Its
// two children are adjacent, at left and left+1, so a step needs no branch
// to choose. A leaf holds the bits of its float64 value; the flags of its
// parent say it is a leaf, so the walk reads a leaf's value with the load
// that reaches it, and a tree needs no separate table of leaf values.
const (
	leftMask     = 1<<30 - 1
	leafShift    = 30
	featureShift = 32
	rankShift    = 40
	// maxFeatures, maxRank and maxNodes bound what fits in a node.
	maxFeatures = 255
	maxRank     = 1<<24 - 1
	maxNodes    = leftMask
)

// tree is one regression tree in breadth-first order, nodes[0] its root,
// the top levels that every row visits packed together. A tree of one node
// is a leaf.
type tree struct {
	nodes []uint64
}

// split returns the left child, feature and rank of split node i.
func (t *tree) split(i int) (left int, feature int, rank uint32) {
	nd := t.nodes[i]
	return int(nd & leftMask), int(nd >> featureShift & 0xff), uint32(nd >> rankShift)
}

// childIsLeaf reports whether the left (c = 0) or right (c = 1) child of
// split node i is a leaf.
func (t *tree) childIsLeaf(i, c int) bool { return t.nodes[i]>>(leafShift+c)&1 != 0 }

// leafValue returns the value of leaf node i.
func (t *tree) leafValue(i int) float64 { return math.Float64frombits(t.nodes[i]) }

// sortedThresholds returns, per feature, the distinct split thresholds of
// the trees dfs in increasing order. Each feature is one task on the
// workers, its thresholds gathered into a slice, sorted and compacted: a
// set of maps filled one tree after the other was a third of a second on
// one core for the lab's 300-tree forest, at the end of its fit and of
// every read of its model file.
func sortedThresholds(dfs [][]node, d, workers int) ([][]float64, error) {
	out := make([][]float64, d)
	par.For(d, workers, func(f int) {
		var v []float64
		for _, t := range dfs {
			for _, nd := range t {
				if int(nd.feature) == f {
					v = append(v, nd.threshold)
				}
			}
		}
		slices.Sort(v)
		out[f] = slices.Clip(slices.Compact(v))
	})
	for f, t := range out {
		if len(t) > maxRank+1 {
			return nil, fmt.Errorf("forest: feature %d has %d distinct thresholds, at most %d fit", f, len(t), maxRank+1)
		}
	}
	return out, nil
}

// layout turns a depth-first tree into the breadth-first prediction
// layout, given the forest's sorted thresholds per feature.
func layout(dfs []node, thresholds [][]float64) (tree, error) {
	if len(dfs) > maxNodes {
		return tree{}, fmt.Errorf("forest: a tree has %d nodes, at most %d fit", len(dfs), maxNodes)
	}
	t := tree{nodes: make([]uint64, len(dfs))}
	if dfs[0].feature < 0 {
		t.nodes[0] = math.Float64bits(dfs[0].threshold)
		return t, nil
	}
	type pair struct{ from, to int32 }
	queue := make([]pair, 1, len(dfs))
	next := int32(1)
	for q := 0; q < len(queue); q++ {
		p := queue[q]
		nd := dfs[p.from]
		if nd.feature < 0 {
			t.nodes[p.to] = math.Float64bits(nd.threshold)
			continue
		}
		r, _ := slices.BinarySearch(thresholds[nd.feature], nd.threshold)
		v := uint64(next) | uint64(nd.feature)<<featureShift | uint64(r)<<rankShift
		if dfs[p.from+1].feature < 0 {
			v |= 1 << leafShift
		}
		if dfs[nd.right].feature < 0 {
			v |= 2 << leafShift
		}
		t.nodes[p.to] = v
		queue = append(queue, pair{p.from + 1, next}, pair{nd.right, next + 1})
		next += 2
	}
	return t, nil
}

// depthFirst returns the tree's nodes in depth-first order, left subtree
// first, the order the model file stores, in dst's storage when it is
// large enough.
func (t *tree) depthFirst(dst []node, thresholds [][]float64) []node {
	out := slices.Grow(dst[:0], len(t.nodes))
	if len(t.nodes) == 1 {
		return append(out, node{threshold: t.leafValue(0), feature: -1})
	}
	// stack holds prediction-layout ids, with whether each is a leaf;
	// waiting holds, for each split still missing its right child, its
	// depth-first index.
	type item struct {
		id   int
		leaf bool
	}
	stack := []item{{0, false}}
	var waiting []int32
	for len(stack) > 0 {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if n := len(out); n > 0 && out[n-1].feature < 0 && len(waiting) > 0 {
			out[waiting[len(waiting)-1]].right = int32(n)
			waiting = waiting[:len(waiting)-1]
		}
		if it.leaf {
			out = append(out, node{threshold: t.leafValue(it.id), feature: -1})
			continue
		}
		left, f, r := t.split(it.id)
		waiting = append(waiting, int32(len(out)))
		out = append(out, node{threshold: thresholds[f][r], feature: int32(f)})
		stack = append(stack, item{left + 1, t.childIsLeaf(it.id, 1)}, item{left, t.childIsLeaf(it.id, 0)})
	}
	return out
}

// quantize maps rows [lo, hi) of X (d columns) to, per value, how many of
// the feature's thresholds are below it: x <= thresholds[f][k] exactly when
// that count is at most k.
func quantize(dst []uint32, X []float64, lo, hi int, thresholds [][]float64) []uint32 {
	d := len(thresholds)
	if cap(dst) < (hi-lo)*d {
		dst = make([]uint32, (hi-lo)*d)
	}
	dst = dst[:(hi-lo)*d]
	for r := lo; r < hi; r++ {
		for f, t := range thresholds {
			x := X[r*d+f]
			dst[(r-lo)*d+f] = countBelow(t, x)
		}
	}
	return dst
}

// countBelow returns the first k with t[k] >= x, or len(t): sort.Search
// without the closure call per probe (a NaN x goes past every threshold,
// as it did with sort.Search).
func countBelow(t []float64, x float64) uint32 {
	lo, hi := 0, len(t)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if t[m] >= x {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return uint32(lo)
}

// addPredictions adds the tree's prediction for each row of q (d
// quantized columns, from quantize) to out, which must not hold -0 (sums
// that start at +0 never do). walk is scratch space of at least len(out)
// values.
//
// Rows walk the tree in passes: each pass takes a few steps for every row
// still walking, in row order. The rows of a pass are independent, so the
// processor overlaps their memory loads; a row that reaches its leaf adds
// the leaf's value and drops out of the next pass.
func (t *tree) addPredictions(out []float64, q []uint32, d int, walk []uint64) {
	nodes := t.nodes
	n := len(out)
	if len(nodes) == 1 {
		v := math.Float64frombits(nodes[0])
		for r := range out {
			out[r] += v
		}
		return
	}
	// walk holds node<<32 | row for each row still walking. The loop
	// indexes through unsafe pointers: layout guarantees every child index
	// is within nodes and every feature below d, and walk only holds rows
	// of out; bounds checks would otherwise double the step's instructions.
	walk = walk[:n]
	for r := range walk {
		walk[r] = uint64(r)
	}
	np := unsafe.Pointer(unsafe.SliceData(nodes))
	qp := unsafe.Pointer(unsafe.SliceData(q))
	op := unsafe.Pointer(unsafe.SliceData(out))
	wp := unsafe.Pointer(unsafe.SliceData(walk))
	rowBytes := uintptr(d) * 4
	for m := n; m > 0; {
		w := uintptr(0)
		for i := range uintptr(m) {
			s := *(*uint64)(unsafe.Add(wp, i*8))
			r := uintptr(uint32(s))
			row := unsafe.Add(qp, r*rowBytes)
			k := uintptr(s >> 32)
			// Two steps a pass: the first stays at a split whose chosen
			// child is a leaf (the split chooses the same child again, so
			// it is a fixed point), the second adds the leaf's value.
			k = stay(np, row, k)
			nd := *(*uint64)(unsafe.Add(np, k*8))
			c := goRight(row, nd)
			j := nd&leftMask + c
			leaf := nd >> (leafShift + c) & 1
			// Without a branch: a row that is not at a leaf adds +0, which
			// leaves its sum as it is (a sum that starts at +0 is never
			// -0), and the next row overwrites its walk entry.
			v := *(*uint64)(unsafe.Add(np, uintptr(j)*8))
			if leaf == 0 {
				v = 0
			}
			*(*float64)(unsafe.Add(op, r*8)) += math.Float64frombits(v)
			*(*uint64)(unsafe.Add(wp, w*8)) = j<<32 | uint64(r)
			w += uintptr(leaf ^ 1)
		}
		m = int(w)
	}
}

// goRight returns 1 if the quantized row goes right at split nd, else 0.
func goRight(row unsafe.Pointer, nd uint64) uint64 {
	if *(*uint32)(unsafe.Add(row, uintptr(nd>>featureShift&0xff)*4)) > uint32(nd>>rankShift) {
		return 1
	}
	return 0
}

// stay returns the child of split k that row goes to, or k itself if that
// child is a leaf.
func stay(np, row unsafe.Pointer, k uintptr) uintptr {
	nd := *(*uint64)(unsafe.Add(np, k*8))
	c := goRight(row, nd)
	if nd>>(leafShift+c)&1 == 0 {
		k = uintptr(nd&leftMask + c)
	}
	return k
}
