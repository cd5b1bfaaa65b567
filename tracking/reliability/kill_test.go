package reliability_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/client"
)

// TestServerSIGKILLDuringWrites kills the real tracking-server binary with
// SIGKILL while clients log, then checks that the SQLite database passes
// integrity_check, that the server opens it again, and that every batch the
// server acknowledged before it died is there.
func TestServerSIGKILLDuringWrites(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "mlflow.db")
	args := []string{"--backend-store-uri", "sqlite:///" + db, "--artifacts-destination", filepath.Join(dir, "mlartifacts")}
	p := startServerProcess(t, nil, args...)
	ctx := context.Background()
	setup := newClient(t, p.url, client.Options{})
	const runs = 8
	ids := make([]string, runs)
	for i := range ids {
		run, err := setup.CreateRun(ctx, tracking.CreateRun{ExperimentID: "0"})
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = run.Info.RunID
	}

	// acked[i] is how many batches of run i the server acknowledged.
	acked := make([]atomic.Int64, runs)
	var total atomic.Int64
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() {
			c := newClient(t, p.url, client.Options{MaxRetries: -1, Timeout: 5 * time.Second})
			for b := 0; b < metricsPerRun/50; b++ {
				if err := c.LogBatch(ctx, id, batchAt(i, b), nil, nil); err != nil {
					return // the server died
				}
				acked[i].Add(1)
				total.Add(1)
			}
		})
	}
	for total.Load() < 40 {
		time.Sleep(time.Millisecond)
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.cmd.Wait()
	wg.Wait()
	t.Logf("SIGKILL after %d acknowledged batches of 50 metrics", total.Load())

	sq, err := sql.Open("sqlite", "file:"+db)
	if err != nil {
		t.Fatal(err)
	}
	var check string
	if err := sq.QueryRow("PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
		t.Fatalf("integrity_check after SIGKILL: %q, %v", check, err)
	}
	sq.Close()

	p2 := startServerProcess(t, nil, args...)
	c := newClient(t, p2.url, client.Options{})
	for i, id := range ids {
		n := acked[i].Load()
		for k := range 5 {
			page, err := c.GetMetricHistory(ctx, id, "m"+strconv.Itoa(k), 0, "")
			if err != nil {
				t.Fatal(err)
			}
			steps := map[int64]bool{}
			for _, m := range page.Items {
				steps[m.Step] = true
			}
			// Batch b holds steps 10b..10b+9 of every key.
			for s := int64(0); s < n*10; s++ {
				if !steps[s] {
					t.Errorf("run %d key m%d: acknowledged step %d is missing after SIGKILL", i, k, s)
				}
			}
			if int64(len(page.Items)) > (n+1)*10 {
				t.Errorf("run %d key m%d: %d values, more than the %d acknowledged (+1 batch in flight)", i, k, len(page.Items), n*10)
			}
		}
	}
}

// batchAt is batch b (50 metrics: steps 10b..10b+9 of keys m0..m4) of run.
func batchAt(run, b int) []tracking.Metric {
	batch := make([]tracking.Metric, 0, 50)
	for i := b * 50; i < (b+1)*50; i++ {
		k, s := i%5, i/5
		batch = append(batch, tracking.Metric{Key: "m" + strconv.Itoa(k), Value: metricAt(run, k, s), Timestamp: int64(1_700_000_000_000 + s), Step: int64(s)})
	}
	return batch
}
