package ui

import (
	"strconv"
	"strings"
	"testing"
)

// TestLineChartGoesByStep draws a history whose steps are out of order (a
// value logged later at an earlier step, as a store ordered by time gives
// it): the line's x coordinates must not go back.
func TestLineChartGoesByStep(t *testing.T) {
	c := lineChart("loss", []float64{1, 5, 3}, []float64{0.3, 0.2, 0.1})
	var xs []float64
	for _, p := range strings.Fields(c.Line) {
		x, _, _ := strings.Cut(p, ",")
		v, err := strconv.ParseFloat(x, 64)
		if err != nil {
			t.Fatalf("line %q: %v", c.Line, err)
		}
		xs = append(xs, v)
	}
	if len(xs) != 3 || !(xs[0] < xs[1] && xs[1] < xs[2]) {
		t.Errorf("line x coordinates = %v (%q), want increasing", xs, c.Line)
	}
	if len(c.Points) != 3 || !strings.HasPrefix(c.Points[1].Title, "step 3: 0.1") {
		t.Errorf("points = %+v, want step 3's second", c.Points)
	}
}
