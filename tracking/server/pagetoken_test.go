package server_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/mlops-lab/housing/internal/testenv"
	"github.com/mlops-lab/housing/tracking/search"
	"github.com/mlops-lab/housing/tracking/server"
	"github.com/mlops-lab/housing/tracking/wire"
)

// TestSearchRunsPageTokens pages search-runs over HTTP with the tokens the
// server hands out (which resume after the page before) and with their
// offsets alone (MLflow's tokens): the pages are the same, for orders that
// walk metrics (numbers, NaN, missing), params and columns and for sorts;
// after a run is created between pages, our token repeats no run where the
// offset does (a deliberate difference from MLflow).
func TestSearchRunsPageTokens(t *testing.T) {
	for name, uri := range map[string]func(*testing.T) string{
		"sqlite":     func(t *testing.T) string { return "sqlite:///" + t.TempDir() + "/mlflow.db" },
		"postgresql": func(t *testing.T) string { return testenv.PostgresURI(t) },
	} {
		t.Run(name, func(t *testing.T) {
			srv := newAPIServerOn(t, uri(t), server.Options{})
			post := func(path, body string) response {
				t.Helper()
				r := do(t, srv, "POST", path, js, body)
				wantStatus(t, r, 200, "")
				return r
			}
			exp := field(t, post(wire.PathCreateExperiment, `{"name":"tokens"}`).body, "experiment_id")
			for i := range 23 {
				run := field(t, post(wire.PathCreateRun, fmt.Sprintf(`{"experiment_id":%q,"start_time":%d}`, exp, 1000+i%9)).body, "run", "info", "run_id")
				metric := fmt.Sprintf(`{"key":"m","value":%g,"timestamp":1,"step":0}`, float64(i%5)/2)
				switch i % 7 {
				case 0:
					metric = `{"key":"m","value":"NaN","timestamp":1,"step":0}`
				case 1:
					metric = `{"key":"other","value":1,"timestamp":1,"step":0}`
				}
				post(wire.PathLogBatch, fmt.Sprintf(`{"run_id":%q,"metrics":[%s],"params":[{"key":"p","value":"v%d"}]}`, run, metric, i%4))
			}
			pages := func(order string, offsetOnly bool) []string {
				t.Helper()
				var ids []string
				token := ""
				for range 30 {
					r := post(wire.PathSearchRuns, fmt.Sprintf(`{"experiment_ids":[%q],"order_by":[%s],"max_results":4,"page_token":%q}`, exp, order, token))
					var page struct {
						Runs []struct {
							Info struct {
								RunID string `json:"run_id"`
							} `json:"info"`
						} `json:"runs"`
						NextPageToken string `json:"next_page_token"`
					}
					if err := json.Unmarshal([]byte(r.body), &page); err != nil {
						t.Fatal(err)
					}
					for _, run := range page.Runs {
						ids = append(ids, run.Info.RunID)
					}
					if page.NextPageToken == "" {
						return ids
					}
					pos, err := search.DecodeRunPageToken(page.NextPageToken)
					if err != nil || len(pos.After) == 0 || pos.Offset != len(ids) {
						t.Fatalf("order %s: token %q at %d runs: %+v, %v", order, page.NextPageToken, len(ids), pos, err)
					}
					token = page.NextPageToken
					if offsetOnly {
						token = search.EncodePageToken(pos.Offset)
					}
				}
				t.Fatalf("order %s: more than 30 pages", order)
				return nil
			}
			for _, order := range []string{``, `"metrics.m DESC"`, `"metrics.m ASC", "params.p DESC"`, `"params.p ASC"`,
				`"attributes.start_time ASC"`, `"attributes.status ASC", "metrics.m DESC"`} {
				want := pages(order, true)
				if len(want) != 23 {
					t.Fatalf("order %s: %d runs by offset", order, len(want))
				}
				if got := pages(order, false); !slices.Equal(got, want) {
					t.Errorf("order %s: pages by token\n%v\nwant the offset pages\n%v", order, got, want)
				}
			}

			// A run created between pages, first in the order.
			first := post(wire.PathSearchRuns, fmt.Sprintf(`{"experiment_ids":[%q],"max_results":4}`, exp))
			token := field(t, first.body, "next_page_token")
			post(wire.PathCreateRun, fmt.Sprintf(`{"experiment_id":%q,"start_time":5000}`, exp))
			ids := func(r response) []string {
				var out []string
				for i := range 4 {
					out = append(out, field(t, r.body, "runs", fmt.Sprint(i), "info", "run_id"))
				}
				return out
			}
			pos, _ := search.DecodeRunPageToken(token)
			byToken := ids(post(wire.PathSearchRuns, fmt.Sprintf(`{"experiment_ids":[%q],"max_results":4,"page_token":%q}`, exp, token)))
			byOffset := ids(post(wire.PathSearchRuns, fmt.Sprintf(`{"experiment_ids":[%q],"max_results":4,"page_token":%q}`, exp, search.EncodePageToken(pos.Offset))))
			if last := ids(first)[3]; slices.Contains(byToken, last) || byOffset[0] != last {
				t.Errorf("after a new run: the token's page %v, the offset's %v; the first page ended with %s", byToken, byOffset, last)
			}
			if !slices.Equal(byToken[:3], byOffset[1:]) {
				t.Errorf("the token's page %v is not the offset's %v moved by one", byToken, byOffset)
			}
		})
	}
}
