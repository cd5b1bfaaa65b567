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
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	_ "modernc.org/sqlite"             // database/sql driver "sqlite"

	"github.com/mlops-lab/housing/tracking"
)

//go:embed schema/sqlite.sql schema/postgres.sql schema/sqlite-3.11.1.sql schema/postgres-3.11.1.sql schema/housing.sql schema/housing-postgres.sql
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
	// SchemaVersion is the MLflow schema a new, empty database gets:
	// SchemaMLflow3 (the default: MLflow 3.11.1's, revision c3d6457b6d8a, which
	// MLflow 3 servers open) or SchemaMLflow2 (MLflow 2.17.2's, f5a4f2784254,
	// for a database that MLflow 2.x servers share; logged models are off on it).
	// An existing database keeps its schema (see Upgrade to migrate one).
	SchemaVersion string
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
	// combiner writes concurrent log-batch requests together (nil on
	// :memory: databases, whose one connection the combiner would wait for).
	combiner *batchCombiner
	// reads keeps read queries prepared on SQLite (nil on PostgreSQL).
	reads   *readStmts
	dialect dialect
	// schema is what the database is (see Schema).
	schema SchemaInfo
	// metricStamps: on PostgreSQL, the housing schema's metric stamps and
	// their triggers are there (see MetricHistoryStamp).
	metricStamps bool
	root         string
	now          func() time.Time
	log          *slog.Logger

	randMu sync.Mutex
	rand   *rand.Rand

	// rebound caches queries rewritten from ? to $n placeholders for PostgreSQL.
	rebound sync.Map
	// inserts caches the text of multi-row INSERTs (insertQuery).
	inserts sync.Map
	// oneStatements caches logBatchOneStatement's texts by oneStatementShape;
	// keptStatements counts the texts it took (up to maxKeptStatements).
	oneStatements  sync.Map
	keptStatements atomic.Int64

	// sortRunsBelow is where SQLite searches ordered by a metric switch from
	// sorting the experiments' runs to walking the metric's index (see fewRuns);
	// a field so that tests can hold both paths to the same answers.
	sortRunsBelow int
	// plan is the plan of every runs search, for tests (the zero value: each
	// search chooses; see runSegments).
	plan planChoice
	// walkFallbacks counts the pages whose bounded walk fell short and were
	// read driven instead (see runSegments), for tests and benchmarks.
	walkFallbacks atomic.Int64
	// fewRunsSeen and runCounts remember fewRuns' and runCount's recent answers;
	fewRunsSeen answerMemory[bool]
	runCounts   answerMemory[int]
	// driverCounts remembers chooseDriver's counts of the clauses' index
	// entries, and broadScans the scans that gave up (scanDriver).
	driverCounts answerMemory[[]int]
	broadScans   answerMemory[bool]
	// collation is the PostgreSQL database's (see bytewise), once read.
	collationMu sync.Mutex
	collation   string
}

var _ tracking.Store = (*Store)(nil)

