package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/mlops-lab/housing/tracking"
)

// The MLflow schemas this store creates and works on, by the MLflow release
// whose schema they are (Options.SchemaVersion).
const (
	SchemaMLflow3 = "3.11.1"
	SchemaMLflow2 = "2.17.2"
)

// The Alembic revisions of those schemas.
const (
	RevisionMLflow3 = "c3d6457b6d8a"
	RevisionMLflow2 = "f5a4f2784254"
)

// UpgradeCommand is what migrates a database at MLflow 2.17.2's schema to MLflow
// 3.11.1's (cmd/tracking-server db upgrade; see Upgrade).
const UpgradeCommand = "tracking-server db upgrade <database-uri>"

// olderRevisions are the Alembic revisions of MLflow 2.17.2's migrations
// before RevisionMLflow2 (mlflow/store/db_migrations/versions): its `mlflow db
// upgrade` brings a database at one of them to RevisionMLflow2.
var olderRevisions = map[string]bool{
	"451aebb31d03": true, "90e64c465722": true, "181f10493468": true, "df50e92ffc5e": true, "7ac759974ad8": true,
	"89d4b8295536": true, "2b4d017a5e9b": true, "cfd24bdc0731": true, "0a8213491aaa": true, "728d730b5ebd": true,
	"27a6a02d2cf1": true, "84291f40a231": true, "a8c4a736bde6": true, "39d1c3be5f05": true, "c48cb773bb87": true,
	"bd07f7e963c5": true, "0c779009ac13": true, "cc1f77228345": true, "97727af70f4d": true, "3500859a5d39": true,
	"7f2a7d5fae7d": true, "2d6e25af4d3e": true, "acf3f17fdcc7": true, "867495a8f9d4": true, "5b0e9adcef9c": true,
	"4465047574b1": true,
}

// betweenRevisions are the revisions of MLflow 3.11.1's migrations after
// RevisionMLflow2 and before RevisionMLflow3, in order: databases that an MLflow
// 3 older than 3.11.1 migrated. MLflow 3.11.1's `mlflow db upgrade` finishes
// them; this store does not open them half-way.
var betweenRevisions = []string{
	"0584bdc529eb", "400f98739977", "6953534de441", "bda7b8c39065", "cbc13b556ace", "770bee3ae1dd",
	"a1b2c3d4e5f6", "de4033877273", "1a0cddfcaa16", "534353b11cbc", "71994744cf8e", "3da73c924c2f",
	"bf29a5ff90ea", "1bd49d398cd23", "b7c8d9e0f1a2", "5d2d30f0abce", "c9d4e5f6a7b8", "2c33131f4dae",
	"d3e4f5a6b7c8", "d0e1f2a3b4c5", "c8d9e0f1a2b3", "1b5f0d9ad7c1", "e1f2a3b4c5d6", "76601a5f987d",
}

// mlflowTables are the tables of MLflow 2.17.2's schema besides alembic_version:
// the ones this store uses at either revision.
var mlflowTables = []string{
	"experiments", "experiment_tags", "runs", "metrics", "latest_metrics", "params", "tags",
	"registered_models", "registered_model_tags", "model_versions", "model_version_tags",
	"registered_model_aliases", "datasets", "inputs", "input_tags", "trace_info", "trace_tags",
	"trace_request_metadata",
}

// mlflow3Tables are the tables of MLflow 3.11.1's schema this store uses besides
// mlflowTables (the logged models); its other tables (GenAI: traces v3,
// assessments, evaluation datasets, scorers, gateway, jobs, workspaces, ...)
// exist so that MLflow opens the database, and this store leaves them alone.
var mlflow3Tables = []string{"logged_models", "logged_model_metrics", "logged_model_params", "logged_model_tags"}

// SchemaInfo says which of MLflow's schemas the store's database has, and so
// which features the store offers on it.
type SchemaInfo struct {
	// Version is SchemaMLflow3 (also for a newer revision that passed the
	// introspection check) or SchemaMLflow2.
	Version string
	// Revision is the database's Alembic revision.
	Revision string
	// LoggedModels is whether the database has MLflow 3's logged-model tables
	// and the workspace columns of its registry tables (off at MLflow 2.17.2's
	// schema: the store still serves everything else).
	LoggedModels bool
}

