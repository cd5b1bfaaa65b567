package sqlstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mlops-lab/housing/internal/testenv"
	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/sqlstore"
)

func TestOpenExistingDatabaseInPlace(t *testing.T) {
	uri := "sqlite:///" + filepath.Join(t.TempDir(), "mlflow.db")
	s := mustOpen(t, uri)
	id, err := s.CreateExperiment(t.Context(), "kept", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()

	again := mustOpen(t, uri)
	e, err := again.GetExperiment(t.Context(), id)
	if err != nil || e.Name != "kept" {
		t.Fatalf("reopened: experiment %+v, %v", e, err)
	}
	page, err := again.SearchExperiments(t.Context(), tracking.ExperimentQuery{ViewType: tracking.ViewAll})
	if err != nil || len(page.Items) != 2 {
		t.Errorf("reopened database has %d experiments (%v), want Default and kept only", len(page.Items), err)
	}
}

// TestOpenAddsExtraIndexes opens a database that has MLflow's schema exactly (the
// extra indexes dropped, and on PostgreSQL the housing schema with the triggers, as MLflow
// itself creates it) and expects them back.
func TestOpenAddsExtraIndexes(t *testing.T) {
	for _, tc := range []struct {
		name, list string
		uri        func(t testing.TB) string
	}{
		{"sqlite", `SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'housing\_%' ESCAPE '\'`, sqliteURI},
		{"postgresql", `SELECT indexname FROM pg_indexes WHERE indexname LIKE 'housing\_%'`, testenv.PostgresURI},
	} {
		t.Run(tc.name, func(t *testing.T) {
			uri := tc.uri(t)
			s := mustOpen(t, uri)
			for _, idx := range sqlstore.ExtraIndexes {
				if _, err := s.DB().Exec(`DROP INDEX ` + idx); err != nil {
					t.Fatal(err)
				}
			}
			if got := queryStrings(t, s.DB(), tc.list); len(got) != 0 {
				t.Fatalf("indexes left after DROP: %v", got)
			}
			const triggers = `SELECT tgname FROM pg_trigger WHERE tgrelid = 'metrics'::regclass AND NOT tgisinternal`
			if tc.name == "postgresql" {
				for _, stmt := range []string{`DROP SCHEMA housing CASCADE`} {
					if _, err := s.DB().Exec(stmt); err != nil {
						t.Fatal(err)
					}
				}
				if got := queryStrings(t, s.DB(), triggers); len(got) != 0 {
					t.Fatalf("triggers left after DROP: %v", got)
				}
			}
			s.Close()
			again := mustOpen(t, uri)
			var got []string
			for _, r := range queryStrings(t, again.DB(), tc.list) {
				got = append(got, r[0])
			}
			if !slices.Equal(sorted(got), sorted(sqlstore.ExtraIndexes)) {
				t.Errorf("indexes after reopening = %v, want %v", got, sqlstore.ExtraIndexes)
			}
			if tc.name == "postgresql" {
				var got []string
				for _, r := range queryStrings(t, again.DB(), triggers) {
					got = append(got, r[0])
				}
				if !slices.Equal(sorted(got), sorted(sqlstore.ExtraPostgres.Triggers)) {
					t.Errorf("triggers after reopening = %v, want %v", got, sqlstore.ExtraPostgres.Triggers)
				}
			}
		})
	}
}

// TestOpenRefusesOtherRevision refuses a database at a revision older than
// MLflow 2.17.2's, to be upgraded by MLflow 2.17.2 and then by us, and one an
// MLflow 3 older than 3.11.1 left between 2.17.2's and 3.11.1's revisions.
func TestOpenRefusesOtherRevision(t *testing.T) {
	for _, be := range []struct {
		name string
		uri  func(t testing.TB) string
	}{{"sqlite", sqliteURI}, {"postgresql", testenv.PostgresURI}} {
		for _, tc := range []struct {
			name, rev string
			want      []string
		}{
			{"older", "4465047574b1", []string{"4465047574b1", "f5a4f2784254", "MLflow 2.17.2's `mlflow db upgrade <database-uri>`", "`tracking-server db upgrade <database-uri>`"}},
			{"between", "1b5f0d9ad7c1", []string{"1b5f0d9ad7c1", "MLflow 3.11.1's `mlflow db upgrade <database-uri>`", "c3d6457b6d8a"}},
		} {
			t.Run(be.name+"/"+tc.name, func(t *testing.T) {
				uri := be.uri(t)
				s := mustOpen(t, uri)
				if _, err := s.DB().Exec(`UPDATE alembic_version SET version_num = '` + tc.rev + `'`); err != nil {
					t.Fatal(err)
				}
				s.Close()
				_, err := sqlstore.Open(t.Context(), uri, sqlstore.Options{})
				if err == nil {
					t.Fatal("opened a database at another revision")
				}
				for _, want := range tc.want {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q does not mention %q", err, want)
					}
				}
			})
		}
	}
}

