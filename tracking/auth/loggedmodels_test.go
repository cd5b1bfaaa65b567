package auth_test

import (
	"context"
	"net/http"
	"slices"
	"testing"

	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/auth"
	"github.com/mlops-lab/housing/tracking/wire"
)

// TestLoggedModelAccess checks that logged models (MLflow 3) have their
// experiment's permissions, as MLflow's basic-auth app: READ gets, lists and
// searches, EDIT creates, finalizes, tags and logs params, MANAGE deletes;
// without permission 403, without credentials 401.
func TestLoggedModelAccess(t *testing.T) { onBothBackends(t, testLoggedModelAccess) }

func testLoggedModelAccess(t *testing.T, base string, users *auth.Store) {
	ctx := context.Background()
	for _, u := range []string{"alice", "bob", "rita", "ed", "max"} {
		if _, err := users.CreateUser(ctx, u, u+"-pw", false); err != nil {
			t.Fatal(err)
		}
	}
	alice, bob, rita, ed, mx := userClient(t, base, "alice", "alice-pw"), userClient(t, base, "bob", "bob-pw"),
		userClient(t, base, "rita", "rita-pw"), userClient(t, base, "ed", "ed-pw"), userClient(t, base, "max", "max-pw")

	exp, err := alice.CreateExperiment(ctx, "alice-models", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	run, err := alice.CreateRun(ctx, tracking.CreateRun{ExperimentID: exp})
	if err != nil {
		t.Fatal(err)
	}
	for user, perm := range map[string]string{"bob": "NO_PERMISSIONS", "rita": "READ", "ed": "EDIT", "max": "MANAGE"} {
		must(t, "grant "+user, grant(t, base, "alice", "alice-pw", "experiments", map[string]string{"experiment_id": exp, "username": user, "permission": perm}))
	}
	create := tracking.CreateLoggedModel{ExperimentID: exp, Name: "model", Params: []tracking.Param{{Key: "alpha", Value: "0.5"}}}
	m, err := alice.CreateLoggedModel(ctx, create)
	if err != nil {
		t.Fatalf("the experiment's owner creates a logged model: %v", err)
	}
	id := m.ModelID
	single := base + wire.PathLoggedModels + "/" + id

	// Creating needs EDIT on the experiment.
	_, err = rita.CreateLoggedModel(ctx, create)
	isDenied(t, "READ creates a logged model", err)
	if _, err := ed.CreateLoggedModel(ctx, create); err != nil {
		t.Errorf("EDIT creates a logged model: %v", err)
	}

	// Reading needs READ.
	_, err = bob.GetLoggedModel(ctx, id, false)
	isDenied(t, "NO_PERMISSIONS gets the logged model", err)
	if got, err := rita.GetLoggedModel(ctx, id, false); err != nil || got.ModelID != id {
		t.Errorf("READ gets the logged model: %v, %v", got, err)
	}
	for _, u := range []string{"bob", "rita"} {
		want := map[string]int{"bob": http.StatusForbidden, "rita": http.StatusOK}[u]
		if st := getStatus(t, single+"/artifacts/directories", u, u+"-pw"); st != want {
			t.Errorf("%s lists the model's artifacts: %d, want %d", u, st, want)
		}
	}
	files := base + wire.AjaxAPIPrefix + "/mlflow/logged-models/" + id + wire.PathLoggedModelArtifactFiles + "?artifact_file_path=MLmodel"
	if st := getStatus(t, files, "bob", "bob-pw"); st != http.StatusForbidden {
		t.Errorf("NO_PERMISSIONS downloads a model file: %d, want 403", st)
	}
	if st := getStatus(t, files, "rita", "rita-pw"); st == http.StatusForbidden || st == http.StatusUnauthorized {
		t.Errorf("READ downloads a model file: %d, want past auth", st)
	}
	if st, _ := request(t, "GET", single, "", "", "", ""); st != http.StatusUnauthorized {
		t.Errorf("unauthenticated get: %d, want 401", st)
	}

	// Searching needs READ on every experiment searched. Deliberate difference:
	// MLflow lets the search through and drops the unreadable models.
	q := tracking.LoggedModelQuery{ExperimentIDs: []string{exp}}
	_, err = bob.SearchLoggedModels(ctx, q)
	isDenied(t, "NO_PERMISSIONS searches the experiment's models", err)
	if page, err := rita.SearchLoggedModels(ctx, q); err != nil || len(page.Items) != 2 {
		t.Errorf("READ searches the experiment's models: %d models, %v; want 2", len(page.Items), err)
	}

	// Updating needs EDIT.
	_, err = rita.FinalizeLoggedModel(ctx, id, tracking.LoggedModelReady)
	isDenied(t, "READ finalizes", err)
	isDenied(t, "READ sets tags", rita.SetLoggedModelTags(ctx, id, []tracking.Tag{{Key: "k", Value: "v"}}))
	isDenied(t, "READ logs params", rita.LogLoggedModelParams(ctx, id, []tracking.Param{{Key: "beta", Value: "1"}}))
	// Deliberate difference: MLflow checks nothing for runs/outputs; here it
	// needs EDIT on the run, as logging to it.
	isDenied(t, "READ links the model to the run", rita.LogOutputs(ctx, run.Info.RunID, []tracking.ModelOutput{{ModelID: id}}))
	if got, err := ed.FinalizeLoggedModel(ctx, id, tracking.LoggedModelReady); err != nil || got.Status != tracking.LoggedModelReady {
		t.Errorf("EDIT finalizes: %v, %v", got, err)
	}
	must(t, "EDIT sets tags", ed.SetLoggedModelTags(ctx, id, []tracking.Tag{{Key: "k", Value: "v"}}))
	must(t, "EDIT logs params", ed.LogLoggedModelParams(ctx, id, []tracking.Param{{Key: "beta", Value: "1"}}))
	must(t, "EDIT links the model to the run", ed.LogOutputs(ctx, run.Info.RunID, []tracking.ModelOutput{{ModelID: id}}))

	// Deleting the model or a tag needs MANAGE (MLflow's can_delete).
	isDenied(t, "EDIT deletes a tag", ed.DeleteLoggedModelTag(ctx, id, "k"))
	isDenied(t, "EDIT deletes the model", ed.DeleteLoggedModel(ctx, id))
	must(t, "MANAGE deletes a tag", mx.DeleteLoggedModelTag(ctx, id, "k"))
	must(t, "MANAGE deletes the model", mx.DeleteLoggedModel(ctx, id))
	if page, err := alice.SearchLoggedModels(ctx, q); err != nil || slices.ContainsFunc(page.Items, func(m tracking.LoggedModel) bool { return m.ModelID == id }) {
		t.Errorf("the deleted model is still found: %v", err)
	}
}
