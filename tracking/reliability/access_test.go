package reliability_test

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/client"
	"github.com/mlops-lab/housing/tracking/wire"
)

// TestBinaryAccessControl runs the real binary with --app-name basic-auth and
// checks what the binary's wiring must give: users made over the API, a user
// with NO_PERMISSIONS sees nothing of another's experiment or model in searches
// or the UI and gets 403 on it, and a changed password ends the old one.
func TestBinaryAccessControl(t *testing.T) {
	dir := t.TempDir()
	p := startServerProcess(t, []string{"MLFLOW_AUTH_ADMIN_PASSWORD=admin-pw"},
		"--backend-store-uri", "sqlite:///"+filepath.Join(dir, "mlflow.db"), "--artifacts-destination", filepath.Join(dir, "mlartifacts"),
		"--app-name", "basic-auth")
	ctx := context.Background()
	as := func(user, pw, method, path, body string) (int, string) {
		t.Helper()
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, _ := http.NewRequest(method, p.url+path, rd)
		req.SetBasicAuth(user, pw)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, u := range []string{"alice", "bob"} {
		if st, b := as("admin", "admin-pw", "POST", wire.APIPrefix+"/mlflow/users/create", `{"username":"`+u+`","password":"`+u+`-pw"}`); st != 200 {
			t.Fatalf("create %s: %d %s", u, st, b)
		}
	}
	alice := newClient(t, p.url, client.Options{Username: "alice", Password: "alice-pw", MaxRetries: -1})
	bob := newClient(t, p.url, client.Options{Username: "bob", Password: "bob-pw", MaxRetries: -1})
	exp, err := alice.CreateExperiment(ctx, "alice-private", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alice.CreateRegisteredModel(ctx, "alice-model", "", nil); err != nil {
		t.Fatal(err)
	}
	for _, g := range []struct{ path, body string }{
		{"/mlflow/experiments/permissions/create", `{"experiment_id":"` + exp + `","username":"bob","permission":"NO_PERMISSIONS"}`},
		{"/mlflow/registered-models/permissions/create", `{"name":"alice-model","username":"bob","permission":"NO_PERMISSIONS"}`},
	} {
		if st, b := as("alice", "alice-pw", "POST", wire.APIPrefix+g.path, g.body); st != 200 {
			t.Fatalf("alice grants: %d %s", st, b)
		}
	}

	exps, err := bob.SearchExperiments(ctx, tracking.ExperimentQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if slices.ContainsFunc(exps.Items, func(e tracking.Experiment) bool { return e.ID == exp }) {
		t.Error("bob's experiments/search shows alice's experiment")
	}
	models, err := bob.SearchRegisteredModels(ctx, tracking.ModelQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(models.Items) != 0 {
		t.Errorf("bob's registered-models/search shows %d models, want none", len(models.Items))
	}
	if _, err := bob.SearchRuns(ctx, tracking.RunQuery{ExperimentIDs: []string{exp}}); tracking.ErrorCodeOf(err) != tracking.ErrPermissionDenied {
		t.Errorf("bob's runs/search on alice's experiment: %v, want PERMISSION_DENIED", err)
	}
	if st, _ := as("bob", "bob-pw", "GET", wire.PathGetExperiment+"?experiment_id="+exp, ""); st != http.StatusForbidden {
		t.Errorf("bob gets alice's experiment: %d, want 403", st)
	}
	if st, _ := as("bob", "bob-pw", "GET", "/experiments/"+exp, ""); st != http.StatusForbidden {
		t.Errorf("bob opens alice's experiment page: %d, want 403", st)
	}
	if st, body := as("bob", "bob-pw", "GET", "/", ""); st != 200 || strings.Contains(body, "alice-private") {
		t.Errorf("bob's experiments page: %d, shows alice's experiment: %v", st, strings.Contains(body, "alice-private"))
	}
	if st, body := as("alice", "alice-pw", "GET", "/", ""); st != 200 || !strings.Contains(body, "alice-private") {
		t.Errorf("alice's experiments page: %d, lacks her experiment", st)
	}

	if st, b := as("bob", "bob-pw", "PATCH", wire.APIPrefix+"/mlflow/users/update-password", `{"username":"bob","password":"bob-new"}`); st != 200 {
		t.Fatalf("bob changes his password: %d %s", st, b)
	}
	if st, _ := as("bob", "bob-pw", "GET", wire.PathSearchExperiments, ""); st != http.StatusUnauthorized {
		t.Errorf("bob's old password: %d, want 401", st)
	}
	if st, _ := as("bob", "bob-new", "GET", wire.PathSearchExperiments, ""); st != http.StatusOK {
		t.Errorf("bob's new password: %d, want 200", st)
	}

	// The web UI shows a model version's stage form to its owner, not to a reader.
	run, err := alice.CreateRun(ctx, tracking.CreateRun{ExperimentID: exp})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alice.CreateModelVersion(ctx, tracking.CreateModelVersion{Name: "alice-model", Source: run.Info.ArtifactURI + "/model", RunID: run.Info.RunID}); err != nil {
		t.Fatal(err)
	}
	if st, b := as("alice", "alice-pw", "PATCH", wire.APIPrefix+"/mlflow/registered-models/permissions/update", `{"name":"alice-model","username":"bob","permission":"READ"}`); st != 200 {
		t.Fatalf("alice lets bob read the model: %d %s", st, b)
	}
	const stageForm = `action="/models/alice-model/versions/1/stage"`
	if st, body := as("alice", "alice-pw", "GET", "/models/alice-model/versions/1", ""); st != 200 || !strings.Contains(body, stageForm) {
		t.Errorf("alice's version page: %d, stage form shown: %v; want 200 with the form", st, strings.Contains(body, stageForm))
	}
	if st, body := as("bob", "bob-new", "GET", "/models/alice-model/versions/1", ""); st != 200 || strings.Contains(body, stageForm) {
		t.Errorf("bob's version page (READ): %d, stage form shown: %v; want 200 without it", st, strings.Contains(body, stageForm))
	}
}
