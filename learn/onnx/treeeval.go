package onnx

import (
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"

	pb "github.com/advancedclimatesystems/gonnx/onnx"
)

// Branch modes of TreeEnsembleRegressor's nodes_modes.
const (
	modeLEQ uint8 = iota
	modeLT
	modeGTE
	modeGT
	modeEQ
	modeNEQ
	modeLeaf
)

var modeNames = map[string]uint8{
	"BRANCH_LEQ": modeLEQ, "BRANCH_LT": modeLT, "BRANCH_GTE": modeGTE, "BRANCH_GT": modeGT,
	"BRANCH_EQ": modeEQ, "BRANCH_NEQ": modeNEQ, "LEAF": modeLeaf,
}

// enode is one node of a compiled tree, children as indexes into the
// tree's node slice.
type enode struct {
	mode        uint8
	missingTrue bool // a NaN takes the true branch
	feature     int32
	threshold   float64
	t, f        int32   // true and false children
	weight      float64 // a leaf's weights for target 0, summed
}

// ensemble evaluates a TreeEnsembleRegressor of one target.
type treeEnsemble struct {
	trees   [][]enode // each tree's root is its node 0
	average bool      // AVERAGE, else SUM
	base    float64
}

func (e *treeEnsemble) cols() int { return 1 }

// apply sums, for each row, the weights of the leaves the row reaches, in
// tree order, in double. SUM starts the sum from the base value, as the
// boosted model in Go starts from its baseline; AVERAGE divides the sum by
// the number of trees and adds the base value, as a forest averages. The
// spec fixes the value, not the order of the double additions; this order
// makes the double result the Go models' own. The output is float: each
// sum is rounded once to float32.
func (e *treeEnsemble) apply(dst, src []float64, n int) {
	d := len(src) / max(n, 1)
	// Rows are independent: blocks of them go to the cores.
	const block = 256
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for lo := 0; lo < n; lo += block {
		hi := min(lo+block, n)
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			e.applyRows(dst, src, d, lo, hi)
		}()
	}
	wg.Wait()
}

// applyRows computes rows [lo, hi) of apply.
func (e *treeEnsemble) applyRows(dst, src []float64, d, lo, hi int) {
	for r := lo; r < hi; r++ {
		x := src[r*d : (r+1)*d]
		s := 0.0
		if !e.average {
			s = e.base
		}
		for _, t := range e.trees {
			s += leafWeight(t, x)
		}
		if e.average {
			s = s/float64(len(e.trees)) + e.base
		}
		dst[r] = float64(float32(s))
	}
}

// leafWeight walks tree t for row x and returns the leaf's weight.
func leafWeight(t []enode, x []float64) float64 {
	i := int32(0)
	for {
		nd := &t[i]
		if nd.mode == modeLeaf {
			return nd.weight
		}
		v, th := x[nd.feature], nd.threshold
		var c bool
		switch nd.mode {
		case modeLEQ:
			c = v <= th
		case modeLT:
			c = v < th
		case modeGTE:
			c = v >= th
		case modeGT:
			c = v > th
		case modeEQ:
			c = v == th
		case modeNEQ:
			c = v != th
		}
		if nd.missingTrue && math.IsNaN(v) {
			c = true
		}
		if c {
			i = nd.t
		} else {
			i = nd.f
		}
	}
}

