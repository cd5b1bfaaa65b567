package search_test

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	"github.com/mlops-lab/housing/internal/testenv"
	"github.com/mlops-lab/housing/tracking/search"
)

// schema holds the tables the compiled SQL reads, with MLflow 2.17.2's columns
// (SCHEMA.md), and the store's indexes that SQLite segments name (INDEXED BY);
// %s marks the types that differ between the dialects.
const schema = `
CREATE TABLE experiments (experiment_id INTEGER NOT NULL PRIMARY KEY, name VARCHAR(256) NOT NULL UNIQUE,
  artifact_location VARCHAR(256), lifecycle_stage VARCHAR(32), creation_time BIGINT, last_update_time BIGINT);
CREATE TABLE experiment_tags (key VARCHAR(250) NOT NULL, value VARCHAR(5000), experiment_id INTEGER NOT NULL,
  PRIMARY KEY (key, experiment_id));
CREATE TABLE runs (run_uuid VARCHAR(32) NOT NULL PRIMARY KEY, name VARCHAR(250), source_type VARCHAR(20),
  source_name VARCHAR(500), entry_point_name VARCHAR(50), user_id VARCHAR(256), status VARCHAR(9),
  start_time BIGINT, end_time BIGINT, source_version VARCHAR(50), lifecycle_stage VARCHAR(20),
  artifact_uri VARCHAR(200), experiment_id INTEGER, deleted_time BIGINT);
CREATE TABLE latest_metrics (key VARCHAR(250) NOT NULL, value %[1]s NOT NULL, timestamp BIGINT, step BIGINT NOT NULL,
  is_nan BOOLEAN NOT NULL, run_uuid VARCHAR(32) NOT NULL, PRIMARY KEY (key, run_uuid));
CREATE TABLE params (key VARCHAR(250) NOT NULL, value VARCHAR(8000) NOT NULL, run_uuid VARCHAR(32) NOT NULL,
  PRIMARY KEY (key, run_uuid));
CREATE TABLE tags (key VARCHAR(250) NOT NULL, value VARCHAR(8000), run_uuid VARCHAR(32) NOT NULL,
  PRIMARY KEY (key, run_uuid));
CREATE INDEX housing_latest_metrics_run ON latest_metrics (run_uuid, key, is_nan, value);
CREATE INDEX housing_params_key_value ON params (key, substr(value, 1, 200), run_uuid);
CREATE INDEX housing_tags_key_value ON tags (key, substr(value, 1, 200), run_uuid);
CREATE TABLE datasets (dataset_uuid VARCHAR(36) NOT NULL, experiment_id INTEGER NOT NULL, name VARCHAR(500) NOT NULL,
  digest VARCHAR(36) NOT NULL, dataset_source_type VARCHAR(36) NOT NULL, dataset_source TEXT NOT NULL,
  dataset_schema TEXT, dataset_profile TEXT, PRIMARY KEY (experiment_id, name, digest));
CREATE TABLE inputs (input_uuid VARCHAR(36) NOT NULL, source_type VARCHAR(36) NOT NULL, source_id VARCHAR(36) NOT NULL,
  destination_type VARCHAR(36) NOT NULL, destination_id VARCHAR(36) NOT NULL,
  PRIMARY KEY (source_type, source_id, destination_type, destination_id));
CREATE TABLE input_tags (input_uuid VARCHAR(36) NOT NULL, name VARCHAR(255) NOT NULL, value VARCHAR(500) NOT NULL,
  PRIMARY KEY (input_uuid, name));
CREATE TABLE registered_models (name VARCHAR(256) NOT NULL PRIMARY KEY, creation_time BIGINT,
  last_updated_time BIGINT, description VARCHAR(5000));
CREATE TABLE registered_model_tags (key VARCHAR(250) NOT NULL, value VARCHAR(5000), name VARCHAR(256) NOT NULL,
  PRIMARY KEY (key, name));
CREATE TABLE model_versions (name VARCHAR(256) NOT NULL, version INTEGER NOT NULL, creation_time BIGINT,
  last_updated_time BIGINT, description VARCHAR(5000), user_id VARCHAR(256), current_stage VARCHAR(20),
  source VARCHAR(500), run_id VARCHAR(32), status VARCHAR(20), status_message VARCHAR(500), run_link VARCHAR(500),
  storage_location VARCHAR(500), PRIMARY KEY (name, version));
CREATE TABLE model_version_tags (key VARCHAR(250) NOT NULL, value VARCHAR(5000), name VARCHAR(256) NOT NULL,
  version INTEGER NOT NULL, PRIMARY KEY (key, name, version));
CREATE TABLE trace_info (request_id VARCHAR(50) NOT NULL PRIMARY KEY, experiment_id INTEGER NOT NULL,
  timestamp_ms BIGINT NOT NULL, execution_time_ms BIGINT, status VARCHAR(50) NOT NULL);
CREATE TABLE trace_tags (key VARCHAR(250) NOT NULL, value VARCHAR(8000), request_id VARCHAR(50) NOT NULL,
  PRIMARY KEY (key, request_id));
CREATE TABLE trace_request_metadata (key VARCHAR(250) NOT NULL, value VARCHAR(8000), request_id VARCHAR(50) NOT NULL,
  PRIMARY KEY (key, request_id));
`

