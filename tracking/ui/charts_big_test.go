package ui_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/mlops-lab/housing/tracking"
)

// bigCharts opens the charts page of the 100,000-run experiment (in
// TestBrowserBigExperiment, which fills the store once): it answers and
// charts the search's first 100 runs, newest first or by a metric over all
// 100,000, and says that more match.
func bigCharts(t *testing.T, b *tab, big *bigStore) {
	t.Helper()
	base := "/experiments/" + big.expID + "/charts"
	t.Run("Newest", func(t *testing.T) {
		b.open(t, base, "#plots")
		if got := b.text(t, "#cap"); !strings.Contains(got, "first 100 runs") {
			t.Errorf("cap note %q", got)
		}
		names := legendNames(t, b)
		// The newest runs: four top-level runs, then the last search's 95
		// trials (newest first) and the search itself.
		if len(names) != 100 || names[0] != big.newest || names[4] != "search-04995-trial-95" || names[99] != "search-04995" {
			t.Errorf("legend %d runs %q ... %q, want 100 from %s to search-04995", len(names), names[:min(5, len(names))], names[max(0, len(names)-1):], big.newest)
		}
		p := onePlot(t, b, "parallel")
		if len(p.PathRuns) != 100 || distinct(p.PathRuns) != 100 {
			t.Errorf("parallel plot: %d paths of %d runs, want 100", len(p.PathRuns), distinct(p.PathRuns))
		}
		containsAll(t, "parallel axes", p.Labels, "max_depth", "n_estimators")
		s := onePlot(t, b, "scatter")
		if len(s.MarkRuns) != 100 {
			t.Errorf("scatter: %d marks, want 100", len(s.MarkRuns))
		}
		b.shoot(t, "big-charts")
	})
	t.Run("ByMetric", func(t *testing.T) {
		b.open(t, base+"?"+url.Values{"order": {"metrics.r2 DESC"}}.Encode(), "#plots")
		names := legendNames(t, b)
		if len(names) != 100 {
			t.Fatalf("legend has %d runs, want 100", len(names))
		}
		// r2 is (n mod 1000)/1000 of the n-th run written: exactly 100 runs
		// have the best, 0.999, and they are the ones charted.
		best, err := big.store.SearchRuns(context.Background(), tracking.RunQuery{
			ExperimentIDs: []string{big.expID}, Filter: "metrics.r2 > 0.9985", MaxResults: 1000})
		if err != nil || len(best.Items) != 100 {
			t.Fatalf("%d runs with r2 0.999 (%v), want 100", len(best.Items), err)
		}
		want := map[string]bool{}
		for _, r := range best.Items {
			want[r.Info.RunName] = true
		}
		for _, n := range names {
			if !want[n] {
				t.Errorf("%s charted, but its r2 is not the best", n)
			}
		}
		if got := eval[string](t, b, `document.querySelector("#cap").textContent`); !strings.Contains(got, "first 100 runs") {
			t.Errorf("cap note %q", got)
		}
		c := onePlot(t, b, "contour")
		if len(c.MarkRuns) != 100 {
			t.Errorf("contour: %d marks, want 100", len(c.MarkRuns))
		}
		b.shoot(t, "big-charts-by-r2")
	})
}
