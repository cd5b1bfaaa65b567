package sqlstore_test

import (
	"bufio"
	"database/sql"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/mlops-lab/housing/internal/testenv"
	"github.com/mlops-lab/housing/tracking/sqlstore"
)

// The schema documents are copies of shared/mlflow-wire/SCHEMA.md and
// SCHEMA-postgresql.md, read from the real MLflow 2.17.2 databases.

type mdColumn struct {
	name, typ string
	notNull   bool
}

type mdTable struct {
	columns     []mdColumn
	primaryKey  []string
	foreignKeys []string // "cols->table(cols)"
	constraints []string // named constraints (PostgreSQL document)
	indexes     []string
}

var (
	headingRE = regexp.MustCompile(`^## (\w+)$`)
	rowRE     = regexp.MustCompile(`^\|\s*(\w+)\s*\|\s*([^|]+?)\s*\|\s*([^|]*?)\s*\|`)
	pkRE      = regexp.MustCompile(`PRIMARY KEY \(([^)]*)\)`)
	fkRE      = regexp.MustCompile(`FOREIGN KEY\(([^)]*)\) REFERENCES (\w+) \(([^)]*)\)`)
	indexRE   = regexp.MustCompile("^- `(\\w+)` on (\\w+) \\(([^)]*)\\)")
	pgNameRE  = regexp.MustCompile("(PK|UNIQUE|CHECK|FK) `(\\w+)`")
	pgIndexRE = regexp.MustCompile("`(index_\\w+)`")
	pgPKRE    = regexp.MustCompile("PK `\\w+` \\(([^)]*)\\)")
)

func splitCols(s string) []string {
	var out []string
	for _, c := range strings.Split(s, ",") {
		out = append(out, strings.Trim(strings.TrimSpace(c), `"`))
	}
	return out
}

// parseSchemaMD reads the tables of a schema document; sections that hold no
// column table (the sequence, the differences) are skipped.
func parseSchemaMD(t *testing.T, path string) map[string]*mdTable {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tables := map[string]*mdTable{}
	var cur *mdTable
	var curName string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			// Only "## table" headings open a table; any other heading ends one.
			m := headingRE.FindStringSubmatch(line)
			if m == nil {
				curName, cur = "", nil
				continue
			}
			curName, cur = m[1], &mdTable{}
			if curName != "Indexes" {
				tables[curName] = cur
			}
			continue
		}
		if m := indexRE.FindStringSubmatch(line); m != nil && curName == "Indexes" {
			tables[m[2]].indexes = append(tables[m[2]].indexes, m[1]+"("+strings.Join(splitCols(m[3]), ",")+")")
			continue
		}
		if cur == nil {
			continue
		}
		if m := rowRE.FindStringSubmatch(line); m != nil && m[1] != "column" && m[1] != "property" {
			cur.columns = append(cur.columns, mdColumn{name: m[1], typ: strings.TrimSpace(m[2]), notNull: strings.HasPrefix(strings.TrimSpace(m[3]), "N")})
			continue
		}
		if m := pkRE.FindStringSubmatch(line); m != nil {
			cur.primaryKey = splitCols(m[1])
		}
		if m := pgPKRE.FindStringSubmatch(line); m != nil {
			cur.primaryKey = splitCols(m[1])
		}
		for _, m := range fkRE.FindAllStringSubmatch(line, -1) {
			cur.foreignKeys = append(cur.foreignKeys, strings.Join(splitCols(m[1]), ",")+"->"+m[2]+"("+strings.Join(splitCols(m[3]), ",")+")")
		}
		for _, m := range pgNameRE.FindAllStringSubmatch(line, -1) {
			cur.constraints = append(cur.constraints, m[2])
		}
		for _, m := range pgIndexRE.FindAllStringSubmatch(line, -1) {
			cur.indexes = append(cur.indexes, m[1])
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for name, tb := range tables {
		if len(tb.columns) == 0 {
			delete(tables, name)
		}
	}
	return tables
}

func queryStrings(t *testing.T, db *sql.DB, q string, args ...any) [][]string {
	t.Helper()
	rows, err := db.Query(q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out [][]string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		row := make([]string, len(cols))
		for i, v := range vals {
			row[i] = v.String
		}
		out = append(out, row)
	}
	return out
}

func sorted(xs []string) []string {
	xs = slices.Clone(xs)
	slices.Sort(xs)
	return xs
}