// RequireMLflow3 is nil when the schema has MLflow 3's features, else the error
// that says how to get them: a database at MLflow 2.17.2's schema (kept working
// so that MLflow 2.x servers can share it) is migrated by UpgradeCommand.
func (i SchemaInfo) RequireMLflow3(feature string) error {
	if i.LoggedModels {
		return nil
	}
	return tracking.Errorf(tracking.ErrNotImplemented,
		"%s needs MLflow 3's schema, but this database is at MLflow 2.17.2's schema (Alembic revision %s); run `%s` to migrate it to MLflow 3.11.1's (%s)",
		feature, i.Revision, UpgradeCommand, RevisionMLflow3)
}

// Schema returns what the store's database is.
func (s *Store) Schema() SchemaInfo { return s.schema }

func schemaInfo(version, revision string) SchemaInfo {
	return SchemaInfo{Version: version, Revision: revision, LoggedModels: version == SchemaMLflow3}
}

// schemaFile is the embedded DDL of a schema version on the store's dialect.
func (s *Store) schemaFile(version string) string {
	d := "sqlite"
	if s.dialect == dialectPostgres {
		d = "postgres"
	}
	if version == SchemaMLflow2 {
		return "schema/" + d + ".sql"
	}
	return "schema/" + d + "-" + version + ".sql"
}

// checkRevision decides what the store does with an existing database at
// revision rev: nil with the schema it works on, or the error that says why not
// and what to run.
//
// A database at MLflow 2.17.2's revision opens (with a warning naming the
// upgrade command), although issue 14 asked to refuse it: databases shared with
// MLflow 2.x servers must keep working (real MLflow 2.17.2 opens only that
// revision, and our interop tests with it rely on it). Revisions older than
// 2.17.2's are refused. A revision newer than MLflow 3.11.1's (MLflow's server
// migrates a database by itself when it starts on it) opens with a warning when
// the tables and columns this store uses are as it expects them, checked by
// introspection (checkNewerSchema), and is refused naming what changed otherwise.
func (s *Store) checkRevision(ctx context.Context, q queryer, rev string, tables map[string]bool) (SchemaInfo, error) {
	required := mlflowTables
	var info SchemaInfo
	switch {
	case rev == RevisionMLflow3:
		info = schemaInfo(SchemaMLflow3, rev)
		required = append(slices.Clone(mlflowTables), mlflow3Tables...)
	case rev == RevisionMLflow2:
		info = schemaInfo(SchemaMLflow2, rev)
		s.log.Warn("the database is at MLflow 2.17.2's schema: logged models are off (everything else works, and MLflow 2.x servers can share it); "+
			"run `"+UpgradeCommand+"` to migrate it to MLflow 3.11.1's", "revision", rev)
	case rev == "(none)" || olderRevisions[rev]:
		return SchemaInfo{}, fmt.Errorf("sqlstore: the database schema is at Alembic revision %s, older than MLflow 2.17.2's (%s), which is the oldest this server opens: "+
			"migrate it with MLflow 2.17.2's `mlflow db upgrade <database-uri>` first, then run `%s` to bring it to MLflow 3.11.1's (%s)",
			rev, RevisionMLflow2, UpgradeCommand, RevisionMLflow3)
	case slices.Contains(betweenRevisions, rev):
		return SchemaInfo{}, fmt.Errorf("sqlstore: the database schema is at Alembic revision %s, which an MLflow 3 older than 3.11.1 migrated it to: "+
			"finish the migration with MLflow 3.11.1's `mlflow db upgrade <database-uri>` (to %s), which this server opens", rev, RevisionMLflow3)
	default:
		if err := s.checkNewerSchema(ctx, q, rev); err != nil {
			return SchemaInfo{}, err
		}
		s.log.Warn("the database is at an Alembic revision newer than MLflow 3.11.1's, which this server does not know; "+
			"the tables and columns it uses are as it expects, so it serves the database", "revision", rev, "known", RevisionMLflow3)
		return schemaInfo(SchemaMLflow3, rev), nil
	}
	for _, t := range required {
		if !tables[t] {
			return SchemaInfo{}, fmt.Errorf("sqlstore: the database is at revision %s but lacks table %s", rev, t)
		}
	}
	return info, nil
}