// Open connects to the database at uri and creates the schema of
// opt.SchemaVersion (MLflow 3.11.1's by default) and the Default experiment when
// the database is empty. An existing database opens at MLflow 3.11.1's revision,
// at MLflow 2.17.2's (logged models off, with a warning naming UpgradeCommand),
// or at a newer revision whose tables and columns the store uses are unchanged
// (with a warning); any other revision is refused with what to run (see
// checkRevision). Schema says which it is. The indexes of ExtraIndexes (and on
// PostgreSQL the objects of ExtraPostgres) are created if missing (additive
// only; MLflow ignores them). uri is one of
//
//	sqlite:///relative/path.db   sqlite:////absolute/path.db   sqlite://:memory:
//	postgresql://user:pass@host:port/db?sslmode=disable  (also postgres://, postgresql+psycopg2://)
//
// An unreachable database is TEMPORARILY_UNAVAILABLE.
func Open(ctx context.Context, uri string, opt Options) (*Store, error) {
	s := &Store{root: opt.DefaultArtifactRoot, now: opt.Now, log: opt.Logger, rand: opt.Rand, sortRunsBelow: defaultSortRunsBelow}
	version := opt.SchemaVersion
	switch version {
	case "":
		version = SchemaMLflow3
	case SchemaMLflow3, SchemaMLflow2:
	default:
		return nil, fmt.Errorf("sqlstore: unknown schema version %q: want %s or %s", version, SchemaMLflow3, SchemaMLflow2)
	}
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
	case isPostgresURI(uri):
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
	if err := s.initSchema(ctx, version); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func isPostgresURI(uri string) bool {
	for _, p := range []string{"postgresql://", "postgres://", "postgresql+psycopg2://", "postgresql+psycopg://", "postgresql+pg8000://"} {
		if strings.HasPrefix(uri, p) {
			return true
		}
	}
	return false
}

// sqlitePath is the file of a sqlite: URI, or ":memory:".
func sqlitePath(uri string) (path string, memory bool) {
	rest := strings.TrimPrefix(uri, "sqlite:")
	rest = strings.TrimPrefix(rest, "//")
	if i := strings.IndexByte(rest, '?'); i >= 0 {
		rest = rest[:i]
	}
	memory = rest == "" || rest == ":memory:" || rest == "/:memory:" || rest == "/"
	if memory {
		return ":memory:", true
	}
	return strings.TrimPrefix(rest, "/"), false
}

func (s *Store) openSQLite(uri string) error {
	path, memory := sqlitePath(uri)
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
	// One combined write at a time: the writer runs one transaction at a time anyway.
	s.combiner = newBatchCombiner(s, 1, sqliteLinger)
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
	// Up to 8 statements at a time, as many as 8 clients sent before: requests
	// are combined only when more than that are in flight. With 2 at a time,
	// 8 clients waited for one another's statements (1-replica log-batch
	// 651-1170 req/s against 1080-1168 at 8, alternated at load 11-13).
	s.combiner = newBatchCombiner(s, 8, 0)
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
// every other table, column, constraint and index is MLflow's exactly (3.11.1's or 2.17.2's),
// but for ExtraPostgres on PostgreSQL.
var ExtraIndexes = []string{
	"housing_latest_metrics_key_value", // latest_metrics ("key", is_nan, value, run_uuid)
	"housing_latest_metrics_run",       // latest_metrics (run_uuid, "key", is_nan, value)
	"housing_runs_experiment_id",       // runs (experiment_id, lifecycle_stage, start_time)
	"housing_runs_end_time",            // runs (experiment_id, lifecycle_stage, end_time)
	"housing_runs_name",                // runs (experiment_id, lifecycle_stage, name)
	"housing_params_key_value",         // params ("key", substr(value, 1, 200), run_uuid)
	"housing_tags_key_value",           // tags ("key", substr(value, 1, 200), run_uuid)
}

// ExtraPostgres are the objects this store adds to an MLflow database on
// PostgreSQL only (schema/housing-postgres.sql), in a schema of its own
// (housing) but for the triggers on metrics: a table of metric history
// stamps, the sequence its stamps come from, the function that writes it and
// the triggers that run the function.
var ExtraPostgres = struct {
	Tables, Sequences, Functions []string // schema-qualified
	Triggers                     []string // on metrics
}{
	Tables:    []string{"housing.metric_stamps"},
	Sequences: []string{"housing.metric_stamp_seq"},
	Functions: []string{"housing.bump_metric_stamps"},
	Triggers: []string{"housing_metric_stamps_delete", "housing_metric_stamps_insert",
		"housing_metric_stamps_truncate", "housing_metric_stamps_update"},
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

// initSchema creates the schema of version on an empty database, checks the
// revision of an existing one, and creates the Default experiment when there
// are no experiments, as MLflow does each time its store starts.
func (s *Store) initSchema(ctx context.Context, version string) error {
	return s.inTx(ctx, func(tx *txn) error {
		tables, err := s.tableNames(ctx, tx)
		if err != nil {
			return err
		}
		switch {
		case len(tables) == 0 || (!tables["alembic_version"] && !anyOf(tables, mlflowTables)):
			if err := execScript(ctx, tx, s.schemaFile(version), "create schema"); err != nil {
				return err
			}
			s.schema = schemaInfo(version, RevisionMLflow3)
			if version == SchemaMLflow2 {
				s.schema.Revision = RevisionMLflow2
			}
			s.log.Info("created MLflow schema", "dialect", s.dialect.String(), "mlflow", version, "revision", s.schema.Revision)
		case !tables["alembic_version"]:
			return fmt.Errorf("sqlstore: the database has tables but no alembic_version table, so it is not an MLflow database; "+
				"expected MLflow 3.11.1's schema (Alembic revision %s) or MLflow 2.17.2's (%s)", RevisionMLflow3, RevisionMLflow2)
		default:
			var rev string
			err := tx.QueryRowContext(ctx, `SELECT version_num FROM alembic_version`).Scan(&rev)
			if errors.Is(err, sql.ErrNoRows) {
				rev = "(none)"
			} else if err != nil {
				return dbError(err, "read alembic_version")
			}
			if s.schema, err = s.checkRevision(ctx, tx, rev, tables); err != nil {
				return err
			}
		}
		if err := execScript(ctx, tx, "schema/housing.sql", "create the housing_ indexes"); err != nil {
			return err
		}
		if s.dialect == dialectPostgres {
			if err := s.createMetricStamps(ctx, tx); err != nil {
				return err
			}
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

// createMetricStamps creates the housing schema's metric stamps and their
// triggers on metrics (schema/housing-postgres.sql) if missing. A role that
// may not create a schema in the database serves it without them, answering
// every get-history from the database, as it says in a warning.
func (s *Store) createMetricStamps(ctx context.Context, tx *txn) error {
	if _, err := tx.exec(ctx, `SAVEPOINT housing_metric_stamps`); err != nil {
		return dbError(err, "create the housing metric stamps")
	}
	err := execScript(ctx, tx, "schema/housing-postgres.sql", "create the housing metric stamps")
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "42501" { // insufficient_privilege
		s.log.Warn("this role may not create the housing schema's metric stamps: get-history answers are not kept", "error", pe.Message)
		_, err = tx.exec(ctx, `ROLLBACK TO SAVEPOINT housing_metric_stamps`)
		return dbError(err, "create the housing metric stamps")
	}
	s.metricStamps = err == nil
	return err
}

// execScript runs the statements of an embedded SQL file (see splitStatements).
func execScript(ctx context.Context, tx sqlExecer, file, op string) error {
	ddl, err := schemaFS.ReadFile(file)
	if err != nil {
		return err
	}
	for _, stmt := range splitStatements(string(ddl)) {
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
	if s.combiner != nil {
		s.combiner.close()
	}
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
