package boost

// TreeNode is one node of a fitted tree, for exporters such as learn/onnx.
type TreeNode struct {
	Feature   int     // a split's feature, -1 for a leaf
	Threshold float64 // a split sends a row left when x[Feature] <= Threshold
	Left      int     // a split's children are Left and Left+1
	Value     float64 // a leaf's value, learning rate applied
}

// TreeNodes returns the nodes of tree t in breadth-first order, root
// first; the model predicts Baseline plus the leaf value each tree sends a
// row to. It panics if t is not in [0, NumTrees).
func (m *Model) TreeNodes(t int) []TreeNode {
	tr := &m.trees[t]
	out := make([]TreeNode, len(tr.nodes))
	for i, nd := range tr.nodes {
		if tr.isLeaf(int32(i)) {
			out[i] = TreeNode{Feature: -1, Value: tr.values[i]}
			continue
		}
		out[i] = TreeNode{Feature: int(nd.feature), Threshold: m.edges[nd.feature][nd.bin], Left: int(nd.left)}
	}
	return out
}
