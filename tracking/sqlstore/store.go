package sqlstore

import (
	"context"
	crand "crypto/rand"
	"database/sql"
	"embed"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	_ "modernc.org/sqlite"             // database/sql driver "sqlite"

	"github.com/mlops-lab/housing/tracking"
)

// SchemaRevision is the Alembic revision of MLflow 2.17.2's schema, the only one
// this store creates and opens.
const SchemaRevision = "f5a4f2784254"

// olderRevisions are the Alembic revisions of MLflow 2.17.2's migrations
// before SchemaRevision (mlflow/store/db_migrations/versions): its `mlflow db
// upgrade` brings a database at one of them to SchemaRevision. Any other
// revision is one a newer MLflow migrated to, and no MLflow migrates back.
var olderRevisions = map[string]bool{
	"451aebb31d03": true, "90e64c465722": true, "181f10493468": true, "df50e92ffc5e": true, "7ac759974ad8": true,
	"89d4b8295536": true, "2b4d017a5e9b": true, "cfd24bdc0731": true, "0a8213491aaa": true, "728d730b5ebd": true,
	"27a6a02d2cf1": true, "84291f40a231": true, "a8c4a736bde6": true, "39d1c3be5f05": true, "c48cb773bb87": true,
	"bd07f7e963c5": true, "0c779009ac13": true, "cc1f77228345": true, "97727af70f4d": true, "3500859a5d39": true,
	"7f2a7d5fae7d": true, "2d6e25af4d3e": true, "acf3f17fdcc7": true, "867495a8f9d4": true, "5b0e9adcef9c": true,
	"4465047574b1": true,
}

//go:embed schema/sqlite.sql schema/postgres.sql schema/housing.sql
var schemaFS embed.FS

// Options configure a Store. The zero value works.
type Options struct {
	// DefaultArtifactRoot is where experiments created without an artifact
	// location keep their artifacts: <root>/<experiment id>. Default "./mlruns";
	// a relative path (or file: URI) is made absolute against the working
	// directory when the store opens, as MLflow's store does.
	DefaultArtifactRoot string
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Rand draws generated run names; default a generator seeded from crypto/rand.
	// The store serializes its use.
	Rand *rand.Rand
	// Logger receives internal errors and schema set-up; default slog.Default().
	Logger *slog.Logger
}

type dialect int

const (
	dialectSQLite dialect = iota + 1
	dialectPostgres
)

func (d dialect) String() string {
	if d == dialectPostgres {
		return "postgresql"
	}
	return "sqlite"
}

// Store is a tracking.Store on MLflow's database schema, on SQLite or PostgreSQL.
// It is safe for concurrent use.
type Store struct {
	db *sql.DB
	// writer runs the write transactions of a SQLite file, on its own single
	// connection (nil elsewhere: writes go through db). SQLite lets one writer in
	// at a time; writers queued in Go beat SQLITE_BUSY retries, whose sleeps (up
	// to 100 ms each) collapse throughput under concurrent clients, and queued
	// writers share commits (see groupWriter).
	writer *groupWriter
	// reads keeps read queries prepared on SQLite (nil on PostgreSQL).
	reads   *readStmts
	dialect dialect
	root    string
	now     func() time.Time
	log     *slog.Logger

	randMu sync.Mutex
	rand   *rand.Rand

	// rebound caches queries rewritten from ? to $n placeholders for PostgreSQL.
	rebound sync.Map

	// sortRunsBelow is where SQLite searches ordered by a metric switch from
	// sorting the experiments' runs to walking the metric's index (see fewRuns);
	// a field so that tests can hold both paths to the same answers.
	sortRunsBelow int
	// fewRunsSeen remembers fewRuns' recent answers (see fewRunsMemory).
	fewRunsSeen fewRunsMemory
	// loggedModels says that the database has MLflow 3's logged model tables
	// (looked up once, at Open); without them the logged-model calls fail.
	loggedModels bool
}

var _ tracking.Store = (*Store)(nil)

