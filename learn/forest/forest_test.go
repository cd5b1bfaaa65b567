package forest_test

import (
	"bytes"
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	"github.com/mlops-lab/housing/dataset"
	"github.com/mlops-lab/housing/internal/benchtest"
	"github.com/mlops-lab/housing/learn"
	"github.com/mlops-lab/housing/learn/forest"
)

// synthetic returns n rows of d uniform features and a target that depends
// on the first three of them, with noise.
func synthetic(n, d int, seed uint64) (X, y []float64) {
	rng := rand.New(rand.NewPCG(seed, 7))
	X = make([]float64, n*d)
	y = make([]float64, n)
	for i := range n {
		row := X[i*d : (i+1)*d]
		for j := range row {
			row[j] = math.Round(rng.Float64()*1000) / 100 // ties, as real data has
		}
		y[i] = 3*row[0] + math.Sin(row[1]) + 0.5*row[2]*row[2]/10 + 0.1*rng.NormFloat64()
	}
	return X, y
}

// oneTree fits a single tree on all rows, without bootstrap.
func oneTree(t *testing.T, X []float64, d int, y []float64, p forest.Params) *forest.Forest {
	t.Helper()
	p.NEstimators = 1
	p.Bootstrap = false
	f, err := forest.Fit(context.Background(), X, d, y, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func predict1(f *forest.Forest, x float64) float64 { return f.Predict(nil, []float64{x})[0] }

func TestStumpByHand(t *testing.T) {
	// Splits of y = 1,2,3,10 at x = 0..3: after x=0 the squared error is
	// 0 + 38, after x=1 0.5 + 24.5, after x=2 2 + 0: the best split is
	// between 2 and 3, at the midpoint 2.5, with leaves 2 and 10.
	X := []float64{3, 0, 2, 1}
	y := []float64{10, 1, 3, 2}
	f := oneTree(t, X, 1, y, forest.Params{MaxDepth: 1})
	if n := f.NumNodes(); n != 3 {
		t.Fatalf("NumNodes = %d, want 3", n)
	}
	for _, c := range []struct{ x, want float64 }{
		{-1, 2}, {2, 2}, {2.5, 2}, {math.Nextafter(2.5, 3), 10}, {100, 10},
	} {
		if got := predict1(f, c.x); got != c.want {
			t.Errorf("predict(%v) = %v, want %v", c.x, got, c.want)
		}
	}

	t.Run("MinSamplesLeaf", func(t *testing.T) {
		// With two rows per leaf the only allowed split is between 1 and 2.
		f := oneTree(t, X, 1, y, forest.Params{MaxDepth: 1, MinSamplesLeaf: 2})
		for _, c := range []struct{ x, want float64 }{
			{1.5, 1.5}, {math.Nextafter(1.5, 2), 6.5},
		} {
			if got := predict1(f, c.x); got != c.want {
				t.Errorf("predict(%v) = %v, want %v", c.x, got, c.want)
			}
		}
	})
	t.Run("FullDepth", func(t *testing.T) {
		// Unlimited depth fits every training row exactly, with every
		// threshold midway between neighbouring values.
		f := oneTree(t, X, 1, y, forest.Params{})
		for _, c := range []struct{ x, want float64 }{
			{0.5, 1}, {math.Nextafter(0.5, 1), 2}, {1.5, 2}, {math.Nextafter(1.5, 2), 3}, {3, 10},
		} {
			if got := predict1(f, c.x); got != c.want {
				t.Errorf("predict(%v) = %v, want %v", c.x, got, c.want)
			}
		}
	})
}

func TestDuplicateValuesNeverSplit(t *testing.T) {
	// Rows with equal x must share a leaf whatever their targets: the
	// only thresholds are between distinct values.
	X := []float64{1, 1, 1, 2, 2}
	y := []float64{0, 10, 20, 5, 5}
	f := oneTree(t, X, 1, y, forest.Params{})
	if got, want := predict1(f, 1), 10.0; got != want {
		t.Errorf("predict(1) = %v, want the mean %v", got, want)
	}
	if got := f.NumNodes(); got != 3 {
		t.Errorf("NumNodes = %d, want 3", got)
	}
}

func TestBootstrapWeightsCountRows(t *testing.T) {
	// A forest of one bootstrapped stump on y = x must predict, on each
	// side, the mean of the drawn rows counted with multiplicity; every
	// leaf value is therefore a weighted mean of 0..9, within [0, 9].
	X := []float64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
	y := append([]float64(nil), X...)
	p := forest.DefaultParams()
	p.NEstimators, p.MaxDepth, p.Seed = 1, 1, 3
	f, err := forest.Fit(context.Background(), X, 1, y, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	lo, hi := predict1(f, -1), predict1(f, 10)
	if !(0 <= lo && lo < hi && hi <= 9) {
		t.Errorf("leaves %v and %v, want 0 <= left < right <= 9", lo, hi)
	}
}

func TestMinSamplesLeaf(t *testing.T) {
	X, y := synthetic(600, 4, 1)
	for _, leaf := range []int{1, 5, 17} {
		f := oneTree(t, X, 4, y, forest.Params{MinSamplesLeaf: leaf})
		count := map[int]int{}
		for i := range 600 {
			count[forest.LeafIndex(f, 0, X[i*4:(i+1)*4])]++
		}
		for id, c := range count {
			if c < leaf {
				t.Errorf("MinSamplesLeaf %d: leaf %d has %d rows", leaf, id, c)
			}
		}
		if leaf > 1 && len(count) > 600/leaf {
			t.Errorf("MinSamplesLeaf %d: %d leaves for 600 rows", leaf, len(count))
		}
	}
}

func TestMaxDepthAndMinSamplesSplit(t *testing.T) {
	X, y := synthetic(500, 3, 2)
	f := oneTree(t, X, 3, y, forest.Params{MaxDepth: 3})
	if n := f.NumNodes(); n > 15 {
		t.Errorf("depth 3 tree has %d nodes, want at most 15", n)
	}
	full := oneTree(t, X, 3, y, forest.Params{})
	split := oneTree(t, X, 3, y, forest.Params{MinSamplesSplit: 50})
	if !(split.NumNodes() < full.NumNodes()) {
		t.Errorf("MinSamplesSplit 50 gave %d nodes, full tree %d", split.NumNodes(), full.NumNodes())
	}
}

func fitSynthetic(t *testing.T, p forest.Params) (*forest.Forest, []float64, []float64) {
	t.Helper()
	X, y := synthetic(2000, 6, 3)
	f, err := forest.Fit(context.Background(), X, 6, y, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	return f, X, y
}

func TestWorkersDoNotChangeTheForest(t *testing.T) {
	for _, mf := range []string{"1.0", "sqrt"} {
		p := forest.DefaultParams()
		p.NEstimators, p.Seed, p.OOBScore = 12, 9, true
		p.MaxFeatures, _ = forest.ParseMaxFeatures(mf)
		var ref []float64
		var refImp []float64
		var refOOB float64
		for _, w := range []int{1, 2, 4} {
			p.Workers = w
			f, X, _ := fitSynthetic(t, p)
			pred := f.Predict(nil, X)
			oob, _ := f.OOBScore()
			if ref == nil {
				ref, refImp, refOOB = pred, f.FeatureImportances(), oob
				continue
			}
			for i := range pred {
				if pred[i] != ref[i] {
					t.Fatalf("max_features %s, %d workers: row %d predicts %v, 1 worker %v", mf, w, i, pred[i], ref[i])
				}
			}
			for i, v := range f.FeatureImportances() {
				if v != refImp[i] {
					t.Errorf("max_features %s, %d workers: importance %d = %v, 1 worker %v", mf, w, i, v, refImp[i])
				}
			}
			if oob != refOOB {
				t.Errorf("max_features %s, %d workers: OOB %v, 1 worker %v", mf, w, oob, refOOB)
			}
		}
	}
}

// TestFirstTreeGrowsAForestInParts fits trees 0-3 and 4-11 as two forests
// (FirstTree 4 for the second) and holds each tree to that of one forest of
// all 12, as a search that grows its candidates relies on.
func TestFirstTreeGrowsAForestInParts(t *testing.T) {
	p := forest.DefaultParams()
	p.NEstimators, p.Seed = 12, 5
	p.MaxFeatures, _ = forest.ParseMaxFeatures("0.5")
	whole, _, _ := fitSynthetic(t, p)
	p.NEstimators = 4
	head, _, _ := fitSynthetic(t, p)
	p.NEstimators, p.FirstTree = 8, 4
	tail, _, _ := fitSynthetic(t, p)
	for i := range 12 {
		part, j := head, i
		if i >= 4 {
			part, j = tail, i-4
		}
		a, b := whole.TreeNodes(i), part.TreeNodes(j)
		if len(a) != len(b) {
			t.Fatalf("tree %d: %d nodes in the whole forest, %d in its part", i, len(a), len(b))
		}
		for k := range a {
			if a[k] != b[k] {
				t.Fatalf("tree %d node %d: %+v in the whole forest, %+v in its part", i, k, a[k], b[k])
			}
		}
	}
	p.FirstTree = -1
	X, y := synthetic(10, 6, 3)
	if _, err := forest.Fit(context.Background(), X, 6, y, p, nil); err == nil {
		t.Error("FirstTree -1 accepted")
	}
}

// TestLayoutNodesAreTheTrees walks every row of the training data down each
// tree twice, through TreeNodes (depth-first) and AppendLayoutNodes
// (breadth-first, into a reused slice), and wants the same leaf value, and
// the forest's prediction as the mean of them.
func TestLayoutNodesAreTheTrees(t *testing.T) {
	p := forest.DefaultParams()
	p.NEstimators, p.MaxDepth = 5, 8
	f, X, _ := fitSynthetic(t, p)
	walk := func(nodes []forest.TreeNode, row []float64) float64 {
		i := 0
		for nodes[i].Feature >= 0 {
			if row[nodes[i].Feature] <= nodes[i].Threshold {
				i = nodes[i].Left
			} else {
				i = nodes[i].Right
			}
		}
		return nodes[i].Value
	}
	var scratch []forest.TreeNode
	pred := f.Predict(nil, X)
	sums := make([]float64, len(pred))
	for tr := range f.NumTrees() {
		dfs := f.TreeNodes(tr)
		scratch = f.AppendLayoutNodes(scratch[:0], tr)
		if len(scratch) != len(dfs) {
			t.Fatalf("tree %d: %d layout nodes, %d depth-first", tr, len(scratch), len(dfs))
		}
		for r := range pred {
			row := X[r*6 : (r+1)*6]
			a, b := walk(dfs, row), walk(scratch, row)
			if a != b {
				t.Fatalf("tree %d row %d: depth-first leaf %v, layout leaf %v", tr, r, a, b)
			}
			sums[r] += b
		}
	}
	for r := range pred {
		if d := math.Abs(sums[r]/float64(f.NumTrees()) - pred[r]); d > 1e-12 {
			t.Fatalf("row %d: mean of leaves %v, Predict %v", r, sums[r]/float64(f.NumTrees()), pred[r])
		}
	}
}

func TestSeedChangesTheForest(t *testing.T) {
	p := forest.DefaultParams()
	p.NEstimators = 3
	a, X, _ := fitSynthetic(t, p)
	p.Seed = 1
	b, _, _ := fitSynthetic(t, p)
	pa, pb := a.Predict(nil, X), b.Predict(nil, X)
	for i := range pa {
		if pa[i] != pb[i] {
			return
		}
	}
	t.Error("seeds 0 and 1 grew identical forests")
}

func TestImportancesAndOOB(t *testing.T) {
	p := forest.DefaultParams()
	p.NEstimators, p.OOBScore, p.Seed = 30, true, 5
	f, _, _ := fitSynthetic(t, p)
	imp := f.FeatureImportances()
	var sum float64
	for _, v := range imp {
		sum += v
	}
	if math.Abs(sum-1) > 1e-12 {
		t.Errorf("importances sum to %v, want 1", sum)
	}
	// y is mostly 3*x0; features 3..5 are noise.
	for j := 1; j < len(imp); j++ {
		if imp[j] >= imp[0] {
			t.Errorf("importance of feature %d (%v) >= feature 0 (%v)", j, imp[j], imp[0])
		}
	}
	oob, ok := f.OOBScore()
	if !ok || oob < 0.9 || oob > 1 {
		t.Errorf("OOBScore = %v, %v; want a score in [0.9, 1]", oob, ok)
	}
	p.OOBScore = false
	g, _, _ := fitSynthetic(t, p)
	if _, ok := g.OOBScore(); ok {
		t.Error("OOBScore reported without Params.OOBScore")
	}
}

func TestStagedPredict(t *testing.T) {
	p := forest.DefaultParams()
	p.NEstimators, p.MaxDepth = 8, 6
	f, X, y := fitSynthetic(t, p)
	full := f.Predict(nil, X)
	calls := 0
	f.StagedPredict(X, func(trees int, pred []float64) {
		calls++
		if trees != calls {
			t.Fatalf("call %d reports %d trees", calls, trees)
		}
		first := f.PredictFirst(nil, X, trees)
		for i := range pred {
			if pred[i] != first[i] {
				t.Fatalf("%d trees: staged row %d = %v, PredictFirst %v", trees, i, pred[i], first[i])
			}
		}
		if trees == f.NumTrees() {
			for i := range pred {
				if pred[i] != full[i] {
					t.Fatalf("last stage row %d = %v, Predict %v", i, pred[i], full[i])
				}
			}
		}
	})
	if calls != 8 {
		t.Errorf("%d stages, want 8", calls)
	}
	if r2 := learn.R2(y, full); r2 < 0.9 {
		t.Errorf("training R2 %v, want > 0.9", r2)
	}
}

func TestProgressAndCancel(t *testing.T) {
	X, y := synthetic(300, 3, 4)
	p := forest.DefaultParams()
	p.NEstimators, p.Workers = 10, 3
	last := 0
	_, err := forest.Fit(context.Background(), X, 3, y, p, func(done, total int) {
		if done != last+1 || total != 10 {
			t.Errorf("progress(%d, %d) after %d", done, total, last)
		}
		last = done
	})
	if err != nil || last != 10 {
		t.Fatalf("Fit: %v, progress reached %d of 10", err, last)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := forest.Fit(ctx, X, 3, y, p, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("Fit with a cancelled context: %v, want context.Canceled", err)
	}
}

func TestFitRejectsBadInput(t *testing.T) {
	ok := forest.DefaultParams()
	for name, c := range map[string]struct {
		X    []float64
		d    int
		y    []float64
		p    forest.Params
		want string
	}{
		"NaN":          {[]float64{1, math.NaN()}, 1, []float64{1, 2}, ok, "NaN"},
		"Inf target":   {[]float64{1, 2}, 1, []float64{1, math.Inf(1)}, ok, "+Inf"},
		"Shape":        {[]float64{1, 2, 3}, 2, []float64{1, 2}, ok, "rows"},
		"Empty":        {nil, 1, nil, ok, "rows"},
		"OOB no bag":   {[]float64{1, 2}, 1, []float64{1, 2}, forest.Params{OOBScore: true}, "Bootstrap"},
		"Negative len": {[]float64{1, 2}, 1, []float64{1, 2}, forest.Params{MaxDepth: -1}, "MaxDepth"},
	} {
		_, err := forest.Fit(context.Background(), c.X, c.d, c.y, c.p, nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want one mentioning %q", name, err, c.want)
		}
	}
}

func TestParseMaxFeatures(t *testing.T) {
	for _, c := range []struct {
		in    string
		count int // of 8 features
	}{
		{"1.0", 8}, {"0.33", 2}, {"0.5", 4}, {"sqrt", 2}, {"log2", 3}, {"3", 3},
		{"20", 8}, {"none", 8}, {"", 8}, {"SQRT", 2}, {"1e-9", 1},
	} {
		m, err := forest.ParseMaxFeatures(c.in)
		if err != nil {
			t.Errorf("ParseMaxFeatures(%q): %v", c.in, err)
			continue
		}
		if got := m.Count(8); got != c.count {
			t.Errorf("ParseMaxFeatures(%q).Count(8) = %d, want %d", c.in, got, c.count)
		}
		back, err := forest.ParseMaxFeatures(m.String())
		if err != nil || back != m {
			t.Errorf("%q: String %q reads back as %v, %v", c.in, m.String(), back, err)
		}
	}
	for _, bad := range []string{"0", "-1", "0.0", "1.5", "auto3", "x"} {
		if _, err := forest.ParseMaxFeatures(bad); err == nil {
			t.Errorf("ParseMaxFeatures(%q) accepted", bad)
		}
	}
}

func TestSharedDataRFTuned(t *testing.T) {
	if testing.Short() {
		t.Skip("fits 100 trees on the housing data; skipped with -short")
	}
	train, test := benchtest.LabSplit(t)
	p := forest.DefaultParams()
	p.NEstimators, p.MaxDepth, p.Seed = 100, 10, 42
	f, err := forest.Fit(context.Background(), train.X, dataset.NumFeatures, train.Y, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	// scikit-learn 1.2 scores 0.7737 with the same configuration.
	if r2 := learn.R2(test.Y, f.Predict(nil, test.X)); r2 < 0.76 {
		t.Errorf("rf-tuned test R2 = %.4f, want above 0.76", r2)
	}
}

func TestModelFileRoundTrip(t *testing.T) {
	p := forest.DefaultParams()
	p.NEstimators, p.OOBScore, p.MaxFeatures = 7, true, forest.MaxFeaturesSqrt()
	f, X, _ := fitSynthetic(t, p)
	var buf bytes.Buffer
	n, err := f.WriteTo(&buf)
	if err != nil || n != int64(buf.Len()) {
		t.Fatalf("WriteTo = %d, %v; buffer has %d bytes", n, err, buf.Len())
	}
	file := bytes.Clone(buf.Bytes())
	g, err := forest.Read(&buf)
	if err != nil {
		t.Fatal(err)
	}
	want, got := f.Predict(nil, X), g.Predict(nil, X)
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("row %d: read back predicts %v, written %v", i, got[i], want[i])
		}
	}
	if g.NumNodes() != f.NumNodes() || g.NumTrees() != f.NumTrees() || g.Params() != f.Params() {
		t.Errorf("read back %d nodes, %d trees, %+v; wrote %d, %d, %+v",
			g.NumNodes(), g.NumTrees(), g.Params(), f.NumNodes(), f.NumTrees(), f.Params())
	}
	fo, _ := f.OOBScore()
	if go_, ok := g.OOBScore(); !ok || go_ != fo {
		t.Errorf("OOB read back %v, %v; wrote %v", go_, ok, fo)
	}
	for i, v := range f.FeatureImportances() {
		if g.FeatureImportances()[i] != v {
			t.Errorf("importance %d read back %v, wrote %v", i, g.FeatureImportances()[i], v)
		}
	}

	// The file is streamed: a writer failing partway makes WriteTo fail.
	for _, after := range []int{0, 30, len(file) - 2} {
		if _, err := f.WriteTo(&shortWriter{room: after}); err == nil || !strings.Contains(err.Error(), "disk full") {
			t.Errorf("WriteTo a writer full after %d of %d bytes: %v", after, len(file), err)
		}
	}

	t.Run("ReadModel", func(t *testing.T) {
		m, err := learn.ReadModel(bytes.NewReader(file))
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := m.(*forest.Forest); !ok || m.Predict(nil, X[:6])[0] != want[0] {
			t.Errorf("ReadModel gave %T predicting %v, want *forest.Forest predicting %v", m, m.Predict(nil, X[:6])[0], want[0])
		}
	})
	t.Run("WrongVersion", func(t *testing.T) {
		bad := bytes.Clone(file)
		bad[8]++
		_, err := forest.Read(bytes.NewReader(bad))
		if err == nil || !strings.Contains(err.Error(), "version 2") {
			t.Errorf("version 2 file: err = %v, want a version error", err)
		}
	})
	t.Run("WrongFormat", func(t *testing.T) {
		bad := bytes.Clone(file)
		copy(bad, "HOUSLINR")
		if _, err := forest.Read(bytes.NewReader(bad)); err == nil || !strings.Contains(err.Error(), "magic") {
			t.Errorf("linear magic: err = %v, want a magic error", err)
		}
	})
	t.Run("Truncated", func(t *testing.T) {
		for _, n := range []int{0, 5, 19, 20, 21, len(file) / 2, len(file) - 4, len(file) - 1} {
			_, err := forest.Read(bytes.NewReader(file[:n]))
			if !errors.Is(err, learn.ErrCorruptModel) || !strings.Contains(err.Error(), "truncated") {
				t.Errorf("%d of %d bytes: err = %v, want a truncation error", n, len(file), err)
			}
		}
	})
	t.Run("Corrupt", func(t *testing.T) {
		for _, at := range []int{20, len(file) / 3, len(file) - 5} {
			bad := bytes.Clone(file)
			bad[at] ^= 0x40
			if _, err := forest.Read(bytes.NewReader(bad)); !errors.Is(err, learn.ErrCorruptModel) {
				t.Errorf("byte %d flipped: err = %v, want ErrCorruptModel", at, err)
			}
		}
	})
}

func TestConstantTargetGivesOneLeaf(t *testing.T) {
	X, _ := synthetic(50, 3, 5)
	y := make([]float64, 50)
	for i := range y {
		y[i] = 2.5
	}
	f := oneTree(t, X, 3, y, forest.Params{})
	if n := f.NumNodes(); n != 1 {
		t.Fatalf("NumNodes = %d, want 1", n)
	}
	if nodes := f.TreeNodes(0); len(nodes) != 1 || nodes[0].Feature != -1 || nodes[0].Value != 2.5 {
		t.Errorf("TreeNodes = %+v, want one leaf of 2.5", nodes)
	}
	var buf bytes.Buffer
	if _, err := f.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	back, err := forest.Read(&buf)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range back.Predict(nil, X) {
		if v != 2.5 {
			t.Fatalf("row %d: predict %v after a round trip, want 2.5", i, v)
		}
	}
}

func TestPredictDoesNotDependOnCores(t *testing.T) {
	// Rows are split into one block per core; each row still sums its trees
	// in tree order, so the result must be the same to the bit.
	X, y := synthetic(3000, 5, 11)
	p := forest.DefaultParams()
	p.NEstimators, p.Seed = 20, 3
	f, err := forest.Fit(context.Background(), X, 5, y, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	one := f.Predict(nil, X)
	for _, procs := range []int{2, 3, 7} {
		runtime.GOMAXPROCS(procs)
		for i, v := range f.Predict(nil, X) {
			if math.Float64bits(v) != math.Float64bits(one[i]) {
				t.Fatalf("GOMAXPROCS %d: row %d predicts %v, with 1 core %v", procs, i, v, one[i])
			}
		}
	}
}

// shortWriter takes room bytes, then fails.
type shortWriter struct{ room int }

func (w *shortWriter) Write(p []byte) (int, error) {
	if len(p) > w.room {
		n := w.room
		w.room = 0
		return n, errors.New("disk full")
	}
	w.room -= len(p)
	return len(p), nil
}
