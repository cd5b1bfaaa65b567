package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mlops-lab/housing/internal/testenv"
	"github.com/mlops-lab/housing/tracking/server"
	"github.com/mlops-lab/housing/tracking/sqlstore"
	"github.com/mlops-lab/housing/tracking/wire"
)

// TestRealMLflowClientsPageMetricHistory runs MlflowClient.get_metric_history
// of MLflow 2.17.2 and 3.11.1 against the server on histories of 50,000 and
// 60,000 points. Both clients ask for pages of 25,000
// (GET_METRIC_HISTORY_MAX_RESULTS) and follow next_page_token: every point
// must come back once, in order, in as many requests as MLflow 3.11.1's server
// would need (a history of exactly two pages ends without a token).
func TestRealMLflowClientsPageMetricHistory(t *testing.T) {
	for _, version := range []string{testenv.MLflow2, testenv.MLflow3} {
		t.Run(version, func(t *testing.T) {
			testenv.RequireMLflow(t, version)
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			dir := t.TempDir()
			store, err := sqlstore.Open(ctx, "sqlite:///"+filepath.Join(dir, "mlflow.db"), sqlstore.Options{DefaultArtifactRoot: "mlflow-artifacts:/"})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { store.Close() })
			var mu sync.Mutex
			var asked []string
			api := server.New(store, nil, server.Options{})
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if strings.HasSuffix(r.URL.Path, wire.PathGetMetricHistory) {
					mu.Lock()
					asked = append(asked, r.URL.Query().Get("max_results")+"/"+r.URL.Query().Get("page_token"))
					mu.Unlock()
				}
				api.ServeHTTP(w, r)
			}))
			t.Cleanup(srv.Close)
			for _, tc := range []struct {
				points   int
				requests int
			}{{50000, 2}, {60000, 3}} {
				runID := logHistory(t, store, tc.points)
				mu.Lock()
				asked = nil
				mu.Unlock()
				script := `
import json, mlflow
h = mlflow.MlflowClient().get_metric_history("` + runID + `", "loss")
print(json.dumps({"points": len(h), "in_order": [m.step for m in h] == list(range(len(h)))}))
`
				out, err := testenv.RunMLflowPython(ctx, version, script, "MLFLOW_TRACKING_URI="+srv.URL, "HOME="+dir)
				if err != nil {
					t.Fatal(err)
				}
				lines := strings.Split(strings.TrimSpace(string(out)), "\n")
				var got struct {
					Points  int  `json:"points"`
					InOrder bool `json:"in_order"`
				}
				if err := json.Unmarshal([]byte(lines[len(lines)-1]), &got); err != nil {
					t.Fatalf("script printed %s: %v", out, err)
				}
				if got.Points != tc.points || !got.InOrder {
					t.Errorf("%d points: client read %d, in order %v", tc.points, got.Points, got.InOrder)
				}
				mu.Lock()
				asked := append([]string(nil), asked...)
				mu.Unlock()
				if len(asked) != tc.requests || asked[0] != "25000/" {
					t.Errorf("%d points: client asked %q, want %d requests of max_results 25000, the first without a token",
						tc.points, asked, tc.requests)
				}
				for i, a := range asked {
					if !strings.HasPrefix(a, "25000/") {
						t.Errorf("request %d: max_results/page_token %s", i, a)
					}
				}
				t.Logf("%d points: %d requests %s", tc.points, len(asked), strconv.Quote(strings.Join(asked, " ")))
			}
		})
	}
}
