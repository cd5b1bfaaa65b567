package fluent_test

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/mlops-lab/housing/learn/linear"
	"github.com/mlops-lab/housing/learn/mlmodel"
	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/dial"
	"github.com/mlops-lab/housing/tracking/fluent"
)

// trainAndLog fits a linear model on synthetic data whose slope is scale,
// logs it as a model directory under "model" of a new run, and returns the run id.
func trainAndLog(t *testing.T, c *fluent.Client, name string, scale float64) (runID string, X []float64, m *linear.Model) {
	t.Helper()
	ctx := context.Background()
	r := rand.New(rand.NewPCG(7, uint64(scale*100)))
	X = make([]float64, 200*8)
	y := make([]float64, 200)
	for i := range y {
		for j := range 8 {
			X[i*8+j] = r.Float64()
		}
		y[i] = scale*X[i*8] + 0.01*r.NormFloat64()
	}
	m, err := linear.Fit(X, 8, y)
	if err != nil {
		t.Fatal(err)
	}
	err = c.Do(ctx, fluent.RunOptions{ExperimentName: "california-housing", RunName: name}, func(ctx context.Context, run *fluent.Run) error {
		runID = run.ID()
		dir := filepath.Join(t.TempDir(), "model")
		mm, err := mlmodel.Save(dir, m, mlmodel.SaveOptions{RunID: run.ID(), ArtifactPath: "model", InputExample: [][]float64{X[:8]}})
		if err != nil {
			return err
		}
		return run.LogModel(ctx, dir, "model", mm.HistoryEntry())
	})
	if err != nil {
		t.Fatal(err)
	}
	return runID, X, m
}

