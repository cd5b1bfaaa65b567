package fluent_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/mlops-lab/housing/internal/testenv"
	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/dial"
	"github.com/mlops-lab/housing/tracking/fluent"
)

// TestLoggedModelAgainstRealMLflow3: a model logged the MLflow 3 way to the
// real MLflow 3.11.1 server is found again by models:/<model_id>, by the
// runs:/ URI of its run (registered as models:/<model_id>, as MLflow 3's
// register_model does, and downloaded from the model as MLflow 3's
// RunsArtifactRepository does), and through the registered version; a model whose
// logging failed ends FAILED.
func TestLoggedModelAgainstRealMLflow3(t *testing.T) {
	m := testenv.MLflow(t, testenv.MLflow3)
	ctx := context.Background()
	b, err := dial.Open(ctx, m.URL, dial.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	c := newClient(b, nil)
	local := t.TempDir()
	for name, text := range map[string]string{"MLmodel": "model_id: x\n", "model.onnx": "a large file"} {
		if err := os.WriteFile(filepath.Join(local, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var lm *fluent.LoggedModel
	var runID string
	err = c.Do(ctx, fluent.RunOptions{ExperimentName: "lm", RunName: "fit"}, func(ctx context.Context, run *fluent.Run) error {
		runID = run.ID()
		if err := run.LogParam("alpha", 0.5); err != nil {
			return err
		}
		if err := run.Flush(ctx); err != nil {
			return err
		}
		var err error
		if lm, err = run.CreateLoggedModel(ctx, "model", map[string]string{"extra": "1"}, 0); err != nil || lm == nil {
			t.Fatalf("CreateLoggedModel = %v, %v; want a model from MLflow 3.11.1", lm, err)
		}
		if err := lm.Upload(ctx, local); err != nil {
			return err
		}
		if err := lm.LogMetrics(ctx, map[string]float64{"r2": 0.75}, &tracking.Dataset{Name: "test", Digest: "d1"}); err != nil {
			return err
		}
		return lm.Finalize(ctx, nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Store().(tracking.LoggedModelStore).GetLoggedModel(ctx, lm.ID(), false)
	if err != nil {
		t.Fatal(err)
	}
	params := map[string]string{}
	for _, p := range got.Params {
		params[p.Key] = p.Value
	}
	if got.Status != tracking.LoggedModelReady || got.SourceRunID != runID || params["alpha"] != "0.5" || params["extra"] != "1" {
		t.Errorf("logged model %+v; want READY from run %s with the run's params and extra", got, runID)
	}
	if len(got.Metrics) != 1 || got.Metrics[0].Value != 0.75 || got.Metrics[0].DatasetName != "test" {
		t.Errorf("model metrics %+v, want r2 0.75 on test", got.Metrics)
	}
	for _, uri := range []string{lm.URI(), "runs:/" + runID + "/model"} {
		src, err := c.RegistrationSource(ctx, uri)
		if err != nil || src.Source != lm.URI() || src.ModelID != lm.ID() || src.RunID != runID {
			t.Errorf("RegistrationSource(%s) = %+v, %v; want %s of run %s", uri, src, err, lm.URI(), runID)
		}
	}
	if art, _, err := c.ResolveModelURI(ctx, lm.URI()); err != nil || art != lm.ArtifactURI() {
		t.Errorf("ResolveModelURI(%s) = %s, %v; want %s", lm.URI(), art, err, lm.ArtifactURI())
	}
	mv, err := c.RegisterModel(ctx, "runs:/"+runID+"/model", "lm-reg", nil)
	if err != nil || mv.Source != lm.URI() {
		t.Fatalf("registered %+v, %v; want source %s", mv, err, lm.URI())
	}
	// runs:/<run_id>/model is the run's logged model called model, as in MLflow 3.
	if art, _, err := c.ResolveModelURI(ctx, "runs:/"+runID+"/model/MLmodel"); err != nil || art != lm.ArtifactURI()+"/MLmodel" {
		t.Errorf("ResolveModelURI(runs:/.../model/MLmodel) = %s, %v; want in %s", art, err, lm.ArtifactURI())
	}
	for _, uri := range []string{lm.URI(), "models:/lm-reg/" + mv.Version, "runs:/" + runID + "/model"} {
		dir := t.TempDir()
		if err := c.DownloadArtifacts(ctx, uri, dir); err != nil {
			t.Fatalf("download %s: %v", uri, err)
		}
		if b, err := os.ReadFile(filepath.Join(dir, "MLmodel")); err != nil || string(b) != "model_id: x\n" {
			t.Errorf("%s: MLmodel %q, %v", uri, b, err)
		}
		// One file of the model directory, whatever form the URI takes.
		one := t.TempDir()
		if err := c.DownloadArtifactsAt(ctx, uri, "MLmodel", one); err != nil {
			t.Fatalf("download MLmodel of %s: %v", uri, err)
		}
		if entries, err := os.ReadDir(one); err != nil || len(entries) != 1 || entries[0].Name() != "MLmodel" {
			t.Errorf("%s: DownloadArtifactsAt(MLmodel) gave %v, %v; want MLmodel alone", uri, entries, err)
		}
	}
	if err := c.DownloadArtifactsAt(ctx, lm.URI(), "../x", t.TempDir()); err == nil {
		t.Error("DownloadArtifactsAt(../x) accepted a path outside the model")
	}

	boom := errors.New("upload failed")
	err = c.Do(ctx, fluent.RunOptions{ExperimentName: "lm", RunName: "broken"}, func(ctx context.Context, run *fluent.Run) error {
		var err error
		if lm, err = run.CreateLoggedModel(ctx, "model", nil, 0); err != nil {
			return err
		}
		return errors.Join(boom, lm.Finalize(ctx, boom))
	})
	if !errors.Is(err, boom) {
		t.Fatalf("broken run: %v", err)
	}
	if got, err := c.Store().(tracking.LoggedModelStore).GetLoggedModel(ctx, lm.ID(), false); err != nil || got.Status != tracking.LoggedModelUploadFailed {
		t.Errorf("model of the broken run: %+v, %v; want FAILED", got, err)
	}
}

// TestLoggedModelsWithoutMLflow3: against a backend without logged models
// CreateLoggedModel says so with nil, and models:/<model_id> is refused with
// the reason.
func TestLoggedModelsWithoutMLflow3(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *dial.Backend) {
		ctx := context.Background()
		c := newClient(b, nil)
		if lm, err := tracking.LoggedModels(ctx, b.Store); lm != nil || err != nil {
			t.Skipf("backend keeps logged models (%v, %v); TestLoggedModelAgainstRealMLflow3 covers it", lm, err)
		}
		err := c.Do(ctx, fluent.RunOptions{}, func(ctx context.Context, run *fluent.Run) error {
			lm, err := run.CreateLoggedModel(ctx, "model", nil, 0)
			if lm != nil || err != nil {
				t.Errorf("CreateLoggedModel = %v, %v; want nil, nil", lm, err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.ResolveModelURI(ctx, "models:/m-123"); tracking.ErrorCodeOf(err) != tracking.ErrInvalidParameterValue {
			t.Errorf("models:/m-123 without logged models: %v", err)
		}
	})
}
