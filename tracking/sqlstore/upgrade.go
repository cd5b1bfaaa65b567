package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"slices"
	"strings"
)

// The tables MLflow 3.11.1's migrations after f5a4f2784254 change (all other
// changes are new tables): on SQLite, rebuilt are those whose keys or foreign
// keys change, as MLflow's batch_alter_table rebuilds them; columns are added
// in place to the others, as MLflow's add_column does.
var (
	rebuiltTables = []string{"experiments", "registered_models", "registered_model_tags", "model_versions",
		"model_version_tags", "registered_model_aliases", "datasets"}
	addedColumns = []struct{ table, column string }{
		{"inputs", "step BIGINT DEFAULT '0' NOT NULL"},
		{"trace_info", "client_request_id VARCHAR(50)"},
		{"trace_info", "request_preview VARCHAR(1000)"},
		{"trace_info", "response_preview VARCHAR(1000)"},
	}
)

// postgresUpgrade are the changes to MLflow 2.17.2's tables, on PostgreSQL,
// that MLflow 3.11.1's migrations make (0584bdc529eb: datasets cascade with
// their experiment; 6953534de441: inputs.step; bda7b8c39065: a version tag's
// value is TEXT; cbc13b556ace: trace_info's v3 columns; 1b5f0d9ad7c1: every
// experiment and registry row in a workspace, "default", which leads the
// registry's keys). Columns are added at the end, as MLflow adds them, so the
// tables come out column for column as MLflow's. "drop" steps name the
// constraint to drop by what it is (found by introspection: its name depends on
// who created the database), the others are SQL.
var postgresUpgrade = []struct {
	drop     string // "table contype [referenced table]"
	sql      string
	required bool // the constraint to drop must exist
}{
	{drop: "experiments u", required: true},
	{sql: `ALTER TABLE experiments ADD COLUMN workspace VARCHAR(63) DEFAULT 'default' NOT NULL`},
	{sql: `ALTER TABLE experiments ADD CONSTRAINT uq_experiments_workspace_name UNIQUE (workspace, name)`},
	{drop: "datasets f experiments", required: true},
	{sql: `ALTER TABLE datasets ADD CONSTRAINT fk_datasets_experiment_id_experiments FOREIGN KEY(experiment_id) REFERENCES experiments (experiment_id) ON DELETE CASCADE`},
	{sql: `ALTER TABLE inputs ADD COLUMN step BIGINT DEFAULT '0' NOT NULL`},
	{sql: `ALTER TABLE trace_info ADD COLUMN client_request_id VARCHAR(50), ADD COLUMN request_preview VARCHAR(1000), ADD COLUMN response_preview VARCHAR(1000)`},
	{sql: `ALTER TABLE model_version_tags ALTER COLUMN value TYPE TEXT`},
	{drop: "model_version_tags f model_versions", required: true},
	{drop: "model_versions f registered_models", required: true},
	{drop: "registered_model_tags f registered_models", required: true},
	{drop: "registered_model_aliases f registered_models", required: true},
	{drop: "model_version_tags p", required: true},
	{drop: "model_versions p", required: true},
	{drop: "registered_model_tags p", required: true},
	{drop: "registered_model_aliases p", required: true},
	{drop: "registered_models p", required: true},
	{sql: `ALTER TABLE registered_models ADD COLUMN workspace VARCHAR(63) DEFAULT 'default' NOT NULL`},
	{sql: `ALTER TABLE registered_model_tags ADD COLUMN workspace VARCHAR(63) DEFAULT 'default' NOT NULL`},
	{sql: `ALTER TABLE model_versions ADD COLUMN workspace VARCHAR(63) DEFAULT 'default' NOT NULL`},
	{sql: `ALTER TABLE model_version_tags ADD COLUMN workspace VARCHAR(63) DEFAULT 'default' NOT NULL`},
	{sql: `ALTER TABLE registered_model_aliases ADD COLUMN workspace VARCHAR(63) DEFAULT 'default' NOT NULL`},
	{sql: `ALTER TABLE registered_models ADD CONSTRAINT registered_model_pk PRIMARY KEY (workspace, name)`},
	{sql: `ALTER TABLE model_versions ADD CONSTRAINT model_version_pk PRIMARY KEY (workspace, name, version)`},
	{sql: `ALTER TABLE registered_model_tags ADD CONSTRAINT registered_model_tag_pk PRIMARY KEY (workspace, "key", name)`},
	{sql: `ALTER TABLE model_version_tags ADD CONSTRAINT model_version_tag_pk PRIMARY KEY (workspace, "key", name, version)`},
	{sql: `ALTER TABLE registered_model_aliases ADD CONSTRAINT registered_model_alias_pk PRIMARY KEY (workspace, name, alias)`},
	{sql: `ALTER TABLE model_versions ADD CONSTRAINT fk_model_versions_registered_models FOREIGN KEY(workspace, name) REFERENCES registered_models (workspace, name) ON UPDATE CASCADE`},
	{sql: `ALTER TABLE registered_model_tags ADD CONSTRAINT fk_registered_model_tags_registered_models FOREIGN KEY(workspace, name) REFERENCES registered_models (workspace, name) ON UPDATE CASCADE`},
	{sql: `ALTER TABLE registered_model_aliases ADD CONSTRAINT fk_registered_model_aliases_registered_models FOREIGN KEY(workspace, name) REFERENCES registered_models (workspace, name) ON DELETE CASCADE ON UPDATE CASCADE`},
	{sql: `ALTER TABLE model_version_tags ADD CONSTRAINT fk_model_version_tags_model_versions FOREIGN KEY(workspace, name, version) REFERENCES model_versions (workspace, name, version) ON UPDATE CASCADE`},
}

