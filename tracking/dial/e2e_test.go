package dial_test

import (
	"context"
	"math"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/artifacts"
	"github.com/mlops-lab/housing/tracking/dial"
	"github.com/mlops-lab/housing/tracking/fluent"
	"github.com/mlops-lab/housing/tracking/server"
	"github.com/mlops-lab/housing/tracking/sqlstore"
)

// startServer runs our tracking server over a real SQLite store, serving
// artifacts from a local directory, on 127.0.0.1; it stops with the test.
func startServer(t *testing.T) (uri, dest string) {
	t.Helper()
	dir := t.TempDir()
	ctx := context.Background()
	store, err := sqlstore.Open(ctx, "sqlite:///"+filepath.Join(dir, "mlflow.db"), sqlstore.Options{DefaultArtifactRoot: "mlflow-artifacts:/"})
	if err != nil {
		t.Fatal(err)
	}
	dest = filepath.Join(dir, "artifacts")
	repo, err := artifacts.NewLocal(dest)
	if err != nil {
		t.Fatal(err)
	}
	h := server.New(store, repo, server.Options{
		OpenArtifactRepository: func(ctx context.Context, uri string) (tracking.ArtifactRepository, error) {
			return artifacts.Open(ctx, uri, artifacts.Options{})
		},
	})
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		srv.Close()
		store.Close()
	})
	return srv.URL, dest
}

