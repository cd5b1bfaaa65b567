package reliability_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mlops-lab/housing/dataset"
	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/client"
	"github.com/mlops-lab/housing/tracking/server"
)

// TestTrainSIGKILLLeavesRunRunning kills the real train step with SIGKILL once
// its run exists, checks that the run stays RUNNING (nothing could mark it),
// and that a re-run with the same name makes a new run that finishes, without
// touching or being confused by the killed one.
func TestTrainSIGKILLLeavesRunRunning(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a forest; skipped in -short")
	}
	data, ok := dataset.SharedDataPath()
	if !ok {
		t.Skip("the shared data (../shared/data/cal_housing.data) is not here")
	}
	bin := binaries(t)
	srv, dir := sqliteServer(t, server.Options{})
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "MLFLOW_TRACKING_URI=" + srv.URL}
	run := func(name string, args ...string) *exec.Cmd {
		cmd := exec.Command(filepath.Join(bin, name), args...)
		cmd.Dir, cmd.Env = dir, env
		return cmd
	}
	if out, err := run("ingest", "--data", data, "--train-out", "train.bin", "--test-out", "test.bin", "--summary-out", "summary.json").CombinedOutput(); err != nil {
		t.Fatalf("ingest: %v\n%s", err, out)
	}
	trainArgs := []string{"--train", "train.bin", "--test", "test.bin", "--config", "rf-tuned", "--run-name", "interrupted"}

	ctx := context.Background()
	c := newClient(t, srv.URL, client.Options{})
	find := func() []tracking.Run {
		page, err := c.SearchRuns(ctx, tracking.RunQuery{ExperimentIDs: experimentIDs(t, c), Filter: "attributes.run_name = 'interrupted'"})
		if err != nil {
			t.Fatal(err)
		}
		return page.Items
	}

	killed := run("train", trainArgs...)
	var out strings.Builder
	killed.Stdout, killed.Stderr = &out, &out
	if err := killed.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for len(find()) == 0 {
		if time.Now().After(deadline) {
			killed.Process.Kill()
			t.Fatalf("train made no run in 60s:\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	killed.Process.Signal(syscall.SIGKILL)
	if err := killed.Wait(); err == nil {
		t.Skipf("train finished before it could be killed:\n%s", out.String())
	}
	runs := find()
	if len(runs) != 1 || runs[0].Info.Status != tracking.RunRunning {
		t.Fatalf("after SIGKILL: %d runs named interrupted, first %+v; want one RUNNING", len(runs), runs[0].Info)
	}
	first := runs[0].Info.RunID

	if out, err := run("train", append(trainArgs, "--run-id-out", "rerun.id")...).CombinedOutput(); err != nil {
		t.Fatalf("re-run: %v\n%s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(dir, "rerun.id"))
	if err != nil {
		t.Fatal(err)
	}
	second := strings.TrimSpace(string(b))
	if second == first {
		t.Fatalf("the re-run reused the killed run %s", first)
	}
	for _, r := range find() {
		switch r.Info.RunID {
		case first:
			if r.Info.Status != tracking.RunRunning {
				t.Errorf("killed run is %s after the re-run, want RUNNING (untouched)", r.Info.Status)
			}
		case second:
			if r.Info.Status != tracking.RunFinished || len(r.Data.Metrics) == 0 {
				t.Errorf("re-run is %s with %d metrics, want FINISHED with metrics", r.Info.Status, len(r.Data.Metrics))
			}
		default:
			t.Errorf("unexpected run %s named interrupted", r.Info.RunID)
		}
	}
}

func experimentIDs(t *testing.T, c *client.Client) []string {
	t.Helper()
	page, err := c.SearchExperiments(context.Background(), tracking.ExperimentQuery{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range page.Items {
		ids = append(ids, e.ID)
	}
	return ids
}
