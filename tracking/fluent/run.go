package fluent

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/mlops-lab/housing/tracking"
)

// RunOptions says which run StartRun starts. The zero value starts a run in
// the experiment named by the environment (or the Default experiment) with a
// generated name.
type RunOptions struct {
	// ExperimentName is the experiment of a new run, created when missing;
	// empty means MLFLOW_EXPERIMENT_NAME, MLFLOW_EXPERIMENT_ID, the parent
	// run's experiment, or the Default experiment, in that order.
	ExperimentName string
	// RunName names a new run; empty lets the store generate one.
	RunName string
	// Tags are set on the run, over the system tags.
	Tags map[string]string
	// ParentRunID makes the run a nested run of that run (tag mlflow.parentRunId).
	ParentRunID string
	// RunID resumes an existing run instead of creating one. Empty means the
	// run in MLFLOW_RUN_ID for the first top-level run a Client starts.
	RunID string
	// StartTime and EndTime, when set, are a new run's start time and the
	// end time End records, instead of the times it is created and ended:
	// for a run logged after the work it describes (a search's trial,
	// scored before it is logged), as MLflow's create_run(start_time=) and
	// set_terminated(end_time=) take them. A resumed run keeps its start.
	StartTime, EndTime time.Time
}

// shutdownTimeout bounds the final flush and status update of End, which run
// even when the caller's context is cancelled.
const shutdownTimeout = 2 * time.Minute

// batchTimeout bounds one LogBatch sent from the buffer.
const batchTimeout = 2 * time.Minute

// Run is an open run: logging methods buffer or send data for it, End closes
// it. A Run is safe for concurrent use.
type Run struct {
	c    *Client
	info tracking.RunInfo
	ctx  context.Context // values of StartRun's context, never cancelled

	mu     sync.Mutex
	buf    buffer
	params map[string]string // every param of the run, to refuse changes early
	errs   []error           // errors of buffered sends, returned by End
	ended  bool

	flushMu sync.Mutex // one batch in flight at a time keeps metrics in order
	modelMu sync.Mutex // serializes read-modify-write of the log-model history tag

	repoMu sync.Mutex
	repo   tracking.ArtifactRepository

	endTime time.Time // RunOptions.EndTime

	stop chan struct{} // closed by End to stop the flush timer
	done chan struct{} // closed when the flush timer has stopped
}

