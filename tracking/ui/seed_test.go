package ui_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mlops-lab/housing/learn/linear"
	"github.com/mlops-lab/housing/learn/mlmodel"
	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/artifacts"
	"github.com/mlops-lab/housing/tracking/sqlstore"
	"github.com/mlops-lab/housing/tracking/ui"
)

// lab is a UI over a real SQLite store seeded like the housing lab: experiment
// california-housing with runs rf-baseline, rf-tuned and rf-optimized (params,
// metric histories and one-point metrics, tags, a data set input, a PNG plot, an
// MLmodel and a few files that must never be served inline), rf-optimized's
// search trials nested under it as steps/train logs them (tag
// mlflow.parentRunId, cv_r2 at the trial's round), and a registered model with
// two versions, the second one carrying the promotion gate's tags.
type lab struct {
	store   *sqlstore.Store
	handler http.Handler
	expID   string
	runs    map[string]*tracking.Run // the three top-level runs, by name
	trials  []*tracking.Run          // rf-optimized's nested runs, in the order logged
	model   string
}

// searchTrials are rf-optimized's nested runs: successive halving, round 1 then
// the survivors in round 2, as steps/train names and logs them.
var searchTrials = []struct {
	name         string
	trees, depth string
	round        int64
	cvR2         float64
	survived     bool
}{
	{"rf-optimized-trial-1-r1", "150", "20", 1, 0.7912, false},
	{"rf-optimized-trial-2-r1", "200", "30", 1, 0.8031, true},
	{"rf-optimized-trial-3-r1", "150", "0", 1, 0.7988, false},
	{"rf-optimized-trial-4-r1", "300", "20", 1, 0.8057, true},
	{"rf-optimized-trial-2-r2", "200", "30", 2, 0.8079, false},
	{"rf-optimized-trial-4-r2", "300", "20", 2, 0.8102, true},
}

// runSpec is one seeded run.
type runSpec struct {
	name     string
	params   map[string]string
	r2, mse  float64
	status   tracking.RunStatus
	duration time.Duration
}

var labRuns = []runSpec{
	{"rf-baseline", map[string]string{"n_estimators": "50", "max_depth": "5", "model_type": "random_forest"}, 0.6469, 0.4627, tracking.RunFinished, 2 * time.Second},
	{"rf-tuned", map[string]string{"n_estimators": "100", "max_depth": "10", "model_type": "random_forest"}, 0.7737, 0.2965, tracking.RunFinished, 5 * time.Second},
	{"rf-optimized", map[string]string{"n_estimators": "300", "max_depth": "20", "model_type": "random_forest"}, 0.8145, 0.2430, tracking.RunFinished, 9 * time.Second},
}

const modelName = "california-housing-rf"

// t0 is the seeded lab's clock.
var t0 = time.Date(2024, 11, 5, 10, 0, 0, 0, time.UTC)

