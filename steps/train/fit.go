package main

import (
	"context"
	"fmt"
	"time"

	"github.com/mlops-lab/housing/dataset"
	"github.com/mlops-lab/housing/learn"
	"github.com/mlops-lab/housing/learn/boost"
	"github.com/mlops-lab/housing/learn/forest"
	"github.com/mlops-lab/housing/learn/linear"
	"github.com/mlops-lab/housing/learn/mlmodel"
	"github.com/mlops-lab/housing/steps/internal/stepkit"
)

// fitted is a regressor fitted on the train part and evaluated on both parts.
type fitted struct {
	model          mlmodel.Writable
	modelBytes     int64 // size of the model file, once written
	fitSeconds     float64
	predictSeconds float64 // predicting the test part
	test, train    learn.Metrics
	testPred       []float64
	importances    []float64     // forests and boosted ensembles
	oobR2          *float64      // forests with bootstrap only
	stagedR2       []stagedScore // tree ensembles: test R2 after each number of trees
	nodes          int
	// Boosted ensembles only, one value per iteration: the loss (mean
	// squared error) on the rows the trees were fitted on, on the held-out
	// validation rows (nil without early stopping), and on the test part.
	trainLoss, validLoss, testLoss []float64
}

type stagedScore struct {
	trees int
	r2    float64
}

// fitAndEvaluate fits c on train and scores it on test and train. progress
// is told how many trees are done; phases is charged the fit and the
// evaluation.
func fitAndEvaluate(ctx context.Context, c Config, train, test *dataset.Dataset, seed uint64, workers int, progress func(done, total int), phases *stepkit.Phases) (*fitted, error) {
	f := &fitted{}
	start := time.Now()
	switch c.Kind {
	case KindLinear:
		m, err := linear.Fit(train.X, dataset.NumFeatures, train.Y)
		if err != nil {
			return nil, fmt.Errorf("fit %s: %w", c.Name, err)
		}
		f.model = m
	case KindRandomForest:
		p, err := c.ForestParams(seed, workers)
		if err != nil {
			return nil, err
		}
		p.OOBScore = p.Bootstrap
		m, err := forest.Fit(ctx, train.X, dataset.NumFeatures, train.Y, p, progress)
		if err != nil {
			return nil, fmt.Errorf("fit %s: %w", c.Name, err)
		}
		f.model = m
		f.importances = m.FeatureImportances()
		f.nodes = m.NumNodes()
		if oob, ok := m.OOBScore(); ok {
			f.oobR2 = &oob
		}
	case KindGradientBoosting:
		m, err := boost.Fit(ctx, train.X, dataset.NumFeatures, train.Y, c.BoostParams(seed, workers), progress)
		if err != nil {
			return nil, fmt.Errorf("fit %s: %w", c.Name, err)
		}
		f.model = m
		f.importances = m.FeatureImportances()
		f.nodes = m.NumNodes()
		f.trainLoss, f.validLoss = m.TrainLoss(), m.ValidationLoss()
	default:
		return nil, fmt.Errorf("config %q: unknown kind %q", c.Name, c.Kind)
	}
	f.fitSeconds = time.Since(start).Seconds()
	phases.Done("fit")
	switch m := f.model.(type) {
	case *forest.Forest:
		m.StagedPredict(test.X, func(trees int, pred []float64) {
			if stagedStep(trees, m.NumTrees()) {
				f.stagedR2 = append(f.stagedR2, stagedScore{trees, learn.R2(test.Y, pred)})
			}
		})
	case *boost.Model:
		m.StagedPredict(test.X, func(trees int, pred []float64) {
			f.testLoss = append(f.testLoss, learn.MSE(test.Y, pred))
			if stagedStep(trees, m.NumTrees()) {
				f.stagedR2 = append(f.stagedR2, stagedScore{trees, learn.R2(test.Y, pred)})
			}
		})
	}

	start = time.Now()
	f.testPred = f.model.Predict(nil, test.X)
	f.predictSeconds = time.Since(start).Seconds()
	f.test = learn.Evaluate(test.Y, f.testPred)
	f.train = learn.Evaluate(train.Y, f.model.Predict(nil, train.X))
	phases.Done("evaluate")
	return f, nil
}

// stagedStep reports whether the R2 after trees trees goes into the metric history:
// every tree up to 20, then about 50 points in all, and always the last.
func stagedStep(trees, total int) bool {
	if trees <= 20 || trees == total {
		return true
	}
	return trees%max(1, total/50) == 0
}
