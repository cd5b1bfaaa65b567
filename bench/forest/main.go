// Command forest fits and evaluates the housing regressors on the 80/20
// split with seed 42 and prints one JSON object per config, to compare with
// bench/sklearn_bench.py. Each config runs in a child process of its own so
// its peak RSS (VmHWM) is its own.
//
//	go run ./bench/forest [-data path] [-config name] [-workers n]
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mlops-lab/housing/dataset"
	"github.com/mlops-lab/housing/learn"
	"github.com/mlops-lab/housing/learn/forest"
	"github.com/mlops-lab/housing/learn/linear"
)

// config is one benchmarked model, named as the lab's MLflow runs.
type config struct {
	name   string
	forest *forest.Params // nil: linear regression
}

func configs() []config {
	rf := func(trees, depth int, maxFeatures forest.MaxFeatures) *forest.Params {
		p := forest.DefaultParams()
		p.NEstimators, p.MaxDepth, p.MaxFeatures, p.Seed = trees, depth, maxFeatures, 42
		return &p
	}
	return []config{
		{name: "linear"},
		{name: "rf-baseline", forest: rf(50, 5, forest.MaxFeatures{})},
		{name: "rf-tuned", forest: rf(100, 10, forest.MaxFeatures{})},
		{name: "rf-optimized", forest: rf(200, 0, forest.MaxFeaturesFraction(1.0))},
	}
}

// predictRuns is how many times prediction is timed; the median is reported.
const predictRuns = 5

// result is one output line; the keys match bench/sklearn_bench.py.
type result struct {
	Config         string  `json:"config"`
	R2             float64 `json:"r2"`
	MSE            float64 `json:"mse"`
	RMSE           float64 `json:"rmse"`
	MAE            float64 `json:"mae"`
	FitSeconds     float64 `json:"fit_seconds"`
	PredictSeconds float64 `json:"predict_seconds"`
	PredictCPU     float64 `json:"predict_cpu_seconds"`
	ModelBytes     int64   `json:"model_bytes"`
	Nodes          int     `json:"nodes"`
	PeakRSSBytes   int64   `json:"peak_rss_bytes,omitempty"`
	RoundTripExact bool    `json:"roundtrip_identical"`
}

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench/forest:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("forest", flag.ContinueOnError)
	data := fs.String("data", "", "California housing data (default: the shared copy)")
	only := fs.String("config", "", "run only this config, in this process")
	workers := fs.Int("workers", 0, "tree-building workers (0: GOMAXPROCS)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *data == "" {
		p, ok := dataset.SharedDataPath()
		if !ok {
			return errors.New("no -data and no shared data found (set HOUSING_DATA)")
		}
		*data = p
	}
	if *only == "" {
		return runChildren(ctx, *data, *workers, stdout)
	}
	for _, c := range configs() {
		if c.name == *only {
			r, err := runConfig(ctx, *data, c, *workers)
			if err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
			return json.NewEncoder(stdout).Encode(r)
		}
	}
	return fmt.Errorf("unknown config %q", *only)
}

// runChildren runs every config in a child process and copies its line.
func runChildren(ctx context.Context, data string, workers int, stdout io.Writer) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	for _, c := range configs() {
		cmd := exec.CommandContext(ctx, self, "-data", data, "-config", c.name, "-workers", strconv.Itoa(workers))
		cmd.Stdout = stdout
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
	}
	return nil
}

func runConfig(ctx context.Context, data string, c config, workers int) (result, error) {
	d, err := dataset.Load(ctx, data, dataset.LoadOptions{})
	if err != nil {
		return result{}, err
	}
	trainIdx, testIdx, err := dataset.TrainTestSplit(d.Rows(), 0.2, 42)
	if err != nil {
		return result{}, err
	}
	train, test := d.Subset(trainIdx), d.Subset(testIdx)
	nf := dataset.NumFeatures
	runtime.GC()

	r := result{Config: c.name}
	var model interface {
		learn.Regressor
		WriteTo(io.Writer) (int64, error)
	}
	start := time.Now()
	if c.forest == nil {
		m, err := linear.Fit(train.X, nf, train.Y)
		if err != nil {
			return r, err
		}
		r.FitSeconds = time.Since(start).Seconds()
		model = m
	} else {
		p := *c.forest
		p.Workers = workers
		f, err := forest.Fit(ctx, train.X, nf, train.Y, p, nil)
		if err != nil {
			return r, err
		}
		r.FitSeconds = time.Since(start).Seconds()
		r.Nodes = f.NumNodes()
		model = f
	}
	// Collect the fit's garbage now, so a collection the fit left due does
	// not run during the timed predictions.
	runtime.GC()
	// Prediction takes milliseconds: after one untimed warm-up run (first
	// touch of the output and scratch pages), time the median of a few
	// runs, wall and process CPU time (all threads), as
	// bench/sklearn_bench.py does, so one scheduling hiccup does not decide.
	pred := model.Predict(nil, test.X)
	times := make([]float64, predictRuns)
	cpu := make([]float64, predictRuns)
	for i := range times {
		start, c0 := time.Now(), cpuSeconds()
		pred = model.Predict(nil, test.X)
		times[i], cpu[i] = time.Since(start).Seconds(), cpuSeconds()-c0
	}
	r.PredictSeconds, r.PredictCPU = median(times), median(cpu)
	m := learn.Evaluate(test.Y, pred)
	r.R2, r.MSE, r.RMSE, r.MAE = m.R2, m.MSE, m.RMSE, m.MAE

	var buf bytes.Buffer
	if r.ModelBytes, err = model.WriteTo(&buf); err != nil {
		return r, err
	}
	back, err := learn.ReadModel(&buf)
	if err != nil {
		return r, err
	}
	r.RoundTripExact = slicesIdentical(pred, back.Predict(nil, test.X))
	r.PeakRSSBytes = peakRSS()
	return r, nil
}

func median(v []float64) float64 {
	v = slices.Clone(v)
	slices.Sort(v)
	return v[len(v)/2]
}

// cpuSeconds returns the user+system CPU time of this process so far, all
// threads: on a shared machine it varies far less than wall time.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

func slicesIdentical(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// peakRSS reads this process's high-water resident set size, or 0.
func peakRSS() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return 0
			}
			return kb * 1024
		}
	}
	return 0
}
