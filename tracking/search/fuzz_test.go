package search_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/search"
)

// FuzzParseRunFilter checks that the parser never panics, that every rejection is
// an INVALID_PARAMETER_VALUE *tracking.Error, and that every accepted filter
// compiles for both dialects and runs on a real SQLite database.
func FuzzParseRunFilter(f *testing.F) {
	for _, tc := range runCases {
		f.Add(tc.filter)
	}
	for _, s := range []string{
		"metrics.r2 >> 0.5", "foo.r2 > 0.5", "params.alpha = 0.5", "metrics.r2 > 'x'",
		"run_id IN ('a', 'b',)", "metrics.`a``b` > 1", `tags."x""y" = 'z'`, "params.p = 'a\\'b'",
		"metrics.r2 > 1e999", "metrics.r2 > -.5e-3", "a = 'x' AND", "(", "'", "`", "NOT IN",
	} {
		f.Add(s)
	}
	tdb := openSQLite(f, "")
	f.Fuzz(func(t *testing.T, filter string) {
		parsed, err := search.ParseRunFilter(filter)
		if err != nil {
			var e *tracking.Error
			if !errors.As(err, &e) || e.Code != tracking.ErrInvalidParameterValue {
				t.Fatalf("ParseRunFilter(%q) error %v is not INVALID_PARAMETER_VALUE", filter, err)
			}
			return
		}
		for _, d := range []search.Dialect{search.SQLite, search.PostgreSQL} {
			s, err := search.CompileRuns(parsed, nil, d, 1)
			if err != nil {
				t.Fatalf("accepted filter %q does not compile for %v: %v", filter, d, err)
			}
			if d == search.SQLite && strings.Count(s.Where, "?") != len(s.Args) {
				t.Fatalf("filter %q: %d placeholders for %d args in %s", filter, strings.Count(s.Where, "?"), len(s.Args), s.Where)
			}
		}
		s, _ := search.CompileRuns(parsed, nil, search.SQLite, 1)
		rows, err := tdb.db.Query("SELECT runs.run_uuid FROM runs WHERE "+s.Where+" ORDER BY "+s.OrderBy, append(s.Args, s.OrderArgs...)...)
		if err != nil {
			t.Fatalf("filter %q: SQLite refused %s: %v", filter, s.Where, err)
		}
		rows.Close()
	})
}

// FuzzParseRunOrderBy checks the same for order_by clauses.
func FuzzParseRunOrderBy(f *testing.F) {
	for _, s := range []string{"metrics.r2 DESC", "params.`a b` asc", "run_name", "created", "metrics.r2 SIDEWAYS", "", "tags.x DESC DESC"} {
		f.Add(s)
	}
	tdb := openSQLite(f, "")
	f.Fuzz(func(t *testing.T, clause string) {
		order, err := search.ParseRunOrderBy([]string{clause})
		if err != nil {
			var e *tracking.Error
			if !errors.As(err, &e) || e.Code != tracking.ErrInvalidParameterValue {
				t.Fatalf("ParseRunOrderBy(%q) error %v is not INVALID_PARAMETER_VALUE", clause, err)
			}
			return
		}
		s, err := search.CompileRuns(search.Filter{Entity: search.Runs}, order, search.SQLite, 1)
		if err != nil {
			t.Fatalf("accepted order %q does not compile: %v", clause, err)
		}
		rows, err := tdb.db.Query("SELECT runs.run_uuid FROM runs WHERE "+s.Where+" ORDER BY "+s.OrderBy, s.OrderArgs...)
		if err != nil {
			t.Fatalf("order %q: SQLite refused %s: %v", clause, s.OrderBy, err)
		}
		rows.Close()
	})
}
