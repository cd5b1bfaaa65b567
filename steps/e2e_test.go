// Package steps_test runs the pipeline steps as the real binaries, end to end,
// against a sqlite:/// tracking URI and against our tracking server over HTTP with
// artifacts on S3 (versitygw), and reads back what they left in the tracking store.
package steps_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/mlops-lab/housing/dataset"
	"github.com/mlops-lab/housing/internal/testenv"
	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/dial"
)

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// binaries builds the step binaries and the tracking server once per test run.
func binaries(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "housing-steps-bin-")
		if buildErr != nil {
			return
		}
		args := []string{"build", "-o", binDir + "/"}
		for _, s := range []string{"ingest", "train", "compare", "register", "predict"} {
			args = append(args, "github.com/mlops-lab/housing/steps/"+s)
		}
		args = append(args, "github.com/mlops-lab/housing/cmd/tracking-server", "github.com/mlops-lab/housing/cmd/pipeline")
		out, err := exec.Command("go", args...).CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binDir
}

// lab is one environment the steps run in.
type lab struct {
	t   *testing.T
	bin string
	dir string
	env []string
}

// step runs a step binary and returns its stderr; it fails the test unless the
// exit status is as wanted.
func (l *lab) step(wantOK bool, name string, args ...string) string {
	l.t.Helper()
	cmd := exec.Command(filepath.Join(l.bin, name), args...)
	cmd.Dir = l.dir
	cmd.Env = l.env
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	err := cmd.Run()
	if wantOK && err != nil {
		l.t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	if !wantOK && err == nil {
		l.t.Fatalf("%s %s succeeded, want a failure\n%s", name, strings.Join(args, " "), stderr.String())
	}
	return stderr.String()
}

func (l *lab) path(name string) string { return filepath.Join(l.dir, name) }

func (l *lab) read(name string) string {
	l.t.Helper()
	b, err := os.ReadFile(l.path(name))
	if err != nil {
		l.t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// backend opens the same tracking backend the steps used, to read back what they did.
func (l *lab) backend() *dial.Backend {
	l.t.Helper()
	getenv := func(k string) string {
		for _, kv := range l.env {
			if v, ok := strings.CutPrefix(kv, k+"="); ok {
				return v
			}
		}
		return ""
	}
	prev, _ := os.Getwd()
	os.Chdir(l.dir) // the embedded default's relative paths are relative to the steps' directory
	defer os.Chdir(prev)
	b, err := dial.FromEnv(context.Background(), getenv)
	if err != nil {
		l.t.Fatal(err)
	}
	l.t.Cleanup(func() { b.Close() })
	return b
}

func sharedData(t *testing.T) string {
	p, ok := dataset.SharedDataPath()
	if !ok {
		t.Skip("the shared data (../shared/data/cal_housing.data) is not here")
	}
	return p
}

func baseEnv(extra ...string) []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	return append(env, extra...)
}

func TestStepsEmbeddedSQLite(t *testing.T) {
	if testing.Short() {
		t.Skip("trains forests; skipped in -short")
	}
	data := sharedData(t)
	dir := t.TempDir()
	l := &lab{t: t, bin: binaries(t), dir: dir, env: baseEnv("MLFLOW_TRACKING_URI=sqlite:///" + filepath.Join(dir, "mlflow.db"))}
	runLab(t, l, data)
}

func TestStepsServerWithS3(t *testing.T) {
	if testing.Short() {
		t.Skip("trains forests; skipped in -short")
	}
	data := sharedData(t)
	s3, bucket := testenv.S3Bucket(t)
	bin := binaries(t)
	dir := t.TempDir()
	port, err := testenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	s3env := []string{"MLFLOW_S3_ENDPOINT_URL=" + s3.URL(), "AWS_ACCESS_KEY_ID=" + s3.AccessKey, "AWS_SECRET_ACCESS_KEY=" + s3.SecretKey, "AWS_DEFAULT_REGION=" + s3.Region}
	server := exec.Command(filepath.Join(bin, "tracking-server"), "--host", "127.0.0.1", "--port", strconv.Itoa(port),
		"--backend-store-uri", "sqlite:///"+filepath.Join(dir, "server.db"), "--artifacts-destination", "s3://"+bucket+"/mlartifacts")
	server.Env = baseEnv(s3env...)
	var serverLog bytes.Buffer
	server.Stdout, server.Stderr = &serverLog, &serverLog
	server.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := server.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Process.Signal(syscall.SIGTERM); server.Wait() })
	uri := fmt.Sprintf("http://127.0.0.1:%d", port)
	waitHealthy(t, uri, &serverLog)

	// The steps reach artifacts through the server's proxy: they need no S3 credentials.
	l := &lab{t: t, bin: bin, dir: dir, env: baseEnv("MLFLOW_TRACKING_URI=" + uri)}
	runLab(t, l, data)

	// The artifacts are in the bucket, under the layout MLflow's server uses.
	c, err := s3.Client()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for obj := range c.ListObjects(context.Background(), bucket, minio.ListObjectsOptions{Prefix: "mlartifacts/", Recursive: true}) {
		if obj.Err != nil {
			t.Fatal(obj.Err)
		}
		// A run's model/MLmodel (MLflow 2.x) or a logged model's (MLflow 3).
		if strings.HasSuffix(obj.Key, "/artifacts/model/MLmodel") || strings.Contains(obj.Key, "/models/m-") && strings.HasSuffix(obj.Key, "/artifacts/MLmodel") {
			n++
		}
	}
	if n < 3 {
		t.Errorf("found %d MLmodel files in s3://%s/mlartifacts, want at least 3", n, bucket)
	}
}

