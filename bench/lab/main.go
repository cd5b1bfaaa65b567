// Command lab runs the whole lab two ways in turn, as whole processes, and
// compares them: scripts/run-lab (our tracking server and the pipeline, with
// the default sweep and its rf-optimized search) and bench/lab/python-lab
// (the seed lab done the Python way: scikit-learn and the real MLflow
// 2.17.2 server). Each lab runs in a fresh directory; its wall time, CPU
// time (user + system of the whole process tree) and the peak resident
// memory of its largest process (ru_maxrss of the reaped tree, Linux's
// VmHWM of the largest descendant) are measured by wait4, with the load
// average before and after. Runs are interleaved (go first, then python
// first, ...), and the table gives the medians and their ratios.
//
//	go run ./bench/lab -runs 3 -bin bin
//
// bench/lab/run builds bin/ and runs this. Each lab's directory is removed
// after it is measured (-keep keeps them); its log stays. One JSON line per lab run goes
// to stdout, then a markdown table; -check fails the command when a target
// of issue 17 is missed (wall and peak memory <= 1/3 of the Python lab's,
// rf-optimized's test R2 >= the Python lab's 200-tree full-depth forest's).
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// result is one lab run.
type result struct {
	Lab         string             `json:"lab"` // "go" or "python"
	Run         int                `json:"run"`
	WallSeconds float64            `json:"wall_seconds"`
	CPUSeconds  float64            `json:"cpu_seconds"` // user + system, all reaped descendants
	MaxRSSMiB   float64            `json:"max_rss_mib"` // largest process of the tree
	LoadBefore  string             `json:"load_before"`
	LoadAfter   string             `json:"load_after"`
	R2          map[string]float64 `json:"r2"` // test R2 by run name
	Log         string             `json:"log"`
}

// lab is one way of running the lab: the command, and how to read the
// test R2 of each run from what it printed.
type lab struct {
	name string
	cmd  func(dir string, port int) *exec.Cmd
	r2   *regexp.Regexp // groups: run name, R2
}

func main() {
	runs := flag.Int("runs", 3, "runs of each lab, interleaved")
	bin := flag.String("bin", "bin", "directory of the built binaries (make build)")
	out := flag.String("out", "", "directory for the labs' directories and logs (default: a new temporary one)")
	check := flag.Bool("check", false, "exit 1 when a target is missed")
	keep := flag.Bool("keep", false, "keep each lab's directory (stores, artifacts: some 350 MB a pair of runs); the logs are kept anyway")
	flag.Parse()
	if err := run(*runs, *bin, *out, *check, *keep, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench/lab:", err)
		os.Exit(1)
	}
}

func run(runs int, bin, out string, check, keep bool, stdout io.Writer) error {
	bin, err := filepath.Abs(bin)
	if err != nil {
		return err
	}
	if out == "" {
		if out, err = os.MkdirTemp("", "housing-bench-lab-"); err != nil {
			return err
		}
	} else if err := os.MkdirAll(out, 0o755); err != nil {
		return fmt.Errorf("-out: %w", err)
	}
	labs := []lab{
		{
			name: "go",
			cmd: func(dir string, port int) *exec.Cmd {
				c := exec.Command("scripts/run-lab")
				c.Env = append(os.Environ(), "BIN="+bin, "LAB_DIR="+dir, "PORT="+strconv.Itoa(port))
				return c
			},
			// train's summary line: "train: rf-tuned -> run <id>: test r2 0.7753, ..."
			r2: regexp.MustCompile(`train: (\S+) -> run \S+: test r2 ([0-9.]+)`),
		},
		{
			name: "python",
			cmd: func(dir string, port int) *exec.Cmd {
				return exec.Command("bench/lab/python-lab", dir, strconv.Itoa(port))
			},
			// seed_lab.py's JSON line per run
			r2: regexp.MustCompile(`\{"run": "([^"]+)", "run_id": "[^"]*", "r2": ([0-9.]+)`),
		},
	}
	var results []result
	for i := range runs {
		order := []lab{labs[0], labs[1]}
		if i%2 == 1 {
			order = []lab{labs[1], labs[0]}
		}
		for _, l := range order {
			dir := filepath.Join(out, fmt.Sprintf("%s-%d", l.name, i+1))
			r, err := runLab(l, i+1, dir)
			if !keep {
				os.RemoveAll(dir)
			}
			if err != nil {
				return err
			}
			b, _ := json.Marshal(r)
			fmt.Fprintln(stdout, string(b))
			results = append(results, r)
		}
	}
	return report(stdout, results, check)
}

