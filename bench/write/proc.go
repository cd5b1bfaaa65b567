package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// server is a running tracking-server process whose memory is sampled every
// 20 ms for as long as it runs.
type server struct {
	cmd  *exec.Cmd
	url  string
	done chan struct{}

	mu     sync.Mutex
	rssMax float64 // since the last takeRSS
	rssAll float64 // since the start
}

var listeningRE = regexp.MustCompile(`msg=listening addr=(\S+)`)

// startServer runs the tracking-server binary on a free loopback port and waits
// until it logs where it listens.
func startServer(ctx context.Context, bin, uri, artifactDir string) (*server, error) {
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
	s := &server{cmd: cmd, done: make(chan struct{})}
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
		s.url = "http://" + a
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		mu.Lock()
		defer mu.Unlock()
		return nil, fmt.Errorf("%s did not start listening within 60s:\n%s", bin, logTail.String())
	}
	go func() {
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-s.done:
				return
			case <-t.C:
				m := procMemory(cmd.Process.Pid)
				s.mu.Lock()
				s.rssMax = max(s.rssMax, m.rss)
				s.rssAll = max(s.rssAll, m.rss)
				s.mu.Unlock()
			}
		}
	}()
	return s, nil
}

// takeRSS returns the largest VmRSS sampled since the last call and starts over.
func (s *server) takeRSS() float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := max(s.rssMax, procMemory(s.cmd.Process.Pid).rss)
	s.rssMax = 0
	return r
}

// memory returns the largest VmRSS sampled since the start and VmHWM now.
func (s *server) memory() (maxRSS, hwm float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rssAll, procMemory(s.cmd.Process.Pid).peak
}

// stop ends the server with SIGTERM (it drains and exits) and waits for it.
func (s *server) stop() {
	close(s.done)
	s.cmd.Process.Signal(syscall.SIGTERM)
	s.cmd.Wait()
}

// cpuSeconds returns the user and system CPU time process pid has used.
func cpuSeconds(pid int) float64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// The fields after the command name, which is in parentheses.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) / 100 // clock ticks (USER_HZ)
}

// selfCPU returns the CPU time this process has used.
func selfCPU() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// memInfo is a process's memory in MiB, from /proc/<pid>/status.
type memInfo struct {
	rss, peak float64 // VmRSS, VmHWM
}

func procMemory(pid int) memInfo {
	var m memInfo
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return m
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "VmRSS:":
			m.rss = kb / 1024
		case "VmHWM:":
			m.peak = kb / 1024
		}
	}
	return m
}

// loadAvg returns the 1, 5 and 15 minute load averages from /proc/loadavg.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ")
}

// client speaks the MLflow REST API to one server.
type client struct {
	base string
	http *http.Client
}

func newClient(base string, conns int) *client {
	return &client{base: base, http: &http.Client{Timeout: 120 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: conns}}}
}

func (c *client) post(path string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	b, err := c.do(http.MethodPost, path, bytes.NewReader(body))
	if err != nil || out == nil {
		return err
	}
	return json.Unmarshal(b, out)
}

// get sends a GET with query q and returns the body of a 200 response.
func (c *client) get(path string, q url.Values) ([]byte, error) {
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	return c.do(http.MethodGet, path, nil)
}

func (c *client) do(method, path string, body io.Reader) ([]byte, error) {
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s %s: %d %.300s", method, path, resp.StatusCode, b)
	}
	return b, nil
}