// TestLabOverHTTP runs the lab's flow through dial -> client -> server -> SQLite:
// experiment, runs with params, metrics (NaN too) and a model directory, then
// registry stages and aliases, and error codes on the way.
func TestLabOverHTTP(t *testing.T) {
	uri, dest := startServer(t)
	ctx := context.Background()
	b, err := dial.Open(ctx, uri, dial.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	s := b.Store
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}

	if _, err := s.GetExperimentByName(ctx, "california-housing"); !tracking.IsNotFound(err) {
		t.Fatalf("GetExperimentByName before create: %v, want not found", err)
	}
	expID, err := s.CreateExperiment(ctx, "california-housing", "", []tracking.Tag{{Key: "team", Value: "mlops"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateExperiment(ctx, "california-housing", "", nil); !tracking.IsAlreadyExists(err) {
		t.Fatalf("duplicate CreateExperiment: %v, want RESOURCE_ALREADY_EXISTS", err)
	}
	exp, err := s.GetExperiment(ctx, expID)
	if err != nil || exp.Name != "california-housing" || exp.ArtifactLocation != "mlflow-artifacts:/"+expID {
		t.Fatalf("GetExperiment = %+v, %v", exp, err)
	}

	configs := []struct {
		name  string
		trees string
		r2    float64
	}{{"rf-baseline", "50", 0.6469}, {"rf-tuned", "100", 0.7737}}
	var runIDs []string
	for _, cfg := range configs {
		run, err := s.CreateRun(ctx, tracking.CreateRun{ExperimentID: expID, RunName: cfg.name, StartTime: 1000, Tags: []tracking.Tag{{Key: tracking.TagUser, Value: "ci"}}})
		if err != nil {
			t.Fatal(err)
		}
		runIDs = append(runIDs, run.Info.RunID)
		err = s.LogBatch(ctx, run.Info.RunID,
			[]tracking.Metric{{Key: "r2", Value: cfg.r2, Timestamp: 2000}, {Key: "weird", Value: math.NaN(), Timestamp: 2000}},
			[]tracking.Param{{Key: "n_estimators", Value: cfg.trees}}, nil)
		if err != nil {
			t.Fatalf("LogBatch: %v", err)
		}
		if err := s.LogBatch(ctx, run.Info.RunID, nil, []tracking.Param{{Key: "n_estimators", Value: "7"}}, nil); tracking.ErrorCodeOf(err) != tracking.ErrInvalidParameterValue {
			t.Fatalf("changing a param: %v, want INVALID_PARAMETER_VALUE", err)
		}
		model := t.TempDir()
		os.WriteFile(filepath.Join(model, "MLmodel"), []byte("artifact_path: model\nrun_id: "+run.Info.RunID+"\n"), 0o644)
		os.WriteFile(filepath.Join(model, "model.json"), []byte(`{"trees": `+cfg.trees+`}`), 0o644)
		repo, err := b.Artifacts(ctx, run.Info.ArtifactURI)
		if err != nil {
			t.Fatal(err)
		}
		if err := artifacts.UploadDir(ctx, repo, model, "model"); err != nil {
			t.Fatalf("UploadDir: %v", err)
		}
		finished := tracking.RunFinished
		end := int64(3000)
		info, err := s.UpdateRun(ctx, run.Info.RunID, tracking.UpdateRun{Status: &finished, EndTime: &end})
		if err != nil || info.Status != tracking.RunFinished || info.EndTime != 3000 {
			t.Fatalf("UpdateRun = %+v, %v", info, err)
		}
	}

	// The files landed where MLflow's server would put them.
	if _, err := os.Stat(filepath.Join(dest, expID, runIDs[0], "artifacts", "model", "MLmodel")); err != nil {
		t.Fatalf("artifact on the server's disk: %v", err)
	}

	run, err := s.GetRun(ctx, runIDs[1])
	if err != nil {
		t.Fatal(err)
	}
	if r2, _ := run.Metric("r2"); r2 != 0.7737 {
		t.Fatalf("GetRun r2 = %v", r2)
	}
	if w, ok := run.Metric("weird"); !ok || !math.IsNaN(w) {
		t.Fatalf("NaN metric came back as %v, %v", w, ok)
	}
	if v, _ := run.Param("n_estimators"); v != "100" {
		t.Fatalf("param n_estimators = %q", v)
	}
	if _, err := s.GetRun(ctx, "00000000000000000000000000000000"); !tracking.IsNotFound(err) {
		t.Fatalf("GetRun missing: %v, want not found", err)
	}
	hist, err := s.GetMetricHistory(ctx, runIDs[1], "r2", 0, "")
	if err != nil || len(hist.Items) != 1 || hist.Items[0].Value != 0.7737 {
		t.Fatalf("GetMetricHistory = %+v, %v", hist, err)
	}

	page, err := s.SearchRuns(ctx, tracking.RunQuery{ExperimentIDs: []string{expID}, Filter: "metrics.r2 > 0.7", OrderBy: []string{"metrics.r2 DESC"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 1 || page.Items[0].Info.RunName != "rf-tuned" {
		t.Fatalf("SearchRuns r2 > 0.7 = %d runs (%+v)", len(page.Items), page.Items)
	}
	if _, err := s.SearchRuns(ctx, tracking.RunQuery{ExperimentIDs: []string{expID}, Filter: "metrics.r2 >> 1"}); tracking.ErrorCodeOf(err) != tracking.ErrInvalidParameterValue {
		t.Fatalf("bad filter: %v, want INVALID_PARAMETER_VALUE", err)
	}

	// Registry: register both, promote, archive the old one, alias the champion.
	const model = "california-housing-model"
	if _, err := s.CreateRegisteredModel(ctx, model, "forests", []tracking.Tag{{Key: "task", Value: "regression"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateRegisteredModel(ctx, model, "", nil); !tracking.IsAlreadyExists(err) {
		t.Fatalf("duplicate registered model: %v", err)
	}
	for _, id := range runIDs {
		r, _ := s.GetRun(ctx, id)
		mv, err := s.CreateModelVersion(ctx, tracking.CreateModelVersion{Name: model, Source: r.Info.ArtifactURI + "/model", RunID: id})
		if err != nil || mv.Status != tracking.VersionReady || mv.CurrentStage != tracking.StageNone {
			t.Fatalf("CreateModelVersion = %+v, %v", mv, err)
		}
	}
	for _, st := range []struct {
		v     string
		stage tracking.Stage
	}{{"1", tracking.StageStaging}, {"1", tracking.StageProduction}, {"2", tracking.StageProduction}} {
		mv, err := s.TransitionModelVersionStage(ctx, model, st.v, st.stage, true)
		if err != nil || mv.CurrentStage != st.stage {
			t.Fatalf("transition v%s to %s: %+v, %v", st.v, st.stage, mv, err)
		}
	}
	v1, err := s.GetModelVersion(ctx, model, "1")
	if err != nil || v1.CurrentStage != tracking.StageArchived {
		t.Fatalf("v1 after v2 went to Production: %+v, %v", v1, err)
	}
	if err := s.SetRegisteredModelAlias(ctx, model, "champion", "2"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetModelVersion(ctx, model, "9"); !tracking.IsNotFound(err) {
		t.Fatalf("missing version: %v", err)
	}
	latest, err := s.GetLatestVersions(ctx, model, []tracking.Stage{tracking.StageProduction})
	if err != nil || len(latest) != 1 || latest[0].Version != "2" {
		t.Fatalf("GetLatestVersions(Production) = %+v, %v", latest, err)
	}
	rm, err := s.GetRegisteredModel(ctx, model)
	if err != nil || len(rm.Aliases) != 1 || rm.Aliases[0] != (tracking.Alias{Alias: "champion", Version: "2"}) {
		t.Fatalf("GetRegisteredModel = %+v, %v", rm, err)
	}
	mvs, err := s.SearchModelVersions(ctx, tracking.ModelQuery{Filter: "name='" + model + "'"})
	if err != nil || len(mvs.Items) != 2 {
		t.Fatalf("SearchModelVersions = %+v, %v", mvs, err)
	}

	// The champion's files, through models:/ and the server's artifact proxy.
	out := t.TempDir()
	source, _, err := fluent.New(s, b, fluent.Options{}).ResolveModelURI(ctx, "models:/"+model+"@champion")
	if err != nil {
		t.Fatal(err)
	}
	repo, err := b.Artifacts(ctx, source)
	if err != nil {
		t.Fatal(err)
	}
	if err := artifacts.DownloadDir(ctx, repo, "", out); err != nil {
		t.Fatal(err)
	}
	if body, err := os.ReadFile(filepath.Join(out, "model.json")); err != nil || string(body) != `{"trees": 100}` {
		t.Fatalf("champion model.json = %q, %v", body, err)
	}
	files, err := repo.List(ctx, "")
	if err != nil || len(files) != 2 || files[0].Path != "MLmodel" || files[0].FileSize == 0 {
		t.Fatalf("List of the champion = %+v, %v", files, err)
	}
	if _, err := repo.Get(ctx, "missing.txt"); !tracking.IsNotFound(err) {
		t.Fatalf("Get missing artifact: %v, want not found", err)
	}
	if _, err := repo.Get(ctx, "../../../x"); tracking.ErrorCodeOf(err) != tracking.ErrInvalidParameterValue {
		t.Fatalf("Get with traversal: %v, want INVALID_PARAMETER_VALUE", err)
	}

	// Clean-up paths of the API.
	if err := s.DeleteRun(ctx, runIDs[0]); err != nil {
		t.Fatal(err)
	}
	page, _ = s.SearchRuns(ctx, tracking.RunQuery{ExperimentIDs: []string{expID}})
	if len(page.Items) != 1 {
		t.Fatalf("after DeleteRun, %d active runs", len(page.Items))
	}
	if err := s.RestoreRun(ctx, runIDs[0]); err != nil {
		t.Fatal(err)
	}
	if err := s.RenameExperiment(ctx, expID, "california-housing-2"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteRegisteredModel(ctx, model); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetRegisteredModel(ctx, model); !tracking.IsNotFound(err) {
		t.Fatalf("after delete: %v", err)
	}
	if !strings.HasPrefix(run.Info.ArtifactURI, "mlflow-artifacts:/") {
		t.Fatalf("run artifact URI %q, want mlflow-artifacts:/", run.Info.ArtifactURI)
	}
}
