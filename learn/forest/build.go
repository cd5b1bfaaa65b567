package forest

import (
	"math/rand/v2"
	"slices"
)

// entry is one in-bag row in one feature's sorted list. wy is the row's
// weight times its target, so the split scan reads only this entry.
type entry[R rank] struct {
	wy   float64
	row  int32
	rank R
	w    R
}

// nodeStats are the weighted sums of one node's rows; the squared-error
// criterion needs nothing else.
type nodeStats struct {
	n        int     // distinct in-bag rows
	w        float64 // total weight (bootstrap counts)
	wy, wyy  float64 // sums of w*y and w*y*y
	constant bool    // all targets equal: the node cannot improve
}

// impurity is the weighted variance of the targets, computed as
// scikit-learn's MSE criterion does, so importances agree with it.
func (s nodeStats) impurity() float64 {
	m := s.wy / s.w
	return s.wyy/s.w - m*m
}

// split is the best split found for a node.
type split struct {
	feature      int
	nLeft        int // rows going left: the first nLeft of the feature's list
	rankL, rankR uint32
	proxy        float64
}

// stackItem is a node waiting to be built, rows [start, end) of every list.
type stackItem struct {
	start, end int32
	depth      int32
	parent     int32 // node whose right child this is, or -1
	stats      nodeStats
}

// builder grows one tree at a time; each worker owns one, so its scratch
// is reused across trees and nothing in the hot loops allocates.
type builder[R rank] struct {
	ts          *trainingSet[R]
	maxDepth    int
	minSplit    int
	minLeaf     int
	maxFeatures int
	bootstrap   bool

	rng        *rand.Rand
	weight     []uint32   // bootstrap count per row
	lists      []entry[R] // d lists of m entries, list f at [f*m, (f+1)*m)
	m          int
	tmp        []entry[R] // partition scratch
	goLeft     []uint8    // per row: 1 if it goes to the left child
	features   []int      // feature permutation for sampling
	stack      []stackItem
	masks      []uint64 // per stack slot: features known constant in that node
	maskWords  int
	cur        []uint64 // mask of the node being split
	nodes      []node
	importance []float64
}

func newBuilder[R rank](ts *trainingSet[R], p Params) *builder[R] {
	b := &builder[R]{
		ts:          ts,
		maxDepth:    p.MaxDepth,
		minSplit:    p.MinSamplesSplit,
		minLeaf:     p.MinSamplesLeaf,
		maxFeatures: p.MaxFeatures.Count(ts.d),
		bootstrap:   p.Bootstrap,
		weight:      make([]uint32, ts.n),
		lists:       make([]entry[R], ts.n*ts.d),
		tmp:         make([]entry[R], ts.n),
		goLeft:      make([]uint8, ts.n),
		features:    make([]int, ts.d),
		maskWords:   (ts.d + 63) / 64,
		importance:  make([]float64, ts.d),
	}
	b.cur = make([]uint64, b.maskWords)
	return b
}

