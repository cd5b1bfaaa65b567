package auth_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/auth"
	"github.com/mlops-lab/housing/tracking/wire"
)

// request sends method url as user with a body of contentType ("" for none)
// and returns the status and body of the answer.
func request(t *testing.T, method, u, user, pw, contentType, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, u, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if user != "" {
		req.SetBasicAuth(user, pw)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestAjaxEndpoints checks the permissions of the web UI's ajax-only
// endpoints: READ on every run's experiment for the bulk metric histories,
// EDIT on the run for upload-artifact, EDIT on the experiment for a prompt lab
// run, any user for the gateway proxy.
func TestAjaxEndpoints(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	srv, users := authServerAt(t, "sqlite:///"+filepath.Join(dir, "mlflow.db"), dir, auth.HandlerOptions{})
	base := srv.URL
	for _, u := range []string{"alice", "bob", "rita", "ed"} {
		if _, err := users.CreateUser(ctx, u, u+"-pw", false); err != nil {
			t.Fatal(err)
		}
	}
	alice, bob := userClient(t, base, "alice", "alice-pw"), userClient(t, base, "bob", "bob-pw")
	exp, err := alice.CreateExperiment(ctx, "alice-secret", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	run, err := alice.CreateRun(ctx, tracking.CreateRun{ExperimentID: exp})
	if err != nil {
		t.Fatal(err)
	}
	must(t, "alice logs", alice.LogBatch(ctx, run.Info.RunID, []tracking.Metric{{Key: "r2", Value: 0.8, Timestamp: 1}}, nil, nil))
	bobExp, err := bob.CreateExperiment(ctx, "bob-own", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	bobRun, err := bob.CreateRun(ctx, tracking.CreateRun{ExperimentID: bobExp})
	if err != nil {
		t.Fatal(err)
	}
	for user, perm := range map[string]string{"bob": "NO_PERMISSIONS", "rita": "READ", "ed": "EDIT"} {
		must(t, "alice grants "+user, grant(t, base, "alice", "alice-pw", "experiments", map[string]string{"experiment_id": exp, "username": user, "permission": perm}))
	}
	as := func(user, method, path, contentType, body string) (int, string) {
		t.Helper()
		return request(t, method, base+path, user, user+"-pw", contentType, body)
	}

	t.Run("BulkHistories", func(t *testing.T) {
		for _, c := range []struct {
			path  string
			param string
		}{
			{wire.PathGetMetricHistoryBulk, "run_id"},
			{wire.AjaxAPIPrefix + "/mlflow/metrics/get-history-bulk-interval", "run_ids"},
		} {
			q := func(ids ...string) string {
				return c.path + "?" + url.Values{c.param: ids, "metric_key": {"r2"}}.Encode()
			}
			for _, ids := range [][]string{{run.Info.RunID}, {bobRun.Info.RunID, run.Info.RunID}} {
				if st, body := as("bob", "GET", q(ids...), "", ""); st != http.StatusForbidden {
					t.Errorf("bob reads %s of %v: %d %s, want 403", c.path, ids, st, body)
				}
			}
			if st, body := as("rita", "GET", q(run.Info.RunID, "unknown"), "", ""); st != 200 || !strings.Contains(body, `"run_id"`) {
				t.Errorf("rita reads %s: %d %s", c.path, st, body)
			}
			if st, body := as("bob", "GET", q(bobRun.Info.RunID, "unknown"), "", ""); st != 200 {
				t.Errorf("bob reads %s of his run and an unknown one: %d %s", c.path, st, body)
			}
		}
	})

	t.Run("UploadArtifact", func(t *testing.T) {
		up := wire.PathUploadArtifact + "?" + url.Values{"run_uuid": {run.Info.RunID}, "path": {"notes.txt"}}.Encode()
		for _, user := range []string{"bob", "rita"} {
			if st, body := as(user, "POST", up, "", "x"); st != http.StatusForbidden {
				t.Errorf("%s uploads: %d %s, want 403", user, st, body)
			}
		}
		if st, body := as("ed", "POST", up, "", "r2=0.8"); st != 200 {
			t.Fatalf("ed uploads: %d %s", st, body)
		}
		if st, body := as("rita", "GET", wire.PathGetArtifact+"?run_uuid="+run.Info.RunID+"&path=notes.txt", "", ""); st != 200 || body != "r2=0.8" {
			t.Errorf("rita reads the upload: %d %q", st, body)
		}
	})

	t.Run("PromptlabRun", func(t *testing.T) {
		body := `{"experiment_id":"` + exp + `","prompt_template":"t","prompt_parameters":[{"key":"k","value":"v"}],` +
			`"model_route":"r","model_input":"i","mlflow_version":"2.17.2"}`
		for _, user := range []string{"bob", "rita"} {
			if st, b := as(user, "POST", wire.PathCreatePromptlabRun, "application/json", body); st != http.StatusForbidden {
				t.Errorf("%s creates a prompt lab run: %d %s, want 403", user, st, b)
			}
		}
		if st, b := as("ed", "POST", wire.PathCreatePromptlabRun, "application/json", body); st != 200 || !strings.Contains(b, `"status": "FINISHED"`) {
			t.Errorf("ed creates a prompt lab run: %d %s", st, b)
		}
	})

	t.Run("GatewayProxy", func(t *testing.T) {
		if st, b := as("bob", "POST", wire.PathGatewayProxy, "application/json", `{}`); st != 200 || b != "{\"endpoints\":[]}\n" {
			t.Errorf("bob asks the gateway: %d %q", st, b)
		}
		if st, _ := request(t, "GET", base+wire.PathGatewayProxy, "", "", "", ""); st != http.StatusUnauthorized {
			t.Errorf("without credentials: %d, want 401", st)
		}
	})
}

// TestUploadArtifactBodyIsNotRead checks that the auth handler leaves
// upload-artifact's body (a file) to the endpoint, which streams it, rather
// than reading it as JSON parameters within HandlerOptions.MaxBodyBytes.
func TestUploadArtifactBodyIsNotRead(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	srv, _ := authServerAt(t, "sqlite:///"+filepath.Join(dir, "mlflow.db"), dir, auth.HandlerOptions{MaxBodyBytes: 8})
	admin := userClient(t, srv.URL, "admin", "admin-pw")
	run, err := admin.CreateRun(ctx, tracking.CreateRun{ExperimentID: "0"})
	if err != nil {
		t.Fatal(err)
	}
	content := strings.Repeat("0123456789", 100)
	up := srv.URL + wire.PathUploadArtifact + "?" + url.Values{"run_uuid": {run.Info.RunID}, "path": {"big.txt"}}.Encode()
	if st, body := request(t, "POST", up, "admin", "admin-pw", "", content); st != 200 {
		t.Fatalf("upload: %d %s", st, body)
	}
	b, err := os.ReadFile(filepath.Join(dir, "mlartifacts", "0", run.Info.RunID, "artifacts", "big.txt"))
	if err != nil || string(b) != content {
		t.Errorf("stored %d bytes, %v; want %d", len(b), err, len(content))
	}
}
