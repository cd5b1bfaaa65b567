package ui_test

import (
	"bytes"
	"context"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/ui"
)

// seedLoggedModel logs an MLflow 3 model from rf-tuned: params, tags,
// metrics on a data set and without one, the run's output, and two versions
// of a registered model naming it, one by models:/<id>, one by its artifact
// location.
func seedLoggedModel(t *testing.T, l *lab) *tracking.LoggedModel {
	t.Helper()
	ctx := context.Background()
	run := l.runs["rf-tuned"]
	m, err := l.store.CreateLoggedModel(ctx, tracking.CreateLoggedModel{
		ExperimentID: l.expID, Name: "rf-model", ModelType: "sklearn", SourceRunID: run.Info.RunID,
		Params: []tracking.Param{{Key: "n_estimators", Value: "100"}},
		Tags:   []tracking.Tag{{Key: "flavor", Value: "sklearn"}},
	})
	if err != nil {
		t.Fatalf("create logged model: %v", err)
	}
	if err := l.store.LogBatch(ctx, run.Info.RunID, []tracking.Metric{
		{Key: "r2", Value: 0.5, Timestamp: 1, Step: 0, ModelID: m.ModelID, DatasetName: "test", DatasetDigest: "d1"},
		{Key: "r2", Value: 0.7737, Timestamp: 2, Step: 1, ModelID: m.ModelID, DatasetName: "test", DatasetDigest: "d1"},
		{Key: "mse", Value: 0.2965, Timestamp: 2, Step: 0, ModelID: m.ModelID},
	}, nil, nil); err != nil {
		t.Fatalf("log model metrics: %v", err)
	}
	if err := l.store.LogOutputs(ctx, run.Info.RunID, []tracking.ModelOutput{{ModelID: m.ModelID, Step: 1}}); err != nil {
		t.Fatalf("log outputs: %v", err)
	}
	repo, err := openArtifacts(ctx, m.ArtifactLocation)
	if err != nil {
		t.Fatalf("open model artifacts: %v", err)
	}
	mlmodel := []byte("artifact_path: model\nmodel_id: " + m.ModelID + "\nflavors:\n  sklearn: {}\n")
	if err := repo.Put(ctx, "MLmodel", bytes.NewReader(mlmodel), int64(len(mlmodel))); err != nil {
		t.Fatalf("put MLmodel: %v", err)
	}
	if m, err = l.store.FinalizeLoggedModel(ctx, m.ModelID, tracking.LoggedModelReady); err != nil {
		t.Fatalf("finalize: %v", err)
	}
	if _, err := l.store.CreateRegisteredModel(ctx, "housing-logged", "", nil); err != nil {
		t.Fatalf("create registered model: %v", err)
	}
	for _, in := range []tracking.CreateModelVersion{
		{Name: "housing-logged", Source: m.URI()},
		{Name: "housing-logged", Source: m.ArtifactLocation, RunID: run.Info.RunID, ModelID: m.ModelID},
	} {
		if _, err := l.store.CreateModelVersion(ctx, in); err != nil {
			t.Fatalf("create version %s: %v", in.Source, err)
		}
	}
	return m
}

func TestLoggedModels(t *testing.T) {
	l := newLab(t)
	m := seedLoggedModel(t, l)
	runID := l.runs["rf-tuned"].Info.RunID

	_, runs := l.get(t, "/experiments/"+l.expID)
	mustContain(t, runs, `href="/experiments/`+l.expID+`/models"`)

	res, body := l.get(t, "/experiments/"+l.expID+"/models")
	wantStatus(t, res, http.StatusOK)
	mustContain(t, body,
		`<a href="/logged-models/`+m.ModelID+`">rf-model</a>`,
		"<code>"+m.ModelID+"</code>",
		"LOGGED_MODEL_READY",
		`<a href="/runs/`+runID+`"><code>`+runID+`</code></a>`,
		"2024-11-05 10:00:00 UTC",
		// The latest value, on its data set; the metric without one on its own.
		"r2 [test (d1)] = 0.7737", "mse = 0.2965")
	mustNotContain(t, body, "= 0.5<")

	res, _ = l.get(t, "/experiments/12345/models")
	wantStatus(t, res, http.StatusNotFound)
}

