package sqlstore_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"testing"

	"github.com/mlops-lab/housing/internal/testenv"
	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/server"
	"github.com/mlops-lab/housing/tracking/wire"
)

// TestLogBatchOverHTTPStoredOnce runs log-batch from 8 concurrent clients over
// HTTP, so that their requests share combined writes and group commits, and
// checks what MLflow's clients rely on: every acknowledged point is stored
// exactly once (counted in the database), and an acknowledged write is
// committed (each is read back at once, through another replica where there
// are two). On PostgreSQL two servers with stores of their own share one
// database, as the replicas of deploy/ do, the clients alternate between them,
// and at the end both answer every history with the same bytes.
func TestLogBatchOverHTTPStoredOnce(t *testing.T) {
	for _, tc := range []struct {
		name     string
		uri      func(testing.TB) string
		replicas int
	}{
		{"sqlite", sqliteURI, 1},
		{"postgresql-two-replicas", testenv.PostgresURI, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			uri := tc.uri(t)
			var bases []string
			for range tc.replicas {
				s := mustOpen(t, uri)
				srv := httptest.NewServer(server.New(s, nil, server.Options{}))
				t.Cleanup(srv.Close)
				bases = append(bases, srv.URL)
			}
			store := mustOpen(t, uri)
			ctx := t.Context()
			const clients, requests, keys = 8, 40, 10
			runs := make([]string, clients)
			for i := range runs {
				r, err := store.CreateRun(ctx, tracking.CreateRun{ExperimentID: "0"})
				if err != nil {
					t.Fatal(err)
				}
				runs[i] = r.Info.RunID
			}
			acked := make([]int, clients)
			var wg sync.WaitGroup
			for w := range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					writer, reader := bases[w%len(bases)], bases[(w+1)%len(bases)]
					for step := 1; step <= requests; step++ {
						var ms []wire.Metric
						for k := range keys {
							ms = append(ms, wire.Metric{Key: "m" + strconv.Itoa(k), Value: wire.Float(step), Timestamp: int64(step), Step: int64(step)})
						}
						if _, err := post(writer+wire.PathLogBatch, wire.LogBatchRequest{RunID: runs[w], Metrics: ms}); err != nil {
							t.Errorf("client %d step %d: %v", w, step, err)
							return
						}
						acked[w] = step
						var got wire.GetRunResponse
						if err := getJSON(reader+wire.PathGetRun+"?run_id="+runs[w], &got); err != nil {
							t.Errorf("client %d: %v", w, err)
							return
						}
						if latest := latestStep(got.Run.Data.Metrics, "m0"); latest < int64(step) {
							t.Errorf("client %d: step %d acknowledged, read back at once the latest m0 is at step %d", w, step, latest)
						}
					}
				}()
			}
			wg.Wait()
			for w, run := range runs {
				var n int
				if err := store.DB().QueryRowContext(ctx, rebind(uri, `SELECT COUNT(*) FROM metrics WHERE run_uuid = ?`), run).Scan(&n); err != nil {
					t.Fatal(err)
				}
				if want := acked[w] * keys; n != want {
					t.Errorf("run %d: %d points stored, %d acknowledged", w, n, want)
				}
				for k := range keys {
					q := url.Values{"run_id": {run}, "metric_key": {"m" + strconv.Itoa(k)}}.Encode()
					var first []byte
					for i, base := range bases {
						body, err := get(base + wire.PathGetMetricHistory + "?" + q)
						if err != nil {
							t.Fatal(err)
						}
						if i == 0 {
							first = body
						} else if !bytes.Equal(body, first) {
							t.Errorf("run %d m%d: replica %d answers %d bytes, replica 0 %d", w, k, i, len(body), len(first))
						}
					}
				}
			}
		})
	}
}

func latestStep(ms []wire.Metric, key string) int64 {
	for _, m := range ms {
		if m.Key == key {
			return m.Step
		}
	}
	return -1
}

// rebind writes ? as $1 for PostgreSQL.
func rebind(uri, q string) string {
	if uri[:6] == "sqlite" {
		return q
	}
	return string(bytes.Replace([]byte(q), []byte("?"), []byte("$1"), 1))
}

func post(u string, in any) ([]byte, error) {
	body, err := json.Marshal(in)
	if err != nil {
		return nil, err
	}
	return answer(http.Post(u, "application/json", bytes.NewReader(body)))
}

func get(u string) ([]byte, error) { return answer(http.Get(u)) }

func getJSON(u string, out any) error {
	b, err := get(u)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, out)
}

func answer(resp *http.Response, err error) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %d %s", resp.Request.URL, resp.StatusCode, b)
	}
	return b, nil
}
