package ui_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/mlops-lab/housing/tracking/ui"
)

// BenchmarkSearchCharts serves the charts of a search result of n runs
// (each with two 20-step histories and a one-point metric, SQLite): the
// page reads every history, so its cost grows with runs × metrics, and it
// charts at most 100 runs.
func BenchmarkSearchCharts(b *testing.B) {
	for _, n := range []int{12, 100, 500} {
		b.Run("runs="+strconv.Itoa(n), func(b *testing.B) {
			big := newBigSearch(b, n)
			target := "/experiments/" + big.expID + "/charts"
			for b.Loop() {
				rec := httptest.NewRecorder()
				big.handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
				if rec.Code != http.StatusOK {
					b.Fatalf("status %d", rec.Code)
				}
				b.SetBytes(int64(rec.Body.Len()))
			}
		})
	}
}

// BenchmarkSearchCharts100k serves the charts page of the 100,000-run
// experiment (the runs table's fill, not timed): newest first, and ordered by
// a metric over all of them; each charts the first 100 runs.
func BenchmarkSearchCharts100k(b *testing.B) {
	big := newBigStore(b)
	h := ui.New(big.store, nil, ui.Options{})
	base := "/experiments/" + big.expID + "/charts"
	for _, p := range []struct{ name, target string }{
		{"newest", base},
		{"order-r2", base + "?order=" + url.QueryEscape("metrics.r2 DESC")},
		{"filter-trials", base + "?filter=" + url.QueryEscape("attributes.run_name LIKE 'search-04995-trial%'")},
	} {
		b.Run(p.name, func(b *testing.B) {
			var lat []time.Duration
			for b.Loop() {
				rec := httptest.NewRecorder()
				start := time.Now()
				h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, p.target, nil))
				lat = append(lat, time.Since(start))
				if rec.Code != http.StatusOK {
					b.Fatalf("%s: status %d", p.target, rec.Code)
				}
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		})
	}
}