// Open connects to the database at uri, creates MLflow 2.17.2's schema (and the
// Default experiment) when the database is empty, and refuses a database at any
// other schema revision. On a new database and on an existing one at the supported
// revision it also creates, if they are missing, the indexes of ExtraIndexes
// (additive only; MLflow ignores them). uri is one of
//
//	sqlite:///relative/path.db   sqlite:////absolute/path.db   sqlite://:memory:
//	postgresql://user:pass@host:port/db?sslmode=disable  (also postgres://, postgresql+psycopg2://)
//
// An unreachable database is TEMPORARILY_UNAVAILABLE.
func Open(ctx context.Context, uri string, opt Options) (*Store, error) {
	s := &Store{root: opt.DefaultArtifactRoot, now: opt.Now, log: opt.Logger, rand: opt.Rand, sortRunsBelow: defaultSortRunsBelow}
	if s.root == "" {
		s.root = "./mlruns"
	}
	// As MLflow's store, a relative root is taken from the working directory
	// now, so that experiments' locations stay valid from anywhere.
	root, err := tracking.ResolveURIIfLocal(s.root)
	if err != nil {
		return nil, err
	}
	s.root = root
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.rand == nil {
		var seed [16]byte
		_, _ = crand.Read(seed[:])
		s.rand = rand.New(rand.NewPCG(binary.LittleEndian.Uint64(seed[:8]), binary.LittleEndian.Uint64(seed[8:])))
	}
	switch {
	case strings.HasPrefix(uri, "sqlite:"):
		err = s.openSQLite(uri)
	case strings.HasPrefix(uri, "postgresql://"), strings.HasPrefix(uri, "postgres://"),
		strings.HasPrefix(uri, "postgresql+psycopg2://"), strings.HasPrefix(uri, "postgresql+psycopg://"),
		strings.HasPrefix(uri, "postgresql+pg8000://"):
		err = s.openPostgres(uri)
	default:
		return nil, fmt.Errorf("sqlstore: unsupported database URI %q: want sqlite:///path.db or postgresql://...", redact(uri))
	}
	if err != nil {
		return nil, err
	}
	if err := s.db.PingContext(ctx); err != nil {
		s.Close()
		return nil, dbError(err, "connect to "+redact(uri))
	}
	if err := s.initSchema(ctx); err != nil {
		s.Close()
		return nil, err
	}
	tables, err := s.tableNames(ctx, s.db)
	if err != nil {
		s.Close()
		return nil, err
	}
	s.loggedModels = tables["logged_models"]
	return s, nil
}

func (s *Store) openSQLite(uri string) error {
	rest := strings.TrimPrefix(uri, "sqlite:")
	rest = strings.TrimPrefix(rest, "//")
	if i := strings.IndexByte(rest, '?'); i >= 0 {
		rest = rest[:i]
	}
	memory := rest == "" || rest == ":memory:" || rest == "/:memory:" || rest == "/"
	path := strings.TrimPrefix(rest, "/")
	if memory {
		path = ":memory:"
	}
	// Writers take the lock when they begin (immediate), so two writers wait
	// for each other under the busy timeout instead of failing on the upgrade
	// from reader to writer; read-only transactions stay deferred.
	//
	// WAL with synchronous=NORMAL syncs at checkpoints, not at every commit: a
	// commit survives a crash of the process, but the last ones can be lost if
	// the machine loses power (the database stays consistent). MLflow's own
	// SQLite store runs SQLite's default rollback journal, which is not safer
	// against the processes of several workers than this is.
	//
	// Each connection keeps at most 8 MiB of pages (5 connections) and maps
	// nothing: a memory map counts every page read into the server's resident
	// memory once per connection; the OS page cache still holds the file.
	//
	// Temporary storage is in memory: the group writer runs each request in a
	// savepoint, whose statement journal would otherwise be a temporary file
	// written (pwrite) page by page for every request; it holds only the pages
	// one request changes.
	dsn := path + "?_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_txlock=immediate&_pragma=temp_store(MEMORY)"
	if !memory {
		dsn += "&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=cache_size(-8192)"
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return fmt.Errorf("sqlstore: open %s: %w", uri, err)
	}
	s.dialect = dialectSQLite
	if memory {
		// Every connection to :memory: is its own database: keep exactly one.
		db.SetMaxOpenConns(1)
		db.SetConnMaxLifetime(0)
		db.SetConnMaxIdleTime(0)
		s.db = db
		return nil
	}
	db.SetMaxOpenConns(4)
	db.SetMaxIdleConns(4)
	wdb, err := sql.Open("sqlite", dsn)
	if err != nil {
		db.Close()
		return fmt.Errorf("sqlstore: open %s: %w", uri, err)
	}
	wdb.SetMaxOpenConns(1)
	wdb.SetMaxIdleConns(1)
	wdb.SetConnMaxLifetime(0)
	wdb.SetConnMaxIdleTime(0)
	s.db, s.writer, s.reads = db, newGroupWriter(s, wdb), newReadStmts(db)
	return nil
}

