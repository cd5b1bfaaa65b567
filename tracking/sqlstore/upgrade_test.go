package sqlstore_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mlops-lab/housing/internal/testenv"
	"github.com/mlops-lab/housing/tracking/sqlstore"
)

// mlflow3Upgrade migrates the database at $HOUSING_DB_URI as MLflow 3.11.1's
// `mlflow db upgrade` does (the command fails on an empty database; this is its
// body).
const mlflow3Upgrade = `
import os
from mlflow.store.db.utils import _upgrade_db, create_sqlalchemy_engine_with_retry
_upgrade_db(create_sqlalchemy_engine_with_retry(os.environ["HOUSING_DB_URI"]))
`

// mlflow3Create makes the schema on the empty database at $HOUSING_DB_URI as
// MLflow 3.11.1's server does when it starts: its tracking and registry stores.
const mlflow3Create = `
import os, tempfile
from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore
from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore as RegistryStore
SqlAlchemyStore(os.environ["HOUSING_DB_URI"], tempfile.mkdtemp())
RegistryStore(os.environ["HOUSING_DB_URI"])
`

func runMLflow3Python(t *testing.T, script, uri string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	if out, err := testenv.RunMLflowPython(ctx, testenv.MLflow3, script, "HOUSING_DB_URI="+uri); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
}

// TestUpgradeMatchesMLflow fills two databases at MLflow 2.17.2's schema
// through our store, upgrades one with Upgrade and the other with the real
// MLflow 3.11.1's migrations, and expects the same schema (every table, column,
// type, default, constraint and index; see schemaOf), which must also be the
// schema MLflow 3.11.1 creates on an empty database and the one this store
// creates, and the same rows, every one kept. Then the real MLflow 3.11.1
// starts on the database we upgraded without migrating anything and reads the
// same as our server does.
func TestUpgradeMatchesMLflow(t *testing.T) {
	testenv.RequireMLflow(t, testenv.MLflow3)
	for _, be := range interopBackends {
		t.Run(be.name, func(t *testing.T) {
			ctx := t.Context()
			ourURI, realURI, freshURI, oursFresh := be.uri(t), be.uri(t), be.uri(t), be.uri(t)
			for _, uri := range []string{ourURI, realURI} {
				st := mustOpenVersion(t, uri, sqlstore.SchemaMLflow2)
				fillInterop(ctx, t, st)
				st.Close()
			}
			before := tableRows(t, ourURI)

			from, err := sqlstore.Upgrade(ctx, ourURI, nil)
			if err != nil || from != sqlstore.RevisionMLflow2 {
				t.Fatalf("Upgrade = %q, %v", from, err)
			}
			if from, err := sqlstore.Upgrade(ctx, ourURI, nil); err != nil || from != sqlstore.RevisionMLflow3 {
				t.Errorf("Upgrade again = %q, %v; want nothing to do", from, err)
			}
			runMLflow3Python(t, mlflow3Upgrade, realURI)
			runMLflow3Python(t, mlflow3Create, freshURI)
			mustOpen(t, oursFresh).Close()

			got := schemaOf(t, ourURI, false)
			if want := schemaOf(t, realURI, false); !slices.Equal(got, want) {
				t.Errorf("the schema we upgraded to differs from MLflow 3.11.1's upgrade:\n%s", diffLines(got, want))
			}
			if want := structureOf(t, freshURI); !slices.Equal(structureOf(t, ourURI), want) {
				t.Errorf("the schema we upgraded to differs from a new MLflow 3.11.1 database:\n%s", diffLines(structureOf(t, ourURI), want))
			}
			if want := schemaOf(t, freshURI, false); !slices.Equal(schemaOf(t, oursFresh, false), want) {
				t.Errorf("the schema we create differs from a new MLflow 3.11.1 database:\n%s", diffLines(schemaOf(t, oursFresh, false), want))
			}
			extra := 0
			for _, l := range schemaOf(t, ourURI, true) {
				if strings.Contains(l, "housing_") {
					extra++
				}
			}
			if extra == 0 {
				t.Error("the housing_ indexes are gone after the upgrade")
			}

			after, mlflows := tableRows(t, ourURI), tableRows(t, realURI)
			for table, rows := range after {
				if !slices.Equal(rows, mlflows[table]) {
					t.Errorf("%s: rows after our upgrade differ from MLflow's:\n%s", table, diffLines(rows, mlflows[table]))
				}
			}
			for table, rows := range before {
				if len(after[table]) != len(rows) {
					t.Errorf("%s: %d rows before the upgrade, %d after", table, len(rows), len(after[table]))
				}
			}
			if len(before["registered_models"]) == 0 || len(before["model_versions"]) == 0 || len(before["metrics"]) == 0 {
				t.Fatalf("the filled database has no models, versions or metrics: %v", before)
			}

			ours := serveStore(t, ourURI, "")
			want := readInterop(ctx, t, ours.client, ours.url, false)
			ours.close()
			real := testenv.MLflowOn(t, testenv.MLflow3, ourURI, filepath.Join(t.TempDir(), "artifacts"))
			read := readInterop(ctx, t, restClient(t, real.URL), real.URL, false)
			real.Stop()
			log, _ := os.ReadFile(real.Log)
			if bytes.Contains(log, []byte("Running upgrade")) || bytes.Contains(log, []byte("Creating initial")) {
				t.Errorf("real MLflow 3.11.1 migrated the database we upgraded:\n%s", log)
			}
			noRaw := func(l string) bool { return strings.HasPrefix(l, "raw ") }
			read.lines, want.lines = slices.DeleteFunc(read.lines, noRaw), slices.DeleteFunc(want.lines, noRaw)
			compareReads(t, "real MLflow 3.11.1 on the database we upgraded", "our server", read, want, true, true)
		})
	}
}

