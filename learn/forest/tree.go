package forest

// node is one node of a flat tree in depth-first order: an internal node's
// left child is the next node and right is the index of its right child.
// A leaf has feature -1 and keeps its prediction in threshold, so a
// lookup touches one 16-byte node per level.
type node struct {
	threshold float64 // internal: go left if x[feature] <= threshold; leaf: the value
	right     int32
	feature   int32
}

// tree is one regression tree, nodes[0] its root.
type tree struct {
	nodes []node
}

// predictRow returns the tree's prediction for one row.
func (t *tree) predictRow(x []float64) float64 {
	nodes := t.nodes
	i := 0
	for {
		nd := &nodes[i]
		if nd.feature < 0 {
			return nd.threshold
		}
		if x[nd.feature] <= nd.threshold {
			i++
		} else {
			i = int(nd.right)
		}
	}
}
