package sqlstore_test

import (
	"cmp"
	"context"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mlops-lab/housing/internal/testenv"
	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/server"
)

// TestRealMLflow3ReadsOurLoggedModels fills logged models (MLflow 3) through
// our server, starts the real MLflow 3.11.1 on the database and checks it
// gets and searches the same models: params, tags, status, metrics with
// their model and data set, the source run.
func TestRealMLflow3ReadsOurLoggedModels(t *testing.T) {
	testenv.RequireMLflow(t, testenv.MLflow3)
	for _, be := range interopBackends {
		t.Run(be.name, func(t *testing.T) {
			uri := be.uri(t)
			ctx := t.Context()

			s := mustOpenVersion(t, uri, "")
			srv := httptest.NewServer(server.New(s, nil, server.Options{LoggedModels: s}))
			ours := restClient(t, srv.URL)
			q := fillLoggedModels(ctx, t, ours)
			want := readLoggedModels(ctx, t, ours, q, 2, 1)
			byName := q
			byName.Datasets = []tracking.LoggedModelDataset{{Name: "holdout"}}
			oursByName := countLoggedModels(ctx, t, ours, byName)
			srv.Close()
			s.Close()

			real := testenv.MLflowOn(t, testenv.MLflow3, uri, filepath.Join(t.TempDir(), "artifacts"))
			realClient := restClient(t, real.URL)
			got := readLoggedModels(ctx, t, realClient, q, 2, 1)
			realByName := countLoggedModels(ctx, t, realClient, byName)
			real.Stop()
			compareReads(t, "real MLflow 3.11.1 on our database", "our server", interopReads{lines: got}, interopReads{lines: want}, false, false)
			// Deliberate difference: a data set named without a digest matches
			// its metrics of any digest here, as service.proto documents
			// (dataset_digest optional); MLflow 3.11.1's handler passes the
			// missing digest as None, which its SQL store then matches as
			// "dataset_digest IS NULL", so it finds no model whose metrics have one.
			if oursByName != 1 || realByName != 0 {
				t.Errorf("models with a metric on data set holdout, any digest: ours %d (want 1), MLflow 3.11.1 %d (want 0)", oursByName, realByName)
			}
		})
	}
}

// loggedModelStore is what fillLoggedModels and readLoggedModels use of a
// client.
type loggedModelStore interface {
	tracking.Store
	tracking.LoggedModelStore
}