// StartRun creates a run (or resumes one, see RunOptions.RunID) and starts
// the timer that sends its buffered data. Every Run must be ended with End;
// Do does that.
func (c *Client) StartRun(ctx context.Context, opts RunOptions) (*Run, error) {
	runID, fromEnv := opts.RunID, false
	if runID == "" && opts.ParentRunID == "" {
		c.mu.Lock()
		if !c.envRunTaken {
			runID = c.opts.Getenv(EnvRunID)
			fromEnv = runID != ""
			c.envRunTaken = true
		}
		c.mu.Unlock()
	}
	var (
		run *tracking.Run
		err error
	)
	if runID != "" {
		run, err = c.resumeRun(ctx, runID, opts, fromEnv)
	} else {
		run, err = c.createRun(ctx, opts)
	}
	if err != nil {
		return nil, err
	}
	r := &Run{
		c:       c,
		info:    run.Info,
		ctx:     context.WithoutCancel(ctx),
		params:  make(map[string]string, len(run.Data.Params)),
		endTime: opts.EndTime,
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	for _, p := range run.Data.Params {
		r.params[p.Key] = p.Value
	}
	go r.flushEvery(c.opts.FlushInterval)
	return r, nil
}

func (c *Client) createRun(ctx context.Context, opts RunOptions) (*tracking.Run, error) {
	var parentExp string
	if opts.ParentRunID != "" {
		parent, err := c.store.GetRun(ctx, opts.ParentRunID)
		if err != nil {
			return nil, fmt.Errorf("fluent: parent run %s: %w", opts.ParentRunID, err)
		}
		parentExp = parent.Info.ExperimentID
	}
	expID, err := c.experimentID(ctx, opts.ExperimentName, parentExp)
	if err != nil {
		return nil, err
	}
	user := c.userName()
	tags := mergeTags(c.systemTags(ctx, user, opts.RunName, opts.ParentRunID), opts.Tags)
	start := c.millis()
	if !opts.StartTime.IsZero() {
		start = opts.StartTime.UnixMilli()
	}
	run, err := c.store.CreateRun(ctx, tracking.CreateRun{
		ExperimentID: expID,
		UserID:       user,
		RunName:      opts.RunName,
		StartTime:    start,
		Tags:         tags,
	})
	if err != nil {
		return nil, fmt.Errorf("fluent: create run in experiment %s: %w", expID, err)
	}
	return run, nil
}

// resumeRun reopens an existing run as MLflow's start_run(run_id) does: it must
// not be deleted, its status goes back to RUNNING, and opts.Tags are set. A run
// handed over in MLFLOW_RUN_ID (fromEnv) is used whatever experiment it is in:
// Kubeflow Pipelines 2.17 creates one per task in the experiment it chose and
// hands it to the step, which must log there and not start another.
func (c *Client) resumeRun(ctx context.Context, runID string, opts RunOptions, fromEnv bool) (*tracking.Run, error) {
	run, err := c.store.GetRun(ctx, runID)
	if err != nil {
		return nil, fmt.Errorf("fluent: resume run %s: %w", runID, err)
	}
	if run.Info.LifecycleStage == tracking.LifecycleDeleted {
		return nil, tracking.Errorf(tracking.ErrInvalidState, "Cannot resume run %s because it is in the deleted state", runID)
	}
	if opts.ExperimentName != "" {
		exp, err := c.store.GetExperiment(ctx, run.Info.ExperimentID)
		if err != nil {
			return nil, fmt.Errorf("fluent: resume run %s: %w", runID, err)
		}
		if exp.Name != opts.ExperimentName && fromEnv {
			c.log.Warn("logging into the run of "+EnvRunID+", in another experiment than asked",
				"run_id", runID, "experiment", exp.Name, "asked", opts.ExperimentName)
		} else if exp.Name != opts.ExperimentName {
			return nil, tracking.Errorf(tracking.ErrInvalidParameterValue,
				"Cannot resume run %s in experiment %q: it belongs to experiment %q", runID, opts.ExperimentName, exp.Name)
		}
	}
	running := tracking.RunRunning
	if _, err := c.store.UpdateRun(ctx, runID, tracking.UpdateRun{Status: &running}); err != nil {
		return nil, fmt.Errorf("fluent: resume run %s: %w", runID, err)
	}
	if len(opts.Tags) > 0 {
		if err := c.store.LogBatch(ctx, runID, nil, nil, mergeTags(nil, opts.Tags)); err != nil {
			return nil, fmt.Errorf("fluent: resume run %s: set tags: %w", runID, err)
		}
	}
	c.log.Info("resumed run", "run_id", runID, "experiment_id", run.Info.ExperimentID)
	return c.store.GetRun(ctx, runID)
}

// mergeTags returns base with extra set over it, extra in key order.
func mergeTags(base []tracking.Tag, extra map[string]string) []tracking.Tag {
	out := slices.Clone(base)
	for _, k := range slices.Sorted(maps.Keys(extra)) {
		i := slices.IndexFunc(out, func(t tracking.Tag) bool { return t.Key == k })
		if i >= 0 {
			out[i].Value = extra[k]
		} else {
			out = append(out, tracking.Tag{Key: k, Value: extra[k]})
		}
	}
	return out
}

// ID returns the run's id.
func (r *Run) ID() string { return r.info.RunID }

// ExperimentID returns the id of the run's experiment.
func (r *Run) ExperimentID() string { return r.info.ExperimentID }

// Name returns the run's name.
func (r *Run) Name() string { return r.info.RunName }

// ArtifactURI returns the root URI of the run's artifacts.
func (r *Run) ArtifactURI() string { return r.info.ArtifactURI }

// Info returns the run's metadata as it was when the run started.
func (r *Run) Info() tracking.RunInfo { return r.info }

// ModelURI returns the runs:/ URI of the artifact path of this run.
func (r *Run) ModelURI(artifactPath string) string {
	return "runs:/" + r.info.RunID + "/" + artifactPath
}

// End sends everything still buffered and closes the run: FINISHED when runErr
// is nil, KILLED when it is a context cancellation, FAILED otherwise, with the
// error's message in the TagError tag. It returns the errors of buffered sends
// that failed during the run (nothing is silently lost) and of closing it.
// End works even when ctx is already cancelled; calls after the first do nothing.
func (r *Run) End(ctx context.Context, runErr error) error {
	r.mu.Lock()
	if r.ended {
		r.mu.Unlock()
		return nil
	}
	r.ended = true
	status := tracking.RunFinished
	if runErr != nil {
		status = tracking.RunFailed
		if errors.Is(runErr, context.Canceled) {
			status = tracking.RunKilled
		}
		r.buf.setTag(tracking.Tag{Key: TagError, Value: truncate(runErr.Error(), tracking.MaxTagValueLength)})
	}
	r.mu.Unlock()
	close(r.stop)
	<-r.done

	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	_ = r.flush(ctx) // recorded in r.errs
	end := r.c.millis()
	if !r.endTime.IsZero() {
		end = r.endTime.UnixMilli()
	}
	_, err := r.c.store.UpdateRun(ctx, r.info.RunID, tracking.UpdateRun{Status: &status, EndTime: &end})
	if err != nil {
		err = fmt.Errorf("fluent: end run %s as %s: %w", r.info.RunID, status, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return errors.Join(append(r.errs, err)...)
}

// Do runs fn inside a new run (see StartRun) and ends it with fn's result:
// FINISHED on nil, KILLED when ctx was cancelled, FAILED on any other error
// and on a panic, which Do re-panics after ending the run. It returns fn's
// error joined with any error of ending the run.
func (c *Client) Do(ctx context.Context, opts RunOptions, fn func(ctx context.Context, run *Run) error) error {
	run, err := c.StartRun(ctx, opts)
	if err != nil {
		return err
	}
	returned := false
	defer func() {
		if returned {
			return
		}
		// fn panicked, or called runtime.Goexit (t.FatalF in a test).
		p := recover()
		cause := fmt.Errorf("panic: %v", p)
		if p == nil {
			cause = errors.New("run function exited without returning")
		}
		if err := run.End(ctx, cause); err != nil {
			c.log.Error("end run after panic", "run_id", run.ID(), "err", err)
		}
		if p != nil {
			panic(p)
		}
	}()
	fnErr := fn(ctx, run)
	returned = true
	if fnErr != nil && ctx.Err() != nil && !errors.Is(fnErr, ctx.Err()) {
		fnErr = fmt.Errorf("%w (%w)", fnErr, ctx.Err())
	}
	return errors.Join(fnErr, run.End(ctx, fnErr))
}