// extraSQLiteIndexes are the indexes the store adds to MLflow's schema, by table,
// as sqlstore.ExtraIndexes documents them; the schema tests allow these and no other.
var extraSQLiteIndexes = map[string][]string{
	"latest_metrics": {"housing_latest_metrics_key_value(key,is_nan,value,run_uuid)",
		"housing_latest_metrics_run(run_uuid,key,is_nan,value)"},
	"runs": {"housing_runs_experiment_id(experiment_id,lifecycle_stage,start_time)",
		"housing_runs_end_time(experiment_id,lifecycle_stage,end_time)", "housing_runs_name(experiment_id,lifecycle_stage,name)"},
	// The middle column is the expression substr(value, 1, 200), which SQLite lists without a name.
	"params": {"housing_params_key_value(key,,run_uuid)"},
	"tags":   {"housing_tags_key_value(key,,run_uuid)"},
}

// extraPostgresIndexes are the same indexes as pg_indexes defines them.
var extraPostgresIndexes = map[string][]string{
	"latest_metrics": {"CREATE INDEX housing_latest_metrics_key_value ON public.latest_metrics USING btree (key, is_nan, value, run_uuid)",
		"CREATE INDEX housing_latest_metrics_run ON public.latest_metrics USING btree (run_uuid, key, is_nan, value)"},
	"runs": {"CREATE INDEX housing_runs_experiment_id ON public.runs USING btree (experiment_id, lifecycle_stage, start_time)",
		"CREATE INDEX housing_runs_end_time ON public.runs USING btree (experiment_id, lifecycle_stage, end_time)",
		"CREATE INDEX housing_runs_name ON public.runs USING btree (experiment_id, lifecycle_stage, name)"},
	"params": {"CREATE INDEX housing_params_key_value ON public.params USING btree (key, substr((value)::text, 1, 200), run_uuid)"},
	"tags":   {"CREATE INDEX housing_tags_key_value ON public.tags USING btree (key, substr((value)::text, 1, 200), run_uuid)"},
}

// extraPostgresObjects are the other objects the store adds on PostgreSQL
// only (schema/housing-postgres.sql), by kind, as sqlstore.ExtraPostgres
// documents them; the schema test allows these and no other.
var extraPostgresObjects = map[string][]string{
	"table":    {"housing.metric_stamps"},
	"sequence": {"housing.metric_stamp_seq"},
	"function": {"housing.bump_metric_stamps"},
	"trigger": {
		"CREATE TRIGGER housing_metric_stamps_delete AFTER DELETE ON public.metrics REFERENCING OLD TABLE AS housing_old_metrics FOR EACH STATEMENT EXECUTE FUNCTION housing.bump_metric_stamps()",
		"CREATE TRIGGER housing_metric_stamps_insert AFTER INSERT ON public.metrics REFERENCING NEW TABLE AS housing_new_metrics FOR EACH STATEMENT EXECUTE FUNCTION housing.bump_metric_stamps()",
		"CREATE TRIGGER housing_metric_stamps_truncate AFTER TRUNCATE ON public.metrics FOR EACH STATEMENT EXECUTE FUNCTION housing.bump_metric_stamps()",
		"CREATE TRIGGER housing_metric_stamps_update AFTER UPDATE ON public.metrics REFERENCING OLD TABLE AS housing_old_metrics NEW TABLE AS housing_new_metrics FOR EACH STATEMENT EXECUTE FUNCTION housing.bump_metric_stamps()",
	},
	"stamps column": {"run_uuid character varying(32) not null", "stamp bigint not null"},
	"stamps index":  {"CREATE UNIQUE INDEX metric_stamps_pkey ON housing.metric_stamps USING btree (run_uuid)"},
	// Nothing of the store's but the triggers is in MLflow's schema.
	"public function": nil,
}

func TestExtraPostgresDocumented(t *testing.T) {
	var triggers []string
	for _, def := range extraPostgresObjects["trigger"] {
		triggers = append(triggers, strings.Fields(def)[2])
	}
	for _, c := range []struct {
		kind      string
		got, want []string
	}{
		{"tables", extraPostgresObjects["table"], sqlstore.ExtraPostgres.Tables},
		{"sequences", extraPostgresObjects["sequence"], sqlstore.ExtraPostgres.Sequences},
		{"functions", extraPostgresObjects["function"], sqlstore.ExtraPostgres.Functions},
		{"triggers", triggers, sqlstore.ExtraPostgres.Triggers},
	} {
		if !slices.Equal(sorted(c.got), sorted(c.want)) {
			t.Errorf("the schema test allows %s %v, the store documents %v", c.kind, sorted(c.got), sorted(c.want))
		}
	}
}

func TestExtraIndexesDocumented(t *testing.T) {
	var names []string
	for _, idx := range extraSQLiteIndexes {
		for _, i := range idx {
			names = append(names, i[:strings.IndexByte(i, '(')])
		}
	}
	if !slices.Equal(sorted(names), sorted(sqlstore.ExtraIndexes)) {
		t.Errorf("the schema tests allow %v, the store documents %v", sorted(names), sorted(sqlstore.ExtraIndexes))
	}
}