// fillLoggedModels writes two logged models of one run, one READY with
// params, tags and metrics on a data set, one left PENDING, and returns the
// search that finds them.
func fillLoggedModels(ctx context.Context, t *testing.T, st loggedModelStore) tracking.LoggedModelQuery {
	t.Helper()
	exp, err := st.CreateExperiment(ctx, "logged-models", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	run, err := st.CreateRun(ctx, tracking.CreateRun{ExperimentID: exp, StartTime: interopT0, RunName: "train"})
	if err != nil {
		t.Fatal(err)
	}
	runID := run.Info.RunID
	rf, err := st.CreateLoggedModel(ctx, tracking.CreateLoggedModel{
		ExperimentID: exp, Name: "rf", ModelType: "sklearn", SourceRunID: runID,
		Params: []tracking.Param{{Key: "n_estimators", Value: "100"}, {Key: "max_depth", Value: "8"}},
		Tags:   []tracking.Tag{{Key: "team", Value: "housing"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateLoggedModel(ctx, tracking.CreateLoggedModel{ExperimentID: exp, Name: "draft"}); err != nil {
		t.Fatal(err)
	}
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	must("set tags", st.SetLoggedModelTags(ctx, rf.ModelID, []tracking.Tag{{Key: "stage", Value: "candidate"}}))
	must("log params", st.LogLoggedModelParams(ctx, rf.ModelID, []tracking.Param{{Key: "criterion", Value: "squared_error"}}))
	_, err = st.FinalizeLoggedModel(ctx, rf.ModelID, tracking.LoggedModelReady)
	must("finalize", err)
	must("log metrics", st.LogBatch(ctx, runID, []tracking.Metric{
		{Key: "rmse", Value: 0.52, Timestamp: interopT0 + 100, Step: 0, ModelID: rf.ModelID, DatasetName: "holdout", DatasetDigest: "abc123"},
		{Key: "r2", Value: 0.81, Timestamp: interopT0 + 100, Step: 0, ModelID: rf.ModelID, DatasetName: "holdout", DatasetDigest: "abc123"},
		{Key: "r2", Value: 0.79, Timestamp: interopT0 + 200, Step: 1, ModelID: rf.ModelID},
	}, nil, nil))
	must("log outputs", st.LogOutputs(ctx, runID, []tracking.ModelOutput{{ModelID: rf.ModelID, Step: 1}}))
	return tracking.LoggedModelQuery{ExperimentIDs: []string{exp}}
}

// countLoggedModels returns how many logged models the search q finds.
func countLoggedModels(ctx context.Context, t *testing.T, st loggedModelStore, q tracking.LoggedModelQuery) int {
	t.Helper()
	page, err := st.SearchLoggedModels(ctx, q)
	if err != nil {
		t.Fatalf("search logged models %+v: %v", q, err)
	}
	return len(page.Items)
}

// readLoggedModels answers the search q (which must find wantModels), a
// search filtered on metrics on data set holdout (wantFiltered) and one
// ordered by name, and gets every model found, one line each.
func readLoggedModels(ctx context.Context, t *testing.T, st loggedModelStore, q tracking.LoggedModelQuery, wantModels, wantFiltered int) []string {
	t.Helper()
	var lines []string
	render := func(m tracking.LoggedModel) string {
		sortTags(m.Tags)
		slices.SortFunc(m.Params, func(a, b tracking.Param) int { return cmp.Compare(a.Key, b.Key) })
		slices.SortFunc(m.Metrics, func(a, b tracking.Metric) int {
			return cmp.Or(cmp.Compare(a.Key, b.Key), cmp.Compare(a.Timestamp, b.Timestamp), cmp.Compare(a.Step, b.Step))
		})
		return fmt.Sprintf("%+v", m)
	}
	filtered := q
	// One comparison: MLflow 3.11.1 on the sqlparse installed here (0.4.2)
	// refuses every filter with AND, as its parser meets the whitespace
	// tokens around it.
	filtered.Filter = "metrics.r2 > 0.5"
	filtered.Datasets = []tracking.LoggedModelDataset{{Name: "holdout", Digest: "abc123"}}
	ordered := q
	ordered.OrderBy = []tracking.LoggedModelOrder{{FieldName: "name", Ascending: true}}
	var ids []string
	for name, sq := range map[string]tracking.LoggedModelQuery{"all": q, "filtered": filtered, "ordered": ordered} {
		page, err := st.SearchLoggedModels(ctx, sq)
		if err != nil {
			t.Fatalf("search logged models (%s): %v", name, err)
		}
		if name == "filtered" && len(page.Items) != wantFiltered {
			t.Errorf("the filtered search found %d logged models, want %d", len(page.Items), wantFiltered)
		}
		for i, m := range page.Items {
			// Lines are sorted at the end: the ordered search's keep their place.
			lines = append(lines, fmt.Sprintf("search %s %d %s", name, map[bool]int{true: i}[name == "ordered"], render(m)))
			if name == "all" {
				ids = append(ids, m.ModelID)
			}
		}
	}
	if len(ids) != wantModels {
		t.Fatalf("the search found %d logged models, want %d", len(ids), wantModels)
	}
	for _, id := range ids {
		m, err := st.GetLoggedModel(ctx, id, false)
		if err != nil {
			t.Fatalf("get logged model %s: %v", id, err)
		}
		lines = append(lines, "get "+render(*m))
	}
	slices.Sort(lines)
	return lines
}

// logModelPython logs a scikit-learn model with MLflow 3.11.1's client, as
// a training step does: a logged model of the run, with params, finalized
// READY, and a metric on it; it prints the experiment id last.
const logModelPython = `
import mlflow
from sklearn.linear_model import LinearRegression
exp = mlflow.set_experiment("logged-models").experiment_id
with mlflow.start_run(run_name="train"):
    m = LinearRegression().fit([[0.0], [1.0], [2.0]], [0.0, 1.0, 2.0])
    info = mlflow.sklearn.log_model(m, name="model", params={"fit_intercept": "True"}, tags={"team": "housing"})
    mlflow.log_metric("r2", 0.99, model_id=info.model_id)
print(exp)
`

// TestWeReadRealMLflow3LoggedModels lets MLflow 3.11.1's client log a model
// through the real server; our server on the database must get and search
// it as MLflow did.
func TestWeReadRealMLflow3LoggedModels(t *testing.T) {
	testenv.RequireMLflow(t, testenv.MLflow3)
	for _, be := range interopBackends {
		t.Run(be.name, func(t *testing.T) {
			uri := be.uri(t)
			ctx := t.Context()

			real := testenv.MLflowOn(t, testenv.MLflow3, uri, filepath.Join(t.TempDir(), "artifacts"))
			pctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
			out, err := testenv.RunMLflowPython(pctx, testenv.MLflow3, logModelPython, "MLFLOW_TRACKING_URI="+real.URL)
			cancel()
			if err != nil {
				t.Fatalf("log a model through the real client: %v\nserver log:\n%s", err, real.Tail())
			}
			// The last line: the client prints its run's links before.
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			q := tracking.LoggedModelQuery{ExperimentIDs: []string{lines[len(lines)-1]}}
			want := readLoggedModels(ctx, t, restClient(t, real.URL), q, 1, 0)
			real.Stop()

			s := mustOpenVersion(t, uri, "")
			srv := httptest.NewServer(server.New(s, nil, server.Options{LoggedModels: s}))
			t.Cleanup(func() { srv.Close(); s.Close() })
			got := readLoggedModels(ctx, t, restClient(t, srv.URL), q, 1, 0)
			compareReads(t, "our server on MLflow 3.11.1's database", "real MLflow 3.11.1", interopReads{lines: got}, interopReads{lines: want}, false, false)
			if !strings.Contains(want[0], "Status:LOGGED_MODEL_READY") || !strings.Contains(want[0], "Key:fit_intercept") || !strings.Contains(want[0], "Key:r2") {
				t.Errorf("MLflow's model is not the one logged (READY, with its param and metric): %s", want[0])
			}
		})
	}
}
