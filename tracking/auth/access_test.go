package auth_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/mlops-lab/housing/internal/testenv"
	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/auth"
	"github.com/mlops-lab/housing/tracking/client"
	"github.com/mlops-lab/housing/tracking/server"
	"github.com/mlops-lab/housing/tracking/wire"
)

// TestAccess walks one owner's experiment and model past a user without
// permission, READ, EDIT and MANAGE grantees and the admin, through the real
// client, plain HTTP and the web UI, on SQLite and PostgreSQL.
func TestAccess(t *testing.T) { onBothBackends(t, testAccess) }

// onBothBackends runs test against an auth server on a new SQLite database and
// on a new PostgreSQL one.
func onBothBackends(t *testing.T, test func(t *testing.T, base string, users *auth.Store)) {
	for _, b := range []struct {
		name string
		uri  func(t *testing.T, dir string) string
	}{
		{"sqlite", func(t *testing.T, dir string) string { return "sqlite:///" + filepath.Join(dir, "mlflow.db") }},
		{"postgresql", func(t *testing.T, _ string) string { return testenv.PostgresURI(t) }},
	} {
		t.Run(b.name, func(t *testing.T) {
			dir := t.TempDir()
			srv, users := authServerAt(t, b.uri(t, dir), dir, auth.HandlerOptions{})
			test(t, srv.URL, users)
		})
	}
}

