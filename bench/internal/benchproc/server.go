// Package benchproc holds what the benchmark commands (bench/server,
// bench/search, bench/write) share: running the tracking-server binary as a
// process of its own on 127.0.0.1, reading a process's memory and CPU from
// /proc, an MLflow REST client, a load loop and filling an experiment through
// the store.
package benchproc

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"syscall"
	"time"
)

// Server is a running tracking-server process whose resident memory is sampled
// every 20 ms for as long as it runs.
type Server struct {
	URL string // http://127.0.0.1:port

	cmd  *exec.Cmd
	done chan struct{}

	mu     sync.Mutex
	rssMax float64 // since the last TakeRSS
	rssAll float64 // since the start
}

var listeningRE = regexp.MustCompile(`msg=listening addr=(\S+)`)

// BuildServer returns bin, or when bin is empty builds cmd/tracking-server
// into dir and returns its path.
func BuildServer(ctx context.Context, bin, dir string, stderr io.Writer) (string, error) {
	if bin != "" {
		return bin, nil
	}
	bin = filepath.Join(dir, "tracking-server")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/mlops-lab/housing/cmd/tracking-server")
	build.Stdout, build.Stderr = stderr, stderr
	if err := build.Run(); err != nil {
		return "", fmt.Errorf("build tracking-server: %w", err)
	}
	return bin, nil
}

// StartServer runs the tracking-server binary bin on a free loopback port with
// the backend store uri and waits (at most a minute) until it logs where it
// listens. The process is killed if this one dies.
func StartServer(ctx context.Context, bin, uri, artifactDir string) (*Server, error) {
	cmd := exec.CommandContext(ctx, bin, "--backend-store-uri", uri, "--artifacts-destination", artifactDir,
		"--host", "127.0.0.1", "--port", "0")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	s := &Server{cmd: cmd, done: make(chan struct{})}
	addr := make(chan string, 1)
	var mu sync.Mutex
	var logTail bytes.Buffer
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := listeningRE.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
				continue
			}
			mu.Lock()
			if logTail.Len() < 8192 {
				logTail.WriteString(sc.Text() + "\n")
			}
			mu.Unlock()
		}
	}()
	select {
	case a := <-addr:
		s.URL = "http://" + a
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		mu.Lock()
		defer mu.Unlock()
		return nil, fmt.Errorf("%s did not start listening within 60s:\n%s", bin, logTail.String())
	}
	go s.sample()
	return s, nil
}

func (s *Server) sample() {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
			m := ProcMemory(s.PID())
			s.mu.Lock()
			s.rssMax = max(s.rssMax, m.RSS)
			s.rssAll = max(s.rssAll, m.RSS)
			s.mu.Unlock()
		}
	}
}

// PID is the server's process id.
func (s *Server) PID() int { return s.cmd.Process.Pid }

// TakeRSS returns the largest VmRSS (MiB) sampled since the last call and starts over.
func (s *Server) TakeRSS() float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := max(s.rssMax, ProcMemory(s.PID()).RSS)
	s.rssMax = 0
	return r
}

// MaxRSS returns the largest VmRSS (MiB) sampled since the start.
func (s *Server) MaxRSS() float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return max(s.rssAll, ProcMemory(s.PID()).RSS)
}

// Stop ends the server with SIGTERM (it drains and exits) and waits for it.
func (s *Server) Stop() {
	close(s.done)
	s.cmd.Process.Signal(syscall.SIGTERM)
	s.cmd.Wait()
}