// column is one column of a table as introspection sees it.
type column struct {
	name    string
	family  string // integer, float, text, boolean, other: what a changed type must keep
	notNull bool
	dflt    bool // has a default
	pk      int  // position in the primary key, 1-based; 0 when not in it
}

// typeFamily groups SQL types by what the store reads and writes through them.
func typeFamily(t string) string {
	t = strings.ToLower(t)
	switch {
	case strings.Contains(t, "int") || t == "bigserial" || t == "serial":
		return "integer"
	case strings.Contains(t, "char") || strings.Contains(t, "text") || strings.Contains(t, "clob"):
		return "text"
	case strings.Contains(t, "float") || strings.Contains(t, "double") || strings.Contains(t, "real") || strings.Contains(t, "numeric"):
		return "float"
	case strings.Contains(t, "bool"):
		return "boolean"
	}
	return t
}

// columns introspects a table's columns: pragma table_info on SQLite,
// information_schema on PostgreSQL.
func (s *Store) columns(ctx context.Context, q queryer, table string) ([]column, error) {
	query := `SELECT name, type, "notnull", dflt_value IS NOT NULL, pk FROM pragma_table_info(?) ORDER BY cid`
	if s.dialect == dialectPostgres {
		query = `SELECT c.column_name, c.data_type, c.is_nullable = 'NO', c.column_default IS NOT NULL,
			COALESCE((SELECT k.ordinal_position FROM information_schema.table_constraints tc
				JOIN information_schema.key_column_usage k ON k.constraint_name = tc.constraint_name AND k.table_schema = tc.table_schema AND k.table_name = tc.table_name
				WHERE tc.table_schema = c.table_schema AND tc.table_name = c.table_name AND tc.constraint_type = 'PRIMARY KEY' AND k.column_name = c.column_name), 0)
			FROM information_schema.columns c WHERE c.table_schema = current_schema() AND c.table_name = $1 ORDER BY c.ordinal_position`
	}
	rows, err := q.QueryContext(ctx, query, table)
	if err != nil {
		return nil, dbError(err, "introspect table "+table)
	}
	defer rows.Close()
	var cols []column
	for rows.Next() {
		var c column
		var typ string
		if err := rows.Scan(&c.name, &typ, &c.notNull, &c.dflt, &c.pk); err != nil {
			return nil, dbError(err, "introspect table "+table)
		}
		c.family = typeFamily(typ)
		cols = append(cols, c)
	}
	return cols, dbError(rows.Err(), "introspect table "+table)
}

// expectedColumns are the columns of the tables this store uses in MLflow
// 3.11.1's schema, read from the embedded SQLite DDL by creating it in memory
// (the PostgreSQL DDL has the same columns).
func expectedColumns(ctx context.Context) (map[string][]column, error) {
	mem, err := Open(ctx, "sqlite://:memory:", Options{SchemaVersion: SchemaMLflow3, Logger: discardLogger()})
	if err != nil {
		return nil, err
	}
	defer mem.Close()
	want := map[string][]column{}
	for _, t := range append(slices.Clone(mlflowTables), mlflow3Tables...) {
		cols, err := mem.columns(ctx, mem.db, t)
		if err != nil {
			return nil, err
		}
		want[t] = cols
	}
	return want, nil
}

