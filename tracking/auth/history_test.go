package auth_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/auth"
	"github.com/mlops-lab/housing/tracking/wire"
)

// TestGetMetricHistoryKeptBehindAuth reads a long metric history through an
// auth server, on SQLite and PostgreSQL: the answer is streamed (sent in
// chunks, without a Content-Length) and then given again from what the server
// kept (whole, with one), as without auth; a user without READ is refused
// both ways, also once the answer is kept; a point logged after is in the
// next answer (on SQLite the kept answer extended with it).
func TestGetMetricHistoryKeptBehindAuth(t *testing.T) {
	onBothBackends(t, testHistoryKeptBehindAuth)
}

func testHistoryKeptBehindAuth(t *testing.T, base string, users *auth.Store) {
	ctx := context.Background()
	for _, u := range []string{"alice", "bob"} {
		if _, err := users.CreateUser(ctx, u, u+"-pw", false); err != nil {
			t.Fatal(err)
		}
	}
	alice := userClient(t, base, "alice", "alice-pw")
	exp, err := alice.CreateExperiment(ctx, "alice-history", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	must(t, "alice grants bob nothing", grant(t, base, "alice", "alice-pw", "experiments",
		map[string]string{"experiment_id": exp, "username": "bob", "permission": "NO_PERMISSIONS"}))
	run, err := alice.CreateRun(ctx, tracking.CreateRun{ExperimentID: exp})
	if err != nil {
		t.Fatal(err)
	}
	// 15,000 points: ~1.5 MB, past what the server sends whole as it reads
	// (1 MiB) and long enough to be kept.
	const points = 15000
	for start := 0; start < points; start += 1000 {
		ms := make([]tracking.Metric, 1000)
		for i := range ms {
			step := int64(start + i)
			ms[i] = tracking.Metric{Key: "loss", Value: float64(step) / 3, Timestamp: 1700000000000 + step, Step: step}
		}
		if err := alice.LogBatch(ctx, run.Info.RunID, ms, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	u := base + wire.PathGetMetricHistory + "?run_id=" + run.Info.RunID + "&metric_key=loss"
	read := func(user string) (status int, length int64, body string) {
		t.Helper()
		req, _ := http.NewRequest("GET", u, nil)
		req.SetBasicAuth(user, user+"-pw")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, resp.ContentLength, string(b)
	}
	status, length, streamed := read("alice")
	if status != http.StatusOK || length != -1 || strings.Count(streamed, `"step"`) != points {
		t.Fatalf("alice's first read: %d, Content-Length %d, %d points; want 200 streamed (-1), %d points",
			status, length, strings.Count(streamed, `"step"`), points)
	}
	status, length, kept := read("alice")
	if status != http.StatusOK || length != int64(len(kept)) || kept != streamed {
		t.Fatalf("alice's second read: %d, Content-Length %d of %d bytes, same answer %v; want 200 kept (whole, with its length), the same",
			status, length, len(kept), kept == streamed)
	}
	if status, _, body := read("bob"); status != http.StatusForbidden {
		t.Errorf("bob reads the kept history: %d %.100s, want 403", status, body)
	}
	must(t, "alice logs one more", alice.LogBatch(ctx, run.Info.RunID,
		[]tracking.Metric{{Key: "loss", Value: 1, Timestamp: 1800000000000, Step: points}}, nil, nil))
	// On SQLite the kept answer is extended with the new point (whole, with
	// its length); on PostgreSQL it is read again (streamed).
	status, length, body := read("alice")
	if status != http.StatusOK || strings.Count(body, `"step"`) != points+1 {
		t.Errorf("alice's read after one more point: %d, %d points, want %d", status, strings.Count(body, `"step"`), points+1)
	}
	if extended := length == int64(len(body)); extended != strings.Contains(t.Name(), "sqlite") {
		t.Errorf("alice's read after one more point: Content-Length %d of %d bytes; want it extended on SQLite only", length, len(body))
	}
	if status, _, _ := read("bob"); status != http.StatusForbidden {
		t.Errorf("bob reads the history: %d, want 403", status)
	}
}
