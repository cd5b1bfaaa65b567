// Package learn holds what every regressor shares: the Regressor interface,
// regression metrics, and reading any model file by its magic. The
// regressors themselves live in the subpackages forest and linear.
package learn

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/stat"
)

// Metrics are the usual regression scores of one set of predictions.
type Metrics struct {
	R2                float64 `json:"r2"`
	MSE               float64 `json:"mse"`
	RMSE              float64 `json:"rmse"`
	MAE               float64 `json:"mae"`
	ExplainedVariance float64 `json:"explained_variance"`
}

// Evaluate computes all Metrics of yPred against yTrue. It panics if the
// slices differ in length or are empty.
func Evaluate(yTrue, yPred []float64) Metrics {
	mse := MSE(yTrue, yPred)
	return Metrics{
		R2:                R2(yTrue, yPred),
		MSE:               mse,
		RMSE:              math.Sqrt(mse),
		MAE:               MAE(yTrue, yPred),
		ExplainedVariance: ExplainedVariance(yTrue, yPred),
	}
}

func checkLengths(yTrue, yPred []float64) {
	if len(yTrue) != len(yPred) || len(yTrue) == 0 {
		panic(fmt.Sprintf("learn: metric of %d true values and %d predictions", len(yTrue), len(yPred)))
	}
}

// MSE is the mean squared error. It panics if the slices differ in length or are empty.
func MSE(yTrue, yPred []float64) float64 {
	checkLengths(yTrue, yPred)
	var s float64
	for i, y := range yTrue {
		d := y - yPred[i]
		s += d * d
	}
	return s / float64(len(yTrue))
}

// RMSE is the square root of MSE. It panics if the slices differ in length or are empty.
func RMSE(yTrue, yPred []float64) float64 { return math.Sqrt(MSE(yTrue, yPred)) }

// MAE is the mean absolute error. It panics if the slices differ in length or are empty.
func MAE(yTrue, yPred []float64) float64 {
	checkLengths(yTrue, yPred)
	var s float64
	for i, y := range yTrue {
		s += math.Abs(y - yPred[i])
	}
	return s / float64(len(yTrue))
}

// R2 is the coefficient of determination 1 - SS_res/SS_tot. Like
// scikit-learn's r2_score, a constant yTrue scores 1 for a perfect prediction
// and 0 otherwise. It panics if the slices differ in length or are empty.
func R2(yTrue, yPred []float64) float64 {
	checkLengths(yTrue, yPred)
	mean := stat.Mean(yTrue, nil)
	var ssRes, ssTot float64
	for i, y := range yTrue {
		d := y - yPred[i]
		ssRes += d * d
		t := y - mean
		ssTot += t * t
	}
	return finiteRatioScore(ssRes, ssTot)
}

// ExplainedVariance is 1 - Var(yTrue-yPred)/Var(yTrue), with the same
// convention as R2 for a constant yTrue. It panics if the slices differ in
// length or are empty.
func ExplainedVariance(yTrue, yPred []float64) float64 {
	checkLengths(yTrue, yPred)
	resid := make([]float64, len(yTrue))
	for i, y := range yTrue {
		resid[i] = y - yPred[i]
	}
	// Population variances, as scikit-learn uses; the ratio does not depend on it.
	_, varRes := stat.PopMeanVariance(resid, nil)
	_, varTrue := stat.PopMeanVariance(yTrue, nil)
	return finiteRatioScore(varRes, varTrue)
}

// finiteRatioScore is 1 - num/den, with scikit-learn's force_finite rule for den == 0.
func finiteRatioScore(num, den float64) float64 {
	if den == 0 {
		if num == 0 {
			return 1
		}
		return 0
	}
	return 1 - num/den
}
