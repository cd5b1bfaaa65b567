// Package storetest is the one behavioural test suite of tracking.Store: every
// implementation (SQL on SQLite and PostgreSQL, the REST client against our
// server and against the real MLflow 2.17.2 server) runs RunStoreSuite, so they
// all keep MLflow 2.17.2's semantics.
package storetest

import (
	"context"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mlops-lab/housing/tracking"
)

// Options name the ways a Store under the suite differs from ours. Each field is
// one behaviour of the real MLflow 2.17.2 server (on SQLite) that we deliberately
// do not copy; set, it makes the suite expect the real server's behaviour in that
// place instead of ours. The zero value is our stores' behaviour (sqlstore, and
// the REST client against our server); RealMLflow2 sets every field.
type Options struct {
	// ExperimentRenameConflictIsBadRequest: renaming an experiment to a taken name
	// fails on the database's UNIQUE constraint and is answered BAD_REQUEST with
	// SQLAlchemy's text. We answer RESOURCE_ALREADY_EXISTS, as creating an
	// experiment of a taken name is answered.
	ExperimentRenameConflictIsBadRequest bool
	// NoDeleteExperimentTag: MLflow 2.17.2 has no experiments/delete-experiment-tag
	// (MLflow 3 has), so the call is answered ENDPOINT_NOT_FOUND and the tag stays.
	// We serve it on both API versions.
	NoDeleteExperimentTag bool
	// UnpagedMetricHistory: MLflow 2.17.2's metrics/get-history ignores max_results
	// and page_token and answers every value at once (no token, a bad token is not
	// looked at). We page it as MLflow 3 does.
	UnpagedMetricHistory bool
	// AcceptsIncompleteDatasets: MLflow 2.17.2 checks only that a data set's name,
	// digest, source_type and source are not None, which over REST they never are
	// (absent proto2 strings read as ""), so a data set of only a name is stored.
	// We refuse it: its proto marks all four validate_required.
	AcceptsIncompleteDatasets bool
	// DatasetsSharedAcrossExperiments: MLflow 2.17.2 reuses the data set row of
	// any experiment with the same name and digest, so another experiment's run
	// that logs it is listed under the first experiment by search-datasets (and
	// not under its own). MLflow 3.11.1 keeps data sets per experiment, as we do.
	DatasetsSharedAcrossExperiments bool
	// SearchDatasetsMatchesBadIDs: MLflow 2.17.2's search-datasets does not parse
	// its experiment ids; on SQLite a non-numeric one matches nothing (on
	// PostgreSQL the query fails). We refuse it, as the other searches do.
	SearchDatasetsMatchesBadIDs bool
	// DeletedVersionKeepsAliases: MLflow 2.17.2's store deletes the aliases of a
	// deleted version only when the version it is given equals the alias's integer
	// one, and its REST handler passes a string: over REST the aliases stay,
	// pointing at a version that is gone (resolving one answers
	// RESOURCE_DOES_NOT_EXIST for that version); 3.11.1's does the same. We delete
	// them, as the store means to.
	DeletedVersionKeepsAliases bool
	// StoresUnstorableText: MLflow 2.17.2 on SQLite checks neither NUL characters
	// nor most column lengths (run and model names, user ids, descriptions, model
	// version sources and run links): SQLite keeps what PostgreSQL refuses. We
	// refuse such text on every backend (see testStorableText).
	StoresUnstorableText bool
}

// RealMLflow2 is the real MLflow 2.17.2 server on SQLite, behind our REST client.
var RealMLflow2 = Options{
	ExperimentRenameConflictIsBadRequest: true,
	NoDeleteExperimentTag:                true,
	UnpagedMetricHistory:                 true,
	AcceptsIncompleteDatasets:            true,
	DatasetsSharedAcrossExperiments:      true,
	SearchDatasetsMatchesBadIDs:          true,
	DeletedVersionKeepsAliases:           true,
	StoresUnstorableText:                 true,
}

