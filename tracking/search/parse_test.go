package search_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/search"
)

// wantInvalid asserts err is a *tracking.Error with INVALID_PARAMETER_VALUE and message msg.
func wantInvalid(t *testing.T, err error, msg string) {
	t.Helper()
	var e *tracking.Error
	if !errors.As(err, &e) {
		t.Fatalf("error = %v (%T), want *tracking.Error %q", err, err, msg)
	}
	if e.Code != tracking.ErrInvalidParameterValue {
		t.Errorf("code = %s, want INVALID_PARAMETER_VALUE", e.Code)
	}
	if msg != "" && e.Message != msg {
		t.Errorf("message = %q\n          want %q", e.Message, msg)
	}
}

func str(s string) search.Value { return search.Value{Kind: search.StringValue, Str: s} }
func num(f float64) search.Value {
	return search.Value{Kind: search.NumberValue, Num: f}
}
func integer(n int64) search.Value {
	return search.Value{Kind: search.NumberValue, Num: float64(n), Int: n, IsInt: true}
}
func list(s ...string) search.Value { return search.Value{Kind: search.ListValue, List: s} }

// stripRaw drops Value.Raw so that expectations need not spell the source text.
func stripRaw(cs []search.Comparison) []search.Comparison {
	out := make([]search.Comparison, len(cs))
	for i, c := range cs {
		c.Value.Raw = ""
		out[i] = c
	}
	return out
}

