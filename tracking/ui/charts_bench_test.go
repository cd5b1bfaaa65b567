package ui_test

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
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