// RunStoreSuite runs the suite. open must return a Store that holds the Default
// experiment and arrange for it to be closed. It may open a fresh backend for
// every subtest or return the same one each time (a real MLflow server costs
// seconds to start): the subtests use names of their own, run one after another,
// and count only what they made.
func RunStoreSuite(t *testing.T, open func(t *testing.T) tracking.Store, opts Options) {
	for _, c := range []struct {
		name string
		run  func(*testing.T, tracking.Store, Options)
	}{
		{"Experiments", testExperiments},
		{"ExperimentLifecycle", testExperimentLifecycle},
		{"SearchExperiments", testSearchExperiments},
		{"Runs", testRuns},
		{"LogBatch", testLogBatch},
		{"LogBatchValidation", testLogBatchValidation},
		{"Metrics", testMetrics},
		{"Inputs", testInputs},
		{"SearchRuns", testSearchRuns},
		{"RegisteredModels", testRegisteredModels},
		{"ModelVersions", testModelVersions},
		{"Aliases", testAliases},
		{"ConcurrentModelVersions", testConcurrentModelVersions},
		{"StorableText", testStorableText},
	} {
		t.Run(c.name, func(t *testing.T) { c.run(t, open(t), opts) })
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// wantErr checks err's code, and that its message contains msg when msg is set.
func wantErr(t *testing.T, err error, code tracking.ErrorCode, msg string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s %q", code, msg)
	}
	if got := tracking.ErrorCodeOf(err); got != code {
		t.Fatalf("error code = %s (%v), want %s", got, err, code)
	}
	if msg != "" && !strings.Contains(tracking.ErrorMessage(err), msg) {
		t.Fatalf("error message = %q, want it to contain %q", tracking.ErrorMessage(err), msg)
	}
}

func ctx(t *testing.T) context.Context { return t.Context() }

func newExperiment(t *testing.T, s tracking.Store, name string) string {
	t.Helper()
	id, err := s.CreateExperiment(ctx(t), name, "", nil)
	must(t, err)
	return id
}

func newRun(t *testing.T, s tracking.Store, expID, name string) *tracking.Run {
	t.Helper()
	r, err := s.CreateRun(ctx(t), tracking.CreateRun{ExperimentID: expID, RunName: name, StartTime: time.Now().UnixMilli()})
	must(t, err)
	return r
}

func tagValue(tags []tracking.Tag, key string) (string, bool) {
	for _, tg := range tags {
		if tg.Key == key {
			return tg.Value, true
		}
	}
	return "", false
}

func testExperiments(t *testing.T, s tracking.Store, opts Options) {
	def, err := s.GetExperiment(ctx(t), "0")
	must(t, err)
	if def.Name != "Default" || def.LifecycleStage != tracking.LifecycleActive || !strings.HasSuffix(def.ArtifactLocation, "/0") {
		t.Errorf("Default experiment = %+v, want name Default, active, artifact location ending in /0", def)
	}

	id, err := s.CreateExperiment(ctx(t), "california-housing", "", []tracking.Tag{{Key: "team", Value: "ml"}})
	must(t, err)
	if id == "0" || id == "" {
		t.Fatalf("new experiment id = %q", id)
	}
	e, err := s.GetExperiment(ctx(t), id)
	must(t, err)
	if e.Name != "california-housing" || e.ID != id || !strings.HasSuffix(e.ArtifactLocation, "/"+id) {
		t.Errorf("experiment = %+v", e)
	}
	if v, _ := tagValue(e.Tags, "team"); v != "ml" {
		t.Errorf("tags = %v, want team=ml", e.Tags)
	}
	if e.CreationTime == 0 || e.LastUpdateTime != e.CreationTime {
		t.Errorf("times = %d, %d; want equal and set", e.CreationTime, e.LastUpdateTime)
	}
	byName, err := s.GetExperimentByName(ctx(t), "california-housing")
	must(t, err)
	if byName.ID != id {
		t.Errorf("by name: id %s, want %s", byName.ID, id)
	}

	custom, err := s.CreateExperiment(ctx(t), "custom-location", "s3://bucket/prefix", nil)
	must(t, err)
	ce, err := s.GetExperiment(ctx(t), custom)
	must(t, err)
	if ce.ArtifactLocation != "s3://bucket/prefix" {
		t.Errorf("artifact location = %q, want s3://bucket/prefix", ce.ArtifactLocation)
	}

	t.Run("ErrAlreadyExists", func(t *testing.T) {
		_, err := s.CreateExperiment(ctx(t), "california-housing", "", nil)
		wantErr(t, err, tracking.ErrResourceAlreadyExists, "california-housing")
	})
	t.Run("ErrEmptyName", func(t *testing.T) {
		_, err := s.CreateExperiment(ctx(t), "", "", nil)
		wantErr(t, err, tracking.ErrInvalidParameterValue, "")
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		for _, bad := range []string{"999999", "abc", "-1"} {
			_, err := s.GetExperiment(ctx(t), bad)
			wantErr(t, err, tracking.ErrResourceDoesNotExist, "No Experiment with id="+bad+" exists")
		}
		_, err := s.GetExperimentByName(ctx(t), "nope")
		wantErr(t, err, tracking.ErrResourceDoesNotExist, "Could not find experiment with name 'nope'")
	})
	t.Run("Rename", func(t *testing.T) {
		must(t, s.RenameExperiment(ctx(t), custom, "renamed"))
		got, err := s.GetExperiment(ctx(t), custom)
		must(t, err)
		if got.Name != "renamed" {
			t.Errorf("name = %q after rename", got.Name)
		}
		taken := tracking.ErrResourceAlreadyExists
		if opts.ExperimentRenameConflictIsBadRequest {
			taken = tracking.ErrBadRequest
		}
		wantErr(t, s.RenameExperiment(ctx(t), custom, "california-housing"), taken, "")
		if got, err := s.GetExperiment(ctx(t), custom); err != nil || got.Name != "renamed" {
			t.Errorf("after a refused rename: %+v, %v; want the name renamed kept", got, err)
		}
		wantErr(t, s.RenameExperiment(ctx(t), "424242", "x"), tracking.ErrResourceDoesNotExist, "")
	})
	t.Run("Tags", func(t *testing.T) {
		must(t, s.SetExperimentTag(ctx(t), id, "team", "data"))
		must(t, s.SetExperimentTag(ctx(t), id, "owner", "me"))
		got, err := s.GetExperiment(ctx(t), id)
		must(t, err)
		if v, _ := tagValue(got.Tags, "team"); v != "data" || len(got.Tags) != 2 {
			t.Errorf("tags = %v, want team=data and owner", got.Tags)
		}
		err = s.DeleteExperimentTag(ctx(t), id, "owner")
		if opts.NoDeleteExperimentTag {
			wantErr(t, err, tracking.ErrEndpointNotFound, "")
		} else {
			must(t, err)
		}
		got, err = s.GetExperiment(ctx(t), id)
		must(t, err)
		if _, ok := tagValue(got.Tags, "owner"); ok != opts.NoDeleteExperimentTag {
			t.Errorf("tag owner set = %v after deleting it (%v), want %v", ok, got.Tags, opts.NoDeleteExperimentTag)
		}
		wantErr(t, s.SetExperimentTag(ctx(t), "424242", "k", "v"), tracking.ErrResourceDoesNotExist, "")
	})
}

func testExperimentLifecycle(t *testing.T, s tracking.Store, _ Options) {
	id := newExperiment(t, s, "to-delete")
	r1 := newRun(t, s, id, "r1")
	r2 := newRun(t, s, id, "r2")
	must(t, s.DeleteExperiment(ctx(t), id))
	e, err := s.GetExperiment(ctx(t), id)
	must(t, err)
	if e.LifecycleStage != tracking.LifecycleDeleted {
		t.Errorf("stage = %s after delete", e.LifecycleStage)
	}
	for _, r := range []*tracking.Run{r1, r2} {
		got, err := s.GetRun(ctx(t), r.Info.RunID)
		must(t, err)
		if got.Info.LifecycleStage != tracking.LifecycleDeleted {
			t.Errorf("run %s stage = %s after deleting its experiment", r.Info.RunName, got.Info.LifecycleStage)
		}
	}
	_, err = s.CreateExperiment(ctx(t), "to-delete", "", nil)
	wantErr(t, err, tracking.ErrResourceAlreadyExists, "")
	_, err = s.CreateRun(ctx(t), tracking.CreateRun{ExperimentID: id})
	wantErr(t, err, tracking.ErrInvalidParameterValue, "must be in the 'active' state")
	wantErr(t, s.DeleteExperiment(ctx(t), id), tracking.ErrResourceDoesNotExist, "")
	wantErr(t, s.RenameExperiment(ctx(t), id, "x"), tracking.ErrInvalidState, "")

	must(t, s.RestoreExperiment(ctx(t), id))
	e, err = s.GetExperiment(ctx(t), id)
	must(t, err)
	if e.LifecycleStage != tracking.LifecycleActive {
		t.Errorf("stage = %s after restore", e.LifecycleStage)
	}
	got, err := s.GetRun(ctx(t), r1.Info.RunID)
	must(t, err)
	if got.Info.LifecycleStage != tracking.LifecycleActive {
		t.Errorf("run stage = %s after restoring its experiment", got.Info.LifecycleStage)
	}
	wantErr(t, s.RestoreExperiment(ctx(t), id), tracking.ErrResourceDoesNotExist, "")
}

func testSearchExperiments(t *testing.T, s tracking.Store, _ Options) {
	// Other subtests' experiments may be there: count what this one adds.
	deletedBefore := searchAllExperiments(t, s, tracking.ViewDeletedOnly)
	allBefore := searchAllExperiments(t, s, tracking.ViewAll)
	if !slices.Contains(names(allBefore), "Default") {
		t.Errorf("all experiments = %v, without Default", names(allBefore))
	}
	var ids []string
	for i := range 5 {
		ids = append(ids, newExperiment(t, s, fmt.Sprintf("search-%d", i)))
	}
	must(t, s.SetExperimentTag(ctx(t), ids[2], "kind", "special"))
	must(t, s.DeleteExperiment(ctx(t), ids[4]))

	page, err := s.SearchExperiments(ctx(t), tracking.ExperimentQuery{Filter: "name LIKE 'search-%'", OrderBy: []string{"name ASC"}, MaxResults: 2})
	must(t, err)
	if len(page.Items) != 2 || page.Items[0].Name != "search-0" || page.NextPageToken == "" {
		t.Fatalf("page 1 = %v, token %q", names(page.Items), page.NextPageToken)
	}
	page2, err := s.SearchExperiments(ctx(t), tracking.ExperimentQuery{Filter: "name LIKE 'search-%'", OrderBy: []string{"name ASC"}, MaxResults: 2, PageToken: page.NextPageToken})
	must(t, err)
	if len(page2.Items) != 2 || page2.Items[0].Name != "search-2" || page2.NextPageToken != "" {
		// search-4 is deleted: page 2 is the last, and MLflow gives it no token.
		t.Errorf("page 2 = %v, token %q (want none: there is no page 3)", names(page2.Items), page2.NextPageToken)
	}
	if page2.Items[0].Tags == nil {
		t.Errorf("search-2 has no tags in search results")
	}
	tagged, err := s.SearchExperiments(ctx(t), tracking.ExperimentQuery{Filter: "tags.kind = 'special'"})
	must(t, err)
	if len(tagged.Items) != 1 || tagged.Items[0].ID != ids[2] {
		t.Errorf("tag filter = %v", names(tagged.Items))
	}
	deleted := searchAllExperiments(t, s, tracking.ViewDeletedOnly)
	if len(deleted) != len(deletedBefore)+1 || !slices.ContainsFunc(deleted, func(e tracking.Experiment) bool { return e.ID == ids[4] }) {
		t.Errorf("deleted only = %v, want %v and search-4", names(deleted), names(deletedBefore))
	}
	if all := searchAllExperiments(t, s, tracking.ViewAll); len(all) != len(allBefore)+5 {
		t.Errorf("all = %v, want %v and the five", names(all), names(allBefore))
	}
	active, err := s.SearchExperiments(ctx(t), tracking.ExperimentQuery{Filter: "name LIKE 'search-%'"})
	must(t, err)
	if got := names(active.Items); len(got) != 4 || slices.Contains(got, "search-4") {
		t.Errorf("active search-%% = %v, want four without the deleted search-4", got)
	}
	_, err = s.SearchExperiments(ctx(t), tracking.ExperimentQuery{PageToken: "!!!"})
	wantErr(t, err, tracking.ErrInvalidParameterValue, "Invalid page token")
	_, err = s.SearchExperiments(ctx(t), tracking.ExperimentQuery{Filter: "name >> 'x'"})
	wantErr(t, err, tracking.ErrInvalidParameterValue, "")
}

// searchAllExperiments returns every experiment of view, one search page
// (1000 is more than the suite makes).
func searchAllExperiments(t *testing.T, s tracking.Store, view tracking.ViewType) []tracking.Experiment {
	t.Helper()
	page, err := s.SearchExperiments(ctx(t), tracking.ExperimentQuery{ViewType: view, MaxResults: tracking.DefaultSearchResults})
	must(t, err)
	return page.Items
}

func names(exps []tracking.Experiment) []string {
	var out []string
	for _, e := range exps {
		out = append(out, e.Name)
	}
	return out
}

var runIDRE = regexp.MustCompile(`^[0-9a-f]{32}$`)
var generatedNameRE = regexp.MustCompile(`^[a-z]+-[a-z]+-\d{1,3}$`)

func testRuns(t *testing.T, s tracking.Store, _ Options) {
	expID := newExperiment(t, s, "runs")
	exp, err := s.GetExperiment(ctx(t), expID)
	must(t, err)

	r, err := s.CreateRun(ctx(t), tracking.CreateRun{ExperimentID: expID, RunName: "rf-baseline", UserID: "alice",
		StartTime: 1700000000000, Tags: []tracking.Tag{{Key: "team", Value: "ml"}}})
	must(t, err)
	if !runIDRE.MatchString(r.Info.RunID) {
		t.Errorf("run id %q is not 32 hex characters", r.Info.RunID)
	}
	if want := exp.ArtifactLocation + "/" + r.Info.RunID + "/artifacts"; r.Info.ArtifactURI != want {
		t.Errorf("artifact uri = %q, want %q", r.Info.ArtifactURI, want)
	}
	if r.Info.Status != tracking.RunRunning || r.Info.LifecycleStage != tracking.LifecycleActive || r.Info.UserID != "alice" ||
		r.Info.StartTime != 1700000000000 || r.Info.ExperimentID != expID || r.Info.RunName != "rf-baseline" {
		t.Errorf("run info = %+v", r.Info)
	}
	if v, _ := r.Tag(tracking.TagRunName); v != "rf-baseline" {
		t.Errorf("mlflow.runName tag = %q", v)
	}

	fromTag, err := s.CreateRun(ctx(t), tracking.CreateRun{ExperimentID: expID, Tags: []tracking.Tag{{Key: tracking.TagRunName, Value: "from-tag"}}})
	must(t, err)
	if fromTag.Info.RunName != "from-tag" {
		t.Errorf("run name from tag = %q", fromTag.Info.RunName)
	}
	generated, err := s.CreateRun(ctx(t), tracking.CreateRun{ExperimentID: expID})
	must(t, err)
	if !generatedNameRE.MatchString(generated.Info.RunName) {
		t.Errorf("generated run name %q does not look like casual-dove-178", generated.Info.RunName)
	}
	if v, _ := generated.Tag(tracking.TagRunName); v != generated.Info.RunName {
		t.Errorf("generated name tag = %q, name %q", v, generated.Info.RunName)
	}
	_, err = s.CreateRun(ctx(t), tracking.CreateRun{ExperimentID: expID, RunName: "a", Tags: []tracking.Tag{{Key: tracking.TagRunName, Value: "b"}}})
	wantErr(t, err, tracking.ErrInvalidParameterValue, "Both 'run_name' argument and 'mlflow.runName' tag are specified")
	_, err = s.CreateRun(ctx(t), tracking.CreateRun{ExperimentID: "424242"})
	wantErr(t, err, tracking.ErrResourceDoesNotExist, "No Experiment with id=424242 exists")

	got, err := s.GetRun(ctx(t), r.Info.RunID)
	must(t, err)
	if got.Info != r.Info {
		t.Errorf("GetRun info = %+v, want %+v", got.Info, r.Info)
	}
	if v, _ := got.Tag("team"); v != "ml" {
		t.Errorf("GetRun tags = %v", got.Data.Tags)
	}
	_, err = s.GetRun(ctx(t), "00000000000000000000000000000000")
	wantErr(t, err, tracking.ErrResourceDoesNotExist, "Run with id=00000000000000000000000000000000 not found")

	t.Run("Update", func(t *testing.T) {
		finished, end, name := tracking.RunFinished, int64(1700000005000), "rf-renamed"
		info, err := s.UpdateRun(ctx(t), r.Info.RunID, tracking.UpdateRun{Status: &finished, EndTime: &end, RunName: &name})
		must(t, err)
		if info.Status != finished || info.EndTime != end || info.RunName != name {
			t.Errorf("updated info = %+v", info)
		}
		got, err := s.GetRun(ctx(t), r.Info.RunID)
		must(t, err)
		if v, _ := got.Tag(tracking.TagRunName); v != name || got.Info.RunName != name || got.Info.EndTime != end {
			t.Errorf("after update: name %q tag %q end %d", got.Info.RunName, v, got.Info.EndTime)
		}
		// Setting the tag renames the run.
		must(t, s.LogBatch(ctx(t), r.Info.RunID, nil, nil, []tracking.Tag{{Key: tracking.TagRunName, Value: "by-tag"}}))
		got, err = s.GetRun(ctx(t), r.Info.RunID)
		must(t, err)
		if got.Info.RunName != "by-tag" {
			t.Errorf("run name after setting mlflow.runName = %q", got.Info.RunName)
		}
	})
	t.Run("DeleteTag", func(t *testing.T) {
		must(t, s.DeleteTag(ctx(t), r.Info.RunID, "team"))
		got, err := s.GetRun(ctx(t), r.Info.RunID)
		must(t, err)
		if _, ok := got.Tag("team"); ok {
			t.Errorf("tag team still set")
		}
		wantErr(t, s.DeleteTag(ctx(t), r.Info.RunID, "team"), tracking.ErrResourceDoesNotExist, "")
	})
	t.Run("DeleteRestore", func(t *testing.T) {
		id := generated.Info.RunID
		must(t, s.DeleteRun(ctx(t), id))
		got, err := s.GetRun(ctx(t), id)
		must(t, err)
		if got.Info.LifecycleStage != tracking.LifecycleDeleted {
			t.Errorf("stage after delete = %s", got.Info.LifecycleStage)
		}
		err = s.LogBatch(ctx(t), id, nil, []tracking.Param{{Key: "k", Value: "v"}}, nil)
		wantErr(t, err, tracking.ErrInvalidParameterValue, "The run "+id+" must be in the 'active' state. Current state is deleted.")
		status := tracking.RunFailed
		_, err = s.UpdateRun(ctx(t), id, tracking.UpdateRun{Status: &status})
		wantErr(t, err, tracking.ErrInvalidParameterValue, "must be in the 'active' state")
		must(t, s.RestoreRun(ctx(t), id))
		must(t, s.LogBatch(ctx(t), id, nil, []tracking.Param{{Key: "k", Value: "v"}}, nil))
		wantErr(t, s.DeleteRun(ctx(t), "00000000000000000000000000000000"), tracking.ErrResourceDoesNotExist, "")
	})
}

func testLogBatch(t *testing.T, s tracking.Store, _ Options) {
	expID := newExperiment(t, s, "log-batch")
	r := newRun(t, s, expID, "batch")
	id := r.Info.RunID
	ts := int64(1700000000000)
	must(t, s.LogBatch(ctx(t), id,
		[]tracking.Metric{{Key: "r2", Value: 0.81, Timestamp: ts}, {Key: "loss", Value: 1.5, Timestamp: ts, Step: 1}, {Key: "loss", Value: 0.7, Timestamp: ts + 1, Step: 2}},
		[]tracking.Param{{Key: "n_estimators", Value: "50"}, {Key: "max_depth", Value: "5"}},
		[]tracking.Tag{{Key: "dataset", Value: "california-housing"}, {Key: "dataset", Value: "cal-housing"}}))

	// Same value again is accepted; another value is refused with MLflow's message.
	must(t, s.LogBatch(ctx(t), id, nil, []tracking.Param{{Key: "n_estimators", Value: "50"}}, nil))
	err := s.LogBatch(ctx(t), id, nil, []tracking.Param{{Key: "n_estimators", Value: "100"}}, nil)
	wantErr(t, err, tracking.ErrInvalidParameterValue,
		"Changing param values is not allowed. Params were already logged='[{'key': 'n_estimators', 'old_value': '50', 'new_value': '100'}]' for run ID='"+id+"'.")
	// A refused batch writes nothing.
	err = s.LogBatch(ctx(t), id, []tracking.Metric{{Key: "partial", Value: 1, Timestamp: ts}}, []tracking.Param{{Key: "max_depth", Value: "6"}}, nil)
	wantErr(t, err, tracking.ErrInvalidParameterValue, "Changing param values is not allowed")

	must(t, s.LogBatch(ctx(t), id, nil, nil, []tracking.Tag{{Key: "dataset", Value: "overwritten"}}))
	got, err := s.GetRun(ctx(t), id)
	must(t, err)
	if v, _ := got.Param("n_estimators"); v != "50" {
		t.Errorf("param n_estimators = %q", v)
	}
	if v, _ := got.Metric("loss"); v != 0.7 {
		t.Errorf("latest loss = %v, want 0.7 (highest step)", v)
	}
	if _, ok := got.Metric("partial"); ok {
		t.Errorf("metric of a refused batch was written")
	}
	if v, _ := got.Tag("dataset"); v != "overwritten" {
		t.Errorf("tag dataset = %q, want overwritten", v)
	}
	if len(got.Data.Params) != 2 || len(got.Data.Metrics) != 2 {
		t.Errorf("data = %+v", got.Data)
	}
	err = s.LogBatch(ctx(t), "00000000000000000000000000000000", []tracking.Metric{{Key: "r2", Value: 1, Timestamp: ts}}, nil, nil)
	wantErr(t, err, tracking.ErrResourceDoesNotExist, "Run with id=00000000000000000000000000000000 not found")
}

func testLogBatchValidation(t *testing.T, s tracking.Store, _ Options) {
	r := newRun(t, s, newExperiment(t, s, "validation"), "v")
	id := r.Info.RunID
	many := make([]tracking.Metric, tracking.MaxMetricsPerBatch+1)
	for i := range many {
		many[i] = tracking.Metric{Key: "m", Value: float64(i), Timestamp: 1, Step: int64(i)}
	}
	wantErr(t, s.LogBatch(ctx(t), id, many, nil, nil), tracking.ErrInvalidParameterValue,
		"A batch logging request can contain at most 1000 metrics. Got 1001 metrics. Please split up metrics across multiple requests and try again.")
	params := make([]tracking.Param, tracking.MaxParamsPerBatch+1)
	for i := range params {
		params[i] = tracking.Param{Key: fmt.Sprintf("p%d", i), Value: "v"}
	}
	wantErr(t, s.LogBatch(ctx(t), id, nil, params, nil), tracking.ErrInvalidParameterValue, "at most 100 params. Got 101 params.")
	tags := make([]tracking.Tag, tracking.MaxTagsPerBatch+1)
	for i := range tags {
		tags[i] = tracking.Tag{Key: fmt.Sprintf("t%d", i), Value: "v"}
	}
	wantErr(t, s.LogBatch(ctx(t), id, nil, nil, tags), tracking.ErrInvalidParameterValue, "at most 100 tags. Got 101 tags.")
	wantErr(t, s.LogBatch(ctx(t), id, many[:901], params[:100], nil), tracking.ErrInvalidParameterValue,
		"at most 1000 metrics, params, and tags. Got 1001 metrics, params, and tags.")
	wantErr(t, s.LogBatch(ctx(t), id, nil, []tracking.Param{{Key: "a", Value: "1"}, {Key: "a", Value: "2"}}, nil),
		tracking.ErrInvalidParameterValue, "Duplicate parameter keys have been submitted: ['a']")
	for _, bad := range []string{"../x", "/abs", "a/../b", "bad!char"} {
		wantErr(t, s.LogBatch(ctx(t), id, []tracking.Metric{{Key: bad, Value: 1, Timestamp: 1}}, nil, nil),
			tracking.ErrInvalidParameterValue, "Invalid value \""+bad+"\" for parameter 'metrics[0].name' supplied")
	}
	long := strings.Repeat("k", tracking.MaxEntityKeyLength+1)
	wantErr(t, s.LogBatch(ctx(t), id, nil, []tracking.Param{{Key: long, Value: "v"}}, nil), tracking.ErrInvalidParameterValue,
		"had length 251, which exceeded length limit of 250")
	// Param and run tag values over their limits are cut to them, not refused
	// (MLFLOW_TRUNCATE_LONG_VALUES); logged again, the same long param is no change.
	longParam := strings.Repeat("é", tracking.MaxParamValueLength)
	longTag := strings.Repeat("t", tracking.MaxTagValueLength)
	for range 2 {
		must(t, s.LogBatch(ctx(t), id, nil, []tracking.Param{{Key: "cut", Value: longParam + "xyz"}},
			[]tracking.Tag{{Key: "cut", Value: longTag + "xyz"}}))
	}
	if got, err := s.GetRun(ctx(t), id); err != nil {
		t.Error(err)
	} else {
		if v, _ := got.Param("cut"); v != longParam {
			t.Errorf("param over the limit stored as %d characters, want the first %d", len([]rune(v)), tracking.MaxParamValueLength)
		}
		if v, _ := got.Tag("cut"); v != longTag {
			t.Errorf("tag over the limit stored as %d characters, want the first %d", len([]rune(v)), tracking.MaxTagValueLength)
		}
	}
	// At the limits everything is accepted.
	must(t, s.LogBatch(ctx(t), id, many[:1000], nil, nil))
	must(t, s.LogBatch(ctx(t), id, nil, []tracking.Param{{Key: strings.Repeat("k", 250), Value: strings.Repeat("v", 6000)}},
		[]tracking.Tag{{Key: "t", Value: strings.Repeat("v", 8000)}, {Key: "dir/sub-key.x y:z", Value: ""}}))
}

func testMetrics(t *testing.T, s tracking.Store, opts Options) {
	r := newRun(t, s, newExperiment(t, s, "metrics"), "m")
	id := r.Info.RunID
	must(t, s.LogBatch(ctx(t), id, []tracking.Metric{
		{Key: "weird", Value: math.NaN(), Timestamp: 10, Step: 0},
		{Key: "weird", Value: math.Inf(1), Timestamp: 10, Step: 1},
		{Key: "weird", Value: math.Inf(-1), Timestamp: 10, Step: 2},
	}, nil, nil))
	hist, err := s.GetMetricHistory(ctx(t), id, "weird", 0, "")
	must(t, err)
	if len(hist.Items) != 3 || !math.IsNaN(hist.Items[0].Value) || hist.Items[1].Value != math.MaxFloat64 || hist.Items[2].Value != -math.MaxFloat64 {
		t.Fatalf("history = %+v, want NaN, +MaxFloat64, -MaxFloat64", hist.Items)
	}
	got, err := s.GetRun(ctx(t), id)
	must(t, err)
	if v, _ := got.Metric("weird"); v != -math.MaxFloat64 {
		t.Errorf("latest weird = %v, want -MaxFloat64 (highest step)", v)
	}

	// latest: max step, then timestamp, then value; older values do not replace it.
	must(t, s.LogBatch(ctx(t), id, []tracking.Metric{{Key: "acc", Value: 0.5, Timestamp: 100, Step: 3}}, nil, nil))
	must(t, s.LogBatch(ctx(t), id, []tracking.Metric{{Key: "acc", Value: 0.9, Timestamp: 200, Step: 2}}, nil, nil))
	must(t, s.LogBatch(ctx(t), id, []tracking.Metric{{Key: "acc", Value: 0.4, Timestamp: 99, Step: 3}}, nil, nil))
	must(t, s.LogBatch(ctx(t), id, []tracking.Metric{{Key: "acc", Value: 0.6, Timestamp: 100, Step: 3}, {Key: "acc", Value: 0.55, Timestamp: 100, Step: 3}}, nil, nil))
	got, err = s.GetRun(ctx(t), id)
	must(t, err)
	for _, m := range got.Data.Metrics {
		if m.Key == "acc" && (m.Value != 0.6 || m.Step != 3 || m.Timestamp != 100) {
			t.Errorf("latest acc = %+v, want 0.6 at step 3, ts 100", m)
		}
	}
	// NaN at a later step becomes the latest value.
	must(t, s.LogBatch(ctx(t), id, []tracking.Metric{{Key: "acc", Value: math.NaN(), Timestamp: 1, Step: 4}}, nil, nil))
	got, err = s.GetRun(ctx(t), id)
	must(t, err)
	if v, _ := got.Metric("acc"); !math.IsNaN(v) {
		t.Errorf("latest acc = %v, want NaN", v)
	}

	// Duplicate rows are ignored, not errors.
	dup := []tracking.Metric{{Key: "d", Value: 1, Timestamp: 5, Step: 0}, {Key: "d", Value: 1, Timestamp: 5, Step: 0}}
	must(t, s.LogBatch(ctx(t), id, dup, nil, nil))
	must(t, s.LogBatch(ctx(t), id, dup, nil, nil))
	hist, err = s.GetMetricHistory(ctx(t), id, "d", 0, "")
	must(t, err)
	if len(hist.Items) != 1 {
		t.Errorf("history of a duplicated metric has %d rows, want 1", len(hist.Items))
	}

	t.Run("HistoryPaging", func(t *testing.T) {
		var ms []tracking.Metric
		for i := range 25 {
			ms = append(ms, tracking.Metric{Key: "curve", Value: float64(i) / 10, Timestamp: int64(1000 + i), Step: int64(i)})
		}
		must(t, s.LogBatch(ctx(t), id, ms, nil, nil))
		var steps []int64
		token := ""
		pages := 0
		for ; pages < 10; pages++ {
			p, err := s.GetMetricHistory(ctx(t), id, "curve", 10, token)
			must(t, err)
			for _, m := range p.Items {
				steps = append(steps, m.Step)
			}
			if token = p.NextPageToken; token == "" {
				break
			}
		}
		if len(steps) != 25 || !slices.IsSorted(steps) {
			t.Errorf("paged history steps = %v", steps)
		}
		_, err := s.GetMetricHistory(ctx(t), id, "curve", 10, "not base64!")
		if opts.UnpagedMetricHistory {
			if pages != 0 {
				t.Errorf("history came in %d pages, want one", pages+1)
			}
			must(t, err)
		} else {
			if pages != 2 {
				t.Errorf("history of 25 came in %d pages of 10, want 3", pages+1)
			}
			wantErr(t, err, tracking.ErrInvalidParameterValue, "Invalid page token")
		}
	})
}

func testInputs(t *testing.T, s tracking.Store, opts Options) {
	expID := newExperiment(t, s, "inputs")
	r1 := newRun(t, s, expID, "a")
	r2 := newRun(t, s, expID, "b")
	ds := tracking.Dataset{Name: "cal_housing", Digest: "abc123", SourceType: "local", Source: `{"uri": "/data/cal_housing.data"}`, Schema: `{"mlflow_colspec": []}`}
	train := tracking.DatasetInput{Dataset: ds, Tags: []tracking.Tag{{Key: tracking.InputTagContext, Value: "training"}}}
	must(t, s.LogInputs(ctx(t), r1.Info.RunID, []tracking.DatasetInput{train, train}))
	must(t, s.LogInputs(ctx(t), r1.Info.RunID, []tracking.DatasetInput{train}))
	must(t, s.LogInputs(ctx(t), r2.Info.RunID, []tracking.DatasetInput{train, {Dataset: tracking.Dataset{Name: "other", Digest: "d2", SourceType: "code", Source: "{}"}}}))
	got, err := s.GetRun(ctx(t), r1.Info.RunID)
	must(t, err)
	if len(got.Inputs) != 1 {
		t.Fatalf("inputs = %+v, want one (deduplicated)", got.Inputs)
	}
	in := got.Inputs[0]
	if in.Dataset != ds || len(in.Tags) != 1 || in.Tags[0].Value != "training" {
		t.Errorf("input = %+v", in)
	}
	got2, err := s.GetRun(ctx(t), r2.Info.RunID)
	must(t, err)
	if len(got2.Inputs) != 2 {
		t.Errorf("run b inputs = %+v, want 2", got2.Inputs)
	}
	page, err := s.SearchRuns(ctx(t), tracking.RunQuery{ExperimentIDs: []string{expID}, OrderBy: []string{"attributes.run_name ASC"}})
	must(t, err)
	if len(page.Items) != 2 || len(page.Items[0].Inputs) != 1 || len(page.Items[1].Inputs) != 2 {
		t.Errorf("search results lack inputs: %+v", page.Items)
	}
	// A data set of only a name, on a run of its own (SearchDatasets below counts
	// the inputs of this experiment).
	incomplete := newRun(t, s, newExperiment(t, s, "inputs-incomplete"), "d").Info.RunID
	err = s.LogInputs(ctx(t), incomplete, []tracking.DatasetInput{{Dataset: tracking.Dataset{Name: "x"}}})
	if opts.AcceptsIncompleteDatasets {
		must(t, err)
	} else {
		wantErr(t, err, tracking.ErrInvalidParameterValue, "")
	}
	got3, err := s.GetRun(ctx(t), incomplete)
	must(t, err)
	if stored := len(got3.Inputs) == 1 && got3.Inputs[0].Dataset == (tracking.Dataset{Name: "x"}); stored != opts.AcceptsIncompleteDatasets || len(got3.Inputs) > 1 {
		t.Errorf("inputs after logging a data set of only a name = %+v, want it stored: %v", got3.Inputs, opts.AcceptsIncompleteDatasets)
	}

	t.Run("SearchDatasets", func(t *testing.T) {
		// Another experiment's run uses the same data set for evaluation.
		otherExp := newExperiment(t, s, "inputs-other")
		r3 := newRun(t, s, otherExp, "c")
		eval := tracking.DatasetInput{Dataset: ds, Tags: []tracking.Tag{{Key: tracking.InputTagContext, Value: "eval"}}}
		must(t, s.LogInputs(ctx(t), r3.Info.RunID, []tracking.DatasetInput{eval}))
		training := tracking.DatasetSummary{ExperimentID: expID, Name: "cal_housing", Digest: "abc123", Context: "training"} // once, though two runs used it
		other := tracking.DatasetSummary{ExperimentID: expID, Name: "other", Digest: "d2"}                                   // no context tag
		evalIn := tracking.DatasetSummary{ExperimentID: otherExp, Name: "cal_housing", Digest: "abc123", Context: "eval"}
		wantOwn := []tracking.DatasetSummary{training, other}
		if opts.DatasetsSharedAcrossExperiments {
			evalIn.ExperimentID = expID
			wantOwn = append(wantOwn, evalIn)
		}
		// MLflow's query has no ORDER BY: the suite asks for no order.
		sameSet := func(got, want []tracking.DatasetSummary) bool {
			key := func(a, b tracking.DatasetSummary) int {
				return strings.Compare(a.ExperimentID+"\x00"+a.Name+"\x00"+a.Digest+"\x00"+a.Context, b.ExperimentID+"\x00"+b.Name+"\x00"+b.Digest+"\x00"+b.Context)
			}
			got, want = slices.Clone(got), slices.Clone(want)
			slices.SortFunc(got, key)
			slices.SortFunc(want, key)
			return slices.Equal(got, want)
		}
		got, err := s.SearchDatasets(ctx(t), []string{expID})
		must(t, err)
		if !sameSet(got, wantOwn) {
			t.Errorf("SearchDatasets(%s) = %+v, want %+v", expID, got, wantOwn)
		}
		got, err = s.SearchDatasets(ctx(t), []string{expID, otherExp})
		must(t, err)
		if want := []tracking.DatasetSummary{training, other, evalIn}; !sameSet(got, want) {
			t.Errorf("SearchDatasets over both experiments = %+v, want %+v", got, want)
		}
		if got, err := s.SearchDatasets(ctx(t), []string{newExperiment(t, s, "inputs-none")}); err != nil || len(got) != 0 {
			t.Errorf("an experiment without inputs: %+v, %v", got, err)
		}
		many := make([]string, tracking.MaxSearchDatasetsExperiments+1)
		for i := range many {
			many[i] = expID
		}
		_, err = s.SearchDatasets(ctx(t), many)
		wantErr(t, err, tracking.ErrInvalidParameterValue, "SearchDatasets request cannot specify more than 20 experiment_ids. Received 21 experiment_ids.")
		got, err = s.SearchDatasets(ctx(t), []string{"abc"})
		if opts.SearchDatasetsMatchesBadIDs {
			if err != nil || len(got) != 0 {
				t.Errorf("SearchDatasets(abc) = %+v, %v; want nothing", got, err)
			}
		} else {
			wantErr(t, err, tracking.ErrInvalidParameterValue, "abc")
		}
	})
}

func testSearchRuns(t *testing.T, s tracking.Store, _ Options) {
	expID := newExperiment(t, s, "runs-searched")
	other := newExperiment(t, s, "runs-searched-other")
	type cfg struct {
		name  string
		depth string
		r2    float64
	}
	cfgs := []cfg{{"rf-baseline", "5", 0.6469}, {"rf-tuned", "10", 0.7737}, {"rf-optimized", "20", 0.8145}, {"linear", "0", 0.5758}}
	ids := map[string]string{}
	for i, c := range cfgs {
		r, err := s.CreateRun(ctx(t), tracking.CreateRun{ExperimentID: expID, RunName: c.name, StartTime: int64(1000 + i)})
		must(t, err)
		ids[c.name] = r.Info.RunID
		must(t, s.LogBatch(ctx(t), r.Info.RunID, []tracking.Metric{{Key: "r2", Value: c.r2, Timestamp: 1}, {Key: "mse", Value: 1 - c.r2, Timestamp: 1}},
			[]tracking.Param{{Key: "max_depth", Value: c.depth}}, []tracking.Tag{{Key: "family", Value: strings.SplitN(c.name, "-", 2)[0]}}))
	}
	newRun(t, s, other, "elsewhere")

	runNames := func(p tracking.Page[tracking.Run]) []string {
		var out []string
		for _, r := range p.Items {
			out = append(out, r.Info.RunName)
		}
		return out
	}
	page, err := s.SearchRuns(ctx(t), tracking.RunQuery{ExperimentIDs: []string{expID}, Filter: "metrics.r2 > 0.6", OrderBy: []string{"metrics.r2 DESC"}})
	must(t, err)
	if got, want := runNames(page), []string{"rf-optimized", "rf-tuned", "rf-baseline"}; !slices.Equal(got, want) {
		t.Errorf("r2 > 0.6 by r2 desc = %v, want %v", got, want)
	}
	if len(page.Items) > 0 {
		r := page.Items[0]
		if v, _ := r.Param("max_depth"); v != "20" {
			t.Errorf("search result params = %v", r.Data.Params)
		}
		if v, _ := r.Metric("mse"); math.Abs(v-(1-0.8145)) > 1e-12 {
			t.Errorf("search result metrics = %v", r.Data.Metrics)
		}
		if v, _ := r.Tag("family"); v != "rf" {
			t.Errorf("search result tags = %v", r.Data.Tags)
		}
	}
	page, err = s.SearchRuns(ctx(t), tracking.RunQuery{ExperimentIDs: []string{expID}, Filter: "params.max_depth = '10' and tags.family = 'rf'"})
	must(t, err)
	if got := runNames(page); !slices.Equal(got, []string{"rf-tuned"}) {
		t.Errorf("param+tag filter = %v", got)
	}
	// Default order: start_time DESC.
	page, err = s.SearchRuns(ctx(t), tracking.RunQuery{ExperimentIDs: []string{expID}})
	must(t, err)
	if got := runNames(page); !slices.Equal(got, []string{"linear", "rf-optimized", "rf-tuned", "rf-baseline"}) {
		t.Errorf("default order = %v", got)
	}
	both, err := s.SearchRuns(ctx(t), tracking.RunQuery{ExperimentIDs: []string{expID, other}})
	must(t, err)
	if len(both.Items) != 5 {
		t.Errorf("two experiments: %d runs, want 5", len(both.Items))
	}

	// Paging: a full last page still has a token; the page after it is empty.
	var seen []string
	token := ""
	for i := 0; i < 3; i++ {
		p, err := s.SearchRuns(ctx(t), tracking.RunQuery{ExperimentIDs: []string{expID}, OrderBy: []string{"metrics.r2 ASC"}, MaxResults: 2, PageToken: token})
		must(t, err)
		seen = append(seen, runNames(p)...)
		if i < 2 && p.NextPageToken == "" {
			t.Fatalf("page %d (%d runs) has no next token", i+1, len(p.Items))
		}
		if i == 2 && (len(p.Items) != 0 || p.NextPageToken != "") {
			t.Errorf("page 3 = %v token %q, want empty", runNames(p), p.NextPageToken)
		}
		token = p.NextPageToken
	}
	if !slices.Equal(seen, []string{"linear", "rf-baseline", "rf-tuned", "rf-optimized"}) {
		t.Errorf("paged by r2 asc = %v", seen)
	}

	must(t, s.DeleteRun(ctx(t), ids["linear"]))
	active, err := s.SearchRuns(ctx(t), tracking.RunQuery{ExperimentIDs: []string{expID}})
	must(t, err)
	deleted, err := s.SearchRuns(ctx(t), tracking.RunQuery{ExperimentIDs: []string{expID}, ViewType: tracking.ViewDeletedOnly})
	must(t, err)
	all, err := s.SearchRuns(ctx(t), tracking.RunQuery{ExperimentIDs: []string{expID}, ViewType: tracking.ViewAll})
	must(t, err)
	if len(active.Items) != 3 || len(deleted.Items) != 1 || deleted.Items[0].Info.RunName != "linear" || len(all.Items) != 4 {
		t.Errorf("view types: active %v deleted %v all %v", runNames(active), runNames(deleted), runNames(all))
	}

	for _, bad := range []tracking.RunQuery{
		{ExperimentIDs: []string{expID}, Filter: "metrics.r2 >> 0.5"},
		{ExperimentIDs: []string{expID}, Filter: "foo.bar = 1"},
		{ExperimentIDs: []string{expID}, OrderBy: []string{"nope.x"}},
		{ExperimentIDs: []string{expID}, PageToken: "???"},
		{ExperimentIDs: []string{expID}, MaxResults: tracking.MaxSearchResults + 1},
	} {
		_, err := s.SearchRuns(ctx(t), bad)
		wantErr(t, err, tracking.ErrInvalidParameterValue, "")
	}
}

func testRegisteredModels(t *testing.T, s tracking.Store, _ Options) {
	// Other subtests' models may be there: the unfiltered search below expects
	// them and the two this one makes, by name.
	before, err := s.SearchRegisteredModels(ctx(t), tracking.ModelQuery{})
	must(t, err)
	m, err := s.CreateRegisteredModel(ctx(t), "housing", "first", []tracking.Tag{{Key: "owner", Value: "ml"}})
	must(t, err)
	if m.Name != "housing" || m.Description != "first" || m.CreationTimestamp == 0 || len(m.Tags) != 1 {
		t.Errorf("created model = %+v", m)
	}
	_, err = s.CreateRegisteredModel(ctx(t), "housing", "", nil)
	wantErr(t, err, tracking.ErrResourceAlreadyExists, "Registered Model (name=housing) already exists.")
	_, err = s.CreateRegisteredModel(ctx(t), "", "", nil)
	wantErr(t, err, tracking.ErrInvalidParameterValue, "")
	_, err = s.GetRegisteredModel(ctx(t), "nope")
	wantErr(t, err, tracking.ErrResourceDoesNotExist, "Registered Model with name=nope not found")

	m, err = s.UpdateRegisteredModel(ctx(t), "housing", "second")
	must(t, err)
	if m.Description != "second" {
		t.Errorf("description = %q", m.Description)
	}
	must(t, s.SetRegisteredModelTag(ctx(t), "housing", "stage", "dev"))
	must(t, s.DeleteRegisteredModelTag(ctx(t), "housing", "owner"))
	m, err = s.GetRegisteredModel(ctx(t), "housing")
	must(t, err)
	if len(m.Tags) != 1 || m.Tags[0].Key != "stage" {
		t.Errorf("tags = %v", m.Tags)
	}

	runID := newRun(t, s, newExperiment(t, s, "reg"), "r").Info.RunID
	for range 2 {
		_, err := s.CreateModelVersion(ctx(t), tracking.CreateModelVersion{Name: "housing", Source: "runs:/" + runID + "/model", RunID: runID})
		must(t, err)
	}
	must(t, s.SetRegisteredModelAlias(ctx(t), "housing", "champion", "2"))
	must(t, s.SetModelVersionTag(ctx(t), "housing", "1", "k", "v"))

	renamed, err := s.RenameRegisteredModel(ctx(t), "housing", "housing-v2")
	must(t, err)
	if renamed.Name != "housing-v2" || len(renamed.Aliases) != 1 || renamed.Aliases[0] != (tracking.Alias{Alias: "champion", Version: "2"}) {
		t.Errorf("renamed = %+v", renamed)
	}
	v1, err := s.GetModelVersion(ctx(t), "housing-v2", "1")
	must(t, err)
	if v1.Name != "housing-v2" || len(v1.Tags) != 1 {
		t.Errorf("version after rename = %+v", v1)
	}
	if _, err := s.GetRegisteredModel(ctx(t), "housing"); !tracking.IsNotFound(err) {
		t.Errorf("old name still found: %v", err)
	}
	_, err = s.CreateRegisteredModel(ctx(t), "other", "", nil)
	must(t, err)
	_, err = s.RenameRegisteredModel(ctx(t), "other", "housing-v2")
	wantErr(t, err, tracking.ErrResourceAlreadyExists, "")

	page, err := s.SearchRegisteredModels(ctx(t), tracking.ModelQuery{})
	must(t, err)
	want := append(modelNames(before.Items), "housing-v2", "other")
	slices.Sort(want)
	if got := modelNames(page.Items); !slices.Equal(got, want) {
		t.Errorf("search models = %v, want %v", got, want)
	}
	page, err = s.SearchRegisteredModels(ctx(t), tracking.ModelQuery{Filter: "name LIKE 'hous%'"})
	must(t, err)
	if len(page.Items) != 1 || len(page.Items[0].LatestVersions) == 0 || len(page.Items[0].Aliases) != 1 {
		t.Errorf("filtered search = %+v", page.Items)
	}
	page, err = s.SearchRegisteredModels(ctx(t), tracking.ModelQuery{MaxResults: 1})
	must(t, err)
	if len(page.Items) != 1 || page.NextPageToken == "" {
		t.Errorf("paged search = %+v", page)
	}
	page, err = s.SearchRegisteredModels(ctx(t), tracking.ModelQuery{MaxResults: 2})
	must(t, err)
	if len(page.Items) != 2 || page.NextPageToken != "" {
		t.Errorf("a full last page = %+v, want no next page token (MLflow reads one row more to know)", page)
	}

	must(t, s.DeleteRegisteredModel(ctx(t), "housing-v2"))
	_, err = s.GetRegisteredModel(ctx(t), "housing-v2")
	wantErr(t, err, tracking.ErrResourceDoesNotExist, "")
	_, err = s.GetModelVersion(ctx(t), "housing-v2", "1")
	wantErr(t, err, tracking.ErrResourceDoesNotExist, "")
	wantErr(t, s.DeleteRegisteredModel(ctx(t), "housing-v2"), tracking.ErrResourceDoesNotExist, "")
}

func modelNames(models []tracking.RegisteredModel) []string {
	var out []string
	for _, m := range models {
		out = append(out, m.Name)
	}
	return out
}

func testModelVersions(t *testing.T, s tracking.Store, _ Options) {
	_, err := s.CreateModelVersion(ctx(t), tracking.CreateModelVersion{Name: "missing", Source: "s3://b/m"})
	wantErr(t, err, tracking.ErrResourceDoesNotExist, "Registered Model with name=missing not found")
	_, err = s.CreateRegisteredModel(ctx(t), "regressor", "", nil)
	must(t, err)
	runID := newRun(t, s, newExperiment(t, s, "mv"), "r").Info.RunID
	source := "mlflow-artifacts:/1/" + runID + "/artifacts/model"
	var versions []*tracking.ModelVersion
	for i := range 3 {
		v, err := s.CreateModelVersion(ctx(t), tracking.CreateModelVersion{Name: "regressor", Source: source, RunID: runID,
			Tags: []tracking.Tag{{Key: "i", Value: fmt.Sprint(i)}}, Description: "d"})
		must(t, err)
		versions = append(versions, v)
	}
	v := versions[0]
	if v.Version != "1" || versions[2].Version != "3" || v.Status != tracking.VersionReady || v.CurrentStage != tracking.StageNone ||
		v.Source != source || v.RunID != runID || v.CreationTimestamp == 0 {
		t.Errorf("version 1 = %+v", v)
	}
	_, err = s.GetModelVersion(ctx(t), "regressor", "99")
	wantErr(t, err, tracking.ErrResourceDoesNotExist, "Model Version (name=regressor, version=99) not found")

	upd, err := s.UpdateModelVersion(ctx(t), "regressor", "1", "better")
	must(t, err)
	if upd.Description != "better" {
		t.Errorf("description = %q", upd.Description)
	}

	// None -> Staging -> Production, archiving the previous Production version.
	_, err = s.TransitionModelVersionStage(ctx(t), "regressor", "1", tracking.StageProduction, false)
	must(t, err)
	_, err = s.TransitionModelVersionStage(ctx(t), "regressor", "2", tracking.StageStaging, false)
	must(t, err)
	v2, err := s.TransitionModelVersionStage(ctx(t), "regressor", "2", "production", true)
	must(t, err)
	if v2.CurrentStage != tracking.StageProduction {
		t.Errorf("v2 stage = %s", v2.CurrentStage)
	}
	v1, err := s.GetModelVersion(ctx(t), "regressor", "1")
	must(t, err)
	if v1.CurrentStage != tracking.StageArchived || v1.LastUpdatedTimestamp != v2.LastUpdatedTimestamp {
		t.Errorf("v1 = %s at %d, want Archived at v2's %d", v1.CurrentStage, v1.LastUpdatedTimestamp, v2.LastUpdatedTimestamp)
	}
	_, err = s.TransitionModelVersionStage(ctx(t), "regressor", "3", tracking.StageArchived, true)
	wantErr(t, err, tracking.ErrInternal, "Model version transition cannot archive existing model versions because 'Archived' is not an Active stage. Valid stages are ['Staging', 'Production']")
	_, err = s.TransitionModelVersionStage(ctx(t), "regressor", "3", "Prod", false)
	wantErr(t, err, tracking.ErrInvalidParameterValue, "Invalid Model Version stage: Prod")
	_, err = s.TransitionModelVersionStage(ctx(t), "regressor", "99", tracking.StageStaging, false)
	wantErr(t, err, tracking.ErrResourceDoesNotExist, "")

	latest, err := s.GetLatestVersions(ctx(t), "regressor", nil)
	must(t, err)
	var got []string
	for _, v := range latest {
		got = append(got, v.Version+":"+string(v.CurrentStage))
	}
	if !slices.Equal(got, []string{"1:Archived", "2:Production", "3:None"}) {
		t.Errorf("latest versions = %v", got)
	}
	latest, err = s.GetLatestVersions(ctx(t), "regressor", []tracking.Stage{tracking.StageProduction})
	must(t, err)
	if len(latest) != 1 || latest[0].Version != "2" {
		t.Errorf("latest production = %+v", latest)
	}
	_, err = s.GetLatestVersions(ctx(t), "nope", nil)
	wantErr(t, err, tracking.ErrResourceDoesNotExist, "")

	must(t, s.SetModelVersionTag(ctx(t), "regressor", "2", "validated", "true"))
	must(t, s.DeleteModelVersionTag(ctx(t), "regressor", "2", "i"))
	v2, err = s.GetModelVersion(ctx(t), "regressor", "2")
	must(t, err)
	if len(v2.Tags) != 1 || v2.Tags[0].Key != "validated" {
		t.Errorf("v2 tags = %v", v2.Tags)
	}

	page, err := s.SearchModelVersions(ctx(t), tracking.ModelQuery{Filter: "name = 'regressor'"})
	must(t, err)
	if len(page.Items) != 3 {
		t.Errorf("search versions = %d, want 3", len(page.Items))
	}
	page, err = s.SearchModelVersions(ctx(t), tracking.ModelQuery{Filter: "run_id = '" + runID + "'", OrderBy: []string{"version_number ASC"}})
	must(t, err)
	if len(page.Items) != 3 || page.Items[0].Version != "1" {
		t.Errorf("search versions by run = %+v", page.Items)
	}
	for limit, wantToken := range map[int]bool{2: true, 3: false} {
		page, err = s.SearchModelVersions(ctx(t), tracking.ModelQuery{Filter: "name = 'regressor'", MaxResults: limit})
		must(t, err)
		if len(page.Items) != limit || (page.NextPageToken != "") != wantToken {
			t.Errorf("versions, %d a page: %d, token %q; want a token: %v (as MLflow, only when there is a next page)",
				limit, len(page.Items), page.NextPageToken, wantToken)
		}
	}

	// Deleted versions disappear and their numbers are not reused.
	must(t, s.DeleteModelVersion(ctx(t), "regressor", "3"))
	_, err = s.GetModelVersion(ctx(t), "regressor", "3")
	wantErr(t, err, tracking.ErrResourceDoesNotExist, "")
	page, err = s.SearchModelVersions(ctx(t), tracking.ModelQuery{Filter: "name = 'regressor'"})
	must(t, err)
	if len(page.Items) != 2 {
		t.Errorf("search after delete = %d versions, want 2", len(page.Items))
	}
	v4, err := s.CreateModelVersion(ctx(t), tracking.CreateModelVersion{Name: "regressor", Source: source})
	must(t, err)
	if v4.Version != "4" {
		t.Errorf("version after deleting 3 = %s, want 4", v4.Version)
	}

	// Download URIs, as MLflow's store: the source, runs:/ included (and for
	// runs that do not exist: the registry does not look runs up); a copy made
	// from models:/name/version has that version's download URI.
	_, err = s.CreateModelVersion(ctx(t), tracking.CreateModelVersion{Name: "regressor", Source: "runs:/no_such_run/model", RunID: "no_such_run"})
	must(t, err)
	if uri, err := s.GetModelVersionDownloadURI(ctx(t), "regressor", "5"); err != nil || uri != "runs:/no_such_run/model" {
		t.Errorf("download uri of a runs:/ source = %q, %v", uri, err)
	}
	cp, err := s.CreateModelVersion(ctx(t), tracking.CreateModelVersion{Name: "regressor", Source: "models:/regressor/5", RunID: "no_such_run"})
	must(t, err)
	if cp.Source != "models:/regressor/5" {
		t.Errorf("copy's source = %q, want the models:/ URI as given", cp.Source)
	}
	if uri, err := s.GetModelVersionDownloadURI(ctx(t), "regressor", cp.Version); err != nil || uri != "runs:/no_such_run/model" {
		t.Errorf("download uri of a copy = %q, %v; want the original's", uri, err)
	}
	_, err = s.CreateModelVersion(ctx(t), tracking.CreateModelVersion{Name: "regressor", Source: "models:/regressor/99"})
	wantErr(t, err, tracking.ErrInternal, "Unable to fetch model from model URI source artifact location 'models:/regressor/99'.Error: Model Version (name=regressor, version=99) not found")
	_, err = s.CreateModelVersion(ctx(t), tracking.CreateModelVersion{Name: "regressor", Source: "models:/regressor@champion"})
	wantErr(t, err, tracking.ErrInternal, "Unable to fetch model from model URI source artifact location 'models:/regressor@champion'")
	_, err = s.GetModelVersionDownloadURI(ctx(t), "regressor", "3")
	wantErr(t, err, tracking.ErrResourceDoesNotExist, "")
}

func testAliases(t *testing.T, s tracking.Store, opts Options) {
	_, err := s.CreateRegisteredModel(ctx(t), "aliased", "", nil)
	must(t, err)
	for range 2 {
		_, err := s.CreateModelVersion(ctx(t), tracking.CreateModelVersion{Name: "aliased", Source: "s3://bucket/model"})
		must(t, err)
	}
	must(t, s.SetRegisteredModelAlias(ctx(t), "aliased", "champion", "1"))
	must(t, s.SetRegisteredModelAlias(ctx(t), "aliased", "challenger", "2"))
	v, err := s.GetModelVersionByAlias(ctx(t), "aliased", "champion")
	must(t, err)
	if v.Version != "1" || !slices.Equal(v.Aliases, []string{"champion"}) {
		t.Errorf("champion = version %s aliases %v", v.Version, v.Aliases)
	}
	must(t, s.SetRegisteredModelAlias(ctx(t), "aliased", "champion", "2"))
	v, err = s.GetModelVersion(ctx(t), "aliased", "2")
	must(t, err)
	if !slices.Equal(v.Aliases, []string{"challenger", "champion"}) {
		t.Errorf("version 2 aliases = %v", v.Aliases)
	}
	m, err := s.GetRegisteredModel(ctx(t), "aliased")
	must(t, err)
	if len(m.Aliases) != 2 {
		t.Errorf("model aliases = %v", m.Aliases)
	}

	wantErr(t, s.SetRegisteredModelAlias(ctx(t), "aliased", "latest", "1"), tracking.ErrInvalidParameterValue,
		"'latest' alias name (case insensitive) is reserved.")
	wantErr(t, s.SetRegisteredModelAlias(ctx(t), "aliased", "x", "99"), tracking.ErrResourceDoesNotExist,
		"Model Version (name=aliased, version=99) not found")
	_, err = s.GetModelVersionByAlias(ctx(t), "aliased", "nope")
	wantErr(t, err, tracking.ErrInvalidParameterValue, "Registered model alias nope not found.")

	must(t, s.DeleteRegisteredModelAlias(ctx(t), "aliased", "challenger"))
	_, err = s.GetModelVersionByAlias(ctx(t), "aliased", "challenger")
	wantErr(t, err, tracking.ErrInvalidParameterValue, "")

	// Deleting a version removes its aliases (see DeletedVersionKeepsAliases).
	must(t, s.DeleteModelVersion(ctx(t), "aliased", "2"))
	_, err = s.GetModelVersionByAlias(ctx(t), "aliased", "champion")
	var wantAliases []tracking.Alias
	if opts.DeletedVersionKeepsAliases {
		wantErr(t, err, tracking.ErrResourceDoesNotExist, "Model Version (name=aliased, version=2) not found")
		wantAliases = []tracking.Alias{{Alias: "champion", Version: "2"}}
	} else {
		wantErr(t, err, tracking.ErrInvalidParameterValue, "Registered model alias champion not found.")
	}
	m, err = s.GetRegisteredModel(ctx(t), "aliased")
	must(t, err)
	if !slices.Equal(m.Aliases, wantAliases) {
		t.Errorf("aliases after deleting their version = %v, want %v", m.Aliases, wantAliases)
	}
}

func testConcurrentModelVersions(t *testing.T, s tracking.Store, _ Options) {
	_, err := s.CreateRegisteredModel(ctx(t), "concurrent", "", nil)
	must(t, err)
	const n = 8
	var wg sync.WaitGroup
	versions := make([]string, n)
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			v, err := s.CreateModelVersion(ctx(t), tracking.CreateModelVersion{Name: "concurrent", Source: fmt.Sprintf("s3://b/m%d", i)})
			errs[i] = err
			if err == nil {
				versions[i] = v.Version
			}
		}()
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		must(t, err)
	}
	got := make([]int, n)
	for i, v := range versions {
		got[i], _ = strconv.Atoi(v)
	}
	slices.Sort(got)
	want := make([]int, n)
	for i := range want {
		want[i] = i + 1
	}
	if !slices.Equal(got, want) {
		t.Errorf("concurrently created versions = %v, want %v", versions, want)
	}
}

