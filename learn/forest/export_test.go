package forest

// LeafIndex returns the index of the leaf that tree t sends row x to, so
// tests can count the training rows of each leaf.
func LeafIndex(f *Forest, t int, x []float64) int {
	nodes := f.trees[t].nodes
	i := 0
	for nodes[i].feature >= 0 {
		if x[nodes[i].feature] <= nodes[i].threshold {
			i++
		} else {
			i = int(nodes[i].right)
		}
	}
	return i
}
