package ui_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mlops-lab/housing/dataset"
	"github.com/mlops-lab/housing/internal/testenv"
	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/dial"
)

// stepsLab is the housing lab as its own steps fill it: the step binaries
// (steps/ingest, train, compare, register) run as scripts/run-lab's pipeline
// runs them, against cmd/tracking-server on 127.0.0.1 (SQLite, artifacts
// proxied to a local folder), which also serves the UI under test. Only the
// sizes are smaller, through the train step's own --config-file: a sweep with
// the lab's config names and fewer, shallower trees and a smaller search, so
// that it takes seconds.
type stepsLab struct {
	uri    string         // the tracking server, which serves the UI too
	store  tracking.Store // its REST API, to read back what the steps did
	expID  string
	runs   map[string]*tracking.Run // rf-baseline, rf-tuned, rf-optimized
	trials []*tracking.Run          // rf-optimized's nested runs
	best   string                   // the run compare picked
	model  string                   // the registered model
	// versions are the registered versions, by the run they came from.
	versions map[string]string
}

// smallSweep is the lab's sweep (steps/train/sweep.yaml) at a size that takes
// seconds: its three forests, the search with four candidates over two folds
// in two rounds of successive halving.
const smallSweep = `configs:
  - name: rf-baseline
    kind: random-forest
    n_estimators: 8
    max_depth: 5
  - name: rf-tuned
    kind: random-forest
    n_estimators: 12
    max_depth: 8
  - name: rf-optimized
    kind: random-forest
    search:
      candidates: 4
      folds: 2
      min_trees: 4
      n_estimators: [12]
      max_depth: [8, 12]
      max_features: ["1.0", "0.5"]
      min_samples_leaf: [1, 4]
      min_samples_split: [2]
`

// buildLab builds the lab's binaries (the steps and the tracking server) into
// a temporary folder.
func buildLab(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	args := []string{"build", "-o", dir + "/"}
	for _, s := range []string{"ingest", "train", "compare", "register"} {
		args = append(args, "github.com/mlops-lab/housing/steps/"+s)
	}
	args = append(args, "github.com/mlops-lab/housing/cmd/tracking-server")
	if out, err := exec.Command("go", args...).CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return dir
}

// newStepsLab starts the tracking server and runs the lab's steps against it:
// ingest; train rf-baseline, rf-tuned and rf-optimized (its search's trials
// nested under it, each carrying its cross-validation's times); compare;
// register rf-baseline (the first champion, as an earlier pipeline run would
// leave it), then the run compare picked, which the gate promotes over it.
// It skips without the shared data, as the steps' own tests do.
func newStepsLab(t *testing.T) *stepsLab {
	t.Helper()
	if testing.Short() {
		t.Skip("runs the lab's steps and a browser; skipped in -short mode")
	}
	chromiumPath(t) // before the work: skip (or fail) early without a browser
	data, ok := dataset.SharedDataPath()
	if !ok {
		t.Skip("the shared data (../shared/data/cal_housing.data) is not here")
	}
	began := time.Now()
	bin := buildLab(t)
	dir := t.TempDir()
	port, err := testenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	server := exec.Command(filepath.Join(bin, "tracking-server"), "--host", "127.0.0.1", "--port", strconv.Itoa(port),
		"--backend-store-uri", "sqlite:///"+filepath.Join(dir, "mlflow.db"), "--artifacts-destination", filepath.Join(dir, "mlartifacts"))
	server.Env = env
	var serverLog bytes.Buffer
	server.Stdout, server.Stderr = &serverLog, &serverLog
	server.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // it stops with the test, however the test ends
	if err := server.Start(); err != nil {
		t.Fatalf("start tracking-server: %v", err)
	}
	t.Cleanup(func() { server.Process.Signal(syscall.SIGTERM); server.Wait() })
	l := &stepsLab{uri: fmt.Sprintf("http://127.0.0.1:%d", port), runs: map[string]*tracking.Run{}, model: "california-housing", versions: map[string]string{}}
	waitServing(t, l.uri, &serverLog)
	env = append(env, "MLFLOW_TRACKING_URI="+l.uri)

	step := func(name string, args ...string) {
		t.Helper()
		cmd := exec.Command(filepath.Join(bin, name), args...)
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s\ntracking server's log:\n%s", name, strings.Join(args, " "), err, out, serverLog.String())
		}
	}
	read := func(name string) string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	sweep := filepath.Join(dir, "sweep.yaml")
	if err := os.WriteFile(sweep, []byte(smallSweep), 0o644); err != nil {
		t.Fatal(err)
	}
	train, test := filepath.Join(dir, "parts", "train.bin"), filepath.Join(dir, "parts", "test.bin")
	step("ingest", "--data", data, "--train-out", train, "--test-out", test, "--summary-out", filepath.Join(dir, "parts", "summary.json"))
	for _, config := range []string{"rf-baseline", "rf-tuned", "rf-optimized"} { // the sweep's order
		step("train", "--train", train, "--test", test, "--config-file", sweep, "--config", config, "--run-id-out", filepath.Join(dir, config+".run"))
	}
	step("compare", "--best-run-id-out", filepath.Join(dir, "best"), "--table-md-out", filepath.Join(dir, "table.md"))
	l.best = read("best")
	register := func(run string) {
		t.Helper()
		step("register", "--run-id", run, "--test", test, "--version-out", filepath.Join(dir, "version"))
		l.versions[run] = read("version")
	}
	register(read("rf-baseline.run"))
	register(l.best)

	ctx := context.Background()
	b, err := dial.FromEnv(ctx, func(k string) string {
		if k == "MLFLOW_TRACKING_URI" {
			return l.uri
		}
		return ""
	})
	if err != nil {
		t.Fatalf("dial %s: %v", l.uri, err)
	}
	t.Cleanup(func() { b.Close() })
	l.store = b.Store
	for _, name := range labTopLevel {
		run, err := l.store.GetRun(ctx, read(name+".run"))
		if err != nil {
			t.Fatalf("get run %s: %v", name, err)
		}
		l.runs[name] = run
	}
	l.expID = l.runs["rf-baseline"].Info.ExperimentID
	page, err := l.store.SearchRuns(ctx, tracking.RunQuery{ExperimentIDs: []string{l.expID}, MaxResults: 1000,
		Filter: "tags.`" + tracking.TagParentRunID + "` = '" + l.runs["rf-optimized"].Info.RunID + "'", OrderBy: []string{"attributes.start_time ASC"}})
	if err != nil {
		t.Fatalf("search rf-optimized's trials: %v", err)
	}
	for i := range page.Items {
		l.trials = append(l.trials, &page.Items[i])
	}
	if len(l.trials) < 4 {
		t.Fatalf("rf-optimized has %d nested trial runs, want 4 or more", len(l.trials))
	}
	t.Logf("the lab's steps filled %s in %v: %d trials, best run %s, versions %v", l.uri, time.Since(began).Round(time.Millisecond), len(l.trials), l.best, l.versions)
	return l
}

// waitServing waits until the server at uri answers /health.
func waitServing(t *testing.T, uri string, log *bytes.Buffer) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if res, err := http.Get(uri + "/health"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
	}
	t.Fatalf("tracking server at %s not healthy; its log:\n%s", uri, log.String())
}
