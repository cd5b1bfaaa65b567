package benchproc

import (
	"context"
	"errors"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/sqlstore"
)

// Hammer calls fn from clients goroutines (fn gets a context ending with d and the goroutine's number) for
// d, or until one fails, and returns the calls that succeeded, the seconds
// taken and the first error. A call that fails because d is up (its request
// cut short) is neither counted nor an error.
func Hammer(ctx context.Context, clients int, d time.Duration, fn func(ctx context.Context, worker int) error) (int64, float64, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var count atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	start := time.Now()
	for w := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if err := fn(ctx, w); err != nil {
					if ctx.Err() == nil {
						errs <- err
						cancel()
					}
					return
				}
				count.Add(1)
			}
		}()
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	close(errs)
	return count.Load(), secs, <-errs
}

// Populate creates n runs named run-1 ... run-n with 5 params and 5 metrics
// each in experiment exp, through store, from workers goroutines.
func Populate(ctx context.Context, store *sqlstore.Store, exp string, n, workers int) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for w := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 42))
			for i := next.Add(1); i <= int64(n); i = next.Add(1) {
				run, err := store.CreateRun(ctx, tracking.CreateRun{ExperimentID: exp, RunName: "run-" + strconv.FormatInt(i, 10), StartTime: i})
				if err == nil {
					var ms []tracking.Metric
					var ps []tracking.Param
					for k := range 5 {
						ms = append(ms, tracking.Metric{Key: "m" + strconv.Itoa(k), Value: rng.Float64(), Timestamp: i})
						ps = append(ps, tracking.Param{Key: "p" + strconv.Itoa(k), Value: strconv.Itoa(rng.IntN(100))})
					}
					err = store.LogBatch(ctx, run.Info.RunID, ms, ps, nil)
				}
				if err != nil {
					errs[w] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