func testAccess(t *testing.T, base string, users *auth.Store) {
	ctx := context.Background()
	for _, u := range []string{"alice", "bob", "rita", "ed", "max"} {
		if _, err := users.CreateUser(ctx, u, u+"-pw", false); err != nil {
			t.Fatal(err)
		}
	}
	cl := func(u string) *client.Client { return userClient(t, base, u, u+"-pw") }
	alice, bob, rita, ed, mx := cl("alice"), cl("bob"), cl("rita"), cl("ed"), cl("max")
	admin := userClient(t, base, "admin", "admin-pw")

	// alice's experiment, run, artifact and model; bob may see none of it.
	exp, err := alice.CreateExperiment(ctx, "alice-secret", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	run, err := alice.CreateRun(ctx, tracking.CreateRun{ExperimentID: exp})
	if err != nil {
		t.Fatal(err)
	}
	must(t, "alice logs", alice.LogBatch(ctx, run.Info.RunID, []tracking.Metric{{Key: "r2", Value: 0.8, Timestamp: 1}}, nil, nil))
	if err := send(t, "PUT", base+wire.PathArtifacts+"/"+exp+"/"+run.Info.RunID+"/artifacts/model/MLmodel", "alice", "alice-pw", "flavors: {}\n"); err != nil {
		t.Fatalf("alice uploads an artifact: %v", err)
	}
	if _, err := alice.CreateRegisteredModel(ctx, "alice-model", "", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.CreateModelVersion(ctx, tracking.CreateModelVersion{Name: "alice-model", Source: run.Info.ArtifactURI + "/model", RunID: run.Info.RunID}); err != nil {
		t.Fatal(err)
	}
	// bob's own experiment, to search alongside.
	bobExp, err := bob.CreateExperiment(ctx, "bob-own", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	bobRun, err := bob.CreateRun(ctx, tracking.CreateRun{ExperimentID: bobExp})
	if err != nil {
		t.Fatal(err)
	}
	for user, perm := range map[string]string{"bob": "NO_PERMISSIONS", "rita": "READ", "ed": "EDIT", "max": "MANAGE"} {
		must(t, "alice grants "+user+" on the experiment", grant(t, base, "alice", "alice-pw", "experiments", map[string]string{"experiment_id": exp, "username": user, "permission": perm}))
		must(t, "alice grants "+user+" on the model", grant(t, base, "alice", "alice-pw", "registered-models", map[string]string{"name": "alice-model", "username": user, "permission": perm}))
	}

	t.Run("NoPermissionsSeesNothing", func(t *testing.T) {
		hidden(t, bob, exp, "alice-secret", "alice-model", run.Info.RunID)
		if ids := experimentIDs(t, bob, ""); !slices.Contains(ids, bobExp) {
			t.Errorf("bob's search %v lacks his own experiment %s", ids, bobExp)
		}
		_, err := bob.SearchRuns(ctx, tracking.RunQuery{ExperimentIDs: []string{bobExp, exp}})
		isDenied(t, "bob searches runs of his and alice's experiments", err)
		_, err = bob.SearchDatasets(ctx, []string{bobExp, exp})
		isDenied(t, "bob searches the data sets of his and alice's experiments", err)
		for what, path := range map[string]string{
			"get experiment":    wire.PathGetExperiment + "?experiment_id=" + exp,
			"get by name":       wire.PathGetExperimentByName + "?experiment_name=alice-secret",
			"get run":           wire.PathGetRun + "?run_id=" + run.Info.RunID,
			"metric history":    wire.PathGetMetricHistory + "?run_id=" + run.Info.RunID + "&metric_key=r2",
			"list artifacts":    wire.PathListArtifacts + "?run_id=" + run.Info.RunID,
			"proxied artifact":  wire.PathArtifacts + "/" + exp + "/" + run.Info.RunID + "/artifacts/model/MLmodel",
			"proxied listing":   wire.PathArtifacts + "?path=" + exp,
			"get model":         wire.PathGetRegisteredModel + "?name=alice-model",
			"get version":       wire.PathGetModelVersion + "?name=alice-model&version=1",
			"download uri":      wire.PathGetModelVersionDownloadURI + "?name=alice-model&version=1",
			"latest versions":   wire.PathGetLatestVersions + "?name=alice-model",
			"ui experiment":     "/experiments/" + exp,
			"ui run":            "/runs/" + run.Info.RunID,
			"ui model":          "/models/alice-model",
			"ui version":        "/models/alice-model/versions/1",
			"ui compare":        "/compare?runs=" + bobRun.Info.RunID + "&runs=" + run.Info.RunID,
			"run artifact file": wire.PathGetArtifact + "?run_id=" + run.Info.RunID + "&path=model/MLmodel",
		} {
			if status := getStatus(t, base+path, "bob", "bob-pw"); status != http.StatusForbidden {
				t.Errorf("bob: %s: status %d, want 403", what, status)
			}
		}
		rootIDs := func(user string) []string {
			var list wire.ListArtifactsResponse
			if err := json.Unmarshal([]byte(getBody(t, base+wire.PathArtifacts, user, user+"-pw")), &list); err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, f := range list.Files {
				ids = append(ids, f.Path)
			}
			return ids
		}
		if ids := rootIDs("bob"); slices.Contains(ids, exp) {
			t.Errorf("bob's listing of the artifact root %v shows alice's experiment %s", ids, exp)
		}
		for _, u := range []string{"alice", "rita", "admin"} {
			if ids := rootIDs(u); !slices.Contains(ids, exp) {
				t.Errorf("%s's listing of the artifact root %v lacks the experiment %s", u, ids, exp)
			}
		}
		for _, page := range []string{"/", "/experiments", "/models", "/experiments/" + bobExp} {
			if body := getBody(t, base+page, "bob", "bob-pw"); strings.Contains(body, "alice-secret") || strings.Contains(body, "alice-model") {
				t.Errorf("bob's UI page %s shows alice's experiment or model", page)
			}
		}
	})

	t.Run("ReadViewsButDoesNotWrite", func(t *testing.T) {
		if ids := experimentIDs(t, rita, ""); !slices.Contains(ids, exp) {
			t.Errorf("rita's search %v lacks the experiment", ids)
		}
		runs, err := rita.SearchRuns(ctx, tracking.RunQuery{ExperimentIDs: []string{exp}})
		if err != nil || len(runs.Items) != 1 {
			t.Errorf("rita searches runs: %d, %v", len(runs.Items), err)
		}
		for _, page := range []string{"/experiments/" + exp, "/runs/" + run.Info.RunID, "/models/alice-model", "/models/alice-model/versions/1"} {
			if status := getStatus(t, base+page, "rita", "rita-pw"); status != http.StatusOK {
				t.Errorf("rita opens %s: %d", page, status)
			}
		}
		if _, err := rita.SearchDatasets(ctx, []string{exp}); err != nil {
			t.Errorf("rita searches the experiment's data sets: %v", err)
		}
		isDenied(t, "rita logs", rita.LogBatch(ctx, run.Info.RunID, []tracking.Metric{{Key: "r2", Value: 0, Timestamp: 2}}, nil, nil))
		_, err = rita.CreateRun(ctx, tracking.CreateRun{ExperimentID: exp})
		isDenied(t, "rita creates a run", err)
		_, err = rita.TransitionModelVersionStage(ctx, "alice-model", "1", tracking.StageStaging, false)
		isDenied(t, "rita transitions", err)
		isDenied(t, "rita sets an alias", rita.SetRegisteredModelAlias(ctx, "alice-model", "champion", "1"))
		isDenied(t, "rita uploads an artifact", send(t, "PUT", base+wire.PathArtifacts+"/"+exp+"/x.txt", "rita", "rita-pw", "x"))
		isDenied(t, "rita starts a multipart upload", send(t, "POST", base+wire.PathMultipartCreate+"/"+exp+"/big.bin", "rita", "rita-pw", `{"path":"big.bin","num_parts":2}`))
		// Part URLs pass the login (they carry no credentials): the multipart
		// handler's own signature check answers, not a 401.
		req, _ := http.NewRequest("PUT", base+server.PathMultipartPart+"?upload_id=u&part_number=1&expires=1&signature=AAAA", strings.NewReader("x"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusOK {
			t.Errorf("forged part URL without credentials: %s, want the multipart handler's refusal", resp.Status)
		}
		if body := getBody(t, base+"/models/alice-model/versions/1", "rita", "rita-pw"); strings.Contains(body, `/stage"`) || strings.Contains(body, `value="set"`) {
			t.Error("rita's version page offers the stage or alias form")
		}
		// A stage form posted anyway (a token from ed's page) is still refused.
		if status := uiPostAs(t, base, "/models/alice-model/versions/1", "ed", "/models/alice-model/versions/1/stage", "rita", url.Values{"stage": {"Staging"}, "confirm": {"yes"}}); status != http.StatusForbidden {
			t.Errorf("rita's stage form: %d, want 403", status)
		}
	})

	t.Run("EditLogsAndTransitions", func(t *testing.T) {
		must(t, "ed logs", ed.LogBatch(ctx, run.Info.RunID, []tracking.Metric{{Key: "r2", Value: 0.9, Timestamp: 3}}, nil, nil))
		_, err := ed.CreateRun(ctx, tracking.CreateRun{ExperimentID: exp})
		must(t, "ed creates a run", err)
		_, err = ed.TransitionModelVersionStage(ctx, "alice-model", "1", tracking.StageStaging, false)
		must(t, "ed transitions", err)
		must(t, "ed sets an alias", ed.SetRegisteredModelAlias(ctx, "alice-model", "champion", "1"))
		isDenied(t, "ed deletes an alias (MANAGE)", ed.DeleteRegisteredModelAlias(ctx, "alice-model", "champion"))
		isDenied(t, "ed deletes the run", ed.DeleteRun(ctx, run.Info.RunID))
		isDenied(t, "ed grants", grant(t, base, "ed", "ed-pw", "experiments", map[string]string{"experiment_id": exp, "username": "bob", "permission": "READ"}))
		if status := uiPost(t, base, "/models/alice-model/versions/1", "/models/alice-model/versions/1/stage", "ed", url.Values{"stage": {"Production"}, "confirm": {"yes"}}); status != http.StatusSeeOther {
			t.Errorf("ed's stage form: %d, want 303", status)
		}
		if v, err := admin.GetModelVersion(ctx, "alice-model", "1"); err != nil || v.CurrentStage != tracking.StageProduction {
			t.Errorf("after ed's form: %+v, %v; want Production", v, err)
		}
		if status := uiPost(t, base, "/models/alice-model", "/models/alice-model/aliases", "ed", url.Values{"action": {"set"}, "alias": {"best"}, "version": {"1"}, "confirm": {"yes"}}); status != http.StatusSeeOther {
			t.Errorf("ed's alias form: %d, want 303", status)
		}
		if body := getBody(t, base+"/models/alice-model", "ed", "ed-pw"); !strings.Contains(body, `value="set"`) || strings.Contains(body, `value="delete"`) {
			t.Error("ed's model page: want the set-alias form and no delete-alias forms (MANAGE)")
		}
		if body := getBody(t, base+"/models/alice-model", "max", "max-pw"); !strings.Contains(body, `value="delete"`) {
			t.Error("max's model page lacks the delete-alias forms")
		}
	})

	t.Run("ManageGrants", func(t *testing.T) {
		must(t, "max deletes an alias", mx.DeleteRegisteredModelAlias(ctx, "alice-model", "champion"))
		b, err := call(t, "GET", base+auth.PathGetExperimentPermission+"?experiment_id="+exp+"&username=bob", "max", "max-pw", "")
		if err != nil || !strings.Contains(string(b), `"NO_PERMISSIONS"`) {
			t.Errorf("max reads bob's permission: %s, %v", b, err)
		}
		_, err = call(t, "GET", base+auth.PathGetExperimentPermission+"?experiment_id="+exp+"&username=bob", "rita", "rita-pw", "")
		isDenied(t, "rita reads bob's permission", err)
		must(t, "max grants bob READ", send(t, "PATCH", base+auth.PathUpdateExperimentPermission, "max", "max-pw",
			fmt.Sprintf(`{"experiment_id":%q,"username":"bob","permission":"READ"}`, exp)))
		if ids := experimentIDs(t, bob, ""); !slices.Contains(ids, exp) {
			t.Errorf("after READ, bob's search %v lacks the experiment", ids)
		}
		must(t, "max deletes bob's model grant", send(t, "DELETE", base+auth.PathDeleteRegisteredModelPermit, "max", "max-pw", `{"name":"alice-model","username":"bob"}`))
		if names := modelNames(t, bob); !slices.Contains(names, "alice-model") {
			t.Errorf("without a grant bob falls back to the default READ, but his search %v lacks the model", names)
		}
		err = send(t, "DELETE", base+auth.PathDeleteRegisteredModelPermit, "max", "max-pw", `{"name":"alice-model","username":"bob"}`)
		if !tracking.IsNotFound(err) {
			t.Errorf("deleting a grant twice: %v, want RESOURCE_DOES_NOT_EXIST", err)
		}
	})

	t.Run("AdminSeesAll", func(t *testing.T) {
		must(t, "alice hides it from bob again", send(t, "PATCH", base+auth.PathUpdateExperimentPermission, "alice", "alice-pw",
			fmt.Sprintf(`{"experiment_id":%q,"username":"bob","permission":"NO_PERMISSIONS"}`, exp)))
		must(t, "alice hides the model from bob again", grant(t, base, "alice", "alice-pw", "registered-models", map[string]string{"name": "alice-model", "username": "bob", "permission": "NO_PERMISSIONS"}))
		must(t, "alice hides the model from admin too", grant(t, base, "alice", "alice-pw", "registered-models", map[string]string{"name": "alice-model", "username": "admin", "permission": "NO_PERMISSIONS"}))
		if ids := experimentIDs(t, admin, ""); !slices.Contains(ids, exp) || !slices.Contains(ids, bobExp) {
			t.Errorf("admin's search %v lacks experiments", ids)
		}
		if names := modelNames(t, admin); !slices.Contains(names, "alice-model") {
			t.Errorf("admin's search %v lacks the model (admins are not bound by grants)", names)
		}
		_, err := admin.GetRun(ctx, run.Info.RunID)
		must(t, "admin reads the run", err)
	})

	t.Run("Users", func(t *testing.T) {
		b, err := call(t, "GET", base+auth.PathGetUser+"?username=alice", "alice", "alice-pw", "")
		var got struct {
			User struct {
				Username              string `json:"username"`
				IsAdmin               bool   `json:"is_admin"`
				ExperimentPermissions []struct {
					ExperimentID string `json:"experiment_id"`
					Permission   string `json:"permission"`
				} `json:"experiment_permissions"`
			} `json:"user"`
		}
		if err != nil || json.Unmarshal(b, &got) != nil || got.User.Username != "alice" || got.User.IsAdmin ||
			!slices.ContainsFunc(got.User.ExperimentPermissions, func(p struct {
				ExperimentID string `json:"experiment_id"`
				Permission   string `json:"permission"`
			}) bool {
				return p.ExperimentID == exp && p.Permission == "MANAGE"
			}) {
			t.Errorf("alice gets herself: %s, %v; want her MANAGE on %s", b, err, exp)
		}
		if strings.Contains(string(b), "password") || strings.Contains(string(b), "$2a$") {
			t.Errorf("users/get shows the password hash: %s", b)
		}
		_, err = call(t, "GET", base+auth.PathGetUser+"?username=alice", "bob", "bob-pw", "")
		isDenied(t, "bob gets alice", err)
		isDenied(t, "bob changes alice's password", send(t, "PATCH", base+auth.PathUpdateUserPassword, "bob", "bob-pw", `{"username":"alice","password":"pwned"}`))
		isDenied(t, "bob makes himself admin", send(t, "PATCH", base+auth.PathUpdateUserAdmin, "bob", "bob-pw", `{"username":"bob","is_admin":true}`))
		isDenied(t, "bob deletes alice", send(t, "DELETE", base+auth.PathDeleteUser, "bob", "bob-pw", `{"username":"alice"}`))

		must(t, "bob changes his password", send(t, "PATCH", base+auth.PathUpdateUserPassword, "bob", "bob-pw", `{"username":"bob","password":"bob-new-pw"}`))
		if status := getStatus(t, base+wire.PathSearchExperiments, "bob", "bob-pw"); status != http.StatusUnauthorized {
			t.Errorf("bob's old password: %d, want 401", status)
		}
		newBob := userClient(t, base, "bob", "bob-new-pw")
		hidden(t, newBob, exp, "alice-secret", "alice-model", run.Info.RunID)
		must(t, "admin resets rita's password", send(t, "PATCH", base+auth.PathUpdateUserPassword, "admin", "admin-pw", `{"username":"rita","password":"rita-2"}`))
		if status := getStatus(t, base+wire.PathSearchExperiments, "rita", "rita-2"); status != http.StatusOK {
			t.Errorf("rita's new password: %d", status)
		}

		must(t, "admin makes bob admin", send(t, "PATCH", base+auth.PathUpdateUserAdmin, "admin", "admin-pw", `{"username":"bob","is_admin":true}`))
		if ids := experimentIDs(t, newBob, ""); !slices.Contains(ids, exp) {
			t.Errorf("bob as admin: search %v lacks the experiment", ids)
		}
		must(t, "admin takes it back", send(t, "PATCH", base+auth.PathUpdateUserAdmin, "admin", "admin-pw", `{"username":"bob","is_admin":false}`))
		hidden(t, newBob, exp, "alice-secret", "alice-model", run.Info.RunID)

		must(t, "admin deletes bob", send(t, "DELETE", base+auth.PathDeleteUser, "admin", "admin-pw", `{"username":"bob"}`))
		if status := getStatus(t, base+wire.PathSearchExperiments, "bob", "bob-new-pw"); status != http.StatusUnauthorized {
			t.Errorf("deleted bob: %d, want 401", status)
		}
		must(t, "bob's name is free again", send(t, "POST", base+auth.PathCreateUser, "admin", "admin-pw", `{"username":"bob","password":"bob-3"}`))
		if ids := experimentIDs(t, userClient(t, base, "bob", "bob-3"), ""); !slices.Contains(ids, exp) {
			t.Errorf("a new bob inherited the old bob's NO_PERMISSIONS: %v", ids)
		}
	})

	t.Run("ModelGrantsFollowRenameAndDelete", func(t *testing.T) {
		must(t, "alice creates", func() error { _, err := alice.CreateRegisteredModel(ctx, "temp", "", nil); return err }())
		must(t, "hide from rita", grant(t, base, "alice", "alice-pw", "registered-models", map[string]string{"name": "temp", "username": "rita", "permission": "NO_PERMISSIONS"}))
		if _, err := alice.RenameRegisteredModel(ctx, "temp", "temp2"); err != nil {
			t.Fatal(err)
		}
		rita2 := userClient(t, base, "rita", "rita-2")
		_, err := rita2.GetRegisteredModel(ctx, "temp2")
		isDenied(t, "rita reads the renamed model", err)
		must(t, "alice deletes the renamed model with her MANAGE", alice.DeleteRegisteredModel(ctx, "temp2"))
		if _, err := rita2.CreateRegisteredModel(ctx, "temp2", "", nil); err != nil {
			t.Fatal(err)
		}
		must(t, "rita manages the model she created under the old name", rita2.DeleteRegisteredModel(ctx, "temp2"))
	})
}

// hidden checks that c sees nothing of the experiment, its run or the model in
// any search, and is refused when asking for them.
func hidden(t *testing.T, c *client.Client, exp, expName, model, runID string) {
	t.Helper()
	ctx := context.Background()
	if ids := experimentIDs(t, c, ""); slices.Contains(ids, exp) {
		t.Errorf("experiments/search shows %s: %v", exp, ids)
	}
	if ids := experimentIDs(t, c, "name = '"+expName+"'"); len(ids) != 0 {
		t.Errorf("experiments/search by name shows %v", ids)
	}
	_, err := c.SearchRuns(context.Background(), tracking.RunQuery{ExperimentIDs: []string{exp}})
	isDenied(t, "runs/search", err)
	if names := modelNames(t, c); slices.Contains(names, model) {
		t.Errorf("registered-models/search shows %s", model)
	}
	for _, filter := range []string{"", "name = '" + model + "'", "run_id = '" + runID + "'"} {
		vs, err := c.SearchModelVersions(ctx, tracking.ModelQuery{Filter: filter})
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vs.Items {
			if v.Name == model {
				t.Errorf("model-versions/search %q shows %s version %s", filter, v.Name, v.Version)
			}
		}
	}
	_, err = c.GetExperiment(ctx, exp)
	isDenied(t, "experiments/get", err)
	_, err = c.GetExperimentByName(ctx, expName)
	isDenied(t, "experiments/get-by-name", err)
	_, err = c.GetRun(ctx, runID)
	isDenied(t, "runs/get", err)
	_, err = c.GetRegisteredModel(ctx, model)
	isDenied(t, "registered-models/get", err)
	_, err = c.GetModelVersion(ctx, model, "1")
	isDenied(t, "model-versions/get", err)
}

// experimentIDs follows every page of an experiment search.
func experimentIDs(t *testing.T, c *client.Client, filter string) []string {
	t.Helper()
	var ids []string
	tok := ""
	for {
		p, err := c.SearchExperiments(context.Background(), tracking.ExperimentQuery{Filter: filter, PageToken: tok})
		if err != nil {
			t.Fatalf("search experiments: %v", err)
		}
		for _, e := range p.Items {
			ids = append(ids, e.ID)
		}
		if tok = p.NextPageToken; tok == "" {
			return ids
		}
	}
}

func modelNames(t *testing.T, c *client.Client) []string {
	t.Helper()
	var names []string
	tok := ""
	for {
		p, err := c.SearchRegisteredModels(context.Background(), tracking.ModelQuery{PageToken: tok})
		if err != nil {
			t.Fatalf("search models: %v", err)
		}
		for _, m := range p.Items {
			names = append(names, m.Name)
		}
		if tok = p.NextPageToken; tok == "" {
			return names
		}
	}
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Errorf("%s: %v, want success", what, err)
	}
}

func isDenied(t *testing.T, what string, err error) {
	t.Helper()
	if tracking.ErrorCodeOf(err) != tracking.ErrPermissionDenied {
		t.Errorf("%s: %v, want PERMISSION_DENIED", what, err)
	}
}

func getStatus(t *testing.T, u, user, pw string) int {
	t.Helper()
	status, _ := get(t, u, user, pw)
	return status
}

func getBody(t *testing.T, u, user, pw string) string {
	t.Helper()
	status, body := get(t, u, user, pw)
	if status != http.StatusOK {
		t.Errorf("GET %s as %s: %d", u, user, status)
	}
	return body
}

func get(t *testing.T, u, user, pw string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	req.SetBasicAuth(user, pw)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// uiPost submits a UI form as user: the CSRF token comes from page, as a
// browser's would. It returns the status, redirects not followed.
func uiPost(t *testing.T, base, page, action, user string, form url.Values) int {
	t.Helper()
	return uiPostAs(t, base, page, user, action, user, form)
}

// uiPostAs posts form to action as user, with the CSRF token of page as
// pageUser sees it (tokens are not tied to a user).
func uiPostAs(t *testing.T, base, page, pageUser, action, user string, form url.Values) int {
	t.Helper()
	m := csrfField.FindStringSubmatch(getBody(t, base+page, pageUser, pageUser+"-pw"))
	if m == nil {
		t.Fatalf("no CSRF token on %s for %s", page, pageUser)
	}
	form.Set("csrf", m[1])
	req, _ := http.NewRequest("POST", base+action, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(user, user+"-pw")
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestFilteredPages checks that filtered searches still page sensibly: every
// page but the last is full, following the tokens yields each readable item
// exactly once, in the store's order, and nothing unreadable.
func TestFilteredPages(t *testing.T) {
	srv, users := authServer(t)
	ctx := context.Background()
	for _, u := range []string{"alice", "bob"} {
		if _, err := users.CreateUser(ctx, u, u+"-pw", false); err != nil {
			t.Fatal(err)
		}
	}
	alice, bob := userClient(t, srv.URL, "alice", "alice-pw"), userClient(t, srv.URL, "bob", "bob-pw")
	var wantExps, wantModels []string
	for i := range 13 {
		name := fmt.Sprintf("e%02d", i)
		id, err := alice.CreateExperiment(ctx, name, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		model := fmt.Sprintf("m%02d", i)
		if _, err := alice.CreateRegisteredModel(ctx, model, "", nil); err != nil {
			t.Fatal(err)
		}
		// Hide runs of several in a row as well as single ones.
		if i%4 == 0 || i == 6 {
			wantExps, wantModels = append(wantExps, name), append(wantModels, model)
			continue
		}
		must(t, "hide "+name, grant(t, srv.URL, "alice", "alice-pw", "experiments", map[string]string{"experiment_id": id, "username": "bob", "permission": "NO_PERMISSIONS"}))
		must(t, "hide "+model, grant(t, srv.URL, "alice", "alice-pw", "registered-models", map[string]string{"name": model, "username": "bob", "permission": "NO_PERMISSIONS"}))
	}
	for _, size := range []int{1, 2, 3, 5} {
		var got []string
		tok := ""
		for pages := 0; ; pages++ {
			p, err := bob.SearchExperiments(ctx, tracking.ExperimentQuery{Filter: "name LIKE 'e%'", OrderBy: []string{"name ASC"}, MaxResults: size, PageToken: tok})
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range p.Items {
				got = append(got, e.Name)
			}
			tok = p.NextPageToken
			if tok != "" && len(p.Items) != size {
				t.Errorf("size %d: page %d has %d experiments and a next token; want full pages", size, pages, len(p.Items))
			}
			if tok == "" || pages > 20 {
				break
			}
		}
		if !slices.Equal(got, wantExps) {
			t.Errorf("size %d: bob's experiment pages %v, want %v", size, got, wantExps)
		}

		got = nil
		tok = ""
		for pages := 0; ; pages++ {
			p, err := bob.SearchRegisteredModels(ctx, tracking.ModelQuery{OrderBy: []string{"name ASC"}, MaxResults: size, PageToken: tok})
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range p.Items {
				got = append(got, m.Name)
			}
			tok = p.NextPageToken
			if tok != "" && len(p.Items) != size {
				t.Errorf("size %d: model page %d has %d models and a next token", size, pages, len(p.Items))
			}
			if tok == "" || pages > 20 {
				break
			}
		}
		if !slices.Equal(got, wantModels) {
			t.Errorf("size %d: bob's model pages %v, want %v", size, got, wantModels)
		}
	}
}
