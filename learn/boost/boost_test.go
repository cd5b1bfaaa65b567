package boost_test

import (
	"bytes"
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/mlops-lab/housing/dataset"
	"github.com/mlops-lab/housing/internal/benchtest"
	"github.com/mlops-lab/housing/learn"
	"github.com/mlops-lab/housing/learn/boost"
)

// synthetic returns n rows of d features and a noisy nonlinear target.
func synthetic(n, d int, seed uint64) (X, y []float64) {
	rng := rand.New(rand.NewPCG(seed, 7))
	X = make([]float64, n*d)
	y = make([]float64, n)
	for i := range n {
		row := X[i*d : (i+1)*d]
		for j := range row {
			row[j] = rng.NormFloat64()
		}
		row[d-1] = math.Round(row[d-1] * 2) // a feature with few distinct values
		y[i] = math.Sin(2*row[0]) + row[1]*row[1] - row[2]*row[d-1] + 0.1*rng.NormFloat64()
	}
	return X, y
}

func fit(t testing.TB, X []float64, d int, y []float64, p boost.Params) *boost.Model {
	t.Helper()
	m, err := boost.Fit(context.Background(), X, d, y, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestHousingAccuracy(t *testing.T) {
	train, test := benchtest.LabSplit(t)
	// scikit-learn's HistGradientBoostingRegressor(max_iter=300) reaches
	// a test R2 of 0.8478 with early stopping on 10% of the train part.
	p := boost.DefaultParams()
	p.MaxIter, p.ValidationFraction, p.Seed = 300, 0.1, 42
	m := fit(t, train.X, dataset.NumFeatures, train.Y, p)
	r2 := learn.R2(test.Y, m.Predict(nil, test.X))
	if r2 < 0.84 {
		t.Errorf("test R2 %.4f, want at least 0.84 (scikit-learn: 0.8478)", r2)
	}
	if n := len(m.ValidationLoss()); n != m.NumTrees() {
		t.Errorf("%d validation losses for %d trees", n, m.NumTrees())
	}
	if testing.Short() {
		return
	}
	m = fit(t, train.X, dataset.NumFeatures, train.Y, boost.LabParams())
	if r2 := learn.R2(test.Y, m.Predict(nil, test.X)); r2 < 0.848 {
		t.Errorf("LabParams: test R2 %.4f, want at least 0.848", r2)
	}
}

// TestWorkersDoNotChangeTheModel fits with 1 and 3 workers, with row and
// feature subsampling and early stopping, and wants the same file.
func TestWorkersDoNotChangeTheModel(t *testing.T) {
	X, y := synthetic(6000, 6, 1)
	p := boost.DefaultParams()
	p.MaxIter, p.Subsample, p.FeatureFraction, p.ValidationFraction, p.Seed = 60, 0.7, 0.7, 0.15, 9
	var files [2][]byte
	for i, w := range []int{1, 3} {
		p.Workers = w
		var buf bytes.Buffer
		if _, err := fit(t, X, 6, y, p).WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		files[i] = buf.Bytes()
	}
	if !bytes.Equal(files[0], files[1]) {
		t.Fatal("1 and 3 workers fitted different models")
	}
}

func TestSeedChangesSubsampledModel(t *testing.T) {
	X, y := synthetic(2000, 4, 2)
	p := boost.DefaultParams()
	p.MaxIter, p.Subsample = 5, 0.5
	a := fit(t, X, 4, y, p).Predict(nil, X)
	p.Seed = 1
	b := fit(t, X, 4, y, p).Predict(nil, X)
	same := true
	for i := range a {
		same = same && a[i] == b[i]
	}
	if same {
		t.Fatal("seeds 0 and 1 gave the same subsampled model")
	}
}

func TestTreeLimits(t *testing.T) {
	X, y := synthetic(3000, 4, 3)
	for _, tc := range []struct {
		name          string
		leaves, depth int
		minLeaf       int
		wantMaxLeaves int
		wantMaxDepth  int
	}{
		{"Leaves", 7, 0, 20, 7, 6},
		{"Depth", -1, 3, 5, 8, 3},
		{"Both", 5, 2, 1, 4, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := boost.DefaultParams()
			p.MaxIter, p.MaxLeafNodes, p.MaxDepth, p.MinSamplesLeaf = 10, tc.leaves, tc.depth, tc.minLeaf
			m := fit(t, X, 4, y, p)
			grew := false
			for i := range m.NumTrees() {
				leaves, depth := boost.TreeShape(m, i)
				if leaves > tc.wantMaxLeaves || depth > tc.wantMaxDepth {
					t.Fatalf("tree %d: %d leaves, depth %d; want at most %d, %d", i, leaves, depth, tc.wantMaxLeaves, tc.wantMaxDepth)
				}
				grew = grew || leaves > 1
			}
			if !grew {
				t.Fatal("no tree split")
			}
		})
	}
}

// TestLeafValuesAndMinSamplesLeaf checks the first tree against its
// definition: every leaf holds at least MinSamplesLeaf rows and its value
// is -LearningRate * sum(gradient) / (rows + L2), with gradient = mean - y.
func TestLeafValuesAndMinSamplesLeaf(t *testing.T) {
	X, y := synthetic(2000, 4, 4)
	p := boost.DefaultParams()
	p.MaxIter, p.MinSamplesLeaf, p.L2Regularization, p.LearningRate = 1, 50, 3, 0.5
	m := fit(t, X, 4, y, p)
	sums := map[int]float64{}
	counts := map[int]int{}
	for i := range y {
		leaf := boost.LeafOf(m, 0, X[i*4:(i+1)*4])
		sums[leaf] += m.Baseline() - y[i]
		counts[leaf]++
	}
	if len(counts) < 2 {
		t.Fatalf("first tree has %d leaves", len(counts))
	}
	for leaf, c := range counts {
		if c < 50 {
			t.Errorf("leaf %d holds %d rows, want at least 50", leaf, c)
		}
		want := -0.5 * sums[leaf] / (float64(c) + 3)
		if got := boost.LeafValue(m, 0, leaf); math.Abs(got-want) > 1e-12*math.Max(1, math.Abs(want)) {
			t.Errorf("leaf %d value %v, want %v", leaf, got, want)
		}
	}
}

// TestPredictMatchesThresholds checks that predicting through bins equals
// walking the real thresholds, on rows that were not in the training set.
func TestPredictMatchesThresholds(t *testing.T) {
	X, y := synthetic(3000, 5, 5)
	m := fit(t, X, 5, y, boost.Params{MaxIter: 20})
	Xt, _ := synthetic(500, 5, 6)
	pred := m.Predict(nil, Xt)
	for r := range 500 {
		x := Xt[r*5 : (r+1)*5]
		want := m.Baseline()
		for k := range m.NumTrees() {
			want += boost.LeafValue(m, k, boost.LeafOf(m, k, x))
		}
		if pred[r] != want {
			t.Fatalf("row %d: Predict %v, threshold walk %v", r, pred[r], want)
		}
	}
}

func TestStagedPredictAndTrainLoss(t *testing.T) {
	X, y := synthetic(2000, 4, 7)
	m := fit(t, X, 4, y, boost.Params{MaxIter: 15})
	loss := m.TrainLoss()
	if len(loss) != 15 || m.ValidationLoss() != nil {
		t.Fatalf("%d training losses and validation %v, want 15 and nil", len(loss), m.ValidationLoss())
	}
	calls := 0
	m.StagedPredict(X, func(k int, pred []float64) {
		calls++
		first := m.PredictFirst(nil, X, k)
		for i := range pred {
			if pred[i] != first[i] {
				t.Fatalf("stage %d row %d: %v, PredictFirst %v", k, i, pred[i], first[i])
			}
		}
		if got := learn.MSE(y, pred); math.Abs(got-loss[k-1]) > 1e-12 {
			t.Errorf("stage %d: MSE %v, TrainLoss %v", k, got, loss[k-1])
		}
		if k > 1 && loss[k-1] > loss[k-2] {
			t.Errorf("training loss rose from %v to %v at %d", loss[k-2], loss[k-1], k)
		}
	})
	if calls != 15 {
		t.Fatalf("%d stages, want 15", calls)
	}
}

func TestEarlyStoppingOnNoise(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	n := 3000
	X := make([]float64, n*3)
	y := make([]float64, n)
	for i := range X {
		X[i] = rng.Float64()
	}
	for i := range y {
		y[i] = rng.NormFloat64()
	}
	p := boost.DefaultParams()
	p.MaxIter, p.ValidationFraction, p.NIterNoChange = 200, 0.2, 5
	var last int
	m, err := boost.Fit(context.Background(), X, 3, y, p, func(iter, total int) {
		if iter != last+1 || total != 200 {
			t.Errorf("progress(%d, %d) after %d", iter, total, last)
		}
		last = iter
	})
	if err != nil {
		t.Fatal(err)
	}
	if m.NumTrees() >= 200 || m.NumTrees() != last || len(m.ValidationLoss()) != m.NumTrees() {
		t.Fatalf("%d trees, %d progress calls, %d validation losses: want an early stop with all equal",
			m.NumTrees(), last, len(m.ValidationLoss()))
	}
}

func TestFitStopsWhenCancelled(t *testing.T) {
	X, y := synthetic(1000, 3, 9)
	ctx, cancel := context.WithCancel(context.Background())
	_, err := boost.Fit(ctx, X, 3, y, boost.Params{MaxIter: 100}, func(iter, _ int) {
		if iter == 3 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
}

func TestFitRefusesBadInput(t *testing.T) {
	X, y := synthetic(100, 3, 10)
	nan := append([]float64(nil), X...)
	nan[7] = math.NaN()
	for _, tc := range []struct {
		name string
		X    []float64
		d    int
		y    []float64
		p    boost.Params
		want string
	}{
		{"Shape", X[:5], 3, y, boost.Params{}, "want 100 rows x 3 features"},
		{"NaN", nan, 3, y, boost.Params{}, "row 2 column 1 is NaN"},
		{"LearningRate", X, 3, y, boost.Params{LearningRate: -1}, "LearningRate"},
		{"MaxBins", X, 3, y, boost.Params{MaxBins: 300}, "MaxBins 300"},
		{"Subsample", X, 3, y, boost.Params{Subsample: 1.5}, "Subsample"},
		{"Leaves", X, 3, y, boost.Params{MaxLeafNodes: 1}, "MaxLeafNodes 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := boost.Fit(context.Background(), tc.X, tc.d, tc.y, tc.p, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want one containing %q", err, tc.want)
			}
		})
	}
}