func TestRegistryAndModelURIs(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *dial.Backend) {
		ctx := context.Background()
		c := newClient(b, nil)
		const name = "california-housing-model"
		run1, X, m1 := trainAndLog(t, c, "rf-baseline", 1)
		run2, _, m2 := trainAndLog(t, c, "rf-tuned", 2)

		v1, err := c.RegisterModel(ctx, "runs:/"+run1+"/model", name, map[string]string{"config": "baseline"})
		if err != nil {
			t.Fatal(err)
		}
		art1 := getRun(t, b.Store, run1).Info.ArtifactURI
		if v1.Version != "1" || v1.RunID != run1 || v1.Source != art1+"/model" || v1.Status != tracking.VersionReady {
			t.Errorf("version 1 = %+v, want source %s/model", v1, art1)
		}
		v2, err := c.RegisterModel(ctx, "runs:/"+run2+"/model", name, nil)
		if err != nil || v2.Version != "2" {
			t.Fatalf("second registration = %+v, %v", v2, err)
		}
		if _, err := c.TransitionStage(ctx, name, "1", tracking.StageStaging, false); err != nil {
			t.Fatal(err)
		}
		if _, err := c.TransitionStage(ctx, name, "2", tracking.StageProduction, true); err != nil {
			t.Fatal(err)
		}
		if err := c.SetAlias(ctx, name, "champion", "1"); err != nil {
			t.Fatal(err)
		}
		if err := c.SetAlias(ctx, name, "challenger", "2"); err != nil {
			t.Fatal(err)
		}
		if err := c.DeleteAlias(ctx, name, "challenger"); err != nil {
			t.Fatal(err)
		}
		if err := c.SetModelVersionTag(ctx, name, "2", "validated", "true"); err != nil {
			t.Fatal(err)
		}
		if _, err := c.SetRegisteredModelDescription(ctx, name, "median house value regressor"); err != nil {
			t.Fatal(err)
		}

		for uri, want := range map[string]string{
			"models:/" + name + "/1":          "1",
			"models:/" + name + "/Staging":    "1",
			"models:/" + name + "/production": "2", // stages are case-insensitive
			"models:/" + name + "/latest":     "2",
			"models:/" + name + "@champion":   "1",
		} {
			art, mv, err := c.ResolveModelURI(ctx, uri)
			if err != nil {
				t.Errorf("%s: %v", uri, err)
				continue
			}
			wantRun := map[string]string{"1": run1, "2": run2}[want]
			if mv.Version != want || art != getRun(t, b.Store, wantRun).Info.ArtifactURI+"/model" {
				t.Errorf("%s -> %s version %s, want version %s", uri, art, mv.Version, want)
			}
		}
		art, mv, err := c.ResolveModelURI(ctx, "runs:/"+run2+"/model")
		if err != nil || mv != nil || !strings.HasSuffix(art, "/model") {
			t.Errorf("runs:/ resolves to %s, %v, %v", art, mv, err)
		}
		// A copied version (MLflow's copy_model_version: source models:/name/1)
		// resolves to the files of the version it copied.
		copied, err := b.Store.CreateModelVersion(ctx, tracking.CreateModelVersion{Name: name + "-copy", Source: "models:/" + name + "/1", RunID: run1})
		if tracking.ErrorCodeOf(err) != tracking.ErrResourceDoesNotExist {
			t.Errorf("copy into a model that does not exist: %+v, %v", copied, err)
		}
		copied, err = b.Store.CreateModelVersion(ctx, tracking.CreateModelVersion{Name: name, Source: "models:/" + name + "/1", RunID: run1})
		if err != nil {
			t.Fatal(err)
		}
		if art, _, err := c.ResolveModelURI(ctx, "models:/"+name+"/"+copied.Version); err != nil || art != art1+"/model" {
			t.Errorf("copied version %s resolves to %s, %v; want %s/model", copied.Version, art, err, art1)
		}

		t.Run("download and load", func(t *testing.T) {
			for uri, want := range map[string]*linear.Model{"models:/" + name + "@champion": m1, "models:/" + name + "/Production": m2, "runs:/" + run1 + "/model": m1} {
				dir := t.TempDir()
				if err := c.DownloadArtifacts(ctx, uri, dir); err != nil {
					t.Fatalf("%s: %v", uri, err)
				}
				mm, reg, err := mlmodel.Load(dir)
				if err != nil {
					t.Fatalf("%s: %v", uri, err)
				}
				if !slices.Equal(reg.Predict(nil, X), want.Predict(nil, X)) {
					t.Errorf("%s: downloaded model predicts differently", uri)
				}
				if mm.ArtifactPath != "model" {
					t.Errorf("%s: artifact_path %q", uri, mm.ArtifactPath)
				}
			}
			// A single file inside a model version.
			dir := t.TempDir()
			if err := c.DownloadArtifacts(ctx, "models:/"+name+"/1/MLmodel", dir); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(filepath.Join(dir, "MLmodel")); err != nil {
				t.Errorf("single file download: %v", err)
			}
		})

		t.Run("missing", func(t *testing.T) {
			for uri, code := range map[string]tracking.ErrorCode{
				"models:/" + name + "/Archived":                tracking.ErrResourceDoesNotExist, // v1 is in Staging, v2 in Production
				"models:/" + name + "/9":                       tracking.ErrResourceDoesNotExist,
				"models:/nope/1":                               tracking.ErrResourceDoesNotExist,
				"models:/" + name + "@nobody":                  tracking.ErrInvalidParameterValue, // MLflow answers 400 for unknown aliases
				"runs:/0123456789abcdef0123456789abcdef/model": tracking.ErrResourceDoesNotExist,
			} {
				if _, _, err := c.ResolveModelURI(ctx, uri); tracking.ErrorCodeOf(err) != code {
					t.Errorf("%s: %v, want %s", uri, err, code)
				}
			}
		})

		t.Run("malformed", func(t *testing.T) {
			for _, uri := range []string{
				// models:/<name> alone is MLflow 3's models:/<model_id> (loggedmodel_test.go).
				"models:/", "models:/" + name + "/", "models:/@champion", "models:/" + name + "@",
				"models:/" + name + "/Prod", "models://host/" + name + "/1", "models:/" + name + "/1/../../x",
				"runs:/", "runs://" + run1 + "/model", "runs:/" + run1 + "/../other",
			} {
				_, _, err := c.ResolveModelURI(ctx, uri)
				if tracking.ErrorCodeOf(err) != tracking.ErrInvalidParameterValue || !strings.Contains(err.Error(), "URI") {
					t.Errorf("%s: %v, want INVALID_PARAMETER_VALUE naming the URI form", uri, err)
				}
			}
		})

		t.Run("concurrent registrations", func(t *testing.T) {
			const n = 3
			versions := make([]string, n)
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					mv, err := c.RegisterModel(ctx, "runs:/"+run2+"/model", "raced-model", nil)
					if err == nil {
						versions[i] = mv.Version
					}
					errs[i] = err
				})
			}
			wg.Wait()
			slices.Sort(versions)
			if !slices.Equal(versions, []string{"1", "2", "3"}) {
				t.Errorf("concurrent registrations got versions %v, errors %v", versions, errs)
			}
		})

		t.Run("register by models URI", func(t *testing.T) {
			v3, err := c.RegisterModel(ctx, "models:/"+name+"@champion", "california-housing-copy", nil)
			if err != nil {
				t.Fatal(err)
			}
			if v3.Version != "1" || v3.RunID != run1 || v3.Source != v1.Source {
				t.Errorf("copied version %+v, want source %s and run %s", v3, v1.Source, run1)
			}
		})
	})
}