// structureOf is the schema of the database at uri as its catalog holds it,
// whatever text created it: on SQLite each table's columns (type, NOT NULL,
// default, key position), foreign keys, indexes (unique, origin, columns),
// CHECK constraints and triggers; on PostgreSQL schemaOf's rows. Indexes
// named housing_* are left out.
func structureOf(t *testing.T, uri string) []string {
	t.Helper()
	if !strings.HasPrefix(uri, "sqlite:") {
		return schemaOf(t, uri, false)
	}
	db := openRaw(t, uri)
	var out []string
	for _, tr := range queryStrings(t, db, `SELECT name, COALESCE(sql, '') FROM sqlite_master WHERE type = 'table' ORDER BY name`) {
		table := tr[0]
		for _, r := range queryStrings(t, db, `SELECT name, type, "notnull", COALESCE(dflt_value, 'NULL'), pk FROM pragma_table_info(?) ORDER BY cid`, table) {
			out = append(out, table+" column "+strings.Join(r, " "))
		}
		for _, r := range queryStrings(t, db, `SELECT "table", group_concat("from"), group_concat("to"), on_update, on_delete FROM pragma_foreign_key_list(?) GROUP BY id ORDER BY 1, 2`, table) {
			out = append(out, table+" fk "+strings.Join(r, " "))
		}
		for _, r := range queryStrings(t, db, `SELECT name, "unique", origin, partial FROM pragma_index_list(?) ORDER BY name`, table) {
			if strings.HasPrefix(r[0], "housing_") {
				continue
			}
			var cols []string
			for _, c := range queryStrings(t, db, `SELECT COALESCE(name, '') FROM pragma_index_info(?) ORDER BY seqno`, r[0]) {
				cols = append(cols, c[0])
			}
			if strings.HasPrefix(r[0], "sqlite_autoindex_") {
				r[0] = "autoindex"
			}
			out = append(out, table+" index "+strings.Join(r, " ")+" ("+strings.Join(cols, ",")+")")
		}
		for _, part := range strings.Split(normalizeDDL(tr[1]), ", ") {
			if i := strings.Index(part, "CHECK "); i >= 0 {
				out = append(out, table+" check "+part[i:])
			}
		}
	}
	for _, r := range queryStrings(t, db, `SELECT name, tbl_name, sql FROM sqlite_master WHERE type IN ('trigger', 'view') ORDER BY name`) {
		out = append(out, "trigger "+strings.Join(strings.Fields(strings.Join(r, " ")), " "))
	}
	slices.Sort(out)
	return out
}

// TestUpgradeIsAtomic makes Upgrade fail late (an index of ours takes the name
// of one of MLflow 3.11.1's last indexes) and expects the database as it was:
// still at MLflow 2.17.2's revision, its tables unchanged, and our store still
// serving it.
func TestUpgradeIsAtomic(t *testing.T) {
	for _, be := range interopBackends {
		t.Run(be.name, func(t *testing.T) {
			uri := be.uri(t)
			st := mustOpenVersion(t, uri, sqlstore.SchemaMLflow2)
			if _, err := st.CreateExperiment(t.Context(), "kept", "", nil); err != nil {
				t.Fatal(err)
			}
			if _, err := st.DB().Exec(`CREATE INDEX index_issues_status ON runs (status)`); err != nil {
				t.Fatal(err)
			}
			st.Close()
			before := structureOf(t, uri)
			if _, err := sqlstore.Upgrade(t.Context(), uri, nil); err == nil || !strings.Contains(err.Error(), "index_issues_status") {
				t.Fatalf("Upgrade with a clashing index = %v", err)
			}
			if after := structureOf(t, uri); !slices.Equal(after, before) {
				t.Errorf("a failed upgrade changed the schema:\n%s", diffLines(after, before))
			}
			st = mustOpen(t, uri)
			if info := st.Schema(); info.Revision != sqlstore.RevisionMLflow2 {
				t.Errorf("after a failed upgrade: %+v", info)
			}
			if _, err := st.GetExperimentByName(t.Context(), "kept"); err != nil {
				t.Error(err)
			}
		})
	}
}