// testDB is a database with the fixture and its dialect.
type testDB struct {
	db *sql.DB
	d  search.Dialect
}

// rebind turns ? placeholders into $n for PostgreSQL (fixture SQL has no ? in literals).
func (tdb testDB) rebind(q string) string {
	if tdb.d != search.PostgreSQL {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func (tdb testDB) exec(t testing.TB, q string, args ...any) {
	t.Helper()
	if _, err := tdb.db.Exec(tdb.rebind(q), args...); err != nil {
		t.Fatalf("%s %v: %v", q, args, err)
	}
}

// fixture fills the tables. Runs r1..r4 are active in experiment 1; r5 is deleted
// and r6 is in experiment 2, so the caller's own conditions must drop them.
func fixture(t testing.TB, tdb testDB) {
	floatType := "FLOAT"
	if tdb.d == search.PostgreSQL {
		floatType = "DOUBLE PRECISION"
	}
	for _, stmt := range strings.Split(fmt.Sprintf(schema, floatType), ";") {
		if strings.TrimSpace(stmt) != "" {
			tdb.exec(t, stmt)
		}
	}
	type run struct {
		id, name, status, user, artifact string
		start                            int64
		end                              any
		stage                            string
		exp                              int
	}
	for _, r := range []run{
		{"r1", "rf-baseline", "FINISHED", "alice", "s3://b/1", 1000, int64(2000), "active", 1},
		{"r2", "rf-tuned", "FINISHED", "bob", "s3://b/2", 3000, int64(4000), "active", 1},
		{"r3", "linreg", "RUNNING", "alice", "file:///tmp/3", 2000, nil, "active", 1},
		{"r4", "rf-optimized", "FAILED", "carol", "file:///tmp/4", 3000, int64(5000), "active", 1},
		{"r5", "deleted", "FINISHED", "alice", "s3://b/5", 9000, int64(9500), "deleted", 1},
		{"r6", "elsewhere", "FINISHED", "alice", "s3://b/6", 9000, int64(9500), "active", 2},
	} {
		tdb.exec(t, "INSERT INTO runs (run_uuid, name, status, user_id, artifact_uri, start_time, end_time, lifecycle_stage, experiment_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
			r.id, r.name, r.status, r.user, r.artifact, r.start, r.end, r.stage, r.exp)
		tdb.exec(t, "INSERT INTO tags (key, value, run_uuid) VALUES (?, ?, ?)", "mlflow.runName", r.name, r.id)
	}
	metric := func(run, key string, v float64, nan bool) {
		tdb.exec(t, "INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) VALUES (?, ?, 0, 0, ?, ?)", key, v, nan, run)
	}
	metric("r1", "r2", 0.6469, false)
	metric("r1", "mse", 0.46, false)
	metric("r2", "r2", 0.7737, false)
	metric("r3", "r2", 0, true) // NaN, stored as MLflow stores it
	metric("r4", "mse", 0.2, false)
	metric("r5", "r2", 0.99, false)
	metric("r6", "r2", 0.99, false)
	metric("r1", "acc", 0.5, false) // r1 and r2 tie on acc; r3 has none
	metric("r2", "acc", 0.5, false)
	metric("r4", "acc", 0.9, false)
	param := func(run, key, v string) {
		tdb.exec(t, "INSERT INTO params (key, value, run_uuid) VALUES (?, ?, ?)", key, v, run)
	}
	param("r1", "n_estimators", "50")
	param("r2", "n_estimators", "100")
	param("r4", "n_estimators", "300")
	param("r1", "model", "RandomForest")
	param("r2", "model", "randomforest")
	param("r3", "model", "Linear_Regression")
	param("r4", "model", "LinearXRegression")
	param("r1", "note", "500")
	param("r4", "note", "50%_off")
	param("r6", "model", "RandomForest")
	// Values around search.ValuePrefix: equality with a shorter literal is tested
	// on the value's prefix alone (the index), a longer one on the whole value.
	param("r1", "long", strings.Repeat("v", search.ValuePrefix-1))
	param("r4", "long", strings.Repeat("v", search.ValuePrefix))
	param("r2", "long", strings.Repeat("v", search.ValuePrefix+50))
	tag := func(run, key, v string) {
		tdb.exec(t, "INSERT INTO tags (key, value, run_uuid) VALUES (?, ?, ?)", key, v, run)
	}
	tag("r1", "team", "blue")
	tag("r2", "team", "red")
	tag("r1", "owner", "Oracle")
	tag("r2", "owner", "oracle")
	tag("r1", "pattern", "axxb")
	tag("r2", "pattern", "a*b")
	tag("r3", "pattern", "a?b[")
	dataset := func(uuid, name, digest string) {
		tdb.exec(t, "INSERT INTO datasets (dataset_uuid, experiment_id, name, digest, dataset_source_type, dataset_source) VALUES (?, 1, ?, ?, 'local', '{}')", uuid, name, digest)
	}
	dataset("ds1", "housing", "d1")
	dataset("ds2", "housing", "d2")
	dataset("ds3", "other", "d3")
	input := func(uuid, ds, run, context string) {
		tdb.exec(t, "INSERT INTO inputs (input_uuid, source_type, source_id, destination_type, destination_id) VALUES (?, 'DATASET', ?, 'RUN', ?)", uuid, ds, run)
		tdb.exec(t, "INSERT INTO input_tags (input_uuid, name, value) VALUES (?, 'mlflow.data.context', ?)", uuid, context)
	}
	input("i1", "ds1", "r1", "train")
	input("i2", "ds2", "r2", "test")
	input("i3", "ds3", "r4", "train")

	for _, e := range []struct {
		id            int
		name          string
		created, upd  any
		tagKey, tagV  string
		lifecycleSpec string
	}{
		{0, "default", int64(100), int64(100), "", "", "active"},
		{1, "california-housing", int64(200), int64(250), "team", "ml", "active"},
		{2, "curl-california-housing", int64(300), int64(300), "source", "curl", "active"},
		{3, "no-times", nil, nil, "", "", "active"},
	} {
		tdb.exec(t, "INSERT INTO experiments (experiment_id, name, lifecycle_stage, creation_time, last_update_time) VALUES (?, ?, ?, ?, ?)",
			e.id, e.name, e.lifecycleSpec, e.created, e.upd)
		if e.tagKey != "" {
			tdb.exec(t, "INSERT INTO experiment_tags (key, value, experiment_id) VALUES (?, ?, ?)", e.tagKey, e.tagV, e.id)
		}
	}
	tdb.exec(t, "INSERT INTO registered_models (name, creation_time, last_updated_time) VALUES ('housing-a', 10, 40), ('housing-b', 20, 30), ('other', 30, 20)")
	tdb.exec(t, "INSERT INTO registered_model_tags (key, value, name) VALUES ('task', 'regression', 'housing-a'), ('task', 'Regression', 'other')")
	tdb.exec(t, `INSERT INTO model_versions (name, version, creation_time, last_updated_time, current_stage, source, run_id) VALUES
		('housing-a', 1, 1, 10, 'Archived', 'runs:/r1/model', 'r1'),
		('housing-a', 2, 2, 30, 'Production', 'runs:/r2/model', 'r2'),
		('housing-a', 3, 3, 20, 'None', 's3://b/4/model', 'r4'),
		('housing-b', 1, 4, 30, 'None', 'runs:/r3/model', 'r3')`)
	tdb.exec(t, "INSERT INTO model_version_tags (key, value, name, version) VALUES ('validated', 'true', 'housing-a', 2), ('validated', 'false', 'housing-a', 3)")
	// A prompt as MLflow 3 registers it: the model and its version tagged
	// mlflow.prompt.is_prompt = 'true'. Searches leave it out unless they ask for it.
	tdb.exec(t, "INSERT INTO registered_models (name, creation_time, last_updated_time) VALUES ('greeting', 40, 50)")
	tdb.exec(t, "INSERT INTO registered_model_tags (key, value, name) VALUES ('mlflow.prompt.is_prompt', 'true', 'greeting'), ('task', 'regression', 'greeting')")
	tdb.exec(t, "INSERT INTO model_versions (name, version, creation_time, last_updated_time, current_stage, source) VALUES ('greeting', 1, 5, 50, 'None', 'prompt')")
	tdb.exec(t, "INSERT INTO model_version_tags (key, value, name, version) VALUES ('mlflow.prompt.is_prompt', 'true', 'greeting', 1)")
}

// searchRuns runs the query the package documentation shows, with the caller's own
// arguments (experiment and lifecycle) before the fragments'.
func searchRuns(t *testing.T, tdb testDB, filter string, order []string, limit, offset int) []string {
	t.Helper()
	f, err := search.ParseRunFilter(filter)
	if err != nil {
		t.Fatalf("ParseRunFilter(%q): %v", filter, err)
	}
	o, err := search.ParseRunOrderBy(order)
	if err != nil {
		t.Fatalf("ParseRunOrderBy(%q): %v", order, err)
	}
	s, err := search.CompileRuns(f, o, tdb.d, 3)
	if err != nil {
		t.Fatalf("CompileRuns: %v", err)
	}
	q := "SELECT runs.run_uuid FROM runs WHERE runs.experiment_id IN (?) AND runs.lifecycle_stage IN (?) AND " +
		s.Where + " ORDER BY " + s.OrderBy + " LIMIT ? OFFSET ?"
	if tdb.d == search.PostgreSQL {
		q = "SELECT runs.run_uuid FROM runs WHERE runs.experiment_id IN ($1) AND runs.lifecycle_stage IN ($2) AND " +
			s.Where + " ORDER BY " + s.OrderBy + fmt.Sprintf(" LIMIT $%d OFFSET $%d", s.NextArg, s.NextArg+1)
	}
	args := append([]any{1, "active"}, s.Args...)
	args = append(args, s.OrderArgs...)
	args = append(args, limit, offset)
	return queryIDs(t, tdb, q, args)
}

func queryIDs(t *testing.T, tdb testDB, q string, args []any) []string {
	t.Helper()
	rows, err := tdb.db.Query(q, args...)
	if err != nil {
		t.Fatalf("query %s %v: %v", q, args, err)
	}
	defer rows.Close()
	ids := []string{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return ids
}

// runCases are hand-derived from the fixture: default order is start_time DESC
// (r2 and r4 tie at 3000, then run_uuid ASC), r3 has a NaN r2, r4 has no r2.
var runCases = []struct {
	filter string
	order  []string
	want   []string
}{
	{"", nil, []string{"r2", "r4", "r3", "r1"}},
	{"metrics.r2 > 0.5", []string{"metrics.r2 DESC"}, []string{"r2", "r1"}},
	{"", []string{"metrics.r2 DESC"}, []string{"r2", "r1", "r3", "r4"}},
	{"", []string{"metrics.r2 ASC"}, []string{"r1", "r2", "r3", "r4"}},
	{"metrics.r2 != 0.6469", nil, []string{"r2", "r3"}},
	{"metrics.r2 < 1", nil, []string{"r2", "r1"}},
	{"metrics.r2 = 0", nil, []string{}},
	{"metrics.r2 >= 0.7737", nil, []string{"r2"}},
	{"metrics.r2 <= 0.6469", nil, []string{"r1"}},
	{"metrics.r2 = 0.7737", nil, []string{"r2"}},
	{"metrics.mse > 0.1 and metrics.r2 > 0", nil, []string{"r1"}},
	{"params.model = 'RandomForest'", nil, []string{"r1"}},
	{"params.long = '" + strings.Repeat("v", search.ValuePrefix-1) + "'", nil, []string{"r1"}},
	{"params.long = '" + strings.Repeat("v", search.ValuePrefix) + "'", nil, []string{"r4"}},
	{"params.long = '" + strings.Repeat("v", search.ValuePrefix+50) + "'", nil, []string{"r2"}},
	{"params.long = 'v' AND params.model = 'RandomForest'", nil, []string{}},
	{"params.model != 'RandomForest'", nil, []string{"r2", "r4", "r3"}},
	{"params.model LIKE 'Random%'", nil, []string{"r1"}},
	{"params.model LIKE '%forest'", nil, []string{"r2"}},
	{"params.model ILIKE 'random%'", nil, []string{"r2", "r1"}},
	{"params.model ILIKE '%FOREST'", nil, []string{"r2", "r1"}},
	{"params.model LIKE 'Linear_Regression'", nil, []string{"r4", "r3"}},
	{`params.model LIKE 'Linear\_Regression'`, nil, []string{"r3"}},
	{`params.model ILIKE 'linear\_regression'`, nil, []string{"r3"}},
	{"params.note LIKE '50%'", nil, []string{"r4", "r1"}},
	{`params.note LIKE '50\%%'`, nil, []string{"r4"}},
	{"tags.pattern LIKE 'a*b'", nil, []string{"r2"}},
	{"tags.pattern LIKE 'a%b'", nil, []string{"r2", "r1"}},
	{"tags.pattern LIKE 'a?b['", nil, []string{"r3"}},
	{"tags.pattern LIKE 'a_b_'", nil, []string{"r3"}},
	{"tags.owner = 'oracle'", nil, []string{"r2"}},
	{"tags.owner != 'oracle'", nil, []string{"r1"}},
	{"tags.owner ILIKE 'ORACLE'", nil, []string{"r2", "r1"}},
	{"tags.`mlflow.runName` = 'linreg'", nil, []string{"r3"}},
	{"tags.owner IS NULL", nil, []string{"r4", "r3"}},
	{"tags.owner IS NOT NULL", nil, []string{"r2", "r1"}},
	{"tags.owner IN ('oracle', 'nobody')", nil, []string{"r2"}},
	{"tags.owner NOT IN ('oracle')", nil, []string{"r1"}},
	{"params.note IS NULL and tags.owner IS NOT NULL", nil, []string{"r2"}},
	{"attributes.status = 'FINISHED'", nil, []string{"r2", "r1"}},
	{"status != 'FINISHED'", nil, []string{"r4", "r3"}},
	{"attr.status LIKE 'F%'", nil, []string{"r2", "r4", "r1"}},
	{"run.status ILIKE 'f%'", nil, []string{"r2", "r4", "r1"}},
	{"run_name = 'rf-tuned'", nil, []string{"r2"}},
	{"attributes.run_name LIKE 'rf-%'", nil, []string{"r2", "r4", "r1"}},
	{`"Run name" ILIKE 'LIN%'`, nil, []string{"r3"}},
	{"attributes.run_id IN ('r1', 'r3')", nil, []string{"r3", "r1"}},
	{"run_id NOT IN ('r1', 'r3')", nil, []string{"r2", "r4"}},
	{"run_id = 'r4'", nil, []string{"r4"}},
	{"attributes.start_time >= 2000", nil, []string{"r2", "r4", "r3"}},
	{"created < 2000", nil, []string{"r1"}},
	{"start_time > 2999.5", nil, []string{"r2", "r4"}},
	{"attributes.end_time > 0", nil, []string{"r2", "r4", "r1"}},
	{"end_time != 2000", nil, []string{"r2", "r4"}},
	{"user_id = 'alice' and metrics.r2 > 0", nil, []string{"r1"}},
	{"artifact_uri LIKE 's3://%'", nil, []string{"r2", "r1"}},
	{"dataset.name = 'housing'", nil, []string{"r2", "r1"}},
	{"datasets.context = 'train'", nil, []string{"r4", "r1"}},
	{"dataset.digest IN ('d2', 'd3')", nil, []string{"r2", "r4"}},
	{"dataset.name NOT IN ('housing')", nil, []string{"r4"}},
	{"dataset.name = 'housing' and dataset.context = 'test'", nil, []string{"r2"}},
	{"dataset.context LIKE 'tr%'", nil, []string{"r4", "r1"}},
	{"", []string{"params.n_estimators ASC"}, []string{"r2", "r4", "r1", "r3"}},
	{"", []string{"params.n_estimators DESC"}, []string{"r1", "r4", "r2", "r3"}},
	{"", []string{"attributes.end_time DESC"}, []string{"r4", "r2", "r1", "r3"}},
	{"", []string{"end_time"}, []string{"r1", "r2", "r4", "r3"}},
	{"", []string{"run_name"}, []string{"r3", "r1", "r4", "r2"}},
	{"", []string{"start_time ASC"}, []string{"r1", "r3", "r2", "r4"}},
	{"", []string{"tags.team DESC"}, []string{"r2", "r1", "r4", "r3"}},
	{"", []string{"metrics.mse"}, []string{"r4", "r1", "r2", "r3"}},
	{"", []string{"metrics.mse DESC", "run_id DESC"}, []string{"r1", "r4", "r3", "r2"}},
	{"", []string{"status", "run_id DESC"}, []string{"r4", "r2", "r1", "r3"}},
	{"", []string{"user_id DESC", "metrics.r2 DESC"}, []string{"r4", "r2", "r1", "r3"}},
	{"", []string{"metrics.acc DESC"}, []string{"r4", "r2", "r1", "r3"}},
	{"", []string{"metrics.acc ASC"}, []string{"r2", "r1", "r4", "r3"}},
	{"", []string{"metrics.acc", "start_time ASC"}, []string{"r1", "r2", "r4", "r3"}},
	{"metrics.acc < 0.9", []string{"metrics.acc", "params.model DESC"}, []string{"r2", "r1"}},
	{"params.model LIKE '%R%'", []string{"metrics.r2 DESC", "metrics.acc"}, []string{"r1", "r3", "r4"}},
}

// searchRunSegments runs the segments of CompileRunSegments one after the other,
// as a store pages through them: each with the rows still wanted, and an offset
// that the earlier segments' rows (counted when a page skips them all) consume.
func searchRunSegments(t *testing.T, tdb testDB, filter string, order []string, limit, offset int) []string {
	t.Helper()
	f, err := search.ParseRunFilter(filter)
	if err != nil {
		t.Fatalf("ParseRunFilter(%q): %v", filter, err)
	}
	o, err := search.ParseRunOrderBy(order)
	if err != nil {
		t.Fatalf("ParseRunOrderBy(%q): %v", order, err)
	}
	segments, err := search.CompileRunSegments(f, o, tdb.d, 3)
	if err != nil {
		t.Fatalf("CompileRunSegments: %v", err)
	}
	ids := []string{}
	for _, s := range segments {
		if len(ids) == limit {
			break
		}
		prefix := "FROM " + s.From + " WHERE runs.experiment_id IN (?) AND runs.lifecycle_stage IN (?) AND " + s.Where
		tail := " LIMIT ? OFFSET ?"
		if tdb.d == search.PostgreSQL {
			prefix = strings.Replace(strings.Replace(prefix, "(?)", "($1)", 1), "(?)", "($2)", 1)
			tail = fmt.Sprintf(" LIMIT $%d OFFSET $%d", s.NextArg, s.NextArg+1)
		}
		args := append([]any{1, "active"}, s.Args...)
		args = append(args, s.OrderArgs...)
		args = append(args, limit-len(ids), offset)
		got := queryIDs(t, tdb, "SELECT runs.run_uuid "+prefix+" ORDER BY "+s.OrderBy+tail, args)
		ids = append(ids, got...)
		switch {
		case len(got) > 0:
			offset = 0
		case offset > 0:
			var n int
			if err := tdb.db.QueryRow("SELECT COUNT(*) "+prefix, append([]any{1, "active"}, s.Args...)...).Scan(&n); err != nil {
				t.Fatalf("count: %v", err)
			}
			offset -= n
		}
	}
	return ids
}

func testRunSearch(t *testing.T, tdb testDB) {
	for _, tc := range runCases {
		t.Run(tc.filter+" ORDER BY "+strings.Join(tc.order, ","), func(t *testing.T) {
			got := searchRuns(t, tdb, tc.filter, tc.order, 100, 0)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
			if got := searchRunSegments(t, tdb, tc.filter, tc.order, 100, 0); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("segments: got %v, want %v", got, tc.want)
			}
			// Every page of the segments is the same page of the single query.
			for limit := 1; limit <= 3; limit++ {
				for offset := 0; offset <= 5; offset++ {
					want := searchRuns(t, tdb, tc.filter, tc.order, limit, offset)
					if got := searchRunSegments(t, tdb, tc.filter, tc.order, limit, offset); !reflect.DeepEqual(got, want) {
						t.Errorf("segments LIMIT %d OFFSET %d: got %v, want %v", limit, offset, got, want)
					}
				}
			}
		})
	}
	t.Run("paging", func(t *testing.T) {
		var all []string
		for offset := 0; offset < 6; offset += 2 {
			all = append(all, searchRuns(t, tdb, "", []string{"metrics.r2 DESC"}, 2, offset)...)
		}
		if want := []string{"r2", "r1", "r3", "r4"}; !reflect.DeepEqual(all, want) {
			t.Errorf("pages joined = %v, want %v", all, want)
		}
	})
	t.Run("injection stays data", func(t *testing.T) {
		got := searchRuns(t, tdb, `params.model = 'x'' OR ''1''=''1' and tags.team != "red'; DROP TABLE runs; --"`, nil, 100, 0)
		if len(got) != 0 {
			t.Errorf("got %v, want none", got)
		}
		if got := searchRuns(t, tdb, "", nil, 100, 0); len(got) != 4 {
			t.Errorf("runs after the attempt: %v", got)
		}
	})
}

// scanCases are the runs (of every experiment and stage) that a scan of one
// clause lists (search.CompileRunScan), around search.ValuePrefix: SQLite
// tests a value shorter than the prefix on its index alone.
var scanCases = []struct {
	clause string
	want   []string
}{
	{"params.long LIKE '%v'", []string{"r1", "r2", "r4"}},
	{"params.long LIKE '%" + strings.Repeat("v", search.ValuePrefix) + "%'", []string{"r2", "r4"}},
	{"params.long LIKE '" + strings.Repeat("v", search.ValuePrefix) + "_%'", []string{"r2"}},
	{"params.long != '" + strings.Repeat("v", search.ValuePrefix-1) + "'", []string{"r2", "r4"}},
	{"params.long != '" + strings.Repeat("v", search.ValuePrefix) + "'", []string{"r1", "r2"}},
	{"params.long ILIKE '%" + strings.Repeat("V", search.ValuePrefix+50) + "'", []string{"r2"}},
	{"params.model ILIKE '%forest'", []string{"r1", "r2", "r6"}},
	{"params.model LIKE '%Forest'", []string{"r1", "r6"}},
	{`params.model LIKE '%\_R%'`, []string{"r3"}},
	{"params.note LIKE '%\\%%'", []string{"r4"}},
	{"tags.owner != 'oracle'", []string{"r1"}},
	{"tags.pattern LIKE '%?b%'", []string{"r3"}},
	{"attributes.run_name ILIKE '%RF-%'", []string{"r1", "r2", "r4"}},
	{"attributes.run_name LIKE '%ed'", []string{"r2", "r4", "r5"}},
}

func testRunScan(t *testing.T, tdb testDB) {
	for _, tc := range scanCases {
		t.Run(tc.clause, func(t *testing.T) {
			f, err := search.ParseRunFilter(tc.clause)
			if err != nil {
				t.Fatal(err)
			}
			if got := search.RunScans(f, false); len(got) != 1 || got[0] != 0 {
				t.Fatalf("RunScans = %v, want [0]", got)
			}
			s, err := search.CompileRunScan(f, 0, tdb.d, 1)
			if err != nil {
				t.Fatal(err)
			}
			got := queryIDs(t, tdb, "SELECT drv.run_uuid FROM "+s.From+" WHERE "+s.Where+" ORDER BY drv.run_uuid", s.Args)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// compileAndQuery runs a non-run search: SELECT key FROM table WHERE ... ORDER BY ....
func compileAndQuery(t *testing.T, tdb testDB, sel string, s search.SQL, err error) []string {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	args := append(append([]any{}, s.Args...), s.OrderArgs...)
	return queryIDs(t, tdb, sel+" WHERE "+s.Where+" ORDER BY "+s.OrderBy, args)
}

func testRegistrySearch(t *testing.T, tdb testDB) {
	experiments := []struct {
		filter string
		order  []string
		want   []string
	}{
		{"", nil, []string{"2", "1", "0", "3"}},
		{"name LIKE 'curl%'", nil, []string{"2"}},
		{"name ILIKE '%HOUSING'", nil, []string{"2", "1"}},
		{"name != 'default'", []string{"name"}, []string{"1", "2", "3"}},
		{"tags.source = 'curl'", nil, []string{"2"}},
		{"tag.team LIKE 'm%'", nil, []string{"1"}},
		{"creation_time >= 200", nil, []string{"2", "1"}},
		{"attribute.last_update_time < 250", nil, []string{"0"}},
		{"", []string{"last_update_time ASC"}, []string{"0", "1", "2", "3"}},
		{"", []string{"experiment_id DESC"}, []string{"3", "2", "1", "0"}},
	}
	for _, tc := range experiments {
		f, err := search.ParseExperimentFilter(tc.filter)
		if err != nil {
			t.Fatal(err)
		}
		o, err := search.ParseExperimentOrderBy(tc.order)
		if err != nil {
			t.Fatal(err)
		}
		s, err := search.CompileExperiments(f, o, tdb.d, 1)
		got := compileAndQuery(t, tdb, "SELECT CAST(experiments.experiment_id AS VARCHAR(10)) FROM experiments", s, err)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("experiments %q order %v: got %v, want %v", tc.filter, tc.order, got, tc.want)
		}
	}
	models := []struct {
		filter string
		order  []string
		want   []string
	}{
		{"", nil, []string{"housing-a", "housing-b", "other"}},
		{"name LIKE 'housing%'", []string{"timestamp DESC"}, []string{"housing-a", "housing-b"}},
		{"name ILIKE 'HOUSING-_'", []string{"creation_timestamp DESC"}, []string{"housing-b", "housing-a"}},
		{"tags.task = 'regression'", nil, []string{"housing-a"}},
		{"tags.task ILIKE 'regression'", nil, []string{"housing-a", "other"}},
		{"name != 'other'", []string{"name DESC"}, []string{"housing-b", "housing-a"}},
		{"", []string{"last_updated_timestamp ASC"}, []string{"other", "housing-b", "housing-a"}},
		// MLflow 3's prompt tag: what its client adds to every search matches the
		// models without the tag; only "= 'true'" or "!= 'false'" finds prompts.
		{"tag.`mlflow.prompt.is_prompt` != 'true'", nil, []string{"housing-a", "housing-b", "other"}},
		{"tags.`mlflow.prompt.is_prompt` = 'false'", nil, []string{"housing-a", "housing-b", "other"}},
		{"tags.task = 'regression' AND tag.`mlflow.prompt.is_prompt` != 'true'", nil, []string{"housing-a"}},
		{"name LIKE 'housing%' AND tags.`mlflow.prompt.is_prompt` != 'true'", []string{"name DESC"}, []string{"housing-b", "housing-a"}},
		{"tags.`mlflow.prompt.is_prompt` LIKE 'tr%'", nil, []string{"housing-a", "housing-b", "other"}},
		{"tags.`mlflow.prompt.is_prompt` = 'true'", nil, []string{"greeting"}},
		{"tags.`mlflow.prompt.is_prompt` = 'TRUE'", nil, []string{}},
		{"tags.`mlflow.prompt.is_prompt` != 'False'", nil, []string{"greeting"}},
		{"tags.task = 'regression' AND tags.`mlflow.prompt.is_prompt` = 'true'", nil, []string{"greeting"}},
		{"name = 'greeting'", nil, []string{}},
	}
	for _, tc := range models {
		f, err := search.ParseRegisteredModelFilter(tc.filter)
		if err != nil {
			t.Fatal(err)
		}
		o, err := search.ParseRegisteredModelOrderBy(tc.order)
		if err != nil {
			t.Fatal(err)
		}
		s, err := search.CompileRegisteredModels(f, o, tdb.d, 1)
		got := compileAndQuery(t, tdb, "SELECT registered_models.name FROM registered_models", s, err)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("registered models %q order %v: got %v, want %v", tc.filter, tc.order, got, tc.want)
		}
	}
	versions := []struct {
		filter string
		order  []string
		want   []string
	}{
		// Default: last_updated DESC, name ASC, version DESC.
		{"", nil, []string{"housing-a/2", "housing-b/1", "housing-a/3", "housing-a/1"}},
		{"name = 'housing-a'", nil, []string{"housing-a/2", "housing-a/3", "housing-a/1"}},
		{"name = 'housing-a' and version_number >= 2", []string{"version_number"}, []string{"housing-a/2", "housing-a/3"}},
		{"version_number = '1'", nil, []string{"housing-b/1", "housing-a/1"}},
		{"run_id IN ('r1', 'r3')", nil, []string{"housing-b/1", "housing-a/1"}},
		{"source_path LIKE 'runs:/%'", []string{"creation_timestamp ASC"}, []string{"housing-a/1", "housing-a/2", "housing-b/1"}},
		{"tags.validated = 'true'", nil, []string{"housing-a/2"}},
		{"tags.validated != 'true'", nil, []string{"housing-a/3"}},
		{"", []string{"name DESC"}, []string{"housing-b/1", "housing-a/3", "housing-a/2", "housing-a/1"}},
		{"tags.`mlflow.prompt.is_prompt` != 'true'", nil, []string{"housing-a/2", "housing-b/1", "housing-a/3", "housing-a/1"}},
		{"tags.validated = 'true' AND tags.`mlflow.prompt.is_prompt` != 'true'", nil, []string{"housing-a/2"}},
		{"name = 'greeting'", nil, []string{}},
		{"tags.`mlflow.prompt.is_prompt` = 'true'", nil, []string{"greeting/1"}},
		{"name = 'greeting' AND tag.`mlflow.prompt.is_prompt` != 'false'", nil, []string{"greeting/1"}},
	}
	for _, tc := range versions {
		f, err := search.ParseModelVersionFilter(tc.filter)
		if err != nil {
			t.Fatal(err)
		}
		o, err := search.ParseModelVersionOrderBy(tc.order)
		if err != nil {
			t.Fatal(err)
		}
		s, err := search.CompileModelVersions(f, o, tdb.d, 1)
		got := compileAndQuery(t, tdb, "SELECT model_versions.name || '/' || CAST(model_versions.version AS VARCHAR(10)) FROM model_versions", s, err)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("model versions %q order %v: got %v, want %v", tc.filter, tc.order, got, tc.want)
		}
	}
}

func openSQLite(t testing.TB, dsnSuffix string) testDB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "mlflow.db")+dsnSuffix)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	tdb := testDB{db: db, d: search.SQLite}
	fixture(t, tdb)
	return tdb
}

