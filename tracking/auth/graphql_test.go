package auth_test

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"testing"

	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/wire"
)

// TestGraphQLAccess: /graphql resolves through the guarded store, so a user
// reads through it exactly what the REST API lets them read. Each query names
// alice's experiment, run or model; bob (NO_PERMISSIONS) gets the field null
// with "Permission denied" (model versions: filtered out), rita (READ) the data.
func TestGraphQLAccess(t *testing.T) {
	ctx := context.Background()
	srv, users := authServer(t)
	for _, u := range []string{"alice", "bob", "rita"} {
		if _, err := users.CreateUser(ctx, u, u+"-pw", false); err != nil {
			t.Fatal(err)
		}
	}
	alice := userClient(t, srv.URL, "alice", "alice-pw")
	exp, err := alice.CreateExperiment(ctx, "alice-secret", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	run, err := alice.CreateRun(ctx, tracking.CreateRun{ExperimentID: exp})
	if err != nil {
		t.Fatal(err)
	}
	id := run.Info.RunID
	must(t, "alice logs", alice.LogBatch(ctx, id, []tracking.Metric{{Key: "r2", Value: 0.8, Timestamp: 1}}, nil, nil))
	if _, err := alice.CreateRegisteredModel(ctx, "alice-model", "", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.CreateModelVersion(ctx, tracking.CreateModelVersion{Name: "alice-model", Source: run.Info.ArtifactURI + "/model", RunID: id}); err != nil {
		t.Fatal(err)
	}
	for user, perm := range map[string]string{"bob": "NO_PERMISSIONS", "rita": "READ"} {
		must(t, "grant "+user, grant(t, srv.URL, "alice", "alice-pw", "experiments", map[string]string{"experiment_id": exp, "username": user, "permission": perm}))
		must(t, "grant "+user, grant(t, srv.URL, "alice", "alice-pw", "registered-models", map[string]string{"name": "alice-model", "username": user, "permission": perm}))
	}

	queries := map[string]string{
		"mlflowGetExperiment":                `query { mlflowGetExperiment(input: {experimentId: "` + exp + `"}) { experiment { name } } }`,
		"mlflowGetRun":                       `query { mlflowGetRun(input: {runId: "` + id + `"}) { run { info { runId } } } }`,
		"mlflowListArtifacts":                `query { mlflowListArtifacts(input: {runId: "` + id + `"}) { rootUri } }`,
		"mlflowGetMetricHistoryBulkInterval": `query { mlflowGetMetricHistoryBulkInterval(input: {runIds: ["` + id + `"], metricKey: "r2"}) { metrics { value } } }`,
		"mlflowSearchRuns":                   `mutation { mlflowSearchRuns(input: {experimentIds: ["` + exp + `"]}) { runs { info { runId } } } }`,
		"mlflowSearchDatasets":               `mutation { mlflowSearchDatasets(input: {experimentIds: ["` + exp + `"]}) { datasetSummaries { name } } }`,
	}
	ask := func(user, query string) (map[string]any, []string) {
		t.Helper()
		body, _ := json.Marshal(map[string]string{"query": query})
		b, err := call(t, "POST", srv.URL+wire.PathGraphQL, user, user+"-pw", string(body))
		if err != nil {
			t.Fatalf("%s: %v", user, err)
		}
		var out struct {
			Data   map[string]any
			Errors []string
		}
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatal(err)
		}
		return out.Data, out.Errors
	}
	for name, q := range queries {
		data, errs := ask("bob", q)
		if data[name] != nil || !reflect.DeepEqual(errs, []string{"Permission denied"}) {
			t.Errorf("bob: %s: data %v errors %q, want null and Permission denied", name, data, errs)
		}
		data, errs = ask("rita", q)
		if data[name] == nil || errs != nil {
			t.Errorf("rita: %s: data %v errors %q, want an answer", name, data, errs)
		}
	}
	versions := `query { mlflowSearchModelVersions(input: {}) { modelVersions { name } } }`
	if data, errs := ask("bob", versions); errs != nil || len(data["mlflowSearchModelVersions"].(map[string]any)["modelVersions"].([]any)) != 0 {
		t.Errorf("bob searches model versions: %v %v, want none", data, errs)
	}
	if data, errs := ask("rita", versions); errs != nil || len(data["mlflowSearchModelVersions"].(map[string]any)["modelVersions"].([]any)) != 1 {
		t.Errorf("rita searches model versions: %v %v, want alice's", data, errs)
	}
	if status := getStatus(t, srv.URL+wire.PathGraphQL, "", ""); status != http.StatusUnauthorized {
		t.Errorf("no credentials: %d, want 401", status)
	}
}