func TestOpenRefusesForeignDatabase(t *testing.T) {
	uri := sqliteURI(t)
	s := mustOpen(t, uri)
	if _, err := s.DB().Exec(`DROP TABLE alembic_version`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := sqlstore.Open(t.Context(), uri, sqlstore.Options{}); err == nil || !strings.Contains(err.Error(), "alembic_version") {
		t.Errorf("open without alembic_version: %v", err)
	}
}

func TestURIForms(t *testing.T) {
	dir := t.TempDir()
	for _, uri := range []string{"sqlite://:memory:", "sqlite:///:memory:", "sqlite:////" + strings.TrimPrefix(filepath.Join(dir, "abs.db"), "/")} {
		s, err := sqlstore.Open(t.Context(), uri, sqlstore.Options{})
		if err != nil {
			t.Errorf("open %s: %v", uri, err)
			continue
		}
		if _, err := s.GetExperiment(t.Context(), "0"); err != nil {
			t.Errorf("%s: Default experiment: %v", uri, err)
		}
		s.Close()
	}
	if _, err := sqlstore.Open(t.Context(), "mysql://x", sqlstore.Options{}); err == nil {
		t.Error("opened a mysql URI")
	}
}

// A database that cannot be reached is TEMPORARILY_UNAVAILABLE (so clients retry),
// never "does not exist".
func TestUnreachableIsTemporarilyUnavailable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, err = sqlstore.Open(ctx, fmt.Sprintf("postgresql://u:p@%s/db?sslmode=disable&connect_timeout=2", addr), sqlstore.Options{})
	if code := tracking.ErrorCodeOf(err); code != tracking.ErrTemporarilyUnavailable {
		t.Fatalf("open of an unreachable server: code %s (%v), want TEMPORARILY_UNAVAILABLE", code, err)
	}
	if strings.Contains(err.Error(), ":p@") {
		t.Errorf("error leaks the password: %v", err)
	}

	// A store whose database goes away mid-life answers the same: reach the
	// server through a proxy, then cut it.
	u, err := url.Parse(testenv.PostgresURI(t))
	if err != nil {
		t.Fatal(err)
	}
	p := startProxy(t, u.Host)
	u.Host = p.addr
	s := mustOpen(t, u.String())
	if _, err := s.GetExperiment(t.Context(), "0"); err != nil {
		t.Fatal(err)
	}
	p.Close()
	_, err = s.GetExperiment(t.Context(), "0")
	if code := tracking.ErrorCodeOf(err); code != tracking.ErrTemporarilyUnavailable {
		t.Errorf("get with the database gone: code %s (%v: %#v), want TEMPORARILY_UNAVAILABLE", code, err, errors.Unwrap(err))
	}
	if code := tracking.ErrorCodeOf(s.Ping(t.Context())); code != tracking.ErrTemporarilyUnavailable {
		t.Errorf("ping: code %s, want TEMPORARILY_UNAVAILABLE", code)
	}
	_, err = s.CreateRun(t.Context(), tracking.CreateRun{ExperimentID: "0"})
	if tracking.IsNotFound(err) || tracking.ErrorCodeOf(err) != tracking.ErrTemporarilyUnavailable {
		t.Errorf("create run with the database gone: %v, want TEMPORARILY_UNAVAILABLE", err)
	}
}

// proxy forwards TCP connections to a server until closed.
type proxy struct {
	addr  string
	l     net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func startProxy(t *testing.T, target string) *proxy {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{addr: l.Addr().String(), l: l}
	t.Cleanup(p.Close)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { io.Copy(up, c); up.Close() }()
			go func() { io.Copy(c, up); c.Close() }()
		}
	}()
	return p
}

// Close stops accepting and cuts every forwarded connection.
func (p *proxy) Close() {
	p.l.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
}