func TestSQLite(t *testing.T) {
	tdb := openSQLite(t, "")
	t.Run("runs", func(t *testing.T) { testRunSearch(t, tdb) })
	t.Run("scan", func(t *testing.T) { testRunScan(t, tdb) })
	t.Run("registry", func(t *testing.T) { testRegistrySearch(t, tdb) })
}

// TestSQLiteCaseSensitiveLike checks that LIKE and ILIKE keep their meaning on a
// connection that switched SQLite's LIKE to case-sensitive.
func TestSQLiteCaseSensitiveLike(t *testing.T) {
	tdb := openSQLite(t, "?_pragma=case_sensitive_like(1)")
	t.Run("runs", func(t *testing.T) { testRunSearch(t, tdb) })
	t.Run("scan", func(t *testing.T) { testRunScan(t, tdb) })
}

func TestPostgreSQL(t *testing.T) {
	db, err := sql.Open("pgx", testenv.PostgresURI(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	tdb := testDB{db: db, d: search.PostgreSQL}
	fixture(t, tdb)
	t.Run("runs", func(t *testing.T) { testRunSearch(t, tdb) })
	t.Run("scan", func(t *testing.T) { testRunScan(t, tdb) })
	t.Run("registry", func(t *testing.T) { testRegistrySearch(t, tdb) })
}