func (s *Store) openPostgres(uri string) error {
	if i := strings.Index(uri, "://"); i >= 0 {
		uri = "postgres" + uri[i:]
	}
	db, err := sql.Open("pgx", uri)
	if err != nil {
		return fmt.Errorf("sqlstore: open %s: %w", redact(uri), err)
	}
	db.SetMaxOpenConns(16)
	db.SetMaxIdleConns(8)
	db.SetConnMaxIdleTime(5 * time.Minute)
	s.db, s.dialect = db, dialectPostgres
	return nil
}

// redact hides the password of a database URI for messages.
func redact(uri string) string {
	at := strings.LastIndexByte(uri, '@')
	scheme := strings.Index(uri, "://")
	if at < 0 || scheme < 0 || at < scheme {
		return uri
	}
	userinfo := uri[scheme+3 : at]
	if i := strings.IndexByte(userinfo, ':'); i >= 0 {
		return uri[:scheme+3] + userinfo[:i] + ":xxxxx" + uri[at:]
	}
	return uri
}

// ExtraIndexes are the indexes this store adds to MLflow's schema (schema/housing.sql):
// every other table, column, constraint and index is MLflow 2.17.2's exactly.
var ExtraIndexes = []string{
	"housing_latest_metrics_key_value", // latest_metrics ("key", is_nan, value, run_uuid)
	"housing_runs_experiment_id",       // runs (experiment_id, lifecycle_stage, start_time)
}

// mlflowTables are the tables MLflow 2.17.2 creates besides alembic_version.
var mlflowTables = []string{
	"experiments", "experiment_tags", "runs", "metrics", "latest_metrics", "params", "tags",
	"registered_models", "registered_model_tags", "model_versions", "model_version_tags",
	"registered_model_aliases", "datasets", "inputs", "input_tags", "trace_info", "trace_tags",
	"trace_request_metadata",
}

