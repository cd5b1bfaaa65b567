package dataset_test

import (
	"fmt"

	"github.com/mlops-lab/housing/dataset"
)

// The indices are those of scikit-learn's
// train_test_split(np.arange(10), test_size=0.2, random_state=0).
func ExampleTrainTestSplit() {
	train, test, err := dataset.TrainTestSplit(10, 0.2, 0)
	if err != nil {
		panic(err)
	}
	fmt.Println("train", train)
	fmt.Println("test", test)
	// Output:
	// train [4 9 1 6 7 3 0 5]
	// test [2 8]
}
