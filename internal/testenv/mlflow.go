package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The real MLflow versions ../shared/mlflow/setup installs.
const (
	MLflow2 = "2.17.2"
	MLflow3 = "3.11.1"
)

// Python is the interpreter the real MLflow is installed for (Debian's; another
// python3 may come first on PATH and lacks the Debian packages).
const Python = "/usr/bin/python3"

// MLflowPrefix is where ../shared/mlflow/setup installed MLflow:
// $HOUSING_MLFLOW_PREFIX, else ${XDG_CACHE_HOME:-$HOME/.cache}/housing-mlflow.
func MLflowPrefix() string {
	if p := os.Getenv("HOUSING_MLFLOW_PREFIX"); p != "" {
		return p
	}
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache")
	}
	return filepath.Join(cache, "housing-mlflow")
}

// MLflowEnv returns the environment (os.Environ plus what the version's env.sh
// sets) in which Python imports that real MLflow, with the variables that would
// point its client somewhere else removed. It fails when the version is not set up.
func MLflowEnv(version string) ([]string, error) {
	site := filepath.Join(MLflowPrefix(), version, "site")
	if _, err := os.Stat(filepath.Join(site, "mlflow", "__init__.py")); err != nil {
		return nil, fmt.Errorf("MLflow %s is not set up under %s (run ../shared/mlflow/setup): %w", version, MLflowPrefix(), err)
	}
	if _, err := os.Stat(Python); err != nil {
		return nil, fmt.Errorf("MLflow %s needs %s: %w", version, Python, err)
	}
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case k == "PYTHONPATH", k == "PYTHONHOME", k == "PATH", k == "CI", k == "GITHUB_ACTIONS",
			strings.HasPrefix(k, "MLFLOW_"):
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"PYTHONPATH="+site,
		"PATH="+filepath.Join(site, "bin")+":"+os.Getenv("PATH"),
		"PYTHONDONTWRITEBYTECODE=1",
		"MLFLOW_DISABLE_TELEMETRY=true",
	), nil
}

// MLflowServer is a real MLflow tracking server (`mlflow server`) on 127.0.0.1.
type MLflowServer struct {
	Version    string
	URL        string // http://127.0.0.1:PORT
	BackendURI string
	Artifacts  string // the --artifacts-destination directory
	Log        string // the server's stdout and stderr
	cmd        *exec.Cmd
	done       chan struct{}
}

// StartMLflow starts the real MLflow version's server on backendURI (created
// and migrated by MLflow when new), serving artifacts from the directory
// artifacts, and returns once /health answers. It dies with the calling process.
func StartMLflow(ctx context.Context, version, backendURI, artifacts string) (*MLflowServer, error) {
	env, err := MLflowEnv(version)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		return nil, err
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	logFile, err := os.CreateTemp("", "housing-mlflow-"+version+"-*.log")
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	cmd := exec.Command(Python, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", strconv.Itoa(port),
		"--backend-store-uri", backendURI, "--serve-artifacts", "--artifacts-destination", artifacts, "--workers", "1")
	// The job consumers of MLflow 3 only slow its start; tests use none.
	cmd.Env = append(env, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false")
	cmd.Dir = filepath.Dir(artifacts)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Its own process group, so that Stop reaches gunicorn's or uvicorn's workers too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start MLflow %s server: %w", version, err)
	}
	s := &MLflowServer{Version: version, URL: fmt.Sprintf("http://127.0.0.1:%d", port), BackendURI: backendURI,
		Artifacts: artifacts, Log: logFile.Name(), cmd: cmd, done: make(chan struct{})}
	go func() { cmd.Wait(); close(s.done) }()
	if err := s.waitHealthy(ctx, 90*time.Second); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

func (s *MLflowServer) waitHealthy(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		resp, err := client.Get(s.URL + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("/health answered %s", resp.Status)
		}
		select {
		case <-s.done:
			return fmt.Errorf("MLflow %s server exited before it was healthy: %v\n%s", s.Version, err, s.Tail())
		default:
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("MLflow %s server on %s not healthy after %s: %v\n%s", s.Version, s.URL, limit, err, s.Tail())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Tail returns the last lines the server printed, for error messages.
func (s *MLflowServer) Tail() string {
	b, _ := os.ReadFile(s.Log)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(bytes.TrimSpace(b))
}

// Stop ends the server's process group (SIGTERM, then SIGKILL after 10 s) and
// waits for it.
func (s *MLflowServer) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	pgid := s.cmd.Process.Pid
	syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		syscall.Kill(-pgid, syscall.SIGKILL)
		<-s.done
	}
	// Workers that outlived their parent go with the group.
	syscall.Kill(-pgid, syscall.SIGKILL)
	s.cmd = nil
}

// MLflow starts a real MLflow server of version on a new SQLite database in a
// temporary directory and stops it when tb ends; it skips or fails tb (see
// Unavailable) when that MLflow is not set up.
func MLflow(tb testing.TB, version string) *MLflowServer {
	tb.Helper()
	dir := tb.TempDir()
	return MLflowOn(tb, version, "sqlite:///"+filepath.Join(dir, "mlflow.db"), filepath.Join(dir, "artifacts"))
}

// MLflowOn starts a real MLflow server of version on backendURI with artifacts
// in the directory artifacts, and stops it when tb ends.
func MLflowOn(tb testing.TB, version, backendURI, artifacts string) *MLflowServer {
	tb.Helper()
	RequireMLflow(tb, version)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := StartMLflow(ctx, version, backendURI, artifacts)
	if err != nil {
		tb.Fatalf("real MLflow %s: %v", version, err)
	}
	tb.Cleanup(s.Stop)
	return s
}

// RunMLflowPython runs a Python script with the real MLflow version importable,
// env added to its environment (e.g. MLFLOW_TRACKING_URI=...), and returns what it
// printed on stdout; an error carries its stderr.
func RunMLflowPython(ctx context.Context, version, script string, env ...string) ([]byte, error) {
	base, err := MLflowEnv(version)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, Python, "-c", script)
	cmd.Env = append(base, env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return out, fmt.Errorf("python (MLflow %s): %w\n%s", version, err, stderr.Bytes())
		}
		return out, fmt.Errorf("python (MLflow %s): %w", version, err)
	}
	return out, nil
}

// RequireMLflow skips or fails tb (see Unavailable) when that real MLflow is not set up.
func RequireMLflow(tb testing.TB, version string) {
	tb.Helper()
	if _, err := MLflowEnv(version); err != nil {
		Unavailable(tb, "real MLflow %s: %v", version, err)
	}
}
