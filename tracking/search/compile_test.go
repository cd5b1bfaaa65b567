package search_test

import (
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/mlops-lab/housing/tracking/search"
)

// placeholders returns the $n numbers in s, in order.
func placeholders(s string) []string {
	return regexp.MustCompile(`\$\d+`).FindAllString(s, -1)
}

func TestCompileRunsPlaceholders(t *testing.T) {
	f, err := search.ParseRunFilter("metrics.r2 > 0.5 and params.model LIKE 'rf%' and run_id IN ('a', 'b')")
	if err != nil {
		t.Fatal(err)
	}
	o, err := search.ParseRunOrderBy([]string{"metrics.r2 DESC", "tags.team"})
	if err != nil {
		t.Fatal(err)
	}
	pg, err := search.CompileRuns(f, o, search.PostgreSQL, 3)
	if err != nil {
		t.Fatal(err)
	}
	// Where: metric key, value; param key, pattern; two run ids. Order: key twice, tag key.
	wantArgs := []any{"r2", 0.5, "model", "rf%", "a", "b"}
	if !reflect.DeepEqual(pg.Args, wantArgs) {
		t.Errorf("Args = %#v, want %#v", pg.Args, wantArgs)
	}
	if want := []any{"r2", "r2", "team"}; !reflect.DeepEqual(pg.OrderArgs, want) {
		t.Errorf("OrderArgs = %#v, want %#v", pg.OrderArgs, want)
	}
	var want []string
	for n := 3; n < 3+len(pg.Args)+len(pg.OrderArgs); n++ {
		want = append(want, fmt.Sprintf("$%d", n))
	}
	if got := append(placeholders(pg.Where), placeholders(pg.OrderBy)...); !reflect.DeepEqual(got, want) {
		t.Errorf("placeholders = %v, want %v", got, want)
	}
	if pg.NextArg != 3+len(want) {
		t.Errorf("NextArg = %d, want %d", pg.NextArg, 3+len(want))
	}
	if strings.Contains(pg.Where, "'rf%'") || strings.Contains(pg.Where, "'a'") {
		t.Errorf("values pasted into SQL: %s", pg.Where)
	}

	lite, err := search.CompileRuns(f, o, search.SQLite, 1)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(lite.Where, "?"); n != len(lite.Args) {
		t.Errorf("SQLite Where has %d placeholders for %d args: %s", n, len(lite.Args), lite.Where)
	}
	if n := strings.Count(lite.OrderBy, "?"); n != len(lite.OrderArgs) {
		t.Errorf("SQLite OrderBy has %d placeholders for %d args: %s", n, len(lite.OrderArgs), lite.OrderBy)
	}
	// SQLite's LIKE ignores case, so a case-sensitive LIKE is a GLOB with '%' as '*'.
	if !strings.Contains(lite.Where, "GLOB") || lite.Args[3] != "rf*" {
		t.Errorf("SQLite LIKE compiled to %s with %v", lite.Where, lite.Args)
	}
}

func TestCompileEmpty(t *testing.T) {
	f, err := search.ParseRunFilter("")
	if err != nil {
		t.Fatal(err)
	}
	s, err := search.CompileRuns(f, nil, search.SQLite, 1)
	if err != nil {
		t.Fatal(err)
	}
	if s.Where != "1 = 1" || len(s.Args) != 0 || s.OrderBy != "runs.start_time DESC NULLS LAST, runs.run_uuid ASC" || s.NextArg != 1 {
		t.Errorf("empty filter compiled to %+v", s)
	}
}

func TestCompileRejectsMisuse(t *testing.T) {
	runs, _ := search.ParseRunFilter("metrics.r2 > 1")
	exps, _ := search.ParseExperimentFilter("name = 'x'")
	if _, err := search.CompileRuns(exps, nil, search.SQLite, 1); err == nil {
		t.Error("CompileRuns took an experiments filter")
	}
	if _, err := search.CompileExperiments(runs, nil, search.SQLite, 1); err == nil {
		t.Error("CompileExperiments took a runs filter")
	}
	if _, err := search.CompileRuns(runs, nil, search.Dialect(7), 1); err == nil {
		t.Error("CompileRuns took an unknown dialect")
	}
	if _, err := search.CompileRuns(runs, nil, search.PostgreSQL, 0); err == nil {
		t.Error("CompileRuns took firstArg 0")
	}
	bad := search.Filter{Entity: search.Runs, Clauses: []search.Comparison{{Type: search.Attribute, Key: "lifecycle_stage", Comparator: "=", Value: search.Value{Kind: search.StringValue, Str: "x"}}}}
	if _, err := search.CompileRuns(bad, nil, search.SQLite, 1); err == nil {
		t.Error("CompileRuns took an unknown attribute")
	}
	if _, err := search.CompileModelVersions(search.Filter{Entity: search.ModelVersions}, []search.OrderBy{{Type: search.Tag, Key: "k"}}, search.SQLite, 1); err == nil {
		t.Error("CompileModelVersions took a tag ordering")
	}
}