func runLab(l lab, n int, dir string) (result, error) {
	r := result{Lab: l.name, Run: n, Log: dir + ".log", LoadBefore: loadavg()}
	port, err := freePort()
	if err != nil {
		return r, err
	}
	logFile, err := os.Create(r.Log)
	if err != nil {
		return r, err
	}
	defer logFile.Close()
	var text bytes.Buffer
	cmd := l.cmd(dir, port)
	cmd.Stdout = io.MultiWriter(logFile, &text)
	cmd.Stderr = cmd.Stdout
	start := time.Now()
	err = cmd.Run()
	r.WallSeconds = time.Since(start).Seconds()
	r.LoadAfter = loadavg()
	if err != nil {
		return r, fmt.Errorf("%s lab, run %d: %w (log: %s)", l.name, n, err, r.Log)
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return r, errors.New("no rusage from wait4")
	}
	r.CPUSeconds = tv(ru.Utime) + tv(ru.Stime)
	r.MaxRSSMiB = float64(ru.Maxrss) / 1024 // KiB on Linux
	r.R2 = map[string]float64{}
	for _, m := range l.r2.FindAllStringSubmatch(text.String(), -1) {
		v, err := strconv.ParseFloat(m[2], 64)
		if err != nil {
			return r, fmt.Errorf("%s lab, run %d: R2 %q of %s: %w", l.name, n, m[2], m[1], err)
		}
		r.R2[m[1]] = v
	}
	return r, nil
}

func tv(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func median(v []float64) float64 {
	s := slices.Sorted(slices.Values(v))
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// report prints the medians per lab and the ratios, and checks the targets.
func report(w io.Writer, results []result, check bool) error {
	by := map[string][]result{}
	for _, r := range results {
		by[r.Lab] = append(by[r.Lab], r)
	}
	med := func(lab string, f func(result) float64) float64 {
		var v []float64
		for _, r := range by[lab] {
			v = append(v, f(r))
		}
		return median(v)
	}
	rows := []struct {
		name string
		f    func(result) float64
	}{
		{"wall s", func(r result) float64 { return r.WallSeconds }},
		{"CPU s (user+sys)", func(r result) float64 { return r.CPUSeconds }},
		{"largest process peak RSS MiB", func(r result) float64 { return r.MaxRSSMiB }},
	}
	fmt.Fprintf(w, "\n%d runs each, interleaved; load average (1/5/15 min) %s before the first, %s after the last\n\n",
		len(by["go"]), results[0].LoadBefore, results[len(results)-1].LoadAfter)
	fmt.Fprintln(w, "| measure | scripts/run-lab (median) | Python seed lab (median) | ratio | each go run | each python run |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|")
	var missed []string
	for _, row := range rows {
		g, p := med("go", row.f), med("python", row.f)
		ratio := g / p
		fmt.Fprintf(w, "| %s | %.1f | %.1f | %.3f | %s | %s |\n", row.name, g, p, ratio, each(by["go"], row.f), each(by["python"], row.f))
		if row.name != "CPU s (user+sys)" && ratio > 1.0/3 {
			missed = append(missed, fmt.Sprintf("%s: ratio %.3f > 1/3", row.name, ratio))
		}
	}
	g := med("go", func(r result) float64 { return r.R2["rf-optimized"] })
	p := med("python", func(r result) float64 { return r.R2["rf-optimized"] })
	fmt.Fprintf(w, "| test R2 of rf-optimized (go: the search's winner; python: 200 trees, full depth) | %.4f | %.4f | %+.4f | | |\n", g, p, g-p)
	if g < p {
		missed = append(missed, fmt.Sprintf("rf-optimized test R2 %.4f < the 200-tree forest's %.4f", g, p))
	}
	if len(missed) > 0 {
		fmt.Fprintln(w, "\nmissed:", strings.Join(missed, "; "))
		if check {
			return errors.New("targets missed: " + strings.Join(missed, "; "))
		}
	} else {
		fmt.Fprintln(w, "\nevery target holds in this run")
	}
	return nil
}

func each(rs []result, f func(result) float64) string {
	var s []string
	for _, r := range rs {
		s = append(s, strconv.FormatFloat(f(r), 'f', 1, 64))
	}
	return strings.Join(s, " / ")
}
