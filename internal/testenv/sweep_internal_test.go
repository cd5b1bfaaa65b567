package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

func TestSweepDeadClustersKeepsLiveAndYoung(t *testing.T) {
	tmp := t.TempDir()
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	cluster := func(name, pid string, age time.Duration) string {
		dir := filepath.Join(tmp, "housing-pg-"+name)
		if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
			t.Fatal(err)
		}
		if pid != "" {
			body := pid + "\n/tmp/x/data\n1700000000\n5432\n"
			if err := os.WriteFile(filepath.Join(dir, "data", "postmaster.pid"), []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Chtimes(dir, now.Add(-age), now.Add(-age)); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	live := cluster("live", strconv.Itoa(os.Getpid()), 2*time.Hour)
	gone := cluster("gone", strconv.Itoa(dead.Process.Pid), time.Minute)
	initialising := cluster("initialising", "", time.Minute)
	abandoned := cluster("abandoned", "", 2*time.Hour)
	garbled := cluster("garbled", "not-a-pid", 2*time.Hour)
	other := filepath.Join(tmp, "other-dir")
	if err := os.Mkdir(other, 0o755); err != nil {
		t.Fatal(err)
	}

	sweepDeadClusters(tmp, now)

	for dir, want := range map[string]bool{live: true, gone: false, initialising: true, abandoned: false, garbled: true, other: true} {
		_, err := os.Stat(dir)
		if exists := err == nil; exists != want {
			t.Errorf("%s: exists after the sweep = %v, want %v", filepath.Base(dir), exists, want)
		}
	}
}
