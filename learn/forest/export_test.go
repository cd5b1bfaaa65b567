package forest

// LeafIndex returns the index of the leaf that tree t sends row x to, so
// tests can count the training rows of each leaf.
func LeafIndex(f *Forest, t int, x []float64) int {
	tr := &f.trees[t]
	i := int32(0)
	for !tr.isLeaf(i) {
		nd := tr.nodes[i]
		feature, rank := nd.key&0xff, nd.key>>8
		i = nd.left
		if !(x[feature] <= f.thresholds[feature][rank]) {
			i++
		}
	}
	return int(i)
}