// Upgrade migrates the database at uri in place from MLflow 2.17.2's schema
// (f5a4f2784254) to MLflow 3.11.1's (c3d6457b6d8a), every row kept, to the
// schema MLflow 3.11.1's own `mlflow db upgrade` makes of it: in one
// transaction, on SQLite rebuilding the tables MLflow's batch migrations
// rebuild (foreign keys off meanwhile, checked before the commit). The housing_
// indexes stay. It returns the revision the database was at; a database
// already at c3d6457b6d8a is left alone. Any other revision is refused: older
// ones go through MLflow 2.17.2's `mlflow db upgrade` first.
func Upgrade(ctx context.Context, uri string, logger *slog.Logger) (string, error) {
	if logger == nil {
		logger = slog.Default()
	}
	s := &Store{log: logger}
	var db *sql.DB
	switch {
	case strings.HasPrefix(uri, "sqlite:"):
		path, memory := sqlitePath(uri)
		if memory {
			return "", errors.New("sqlstore: an in-memory SQLite database has nothing to upgrade")
		}
		if _, err := os.Stat(path); err != nil {
			return "", fmt.Errorf("sqlstore: no database to upgrade: %w", err)
		}
		// No foreign_keys pragma: SQLite checks no keys while tables are
		// rebuilt (it cannot be turned off inside a transaction).
		var err error
		if db, err = sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)&_txlock=immediate"); err != nil {
			return "", fmt.Errorf("sqlstore: open %s: %w", uri, err)
		}
		db.SetMaxOpenConns(1)
		s.dialect = dialectSQLite
	case isPostgresURI(uri):
		if err := s.openPostgres(uri); err != nil {
			return "", err
		}
		db = s.db
	default:
		return "", fmt.Errorf("sqlstore: unsupported database URI %q: want sqlite:///path.db or postgresql://...", redact(uri))
	}
	defer db.Close()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return "", upgradeError(err, "connect to "+redact(uri))
	}
	defer tx.Rollback()
	tables, err := s.tableNames(ctx, tx)
	if err != nil {
		return "", err
	}
	if !tables["alembic_version"] {
		return "", fmt.Errorf("sqlstore: %s has no alembic_version table: not an MLflow database (a new one needs no upgrade: the server creates MLflow 3.11.1's schema)", redact(uri))
	}
	var rev string
	if err := tx.QueryRowContext(ctx, `SELECT version_num FROM alembic_version`).Scan(&rev); err != nil {
		return "", upgradeError(err, "read alembic_version")
	}
	switch rev {
	case RevisionMLflow3:
		return rev, nil
	case RevisionMLflow2:
	default:
		if _, err := s.checkRevision(ctx, tx, rev, tables); err != nil {
			return rev, err
		}
		return rev, fmt.Errorf("sqlstore: the database is at Alembic revision %s; this upgrade migrates MLflow 2.17.2's revision %s to MLflow 3.11.1's %s only", rev, RevisionMLflow2, RevisionMLflow3)
	}
	for _, t := range mlflowTables {
		if !tables[t] {
			return rev, fmt.Errorf("sqlstore: the database is at revision %s but lacks table %s", rev, t)
		}
	}
	file := "schema/sqlite-3.11.1.sql"
	if s.dialect == dialectPostgres {
		file = "schema/postgres-3.11.1.sql"
	}
	ddl, err := schemaFS.ReadFile(file)
	if err != nil {
		return rev, err
	}
	stmts := splitStatements(string(ddl))
	if s.dialect == dialectPostgres {
		err = upgradePostgres(ctx, tx)
	} else {
		err = upgradeSQLite(ctx, tx, stmts)
	}
	if err != nil {
		return rev, err
	}
	// The new tables, their keys, indexes and triggers, the function of
	// PostgreSQL's trigger, and the default workspace, as a new database gets
	// them: every statement of the 3.11.1 DDL that is not about a table that
	// was there.
	// And the indexes it has on the tables that were there (on SQLite also
	// those the rebuilt tables lost).
	indexQuery := `SELECT name FROM sqlite_master WHERE type = 'index'`
	if s.dialect == dialectPostgres {
		indexQuery = `SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()`
	}
	for _, stmt := range stmts {
		if t := statementTable(stmt); t != "" && tables[t] {
			m := indexNameRE.FindStringSubmatch(stmt)
			if m == nil {
				continue
			}
			have, err := queryStrings(ctx, tx, indexQuery)
			if err != nil {
				return rev, upgradeError(err, "list indexes")
			}
			if slices.Contains(have, m[1]) {
				continue
			}
		}
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return rev, upgradeError(err, "create MLflow 3.11.1's tables and indexes")
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE alembic_version SET version_num = '`+RevisionMLflow3+`'`); err != nil {
		return rev, upgradeError(err, "set alembic_version")
	}
	if s.dialect == dialectSQLite {
		bad, err := queryStrings(ctx, tx, `SELECT "table" FROM pragma_foreign_key_check`)
		if err != nil {
			return rev, upgradeError(err, "check foreign keys")
		}
		if len(bad) > 0 {
			return rev, fmt.Errorf("sqlstore: after the upgrade, rows of %v break their foreign keys; nothing was changed", slices.Compact(bad))
		}
	}
	if err := tx.Commit(); err != nil {
		return rev, upgradeError(err, "commit the upgrade")
	}
	logger.Info("upgraded the database to MLflow 3.11.1's schema", "from", rev, "to", RevisionMLflow3)
	return rev, nil
}

// upgradeSQLite rebuilds rebuiltTables from their 3.11.1 definitions as
// MLflow's batch migrations do (create _alembic_tmp_<table>, copy the rows,
// drop the table, rename the copy; Upgrade then creates its indexes), and adds
// addedColumns.
func upgradeSQLite(ctx context.Context, tx *sql.Tx, stmts []string) error {
	for _, table := range rebuiltTables {
		var create string
		for _, stmt := range stmts {
			if statementTable(stmt) == table && strings.HasPrefix(stmt, "CREATE TABLE ") {
				create = stmt
			}
		}
		if create == "" {
			return fmt.Errorf("sqlstore: no definition of %s in MLflow 3.11.1's schema", table)
		}
		tmp := "_alembic_tmp_" + table
		head, rest, _ := strings.Cut(create, "(")
		head = strings.NewReplacer(`"`+table+`"`, tmp, " "+table+" ", " "+tmp+" ").Replace(head + " ")
		old, err := queryStrings(ctx, tx, `SELECT name FROM pragma_table_info(?)`, table)
		if err != nil {
			return upgradeError(err, "read the columns of "+table)
		}
		if _, err := tx.ExecContext(ctx, strings.TrimSpace(head)+" ("+rest); err != nil {
			return upgradeError(err, "create "+tmp)
		}
		cols := make([]string, len(old))
		for i, c := range old {
			cols[i] = `"` + c + `"`
		}
		list := strings.Join(cols, ", ")
		for _, stmt := range []string{
			`INSERT INTO ` + tmp + ` (` + list + `) SELECT ` + list + ` FROM ` + table,
			`DROP TABLE ` + table,
			`ALTER TABLE ` + tmp + ` RENAME TO ` + table,
		} {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return upgradeError(err, "rebuild "+table)
			}
		}
	}
	for _, c := range addedColumns {
		if _, err := tx.ExecContext(ctx, `ALTER TABLE `+c.table+` ADD COLUMN `+c.column); err != nil {
			return upgradeError(err, "add a column to "+c.table)
		}
	}
	return nil
}

var indexNameRE = regexp.MustCompile(`^CREATE (?:UNIQUE )?INDEX (\w+) ON `)

// upgradePostgres runs postgresUpgrade.
func upgradePostgres(ctx context.Context, tx *sql.Tx) error {
	for _, step := range postgresUpgrade {
		if step.sql != "" {
			if _, err := tx.ExecContext(ctx, step.sql); err != nil {
				return upgradeError(err, "upgrade: "+step.sql)
			}
			continue
		}
		f := strings.Fields(step.drop)
		table, kind := f[0], f[1]
		query := `SELECT conname FROM pg_constraint WHERE conrelid = $1::regclass AND contype = $2`
		args := []any{table, kind}
		if len(f) == 3 {
			query += ` AND confrelid = $3::regclass`
			args = append(args, f[2])
		}
		names, err := queryStrings(ctx, tx, query, args...)
		if err != nil {
			return upgradeError(err, "find the constraints of "+table)
		}
		if len(names) == 0 && step.required {
			return fmt.Errorf("sqlstore: the database lacks a constraint of MLflow 2.17.2's schema (%s)", step.drop)
		}
		for _, n := range names {
			if _, err := tx.ExecContext(ctx, `ALTER TABLE `+table+` DROP CONSTRAINT "`+n+`"`); err != nil {
				return upgradeError(err, "drop constraint "+n)
			}
		}
	}
	return nil
}

// upgradeError keeps the database's own message: the one who runs the upgrade
// needs it (the server's dbError keeps it from API clients).
func upgradeError(err error, op string) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("sqlstore: upgrade: %s: %w", op, err)
}
