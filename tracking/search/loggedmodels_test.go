package search_test

import (
	"strings"
	"testing"

	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/search"
)

func TestParseLoggedModelFilter(t *testing.T) {
	f, err := search.ParseLoggedModelFilter("creation_time > 5 AND metrics.`r2 test` >= 0.5 AND params.depth = '5' AND tags.k LIKE 'v%' AND name IN ('a', 'b')")
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		kt  search.KeyType
		key string
	}{{search.Attribute, "creation_timestamp_ms"}, {search.Metric, "r2 test"}, {search.Param, "depth"}, {search.Tag, "k"}, {search.Attribute, "name"}}
	if len(f.Clauses) != len(want) {
		t.Fatalf("clauses %+v", f.Clauses)
	}
	for i, w := range want {
		if c := f.Clauses[i]; c.Type != w.kt || c.Key != w.key {
			t.Errorf("clause %d: %v %q, want %v %q", i, c.Type, c.Key, w.kt, w.key)
		}
	}
	for filter, msg := range map[string]string{
		"metrics.r2 LIKE '1'":   "Invalid comparison operator for metrics.r2: 'LIKE'. Expected one of ('=', '!=', 'LIKE', 'ILIKE', 'IN', 'NOT IN').",
		"name > 'a'":            "Invalid comparison operator for name: '>'. Expected one of",
		"runs.x = 'a'":          "Invalid entity type: 'runs'.",
		"nope = 'a'":            "Invalid attribute key: 'nope'",
		"name = 'a' OR x = 'b'": "",
		"metrics.r2 > 'high'":   "Expected a numeric value for metrics.r2",
	} {
		_, err := search.ParseLoggedModelFilter(filter)
		if tracking.ErrorCodeOf(err) != tracking.ErrInvalidParameterValue || !strings.Contains(tracking.ErrorMessage(err), msg) {
			t.Errorf("%q: %v, want INVALID_PARAMETER_VALUE containing %q", filter, err, msg)
		}
	}
}

func TestLoggedModelPageToken(t *testing.T) {
	q := tracking.LoggedModelQuery{ExperimentIDs: []string{"1"}, Filter: "name = 'a'",
		OrderBy: []tracking.LoggedModelOrder{{FieldName: "name", Ascending: true}}}
	q.PageToken = search.EncodeLoggedModelPageToken(q, 7)
	if off, err := search.DecodeLoggedModelPageToken(q); err != nil || off != 7 {
		t.Fatalf("decode: %d, %v", off, err)
	}
	other := q
	other.ExperimentIDs = []string{"2"}
	if _, err := search.DecodeLoggedModelPageToken(other); !strings.Contains(tracking.ErrorMessage(err), "Experiment IDs in the page token do not match") {
		t.Errorf("token of another search: %v", err)
	}
	other = q
	other.PageToken = "!!"
	if _, err := search.DecodeLoggedModelPageToken(other); tracking.ErrorCodeOf(err) != tracking.ErrInvalidParameterValue {
		t.Errorf("bad token: %v", err)
	}
}
