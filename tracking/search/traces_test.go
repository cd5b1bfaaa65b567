package search_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/search"
)

func TestParseTraceFilter(t *testing.T) {
	cmp := func(kt search.KeyType, key, op string, v search.Value) search.Comparison {
		return search.Comparison{Type: kt, Key: key, Comparator: op, Value: v}
	}
	attr, tag, meta := search.Attribute, search.Tag, search.RequestMetadata
	tests := []struct {
		filter string
		want   []search.Comparison
	}{
		{"", nil},
		{"status = 'OK'", []search.Comparison{cmp(attr, "status", "=", str("OK"))}},
		{`trace.status != "ERROR"`, []search.Comparison{cmp(attr, "status", "!=", str("ERROR"))}},
		{"attributes.status IN ('OK', 'ERROR')", []search.Comparison{cmp(attr, "status", "IN", list("OK", "ERROR"))}},
		{"request_id NOT IN ('a')", []search.Comparison{cmp(attr, "request_id", "NOT IN", list("a"))}},
		{"timestamp_ms > 10", []search.Comparison{cmp(attr, "timestamp_ms", ">", integer(10))}},
		{"attribute.timestamp >= 10.5", []search.Comparison{cmp(attr, "timestamp_ms", ">=", num(10.5))}},
		{"execution_time <= '42'", []search.Comparison{cmp(attr, "execution_time_ms", "<=", integer(42))}},
		{"name = 'predict'", []search.Comparison{cmp(tag, "mlflow.traceName", "=", str("predict"))}},
		{"run_id = 'abc'", []search.Comparison{cmp(meta, "mlflow.sourceRun", "=", str("abc"))}},
		{"tags.env = 'prod' and metadata.`mlflow.user` != 'bob'", []search.Comparison{
			cmp(tag, "env", "=", str("prod")), cmp(meta, "mlflow.user", "!=", str("bob"))}},
		{"tag.`mlflow.traceName` = 'x' AND request_metadata.k = 'v'", []search.Comparison{
			cmp(tag, "mlflow.traceName", "=", str("x")), cmp(meta, "k", "=", str("v"))}},
		// Only attributes are aliased: a tag named name is that tag (MLflow reads
		// mlflow.traceName for tags.name, and a tag timestamp_ms for tags.timestamp).
		{"tags.name = 'x' and tags.timestamp = '1'", []search.Comparison{
			cmp(tag, "name", "=", str("x")), cmp(tag, "timestamp", "=", str("1"))}},
		// The bare word timestamp, which MLflow 2.17.2's parser cannot read in a filter.
		{"timestamp > 1700000000000", []search.Comparison{cmp(attr, "timestamp_ms", ">", integer(1700000000000))}},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			f, err := search.ParseTraceFilter(tt.filter)
			if err != nil {
				t.Fatal(err)
			}
			if f.Entity != search.Traces {
				t.Errorf("entity %v", f.Entity)
			}
			if got := stripRaw(f.Clauses); !reflect.DeepEqual(got, tt.want) && len(tt.want)+len(got) > 0 {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// TestParseTraceFilterErrors holds MLflow 2.17.2's messages, as its server
// answered each filter, and this package's own where MLflow has none (the last
// three: MLflow says "Invalid clause(s) in filter string: 'OR'" and hands the
// other two to the database).
func TestParseTraceFilterErrors(t *testing.T) {
	tests := []struct{ filter, msg string }{
		{"foo = 'OK'", "Invalid attribute key 'foo' specified. Valid keys are '{'name', 'timestamp', 'execution_time', 'status', 'execution_time_ms', 'request_id', 'run_id', 'timestamp_ms'}'"},
		{"STATUS = 'OK'", "Invalid attribute key 'STATUS' specified. Valid keys are '{'name', 'timestamp', 'execution_time', 'status', 'execution_time_ms', 'request_id', 'run_id', 'timestamp_ms'}'"},
		{"foo.bar = 'x'", "Invalid entity type 'foo'. Valid values are {'trace', 'attributes', 'tags', 'request_metadata', 'tag', 'attribute', 'metadata'}"},
		{"TAGS.t1 = 'x'", "Invalid entity type 'TAGS'. Valid values are {'trace', 'attributes', 'tags', 'request_metadata', 'tag', 'attribute', 'metadata'}"},
		{"tag.t1 LIKE 'OK'", "Invalid comparator 'LIKE' not one of '{'=', '!='}"},
		{"tags.t1 IN ('x')", "Invalid comparator 'IN' not one of '{'=', '!='}"},
		{"name IN ('x')", "Invalid comparator 'IN' not one of '{'=', '!='}"},
		{"request_metadata.m1 > 'a'", "Invalid comparator '>' not one of '{'=', '!='}'"},
		{"run_id IN ('a')", "Invalid comparator 'IN' not one of '{'=', '!='}'"},
		{"request_metadata.m1 IN ('b')", "Expected a quoted string value for request_metadata (e.g. 'my-value'). Got value ('b')"},
		{"request_metadata.m1 = 1", "Expected a quoted string value for request_metadata (e.g. 'my-value'). Got value 1"},
		{"tags.t1 = 1", "Expected a quoted string value for tag (e.g. 'my-value'). Got value 1"},
		{"status LIKE 'OK'", "Invalid comparator 'LIKE' not one of '{'IN', '=', '!=', 'NOT IN'}'"},
		{"status > 'OK'", "Invalid comparator '>' not one of '{'IN', '=', '!=', 'NOT IN'}'"},
		{"request_id LIKE 'x'", "Invalid comparator 'LIKE' not one of '{'IN', '=', '!=', 'NOT IN'}'"},
		{"timestamp_ms LIKE 5", "Invalid comparator 'LIKE' not one of '{'IN', '=', '!=', 'NOT IN'}"},
		{"status = OK", "Parameter value is either not quoted or unidentified quote types used for string value OK. Use either single or double quotes."},
		{"status = 5", "Only the '{'timestamp', 'execution_time_ms', 'execution_time', 'timestamp_ms'}' attributes support comparison with numeric values."},
		{"name = 1", "Only the '{'timestamp', 'execution_time_ms', 'execution_time', 'timestamp_ms'}' attributes support comparison with numeric values."},
		{"execution_time_ms IN (1)", "Only attributes in {'run_id', 'name', 'request_id', 'status'} supports comparison with a list of quoted string values."},
		{"status IN ()", "While parsing a list in the query, expected a non-empty list of string values, but got empty list"},
		{"status IN ('a', 5)", "While parsing a list in the query, expected string value, punctuation, or whitespace, but got different type in list: ('a', 5)"},
		{"status = 'OK' OR status = 'x'", "Invalid clause(s) in filter string: 'OR status = 'x''"},
		{"timestamp_ms > 'soon'", "Expected numeric value type for numeric attribute: timestamp_ms. Found 'soon'"},
		{"status = ('OK')", "Invalid comparator '=' for a list of values ('OK'). Use IN or NOT IN."},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			_, err := search.ParseTraceFilter(tt.filter)
			wantInvalid(t, err, tt.msg)
		})
	}
}

func TestParseTraceOrderBy(t *testing.T) {
	got, err := search.ParseTraceOrderBy([]string{"timestamp ASC", "name", "tags.env DESC", "run_id", "`status`", "experiment_id desc"})
	if err != nil {
		t.Fatal(err)
	}
	want := []search.OrderBy{
		{Type: search.Attribute, Key: "timestamp_ms", Ascending: true},
		{Type: search.Tag, Key: "mlflow.traceName", Ascending: true},
		{Type: search.Tag, Key: "env"},
		{Type: search.RequestMetadata, Key: "mlflow.sourceRun", Ascending: true},
		{Type: search.Attribute, Key: "status", Ascending: true},
		{Type: search.Attribute, Key: "experiment_id"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	for _, tt := range []struct {
		clauses []string
		msg     string
	}{
		{[]string{"foo"}, "Invalid attribute key 'foo' specified. Valid keys are '{'name', 'timestamp', 'experiment_id', 'execution_time', 'status', 'execution_time_ms', 'request_id', 'run_id', 'timestamp_ms'}'"},
		{[]string{"foo.bar"}, "Invalid entity type 'foo'. Valid values are {'trace', 'attributes', 'tags', 'request_metadata', 'tag', 'attribute', 'metadata'}"},
		{[]string{"timestamp sideways"}, "Invalid ordering key in order_by clause 'timestamp sideways'."},
		{[]string{"timestamp_ms DESC extra"}, "Invalid order_by clause 'timestamp_ms DESC extra'. Could not be parsed."},
		{[]string{"timestamp", "timestamp_ms"}, "`order_by` contains duplicate fields: ['timestamp', 'timestamp_ms']"},
		{[]string{"status", "status DESC"}, "`order_by` contains duplicate fields: ['status', 'status DESC']"},
	} {
		_, err := search.ParseTraceOrderBy(tt.clauses)
		wantInvalid(t, err, tt.msg)
	}
}

func TestCompileTraces(t *testing.T) {
	f, err := search.ParseTraceFilter("status = 'OK' and tags.env = 'prod' and timestamp_ms > 5")
	if err != nil {
		t.Fatal(err)
	}
	order, err := search.ParseTraceOrderBy([]string{"name DESC"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := search.CompileTraces(f, order, search.PostgreSQL, 3)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(s.Args, []any{"OK", "env", "prod", int64(5)}) || !reflect.DeepEqual(s.OrderArgs, []any{"mlflow.traceName"}) {
		t.Errorf("args %v, order args %v", s.Args, s.OrderArgs)
	}
	for _, want := range []string{"trace_info.status = $3", "tt.key = $4", "tt.value = $5", "trace_info.timestamp_ms > $6"} {
		if !strings.Contains(s.Where, want) {
			t.Errorf("where %q lacks %q", s.Where, want)
		}
	}
	if !strings.HasSuffix(s.OrderBy, "tt.key = $7) DESC NULLS LAST, trace_info.timestamp_ms DESC, trace_info.request_id ASC") || s.NextArg != 8 {
		t.Errorf("order by %q, next arg %d", s.OrderBy, s.NextArg)
	}
	// An ordering by timestamp_ms replaces that tie-break.
	order, _ = search.ParseTraceOrderBy([]string{"timestamp ASC"})
	s, err = search.CompileTraces(search.Filter{Entity: search.Traces}, order, search.SQLite, 1)
	if err != nil {
		t.Fatal(err)
	}
	if s.Where != "1 = 1" || s.OrderBy != "trace_info.timestamp_ms ASC NULLS LAST, trace_info.request_id ASC" {
		t.Errorf("where %q, order by %q", s.Where, s.OrderBy)
	}
	if _, err := search.CompileTraces(search.Filter{Entity: search.Runs}, nil, search.SQLite, 1); err == nil {
		t.Error("compiled a runs filter as a traces one")
	}
}

// FuzzParseTraceFilter checks that the trace grammar never panics, that every
// rejection is an INVALID_PARAMETER_VALUE *tracking.Error, and that every
// accepted filter compiles for both dialects and runs on SQLite.
func FuzzParseTraceFilter(f *testing.F) {
	for _, s := range []string{
		"status = 'OK'", "status IN ('OK', 'ERROR')", "timestamp > 5", "timestamp_ms >= '12'", "execution_time < 1.5",
		"name = 'x' and run_id != 'r'", "tags.`a.b` = 'v'", "metadata.k = 'v'", "request_id NOT IN ('a')",
		"tag.t LIKE 'x'", "status = 5", "foo.bar = 'x'", "timestamp_ms > 'soon'", "status IN ()", "a = 'x' AND", "(",
	} {
		f.Add(s)
	}
	tdb := openSQLite(f, "")
	f.Fuzz(func(t *testing.T, filter string) {
		parsed, err := search.ParseTraceFilter(filter)
		if err != nil {
			var e *tracking.Error
			if !errors.As(err, &e) || e.Code != tracking.ErrInvalidParameterValue {
				t.Fatalf("ParseTraceFilter(%q) error %v is not INVALID_PARAMETER_VALUE", filter, err)
			}
			return
		}
		for _, d := range []search.Dialect{search.SQLite, search.PostgreSQL} {
			if _, err := search.CompileTraces(parsed, nil, d, 1); err != nil {
				t.Fatalf("accepted filter %q does not compile for %v: %v", filter, d, err)
			}
		}
		s, _ := search.CompileTraces(parsed, nil, search.SQLite, 1)
		rows, err := tdb.db.Query("SELECT trace_info.request_id FROM trace_info WHERE "+s.Where+" ORDER BY "+s.OrderBy, append(s.Args, s.OrderArgs...)...)
		if err != nil {
			t.Fatalf("filter %q: SQLite refused %s: %v", filter, s.Where, err)
		}
		rows.Close()
	})
}

// FuzzParseTraceOrderBy checks the same for trace order_by clauses.
func FuzzParseTraceOrderBy(f *testing.F) {
	for _, s := range []string{"timestamp ASC", "timestamp_ms desc", "name", "tags.`a b` DESC", "request_metadata.k", "run_id", "status SIDEWAYS", ""} {
		f.Add(s)
	}
	tdb := openSQLite(f, "")
	f.Fuzz(func(t *testing.T, clause string) {
		order, err := search.ParseTraceOrderBy([]string{clause})
		if err != nil {
			var e *tracking.Error
			if !errors.As(err, &e) || e.Code != tracking.ErrInvalidParameterValue {
				t.Fatalf("ParseTraceOrderBy(%q) error %v is not INVALID_PARAMETER_VALUE", clause, err)
			}
			return
		}
		s, err := search.CompileTraces(search.Filter{Entity: search.Traces}, order, search.SQLite, 1)
		if err != nil {
			t.Fatalf("accepted order %q does not compile: %v", clause, err)
		}
		rows, err := tdb.db.Query("SELECT trace_info.request_id FROM trace_info WHERE "+s.Where+" ORDER BY "+s.OrderBy, s.OrderArgs...)
		if err != nil {
			t.Fatalf("order %q: SQLite refused %s: %v", clause, s.OrderBy, err)
		}
		rows.Close()
	})
}
