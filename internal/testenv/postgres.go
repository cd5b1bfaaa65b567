package testenv

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver, to create databases
)

// Postgres is a running PostgreSQL server for tests.
type Postgres struct {
	Host string
	Port int
	User string
	// Dir holds the data directory, the socket and the log. Stop removes it; the
	// directory of a server that died with its test binary is swept by the next
	// StartPostgres (sweepDeadClusters), so a crashed run can still be read until then.
	Dir string
	cmd *exec.Cmd
}

// URI returns the connection URI of database db on this server.
func (p *Postgres) URI(db string) string {
	return fmt.Sprintf("postgresql://%s@%s:%d/%s?sslmode=disable", p.User, p.Host, p.Port, db)
}

var (
	pgOnce   sync.Once
	pgServer *Postgres
	pgErr    error
	pgDBSeq  atomic.Int64
)

// PostgresBinDir finds the PostgreSQL server programs (initdb, postgres).
func PostgresBinDir() (string, error) {
	if d := os.Getenv("HOUSING_PG_BIN"); d != "" {
		return d, nil
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres")
	if len(matches) == 0 {
		if p, err := exec.LookPath("postgres"); err == nil {
			return filepath.Dir(p), nil
		}
		return "", fmt.Errorf("no PostgreSQL server found (apt-get install postgresql, or set HOUSING_PG_BIN)")
	}
	return filepath.Dir(matches[len(matches)-1]), nil
}

// StartPostgres starts a PostgreSQL server in a new temporary directory, listening
// on 127.0.0.1 only, as the "postgres" system user when run as root (PostgreSQL
// refuses to run as root). It returns once the server accepts connections.
// The server dies with the calling process.
func StartPostgres(ctx context.Context) (*Postgres, error) {
	bin, err := PostgresBinDir()
	if err != nil {
		return nil, err
	}
	sweepDeadClusters(os.TempDir(), time.Now())
	dir, err := os.MkdirTemp("", "housing-pg-")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, clusterOwnerFile), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return nil, err
	}
	cred, pgUser, err := postgresCredential()
	if err != nil {
		return nil, err
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, fmt.Errorf("chown %s: %w", dir, err)
		}
	}
	data := filepath.Join(dir, "data")
	initdb := exec.CommandContext(ctx, filepath.Join(bin, "initdb"), "-D", data, "-U", pgUser,
		"--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb in %s: %w\n%s", data, err, out)
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(filepath.Join(bin, "postgres"), "-D", data,
		"-h", "127.0.0.1", "-p", strconv.Itoa(port), "-k", dir,
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=200", "-c", "shared_buffers=64MB")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL, Setpgid: true}
	logFile, err := os.Create(filepath.Join(dir, "postgres.log"))
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	p := &Postgres{Host: "127.0.0.1", Port: port, User: pgUser, Dir: dir, cmd: cmd}
	deadline := time.Now().Add(30 * time.Second)
	for {
		db, err := sql.Open("pgx", p.URI("postgres"))
		if err == nil {
			err = db.PingContext(ctx)
			db.Close()
		}
		if err == nil {
			return p, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			p.Stop()
			log, _ := os.ReadFile(filepath.Join(dir, "postgres.log"))
			return nil, fmt.Errorf("postgres on port %d not ready: %v\n%s", port, err, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop stops the server and removes its directory.
func (p *Postgres) Stop() {
	if p.cmd != nil && p.cmd.Process != nil {
		p.cmd.Process.Signal(syscall.SIGINT)
		done := make(chan struct{})
		go func() { p.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			p.cmd.Process.Kill()
		}
	}
	os.RemoveAll(p.Dir)
}

// Kill stops the server abruptly (SIGKILL to its whole process group), as a
// crash would, and returns once its port refuses connections: backends killed
// with the postmaster can answer for a moment after it is gone.
func (p *Postgres) Kill() {
	if p.cmd != nil && p.cmd.Process != nil {
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		p.cmd.Wait()
	}
	addr := net.JoinHostPort(p.Host, strconv.Itoa(p.Port))
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			return
		}
		c.Close()
	}
}

// sweepDeadClusters removes the directories of earlier test servers whose
// test process is gone. The shared server of a test binary dies with the binary
// (Pdeathsig) before anything can remove its directory, so without a sweep every
// test run leaves a cluster of 40-700 MB behind. The owner's pid is the test
// process that started the server (the file "owner"), not the postmaster's: a test
// may kill its server and start it again in the same directory, and a sweep by
// another package's test binary in between must not take the directory away.
// Directories without an owner file (made before it existed, or by a process
// killed between creating the directory and writing the file) go when older than
// an hour and no postmaster runs in them.
func sweepDeadClusters(tmp string, now time.Time) {
	dirs, _ := filepath.Glob(filepath.Join(tmp, "housing-pg-*"))
	for _, dir := range dirs {
		if clusterIsDead(dir, now) {
			os.RemoveAll(dir)
		}
	}
}

const clusterOwnerFile = "owner"

func clusterIsDead(dir string, now time.Time) bool {
	if owner, ok := readPid(filepath.Join(dir, clusterOwnerFile)); ok {
		return !processExists(owner)
	}
	info, err := os.Stat(dir)
	if err != nil || now.Sub(info.ModTime()) < time.Hour {
		return false
	}
	postmaster, ok := readPid(filepath.Join(dir, "data", "postmaster.pid"))
	return !ok || !processExists(postmaster)
}

// readPid reads the pid on the first line of file.
func readPid(file string) (int, bool) {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0, false
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	return pid, err == nil && pid > 0
}

// processExists says whether pid names a process; EPERM means it exists under
// another user (the postgres user's postmaster when we are not root).
func processExists(pid int) bool {
	return syscall.Kill(pid, 0) != syscall.ESRCH
}

// postgresCredential returns the credential to run the server with: none when not
// root, the "postgres" user's when root.
func postgresCredential() (*syscall.Credential, string, error) {
	if os.Geteuid() != 0 {
		u, err := user.Current()
		if err != nil {
			return nil, "", err
		}
		return nil, u.Username, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, "", fmt.Errorf("running as root and there is no postgres user to run PostgreSQL as: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, "postgres", nil
}

// PostgresServer returns the test binary's shared PostgreSQL server, starting it on
// first use; it skips or fails tb (see Unavailable) when PostgreSQL cannot be started.
func PostgresServer(tb testing.TB) *Postgres {
	tb.Helper()
	pgOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		pgServer, pgErr = StartPostgres(ctx)
	})
	if pgErr != nil {
		Unavailable(tb, "PostgreSQL: %v", pgErr)
	}
	return pgServer
}

// PostgresURI returns the URI of a new, empty database on the shared test server.
func PostgresURI(tb testing.TB) string {
	tb.Helper()
	p := PostgresServer(tb)
	name := fmt.Sprintf("test_%d_%d", os.Getpid(), pgDBSeq.Add(1))
	db, err := sql.Open("pgx", p.URI("postgres"))
	if err != nil {
		tb.Fatalf("open postgres: %v", err)
	}
	defer db.Close()
	if _, err := db.Exec("CREATE DATABASE " + name); err != nil {
		tb.Fatalf("create database %s: %v", name, err)
	}
	return p.URI(name)
}
