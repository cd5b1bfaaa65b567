package sqlstore_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/mlops-lab/housing/internal/testenv"
	"github.com/mlops-lab/housing/tracking"
)

func TestCountNestedRunsSQLite(t *testing.T) { testCountNestedRuns(t, sqliteURI(t)) }

func TestCountNestedRunsPostgres(t *testing.T) { testCountNestedRuns(t, testenv.PostgresURI(t)) }

// testCountNestedRuns: the counts and keys are those of the active nested
// runs of the parents asked for, in their experiment; a deleted run, a run
// nested under another parent and one in another experiment do not count.
func testCountNestedRuns(t *testing.T, uri string) {
	ctx := context.Background()
	s := mustOpen(t, uri)
	exp, err := s.CreateExperiment(ctx, "searches", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	other, err := s.CreateExperiment(ctx, "other", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	run := func(exp, parent string, params []tracking.Param, metrics []tracking.Metric) string {
		t.Helper()
		var tags []tracking.Tag
		if parent != "" {
			tags = append(tags, tracking.Tag{Key: tracking.TagParentRunID, Value: parent})
		}
		r, err := s.CreateRun(ctx, tracking.CreateRun{ExperimentID: exp, StartTime: 1, Tags: tags})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.LogBatch(ctx, r.Info.RunID, metrics, params, nil); err != nil {
			t.Fatal(err)
		}
		return r.Info.RunID
	}
	p1, p2, lone := run(exp, "", nil, nil), run(exp, "", nil, nil), run(exp, "", nil, nil)
	for range 3 {
		run(exp, p1, []tracking.Param{{Key: "max_depth", Value: "5"}}, []tracking.Metric{{Key: "cv_r2", Value: 0.7, Timestamp: 1}})
	}
	run(exp, p2, []tracking.Param{{Key: "search_round", Value: "1"}}, nil)
	deleted := run(exp, p2, []tracking.Param{{Key: "deleted_only", Value: "1"}}, nil)
	if err := s.DeleteRun(ctx, deleted); err != nil {
		t.Fatal(err)
	}
	run(exp, lone, []tracking.Param{{Key: "not_asked", Value: "1"}}, nil)
	run(other, p1, []tracking.Param{{Key: "elsewhere", Value: "1"}}, nil)

	got, err := s.CountNestedRuns(ctx, exp, []string{p1, p2, "0123456789abcdef0123456789abcdef"})
	if err != nil {
		t.Fatal(err)
	}
	want := tracking.NestedRuns{Counts: map[string]int{p1: 3, p2: 1}, ParamKeys: []string{"max_depth", "search_round"}, MetricKeys: []string{"cv_r2"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("CountNestedRuns = %+v, want %+v", got, want)
	}
	if got, err := s.CountNestedRuns(ctx, exp, nil); err != nil || len(got.Counts) != 0 {
		t.Errorf("no parents: %+v, %v", got, err)
	}
	if _, err := s.CountNestedRuns(ctx, "nope", []string{p1}); tracking.ErrorCodeOf(err) != tracking.ErrResourceDoesNotExist {
		t.Errorf("bad experiment id: %v, want RESOURCE_DOES_NOT_EXIST", err)
	}
}