func TestLoggedModel(t *testing.T) {
	l := newLab(t)
	m := seedLoggedModel(t, l)
	runID := l.runs["rf-tuned"].Info.RunID

	res, body := l.get(t, "/logged-models/"+m.ModelID)
	wantStatus(t, res, http.StatusOK)
	body = html.UnescapeString(body)
	mustContain(t, body,
		"<h1>rf-model", m.ModelID, "LOGGED_MODEL_READY", "sklearn",
		`<a href="/runs/`+runID+`">rf-tuned</a>`,
		m.ArtifactLocation, "models:/"+m.ModelID,
		`<th scope="row">n_estimators</th><td class="wrap">100</td>`,
		`<th scope="row">flavor</th><td class="wrap">sklearn</td>`,
		"<h3>Data set test (d1)</h3>", "<h3>Without a data set</h3>",
		`<th scope="row">r2</th><td class="num">0.7737</td><td class="num">1</td>`,
		`<th scope="row">mse</th><td class="num">0.2965</td>`,
		// Registered by models:/<id>, and from the run by artifact location.
		`<a href="/models/housing-logged/versions/1">housing-logged v1</a>`,
		`<a href="/models/housing-logged/versions/2">housing-logged v2</a>`,
		`href="/experiments/`+l.expID+`/models"`)
	// The run's own registered version, from its model/ artifact, is not this model's.
	mustNotContain(t, body, "california-housing-rf v2")

	res, _ = l.get(t, "/logged-models/m-00000000000000000000000000000000")
	wantStatus(t, res, http.StatusNotFound)

	// Its files, in the run page's artifact browser, under the model's own location.
	file := "/ui/artifact?" + url.Values{"model": {m.ModelID}, "path": {"MLmodel"}}.Encode()
	_, body = l.get(t, "/logged-models/"+m.ModelID+"?artifact=MLmodel")
	body = html.UnescapeString(body)
	mustContain(t, body, `<a href="/logged-models/`+m.ModelID+`?artifact=MLmodel#artifacts" aria-current="true">MLmodel</a>`,
		"model_id: "+m.ModelID, "/ui/artifact?"+url.Values{"model": {m.ModelID}, "path": {"MLmodel"}, "download": {"1"}}.Encode())
	res, body = l.get(t, file)
	wantStatus(t, res, http.StatusOK)
	if ct := res.Header.Get("Content-Type"); ct != "text/plain; charset=utf-8" || !strings.Contains(body, "model_id: "+m.ModelID) {
		t.Errorf("model artifact: %s %q", ct, body)
	}
	res, _ = l.get(t, "/ui/artifact?model=m-00000000000000000000000000000000&path=MLmodel")
	wantStatus(t, res, http.StatusNotFound)
}

func TestRunLoggedModels(t *testing.T) {
	l := newLab(t)
	m := seedLoggedModel(t, l)
	_, body := l.get(t, "/runs/"+l.runs["rf-tuned"].Info.RunID)
	mustContain(t, body, `<a href="/logged-models/`+m.ModelID+`">rf-model</a>`, "step 1", "LOGGED_MODEL_READY")
	_, body = l.get(t, "/runs/"+l.runs["rf-baseline"].Info.RunID)
	mustContain(t, body, "This run produced no logged model.")
}

// TestLoggedModelsNotKept: a UI without Options.LoggedModels says so on
// every page that would show them.
func TestLoggedModelsNotKept(t *testing.T) {
	l := newLab(t)
	m := seedLoggedModel(t, l)
	l.handler = ui.New(l.store, openArtifacts, ui.Options{})
	for _, target := range []string{"/experiments/" + l.expID + "/models", "/runs/" + l.runs["rf-tuned"].Info.RunID} {
		res, body := l.get(t, target)
		wantStatus(t, res, http.StatusOK)
		mustContain(t, body, "This server does not keep logged models.")
		mustNotContain(t, body, `href="/logged-models/`)
	}
	res, body := l.get(t, "/logged-models/"+m.ModelID)
	wantStatus(t, res, http.StatusNotFound)
	mustContain(t, body, "This server does not keep logged models.")
}

// TestRunMetricsOnModels: the points a run logged with a logged model's id
// (MLflow 3 keeps them in the run's history too, without the id) are left out
// of the run's charts and counted per model, linked to its page; a metric
// logged only with a model's id is the run's series after all.
func TestRunMetricsOnModels(t *testing.T) {
	l := newLab(t)
	ctx := context.Background()
	first := seedLoggedModel(t, l) // r2 at steps 0 and 1, mse at step 0
	run := l.runs["rf-tuned"]
	second, err := l.store.CreateLoggedModel(ctx, tracking.CreateLoggedModel{ExperimentID: l.expID, Name: "rf-model-onnx", SourceRunID: run.Info.RunID})
	if err != nil {
		t.Fatalf("create logged model: %v", err)
	}
	if err := l.store.LogBatch(ctx, run.Info.RunID, []tracking.Metric{
		{Key: "r2", Value: 0.7736, Timestamp: 3, Step: 2, ModelID: second.ModelID},
		{Key: "test_rmse", Value: 0.55, Timestamp: 3, Step: 0, ModelID: second.ModelID},
		{Key: "test_rmse", Value: 0.54, Timestamp: 4, Step: 1, ModelID: second.ModelID},
	}, nil, nil); err != nil {
		t.Fatalf("log model metrics: %v", err)
	}
	_, body := l.get(t, "/runs/"+run.Info.RunID)
	caption := func(key string) (string, int) {
		t.Helper()
		i := strings.Index(body, `id="metric-`+key+`"`)
		if i < 0 {
			t.Fatalf("no chart of %s", key)
		}
		div := body[i:]
		div = div[:strings.Index(div, "</div>")]
		pts := div[strings.Index(div, `<polyline`):]
		pts = pts[strings.Index(pts, `points="`)+len(`points="`):]
		pts = pts[:strings.Index(pts, `"`)]
		return div[strings.Index(div, `<p class="muted small">`):], len(strings.Fields(pts))
	}
	for _, c := range []struct {
		key    string
		points int
		want   string
	}{
		{"r2", 5, `5 points (the run's own); 2 more logged on model <a href="/logged-models/` + first.ModelID + `">rf-model</a>; 1 more logged on model <a href="/logged-models/` + second.ModelID + `">rf-model-onnx</a></p>`},
		{"mse", 5, `5 points (the run's own); 1 more logged on model <a href="/logged-models/` + first.ModelID + `">rf-model</a></p>`},
		{"test_rmse", 2, `· 2 points</p>`},
	} {
		got, n := caption(c.key)
		if n != c.points {
			t.Errorf("%s: line through %d points, want %d", c.key, n, c.points)
		}
		if !strings.HasSuffix(got, c.want) {
			t.Errorf("%s: caption %q, want it to end in %q", c.key, got, c.want)
		}
	}
}
