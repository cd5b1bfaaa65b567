package dataset

import (
	"fmt"
	"math"
	"slices"

	"github.com/mlops-lab/housing/dataset/nprand"
)

// TrainTestSplit returns the row indices that scikit-learn's
// train_test_split(..., test_size=testFraction, random_state=seed) puts in
// the train and test sets of n rows, in the same order: ShuffleSplit draws
// numpy.random.RandomState(seed).permutation(n) and takes the first
// ceil(testFraction*n) indices as test and the rest as train.
//
// testFraction must be in (0, 1) and leave at least one training row; seed
// must be in [0, 2**32-1], as NumPy requires.
func TrainTestSplit(n int, testFraction float64, seed int64) (train, test []int, err error) {
	if n <= 0 {
		return nil, nil, fmt.Errorf("dataset: train/test split of %d rows: need at least one", n)
	}
	if !(testFraction > 0 && testFraction < 1) {
		return nil, nil, fmt.Errorf("dataset: test fraction %v is not in the (0, 1) range", testFraction)
	}
	nTest := int(math.Ceil(testFraction * float64(n)))
	if nTest >= n {
		return nil, nil, fmt.Errorf("dataset: test fraction %v of %d rows leaves no training rows", testFraction, n)
	}
	rng, err := nprand.NewInt64(seed)
	if err != nil {
		return nil, nil, fmt.Errorf("dataset: train/test split: %w", err)
	}
	perm := rng.Permutation(n)
	return perm[nTest:], perm[:nTest:nTest], nil
}

// Fold is one fold of a K-fold cross-validation: row indices to fit on
// and to evaluate on, each in increasing order.
type Fold struct{ Train, Test []int }

// KFold splits n rows into k folds as scikit-learn's
// KFold(n_splits=k, shuffle=True, random_state=seed) does: the rows are
// shuffled with numpy.random.RandomState(seed), cut into k consecutive
// parts of which the first n%k have one row more, and each part is the test
// set of one fold. As in scikit-learn, the indices of each set come back
// sorted.
//
// k must be in [2, n]; seed must be in [0, 2**32-1].
func KFold(n, k int, seed int64) ([]Fold, error) {
	if k < 2 || k > n {
		return nil, fmt.Errorf("dataset: %d folds of %d rows: need 2 <= folds <= rows", k, n)
	}
	rng, err := nprand.NewInt64(seed)
	if err != nil {
		return nil, fmt.Errorf("dataset: k-fold split: %w", err)
	}
	perm := rng.Permutation(n)
	folds := make([]Fold, k)
	inTest := make([]bool, n)
	start := 0
	for f := range folds {
		size := n / k
		if f < n%k {
			size++
		}
		test := slices.Clone(perm[start : start+size])
		slices.Sort(test)
		for _, i := range test {
			inTest[i] = true
		}
		train := make([]int, 0, n-size)
		for i := range n {
			if !inTest[i] {
				train = append(train, i)
			}
		}
		for _, i := range test {
			inTest[i] = false
		}
		folds[f] = Fold{Train: train, Test: test}
		start += size
	}
	return folds, nil
}
