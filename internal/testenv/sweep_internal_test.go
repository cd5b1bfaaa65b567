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
	exited := exec.Command("true")
	if err := exited.Run(); err != nil {
		t.Fatal(err)
	}
	alive, gone := strconv.Itoa(os.Getpid()), strconv.Itoa(exited.Process.Pid)
	now := time.Now()
	cluster := func(name, owner, postmaster string, age time.Duration) string {
		dir := filepath.Join(tmp, "housing-pg-"+name)
		if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
			t.Fatal(err)
		}
		write := func(file, pid string) {
			if pid == "" {
				return
			}
			if err := os.WriteFile(file, []byte(pid+"\n/tmp/x/data\n1700000000\n5432\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		write(filepath.Join(dir, clusterOwnerFile), owner)
		write(filepath.Join(dir, "data", "postmaster.pid"), postmaster)
		if err := os.Chtimes(dir, now.Add(-age), now.Add(-age)); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	want := map[string]bool{ // directory: kept by the sweep
		// Owner alive, postmaster gone: a test restarting its own server.
		cluster("restarting", alive, gone, 2*time.Hour):  true,
		cluster("owner-gone", gone, alive, time.Minute):  false,
		cluster("legacy-young", "", "", time.Minute):     true,
		cluster("legacy-live", "", alive, 2*time.Hour):   true,
		cluster("legacy-dead", "", gone, 2*time.Hour):    false,
		cluster("legacy-empty", "", "", 2*time.Hour):     false,
		cluster("garbled", "not-a-pid", "", time.Minute): true,
	}
	other := filepath.Join(tmp, "other-dir")
	if err := os.Mkdir(other, 0o755); err != nil {
		t.Fatal(err)
	}
	want[other] = true

	sweepDeadClusters(tmp, now)

	for dir, kept := range want {
		_, err := os.Stat(dir)
		if exists := err == nil; exists != kept {
			t.Errorf("%s: exists after the sweep = %v, want %v", filepath.Base(dir), exists, kept)
		}
	}
}
