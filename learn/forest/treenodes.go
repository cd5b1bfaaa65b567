package forest

import "slices"

// TreeNode is one node of a fitted tree, for exporters such as learn/onnx.
type TreeNode struct {
	Feature   int     // a split's feature, -1 for a leaf
	Threshold float64 // a split sends a row left when x[Feature] <= Threshold
	Left      int     // a split's left child
	Right     int     // a split's right child
	Value     float64 // a leaf's prediction
}

// TreeNodes returns the nodes of tree t in depth-first order, root first
// and each left subtree before its right, as the model file stores them.
// It panics if t is not in [0, NumTrees).
func (f *Forest) TreeNodes(t int) []TreeNode {
	dfs := f.trees[t].depthFirst(nil, f.thresholds)
	out := make([]TreeNode, len(dfs))
	for i, nd := range dfs {
		if nd.feature < 0 {
			out[i] = TreeNode{Feature: -1, Value: nd.threshold}
			continue
		}
		out[i] = TreeNode{Feature: int(nd.feature), Threshold: nd.threshold, Left: i + 1, Right: int(nd.right)}
	}
	return out
}

// AppendLayoutNodes appends the nodes of tree t to dst in the order the
// forest predicts with, breadth-first (a split's children are Left and
// Right = Left+1, after it), and returns the extended slice. Unlike
// TreeNodes it allocates nothing once dst is large enough, for exporters
// that walk every tree several times. It panics if t is not in [0, NumTrees).
func (f *Forest) AppendLayoutNodes(dst []TreeNode, t int) []TreeNode {
	tr := &f.trees[t]
	base := len(dst)
	dst = slices.Grow(dst, len(tr.nodes))[:base+len(tr.nodes)]
	out := dst[base:]
	clear(out)
	if len(out) == 1 {
		out[0] = TreeNode{Feature: -1, Value: tr.leafValue(0)}
		return dst
	}
	// A split marks its leaf children (Feature -1) before they are reached:
	// children come after their parent.
	for i := range out {
		if out[i].Feature < 0 {
			out[i].Value = tr.leafValue(i)
			continue
		}
		left, feature, rank := tr.split(i)
		out[i] = TreeNode{Feature: feature, Threshold: f.thresholds[feature][rank], Left: left, Right: left + 1}
		for c := range 2 {
			if tr.childIsLeaf(i, c) {
				out[left+c].Feature = -1
			}
		}
	}
	return dst
}