func TestParseRunFilter(t *testing.T) {
	cmp := func(kt search.KeyType, key, op string, v search.Value) search.Comparison {
		return search.Comparison{Type: kt, Key: key, Comparator: op, Value: v}
	}
	tests := []struct {
		filter string
		want   []search.Comparison
	}{
		{"", nil},
		{"   ", nil},
		{"metrics.r2 > 0.5", []search.Comparison{cmp(search.Metric, "r2", ">", num(0.5))}},
		{"metric.r2>=1", []search.Comparison{cmp(search.Metric, "r2", ">=", integer(1))}},
		{"metrics.loss < -1.5e2", []search.Comparison{cmp(search.Metric, "loss", "<", num(-150))}},
		{"metrics.loss <= .5", []search.Comparison{cmp(search.Metric, "loss", "<=", num(0.5))}},
		{"metrics.loss = 2", []search.Comparison{cmp(search.Metric, "loss", "=", integer(2))}},
		{"metrics.loss != 2", []search.Comparison{cmp(search.Metric, "loss", "!=", integer(2))}},
		{`metrics."my metric" > 0`, []search.Comparison{cmp(search.Metric, "my metric", ">", integer(0))}},
		{"metrics.`my metric` > 0", []search.Comparison{cmp(search.Metric, "my metric", ">", integer(0))}},
		{"`metrics`.r2 > 0", []search.Comparison{cmp(search.Metric, "r2", ">", integer(0))}},
		{"metrics.a.b > 0", []search.Comparison{cmp(search.Metric, "a.b", ">", integer(0))}},
		{"metrics.2nd > 0", []search.Comparison{cmp(search.Metric, "2nd", ">", integer(0))}},
		{"params.alpha = '0.5'", []search.Comparison{cmp(search.Param, "alpha", "=", str("0.5"))}},
		{`param.alpha != "0.5"`, []search.Comparison{cmp(search.Param, "alpha", "!=", str("0.5"))}},
		{"parameters.model LIKE 'lin%'", []search.Comparison{cmp(search.Param, "model", "LIKE", str("lin%"))}},
		{"parameter.model ilike '%REG%'", []search.Comparison{cmp(search.Param, "model", "ILIKE", str("%REG%"))}},
		{"params.`a b` = 'x'", []search.Comparison{cmp(search.Param, "a b", "=", str("x"))}},
		{"params.q = 'it''s'", []search.Comparison{cmp(search.Param, "q", "=", str("it's"))}},
		{`params.q = 'it\'s'`, []search.Comparison{cmp(search.Param, "q", "=", str("it's"))}},
		{`params.q LIKE '50\%'`, []search.Comparison{cmp(search.Param, "q", "LIKE", str(`50\%`))}},
		{"tags.team = 'oracle'", []search.Comparison{cmp(search.Tag, "team", "=", str("oracle"))}},
		{"tag.`mlflow.runName` Like 'rf-%'", []search.Comparison{cmp(search.Tag, "mlflow.runName", "LIKE", str("rf-%"))}},
		{"tags.mlflow.source.type = 'LOCAL'", []search.Comparison{cmp(search.Tag, "mlflow.source.type", "=", str("LOCAL"))}},
		{"attributes.status = 'RUNNING'", []search.Comparison{cmp(search.Attribute, "status", "=", str("RUNNING"))}},
		{"attribute.user_id != 'x'", []search.Comparison{cmp(search.Attribute, "user_id", "!=", str("x"))}},
		{"attr.artifact_uri LIKE 's3://%'", []search.Comparison{cmp(search.Attribute, "artifact_uri", "LIKE", str("s3://%"))}},
		{"run.run_name ILIKE 'RF%'", []search.Comparison{cmp(search.Attribute, "run_name", "ILIKE", str("RF%"))}},
		{"status = 'FINISHED'", []search.Comparison{cmp(search.Attribute, "status", "=", str("FINISHED"))}},
		{`"run name" = 'a'`, []search.Comparison{cmp(search.Attribute, "run_name", "=", str("a"))}},
		{"`Run Name` = 'a'", []search.Comparison{cmp(search.Attribute, "run_name", "=", str("a"))}},
		{"attributes.start_time >= 1795953075826", []search.Comparison{cmp(search.Attribute, "start_time", ">=", integer(1795953075826))}},
		{"created < 5", []search.Comparison{cmp(search.Attribute, "start_time", "<", integer(5))}},
		{"Created < 5", []search.Comparison{cmp(search.Attribute, "start_time", "<", integer(5))}},
		{"end_time > 0", []search.Comparison{cmp(search.Attribute, "end_time", ">", integer(0))}},
		{"run_id IN ('a1', 'b2')", []search.Comparison{cmp(search.Attribute, "run_id", "IN", list("a1", "b2"))}},
		{"attributes.run_id not in ('a1')", []search.Comparison{cmp(search.Attribute, "run_id", "NOT IN", list("a1"))}},
		{"dataset.name = 'housing'", []search.Comparison{cmp(search.Dataset, "name", "=", str("housing"))}},
		{"datasets.digest IN ('d1','d2')", []search.Comparison{cmp(search.Dataset, "digest", "IN", list("d1", "d2"))}},
		{"dataset.context NOT IN ('train')", []search.Comparison{cmp(search.Dataset, "context", "NOT IN", list("train"))}},
		// MLflow 3's IS NULL / IS NOT NULL, any case.
		{"tags.mlflow.parentRunId IS NULL", []search.Comparison{{Type: search.Tag, Key: "mlflow.parentRunId", Comparator: "IS NULL"}}},
		{"params.lr is not null and tags.a IS NULL", []search.Comparison{
			{Type: search.Param, Key: "lr", Comparator: "IS NOT NULL"}, {Type: search.Tag, Key: "a", Comparator: "IS NULL"}}},
		// A deliberate difference: MLflow's tags take no list; ours take IN and NOT IN.
		{"tags.mlflow.parentRunId IN ('p1', 'p2')", []search.Comparison{cmp(search.Tag, "mlflow.parentRunId", "IN", list("p1", "p2"))}},
		{"tags.t NOT IN ('a')", []search.Comparison{cmp(search.Tag, "t", "NOT IN", list("a"))}},
		{
			"params.alpha = '0.5' and tags.team = 'oracle' AND attributes.status = 'RUNNING'",
			[]search.Comparison{
				cmp(search.Param, "alpha", "=", str("0.5")),
				cmp(search.Tag, "team", "=", str("oracle")),
				cmp(search.Attribute, "status", "=", str("RUNNING")),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			f, err := search.ParseRunFilter(tt.filter)
			if err != nil {
				t.Fatalf("ParseRunFilter(%q): %v", tt.filter, err)
			}
			if f.Entity != search.Runs {
				t.Errorf("entity = %v", f.Entity)
			}
			if got := stripRaw(f.Clauses); !reflect.DeepEqual(got, tt.want) && !(len(got) == 0 && len(tt.want) == 0) {
				t.Errorf("clauses\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseRunFilterErrors(t *testing.T) {
	tests := []struct{ filter, msg string }{
		// The four error captures of README.md, verbatim.
		{"metrics.r2 >> 0.5", "Invalid comparator '>>' not one of '{'>', '=', '>=', '!=', '<=', '<'}"},
		{"foo.r2 > 0.5", "Invalid entity type 'foo'. Valid values are ['metric', 'parameter', 'tag', 'attribute', 'dataset']"},
		{"params.alpha = 0.5", "Expected a quoted string value for parameter (e.g. 'my-value'). Got value 0.5"},
		{"metrics.r2 > 'x'", "Expected numeric value type for metric. Found 'x'"},
		// The rest of MLflow's message classes.
		{"tags.t = 1", "Expected a quoted string value for tag (e.g. 'my-value'). Got value 1"},
		{"params.alpha = abc", "Parameter value is either not quoted or unidentified quote types used for string value abc. Use either single or double quotes."},
		{"metrics.r2 > abc", "Expected numeric value type for metric. Found abc"},
		{"metrics.r2 LIKE 1", "Invalid comparator 'LIKE' not one of '{'>', '=', '>=', '!=', '<=', '<'}"},
		{"params.p > 'a'", "Invalid comparator '>' not one of '{'!=', '=', 'LIKE', 'ILIKE'}'"},
		{"tags.t = ('a')", "Invalid comparator '=' for a list of values ('a'). Use IN or NOT IN."},
		{"params.p IN ('a')", "Expected a quoted string value for parameter (e.g. 'my-value'). Got value ('a')"},
		{"metrics.acc IS NULL", "IS NULL / IS NOT NULL is only supported for tags and params, not for 'metric' 'acc'"},
		{"attribute.status IS NULL", "IS NULL / IS NOT NULL is only supported for tags and params, not for 'attribute' 'status'"},
		{"tags.t IS 'a'", "Invalid clause(s) in filter string: 'tags.t IS 'a''"},
		{"tags.t IS NULL 'a'", "Invalid clause(s) in filter string: ''a''"},
		{"tags.t < 'a'", "Invalid comparator '<' not one of '{'!=', '=', 'LIKE', 'ILIKE'}"},
		{"attributes.status > 'a'", "Invalid comparator '>' not one of '{'!=', '=', 'LIKE', 'ILIKE', 'IN', 'NOT IN'}'"},
		{"attributes.start_time LIKE 5", "Invalid comparator 'LIKE' not one of '{'>', '=', '>=', '!=', '<=', '<'}"},
		{"attributes.start_time > 'x'", "Expected numeric value type for numeric attribute: start_time. Found 'x'"},
		{"created > 'x'", "Expected numeric value type for numeric attribute: created. Found 'x'"},
		{"attributes.status = 1", "Expected a quoted string value for attributes. Got value 1"},
		{"attributes.status IN ('a')", "Only the 'run_id' attribute supports comparison with a list of quoted string values."},
		{"attributes.foo = 'a'", "Invalid attribute key 'foo' specified. Valid keys are '{'artifact_uri', 'end_time', 'run_id', 'run_name', 'start_time', 'status', 'user_id', 'created', 'Created', 'run name', 'Run name', 'Run Name'}'"},
		{"lifecycle_stage = 'active'", "Invalid attribute key 'lifecycle_stage' specified. Valid keys are '{'artifact_uri', 'end_time', 'run_id', 'run_name', 'start_time', 'status', 'user_id', 'created', 'Created', 'run name', 'Run name', 'Run Name'}'"},
		{"dataset.foo = 'a'", "Invalid dataset key 'foo' specified. Valid keys are '{'name', 'digest', 'context'}'"},
		{"dataset.name = 1", "Expected a quoted string value for dataset attributes. Got value 1"},
		{"dataset.name > 'a'", "Invalid comparator '>' not one of '{'!=', '=', 'LIKE', 'ILIKE', 'IN', 'NOT IN'}"},
		{`"metrics".r2 > 1`, `Invalid entity type '"metrics"'. Valid values are ['metric', 'parameter', 'tag', 'attribute', 'dataset']`},
		{"Metrics.r2 > 1", "Invalid entity type 'Metrics'. Valid values are ['metric', 'parameter', 'tag', 'attribute', 'dataset']"},
		{"run_id IN ()", "While parsing a list in the query, expected a non-empty list of string values, but got empty list"},
		{"run_id IN ('a' 'b')", "While parsing a list in the query, expected a non-empty list of string values, but got ill-formed list."},
		{"run_id IN ('a',)", "While parsing a list in the query, expected a non-empty list of string values, but got ill-formed list."},
		{"run_id IN ('a', 1)", "While parsing a list in the query, expected string value, punctuation, or whitespace, but got different type in list: ('a', 1)"},
		{`run_id IN ("a")`, `While parsing a list in the query, expected string value, punctuation, or whitespace, but got different type in list: ("a")`},
		{"run_id = ('a')", "Invalid comparator '=' for a list of values ('a'). Use IN or NOT IN."},
		// Grammar errors: MLflow allows only AND-joined comparisons.
		{"metrics.r2 > 0.5 OR metrics.r2 < 0.1", "Invalid clause(s) in filter string: 'OR metrics.r2 < 0.1'"},
		{"metrics.r2 > 0.5 and", "Invalid clause(s) in filter string: 'and'"},
		{"(metrics.r2 > 0.5)", "Invalid clause(s) in filter string: '(metrics.r2 > 0.5)'"},
		{"metrics.r2 >", "Invalid clause(s) in filter string: 'metrics.r2 >'"},
		{"metrics.r2", "Invalid clause(s) in filter string: 'metrics.r2'"},
		{"metrics.r2 > 1 metrics.r2 < 2", "Invalid clause(s) in filter string: 'metrics.r2 < 2'"},
		{"run_id IN 'a'", "Invalid clause(s) in filter string: 'run_id IN 'a''"},
		{"metrics. r2 > 1", "Invalid clause(s) in filter string: 'metrics. r2 > 1'"},
		{"NOT metrics.r2 > 1", "Invalid clause(s) in filter string: 'NOT metrics.r2 > 1'"},
		{"params.p = 'open", "Error on parsing filter 'params.p = 'open': unterminated '-quoted text at position 11"},
		{"metrics.f1-score > 1", "Error on parsing filter 'metrics.f1-score > 1': unexpected character '-' at position 10"},
		{"metrics.r2 > 1; drop table runs", "Error on parsing filter 'metrics.r2 > 1; drop table runs': unexpected character ';' at position 14"},
		{"metrics.r2 > 1x", "Error on parsing filter 'metrics.r2 > 1x': malformed number \"1x\" at position 13"},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			f, err := search.ParseRunFilter(tt.filter)
			if err == nil {
				t.Fatalf("ParseRunFilter(%q) = %+v, want error %q", tt.filter, f, tt.msg)
			}
			wantInvalid(t, err, tt.msg)
		})
	}
}

func TestParseExperimentFilter(t *testing.T) {
	f, err := search.ParseExperimentFilter("name LIKE 'curl%' and attribute.creation_time > 100 AND tags.source = 'curl' and tag.k != \"v\"")
	if err != nil {
		t.Fatal(err)
	}
	want := []search.Comparison{
		{Type: search.Attribute, Key: "name", Comparator: "LIKE", Value: str("curl%")},
		{Type: search.Attribute, Key: "creation_time", Comparator: ">", Value: integer(100)},
		{Type: search.Tag, Key: "source", Comparator: "=", Value: str("curl")},
		{Type: search.Tag, Key: "k", Comparator: "!=", Value: str("v")},
	}
	if got := stripRaw(f.Clauses); !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	errs := []struct{ filter, msg string }{
		{"metrics.x > 1", "Invalid entity type 'metrics'. Valid entity types are ('attribute', 'tag', 'tags')"},
		{"attributes.name = 'x'", "Invalid entity type 'attributes'. Valid entity types are ('attribute', 'tag', 'tags')"},
		{"artifact_location = 'x'", "Invalid attribute key 'artifact_location' specified. Valid keys are '{'name', 'creation_time', 'last_update_time'}'"},
		{"name > 'x'", "Invalid comparator '>' not one of '{'!=', '=', 'LIKE', 'ILIKE', 'IN', 'NOT IN'}'"},
		{"name IN ('x')", "Only the 'run_id' attribute supports comparison with a list of quoted string values."},
		{"name = 1", "Expected a quoted string value for attributes. Got value 1"},
		{"creation_time = 'x'", "Expected numeric value type for numeric attribute: creation_time. Found 'x'"},
		{"last_update_time LIKE 1", "Invalid comparator for numeric attribute: LIKE"},
		{"tags.k > 'v'", "Invalid comparator for tag: >"},
		{"tags.k = 1", "Expected a quoted string value for tag (e.g. 'my-value'). Got value 1"},
		{"name = 'a' OR name = 'b'", "Invalid clause(s) in filter string: 'OR name = 'b''"},
	}
	for _, tt := range errs {
		_, err := search.ParseExperimentFilter(tt.filter)
		wantInvalid(t, err, tt.msg)
	}
}

func TestParseRegisteredModelFilter(t *testing.T) {
	f, err := search.ParseRegisteredModelFilter("name ILIKE 'CURL%' and tags.task = 'regression'")
	if err != nil {
		t.Fatal(err)
	}
	want := []search.Comparison{
		{Type: search.Attribute, Key: "name", Comparator: "ILIKE", Value: str("CURL%")},
		{Type: search.Tag, Key: "task", Comparator: "=", Value: str("regression")},
	}
	if got := stripRaw(f.Clauses); !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	errs := []struct{ filter, msg string }{
		{"run_id = 'x'", "Invalid attribute key 'run_id' specified. Valid keys are '{'name'}'"},
		{"name > 'x'", "Invalid comparator for attribute: >"},
		{"name = 1", "Expected a quoted string value or a list of quoted string values for attributes. Got value 1"},
		{"name IN ('a')", "Only the 'run_id' attribute supports comparison with a list of quoted string values."},
		{"tags.k >= 'v'", "Invalid comparator for tag: >="},
		{"params.k = 'v'", "Invalid entity type 'params'. Valid entity types are ('attribute', 'tag', 'tags')"},
	}
	for _, tt := range errs {
		_, err := search.ParseRegisteredModelFilter(tt.filter)
		wantInvalid(t, err, tt.msg)
	}
}

func TestParseModelVersionFilter(t *testing.T) {
	f, err := search.ParseModelVersionFilter("name='curl-housing-model' and version_number >= 2 and run_id IN ('a','b') and source_path LIKE 'runs:/%' and tags.validated = 'true' and attribute.version_number != '3'")
	if err != nil {
		t.Fatal(err)
	}
	want := []search.Comparison{
		{Type: search.Attribute, Key: "name", Comparator: "=", Value: str("curl-housing-model")},
		{Type: search.Attribute, Key: "version_number", Comparator: ">=", Value: integer(2)},
		{Type: search.Attribute, Key: "run_id", Comparator: "IN", Value: list("a", "b")},
		{Type: search.Attribute, Key: "source_path", Comparator: "LIKE", Value: str("runs:/%")},
		{Type: search.Tag, Key: "validated", Comparator: "=", Value: str("true")},
		{Type: search.Attribute, Key: "version_number", Comparator: "!=", Value: integer(3)},
	}
	if got := stripRaw(f.Clauses); !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	errs := []struct{ filter, msg string }{
		{"current_stage = 'Production'", "Invalid attribute key 'current_stage' specified. Valid keys are '{'name', 'version_number', 'run_id', 'source_path'}'"},
		{"name = 1", "Only the '{'version_number', 'creation_timestamp', 'last_updated_timestamp'}' attributes support comparison with numeric values."},
		{"name IN ('a')", "Only the 'run_id' attribute supports comparison with a list of quoted string values."},
		{"run_id NOT IN ('a')", "Invalid comparator 'NOT IN' not one of '{'!=', '=', 'LIKE', 'ILIKE', 'IN'}'"},
		{"version_number LIKE '1'", "Invalid comparator 'LIKE' not one of '{'>', '=', '>=', '!=', '<=', '<'}"},
		{"version_number = 'one'", "Expected numeric value type for numeric attribute: version_number. Found 'one'"},
		{"tags.k IN ('v')", "Expected a quoted string value for tag (e.g. 'my-value'). Got value ('v')"},
		{"tags.k > 'v'", "Invalid comparator for tag: >"},
	}
	for _, tt := range errs {
		_, err := search.ParseModelVersionFilter(tt.filter)
		wantInvalid(t, err, tt.msg)
	}
}

func TestParseRunOrderBy(t *testing.T) {
	got, err := search.ParseRunOrderBy([]string{
		"metrics.r2 DESC", "params.alpha", "tags.`a b` asc", "attributes.start_time Desc",
		"run_name", "created ASC", `metrics."my metric"`,
	})
	want := []search.OrderBy{
		{Type: search.Metric, Key: "r2", Ascending: false},
		{Type: search.Param, Key: "alpha", Ascending: true},
		{Type: search.Tag, Key: "a b", Ascending: true},
		{Type: search.Attribute, Key: "start_time", Ascending: false},
		{Type: search.Attribute, Key: "run_name", Ascending: true},
	}
	// "created" is start_time again: a duplicate.
	wantInvalid(t, err, "`order_by` contains duplicate fields: ['metrics.r2 DESC', 'params.alpha', 'tags.`a b` asc', 'attributes.start_time Desc', 'run_name', 'created ASC', 'metrics.\"my metric\"']")
	got, err = search.ParseRunOrderBy([]string{"metrics.r2 DESC", "params.alpha", "tags.`a b` asc", "attributes.start_time Desc", "run_name"})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	errs := []struct{ clause, msg string }{
		{"metrics.r2 SIDEWAYS", "Invalid ordering key in order_by clause 'metrics.r2 SIDEWAYS'."},
		{"", "Invalid order_by clause ''. Could not be parsed."},
		{"metrics.r2 DESC extra", "Invalid order_by clause 'metrics.r2 DESC extra'. Could not be parsed."},
		{"metrics.r2 > 1", "Invalid order_by clause 'metrics.r2 > 1'. Could not be parsed."},
		{"foo.r2", "Invalid entity type 'foo'. Valid values are ['metric', 'parameter', 'tag', 'attribute', 'dataset']"},
		{"run name", "Invalid ordering key in order_by clause 'run name'."},
		{"attributes.lifecycle_stage", "Invalid attribute key 'lifecycle_stage' specified. Valid keys are '{'artifact_uri', 'end_time', 'run_id', 'run_name', 'start_time', 'status', 'user_id', 'created', 'Created'}'"},
		{"dataset.name", "Invalid identifier type 'dataset'"},
	}
	for _, tt := range errs {
		_, err := search.ParseRunOrderBy([]string{tt.clause})
		wantInvalid(t, err, tt.msg)
	}
	if _, err := search.ParseRunOrderBy([]string{"metrics.r2", "metric.r2 DESC"}); err == nil {
		t.Error("duplicate metric order accepted")
	}
}

func TestParseRegistryOrderBy(t *testing.T) {
	exp, err := search.ParseExperimentOrderBy([]string{"name ASC", "attribute.last_update_time desc", "experiment_id"})
	if err != nil {
		t.Fatal(err)
	}
	wantExp := []search.OrderBy{
		{Type: search.Attribute, Key: "name", Ascending: true},
		{Type: search.Attribute, Key: "last_update_time", Ascending: false},
		{Type: search.Attribute, Key: "experiment_id", Ascending: true},
	}
	if !reflect.DeepEqual(exp, wantExp) {
		t.Errorf("experiments: got %+v", exp)
	}
	_, err = search.ParseExperimentOrderBy([]string{"tags.k"})
	wantInvalid(t, err, "Invalid order_by entity: tag")
	_, err = search.ParseExperimentOrderBy([]string{"artifact_location"})
	wantInvalid(t, err, "Invalid attribute key 'artifact_location' specified. Valid keys are '{'name', 'experiment_id', 'creation_time', 'last_update_time'}'")

	rm, err := search.ParseRegisteredModelOrderBy([]string{"timestamp DESC", "name"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []search.OrderBy{{Type: search.Attribute, Key: "last_updated_timestamp"}, {Type: search.Attribute, Key: "name", Ascending: true}}; !reflect.DeepEqual(rm, want) {
		t.Errorf("registered models: got %+v", rm)
	}
	_, err = search.ParseRegisteredModelOrderBy([]string{"version"})
	wantInvalid(t, err, "Invalid order by key 'version' specified. Valid keys are '{'name', 'timestamp'}'")
	_, err = search.ParseRegisteredModelOrderBy([]string{"timestamp", "last_updated_timestamp DESC"})
	wantInvalid(t, err, "`order_by` contains duplicate fields: ['timestamp', 'last_updated_timestamp DESC']")

	mv, err := search.ParseModelVersionOrderBy([]string{"version_number DESC", "creation_timestamp"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []search.OrderBy{{Type: search.Attribute, Key: "version_number"}, {Type: search.Attribute, Key: "creation_timestamp", Ascending: true}}; !reflect.DeepEqual(mv, want) {
		t.Errorf("model versions: got %+v", mv)
	}
	_, err = search.ParseModelVersionOrderBy([]string{"run_id"})
	wantInvalid(t, err, "Invalid attribute key 'run_id' specified. Valid keys are '{'name', 'version_number', 'creation_timestamp', 'last_updated_timestamp'}'")
}
