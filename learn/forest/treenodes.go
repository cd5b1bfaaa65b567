package forest

// TreeNode is one node of a fitted tree, for exporters such as learn/onnx.
type TreeNode struct {
	Feature   int     // a split's feature, -1 for a leaf
	Threshold float64 // a split sends a row left when x[Feature] <= Threshold
	Right     int     // a split's right child; its left child is the next node
	Value     float64 // a leaf's prediction
}

// TreeNodes returns the nodes of tree t in depth-first order, root first
// and each left subtree before its right, as the model file stores them.
// It panics if t is not in [0, NumTrees).
func (f *Forest) TreeNodes(t int) []TreeNode {
	dfs := f.trees[t].depthFirst(f.thresholds)
	out := make([]TreeNode, len(dfs))
	for i, nd := range dfs {
		if nd.feature < 0 {
			out[i] = TreeNode{Feature: -1, Value: nd.threshold}
			continue
		}
		out[i] = TreeNode{Feature: int(nd.feature), Threshold: nd.threshold, Right: int(nd.right)}
	}
	return out
}