func newLab(t testing.TB) *lab {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	store, err := sqlstore.Open(ctx, "sqlite:///"+filepath.Join(dir, "mlflow.db"), sqlstore.Options{
		DefaultArtifactRoot: filepath.Join(dir, "mlruns"),
		Now:                 func() time.Time { return t0 },
		Logger:              slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { store.Close() })
	l := &lab{store: store, runs: map[string]*tracking.Run{}, model: modelName}
	l.expID, err = store.CreateExperiment(ctx, "california-housing", "", []tracking.Tag{{Key: "project", Value: "housing"}})
	if err != nil {
		t.Fatalf("create experiment: %v", err)
	}
	if _, err := store.CreateExperiment(ctx, "scratch", "", nil); err != nil {
		t.Fatalf("create experiment: %v", err)
	}
	for i, spec := range labRuns {
		start := t0.Add(time.Duration(i) * time.Minute)
		run, err := store.CreateRun(ctx, tracking.CreateRun{
			ExperimentID: l.expID, RunName: spec.name, UserID: "lab", StartTime: start.UnixMilli(),
			Tags: []tracking.Tag{{Key: "stage", Value: "train"}, {Key: tracking.TagSourceName, Value: "steps/train"}},
		})
		if err != nil {
			t.Fatalf("create run %s: %v", spec.name, err)
		}
		id := run.Info.RunID
		var params []tracking.Param
		for k, v := range spec.params {
			params = append(params, tracking.Param{Key: k, Value: v})
		}
		var metrics []tracking.Metric
		for step := int64(0); step < 5; step++ {
			// A history that improves towards the final values.
			frac := float64(step+1) / 5
			metrics = append(metrics,
				tracking.Metric{Key: "r2", Value: spec.r2 * (0.8 + 0.2*frac), Step: step, Timestamp: start.UnixMilli() + step*100},
				tracking.Metric{Key: "mse", Value: spec.mse * (1.4 - 0.4*frac), Step: step, Timestamp: start.UnixMilli() + step*100})
		}
		// One-point metrics, as the lab logs most of them.
		metrics = append(metrics,
			tracking.Metric{Key: "rmse", Value: math.Sqrt(spec.mse), Timestamp: start.UnixMilli() + 500},
			tracking.Metric{Key: "train_r2", Value: math.Min(1, spec.r2*1.1), Timestamp: start.UnixMilli() + 500})
		if err := store.LogBatch(ctx, id, metrics, params, []tracking.Tag{{Key: "data.split", Value: "80/20"}}); err != nil {
			t.Fatalf("log batch %s: %v", spec.name, err)
		}
		if err := store.LogInputs(ctx, id, []tracking.DatasetInput{{
			Tags: []tracking.Tag{{Key: tracking.InputTagContext, Value: "training"}},
			Dataset: tracking.Dataset{Name: "cal_housing", Digest: "4d3f1a2b", SourceType: "local",
				Source: `{"uri": "data/cal_housing.data"}`},
		}}); err != nil {
			t.Fatalf("log inputs %s: %v", spec.name, err)
		}
		end := start.Add(spec.duration).UnixMilli()
		if _, err := store.UpdateRun(ctx, id, tracking.UpdateRun{Status: &spec.status, EndTime: &end}); err != nil {
			t.Fatalf("end run %s: %v", spec.name, err)
		}
		writeArtifacts(t, run.Info.ArtifactURI, id)
		if l.runs[spec.name], err = store.GetRun(ctx, id); err != nil {
			t.Fatalf("get run %s: %v", spec.name, err)
		}
	}
	l.trials = seedTrials(t, store, l.expID, l.runs["rf-optimized"])

	if _, err := store.CreateRegisteredModel(ctx, modelName, "Random forests on California housing", nil); err != nil {
		t.Fatalf("create model: %v", err)
	}
	for i, name := range []string{"rf-baseline", "rf-tuned"} {
		run := l.runs[name]
		v, err := store.CreateModelVersion(ctx, tracking.CreateModelVersion{
			Name: modelName, Source: run.Info.ArtifactURI + "/model", RunID: run.Info.RunID,
			Tags: []tracking.Tag{{Key: "trained_on", Value: "cal_housing"}},
		})
		if err != nil {
			t.Fatalf("create version %d: %v", i+1, err)
		}
		stage := tracking.StageProduction
		if i == 1 {
			stage = tracking.StageStaging
			for k, val := range map[string]string{
				"decision": "promoted", "reason": "r2 0.7737 beats the champion (version 1) at 0.6469 by 0.1268",
				"metric": "r2", "candidate_value": "0.7737", "champion_value": "0.6469", "champion_version": "1", "margin": "0.01",
				"decided_at": "2024-11-05T10:05:00Z",
			} {
				if err := store.SetModelVersionTag(ctx, modelName, v.Version, ui.GateTagPrefix+k, val); err != nil {
					t.Fatalf("gate tag: %v", err)
				}
			}
		}
		if _, err := store.TransitionModelVersionStage(ctx, modelName, v.Version, stage, false); err != nil {
			t.Fatalf("transition version %s: %v", v.Version, err)
		}
	}
	if err := store.SetRegisteredModelAlias(ctx, modelName, "champion", "1"); err != nil {
		t.Fatalf("set alias: %v", err)
	}

	l.handler = ui.New(store, openArtifacts, ui.Options{Now: func() time.Time { return t0.Add(time.Hour) }, LoggedModels: store})
	return l
}

// seedTrials logs the search trials of parent as nested runs, each within the
// parent's time, as steps/train does.
func seedTrials(t testing.TB, store tracking.Store, expID string, parent *tracking.Run) []*tracking.Run {
	t.Helper()
	ctx := context.Background()
	var out []*tracking.Run
	for i, tr := range searchTrials {
		start := parent.Info.StartTime + int64(i)*1400
		run, err := store.CreateRun(ctx, tracking.CreateRun{
			ExperimentID: expID, RunName: tr.name, UserID: "lab", StartTime: start,
			Tags: []tracking.Tag{{Key: tracking.TagParentRunID, Value: parent.Info.RunID}, {Key: tracking.TagSourceName, Value: "steps/train"}},
		})
		if err != nil {
			t.Fatalf("create trial %s: %v", tr.name, err)
		}
		id := run.Info.RunID
		params := []tracking.Param{{Key: "n_estimators", Value: tr.trees}, {Key: "max_depth", Value: tr.depth},
			{Key: "search_round", Value: strconv.FormatInt(tr.round, 10)}, {Key: "cv_folds", Value: "3"}, {Key: "model_type", Value: "random_forest"}}
		metrics := []tracking.Metric{{Key: "cv_r2", Value: tr.cvR2, Step: tr.round, Timestamp: start + 1000},
			{Key: "cv_r2_std", Value: 0.004 + float64(i)/1000, Step: tr.round, Timestamp: start + 1000}}
		tags := []tracking.Tag{{Key: "housing.search.survived", Value: strconv.FormatBool(tr.survived)}}
		if err := store.LogBatch(ctx, id, metrics, params, tags); err != nil {
			t.Fatalf("log trial %s: %v", tr.name, err)
		}
		end, done := start+1300, tracking.RunFinished
		if _, err := store.UpdateRun(ctx, id, tracking.UpdateRun{Status: &done, EndTime: &end}); err != nil {
			t.Fatalf("end trial %s: %v", tr.name, err)
		}
		got, err := store.GetRun(ctx, id)
		if err != nil {
			t.Fatalf("get trial %s: %v", tr.name, err)
		}
		out = append(out, got)
	}
	return out
}

func openArtifacts(ctx context.Context, uri string) (tracking.ArtifactRepository, error) {
	return artifacts.Open(ctx, uri, artifacts.Options{})
}

// writeArtifacts puts a run's artifacts where its artifact URI says: model/ as
// the lab's train step writes it (learn/mlmodel: MLmodel, model.bin,
// model.onnx, conda.yaml, python_env.yaml, requirements.txt, input examples),
// plots/ in each image format, and files that must never be served inline or
// as text, or only in part.
func writeArtifacts(t testing.TB, uri, runID string) {
	t.Helper()
	ctx := context.Background()
	repo, err := artifacts.Open(ctx, uri, artifacts.Options{})
	if err != nil {
		t.Fatalf("open artifacts %s: %v", uri, err)
	}
	files := map[string][]byte{
		"plots/predicted_vs_actual.png": pngBytes(t),
		"plots/residuals.jpg":           imageBytes(t, "jpeg"),
		"plots/r2_vs_trees.gif":         imageBytes(t, "gif"),
		"plots/feature_importances.svg": []byte(`<svg xmlns="http://www.w3.org/2000/svg" width="120" height="60" viewBox="0 0 120 60"><style>rect{fill:#1f77b4}</style>` +
			`<rect x="0" y="10" width="100" height="15"/><rect x="0" y="35" width="60" height="15"/></svg>`),
		"plots/evil.svg":    []byte(`<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>document.title = "script ran"</script></svg>`),
		"report/index.html": []byte(`<html><body><script>alert(1)</script></body></html>`),
		"metrics/notes.txt": []byte("r2 is the coefficient of determination\n"),
		"notes/CHANGES":     []byte("v2: deeper trees\n"), // no extension, but text
		"model/weights.dat": {0x00, 0x10, 0x20},           // no known extension, and binary
		// Bigger than what the page shows of a file.
		"predictions/test.csv":              bigCSV(),
		"model/metadata/feature_order.json": []byte(`["MedInc","HouseAge","AveRooms","AveBedrms","Population","AveOccup","Latitude","Longitude"]`),
	}
	for p, b := range files {
		if err := repo.Put(ctx, p, bytes.NewReader(b), int64(len(b))); err != nil {
			t.Fatalf("put artifact %s: %v", p, err)
		}
	}
	dir := filepath.Join(t.TempDir(), "model")
	saveModel(t, dir, runID)
	if err := artifacts.UploadDir(ctx, repo, dir, "model"); err != nil {
		t.Fatalf("put model directory: %v", err)
	}
}

// saveModel writes a linear model fitted on a few rows as the train step
// saves its models.
func saveModel(t testing.TB, dir, runID string) {
	t.Helper()
	const rows, features = 40, 8
	x, y := make([]float64, rows*features), make([]float64, rows)
	rnd := rand.New(rand.NewPCG(1, 2))
	for i := range rows {
		for j := range features {
			x[i*features+j] = rnd.NormFloat64() + float64(j)
		}
		y[i] = 2 + 0.5*x[i*features] - 0.1*x[i*features+3]
	}
	m, err := linear.Fit(x, features, y)
	if err != nil {
		t.Fatalf("fit: %v", err)
	}
	if _, err := mlmodel.Save(dir, m, mlmodel.SaveOptions{
		RunID: runID, ArtifactPath: "model", InputExample: [][]float64{x[:features], x[features : 2*features]},
		Now: func() time.Time { return t0 },
	}); err != nil {
		t.Fatalf("save model: %v", err)
	}
}

// bigCSV is a text artifact of about 400 KiB.
func bigCSV() []byte {
	var b strings.Builder
	b.WriteString("row,actual,predicted\n")
	for i := 0; b.Len() < 400<<10; i++ {
		fmt.Fprintf(&b, "%d,%.4f,%.4f\n", i, 1+math.Sin(float64(i)), 1+math.Sin(float64(i))*0.9)
	}
	return []byte(b.String())
}

// imageBytes is a 40×30 image encoded as format ("jpeg", "gif").
func imageBytes(t testing.TB, format string) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 40, 30))
	for x := range 40 {
		for y := range 30 {
			img.Set(x, y, color.RGBA{200, uint8(x * 6), uint8(y * 8), 255})
		}
	}
	var buf bytes.Buffer
	var err error
	switch format {
	case "jpeg":
		err = jpeg.Encode(&buf, img, nil)
	case "gif":
		err = gif.Encode(&buf, img, nil)
	}
	if err != nil || buf.Len() == 0 {
		t.Fatalf("encode %s: %v", format, err)
	}
	return buf.Bytes()
}

func pngBytes(t testing.TB) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 40, 30))
	for x := range 40 {
		for y := range 30 {
			img.Set(x, y, color.RGBA{uint8(x * 6), uint8(y * 8), 160, 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatalf("encode png: %v", err)
	}
	return buf.Bytes()
}

// get serves a GET of target and returns the response and its body.
func (l *lab) get(t testing.TB, target string) (*http.Response, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	l.handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
	res := rec.Result()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

// post serves a form POST as a browser on the same origin sends it.
func (l *lab) post(t testing.TB, target string, form url.Values, header map[string]string) (*http.Response, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, target, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	l.handler.ServeHTTP(rec, req)
	res := rec.Result()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}