func (s *Store) tableNames(ctx context.Context, q queryer) (map[string]bool, error) {
	query := `SELECT name FROM sqlite_master WHERE type = 'table'`
	if s.dialect == dialectPostgres {
		query = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()`
	}
	rows, err := q.QueryContext(ctx, query)
	if err != nil {
		return nil, dbError(err, "list tables")
	}
	defer rows.Close()
	names := map[string]bool{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, dbError(err, "list tables")
		}
		names[n] = true
	}
	return names, dbError(rows.Err(), "list tables")
}

// initSchema creates the schema on an empty database, checks the revision of an
// existing one, and creates the Default experiment when there are no experiments,
// as MLflow does each time its store starts.
func (s *Store) initSchema(ctx context.Context) error {
	return s.inTx(ctx, func(tx *txn) error {
		tables, err := s.tableNames(ctx, tx)
		if err != nil {
			return err
		}
		switch {
		case len(tables) == 0 || (!tables["alembic_version"] && !anyOf(tables, mlflowTables)):
			file := "schema/sqlite.sql"
			if s.dialect == dialectPostgres {
				file = "schema/postgres.sql"
			}
			if err := execScript(ctx, tx, file, "create schema"); err != nil {
				return err
			}
			s.log.Info("created MLflow schema", "dialect", s.dialect.String(), "revision", SchemaRevision)
		case !tables["alembic_version"]:
			return fmt.Errorf("sqlstore: the database has tables but no alembic_version table, so it is not an MLflow database; "+
				"expected MLflow 2.17.2's schema at Alembic revision %s", SchemaRevision)
		default:
			var rev string
			err := tx.QueryRowContext(ctx, `SELECT version_num FROM alembic_version`).Scan(&rev)
			if errors.Is(err, sql.ErrNoRows) {
				rev = "(none)"
			} else if err != nil {
				return dbError(err, "read alembic_version")
			}
			switch {
			case rev == SchemaRevision:
			case rev == "(none)" || olderRevisions[rev]:
				return fmt.Errorf("sqlstore: the database schema is at Alembic revision %s, but this server needs revision %s "+
					"(MLflow 2.17.2); migrate it with MLflow 2.17.2's `mlflow db upgrade <database-uri>` first", rev, SchemaRevision)
			default:
				return fmt.Errorf("sqlstore: the database schema is at Alembic revision %s, which MLflow 2.17.2 does not know: "+
					"a newer MLflow migrated it (MLflow 3.11.1's revision is c3d6457b6d8a), and MLflow's migrations do not go back; "+
					"this server needs revision %s (MLflow 2.17.2), so serve this database with the MLflow that migrated it", rev, SchemaRevision)
			}
			for _, t := range mlflowTables {
				if !tables[t] {
					return fmt.Errorf("sqlstore: the database is at revision %s but lacks table %s", rev, t)
				}
			}
		}
		if err := execScript(ctx, tx, "schema/housing.sql", "create the housing_ indexes"); err != nil {
			return err
		}
		var n int
		if err := tx.queryRow(ctx, `SELECT COUNT(*) FROM experiments`).Scan(&n); err != nil {
			return dbError(err, "count experiments")
		}
		if n > 0 {
			return nil
		}
		now := s.nowMillis()
		_, err = tx.exec(ctx, `INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time)
			VALUES (0, 'Default', ?, 'active', ?, ?)`, s.artifactLocation(0), now, now)
		return dbError(err, "create the Default experiment")
	})
}

// execScript runs the statements of an embedded SQL file, separated by ";\n".
func execScript(ctx context.Context, tx *txn, file, op string) error {
	ddl, err := schemaFS.ReadFile(file)
	if err != nil {
		return err
	}
	for _, stmt := range strings.Split(string(ddl), ";\n") {
		if strings.TrimSpace(stripComments(stmt)) == "" {
			continue
		}
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return dbError(err, op)
		}
	}
	return nil
}

func anyOf(set map[string]bool, names []string) bool {
	for _, n := range names {
		if set[n] {
			return true
		}
	}
	return false
}

func stripComments(stmt string) string {
	var b strings.Builder
	for _, line := range strings.Split(stmt, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "--") {
			b.WriteString(line)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// Ping reports whether the database can be reached; TEMPORARILY_UNAVAILABLE when not.
func (s *Store) Ping(ctx context.Context) error {
	return dbError(s.db.PingContext(ctx), "ping the database")
}

// Close closes the database.
func (s *Store) Close() error {
	if s.reads != nil {
		s.reads.close()
		defer s.reads.wait()
	}
	if s.writer != nil {
		s.writer.close()
		if err := s.writer.db.Close(); err != nil {
			return errors.Join(err, s.db.Close())
		}
	}
	return s.db.Close()
}

// DB returns the underlying database handle (for tests and tools).
func (s *Store) DB() *sql.DB { return s.db }

func (s *Store) nowMillis() int64 { return s.now().UnixMilli() }

// artifactLocation is the default artifact location of experiment id.
func (s *Store) artifactLocation(id int64) string {
	return joinURI(s.root, fmt.Sprint(id))
}

// joinURI appends path elements to a URI or path with single slashes, like
// MLflow's append_to_uri_path.
func joinURI(base string, elems ...string) string {
	out := strings.TrimRight(base, "/")
	for _, e := range elems {
		out += "/" + strings.Trim(e, "/")
	}
	return out
}

func (s *Store) runName() string {
	s.randMu.Lock()
	defer s.randMu.Unlock()
	return tracking.GenerateRunName(s.rand)
}

// newID returns a random uuid4 as 32 lower-case hex characters, like uuid.uuid4().hex.
func newID() string {
	return strings.ReplaceAll(uuid.NewString(), "-", "")
}
