package steps_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/mlops-lab/housing/internal/testenv"
	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/dial"
)

// checkBoostRun checks what train logged for a gradient-boosting run (its
// booster params, loss histories, plots and model directory with
// model.onnx), that the model.onnx train wrote passes onnx.checker, and that
// predict scores it the same on the onnx engine as on the native one.
func checkBoostRun(t *testing.T, l *lab, b *dial.Backend, id string) {
	t.Helper()
	ctx := context.Background()
	run, err := b.Store.GetRun(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]string{"model_kind": "gradient-boosting", "max_iter": "40", "learning_rate": "0.2", "validation_fraction": "0.1",
		"max_leaf_nodes": "31", "l2_regularization": "0.0", "max_bins": "255", "subsample": "1.0", "feature_fraction": "1.0",
		"n_iter_no_change": "10", "max_depth": "None", "min_samples_leaf": "20", "early_stopping": "True"} {
		if got, _ := run.Param(p); got != want {
			t.Errorf("gb run param %s = %q, want %q", p, got, want)
		}
	}
	nIter, ok := run.Metric("n_iter")
	if !ok || nIter < 1 || nIter > 40 {
		t.Errorf("gb run n_iter = %v (%v), want 1 to 40", nIter, ok)
	}
	for _, name := range []string{"validation_loss", "train_loss", "test_loss"} {
		h, err := b.Store.GetMetricHistory(ctx, id, name, 0, "")
		if err != nil {
			t.Fatal(err)
		}
		if len(h.Items) != int(nIter) || h.Items[0].Step != 1 || h.Items[len(h.Items)-1].Step != int64(nIter) {
			t.Errorf("%s history of the gb run has %d points, want one per iteration (%v)", name, len(h.Items), nIter)
		}
	}
	if r2, _ := run.Metric("r2"); r2 < 0.7 {
		t.Errorf("gb run r2 = %.4f, want above 0.7", r2)
	}

	repo, err := b.Artifacts(ctx, run.Info.ArtifactURI)
	if err != nil {
		t.Fatal(err)
	}
	modelRepo, dir, _ := runModel(t, b, run)
	files := map[string]bool{}
	for _, d := range []struct {
		repo tracking.ArtifactRepository
		dir  string
	}{{repo, "plots"}, {modelRepo, strings.TrimSuffix(dir, "/")}} {
		list, err := d.repo.List(ctx, d.dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range list {
			files[strings.TrimPrefix(f.Path, dir)] = true
		}
	}
	for _, want := range []string{"plots/loss_curves.png", "plots/feature_importances.png", "plots/r2_vs_trees.png", "model.onnx",
		"model.bin", "conda.yaml", "python_env.yaml", "requirements.txt"} {
		if !files[want] {
			t.Errorf("gb run lacks artifact %s of its plots or model (has %v)", want, files)
		}
	}
	get := func(p string) []byte {
		rc, err := modelRepo.Get(ctx, dir+p)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		var buf bytes.Buffer
		if _, err := buf.ReadFrom(rc); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	if mlm := string(get("MLmodel")); !strings.Contains(mlm, "loader_module: mlflow.onnx") || !strings.Contains(mlm, "model_kind: gradient_boosting") {
		t.Errorf("gb run's MLmodel:\n%s", mlm)
	}

	// The model.onnx that train wrote passes onnx.checker's full check.
	onnxPath := l.path("gb-model.onnx")
	if err := os.WriteFile(onnxPath, get("model.onnx"), 0o644); err != nil {
		t.Fatal(err)
	}
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import onnx").Run(); err != nil {
		if testenv.RequireServices() {
			t.Errorf("%s with onnx (Debian python3-onnx) is needed to check model.onnx: %v", py, err)
		} else {
			t.Logf("not checking model.onnx: %s has no onnx module (%v)", py, err)
		}
	} else if out, err := exec.Command(py, "-c", "import onnx, sys; onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)", onnxPath).CombinedOutput(); err != nil {
		t.Errorf("onnx.checker refuses the model.onnx train wrote: %v\n%s", err, out)
	}

	// predict on both engines: the same scores, within the float32 output.
	uri := "runs:/" + id + "/model"
	test := l.path("parts/test.bin")
	native := l.step(true, "predict", "--model-uri", uri, "--input", test, "--output", l.path("gb-native.csv"), "--metrics-out", l.path("gb-native.json"))
	viaONNX := l.step(true, "predict", "--model-uri", uri, "--engine", "onnx", "--input", test, "--output", l.path("gb-onnx.csv"), "--metrics-out", l.path("gb-onnx.json"))
	if !strings.Contains(native, "native engine") || !strings.Contains(viaONNX, "onnx engine") {
		t.Errorf("predict does not say its engine:\nnative: %s\nonnx: %s", native, viaONNX)
	}
	var mn, mo map[string]float64
	if err := json.Unmarshal([]byte(l.read("gb-native.json")), &mn); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(l.read("gb-onnx.json")), &mo); err != nil {
		t.Fatal(err)
	}
	if len(mn) == 0 || len(mn) != len(mo) {
		t.Fatalf("metrics native %v, onnx %v", mn, mo)
	}
	for k, v := range mn {
		if abs(mo[k]-v) > 1e-6 {
			t.Errorf("predict %s: native %v, onnx %v", k, v, mo[k])
		}
	}
	if logged, _ := run.Metric("r2"); abs(mn["r2"]-logged) > 1e-9 {
		t.Errorf("predict r2 %v, the run logged %v", mn["r2"], logged)
	}
	if msg := l.step(false, "predict", "--model-uri", uri, "--engine", "tflite", "--input", test, "--output", l.path("x.csv")); !strings.Contains(msg, "tflite") {
		t.Errorf("unknown engine message: %s", msg)
	}
}
