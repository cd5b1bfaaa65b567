package search_test

import (
	"context"
	"database/sql"
	"errors"
	"math"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/search"
	"github.com/mlops-lab/housing/tracking/sqlstore"
)

// mlflowSQLite returns a database/sql handle on a new SQLite database with
// MLflow's schema, created by the SQL store.
func mlflowSQLite(tb testing.TB) *sql.DB {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "mlflow.db")
	st, err := sqlstore.Open(context.Background(), "sqlite:///"+path, sqlstore.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	st.Close()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		tb.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	tb.Cleanup(func() { db.Close() })
	return db
}

// registryTarget is one of the non-run searches: its parser, compiler and table.
type registryTarget struct {
	parse   func(string) (search.Filter, error)
	order   func([]string) ([]search.OrderBy, error)
	compile func(search.Filter, []search.OrderBy, search.Dialect, int) (search.SQL, error)
	table   string
}

var (
	experimentTarget = registryTarget{search.ParseExperimentFilter, search.ParseExperimentOrderBy, search.CompileExperiments, "experiments"}
	modelTarget      = registryTarget{search.ParseRegisteredModelFilter, search.ParseRegisteredModelOrderBy, search.CompileRegisteredModels, "registered_models"}
	versionTarget    = registryTarget{search.ParseModelVersionFilter, search.ParseModelVersionOrderBy, search.CompileModelVersions, "model_versions"}
)

// fuzzRegistryFilter checks that the parser never panics, that every rejection
// is an INVALID_PARAMETER_VALUE *tracking.Error, and that every accepted filter
// compiles for both dialects with as many placeholders as arguments and runs on
// a real SQLite database with MLflow's schema.
func fuzzRegistryFilter(f *testing.F, tg registryTarget, seeds []string) {
	for _, s := range append(seeds, "", "(", "'", "`", "name = ", "name IN ()", "a = 'x' AND", "\x00", "name LIKE '%\\'",
		"name = 'a' AND name != 'b'", "tags.`k` = 'v'", "name ILIKE '%x%'", "tags.\"a\"\"b\" = 'c'") {
		f.Add(s)
	}
	db := mlflowSQLite(f)
	f.Fuzz(func(t *testing.T, filter string) {
		parsed, err := tg.parse(filter)
		if err != nil {
			var e *tracking.Error
			if !errors.As(err, &e) || e.Code != tracking.ErrInvalidParameterValue {
				t.Fatalf("parse(%q) error %v is not INVALID_PARAMETER_VALUE", filter, err)
			}
			return
		}
		for _, d := range []search.Dialect{search.SQLite, search.PostgreSQL} {
			if _, err := tg.compile(parsed, nil, d, 1); err != nil {
				t.Fatalf("accepted filter %q does not compile for %v: %v", filter, d, err)
			}
		}
		s, _ := tg.compile(parsed, nil, search.SQLite, 1)
		if n := strings.Count(s.Where, "?"); n != len(s.Args) {
			t.Fatalf("filter %q: %d placeholders for %d args in %s", filter, n, len(s.Args), s.Where)
		}
		rows, err := db.Query("SELECT 1 FROM "+tg.table+" WHERE "+s.Where+" ORDER BY "+s.OrderBy, append(s.Args, s.OrderArgs...)...)
		if err != nil {
			t.Fatalf("filter %q: SQLite refused %s: %v", filter, s.Where, err)
		}
		rows.Close()
	})
}

func FuzzParseExperimentFilter(f *testing.F) {
	fuzzRegistryFilter(f, experimentTarget, []string{
		"name = 'california-housing'", "name LIKE 'cal%'", "tags.team = 'ml'", "creation_time > 0",
		"last_update_time <= 1700000000000", "attributes.name != 'x'", "name IN ('a','b')",
	})
}

func FuzzParseRegisteredModelFilter(f *testing.F) {
	fuzzRegistryFilter(f, modelTarget, []string{
		"name = 'housing'", "name LIKE 'h%'", "name ILIKE 'H%'", "tags.stage = 'prod'",
	})
}

func FuzzParseModelVersionFilter(f *testing.F) {
	fuzzRegistryFilter(f, versionTarget, []string{
		"name = 'housing'", "run_id = 'abc'", "run_id IN ('a', 'b')", "source_path = 'x'",
		"version_number > 1", "tags.k = 'v'", "name LIKE 'h%' AND version_number >= 2",
	})
}

