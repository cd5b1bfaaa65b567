package boost

import (
	"container/heap"
	"sync"
)

// hbin is one histogram bin: the gradient sum and row count of the rows
// of a node whose feature falls in the bin. With squared error every
// hessian is 1, so the count is the hessian sum.
type hbin struct{ g, n float64 }

// A histogram holds 256 bins per feature, feature f at [f*256, f*256+256).
type histogram []hbin

// trainingSet is the binned training part.
type trainingSet struct {
	n, d  int
	cols  [][]uint8 // cols[f][r]: bin of row r, feature f
	nbins []int     // bins of each feature
}

// split is a candidate split of a node.
type split struct {
	gain    float64 // decrease of the regularised loss; > 0 for a usable split
	feature int
	bin     uint8
	g, n    float64 // sums of the left child
}

// leaf is a node of the tree being grown that is still a leaf.
type leaf struct {
	id         int32 // builder node
	start, end int   // its rows are rows[start:end]
	g, n       float64
	depth      int
	hist       histogram
	split      split
}

// builder grows one tree at a time, reusing its buffers.
type builder struct {
	ts       *trainingSet
	p        Params
	workers  int
	grad     []float64 // gradient of every training row
	ordered  []float64 // gradients of one node's rows, in row order
	scratch  []int32
	free     []histogram
	nodes    []bnode
	features []int // features this tree may split on
	gains    []float64
}

func newBuilder(ts *trainingSet, p Params, workers int) *builder {
	return &builder{ts: ts, p: p, workers: workers, grad: make([]float64, ts.n),
		ordered: make([]float64, ts.n), scratch: make([]int32, 0, ts.n), gains: make([]float64, ts.d)}
}

func (b *builder) newHist() histogram {
	if k := len(b.free); k > 0 {
		h := b.free[k-1]
		b.free = b.free[:k-1]
		return h
	}
	return make(histogram, b.ts.d*256)
}

func (b *builder) release(h histogram) {
	if h != nil {
		b.free = append(b.free, h)
	}
}

// parallelRows is the node size from which histograms are built on
// several goroutines: below it, starting them costs more than it saves.
const parallelRows = 2048

// buildHist fills h with the histograms of rows for the tree's features.
// Each feature's bins are summed in row order by one goroutine, so the
// result does not depend on the number of workers.
func (b *builder) buildHist(h histogram, rows []int32) {
	og := b.ordered[:len(rows)]
	for i, r := range rows {
		og[i] = b.grad[r]
	}
	one := func(f int) {
		hf := h[f*256 : f*256+256]
		clear(hf)
		col := b.ts.cols[f]
		for i, r := range rows {
			e := &hf[col[r]]
			e.g += og[i]
			e.n++
		}
	}
	workers := min(b.workers, len(b.features))
	if workers <= 1 || len(rows) < parallelRows {
		for _, f := range b.features {
			one(f)
		}
		return
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := w; k < len(b.features); k += workers {
				one(b.features[k])
			}
		}()
	}
	wg.Wait()
}

// subtract sets parent to parent - child for the tree's features: the
// histogram of the sibling that was not built.
func (b *builder) subtract(parent, child histogram) {
	for _, f := range b.features {
		p, c := parent[f*256:f*256+b.ts.nbins[f]], child[f*256:f*256+b.ts.nbins[f]]
		for k := range p {
			p[k].g -= c[k].g
			p[k].n -= c[k].n
		}
	}
}

// bestSplit finds the split of a node with histogram h and sums g, n that
// most decreases the L2-regularised squared error, leaving at least
// MinSamplesLeaf rows on each side. Ties go to the lower feature, then bin.
func (b *builder) bestSplit(h histogram, g, n float64) split {
	lambda := b.p.L2Regularization
	minLeaf := float64(b.p.MinSamplesLeaf)
	parent := g * g / (n + lambda)
	best := split{feature: -1}
	for _, f := range b.features {
		hf := h[f*256 : f*256+b.ts.nbins[f]-1]
		var gl, nl float64
		for k := range hf {
			gl += hf[k].g
			nl += hf[k].n
			if nl < minLeaf {
				continue
			}
			nr := n - nl
			if nr < minLeaf {
				break
			}
			gr := g - gl
			gain := gl*gl/(nl+lambda) + gr*gr/(nr+lambda) - parent
			if gain > best.gain {
				best = split{gain: gain, feature: f, bin: uint8(k), g: gl, n: nl}
			}
		}
	}
	return best
}