func treeStep(node string, attrs map[string]*pb.AttributeProto, cols int) (step, elem, error) {
	fail := func(format string, args ...any) (step, elem, error) {
		return nil, 0, fmt.Errorf("onnx: node %s (TreeEnsembleRegressor): %s", node, fmt.Sprintf(format, args...))
	}
	r := newAttrReader(node, "TreeEnsembleRegressor", attrs)
	aggregate := r.str("aggregate_function", "SUM")
	post := r.str("post_transform", "NONE")
	nTargets := r.int("n_targets", 1)
	base, hasBase := r.numbers("base_values")
	treeIDs := r.ints("nodes_treeids")
	nodeIDs := r.ints("nodes_nodeids")
	featureIDs := r.ints("nodes_featureids")
	modes := r.strs("nodes_modes")
	thresholds, _ := r.numbers("nodes_values")
	trueIDs := r.ints("nodes_truenodeids")
	falseIDs := r.ints("nodes_falsenodeids")
	missing := r.ints("nodes_missing_value_tracks_true")
	// Hit rates are hints for a runtime's layout; they change no output.
	r.numbers("nodes_hitrates")
	targetTrees := r.ints("target_treeids")
	targetNodes := r.ints("target_nodeids")
	targetIDs := r.ints("target_ids")
	weights, _ := r.numbers("target_weights")
	if err := r.done(); err != nil {
		return nil, 0, err
	}

	e := &treeEnsemble{}
	switch aggregate {
	case "SUM":
	case "AVERAGE":
		e.average = true
	default:
		return fail("aggregate_function %s is not supported (SUM or AVERAGE)", aggregate)
	}
	if post != "NONE" {
		return fail("post_transform %s is not supported (NONE only)", post)
	}
	if nTargets != 1 {
		return fail("n_targets %d, want 1", nTargets)
	}
	if hasBase {
		if len(base) != 1 {
			return fail("%d base values for 1 target", len(base))
		}
		e.base = base[0]
	}
	n := len(nodeIDs)
	if n == 0 {
		return fail("no nodes")
	}
	for name, l := range map[string]int{"nodes_treeids": len(treeIDs), "nodes_featureids": len(featureIDs), "nodes_modes": len(modes),
		"nodes_values": len(thresholds), "nodes_truenodeids": len(trueIDs), "nodes_falsenodeids": len(falseIDs)} {
		if l != n {
			return fail("%s has %d entries for %d nodes", name, l, n)
		}
	}
	if missing != nil && len(missing) != n {
		return fail("nodes_missing_value_tracks_true has %d entries for %d nodes", len(missing), n)
	}
	if len(targetTrees) != len(targetNodes) || len(targetIDs) != len(targetNodes) || len(weights) != len(targetNodes) {
		return fail("target_treeids, target_nodeids, target_ids and target_weights have %d, %d, %d and %d entries",
			len(targetTrees), len(targetNodes), len(targetIDs), len(weights))
	}

	// Group the nodes by tree, trees in increasing id order.
	type key struct{ tree, node int64 }
	index := make(map[key]int, n) // attribute position of each node
	var order []int64
	perTree := map[int64][]int{}
	for i := range n {
		k := key{treeIDs[i], nodeIDs[i]}
		if _, dup := index[k]; dup {
			return fail("tree %d has node %d twice", k.tree, k.node)
		}
		index[k] = i
		if _, seen := perTree[k.tree]; !seen {
			order = append(order, k.tree)
		}
		perTree[k.tree] = append(perTree[k.tree], i)
	}
	slices.Sort(order)
	leafWeights := make([]float64, n)
	for j := range targetNodes {
		i, ok := index[key{targetTrees[j], targetNodes[j]}]
		switch {
		case !ok:
			return fail("target %d names node %d of tree %d, which does not exist", j, targetNodes[j], targetTrees[j])
		case modes[i] != "LEAF":
			return fail("target %d names node %d of tree %d, which is a %s, not a LEAF", j, targetNodes[j], targetTrees[j], modes[i])
		case targetIDs[j] != 0:
			return fail("target %d has target id %d, want 0 (one target)", j, targetIDs[j])
		}
		leafWeights[i] += weights[j]
	}

	for _, tid := range order {
		members := perTree[tid]
		// The root is the one node no other node of its tree points to.
		child := map[int64]bool{}
		for _, i := range members {
			if modes[i] != "LEAF" {
				child[trueIDs[i]], child[falseIDs[i]] = true, true
			}
		}
		root := -1
		for _, i := range members {
			if !child[nodeIDs[i]] {
				if root >= 0 {
					return fail("tree %d has more than one root (nodes %d and %d)", tid, nodeIDs[root], nodeIDs[i])
				}
				root = i
			}
		}
		if root < 0 {
			return fail("tree %d has no root: every node is a child (a cycle)", tid)
		}
		// Lay the tree out from its root, checking that every node is
		// reached exactly once: a tree, not a graph with cycles or strays.
		pos := map[int]int32{root: 0}
		queue := []int{root}
		tree := make([]enode, 0, len(members))
		for q := 0; q < len(queue); q++ {
			i := queue[q]
			m, ok := modeNames[modes[i]]
			if !ok {
				return fail("node %d of tree %d has mode %q, not one ai.onnx.ml 3 defines", nodeIDs[i], tid, modes[i])
			}
			nd := enode{mode: m}
			if m == modeLeaf {
				nd.weight = leafWeights[i]
				tree = append(tree, nd)
				continue
			}
			if f := featureIDs[i]; f < 0 || f >= int64(cols) {
				return fail("node %d of tree %d splits on feature %d of an input with %d columns", nodeIDs[i], tid, f, cols)
			}
			nd.feature, nd.threshold = int32(featureIDs[i]), thresholds[i]
			if missing != nil {
				nd.missingTrue = missing[i] != 0
			}
			for _, c := range []struct {
				id  int64
				dst *int32
			}{{trueIDs[i], &nd.t}, {falseIDs[i], &nd.f}} {
				j, ok := index[key{tid, c.id}]
				if !ok {
					return fail("node %d of tree %d has child %d, which does not exist", nodeIDs[i], tid, c.id)
				}
				if _, seen := pos[j]; seen {
					return fail("node %d of tree %d is reached twice", c.id, tid)
				}
				pos[j] = int32(len(queue))
				*c.dst = int32(len(queue))
				queue = append(queue, j)
			}
			tree = append(tree, nd)
		}
		if len(queue) != len(members) {
			return fail("tree %d has %d nodes, but only %d are reached from its root", tid, len(members), len(queue))
		}
		e.trees = append(e.trees, tree)
	}
	return e, elemFloat, nil
}
