package boost

// pnode is one node of a tree as predict walks it, 8 bytes. The two
// children of a split are adjacent, at left and left+1, so a step is
// i = left + (bin > node's bin) without a branch to mispredict. A leaf
// points to itself and tests the sentinel column d, which holds bin 0,
// against bin 255, so it keeps every row that reached it in place.
type pnode struct {
	left    int32
	feature uint16
	bin     uint8 // go left if the row's bin of feature is at most bin
}

// tree is one regression tree in breadth-first order, nodes[0] its root:
// the children of the k-th split are nodes 2k+1 and 2k+2, so the node
// kinds alone fix the shape (the model file stores only those).
type tree struct {
	nodes  []pnode
	values []float64 // leaf values, learning rate applied; 0 at splits
	depth  int       // of the deepest leaf
}

func (t *tree) isLeaf(i int32) bool { return t.nodes[i].left == i }

// bnode is a node as the builder grows it: children anywhere, leaf if
// left < 0.
type bnode struct {
	left, right int32
	feature     int
	bin         uint8
	value       float64
}

// layout turns the builder's nodes into the breadth-first tree that
// predicts, for rows of d binned features plus the sentinel column d.
func layout(b []bnode, d int) tree {
	t := tree{nodes: make([]pnode, len(b)), values: make([]float64, len(b))}
	queue := make([]int32, 1, len(b))
	next := int32(1)
	for q := 0; q < len(queue); q++ {
		nd := b[queue[q]]
		if nd.left < 0 {
			t.nodes[q] = pnode{left: int32(q), feature: uint16(d), bin: 255}
			t.values[q] = nd.value
			continue
		}
		t.nodes[q] = pnode{left: next, feature: uint16(nd.feature), bin: nd.bin}
		queue = append(queue, nd.left, nd.right)
		next += 2
	}
	t.depth = t.maxDepth()
	return t
}

// maxDepth returns the depth of the deepest leaf. In breadth-first order a
// node's depth is its parent's plus one, and parents come first.
func (t *tree) maxDepth() int {
	depth := make([]int, len(t.nodes))
	deepest := 0
	for i, nd := range t.nodes {
		if t.isLeaf(int32(i)) {
			deepest = max(deepest, depth[i])
			continue
		}
		depth[nd.left] = depth[i] + 1
		depth[nd.left+1] = depth[i] + 1
	}
	return deepest
}

// predictRow returns the tree's value for one binned row.
func (t *tree) predictRow(x []uint8) float64 {
	i := int32(0)
	for !t.isLeaf(i) {
		nd := t.nodes[i]
		i = nd.left
		if x[nd.feature] > nd.bin {
			i++
		}
	}
	return t.values[i]
}

// addPredictionsLevel adds the tree's value for each row of xs to out,
// walking all rows one level at a time for exactly depth steps: a row at
// its leaf stays there, so no step tests for leaves, and the rows' steps
// are independent for the processor to overlap. idx is scratch of len(out).
func (t *tree) addPredictionsLevel(out []float64, xs []uint8, w int, idx []int32) {
	nodes := t.nodes
	clear(idx)
	for range t.depth {
		for r, i := range idx {
			nd := nodes[i]
			// 1 when the row's bin exceeds the split's, without a branch.
			right := (uint32(nd.bin) - uint32(xs[r*w+int(nd.feature)])) >> 31
			idx[r] = nd.left + int32(right)
		}
	}
	for r, i := range idx {
		out[r] += t.values[i]
	}
}

// group is how many rows walk a tree together: their steps are
// independent, so the processor overlaps their loads. A row that reaches
// its leaf hands its slot to the next row at once.
const group = 16

// addPredictions adds the tree's value for each row of xs to out. xs holds
// len(out) binned rows of w columns, the sentinel column last.
func (t *tree) addPredictions(out []float64, xs []uint8, w int) {
	nodes, values := t.nodes, t.values
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
			i := idx[g]
			nd := nodes[i]
			j := nd.left
			if xs[r*w+int(nd.feature)] > nd.bin {
				j++
			}
			if j != i {
				idx[g] = j
				continue
			}
			out[r] += values[i]
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