// testStorableText: text that one backend cannot store is refused by every
// backend, before anything is written: NUL characters (PostgreSQL's text types
// cannot hold them) and values longer than their column of MLflow's schema
// (PostgreSQL refuses them, SQLite would keep them). A value of exactly the
// column's length in multi-byte characters is stored (limits count characters).
// A backend that stores such text (StoresUnstorableText) must keep it as given.
func testStorableText(t *testing.T, s tracking.Store, opts Options) {
	refused := func(t *testing.T, err error, msg string) {
		t.Helper()
		if opts.StoresUnstorableText {
			must(t, err)
			return
		}
		wantErr(t, err, tracking.ErrInvalidParameterValue, msg)
	}
	long := func(n int) string { return strings.Repeat("é", n) }
	expID := newExperiment(t, s, "storable")
	run := newRun(t, s, expID, "storable-run")
	id := run.Info.RunID
	_, err := s.CreateRegisteredModel(ctx(t), "storable-model", "", nil)
	must(t, err)
	_, err = s.CreateModelVersion(ctx(t), tracking.CreateModelVersion{Name: "storable-model", Source: run.Info.ArtifactURI + "/model", RunID: id})
	must(t, err)
	source := run.Info.ArtifactURI + "/" + strings.Repeat("m", tracking.MaxModelVersionSourceLength)

	t.Run("NUL", func(t *testing.T) {
		for name, write := range map[string]func() error{
			"experiment name": func() error { _, err := s.CreateExperiment(ctx(t), "a\x00b", "", nil); return err },
			"experiment tag":  func() error { return s.SetExperimentTag(ctx(t), expID, "k", "v\x00") },
			"param value":     func() error { return s.LogBatch(ctx(t), id, nil, []tracking.Param{{Key: "p", Value: "\x00"}}, nil) },
			"run tag value":   func() error { return s.LogBatch(ctx(t), id, nil, nil, []tracking.Tag{{Key: "t", Value: "x\x00"}}) },
			"run name": func() error {
				_, err := s.CreateRun(ctx(t), tracking.CreateRun{ExperimentID: expID, RunName: "r\x00"})
				return err
			},
			"model description": func() error {
				_, err := s.UpdateRegisteredModel(ctx(t), "storable-model", "d\x00")
				return err
			},
			"version tag": func() error { return s.SetModelVersionTag(ctx(t), "storable-model", "1", "k", "\x00") },
		} {
			t.Run(name, func(t *testing.T) { refused(t, write(), "NUL") })
		}
		got, err := s.GetRun(ctx(t), id)
		must(t, err)
		if opts.StoresUnstorableText {
			if v, _ := got.Param("p"); v != "\x00" {
				t.Errorf("param p = %q, want the NUL stored", v)
			}
			if v, _ := got.Tag("t"); v != "x\x00" {
				t.Errorf("tag t = %q, want x and NUL stored", v)
			}
			return
		}
		if len(got.Data.Params) != 0 {
			t.Errorf("refused writes left params %v", got.Data.Params)
		}
		if _, ok := tagValue(got.Data.Tags, "t"); ok {
			t.Errorf("a refused write left tag t")
		}
	})

	t.Run("TooLong", func(t *testing.T) {
		for _, c := range []struct {
			name  string
			limit int
			write func(value string) error
		}{
			{"run_name", tracking.MaxRunNameLength, func(v string) error {
				_, err := s.CreateRun(ctx(t), tracking.CreateRun{ExperimentID: expID, RunName: v})
				return err
			}},
			{"user_id", tracking.MaxUserIDLength, func(v string) error {
				_, err := s.CreateRun(ctx(t), tracking.CreateRun{ExperimentID: expID, UserID: v})
				return err
			}},
			{"run_name", tracking.MaxRunNameLength, func(v string) error {
				_, err := s.UpdateRun(ctx(t), id, tracking.UpdateRun{RunName: &v})
				return err
			}},
			{tracking.TagRunName, tracking.MaxRunNameLength, func(v string) error {
				return s.LogBatch(ctx(t), id, nil, nil, []tracking.Tag{{Key: tracking.TagRunName, Value: v}})
			}},
			{"name", tracking.MaxModelNameLength, func(v string) error {
				_, err := s.CreateRegisteredModel(ctx(t), v, "", nil)
				return err
			}},
			{"description", tracking.MaxDescriptionLength, func(v string) error {
				_, err := s.UpdateRegisteredModel(ctx(t), "storable-model", v)
				return err
			}},
			{"description", tracking.MaxDescriptionLength, func(v string) error {
				_, err := s.UpdateModelVersion(ctx(t), "storable-model", "1", v)
				return err
			}},
			{"run_link", tracking.MaxRunLinkLength, func(v string) error {
				_, err := s.CreateModelVersion(ctx(t), tracking.CreateModelVersion{Name: "storable-model", Source: run.Info.ArtifactURI + "/model", RunID: id, RunLink: v})
				return err
			}},
		} {
			t.Run(c.name, func(t *testing.T) {
				refused(t, c.write(long(c.limit+1)),
					fmt.Sprintf("'%s' supplied: it had length %d, which exceeded length limit of %d", c.name, c.limit+1, c.limit))
				must(t, c.write(long(c.limit)))
			})
		}
		t.Run("new_name", func(t *testing.T) {
			// Not the name "name" above made: a backend that stores it would find it taken.
			newName := strings.Repeat("ê", tracking.MaxModelNameLength+1)
			m, err := s.RenameRegisteredModel(ctx(t), "storable-model", newName)
			refused(t, err, "exceeded length limit of 256")
			if err == nil {
				if m.Name != newName {
					t.Errorf("renamed to %d characters, want %d", len([]rune(m.Name)), len([]rune(newName)))
				}
				_, err = s.RenameRegisteredModel(ctx(t), newName, "storable-model")
				must(t, err)
			}
		})
		t.Run("source", func(t *testing.T) {
			v, err := s.CreateModelVersion(ctx(t), tracking.CreateModelVersion{Name: "storable-model", Source: source, RunID: id})
			refused(t, err, "exceeded length limit of 500")
			if err == nil && v.Source != source {
				t.Errorf("source of %d characters stored as %d", len(source), len(v.Source))
			}
		})
		got, err := s.GetRegisteredModel(ctx(t), "storable-model")
		must(t, err)
		if got.Description != long(tracking.MaxDescriptionLength) {
			t.Errorf("description of %d characters after a refused longer one, want the %d stored before",
				len([]rune(got.Description)), tracking.MaxDescriptionLength)
		}
	})
}
