package forest

import (
	"fmt"
	"slices"
	"sort"
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

// pnode is one node of the layout trees predict with, 8 bytes, so twice
// as many fit in cache as sklearn-style nodes with a float64 threshold.
// key is rank<<8 | feature. A split's threshold is thresholds[feature][rank]
// of the forest; rows are mapped once to the rank of their values among
// those thresholds, so the walk compares small integers, exactly as it
// would compare the floats. The two children of a split are adjacent, at
// left and left+1, so a step needs no branch. A leaf has feature
// leafFeature and rank the index of its value in the tree's values.
type pnode struct {
	left int32
	key  uint32
}

const (
	leafFeature = 0xff
	// maxFeatures and maxRank bound what fits in a key.
	maxFeatures = leafFeature
	maxRank     = 1<<24 - 1
)

// tree is one regression tree in breadth-first order, nodes[0] its root,
// the top levels that every row visits packed together.
type tree struct {
	nodes  []pnode
	values []float64 // leaf values
}

func (t *tree) isLeaf(i int32) bool { return t.nodes[i].key&0xff == leafFeature }

// thresholdSet collects the distinct thresholds of many trees per feature.
type thresholdSet []map[float64]struct{}

func newThresholdSet(d int) thresholdSet {
	s := make(thresholdSet, d)
	for f := range s {
		s[f] = map[float64]struct{}{}
	}
	return s
}

func (s thresholdSet) add(dfs []node) {
	for _, nd := range dfs {
		if nd.feature >= 0 {
			s[nd.feature][nd.threshold] = struct{}{}
		}
	}
}

// sorted returns each feature's thresholds in increasing order.
func (s thresholdSet) sorted() ([][]float64, error) {
	out := make([][]float64, len(s))
	for f, m := range s {
		if len(m) > maxRank+1 {
			return nil, fmt.Errorf("forest: feature %d has %d distinct thresholds, at most %d fit", f, len(m), maxRank+1)
		}
		t := make([]float64, 0, len(m))
		for v := range m {
			t = append(t, v)
		}
		slices.Sort(t)
		out[f] = t
	}
	return out, nil
}

// layout turns a depth-first tree into the breadth-first prediction
// layout, given the forest's sorted thresholds per feature.
func layout(dfs []node, thresholds [][]float64) tree {
	t := tree{nodes: make([]pnode, len(dfs))}
	type pair struct{ from, to int32 }
	queue := make([]pair, 1, len(dfs))
	next := int32(1)
	for q := 0; q < len(queue); q++ {
		p := queue[q]
		nd := dfs[p.from]
		if nd.feature < 0 {
			t.nodes[p.to] = pnode{left: p.to, key: uint32(len(t.values))<<8 | leafFeature}
			t.values = append(t.values, nd.threshold)
			continue
		}
		r, _ := slices.BinarySearch(thresholds[nd.feature], nd.threshold)
		t.nodes[p.to] = pnode{left: next, key: uint32(r)<<8 | uint32(nd.feature)}
		queue = append(queue, pair{p.from + 1, next}, pair{nd.right, next + 1})
		next += 2
	}
	t.values = slices.Clip(t.values)
	return t
}

// depthFirst returns the tree's nodes in depth-first order, left subtree
// first, the order the model file stores.
func (t *tree) depthFirst(thresholds [][]float64) []node {
	out := make([]node, 0, len(t.nodes))
	// stack holds prediction-layout ids; waiting holds, for each split
	// still missing its right child, its depth-first index.
	stack := []int32{0}
	var waiting []int32
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if n := len(out); n > 0 && out[n-1].feature < 0 && len(waiting) > 0 {
			out[waiting[len(waiting)-1]].right = int32(n)
			waiting = waiting[:len(waiting)-1]
		}
		nd := t.nodes[i]
		f, r := nd.key&0xff, nd.key>>8
		if f == leafFeature {
			out = append(out, node{threshold: t.values[r], feature: -1})
			continue
		}
		waiting = append(waiting, int32(len(out)))
		out = append(out, node{threshold: thresholds[f][r], feature: int32(f)})
		stack = append(stack, nd.left+1, nd.left)
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
			dst[(r-lo)*d+f] = uint32(sort.Search(len(t), func(k int) bool { return t[k] >= x }))
		}
	}
	return dst
}

// group is how many rows walk a tree together: their steps are
// independent, so the processor overlaps their memory loads. A row that
// reaches its leaf hands its slot to the next row at once, so no slot idles
// while another row walks a deep path.
const group = 16

// addPredictions adds the tree's prediction for each row of q (d
// quantized columns, from quantize) to out.
func (t *tree) addPredictions(out []float64, q []uint32, d int) {
	nodes := t.nodes
	values := t.values
	n := len(out)
	var idx [group]int32
	var row [group]int // row in slot, or -1
	next, active := 0, 0
	for g := range group {
		row[g] = -1
		if next < n {
			row[g] = next
			next++
			active++
		}
	}
	for active > 0 {
		for g := range group {
			r := row[g]
			if r < 0 {
				continue
			}
			nd := nodes[idx[g]]
			f, k := nd.key&0xff, nd.key>>8
			if f != leafFeature {
				j := nd.left
				if q[r*d+int(f)] > k {
					j++
				}
				idx[g] = j
				continue
			}
			out[r] += values[k]
			idx[g] = 0
			if next < n {
				row[g] = next
				next++
			} else {
				row[g] = -1
				active--
			}
		}
	}
}