func waitHealthy(t *testing.T, uri string, log *bytes.Buffer) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(uri + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("tracking server at %s not healthy; its log:\n%s", uri, log.String())
}

// runLab runs the lab's steps and checks what they leave behind.
func runLab(t *testing.T, l *lab, data string) {
	ctx := context.Background()
	l.step(true, "ingest", "--data", data, "--train-out", l.path("parts/train.bin"), "--test-out", l.path("parts/test.bin"), "--summary-out", l.path("parts/summary.json"))
	var summary struct {
		Rows      int `json:"rows"`
		TrainRows int `json:"train_rows"`
	}
	json.Unmarshal([]byte(l.read("parts/summary.json")), &summary)
	if summary.Rows != 20640 || summary.TrainRows != 16512 {
		t.Errorf("ingest summary rows = %d, train rows %d; want 20640 and 16512", summary.Rows, summary.TrainRows)
	}

	b := l.backend()
	store := b.Store
	ingestRuns, err := store.SearchRuns(ctx, tracking.RunQuery{ExperimentIDs: []string{"1"}, Filter: "tags.`housing.step` = 'ingest'"})
	if err != nil || len(ingestRuns.Items) != 1 || len(ingestRuns.Items[0].Inputs) != 3 {
		t.Fatalf("ingest run with 3 data set inputs: %+v, %v", ingestRuns.Items, err)
	}
	if d := ingestRuns.Items[0].Inputs[0].Dataset; d.Schema == "" || d.Profile == "" || d.Digest == "" {
		t.Errorf("ingest's data set input lacks schema, profile or digest: %+v", d)
	}

	parts := []string{"--train", l.path("parts/train.bin"), "--test", l.path("parts/test.bin")}
	train := func(config string, extra ...string) string {
		args := append(append([]string{}, parts...), "--config", config, "--run-id-out", l.path(config+".run"), "--model-uri-out", l.path(config+".uri"), "--metric-out", l.path(config+".r2"))
		l.step(true, "train", append(args, extra...)...)
		return l.read(config + ".run")
	}
	// A worse model first, so the better one must win the gate later.
	linearRun := train("linear")
	baselineRun := train("rf-baseline")
	// A tiny search stands in for rf-optimized: nested trial runs, the winner refit.
	sweep := l.path("sweep.yaml")
	os.WriteFile(sweep, []byte("configs:\n  - name: rf-search\n    kind: random-forest\n    search: {candidates: 3, folds: 2, min_trees: 4, n_estimators: [12], max_depth: [6, 8], max_features: [\"1.0\", \"0.5\"], min_samples_leaf: [1], min_samples_split: [2]}\n"), 0o644)
	searchRun := train("rf-search", "--config-file", sweep)
	// Gradient boosting from flags alone, small for speed, with early
	// stopping on so that it has a validation loss.
	l.step(true, "train", append(append([]string{}, parts...), "--model-kind", "gradient-boosting", "--max-iter", "40", "--learning-rate", "0.2",
		"--validation-fraction", "0.1", "--run-name", "gb-small", "--run-id-out", l.path("gb.run"), "--metric-out", l.path("gb.r2"))...)
	gbRun := l.read("gb.run")
	if msg := l.step(false, "train", append(append([]string{}, parts...), "--model-kind", "gradient-boosting", "--max-bins", "300")...); !strings.Contains(msg, "max_bins 300") {
		t.Errorf("bad max_bins message: %s", msg)
	}

	for _, id := range []string{linearRun, baselineRun, searchRun, gbRun} {
		run, err := store.GetRun(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if run.Info.Status != tracking.RunFinished {
			t.Errorf("run %s (%s) is %s, want FINISHED", run.Info.RunName, id, run.Info.Status)
		}
		for _, p := range []string{"model_kind", "seed", "train_digest", "train_rows"} {
			if _, ok := run.Param(p); !ok {
				t.Errorf("run %s lacks param %s", run.Info.RunName, p)
			}
		}
		for _, m := range []string{"r2", "rmse", "mae", "mse", "explained_variance", "train_r2", "fit_seconds", "predict_seconds"} {
			if _, ok := run.Metric(m); !ok {
				t.Errorf("run %s lacks metric %s", run.Info.RunName, m)
			}
		}
		if len(run.Inputs) != 2 {
			t.Errorf("run %s has %d data set inputs, want 2 (train, test)", run.Info.RunName, len(run.Inputs))
		}
		checkArtifacts(t, b, run)
	}
	base, _ := store.GetRun(ctx, baselineRun)
	digests := map[string]string{}
	for _, in := range ingestRuns.Items[0].Inputs {
		digests[in.Dataset.Name] = in.Dataset.Digest
	}
	for _, in := range base.Inputs {
		if want := digests[in.Dataset.Name]; want == "" || in.Dataset.Digest != want {
			t.Errorf("training run's input %s has digest %q, ingest logged %q: they should be one data set", in.Dataset.Name, in.Dataset.Digest, want)
		}
	}
	if r2, _ := base.Metric("r2"); r2 < 0.62 || r2 > 0.68 {
		t.Errorf("rf-baseline r2 = %.4f, want about scikit-learn's 0.6469", r2)
	}
	if v, _ := base.Param("n_estimators"); v != "50" {
		t.Errorf("rf-baseline n_estimators param = %q", v)
	}
	hist, err := store.GetMetricHistory(ctx, baselineRun, "r2", 0, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(hist.Items) < 20 || hist.Items[len(hist.Items)-1].Step != 50 {
		t.Errorf("r2 history of rf-baseline has %d points, last step %v; want one per tree count up to 50", len(hist.Items), hist.Items)
	}
	checkBoostRun(t, l, b, gbRun)

	children, err := store.SearchRuns(ctx, tracking.RunQuery{ExperimentIDs: []string{base.Info.ExperimentID}, Filter: fmt.Sprintf("tags.`mlflow.parentRunId` = '%s'", searchRun)})
	if err != nil {
		t.Fatal(err)
	}
	if len(children.Items) < 3 {
		t.Errorf("search run has %d nested trial runs, want at least 3", len(children.Items))
	}

	// compare names the best run; the linear model is listed but not best.
	l.step(true, "compare", "--table-md-out", l.path("cmp/table.md"), "--table-csv-out", l.path("cmp/table.csv"), "--chart-out", l.path("cmp/chart.png"), "--best-run-id-out", l.path("cmp/best"))
	best := l.read("cmp/best")
	if best == linearRun {
		t.Errorf("compare picked the linear run as best")
	}
	if md := l.read("cmp/table.md"); !strings.Contains(md, "rf-baseline") || !strings.Contains(md, "linear") {
		t.Errorf("comparison table lacks runs:\n%s", md)
	}
	checkPNG(t, l.path("cmp/chart.png"))
	l.step(true, "compare", "--metric", "rmse", "--direction", "min", "--best-run-id-out", l.path("cmp/best-rmse"))
	if got := l.read("cmp/best-rmse"); got != best {
		t.Errorf("best by rmse (min) = %s, best by r2 (max) = %s; want the same run", got, best)
	}

	// The gate: the linear model first becomes champion (there is none); rf-baseline
	// beats it, is promoted and archives it; the linear model again is no new
	// version and, being worse, stays in Staging as the challenger.
	reg := func(run string) map[string]any {
		l.step(true, "register", "--run-id", run, "--test", l.path("parts/test.bin"), "--decision-out", l.path("decision.json"), "--version-out", l.path("version"))
		var d map[string]any
		json.Unmarshal([]byte(l.read("decision.json")), &d)
		return d
	}
	d := reg(linearRun)
	if d["stage"] != "Production" || d["version"] != "1" {
		t.Fatalf("first registration: %v", d)
	}
	d = reg(baselineRun)
	if d["stage"] != "Production" || d["version"] != "2" || !slices.Contains(toStrings(d["aliases"]), "champion") {
		t.Fatalf("better model: %v, want version 2 in Production as champion", d)
	}
	v1, err := store.GetModelVersion(ctx, "california-housing", "1")
	if err != nil {
		t.Fatal(err)
	}
	if v1.CurrentStage != tracking.StageArchived {
		t.Errorf("old champion is %s, want Archived", v1.CurrentStage)
	}
	if tagOf(v1.Tags, "housing.production.replaced_by") != "2" {
		t.Errorf("old champion's tags %v do not record its replacement", v1.Tags)
	}
	d = reg(linearRun)
	if d["version"] != "1" || d["reused"] != true || d["stage"] != "Staging" || !slices.Contains(toStrings(d["aliases"]), "challenger") {
		t.Errorf("re-registering the worse run %s: %v, want version 1 reused, in Staging as challenger", linearRun, d)
	}
	if v1, _ = store.GetModelVersion(ctx, "california-housing", "1"); tagOf(v1.Tags, "housing.gate.decision") != "held" || !strings.Contains(tagOf(v1.Tags, "housing.gate.reason"), "does not beat") {
		t.Errorf("held version's tags %v do not record the decision", v1.Tags)
	}
	d = reg(best)
	vb, err := store.GetModelVersion(ctx, "california-housing", fmt.Sprint(d["version"]))
	if err != nil {
		t.Fatal(err)
	}
	switch decision := tagOf(vb.Tags, "housing.gate.decision"); {
	case best == baselineRun && decision != "unchanged":
		t.Errorf("registering the champion's run again: decision %q, want unchanged", decision)
	case best != baselineRun && (decision != "promoted" || vb.CurrentStage != tracking.StageProduction):
		t.Errorf("the best run's version %s: decision %q, stage %s; want promoted to Production", vb.Version, decision, vb.CurrentStage)
	}
	prod, err := store.GetLatestVersions(ctx, "california-housing", []tracking.Stage{tracking.StageProduction})
	if err != nil || len(prod) != 1 {
		t.Fatalf("Production versions: %v, %v; want exactly one", prod, err)
	}

	// predict with the champion, on the test part (which has the target).
	l.step(true, "predict", "--model-uri", "models:/california-housing@champion", "--input", l.path("parts/test.bin"), "--output", l.path("pred.csv"), "--metrics-out", l.path("pred.json"))
	var pm struct{ R2 float64 }
	json.Unmarshal([]byte(l.read("pred.json")), &pm)
	champ, _ := store.GetModelVersionByAlias(ctx, "california-housing", "champion")
	champRun, _ := store.GetRun(ctx, champ.RunID)
	if want, _ := champRun.Metric("r2"); abs(pm.R2-want) > 1e-9 {
		t.Errorf("predict r2 %.6f, the champion's run logged %.6f", pm.R2, want)
	}
	if lines := strings.Count(l.read("pred.csv"), "\n"); lines != 4128 {
		t.Errorf("pred.csv has %d lines after the header, want 4128", lines)
	}
	l.step(true, "predict", "--model-uri", "models:/california-housing/1", "--input", l.path("parts/test.bin"), "--output", l.path("pred1.csv"))

	// Failures: a bad config is refused before any run; a fit that fails inside the
	// run leaves it FAILED with the error as a tag.
	if msg := l.step(false, "train", append(parts, "--config", "nope")...); !strings.Contains(msg, `no config named "nope"`) {
		t.Errorf("unknown config message: %s", msg)
	}
	broken := l.path("parts/broken.bin")
	whole, _ := os.ReadFile(l.path("parts/test.bin"))
	os.WriteFile(broken, whole[:len(whole)/2], 0o644)
	msg := l.step(false, "train", "--train", l.path("parts/train.bin"), "--test", broken, "--config", "rf-baseline", "--run-name", "doomed")
	failed, err := store.SearchRuns(ctx, tracking.RunQuery{ExperimentIDs: []string{base.Info.ExperimentID}, Filter: "attributes.run_name = 'doomed'"})
	if err != nil || len(failed.Items) != 1 {
		t.Fatalf("doomed run: %v, %v (step said %s)", failed.Items, err, msg)
	}
	if r := failed.Items[0]; r.Info.Status != tracking.RunFailed || !strings.Contains(tagOf(r.Data.Tags, "housing.error"), "broken.bin") {
		t.Errorf("doomed run is %s with tags %v, want FAILED with housing.error naming the file", r.Info.Status, r.Data.Tags)
	}
	if msg := l.step(false, "register", "--run-id", "0123456789abcdef0123456789abcdef"); !strings.Contains(msg, "0123456789abcdef0123456789abcdef") {
		t.Errorf("register of a missing run: %s", msg)
	}
	if msg := l.step(false, "predict", "--model-uri", "models:/california-housing@nobody", "--input", l.path("parts/test.bin"), "--output", l.path("x.csv")); !strings.Contains(msg, "nobody") {
		t.Errorf("predict with an unknown alias: %s", msg)
	}
}

// checkArtifacts checks a training run's plots and model directory.
func checkArtifacts(t *testing.T, b *dial.Backend, run *tracking.Run) {
	t.Helper()
	repo, err := b.Artifacts(context.Background(), run.Info.ArtifactURI)
	if err != nil {
		t.Fatal(err)
	}
	plots, err := repo.List(context.Background(), "plots")
	if err != nil {
		t.Fatal(err)
	}
	if len(plots) < 2 {
		t.Errorf("run %s has %d plots, want at least 2", run.Info.RunName, len(plots))
	}
	for _, p := range plots {
		rc, err := repo.Get(context.Background(), p.Path)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(rc)
		rc.Close()
		if err != nil {
			t.Errorf("%s of run %s is not a PNG: %v", p.Path, run.Info.RunName, err)
			continue
		}
		if w, h := img.Bounds().Dx(), img.Bounds().Dy(); w < 300 || h < 200 || w > 3000 || h > 3000 {
			t.Errorf("%s is %dx%d", p.Path, w, h)
		}
	}
	modelRepo, dir, loggedModel := runModel(t, b, run)
	model, err := modelRepo.List(context.Background(), strings.TrimSuffix(dir, "/"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range model {
		names = append(names, filepath.Base(f.Path))
	}
	if !slices.Contains(names, "MLmodel") || !slices.Contains(names, "input_example.json") {
		t.Errorf("model of run %s holds %v", run.Info.RunName, names)
	}
	if loggedModel {
		return // MLflow 3 keeps no log-model history on the run
	}
	if h, ok := run.Tag(tracking.TagLogModelHist); !ok || !strings.Contains(h, run.Info.RunID) {
		t.Errorf("run %s has no log-model history naming it: %q", run.Info.RunName, h)
	}
}

// runModel returns where train put a run's model: the artifacts of the logged
// model the run produced when the backend keeps logged models (MLflow 3; dir
// ""), else the run's artifacts under dir "model/".
func runModel(t *testing.T, b *dial.Backend, run *tracking.Run) (repo tracking.ArtifactRepository, dir string, loggedModel bool) {
	t.Helper()
	ctx := context.Background()
	lms, err := tracking.LoggedModels(ctx, b.Store)
	if err != nil {
		t.Fatal(err)
	}
	uri, dir := run.Info.ArtifactURI, "model/"
	if lms != nil {
		page, err := lms.SearchLoggedModels(ctx, tracking.LoggedModelQuery{ExperimentIDs: []string{run.Info.ExperimentID}, Filter: "name = 'model'"})
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(page.Items, func(m tracking.LoggedModel) bool { return m.SourceRunID == run.Info.RunID })
		if i < 0 {
			t.Fatalf("run %s produced no logged model: %+v", run.Info.RunName, page.Items)
		}
		uri, dir = page.Items[i].ArtifactLocation, ""
	}
	repo, err = b.Artifacts(ctx, uri)
	if err != nil {
		t.Fatal(err)
	}
	return repo, dir, lms != nil
}

func checkPNG(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := png.Decode(f); err != nil {
		t.Errorf("%s: %v", path, err)
	}
}

func tagOf(tags []tracking.Tag, key string) string {
	for _, t := range tags {
		if t.Key == key {
			return t.Value
		}
	}
	return ""
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, fmt.Sprint(x))
	}
	return out
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