func TestSchemaSQLiteMatchesMLflow(t *testing.T) {
	want := parseSchemaMD(t, "testdata/SCHEMA.md")
	if len(want) != 19 {
		t.Fatalf("parsed %d tables from SCHEMA.md, want 19", len(want))
	}
	db := mustOpenVersion(t, sqliteURI(t), sqlstore.SchemaMLflow2).DB()
	var got []string
	for _, r := range queryStrings(t, db, `SELECT name FROM sqlite_master WHERE type = 'table'`) {
		got = append(got, r[0])
	}
	var wantNames []string
	for name := range want {
		wantNames = append(wantNames, name)
	}
	if !slices.Equal(sorted(got), sorted(wantNames)) {
		t.Fatalf("tables = %v, want %v", sorted(got), sorted(wantNames))
	}
	for name, tb := range want {
		t.Run(name, func(t *testing.T) {
			info := queryStrings(t, db, `SELECT name, type, "notnull", pk FROM pragma_table_info(?) ORDER BY cid`, name)
			var cols []mdColumn
			pk := map[string]string{}
			for _, r := range info {
				cols = append(cols, mdColumn{name: r[0], typ: r[1], notNull: r[2] == "1"})
				if r[3] != "0" {
					pk[r[3]] = r[0]
				}
			}
			if !slices.Equal(cols, tb.columns) {
				t.Errorf("columns =\n%v\nwant\n%v", cols, tb.columns)
			}
			var pkCols []string
			for i := 1; i <= len(pk); i++ {
				pkCols = append(pkCols, pk[fmt.Sprint(i)])
			}
			if !slices.Equal(pkCols, tb.primaryKey) {
				t.Errorf("primary key = %v, want %v", pkCols, tb.primaryKey)
			}
			fks := map[string]*[2][]string{}
			var order []string
			for _, r := range queryStrings(t, db, `SELECT id, "table", "from", "to" FROM pragma_foreign_key_list(?) ORDER BY id, seq`, name) {
				fk, ok := fks[r[0]]
				if !ok {
					fk = &[2][]string{}
					fks[r[0]] = fk
					order = append(order, r[0]+"\x00"+r[1])
				}
				fk[0], fk[1] = append(fk[0], r[2]), append(fk[1], r[3])
			}
			var gotFKs []string
			for _, o := range order {
				id, table, _ := strings.Cut(o, "\x00")
				gotFKs = append(gotFKs, strings.Join(fks[id][0], ",")+"->"+table+"("+strings.Join(fks[id][1], ",")+")")
			}
			if !slices.Equal(sorted(gotFKs), sorted(tb.foreignKeys)) {
				t.Errorf("foreign keys = %v, want %v", gotFKs, tb.foreignKeys)
			}
			var idx []string
			for _, r := range queryStrings(t, db, `SELECT name FROM pragma_index_list(?) WHERE origin = 'c'`, name) {
				var cols []string
				for _, c := range queryStrings(t, db, `SELECT name FROM pragma_index_info(?) ORDER BY seqno`, r[0]) {
					cols = append(cols, c[0])
				}
				idx = append(idx, r[0]+"("+strings.Join(cols, ",")+")")
			}
			if want := append(slices.Clone(tb.indexes), extraSQLiteIndexes[name]...); !slices.Equal(sorted(idx), sorted(want)) {
				t.Errorf("indexes = %v, want %v", idx, want)
			}
		})
	}
	var rev string
	if err := db.QueryRow(`SELECT version_num FROM alembic_version`).Scan(&rev); err != nil || rev != "f5a4f2784254" {
		t.Errorf("alembic_version = %q, %v", rev, err)
	}
}

// pgType turns the document's type names into format_type's.
func pgType(s string) string {
	if strings.HasPrefix(s, "varchar(") {
		return "character varying(" + strings.TrimPrefix(s, "varchar(")
	}
	return s
}

