package sqlstore

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mlops-lab/housing/tracking"
)

// TestCheckpointsInTheBackground writes a few hundred pages and waits for them
// to reach the database file itself: in WAL mode only a checkpoint writes it,
// and SQLite's automatic ones (off here) would wait for 1,000 pages.
func TestCheckpointsInTheBackground(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mlflow.db")
	s := openInternal(t, "sqlite:///"+path)
	ctx := t.Context()
	before := fileSize(t, path)
	r, err := s.CreateRun(ctx, tracking.CreateRun{ExperimentID: "0"})
	if err != nil {
		t.Fatal(err)
	}
	for b := range 20 {
		var ms []tracking.Metric
		for i := range 1000 {
			ms = append(ms, tracking.Metric{Key: "loss", Value: float64(i), Timestamp: int64(b), Step: int64(i)})
		}
		if err := s.LogBatch(ctx, r.Info.RunID, ms, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for fileSize(t, path) <= before {
		if time.Now().After(deadline) {
			t.Fatalf("the database file stayed at %d bytes for 10 s after 20,000 points were committed: no checkpoint", before)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}
