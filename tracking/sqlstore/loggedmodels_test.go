package sqlstore_test

import (
	"context"
	"math"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mlops-lab/housing/internal/testenv"

	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/sqlstore"
)

func TestLoggedModelsSQLite(t *testing.T) { testLoggedModels(t, sqliteURI(t)) }

func TestLoggedModelsPostgres(t *testing.T) { testLoggedModels(t, testenv.PostgresURI(t)) }

func testLoggedModels(t *testing.T, uri string) {
	ctx := context.Background()
	// A clock a millisecond on at each reading, so that models are created
	// in a known order.
	var ms atomic.Int64
	ms.Store(1_700_000_000_000)
	s, err := sqlstore.Open(ctx, uri, sqlstore.Options{DefaultArtifactRoot: "mlflow-artifacts:/",
		Now: func() time.Time { return time.UnixMilli(ms.Add(1)) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	exp, err := s.CreateExperiment(ctx, "logged models", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	run, err := s.CreateRun(ctx, tracking.CreateRun{ExperimentID: exp, StartTime: 1})
	if err != nil {
		t.Fatal(err)
	}
	create := func(t *testing.T, in tracking.CreateLoggedModel) *tracking.LoggedModel {
		t.Helper()
		in.ExperimentID = exp
		m, err := s.CreateLoggedModel(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	a := create(t, tracking.CreateLoggedModel{Name: "a", ModelType: "regressor", SourceRunID: run.Info.RunID,
		Params: []tracking.Param{{Key: "n_estimators", Value: "50"}, {Key: "max_depth", Value: "5"}},
		Tags:   []tracking.Tag{{Key: "lab", Value: "housing"}}})
	t.Run("Create", func(t *testing.T) {
		if !strings.HasPrefix(a.ModelID, "m-") || len(a.ModelID) != 34 {
			t.Errorf("model id %q, want m- and 32 hex digits", a.ModelID)
		}
		expObj, _ := s.GetExperiment(ctx, exp)
		if want := expObj.ArtifactLocation + "/models/" + a.ModelID + "/artifacts"; a.ArtifactLocation != want {
			t.Errorf("artifact location %q, want %q", a.ArtifactLocation, want)
		}
		if a.Status != tracking.LoggedModelPending || a.SourceRunID != run.Info.RunID || a.ModelType != "regressor" {
			t.Errorf("created %+v", a)
		}
		wantParams := []tracking.Param{{Key: "max_depth", Value: "5"}, {Key: "n_estimators", Value: "50"}}
		if !reflect.DeepEqual(a.Params, wantParams) {
			t.Errorf("params %v, want %v", a.Params, wantParams)
		}
		if generated := create(t, tracking.CreateLoggedModel{}); generated.Name == "" {
			t.Error("no generated name")
		}
		_, err := s.CreateLoggedModel(ctx, tracking.CreateLoggedModel{ExperimentID: exp, Name: "a/b"})
		wantCode(t, err, tracking.ErrInvalidParameterValue, "")
		_, err = s.CreateLoggedModel(ctx, tracking.CreateLoggedModel{ExperimentID: "12345"})
		wantCode(t, err, tracking.ErrResourceDoesNotExist, "")
	})

	t.Run("FinalizeTagsParams", func(t *testing.T) {
		m, err := s.FinalizeLoggedModel(ctx, a.ModelID, tracking.LoggedModelReady)
		if err != nil || m.Status != tracking.LoggedModelReady {
			t.Fatalf("finalize: %v, %v", m, err)
		}
		if err := s.SetLoggedModelTags(ctx, a.ModelID, []tracking.Tag{{Key: "lab", Value: "seed"}, {Key: "k", Value: "v"}}); err != nil {
			t.Fatal(err)
		}
		if err := s.LogLoggedModelParams(ctx, a.ModelID, []tracking.Param{{Key: "seed", Value: "42"}}); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteLoggedModelTag(ctx, a.ModelID, "k"); err != nil {
			t.Fatal(err)
		}
		wantCode(t, s.DeleteLoggedModelTag(ctx, a.ModelID, "k"), tracking.ErrResourceDoesNotExist,
			"No tag with key 'k' found for model with ID '"+a.ModelID+"'.")
		got, err := s.GetLoggedModel(ctx, a.ModelID, false)
		if err != nil {
			t.Fatal(err)
		}
		if v, _ := got.Tag("lab"); v != "seed" || len(got.Tags) != 1 {
			t.Errorf("tags %v", got.Tags)
		}
		if v, _ := got.Param("seed"); v != "42" || len(got.Params) != 3 {
			t.Errorf("params %v", got.Params)
		}
		_, err = s.GetLoggedModel(ctx, "m-unknown", false)
		wantCode(t, err, tracking.ErrResourceDoesNotExist, "Logged model with ID 'm-unknown' not found.")
	})

	t.Run("MetricsOutputsInputs", func(t *testing.T) {
		metrics := []tracking.Metric{
			{Key: "r2", Value: 0.8, Timestamp: 10, Step: 0, ModelID: a.ModelID, DatasetName: "test", DatasetDigest: "d1"},
			{Key: "r2", Value: math.NaN(), Timestamp: 11, Step: 1, ModelID: a.ModelID},
			{Key: "plain", Value: 1, Timestamp: 10},
		}
		if err := s.LogBatch(ctx, run.Info.RunID, metrics, nil, nil); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetLoggedModel(ctx, a.ModelID, false)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Metrics) != 2 {
			t.Fatalf("model metrics %+v, want the two with its id", got.Metrics)
		}
		m0 := got.Metrics[0]
		if m0.Value != 0.8 || m0.RunID != run.Info.RunID || m0.DatasetName != "test" || m0.DatasetDigest != "d1" || m0.ModelID != a.ModelID {
			t.Errorf("metric %+v", m0)
		}
		if !math.IsNaN(got.Metrics[1].Value) {
			t.Errorf("NaN came back as %v", got.Metrics[1].Value)
		}
		if err := s.LogOutputs(ctx, run.Info.RunID, []tracking.ModelOutput{{ModelID: a.ModelID, Step: 3}}); err != nil {
			t.Fatal(err)
		}
		if err := s.LogModelInputs(ctx, run.Info.RunID, []tracking.ModelInput{{ModelID: a.ModelID}}); err != nil {
			t.Fatal(err)
		}
		r, err := s.GetRun(ctx, run.Info.RunID)
		if err != nil {
			t.Fatal(err)
		}
		if want := []tracking.ModelOutput{{ModelID: a.ModelID, Step: 3}}; !reflect.DeepEqual(r.ModelOutputs, want) {
			t.Errorf("outputs %v, want %v", r.ModelOutputs, want)
		}
		if want := []tracking.ModelInput{{ModelID: a.ModelID}}; !reflect.DeepEqual(r.ModelInputs, want) {
			t.Errorf("model inputs %v, want %v", r.ModelInputs, want)
		}
		if _, ok := r.Metric("plain"); !ok {
			t.Error("the run lost its plain metric")
		}
	})

	t.Run("Search", func(t *testing.T) {
		exp2, err := s.CreateExperiment(ctx, "search logged models", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		run2, err := s.CreateRun(ctx, tracking.CreateRun{ExperimentID: exp2})
		if err != nil {
			t.Fatal(err)
		}
		exp := exp2
		mk := func(name, depth string, r2 float64, ds string) string {
			m, err := s.CreateLoggedModel(ctx, tracking.CreateLoggedModel{ExperimentID: exp, Name: name,
				Params: []tracking.Param{{Key: "max_depth", Value: depth}}, Tags: []tracking.Tag{{Key: "kind", Value: "forest"}}})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.LogBatch(ctx, run2.Info.RunID, []tracking.Metric{{Key: "r2", Value: r2, Timestamp: 1, ModelID: m.ModelID, DatasetName: ds}}, nil, nil); err != nil {
				t.Fatal(err)
			}
			return m.ModelID
		}
		mk("rf-baseline", "5", 0.6, "test")
		mk("rf-tuned", "10", 0.8, "test")
		deleted := mk("rf-gone", "12", 0.9, "test")
		mk("rf-other", "7", 0.7, "holdout")
		if err := s.DeleteLoggedModel(ctx, deleted); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetLoggedModel(ctx, deleted, false); tracking.ErrorCodeOf(err) != tracking.ErrResourceDoesNotExist {
			t.Errorf("deleted model: %v", err)
		}
		if _, err := s.GetLoggedModel(ctx, deleted, true); err != nil {
			t.Errorf("deleted model with allowDeleted: %v", err)
		}
		search := func(q tracking.LoggedModelQuery) ([]string, string) {
			q.ExperimentIDs = []string{exp}
			page, err := s.SearchLoggedModels(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, m := range page.Items {
				out = append(out, m.Name)
			}
			return out, page.NextPageToken
		}
		for _, c := range []struct {
			q    tracking.LoggedModelQuery
			want []string
		}{
			{tracking.LoggedModelQuery{}, []string{"rf-other", "rf-tuned", "rf-baseline"}},
			{tracking.LoggedModelQuery{Filter: "metrics.r2 >= 0.7"}, []string{"rf-other", "rf-tuned"}},
			{tracking.LoggedModelQuery{Filter: "params.max_depth = '5' AND name LIKE 'rf-%'"}, []string{"rf-baseline"}},
			{tracking.LoggedModelQuery{Filter: "tags.kind != 'forest'"}, nil},
			{tracking.LoggedModelQuery{Filter: "name IN ('rf-tuned', 'rf-gone')"}, []string{"rf-tuned"}},
			// Deliberate difference: MLflow matches no status name (it
			// compares them with the numbers the column holds).
			{tracking.LoggedModelQuery{Filter: "status = 'LOGGED_MODEL_PENDING' AND experiment_id = '" + exp + "'"}, []string{"rf-other", "rf-tuned", "rf-baseline"}},
			{tracking.LoggedModelQuery{Filter: "status IN ('READY', 'LOGGED_MODEL_UPLOAD_FAILED')"}, nil},
			{tracking.LoggedModelQuery{Filter: "status != 'PENDING'"}, nil},
			{tracking.LoggedModelQuery{Filter: "experiment_id IN ('" + exp + "')"}, []string{"rf-other", "rf-tuned", "rf-baseline"}},
			{tracking.LoggedModelQuery{Datasets: []tracking.LoggedModelDataset{{Name: "holdout"}}}, []string{"rf-other"}},
			{tracking.LoggedModelQuery{Filter: "metrics.r2 > 0.65", Datasets: []tracking.LoggedModelDataset{{Name: "test"}}}, []string{"rf-tuned"}},
			{tracking.LoggedModelQuery{OrderBy: []tracking.LoggedModelOrder{{FieldName: "metrics.r2", Ascending: false}}}, []string{"rf-tuned", "rf-other", "rf-baseline"}},
			{tracking.LoggedModelQuery{OrderBy: []tracking.LoggedModelOrder{{FieldName: "name", Ascending: true}}}, []string{"rf-baseline", "rf-other", "rf-tuned"}},
			{tracking.LoggedModelQuery{OrderBy: []tracking.LoggedModelOrder{{FieldName: "creation_timestamp", Ascending: true}}}, []string{"rf-baseline", "rf-tuned", "rf-other"}},
		} {
			if got, _ := search(c.q); !reflect.DeepEqual(got, c.want) {
				t.Errorf("search %+v: %v, want %v", c.q, got, c.want)
			}
		}
		q := tracking.LoggedModelQuery{MaxResults: 2, OrderBy: []tracking.LoggedModelOrder{{FieldName: "name", Ascending: true}}}
		first, token := search(q)
		if !reflect.DeepEqual(first, []string{"rf-baseline", "rf-other"}) || token == "" {
			t.Fatalf("page 1: %v, token %q", first, token)
		}
		q.PageToken = token
		if second, next := search(q); !reflect.DeepEqual(second, []string{"rf-tuned"}) || next != "" {
			t.Errorf("page 2: %v, token %q", second, next)
		}
		// A token is for its own search only.
		_, err = s.SearchLoggedModels(ctx, tracking.LoggedModelQuery{ExperimentIDs: []string{exp}, PageToken: token, MaxResults: 2})
		wantCode(t, err, tracking.ErrInvalidParameterValue, "")
		for _, bad := range []string{"metrics.r2 LIKE '1'", "foo = 'x'", "name = 'a' OR name = 'b'", "bogus.x = 'y'"} {
			_, err := s.SearchLoggedModels(ctx, tracking.LoggedModelQuery{ExperimentIDs: []string{exp}, Filter: bad})
			wantCode(t, err, tracking.ErrInvalidParameterValue, "")
		}
		_, err = s.SearchLoggedModels(ctx, tracking.LoggedModelQuery{ExperimentIDs: []string{exp}, OrderBy: []tracking.LoggedModelOrder{{FieldName: "params.x"}}})
		wantCode(t, err, tracking.ErrInvalidParameterValue, "Invalid order by field name: params.x. Only metrics are supported.")
	})

	t.Run("VersionFromModel", func(t *testing.T) {
		if _, err := s.CreateRegisteredModel(ctx, "california-housing", "", nil); err != nil {
			t.Fatal(err)
		}
		mv, err := s.CreateModelVersion(ctx, tracking.CreateModelVersion{Name: "california-housing", Source: "models:/" + a.ModelID})
		if err != nil {
			t.Fatal(err)
		}
		if mv.RunID != run.Info.RunID {
			t.Errorf("version run %q, want the model's source run %q", mv.RunID, run.Info.RunID)
		}
		uri, err := s.GetModelVersionDownloadURI(ctx, mv.Name, mv.Version)
		if err != nil || uri != a.ArtifactLocation {
			t.Errorf("download URI %q (%v), want the model's artifact location %q", uri, err, a.ArtifactLocation)
		}
		_, err = s.CreateModelVersion(ctx, tracking.CreateModelVersion{Name: "california-housing", Source: "models:/m-none"})
		wantCode(t, err, tracking.ErrInternal, "")
	})
}

// TestLoggedModelsNeedMLflow3Schema: on a database at MLflow 2.17.2's schema
// the logged-model calls fail naming the upgrade, and runs work as before.
func TestLoggedModelsNeedMLflow3Schema(t *testing.T) {
	ctx := context.Background()
	s, err := sqlstore.Open(ctx, sqliteURI(t), sqlstore.Options{SchemaVersion: sqlstore.SchemaMLflow2})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	exp, err := s.CreateExperiment(ctx, "old schema", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.CreateLoggedModel(ctx, tracking.CreateLoggedModel{ExperimentID: exp})
	if tracking.ErrorCodeOf(err) != tracking.ErrNotImplemented || !strings.Contains(tracking.ErrorMessage(err), sqlstore.UpgradeCommand) {
		t.Errorf("create on 2.17.2's schema: %v, want NOT_IMPLEMENTED naming %q", err, sqlstore.UpgradeCommand)
	}
	run, err := s.CreateRun(ctx, tracking.CreateRun{ExperimentID: exp})
	if err != nil {
		t.Fatal(err)
	}
	err = s.LogBatch(ctx, run.Info.RunID, []tracking.Metric{{Key: "r2", Value: 1, ModelID: "m-1"}}, nil, nil)
	if !strings.Contains(tracking.ErrorMessage(err), sqlstore.UpgradeCommand) {
		t.Errorf("a metric with a model id on 2.17.2's schema: %v", err)
	}
	if err := s.LogBatch(ctx, run.Info.RunID, []tracking.Metric{{Key: "r2", Value: 1}}, nil, nil); err != nil {
		t.Fatal(err)
	}
	if r, err := s.GetRun(ctx, run.Info.RunID); err != nil || len(r.Data.Metrics) != 1 || r.ModelOutputs != nil {
		t.Errorf("run on 2.17.2's schema: %+v, %v", r, err)
	}
}
