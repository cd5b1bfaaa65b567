package main

import (
	"math"
	"strings"
	"testing"

	"github.com/mlops-lab/housing/steps/internal/stepkit"
)

func TestGateDecide(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	cases := []struct {
		name      string
		gate      Gate
		candidate float64
		champion  *float64
		promote   bool
		reason    string
	}{
		{"NoChampion", Gate{"r2", stepkit.Maximize, 0}, 0.7, nil, true, "no champion"},
		{"Better", Gate{"r2", stepkit.Maximize, 0.01}, 0.80, f(0.77), true, "beats"},
		{"WithinMargin", Gate{"r2", stepkit.Maximize, 0.05}, 0.80, f(0.77), false, "does not beat"},
		{"Equal", Gate{"r2", stepkit.Maximize, 0}, 0.77, f(0.77), false, "does not beat"},
		{"Worse", Gate{"r2", stepkit.Maximize, 0}, 0.60, f(0.77), false, "does not beat"},
		{"stepkit.MinimizeBetter", Gate{"rmse", stepkit.Minimize, 0}, 0.45, f(0.50), true, "beats"},
		{"stepkit.MinimizeWorse", Gate{"rmse", stepkit.Minimize, 0}, 0.55, f(0.50), false, "does not beat"},
		{"NaNCandidate", Gate{"r2", stepkit.Maximize, 0}, math.NaN(), nil, false, "NaN"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := c.gate.Decide(c.candidate, c.champion, "3")
			if d.Promote != c.promote {
				t.Errorf("Promote = %v, want %v (%s)", d.Promote, c.promote, d.Reason)
			}
			if !strings.Contains(d.Reason, c.reason) {
				t.Errorf("Reason %q does not say %q", d.Reason, c.reason)
			}
		})
	}
}