// treeRand returns tree i's random source: a function of the seed and the
// tree index only, so a forest does not depend on how trees meet workers.
func treeRand(seed uint64, tree int) *rand.Rand {
	return rand.New(rand.NewPCG(splitmix(seed), splitmix(seed^splitmix(uint64(tree)+1))))
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// drawBootstrap fills weight with how often each row is drawn in n draws
// with replacement, or all ones without bootstrap.
func drawBootstrap(rng *rand.Rand, weight []uint32, bootstrap bool) {
	n := len(weight)
	if !bootstrap {
		for i := range weight {
			weight[i] = 1
		}
		return
	}
	clear(weight)
	for range n {
		weight[rng.IntN(n)]++
	}
}

// build grows tree number idx and returns it in depth-first order, with
// its unnormalised impurity decrease per feature in b.importance.
func (b *builder[R]) build(seed uint64, idx int) []node {
	ts := b.ts
	b.rng = treeRand(seed, idx)
	drawBootstrap(b.rng, b.weight, b.bootstrap)
	// The sampling permutation starts afresh: it must not carry over from
	// whatever tree this worker built before.
	for f := range b.features {
		b.features[f] = f
	}

	m := 0
	for _, w := range b.weight {
		if w > 0 {
			m++
		}
	}
	b.m = m
	for f := range ts.d {
		dst := b.lists[f*m : (f+1)*m]
		k := 0
		for _, rr := range ts.order[f] {
			w := b.weight[rr.row]
			if w == 0 {
				continue
			}
			dst[k] = entry[R]{wy: float64(w) * ts.y[rr.row], row: rr.row, rank: rr.rank, w: R(w)}
			k++
		}
	}
	clear(b.importance)
	b.nodes = b.nodes[:0]
	b.stack = append(b.stack[:0], stackItem{start: 0, end: int32(m), parent: -1, stats: b.stats(b.lists[:m])})
	b.masks = append(b.masks[:0], make([]uint64, b.maskWords)...)

	for len(b.stack) > 0 {
		top := len(b.stack) - 1
		it := b.stack[top]
		copy(b.cur, b.masks[top*b.maskWords:])
		b.stack = b.stack[:top]
		b.masks = b.masks[:top*b.maskWords]

		id := int32(len(b.nodes))
		if it.parent >= 0 {
			b.nodes[it.parent].right = id
		}
		n := int(it.end - it.start)
		leaf := (b.maxDepth > 0 && int(it.depth) >= b.maxDepth) ||
			n < b.minSplit || n < 2*b.minLeaf || it.stats.constant
		var sp split
		if !leaf {
			sp = b.findSplit(int(it.start), int(it.end), it.stats)
			leaf = sp.nLeft == 0
		}
		if leaf {
			b.nodes = append(b.nodes, node{threshold: it.stats.wy / it.stats.w, feature: -1})
			continue
		}
		vals := ts.values[sp.feature]
		lo, hi := vals[sp.rankL], vals[sp.rankR]
		thr := lo/2 + hi/2
		if thr == hi {
			thr = lo // lo and hi are adjacent floats: the midpoint rounded up
		}
		b.nodes = append(b.nodes, node{threshold: thr, feature: int32(sp.feature)})

		left, right := b.partition(int(it.start), int(it.end), sp)
		b.importance[sp.feature] += it.stats.w*it.stats.impurity() -
			left.w*left.impurity() - right.w*right.impurity()

		mid := it.start + int32(sp.nLeft)
		// Right first, so the left child is built next and gets id+1.
		b.stack = append(b.stack,
			stackItem{start: mid, end: it.end, depth: it.depth + 1, parent: id, stats: right},
			stackItem{start: it.start, end: mid, depth: it.depth + 1, parent: -1, stats: left})
		b.masks = append(b.masks, b.cur...)
		b.masks = append(b.masks, b.cur...)
	}
	return slices.Clone(b.nodes)
}

// stats sums one node's rows from any one of its lists.
func (b *builder[R]) stats(list []entry[R]) nodeStats {
	y := b.ts.y
	s := nodeStats{n: len(list)}
	var w uint64
	lo, hi := y[list[0].row], y[list[0].row]
	for _, e := range list {
		yv := y[e.row]
		w += uint64(e.w)
		s.wy += e.wy
		s.wyy += e.wy * yv
		lo = min(lo, yv)
		hi = max(hi, yv)
	}
	s.w = float64(w)
	s.constant = lo == hi
	return s
}

// findSplit returns the best split of rows [start, end), or a split with
// nLeft == 0 if there is none. Features are drawn in random order; as in
// scikit-learn, drawing continues past maxFeatures until one non-constant
// feature has been seen, and features found constant are remembered in
// b.cur so the node's descendants skip them.
func (b *builder[R]) findSplit(start, end int, st nodeStats) split {
	best := split{proxy: -1}
	n := end - start
	d := b.ts.d
	minLeaf := b.minLeaf
	W, S := st.w, st.wy
	visited, nonConstant := 0, false
	for i := 0; i < d && (visited < b.maxFeatures || !nonConstant); i++ {
		j := i + b.rng.IntN(d-i)
		b.features[i], b.features[j] = b.features[j], b.features[i]
		f := b.features[i]
		visited++
		if b.cur[f/64]&(1<<(f%64)) != 0 {
			continue
		}
		list := b.lists[f*b.m+start : f*b.m+end]
		if list[0].rank == list[n-1].rank {
			b.cur[f/64] |= 1 << (f % 64)
			continue
		}
		nonConstant = true

		// Rows [0, k] go left when splitting after position k; only
		// positions where the rank changes are candidate thresholds.
		var wl uint64
		var sl float64
		for k := 0; k < minLeaf-1; k++ {
			wl += uint64(list[k].w)
			sl += list[k].wy
		}
		last := n - minLeaf // last k with at least minLeaf rows on the right is last-1
		for k := minLeaf - 1; k < last; k++ {
			e := &list[k]
			wl += uint64(e.w)
			sl += e.wy
			if e.rank == list[k+1].rank {
				continue
			}
			fwl := float64(wl)
			sr := S - sl
			// The proxy sl²/wl + sr²/wr orders splits as the impurity
			// decrease does, without the terms every split shares.
			proxy := sl*sl/fwl + sr*sr/(W-fwl)
			if proxy > best.proxy {
				best = split{feature: f, nLeft: k + 1, rankL: uint32(e.rank), rankR: uint32(list[k+1].rank), proxy: proxy}
			}
		}
	}
	return best
}

// partition splits rows [start, end) of every list that still matters
// into the left rows followed by the right rows, each keeping its sorted
// order, and returns the children's stats.
func (b *builder[R]) partition(start, end int, sp split) (left, right nodeStats) {
	m := b.m
	mid := start + sp.nLeft
	split := b.lists[sp.feature*m : (sp.feature+1)*m]
	for _, e := range split[start:mid] {
		b.goLeft[e.row] = 1
	}
	for _, e := range split[mid:end] {
		b.goLeft[e.row] = 0
	}
	left = b.stats(split[start:mid])
	right = b.stats(split[mid:end])

	tmp := b.tmp
	for f := range b.ts.d {
		if f == sp.feature || b.cur[f/64]&(1<<(f%64)) != 0 {
			continue // already in place, or constant here and never read again
		}
		list := b.lists[f*m+start : f*m+end]
		// Branch-free stable partition: write every entry to both places
		// and advance only the cursor of the side it belongs to.
		l, r := 0, 0
		for _, e := range list {
			g := int(b.goLeft[e.row])
			list[l] = e
			tmp[r] = e
			l += g
			r += 1 - g
		}
		copy(list[l:], tmp[:r])
	}
	return left, right
}