func TestSchemaPostgresMatchesMLflow(t *testing.T) {
	want := parseSchemaMD(t, "testdata/SCHEMA-postgresql.md")
	if len(want) != 19 {
		t.Fatalf("parsed %d tables from SCHEMA-postgresql.md, want 19", len(want))
	}
	db := mustOpenVersion(t, testenv.PostgresURI(t), sqlstore.SchemaMLflow2).DB()
	var got []string
	for _, r := range queryStrings(t, db, `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'`) {
		got = append(got, r[0])
	}
	if len(got) != len(want) {
		t.Fatalf("tables = %v, want %d", sorted(got), len(want))
	}
	t.Run("extra", func(t *testing.T) {
		for _, q := range []struct{ kind, query string }{
			{"table", `SELECT table_schema || '.' || table_name FROM information_schema.tables WHERE table_schema = 'housing'`},
			{"sequence", `SELECT schemaname || '.' || sequencename FROM pg_sequences WHERE schemaname = 'housing'`},
			{"function", `SELECT 'housing.' || proname FROM pg_proc WHERE pronamespace = 'housing'::regnamespace`},
			{"public function", `SELECT proname FROM pg_proc WHERE pronamespace = 'public'::regnamespace`},
			// Each trigger with its definition: statement-level, with
			// transition tables, on metrics only.
			{"trigger", `SELECT pg_get_triggerdef(oid) FROM pg_trigger WHERE NOT tgisinternal`},
			{"stamps column", `SELECT a.attname || ' ' || format_type(a.atttypid, a.atttypmod) || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
				FROM pg_attribute a WHERE a.attrelid = 'housing.metric_stamps'::regclass AND a.attnum > 0 AND NOT a.attisdropped`},
			{"stamps index", `SELECT indexdef FROM pg_indexes WHERE schemaname = 'housing'`},
		} {
			var names []string
			for _, r := range queryStrings(t, db, q.query) {
				names = append(names, r[0])
			}
			if !slices.Equal(sorted(names), sorted(extraPostgresObjects[q.kind])) {
				t.Errorf("%ss = %v, want %v", q.kind, sorted(names), sorted(extraPostgresObjects[q.kind]))
			}
		}
	})
	for name, tb := range want {
		t.Run(name, func(t *testing.T) {
			var cols []mdColumn
			for _, r := range queryStrings(t, db, `SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull
				FROM pg_attribute a WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`, name) {
				cols = append(cols, mdColumn{name: r[0], typ: r[1], notNull: r[2] == "true"})
			}
			var wantCols []mdColumn
			for _, c := range tb.columns {
				wantCols = append(wantCols, mdColumn{name: c.name, typ: pgType(c.typ), notNull: c.notNull})
			}
			if !slices.Equal(cols, wantCols) {
				t.Errorf("columns =\n%v\nwant\n%v", cols, wantCols)
			}
			var names []string
			for _, r := range queryStrings(t, db, `SELECT conname FROM pg_constraint WHERE conrelid = $1::regclass`, name) {
				names = append(names, r[0])
			}
			if !slices.Equal(sorted(names), sorted(tb.constraints)) {
				t.Errorf("constraints = %v, want %v", sorted(names), sorted(tb.constraints))
			}
			var pk []string
			for _, r := range queryStrings(t, db, `SELECT a.attname FROM pg_constraint c
				CROSS JOIN LATERAL unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord)
				JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
				WHERE c.conrelid = $1::regclass AND c.contype = 'p' ORDER BY k.ord`, name) {
				pk = append(pk, r[0])
			}
			if !slices.Equal(pk, tb.primaryKey) {
				t.Errorf("primary key = %v, want %v", pk, tb.primaryKey)
			}
			// Every index that backs no constraint: MLflow's, then the documented extras.
			var idx []string
			for _, r := range queryStrings(t, db, `SELECT i.indexname FROM pg_indexes i WHERE i.tablename = $1
				AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conrelid = $1::regclass AND c.conname = i.indexname)`, name) {
				idx = append(idx, r[0])
			}
			var extra []string
			for _, e := range extraSQLiteIndexes[name] {
				extra = append(extra, e[:strings.IndexByte(e, '(')])
			}
			if want := append(slices.Clone(tb.indexes), extra...); !slices.Equal(sorted(idx), sorted(want)) {
				t.Errorf("indexes = %v, want %v", idx, want)
			}
			var defs []string
			for _, r := range queryStrings(t, db, `SELECT indexdef FROM pg_indexes WHERE tablename = $1 AND indexname LIKE 'housing\_%'`, name) {
				defs = append(defs, r[0])
			}
			if !slices.Equal(sorted(defs), sorted(extraPostgresIndexes[name])) {
				t.Errorf("housing_ index definitions = %v, want %v", defs, extraPostgresIndexes[name])
			}
		})
	}
	var seq string
	if err := db.QueryRow(`SELECT pg_get_serial_sequence('experiments', 'experiment_id')`).Scan(&seq); err != nil || seq != "public.experiments_experiment_id_seq" {
		t.Errorf("experiment id sequence = %q, %v", seq, err)
	}
	var id int
	if err := db.QueryRow(`SELECT experiment_id FROM experiments WHERE name = 'Default'`).Scan(&id); err != nil || id != 0 {
		t.Errorf("Default experiment id = %d, %v", id, err)
	}
}