// FuzzParseRegistryOrderBy checks order_by clauses of the three searches the same way.
func FuzzParseRegistryOrderBy(f *testing.F) {
	for _, s := range []string{"name ASC", "creation_time DESC", "last_updated_timestamp", "version_number DESC",
		"name SIDEWAYS", "", "name DESC DESC", "`name`", "tags.x"} {
		f.Add(s)
	}
	db := mlflowSQLite(f)
	f.Fuzz(func(t *testing.T, clause string) {
		for _, tg := range []registryTarget{experimentTarget, modelTarget, versionTarget} {
			order, err := tg.order([]string{clause})
			if err != nil {
				var e *tracking.Error
				if !errors.As(err, &e) || e.Code != tracking.ErrInvalidParameterValue {
					t.Fatalf("%s order_by %q: error %v is not INVALID_PARAMETER_VALUE", tg.table, clause, err)
				}
				continue
			}
			all, err := tg.parse("")
			if err != nil {
				t.Fatalf("%s: the empty filter is refused: %v", tg.table, err)
			}
			s, err := tg.compile(all, order, search.SQLite, 1)
			if err != nil {
				t.Fatalf("%s: accepted order %q does not compile: %v", tg.table, clause, err)
			}
			rows, err := db.Query("SELECT 1 FROM "+tg.table+" WHERE "+s.Where+" ORDER BY "+s.OrderBy, append(s.Args, s.OrderArgs...)...)
			if err != nil {
				t.Fatalf("%s order %q: SQLite refused %s: %v", tg.table, clause, s.OrderBy, err)
			}
			rows.Close()
		}
	})
}

// FuzzDecodePageToken checks that any token decodes to a positive offset (0 only
// for the empty token) or INVALID_PARAMETER_VALUE, that offsets round-trip,
// and that DecodeRunPageToken reads the same offset and error, with a
// position (the keyset of our runs tokens) that round-trips too.
func FuzzDecodePageToken(f *testing.F) {
	keyset := search.EncodeRunPageToken(search.RunPosition{Offset: 100, Search: "fp",
		After: []any{int64(0), 1.5, nil, "é", math.Inf(-1), "a\"b", int64(-7)}})
	for _, s := range []string{"", search.EncodePageToken(0), search.EncodePageToken(100), "e30", "!!", "%%%", "eyJvZmZzZXQiOiAtMX0=", keyset} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, token string) {
		off, err := search.DecodePageToken(token)
		pos, posErr := search.DecodeRunPageToken(token)
		if (err == nil) != (posErr == nil) || err != nil && err.Error() != posErr.Error() || pos.Offset != off {
			t.Fatalf("DecodeRunPageToken(%q) = %+v, %v; DecodePageToken %d, %v", token, pos, posErr, off, err)
		}
		if err != nil {
			var e *tracking.Error
			if !errors.As(err, &e) || e.Code != tracking.ErrInvalidParameterValue {
				t.Fatalf("DecodePageToken(%q) error %v is not INVALID_PARAMETER_VALUE", token, err)
			}
			return
		}
		if off < 0 {
			t.Fatalf("DecodePageToken(%q) = %d, a negative offset", token, off)
		}
		if off == 0 {
			if token != "" {
				t.Fatalf("DecodePageToken(%q) = 0: only the empty token is the first page", token)
			}
			return
		}
		if back, err := search.DecodePageToken(search.EncodePageToken(off)); err != nil || back != off {
			t.Fatalf("offset %d does not round-trip: %d, %v", off, back, err)
		}
		if len(pos.After) > 0 {
			back, err := search.DecodeRunPageToken(search.EncodeRunPageToken(pos))
			if err != nil || !reflect.DeepEqual(back, pos) && !hasNaN(pos.After) {
				t.Fatalf("position %+v does not round-trip: %+v, %v", pos, back, err)
			}
		}
	})
}

// hasNaN reports whether a position holds a NaN, which equals nothing.
func hasNaN(vals []any) bool {
	for _, v := range vals {
		if f, ok := v.(float64); ok && math.IsNaN(f) {
			return true
		}
	}
	return false
}