// checkNewerSchema compares the tables and columns this store uses with MLflow
// 3.11.1's: a newer MLflow may add tables, and columns that the store's inserts
// can leave out (nullable or with a default); it must not drop or rename a
// table or column the store uses, change its type's family, make it NOT NULL,
// or change a primary key (the store's upserts name them). The error lists
// every change found.
func (s *Store) checkNewerSchema(ctx context.Context, q queryer, rev string) error {
	want, err := expectedColumns(ctx)
	if err != nil {
		return err
	}
	var changes []string
	tables := make([]string, 0, len(want))
	for t := range want {
		tables = append(tables, t)
	}
	sort.Strings(tables)
	for _, t := range tables {
		got, err := s.columns(ctx, q, t)
		if err != nil {
			return err
		}
		if len(got) == 0 {
			changes = append(changes, fmt.Sprintf("table %s is missing", t))
			continue
		}
		have := map[string]column{}
		for _, c := range got {
			have[c.name] = c
		}
		known := map[string]bool{}
		for _, w := range want[t] {
			known[w.name] = true
			g, ok := have[w.name]
			switch {
			case !ok:
				changes = append(changes, fmt.Sprintf("column %s.%s is missing", t, w.name))
			case g.family != w.family:
				changes = append(changes, fmt.Sprintf("column %s.%s is %s, not %s", t, w.name, g.family, w.family))
			case g.notNull && !w.notNull && !g.dflt:
				changes = append(changes, fmt.Sprintf("column %s.%s became NOT NULL", t, w.name))
			case g.pk != w.pk:
				changes = append(changes, fmt.Sprintf("the primary key of %s changed (column %s)", t, w.name))
			}
		}
		for _, g := range got {
			if known[g.name] {
				continue
			}
			if g.notNull && !g.dflt {
				changes = append(changes, fmt.Sprintf("new column %s.%s is NOT NULL without a default, so the store's inserts would fail", t, g.name))
			}
			if g.pk > 0 {
				changes = append(changes, fmt.Sprintf("the primary key of %s changed (new column %s)", t, g.name))
			}
		}
	}
	if len(changes) > 0 {
		return fmt.Errorf("sqlstore: the database schema is at Alembic revision %s, newer than MLflow 3.11.1's (%s), and it changed what this server uses: %s",
			rev, RevisionMLflow3, strings.Join(changes, "; "))
	}
	return nil
}

// splitStatements splits an SQL script into its statements, each ending in ";"
// at the end of a line: not inside a $$-quoted PostgreSQL function body, nor
// inside a SQLite trigger's BEGIN ... END.
func splitStatements(script string) []string {
	var stmts []string
	var cur strings.Builder
	for _, line := range strings.SplitAfter(script, "\n") {
		if cur.Len() == 0 && (strings.TrimSpace(line) == "" || strings.HasPrefix(strings.TrimSpace(line), "--")) {
			continue
		}
		cur.WriteString(line)
		text := cur.String()
		trimmed := strings.TrimRight(text, " \t\n")
		if !strings.HasSuffix(trimmed, ";") || strings.Count(text, "$$")%2 == 1 {
			continue
		}
		if triggerRE.MatchString(text) && !strings.HasSuffix(trimmed, "END;") {
			continue
		}
		stmts = append(stmts, strings.TrimSuffix(trimmed, ";"))
		cur.Reset()
	}
	if strings.TrimSpace(stripComments(cur.String())) != "" {
		stmts = append(stmts, cur.String())
	}
	return stmts
}

var triggerRE = regexp.MustCompile(`(?is)^\s*CREATE\s+TRIGGER\b.*\bBEGIN\b`)

// statementTable is the table a DDL statement creates or changes ("" for one
// that belongs to no table, e.g. a function).
func statementTable(stmt string) string {
	for _, re := range statementTableREs {
		if m := re.FindStringSubmatch(stmt); m != nil {
			return m[1]
		}
	}
	return ""
}

var statementTableREs = []*regexp.Regexp{
	regexp.MustCompile(`^CREATE TABLE "?(\w+)"?`),
	regexp.MustCompile(`^ALTER TABLE (?:ONLY )?(\w+)`),
	regexp.MustCompile(`^CREATE (?:UNIQUE )?INDEX \w+ ON (\w+)`),
	regexp.MustCompile(`(?s)^CREATE TRIGGER \w+.*? ON (\w+)`),
	regexp.MustCompile(`^ALTER SEQUENCE \w+ OWNED BY (\w+)\.`),
	regexp.MustCompile(`^CREATE SEQUENCE (\w+?)_\w+_seq\b`),
	regexp.MustCompile(`^INSERT INTO (\w+)`),
}

// queryStrings runs a query whose rows are one string each.
func queryStrings(ctx context.Context, q queryer, query string, args ...any) ([]string, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v sql.NullString
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v.String)
	}
	return out, rows.Err()
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// registryKey is the conflict target of an upsert into a registry table whose
// primary key in MLflow 2.17.2's schema is cols: MLflow 3.11.1's puts the
// workspace column first in those keys (every row of ours is in workspace
// "default", the column's default).
func (s *Store) registryKey(cols string) string {
	if s.schema.LoggedModels {
		return "(workspace, " + cols + ")"
	}
	return "(" + cols + ")"
}
