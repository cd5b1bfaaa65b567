package testenv

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// Restart starts a server stopped with Kill again, on the same data directory
// and port, as an operator's restart after a crash would, and returns once it
// accepts connections (after crash recovery). Use it only on a server of one's
// own (StartPostgres), never on the shared one.
func (p *Postgres) Restart(ctx context.Context) error {
	bin, err := PostgresBinDir()
	if err != nil {
		return err
	}
	cred, _, err := postgresCredential()
	if err != nil {
		return err
	}
	cmd := exec.Command(filepath.Join(bin, "postgres"), "-D", filepath.Join(p.Dir, "data"),
		"-h", p.Host, "-p", strconv.Itoa(p.Port), "-k", p.Dir,
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=200", "-c", "shared_buffers=64MB")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL, Setpgid: true}
	logFile, err := os.OpenFile(filepath.Join(p.Dir, "postgres.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("restart postgres: %w", err)
	}
	p.cmd = cmd
	deadline := time.Now().Add(30 * time.Second)
	for {
		db, err := sql.Open("pgx", p.URI("postgres"))
		if err == nil {
			err = db.PingContext(ctx)
			db.Close()
		}
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			log, _ := os.ReadFile(filepath.Join(p.Dir, "postgres.log"))
			return fmt.Errorf("postgres on port %d not ready after restart: %v\n%s", p.Port, err, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
