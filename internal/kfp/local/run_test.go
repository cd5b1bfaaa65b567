package local_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mlops-lab/housing/internal/kfp"
	"github.com/mlops-lab/housing/internal/kfp/local"
)

// The test binary doubles as the step binaries: bin/<step> links to it, and
// TestMain runs fakeStep when started under a step's name.
var fakeSteps = []string{"ingest", "train", "compare", "register"}

func TestMain(m *testing.M) {
	if name := filepath.Base(os.Args[0]); slices.Contains(fakeSteps, name) {
		os.Exit(fakeStep(name, os.Args[1:]))
	}
	os.Exit(m.Run())
}

// record is what a fake step writes about its invocation to $FAKE_RECORD.
type record struct {
	Step  string            `json:"step"`
	Flags map[string]string `json:"flags"`
	Env   map[string]string `json:"env"`
	Start time.Time         `json:"start"`
	End   time.Time         `json:"end"`
}

var fakeMetric = map[string]string{"rf-baseline": "0.6469", "rf-tuned": "0.7737", "rf-optimized": "0.8062"}

// fakeStep behaves like a housing step as far as the runner can tell: it
// reads its input files, writes every --*-out file, and records its call.
func fakeStep(name string, args []string) int {
	rec := record{Step: name, Flags: map[string]string{}, Env: map[string]string{}, Start: time.Now()}
	for i := 0; i+1 < len(args); i += 2 {
		rec.Flags[strings.TrimPrefix(args[i], "--")] = args[i+1]
	}
	for _, k := range []string{"MLFLOW_TRACKING_URI", "MLFLOW_S3_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_DEFAULT_REGION"} {
		rec.Env[k] = os.Getenv(k)
	}
	fmt.Printf("fake %s starting\n", name)
	fmt.Fprintf(os.Stderr, "fake %s config=%s\n", name, rec.Flags["config"])
	if ms := os.Getenv("FAKE_SLEEP"); ms != "" && name == "train" {
		d, _ := time.ParseDuration(ms)
		time.Sleep(d)
	}
	for _, in := range []string{"train", "test"} {
		if p, ok := rec.Flags[in]; ok {
			if _, err := os.ReadFile(p); err != nil {
				fmt.Fprintln(os.Stderr, "cannot read input:", err)
				return 2
			}
		}
	}
	if f := os.Getenv("FAKE_FAIL"); f == name || f == name+":"+rec.Flags["config"] {
		fmt.Fprintln(os.Stderr, "boom: fake failure of", name)
		return 3
	}
	for flag, p := range rec.Flags {
		if !strings.HasSuffix(flag, "-out") {
			continue
		}
		content := "data from " + name + " " + flag
		switch flag {
		case "metric-out":
			content = fakeMetric[rec.Flags["config"]]
			if content == "" {
				content = "0.5"
			}
		case "run-id-out":
			content = "run-" + rec.Flags["config"]
		case "model-uri-out":
			content = "runs:/run-" + rec.Flags["config"] + "/model"
		case "best-run-id-out":
			content = "run-best"
		case "best-metric-out":
			content = "0.8062"
		case "version-out":
			content = "7"
		case "decision-out":
			content = "promoted"
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "cannot write output:", err)
			return 2
		}
	}
	rec.End = time.Now()
	b, _ := json.Marshal(rec)
	f, err := os.OpenFile(os.Getenv("FAKE_RECORD"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer f.Close()
	f.Write(append(b, '\n'))
	fmt.Printf("fake %s done\n", name)
	return 0
}

type fixture struct {
	opts    local.Options
	records string
	output  *bytes.Buffer
}

func newFixture(t *testing.T, env ...string) *fixture {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, s := range fakeSteps {
		if err := os.Symlink(self, filepath.Join(bin, s)); err != nil {
			t.Fatal(err)
		}
	}
	f := &fixture{records: filepath.Join(dir, "records.jsonl"), output: &bytes.Buffer{}}
	f.opts = local.Options{
		RunID:  "run-1",
		Root:   filepath.Join(dir, "root"),
		BinDir: bin,
		Env:    append([]string{"PATH=" + os.Getenv("PATH"), "FAKE_RECORD=" + f.records}, env...),
		Output: f.output,
	}
	return f
}

func (f *fixture) calls(t *testing.T) []record {
	t.Helper()
	file, err := os.Open(f.records)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	var out []record
	sc := bufio.NewScanner(file)
	for sc.Scan() {
		var r record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

func byStep(recs []record, step string) []record {
	var out []record
	for _, r := range recs {
		if r.Step == step {
			out = append(out, r)
		}
	}
	return out
}

func housing(t *testing.T) kfp.Document {
	t.Helper()
	doc, err := kfp.HousingPipeline()
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func taskByPath(res *local.Result, path string) (local.TaskResult, bool) {
	for _, tr := range res.Tasks {
		if tr.Path == path {
			return tr, true
		}
	}
	return local.TaskResult{}, false
}

func TestRunHousingPipeline(t *testing.T) {
	f := newFixture(t, "MLFLOW_TRACKING_URI=http://127.0.0.1:5999", "AWS_ACCESS_KEY_ID=minio")
	f.opts.Params = map[string]string{"data_uri": "/data/cal_housing.data"}
	res, err := local.Run(context.Background(), housing(t), f.opts)
	if err != nil {
		t.Fatalf("Run: %v\noutput:\n%s", err, f.output)
	}

	for _, p := range []string{"ingest", "for-loop-1", "for-loop-1/0/train", "for-loop-1/1/train", "for-loop-1/2/train", "compare", "register"} {
		tr, ok := taskByPath(res, p)
		if !ok || tr.Status != local.Succeeded {
			t.Errorf("task %s: %+v, want SUCCEEDED", p, tr)
		}
	}
	if got := kfp.Text(res.Outputs["best_run_id"]); got != "run-best" {
		t.Errorf("pipeline output best_run_id = %q", got)
	}
	if got := kfp.Text(res.Outputs["model_version"]); got != "7" {
		t.Errorf("pipeline output model_version = %q", got)
	}
	if got := res.Outputs["best_metric"].GetNumberValue(); got != 0.8062 {
		t.Errorf("pipeline output best_metric = %v, want the number 0.8062", got)
	}
	tr, _ := taskByPath(res, "for-loop-1/1/train")
	if got := tr.Parameters["metric_value"].GetNumberValue(); got != 0.7737 {
		t.Errorf("rf-tuned metric_value = %v", got)
	}

	calls := f.calls(t)
	ingest, trains, compare, register := byStep(calls, "ingest"), byStep(calls, "train"), byStep(calls, "compare"), byStep(calls, "register")
	if len(ingest) != 1 || len(trains) != 3 || len(compare) != 1 || len(register) != 1 {
		t.Fatalf("calls: %d ingest, %d train, %d compare, %d register", len(ingest), len(trains), len(compare), len(register))
	}
	if got := ingest[0].Flags["data"]; got != "/data/cal_housing.data" {
		t.Errorf("ingest --data %q", got)
	}
	var configs []string
	for _, tr := range trains {
		configs = append(configs, tr.Flags["config"])
		if tr.Start.Before(ingest[0].End) {
			t.Errorf("train %s started before ingest ended", tr.Flags["config"])
		}
		if compare[0].Start.Before(tr.End) {
			t.Errorf("compare started before train %s ended", tr.Flags["config"])
		}
		if tr.Flags["train"] != ingest[0].Flags["train-out"] || tr.Flags["test"] != ingest[0].Flags["test-out"] {
			t.Errorf("train got --train %s --test %s, ingest wrote %s %s", tr.Flags["train"], tr.Flags["test"], ingest[0].Flags["train-out"], ingest[0].Flags["test-out"])
		}
		if tr.Flags["experiment-name"] != kfp.DefaultExperiment || tr.Flags["seed"] != "42" {
			t.Errorf("train flags %v", tr.Flags)
		}
	}
	slices.Sort(configs)
	want := kfp.DefaultSweep()
	slices.Sort(want)
	if !slices.Equal(configs, want) {
		t.Errorf("trained configs %v, want %v", configs, want)
	}
	if register[0].Start.Before(compare[0].End) {
		t.Error("register started before compare ended")
	}
	if register[0].Flags["run-id"] != "run-best" || register[0].Flags["margin"] != "0" || register[0].Flags["model-name"] != kfp.DefaultModelName {
		t.Errorf("register flags %v", register[0].Flags)
	}
	wantOut := filepath.Join(f.opts.Root, "run-1", "ingest", "artifacts", "train")
	if ingest[0].Flags["train-out"] != wantOut {
		t.Errorf("ingest --train-out %s, want %s", ingest[0].Flags["train-out"], wantOut)
	}

	// The caller's environment wins; the container's values fill the gaps.
	for _, c := range calls {
		if c.Env["MLFLOW_TRACKING_URI"] != "http://127.0.0.1:5999" {
			t.Errorf("%s saw MLFLOW_TRACKING_URI=%q", c.Step, c.Env["MLFLOW_TRACKING_URI"])
		}
		if c.Env["MLFLOW_S3_ENDPOINT_URL"] != kfp.S3EndpointURL {
			t.Errorf("%s saw MLFLOW_S3_ENDPOINT_URL=%q", c.Step, c.Env["MLFLOW_S3_ENDPOINT_URL"])
		}
		if c.Env["AWS_ACCESS_KEY_ID"] != "minio" {
			t.Errorf("%s saw AWS_ACCESS_KEY_ID=%q", c.Step, c.Env["AWS_ACCESS_KEY_ID"])
		}
	}

	log, err := os.ReadFile(filepath.Join(f.opts.Root, "run-1", "for-loop-1", "0", "train", "log"))
	if err != nil || !strings.Contains(string(log), "fake train done") {
		t.Errorf("train log: %q, %v", log, err)
	}
	if !strings.Contains(f.output.String(), "[for-loop-1/2/train] fake train config=") {
		t.Errorf("output lacks prefixed train lines:\n%s", f.output)
	}
	if !strings.Contains(f.output.String(), "note: AWS_SECRET_ACCESS_KEY comes from a Kubernetes secret") {
		t.Errorf("output does not note the missing secret variable:\n%s", f.output)
	}
}

func TestRunParams(t *testing.T) {
	f := newFixture(t)
	f.opts.Params = map[string]string{"data_uri": "d", "sweep": "linear,rf-tuned", "promotion_margin": "0.05", "metric": "mse"}
	if _, err := local.Run(context.Background(), housing(t), f.opts); err != nil {
		t.Fatalf("Run: %v\n%s", err, f.output)
	}
	calls := f.calls(t)
	var configs []string
	for _, tr := range byStep(calls, "train") {
		configs = append(configs, tr.Flags["config"])
		if tr.Flags["metric"] != "mse" {
			t.Errorf("train --metric %q", tr.Flags["metric"])
		}
	}
	slices.Sort(configs)
	if !slices.Equal(configs, []string{"linear", "rf-tuned"}) {
		t.Errorf("trained %v", configs)
	}
	if reg := byStep(calls, "register"); len(reg) != 1 || reg[0].Flags["margin"] != "0.05" {
		t.Errorf("register calls %v", reg)
	}

	f.opts.Params = map[string]string{"data_uri": "d", "sweep": `["a", "b", "c", "d"]`}
	f.opts.RunID = "run-2"
	if _, err := local.Run(context.Background(), housing(t), f.opts); err != nil {
		t.Fatalf("Run with a JSON sweep: %v", err)
	}
	if n := len(byStep(f.calls(t), "train")); n != 2+4 {
		t.Errorf("%d train calls after the second run, want 6", n)
	}
}

func TestRunRejectsBadInput(t *testing.T) {
	f := newFixture(t)
	cases := map[string]map[string]string{
		"unknown parameter": {"data_uri": "d", "nope": "1"},
		"not a number":      {"data_uri": "d", "promotion_margin": "high"},
	}
	for name, params := range cases {
		t.Run(name, func(t *testing.T) {
			f.opts.Params = params
			if _, err := local.Run(context.Background(), housing(t), f.opts); err == nil {
				t.Fatal("Run accepted it")
			}
			if calls := f.calls(t); len(calls) != 0 {
				t.Fatalf("steps ran: %v", calls)
			}
		})
	}
}

// maxOverlap is the largest number of calls running at one moment.
func maxOverlap(recs []record) int {
	best := 0
	for _, a := range recs {
		n := 0
		for _, b := range recs {
			if !b.Start.After(a.Start) && b.End.After(a.Start) {
				n++
			}
		}
		best = max(best, n)
	}
	return best
}

func TestRunParallelForLimit(t *testing.T) {
	for _, limit := range []int32{1, 2} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			f := newFixture(t, "FAKE_SLEEP=60ms")
			doc := housing(t)
			doc.Spec.Root.GetDag().Tasks["for-loop-1"].IteratorPolicy.ParallelismLimit = limit
			f.opts.Params = map[string]string{"data_uri": "d", "sweep": "a,b,c,d"}
			f.opts.Parallelism = 8
			if _, err := local.Run(context.Background(), doc, f.opts); err != nil {
				t.Fatal(err)
			}
			trains := byStep(f.calls(t), "train")
			if len(trains) != 4 {
				t.Fatalf("%d trains", len(trains))
			}
			if got := maxOverlap(trains); got > int(limit) {
				t.Errorf("%d trains ran at once, limit %d", got, limit)
			}
		})
	}
}

func TestRunGlobalParallelism(t *testing.T) {
	f := newFixture(t, "FAKE_SLEEP=40ms")
	f.opts.Params = map[string]string{"data_uri": "d"}
	f.opts.Parallelism = 1
	if _, err := local.Run(context.Background(), housing(t), f.opts); err != nil {
		t.Fatal(err)
	}
	if got := maxOverlap(f.calls(t)); got != 1 {
		t.Errorf("%d steps ran at once with Parallelism 1", got)
	}
}

func TestRunFailureStopsDependants(t *testing.T) {
	f := newFixture(t, "FAKE_FAIL=train:rf-tuned")
	f.opts.Params = map[string]string{"data_uri": "d"}
	res, err := local.Run(context.Background(), housing(t), f.opts)
	if !errors.Is(err, local.ErrTaskFailed) {
		t.Fatalf("Run error %v, want ErrTaskFailed", err)
	}
	var te *local.TaskError
	if !errors.As(err, &te) || te.Task != "for-loop-1/1/train" || !strings.Contains(te.LogTail, "boom: fake failure of train") {
		t.Fatalf("error %v does not carry the failed task's log tail (%+v)", err, te)
	}
	failed := res.Failed()
	var paths []string
	for _, tr := range failed {
		paths = append(paths, tr.Path)
	}
	if !slices.Equal(paths, []string{"for-loop-1", "for-loop-1/1/train"}) {
		t.Errorf("failed tasks %v", paths)
	}
	for _, p := range []string{"for-loop-1/0/train", "for-loop-1/2/train"} {
		if tr, _ := taskByPath(res, p); tr.Status != local.Succeeded {
			t.Errorf("%s: %s, want the other iterations to finish", p, tr.Status)
		}
	}
	for _, p := range []string{"compare", "register"} {
		if tr, _ := taskByPath(res, p); tr.Status != local.Skipped {
			t.Errorf("%s: %q, want SKIPPED", p, tr.Status)
		}
	}
	calls := f.calls(t)
	if n := len(byStep(calls, "compare")) + len(byStep(calls, "register")); n != 0 {
		t.Errorf("compare/register ran %d times after a failed train", n)
	}
}

func TestRunMissingBinary(t *testing.T) {
	f := newFixture(t)
	if err := os.Remove(filepath.Join(f.opts.BinDir, "compare")); err != nil {
		t.Fatal(err)
	}
	f.opts.Params = map[string]string{"data_uri": "d"}
	res, err := local.Run(context.Background(), housing(t), f.opts)
	if err == nil || !strings.Contains(err.Error(), "no binary") {
		t.Fatalf("Run error %v, want one about the missing binary", err)
	}
	if tr, _ := taskByPath(res, "register"); tr.Status != local.Skipped {
		t.Errorf("register %q, want SKIPPED", tr.Status)
	}
}
