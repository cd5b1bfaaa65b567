package forest

// LeafIndex returns the index of the leaf that tree t sends row x to, so
// tests can count the training rows of each leaf.
func LeafIndex(f *Forest, t int, x []float64) int {
	tr := &f.trees[t]
	if len(tr.nodes) == 1 {
		return 0
	}
	i := 0
	for {
		left, feature, rank := tr.split(i)
		c := 0
		if !(x[feature] <= f.thresholds[feature][rank]) {
			c = 1
		}
		if tr.childIsLeaf(i, c) {
			return left + c
		}
		i = left + c
	}
}
