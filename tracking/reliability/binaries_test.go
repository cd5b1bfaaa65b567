package reliability_test

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// binaries builds the tracking server and the ingest and train steps once per test binary
// and returns the directory holding them.
func binaries(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "housing-reliability-bin-")
		if buildErr != nil {
			return
		}
		out, err := exec.Command("go", "build", "-o", binDir+"/",
			"github.com/mlops-lab/housing/cmd/tracking-server", "github.com/mlops-lab/housing/steps/ingest", "github.com/mlops-lab/housing/steps/train").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binDir
}

// serverProcess is the tracking-server binary running in its own process.
type serverProcess struct {
	cmd *exec.Cmd
	url string
	log *syncBuffer
}

// startServerProcess runs the tracking-server binary with args (plus --host
// 127.0.0.1 --port 0) and returns once it listens.
func startServerProcess(t *testing.T, env []string, args ...string) *serverProcess {
	t.Helper()
	bin := filepath.Join(binaries(t), "tracking-server")
	cmd := exec.Command(bin, append([]string{"--host", "127.0.0.1", "--port", "0"}, args...)...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	p := &serverProcess{cmd: cmd, log: &syncBuffer{}}
	found := make(chan string, 1)
	addrRE := regexp.MustCompile(`addr=(127\.0\.0\.1:\d+)`)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.log.write(sc.Text() + "\n")
			if m := addrRE.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	select {
	case addr := <-found:
		p.url = "http://" + addr
		return p
	case <-time.After(30 * time.Second):
		t.Fatalf("tracking-server did not start:\n%s", p.log.String())
		return nil
	}
}

// syncBuffer collects a process's log lines for failure messages.
type syncBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (s *syncBuffer) write(line string) {
	s.mu.Lock()
	s.b = append(s.b, line...)
	s.mu.Unlock()
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(s.b)
}
