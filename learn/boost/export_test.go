package boost

// TreeShape returns the number of leaves and the depth of tree t.
func TreeShape(m *Model, t int) (leaves, depth int) {
	tr := &m.trees[t]
	var walk func(i int32, dep int)
	walk = func(i int32, dep int) {
		if tr.isLeaf(i) {
			leaves++
			depth = max(depth, dep)
			return
		}
		walk(tr.nodes[i].left, dep+1)
		walk(tr.nodes[i].left+1, dep+1)
	}
	walk(0, 0)
	return leaves, depth
}

// LeafOf returns the node of tree t that row x reaches, comparing the raw
// value with the split's real threshold rather than bins.
func LeafOf(m *Model, t int, x []float64) int {
	tr := &m.trees[t]
	i := int32(0)
	for !tr.isLeaf(i) {
		nd := tr.nodes[i]
		i = nd.left
		if !(x[nd.feature] <= m.edges[nd.feature][nd.bin]) {
			i++
		}
	}
	return int(i)
}

// LeafValue returns the value of node i of tree t.
func LeafValue(m *Model, t, i int) float64 { return m.trees[t].values[i] }

var (
	BinEdges = binEdges
	BinOf    = binOf
)
