package auth_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/artifacts"
	"github.com/mlops-lab/housing/tracking/auth"
	"github.com/mlops-lab/housing/tracking/client"
	"github.com/mlops-lab/housing/tracking/server"
	"github.com/mlops-lab/housing/tracking/sqlstore"
	"github.com/mlops-lab/housing/tracking/ui"
	"github.com/mlops-lab/housing/tracking/wire"
)

// authServer serves a real SQLite store, local artifacts and the web UI behind
// auth, with users and permissions in the same database, and an admin.
func authServer(t *testing.T) (*httptest.Server, *auth.Store) {
	t.Helper()
	dir := t.TempDir()
	return authServerAt(t, "sqlite:///"+filepath.Join(dir, "mlflow.db"), dir, auth.HandlerOptions{})
}

// authServerAt is authServer on the database at uri (SQLite or PostgreSQL),
// with artifacts in dir, wired as the tracking-server binary wires it: the API
// and the UI over the guarded store, the handler in front.
func authServerAt(t *testing.T, uri, dir string, opt auth.HandlerOptions) (*httptest.Server, *auth.Store) {
	t.Helper()
	ctx := context.Background()
	store, err := sqlstore.Open(ctx, uri, sqlstore.Options{DefaultArtifactRoot: "mlflow-artifacts:/"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	repo, err := artifacts.NewLocal(filepath.Join(dir, "mlartifacts"))
	if err != nil {
		t.Fatal(err)
	}
	users, err := auth.Open(ctx, uri, auth.Options{BcryptCost: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { users.Close() })
	if created, err := users.EnsureAdmin(ctx, "admin", "admin-pw"); err != nil || !created {
		t.Fatalf("EnsureAdmin: %v, %v", created, err)
	}
	if created, err := users.EnsureAdmin(ctx, "admin", "other"); err != nil || created {
		t.Fatalf("second EnsureAdmin: created=%v, %v; want no change", created, err)
	}
	// As cmd/tracking-server wires them: the SQL store serves logged models.
	opt.LoggedModels = store
	guarded := users.Guard(store, opt)
	h := server.New(guarded, repo, server.Options{UI: ui.New(guarded, nil, ui.Options{ModelAccess: users.ModelAccess(opt)}), LoggedModels: store})
	srv := httptest.NewServer(users.Handler(h, store, opt))
	t.Cleanup(srv.Close)
	return srv, users
}

func userClient(t *testing.T, base, user, password string) *client.Client {
	t.Helper()
	c, err := client.New(base, client.Options{Username: user, Password: password, MaxRetries: -1, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestUnauthenticated(t *testing.T) {
	srv, _ := authServer(t)
	for _, c := range []struct{ name, user, pw, path string }{
		{"NoCredentialsAPI", "", "", wire.PathSearchExperiments},
		{"NoCredentialsUI", "", "", "/"},
		{"NoCredentialsArtifacts", "", "", wire.PathArtifacts + "?path="},
		{"WrongPassword", "admin", "nope", wire.PathSearchExperiments},
		{"UnknownUser", "mallory", "admin-pw", wire.PathSearchExperiments},
	} {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", srv.URL+c.path, nil)
			if c.user != "" {
				req.SetBasicAuth(c.user, c.pw)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic") {
				t.Errorf("status %s, WWW-Authenticate %q; want 401 with a Basic challenge", resp.Status, resp.Header.Get("WWW-Authenticate"))
			}
		})
	}
	resp, err := http.Get(srv.URL + wire.PathHealth)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/health without credentials: %s, want 200 (probes carry none)", resp.Status)
	}
	c := userClient(t, srv.URL, "admin", "nope")
	_, err = c.SearchExperiments(context.Background(), tracking.ExperimentQuery{})
	if tracking.ErrorCodeOf(err) != tracking.ErrUnauthenticated {
		t.Errorf("client with a wrong password: %v, want UNAUTHENTICATED", err)
	}
}

func TestPermissions(t *testing.T) {
	srv, users := authServer(t)
	ctx := context.Background()
	admin := userClient(t, srv.URL, "admin", "admin-pw")
	for _, u := range []string{"alice", "bob"} {
		if _, err := users.CreateUser(ctx, u, u+"-pw", false); err != nil {
			t.Fatal(err)
		}
	}
	alice := userClient(t, srv.URL, "alice", "alice-pw")
	bob := userClient(t, srv.URL, "bob", "bob-pw")
	denied := func(what string, err error) {
		t.Helper()
		if tracking.ErrorCodeOf(err) != tracking.ErrPermissionDenied {
			t.Errorf("%s: %v, want PERMISSION_DENIED", what, err)
		}
	}
	allowed := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Errorf("%s: %v, want success", what, err)
		}
	}

	// The creator gets MANAGE; others READ by default.
	exp, err := alice.CreateExperiment(ctx, "alice-exp", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	run, err := alice.CreateRun(ctx, tracking.CreateRun{ExperimentID: exp})
	if err != nil {
		t.Fatal(err)
	}
	allowed("alice logs to her run", alice.LogBatch(ctx, run.Info.RunID, []tracking.Metric{{Key: "r2", Value: 0.8, Timestamp: 1}}, nil, nil))
	_, err = bob.GetRun(ctx, run.Info.RunID)
	allowed("bob reads alice's run", err)
	denied("bob logs to alice's run", bob.LogBatch(ctx, run.Info.RunID, []tracking.Metric{{Key: "r2", Value: 0, Timestamp: 1}}, nil, nil))
	_, err = bob.CreateRun(ctx, tracking.CreateRun{ExperimentID: exp})
	denied("bob creates a run in alice's experiment", err)
	denied("bob deletes alice's experiment", bob.DeleteExperiment(ctx, exp))
	denied("bob grants himself", grant(t, srv.URL, "bob", "bob-pw", "experiments", map[string]string{"experiment_id": exp, "username": "bob", "permission": "MANAGE"}))

	// EDIT lets bob log, not delete.
	allowed("alice grants bob EDIT", grant(t, srv.URL, "alice", "alice-pw", "experiments", map[string]string{"experiment_id": exp, "username": "bob", "permission": "EDIT"}))
	allowed("bob logs with EDIT", bob.LogBatch(ctx, run.Info.RunID, []tracking.Metric{{Key: "r2", Value: 0.7, Timestamp: 2}}, nil, nil))
	denied("bob deletes the run with EDIT", bob.DeleteRun(ctx, run.Info.RunID))

	// NO_PERMISSIONS hides it.
	if err := grant(t, srv.URL, "alice", "alice-pw", "experiments", map[string]string{"experiment_id": exp, "username": "bob", "permission": "READ"}); !tracking.IsAlreadyExists(err) {
		t.Errorf("second create of bob's permission: %v, want RESOURCE_ALREADY_EXISTS (update changes it)", err)
	}
	allowed("alice revokes bob", send(t, "PATCH", srv.URL+auth.PathUpdateExperimentPermission, "alice", "alice-pw", `{"experiment_id":"`+exp+`","username":"bob","permission":"NO_PERMISSIONS"}`))
	_, err = bob.GetExperiment(ctx, exp)
	denied("bob reads with NO_PERMISSIONS", err)
	_, err = bob.GetRun(ctx, run.Info.RunID)
	denied("bob reads the run with NO_PERMISSIONS", err)
	_, err = admin.GetRun(ctx, run.Info.RunID)
	allowed("the admin reads anything", err)

	// Registered models the same way.
	if _, err := alice.CreateRegisteredModel(ctx, "housing", "", nil); err != nil {
		t.Fatal(err)
	}
	_, err = alice.CreateModelVersion(ctx, tracking.CreateModelVersion{Name: "housing", Source: run.Info.ArtifactURI + "/model", RunID: run.Info.RunID})
	allowed("alice registers a version", err)
	_, err = bob.TransitionModelVersionStage(ctx, "housing", "1", tracking.StageProduction, true)
	denied("bob promotes alice's model", err)
	denied("bob deletes alice's model", bob.DeleteRegisteredModel(ctx, "housing"))
	allowed("alice grants bob EDIT on the model", grant(t, srv.URL, "alice", "alice-pw", "registered-models", map[string]string{"name": "housing", "username": "bob", "permission": "EDIT"}))
	_, err = bob.TransitionModelVersionStage(ctx, "housing", "1", tracking.StageProduction, true)
	allowed("bob promotes with EDIT", err)

	// Only the admin creates users; the UI's pages need a user.
	denied("alice creates a user", post(t, srv.URL+auth.PathCreateUser, "alice", "alice-pw", `{"username":"eve","password":"x"}`))
	allowed("admin creates a user", post(t, srv.URL+auth.PathCreateUser, "admin", "admin-pw", `{"username":"eve","password":"eve-pw"}`))
	_, err = userClient(t, srv.URL, "eve", "eve-pw").SearchExperiments(ctx, tracking.ExperimentQuery{})
	allowed("eve searches", err)
	req, _ := http.NewRequest("GET", srv.URL+"/", nil)
	req.SetBasicAuth("bob", "bob-pw")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("bob opens the UI: %v %v", resp.Status, err)
	} else {
		resp.Body.Close()
	}
}

func grant(t *testing.T, base, user, pw, kind string, body map[string]string) error {
	t.Helper()
	var parts []string
	for k, v := range body {
		parts = append(parts, `"`+k+`":"`+v+`"`)
	}
	return post(t, base+wire.APIPrefix+"/mlflow/"+kind+"/permissions/create", user, pw, "{"+strings.Join(parts, ",")+"}")
}

// post sends a JSON POST and returns the answer's error (nil on 200).
func post(t *testing.T, url, user, pw, body string) error {
	t.Helper()
	return send(t, "POST", url, user, pw, body)
}

// send sends a JSON request and returns the answer's error (nil on 200), with
// the error code of its MLflow error body (else the code its status maps to).
func send(t *testing.T, method, url, user, pw, body string) error {
	t.Helper()
	_, err := call(t, method, url, user, pw, body)
	return err
}

// call is send that also returns the body of a 200 answer.
func call(t *testing.T, method, url, user, pw, body string) ([]byte, error) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, url, rd)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.SetBasicAuth(user, pw)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode == http.StatusOK {
		return b, nil
	}
	var e struct {
		ErrorCode string `json:"error_code"`
	}
	if json.Unmarshal(b, &e) == nil && e.ErrorCode != "" {
		return nil, tracking.Errorf(tracking.ErrorCode(e.ErrorCode), "%s: %s", resp.Status, b)
	}
	return nil, tracking.Errorf(tracking.CodeForStatus(resp.StatusCode), "%s", resp.Status)
}
