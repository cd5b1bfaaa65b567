package learn_test

import (
	"math"
	"testing"

	"github.com/mlops-lab/housing/learn"
)

func near(t *testing.T, name string, got, want float64) {
	t.Helper()
	if math.Abs(got-want) > 1e-12 {
		t.Errorf("%s = %.15g, want %.15g", name, got, want)
	}
}

func TestMetricsByHand(t *testing.T) {
	yTrue := []float64{1, 2, 3, 4}
	t.Run("OneMiss", func(t *testing.T) {
		// Residuals 0,0,0,-1. SS_res = 1; mean 2.5, SS_tot = 5.
		// Residual variance: mean -0.25, (3*0.0625 + 0.5625)/4 = 0.1875;
		// variance of y 5/4.
		m := learn.Evaluate(yTrue, []float64{1, 2, 3, 5})
		near(t, "MSE", m.MSE, 0.25)
		near(t, "RMSE", m.RMSE, 0.5)
		near(t, "MAE", m.MAE, 0.25)
		near(t, "R2", m.R2, 1-1.0/5)
		near(t, "ExplainedVariance", m.ExplainedVariance, 1-0.1875/1.25)
	})
	t.Run("Offset", func(t *testing.T) {
		// A constant offset explains all variance but costs R2: 1 - 4/5.
		pred := []float64{2, 3, 4, 5}
		near(t, "R2", learn.R2(yTrue, pred), 0.2)
		near(t, "ExplainedVariance", learn.ExplainedVariance(yTrue, pred), 1)
		near(t, "MAE", learn.MAE(yTrue, pred), 1)
		near(t, "RMSE", learn.RMSE(yTrue, pred), 1)
	})
	t.Run("ConstantTruth", func(t *testing.T) {
		c := []float64{3, 3, 3}
		near(t, "R2 perfect", learn.R2(c, c), 1)
		near(t, "R2 imperfect", learn.R2(c, []float64{3, 3, 4}), 0)
		near(t, "ExplainedVariance perfect", learn.ExplainedVariance(c, c), 1)
	})
}

func TestMetricsPanicOnLengthMismatch(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("MSE of 2 values and 1 prediction did not panic")
		}
	}()
	learn.MSE([]float64{1, 2}, []float64{1})
}