// TestOpenNewerRevision opens a database at a revision newer than MLflow
// 3.11.1's (one this store does not know) when the tables and columns it uses
// are as it expects, with a warning naming the revision, and refuses it,
// naming what changed, when a newer MLflow dropped or renamed one of them.
func TestOpenNewerRevision(t *testing.T) {
	const newer = "0123456789ab"
	for _, be := range []struct {
		name string
		uri  func(t testing.TB) string
	}{{"sqlite", sqliteURI}, {"postgresql", testenv.PostgresURI}} {
		for _, tc := range []struct {
			name   string
			alter  []string
			refuse []string // what the error must name; nil: opens
		}{
			{"added", []string{`ALTER TABLE runs ADD COLUMN newer_note VARCHAR(100)`, `CREATE TABLE newer_things (id INTEGER PRIMARY KEY)`}, nil},
			// SQLite drops no column an index names: a migration dropping it drops the index first.
			{"dropped", []string{`DROP INDEX housing_tags_key_value`, `ALTER TABLE tags DROP COLUMN value`}, []string{"column tags.value is missing"}},
			{"renamed", []string{`ALTER TABLE experiments RENAME COLUMN artifact_location TO artifact_uri`}, []string{"column experiments.artifact_location is missing"}},
			{"retyped", []string{`ALTER TABLE logged_models DROP COLUMN status_message`, `ALTER TABLE logged_models ADD COLUMN status_message BIGINT`},
				[]string{"column logged_models.status_message is integer, not text"}},
		} {
			t.Run(be.name+"/"+tc.name, func(t *testing.T) {
				uri := be.uri(t)
				s := mustOpen(t, uri)
				for _, stmt := range append(tc.alter, `UPDATE alembic_version SET version_num = '`+newer+`'`) {
					if _, err := s.DB().Exec(stmt); err != nil {
						t.Fatalf("%s: %v", stmt, err)
					}
				}
				s.Close()
				var log bytes.Buffer
				s, err := sqlstore.Open(t.Context(), uri, sqlstore.Options{Logger: slog.New(slog.NewTextHandler(&log, nil))})
				if tc.refuse == nil {
					if err != nil {
						t.Fatalf("refused a newer revision whose tables we use are unchanged: %v", err)
					}
					defer s.Close()
					if info := s.Schema(); info.Revision != newer || !info.LoggedModels || info.Version != sqlstore.SchemaMLflow3 {
						t.Errorf("Schema() = %+v", info)
					}
					if !strings.Contains(log.String(), "level=WARN") || !strings.Contains(log.String(), newer) {
						t.Errorf("no warning naming revision %s: %s", newer, log.String())
					}
					return
				}
				if err == nil {
					s.Close()
					t.Fatal("opened a newer revision that changed a column the store uses")
				}
				for _, want := range append(tc.refuse, newer, sqlstore.RevisionMLflow3) {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q does not name %q", err, want)
					}
				}
			})
		}
	}
}

// TestOpenMLflow2Schema opens a database at MLflow 2.17.2's schema with the
// MLflow 3 features off, a warning naming the upgrade command, and the error a
// logged-model request gets.
func TestOpenMLflow2Schema(t *testing.T) {
	uri := sqliteURI(t)
	mustOpenVersion(t, uri, sqlstore.SchemaMLflow2).Close()
	var log bytes.Buffer
	s, err := sqlstore.Open(t.Context(), uri, sqlstore.Options{Logger: slog.New(slog.NewTextHandler(&log, nil)), SchemaVersion: sqlstore.SchemaMLflow3})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	info := s.Schema()
	if info.Version != sqlstore.SchemaMLflow2 || info.Revision != sqlstore.RevisionMLflow2 || info.LoggedModels {
		t.Errorf("Schema() = %+v", info)
	}
	if !strings.Contains(log.String(), "level=WARN") || !strings.Contains(log.String(), "tracking-server db upgrade <database-uri>") {
		t.Errorf("no warning naming the upgrade: %s", log.String())
	}
	err = info.RequireMLflow3("logged models")
	if err == nil || !strings.Contains(err.Error(), "run `tracking-server db upgrade <database-uri>`") || !strings.Contains(err.Error(), "MLflow 2.17.2's schema") {
		t.Errorf("RequireMLflow3 = %v", err)
	}
	if err := (sqlstore.SchemaInfo{Version: sqlstore.SchemaMLflow3, LoggedModels: true}).RequireMLflow3("logged models"); err != nil {
		t.Errorf("RequireMLflow3 at 3.11.1 = %v", err)
	}
}
