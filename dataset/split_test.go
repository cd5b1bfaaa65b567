package dataset_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/mlops-lab/housing/dataset"
)

// TestTrainTestSplitMatchesNumPyReference checks against index values
// produced once by NumPy 1.24.2 / scikit-learn 1.2.1 and committed here:
// train_test_split(np.arange(20640), test_size=0.2, random_state=42) has
// test[:10] as below (= RandomState(42).permutation(20640)[:10]) and
// train[:5] = permutation[4128:4133].
func TestTrainTestSplitMatchesNumPyReference(t *testing.T) {
	train, test, err := dataset.TrainTestSplit(20640, 0.2, 42)
	if err != nil {
		t.Fatal(err)
	}
	if len(test) != 4128 || len(train) != 16512 {
		t.Fatalf("sizes train %d test %d, want 16512 and 4128", len(train), len(test))
	}
	if want := []int{20046, 3024, 15663, 20484, 9814, 13311, 7113, 7668, 18246, 5723}; !slices.Equal(test[:10], want) {
		t.Errorf("test[:10] = %v, numpy gives %v", test[:10], want)
	}
	if want := []int{14196, 8267, 17445, 14265, 2271}; !slices.Equal(train[:5], want) {
		t.Errorf("train[:5] = %v, numpy gives %v", train[:5], want)
	}
	all := append(slices.Clone(train), test...)
	slices.Sort(all)
	for i, v := range all {
		if v != i {
			t.Fatalf("train and test do not partition 0..20639 (sorted[%d] = %d)", i, v)
		}
	}
}

func TestSplitsRejectBadArguments(t *testing.T) {
	for _, c := range []struct {
		n    int
		f    float64
		seed int64
	}{{0, 0.2, 1}, {10, 0, 1}, {10, 1, 1}, {10, -0.1, 1}, {1, 0.5, 1}, {10, 0.2, -1}, {10, 0.2, 1 << 32}} {
		if _, _, err := dataset.TrainTestSplit(c.n, c.f, c.seed); err == nil {
			t.Errorf("TrainTestSplit(%d, %v, %d): no error", c.n, c.f, c.seed)
		}
	}
	for _, c := range []struct {
		n, k int
		seed int64
	}{{10, 1, 0}, {3, 4, 0}, {10, 2, -5}} {
		if _, err := dataset.KFold(c.n, c.k, c.seed); err == nil {
			t.Errorf("KFold(%d, %d, %d): no error", c.n, c.k, c.seed)
		}
	}
}

func TestKFoldPartitions(t *testing.T) {
	folds, err := dataset.KFold(23, 5, 3)
	if err != nil {
		t.Fatal(err)
	}
	seen := make([]int, 23)
	for f, fold := range folds {
		wantSize := 4
		if f < 3 {
			wantSize = 5
		}
		if len(fold.Test) != wantSize || len(fold.Train) != 23-wantSize {
			t.Errorf("fold %d: %d test / %d train, want %d / %d", f, len(fold.Test), len(fold.Train), wantSize, 23-wantSize)
		}
		if !slices.IsSorted(fold.Test) || !slices.IsSorted(fold.Train) {
			t.Errorf("fold %d: indices not sorted", f)
		}
		for _, i := range fold.Test {
			seen[i]++
			if slices.Contains(fold.Train, i) {
				t.Errorf("fold %d: %d in both train and test", f, i)
			}
		}
	}
	for i, c := range seen {
		if c != 1 {
			t.Errorf("row %d is in %d test folds, want 1", i, c)
		}
	}
}

// TestSplitsMatchScikitLearnLive compares whole index sets with what
// scikit-learn computes on this machine.
func TestSplitsMatchScikitLearnLive(t *testing.T) {
	py := sklearnPython(t)
	type splitCase struct {
		N    int     `json:"n"`
		F    float64 `json:"f"`
		Seed int64   `json:"seed"`
	}
	type kfoldCase struct {
		N    int   `json:"n"`
		K    int   `json:"k"`
		Seed int64 `json:"seed"`
	}
	splits := []splitCase{{20640, 0.2, 42}, {10, 0.25, 0}, {1000, 0.33, 123456789}, {7, 0.5, 1<<32 - 1}, {101, 0.1, 7}}
	kfolds := []kfoldCase{{20640, 5, 42}, {23, 5, 3}, {10, 10, 0}}
	in, err := json.Marshal(map[string]any{"splits": splits, "kfolds": kfolds})
	if err != nil {
		t.Fatal(err)
	}
	script := fmt.Sprintf(`
import json, numpy as np
from sklearn.model_selection import train_test_split, KFold
cases = json.loads(%q)
out = {"splits": [], "kfolds": []}
for c in cases["splits"]:
    tr, te = train_test_split(np.arange(c["n"]), test_size=c["f"], random_state=c["seed"])
    out["splits"].append({"train": tr.tolist(), "test": te.tolist()})
for c in cases["kfolds"]:
    kf = KFold(n_splits=c["k"], shuffle=True, random_state=c["seed"])
    out["kfolds"].append([{"Train": tr.tolist(), "Test": te.tolist()} for tr, te in kf.split(np.arange(c["n"]))])
print(json.dumps(out))
`, in)
	var want struct {
		Splits []struct{ Train, Test []int } `json:"splits"`
		Kfolds [][]dataset.Fold              `json:"kfolds"`
	}
	if err := json.Unmarshal(runPython(t, py, script), &want); err != nil {
		t.Fatal(err)
	}
	for i, c := range splits {
		train, test, err := dataset.TrainTestSplit(c.N, c.F, c.Seed)
		if err != nil {
			t.Errorf("%+v: %v", c, err)
			continue
		}
		if !slices.Equal(train, want.Splits[i].Train) || !slices.Equal(test, want.Splits[i].Test) {
			t.Errorf("%+v: split differs from scikit-learn's", c)
		}
	}
	for i, c := range kfolds {
		folds, err := dataset.KFold(c.N, c.K, c.Seed)
		if err != nil {
			t.Errorf("%+v: %v", c, err)
			continue
		}
		if len(folds) != len(want.Kfolds[i]) {
			t.Errorf("%+v: %d folds, scikit-learn has %d", c, len(folds), len(want.Kfolds[i]))
			continue
		}
		for f := range folds {
			if !slices.Equal(folds[f].Train, want.Kfolds[i][f].Train) || !slices.Equal(folds[f].Test, want.Kfolds[i][f].Test) {
				t.Errorf("%+v: fold %d differs from scikit-learn's", c, f)
			}
		}
	}
}
