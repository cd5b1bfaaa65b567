// Command boost fits and evaluates the gradient-boosting configs on the
// housing 80/20 split with seed 42 and prints one JSON line per config, with
// the keys of bench/sklearn_boost.py. fit_seconds and predict_seconds are
// the best of -repeat runs, as there; fit_cpu_seconds is the CPU time of
// the least costly fit, steadier than wall time on a loaded machine.
//
//	go run ./bench/boost [-data path] [-config name] [-repeat n] [-workers n] [-cpuprofile file]
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"runtime/pprof"
	"time"

	"github.com/mlops-lab/housing/dataset"
	"github.com/mlops-lab/housing/internal/benchtest"
	"github.com/mlops-lab/housing/learn"
	"github.com/mlops-lab/housing/learn/boost"
)

type config struct {
	name   string
	params boost.Params
}

func configs() []config {
	// sklearn-like: HistGradientBoostingRegressor(max_iter=300) as
	// scikit-learn runs it on this data, early stopping on (it turns on by
	// itself above 10000 rows), 10% held out.
	sk := boost.DefaultParams()
	sk.MaxIter, sk.ValidationFraction, sk.Seed = 300, 0.1, 42
	// xgboost-like: XGBRegressor(500, max_depth=8, hist) defaults: eta
	// 0.3, lambda 1, depth-wise with no leaf limit.
	xgb := boost.DefaultParams()
	xgb.MaxIter, xgb.MaxDepth, xgb.MaxLeafNodes, xgb.LearningRate, xgb.L2Regularization, xgb.MinSamplesLeaf, xgb.Seed = 500, 8, -1, 0.3, 1, 1, 42
	return []config{
		{"boost-lab", boost.LabParams()},
		{"boost-sklearn-like", sk},
		{"boost-xgboost-like", xgb},
	}
}

type result struct {
	Config         string  `json:"config"`
	R2             float64 `json:"r2"`
	MSE            float64 `json:"mse"`
	RMSE           float64 `json:"rmse"`
	MAE            float64 `json:"mae"`
	FitSeconds     float64 `json:"fit_seconds"`
	PredictSeconds float64 `json:"predict_seconds"`
	ModelBytes     int64   `json:"model_bytes"`
	FitCPUSeconds  float64 `json:"fit_cpu_seconds"`
	Trees          int     `json:"trees"`
	Nodes          int     `json:"nodes"`
	RoundTripExact bool    `json:"roundtrip_identical"`
}

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench/boost:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("boost", flag.ContinueOnError)
	data := fs.String("data", "", "California housing data (default: the shared copy)")
	only := fs.String("config", "", "run only this config")
	repeat := fs.Int("repeat", 3, "fits per config; the fastest counts")
	workers := fs.Int("workers", 0, "histogram workers (0: GOMAXPROCS)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the fits to this file")
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
	d, err := dataset.Load(ctx, *data, dataset.LoadOptions{})
	if err != nil {
		return err
	}
	trainIdx, testIdx, err := dataset.TrainTestSplit(d.Rows(), 0.2, 42)
	if err != nil {
		return err
	}
	train, test := d.Subset(trainIdx), d.Subset(testIdx)
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	found := false
	for _, c := range configs() {
		if *only != "" && c.name != *only {
			continue
		}
		found = true
		c.params.Workers = *workers
		r, err := runConfig(ctx, c, train, test, max(*repeat, 1))
		if err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
		if err := json.NewEncoder(stdout).Encode(r); err != nil {
			return err
		}
	}
	if !found {
		return fmt.Errorf("unknown config %q", *only)
	}
	return nil
}

func runConfig(ctx context.Context, c config, train, test *dataset.Dataset, repeat int) (result, error) {
	r := result{Config: c.name, FitSeconds: math.Inf(1), PredictSeconds: math.Inf(1), FitCPUSeconds: math.Inf(1)}
	var m *boost.Model
	for range repeat {
		start, cpu := time.Now(), benchtest.CPUTime()
		fit, err := boost.Fit(ctx, train.X, dataset.NumFeatures, train.Y, c.params, nil)
		if err != nil {
			return r, err
		}
		r.FitSeconds = min(r.FitSeconds, time.Since(start).Seconds())
		r.FitCPUSeconds = min(r.FitCPUSeconds, (benchtest.CPUTime() - cpu).Seconds())
		m = fit
	}
	var pred []float64
	for range max(repeat, 5) {
		start := time.Now()
		pred = m.Predict(pred, test.X)
		r.PredictSeconds = min(r.PredictSeconds, time.Since(start).Seconds())
	}
	r.R2 = learn.R2(test.Y, pred)
	r.MSE = learn.MSE(test.Y, pred)
	r.RMSE = math.Sqrt(r.MSE)
	r.MAE = learn.MAE(test.Y, pred)
	r.Trees, r.Nodes = m.NumTrees(), m.NumNodes()

	var buf bytes.Buffer
	n, err := m.WriteTo(&buf)
	if err != nil {
		return r, err
	}
	r.ModelBytes = n
	back, err := boost.Read(&buf)
	if err != nil {
		return r, err
	}
	again := back.Predict(nil, test.X)
	r.RoundTripExact = true
	for i := range pred {
		if math.Float64bits(pred[i]) != math.Float64bits(again[i]) {
			r.RoundTripExact = false
		}
	}
	return r, nil
}