// canSplit reports whether a node of n rows at depth may be split.
func (b *builder) canSplit(n float64, depth int) bool {
	return (b.p.MaxDepth == 0 || depth < b.p.MaxDepth) && n >= 2*float64(b.p.MinSamplesLeaf)
}

// partition reorders rows stably so that those going left (bin at most
// bin) come first, and returns how many they are.
func (b *builder) partition(rows []int32, feature int, bin uint8) int {
	col := b.ts.cols[feature]
	right := b.scratch[:0]
	k := 0
	for _, r := range rows {
		if col[r] <= bin {
			rows[k] = r
			k++
		} else {
			right = append(right, r)
		}
	}
	copy(rows[k:], right)
	return k
}

// grow grows a tree on rows, best split first, and returns it with its
// leaves, whose rows are rows[start:end]; gains adds to the per-feature
// gain totals.
func (b *builder) grow(rows []int32) ([]bnode, []*leaf) {
	b.nodes = b.nodes[:0]
	maxLeaves := b.p.MaxLeafNodes
	if maxLeaves < 0 {
		maxLeaves = len(rows)
	}

	root := &leaf{id: b.addNode(), start: 0, end: len(rows)}
	for _, r := range rows {
		root.g += b.grad[r]
	}
	root.n = float64(len(rows))
	var q candidates
	if b.canSplit(root.n, 0) && maxLeaves > 1 {
		root.hist = b.newHist()
		b.buildHist(root.hist, rows)
		if b.consider(root) {
			heap.Push(&q, root)
		}
	}
	nLeaves := 1
	done := []*leaf{}
	if q.Len() == 0 {
		done = append(done, root)
	}
	for q.Len() > 0 {
		l := heap.Pop(&q).(*leaf)
		if nLeaves >= maxLeaves {
			b.release(l.hist)
			done = append(done, l)
			continue
		}
		s := l.split
		k := b.partition(rows[l.start:l.end], s.feature, s.bin)
		left := &leaf{id: b.addNode(), start: l.start, end: l.start + k, g: s.g, n: s.n, depth: l.depth + 1}
		right := &leaf{id: b.addNode(), start: l.start + k, end: l.end, g: l.g - s.g, n: l.n - s.n, depth: l.depth + 1}
		nd := &b.nodes[l.id]
		nd.left, nd.right, nd.feature, nd.bin = left.id, right.id, s.feature, s.bin
		b.gains[s.feature] += s.gain
		nLeaves++

		splitLeft := nLeaves < maxLeaves && b.canSplit(left.n, left.depth)
		splitRight := nLeaves < maxLeaves && b.canSplit(right.n, right.depth)
		if splitLeft || splitRight {
			// Build the smaller child's histogram and take the larger's
			// from the parent's.
			small, large := left, right
			if right.end-right.start < left.end-left.start {
				small, large = right, left
			}
			small.hist = b.newHist()
			b.buildHist(small.hist, rows[small.start:small.end])
			b.subtract(l.hist, small.hist)
			large.hist = l.hist
		} else {
			b.release(l.hist)
		}
		l.hist = nil
		for _, c := range []*leaf{left, right} {
			if c.hist != nil && b.canSplit(c.n, c.depth) && b.consider(c) {
				heap.Push(&q, c)
				continue
			}
			b.release(c.hist)
			c.hist = nil
			done = append(done, c)
		}
	}
	lambda := b.p.L2Regularization
	for _, l := range done {
		b.nodes[l.id].value = -b.p.LearningRate * l.g / (l.n + lambda)
	}
	return b.nodes, done
}

func (b *builder) addNode() int32 {
	b.nodes = append(b.nodes, bnode{left: -1, right: -1})
	return int32(len(b.nodes) - 1)
}

// consider finds l's best split and reports whether it is worth making.
func (b *builder) consider(l *leaf) bool {
	l.split = b.bestSplit(l.hist, l.g, l.n)
	return l.split.feature >= 0
}

// candidates is a max-heap of splittable leaves by gain; ties go to the
// older node, so growth is deterministic.
type candidates []*leaf

func (c candidates) Len() int { return len(c) }
func (c candidates) Less(i, j int) bool {
	if c[i].split.gain != c[j].split.gain {
		return c[i].split.gain > c[j].split.gain
	}
	return c[i].id < c[j].id
}
func (c candidates) Swap(i, j int) { c[i], c[j] = c[j], c[i] }
func (c *candidates) Push(x any)   { *c = append(*c, x.(*leaf)) }
func (c *candidates) Pop() any {
	old := *c
	x := old[len(old)-1]
	*c = old[:len(old)-1]
	return x
}
