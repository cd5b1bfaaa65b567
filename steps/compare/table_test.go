package main

import (
	"math"
	"testing"

	"github.com/mlops-lab/housing/steps/internal/stepkit"
	"github.com/mlops-lab/housing/tracking"
)

func run(id string, metrics map[string]float64) tracking.Run {
	r := tracking.Run{Info: tracking.RunInfo{RunID: id, RunName: "name-" + id}}
	for k, v := range metrics {
		r.Data.Metrics = append(r.Data.Metrics, tracking.Metric{Key: k, Value: v})
	}
	return r
}

// The ingest run and a failed training carry no test_r2: they are listed but not
// ranked, and the ranked count (what compare reports as "best of N") leaves them out.
func TestBuildTableRanksOnlyRunsWithTheMetric(t *testing.T) {
	runs := []tracking.Run{
		run("ingest", map[string]float64{"rows": 20640}),
		run("newer", map[string]float64{"test_r2": 0.80}),
		run("nan", map[string]float64{"test_r2": math.NaN()}),
		run("older", map[string]float64{"test_r2": 0.80}),
		run("worse", map[string]float64{"test_r2": 0.60}),
	}
	tab := buildTable("exp", runs, "test_r2", stepkit.Maximize, nil, []string{"test_r2"})
	if got := tab.Ranked(); got != 3 {
		t.Fatalf("Ranked() = %d, want 3 (newer, older, worse)", got)
	}
	var order []string
	for _, r := range tab.Rows {
		order = append(order, r.RunID)
	}
	want := []string{"newer", "older", "worse", "ingest", "nan"}
	for i := range want {
		if order[i] != want[i] {
			t.Fatalf("rows = %v, want %v (ties keep search order, unranked last)", order, want)
		}
	}
	best, ok := tab.Best()
	if !ok || best.RunID != "newer" || best.Rank != 1 {
		t.Fatalf("Best() = %+v, %v; want run newer at rank 1", best, ok)
	}
	if tab.Rows[3].Rank != 0 || tab.Rows[4].Rank != 0 {
		t.Errorf("unranked rows carry ranks %d and %d, want 0", tab.Rows[3].Rank, tab.Rows[4].Rank)
	}
}

func TestBuildTableMinimize(t *testing.T) {
	runs := []tracking.Run{run("a", map[string]float64{"rmse": 0.7}), run("b", map[string]float64{"rmse": 0.5})}
	tab := buildTable("exp", runs, "rmse", stepkit.Minimize, nil, nil)
	if best, _ := tab.Best(); best.RunID != "b" {
		t.Fatalf("best by min rmse = %s, want b", best.RunID)
	}
	if tab.Ranked() != 2 {
		t.Fatalf("Ranked() = %d, want 2", tab.Ranked())
	}
}
