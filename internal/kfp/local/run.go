// Package local runs a KFP v2 pipeline (PipelineSpec IR) on this machine
// without containers: each container task runs the local binary named like
// its command, with the placeholders of its arguments resolved to files
// under a local pipeline root.
//
// Tasks run as soon as the tasks they depend on have succeeded, a
// ParallelFor fans its body out over the items with its parallelism limit,
// and the tasks after it wait for every iteration. A failed task skips the
// tasks that depend on it; the others go on.
package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/kubeflow/pipelines/api/v2alpha1/go/pipelinespec"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/mlops-lab/housing/internal/kfp"
)

// Options configure a local run.
type Options struct {
	// RunID names the run; its files go under Root/RunID. Required.
	RunID string
	// Root is the local pipeline root. Required.
	Root string
	// BinDir holds the step binaries, each named like the base name of its
	// container command (/usr/local/bin/train -> BinDir/train). Required.
	BinDir string
	// Parallelism bounds how many tasks execute at once (default: the
	// number of CPUs). ParallelFor limits apply as well.
	Parallelism int
	// Params are pipeline parameters in text form (see kfp.ParseValue); the
	// others take their defaults.
	Params map[string]string
	// Env is the environment the steps inherit, usually os.Environ(). A
	// variable set here wins over the container's env value of the same
	// name, and secret-sourced variables are taken from here.
	Env []string
	// Output receives each task's output lines prefixed with its name.
	// Nil discards them (they are in the task's log file either way).
	Output io.Writer
}

// Status is the final state of a task.
type Status string

// Task states.
const (
	Succeeded Status = "SUCCEEDED"
	Failed    Status = "FAILED"
	Skipped   Status = "SKIPPED" // an upstream task failed
)

// TaskResult is what one task did.
type TaskResult struct {
	// Path names the task within the run: "ingest", or
	// "for-loop-1/0/train" for the first iteration of a ParallelFor.
	Path       string
	Status     Status
	Parameters map[string]*structpb.Value // output parameters
	Artifacts  map[string]string          // output artifact paths
	Log        string                     // log file of a container task
	Err        error                      // why it failed or was skipped
}

// Result is what a run did.
type Result struct {
	RunID   string
	Dir     string                     // Root/RunID
	Outputs map[string]*structpb.Value // the pipeline's output parameters
	Tasks   []TaskResult               // container tasks and ParallelFors, by Path
}

// Failed returns the tasks that failed (not those skipped because of them).
func (r *Result) Failed() []TaskResult {
	var out []TaskResult
	for _, t := range r.Tasks {
		if t.Status == Failed {
			out = append(out, t)
		}
	}
	return out
}

// ErrTaskFailed is wrapped by the error Run returns when a task failed.
var ErrTaskFailed = errors.New("pipeline task failed")

// Run executes the pipeline doc and returns what each task did. It returns
// an error wrapping ErrTaskFailed when a task failed, with the Result still
// filled in, and other errors when the run could not start.
func Run(ctx context.Context, doc kfp.Document, opts Options) (*Result, error) {
	if opts.RunID == "" || opts.Root == "" || opts.BinDir == "" {
		return nil, errors.New("local: RunID, Root and BinDir are required")
	}
	if strings.ContainsAny(opts.RunID, `/\`) {
		return nil, fmt.Errorf("local: run id %q has a path separator", opts.RunID)
	}
	if err := kfp.Validate(doc); err != nil {
		return nil, fmt.Errorf("local: invalid pipeline: %w", err)
	}
	executors, err := kfp.Executors(doc.Spec)
	if err != nil {
		return nil, err
	}
	params, err := pipelineInputs(doc.Spec, opts.Params)
	if err != nil {
		return nil, err
	}
	parallel := opts.Parallelism
	if parallel <= 0 {
		parallel = runtime.NumCPU()
	}
	r := &runner{
		spec:      doc.Spec,
		executors: executors,
		secrets:   secretEnvNames(doc.Platform),
		opts:      opts,
		dir:       filepath.Join(opts.Root, opts.RunID),
		slots:     make(chan struct{}, parallel),
		out:       &lockedWriter{w: opts.Output},
	}
	if r.out.w == nil {
		r.out.w = io.Discard
	}
	if err := os.MkdirAll(r.dir, 0o755); err != nil {
		return nil, fmt.Errorf("local: run directory: %w", err)
	}
	r.noteMissingSecrets()
	outs, dagErr := r.runDAG(ctx, doc.Spec.GetRoot(), scope{params: params}, "")
	res := &Result{RunID: opts.RunID, Dir: r.dir, Tasks: r.results}
	sort.Slice(res.Tasks, func(i, j int) bool { return res.Tasks[i].Path < res.Tasks[j].Path })
	if dagErr != nil {
		if !errors.Is(dagErr, ErrTaskFailed) {
			dagErr = fmt.Errorf("%w: %w", ErrTaskFailed, dagErr)
		}
		return res, dagErr
	}
	res.Outputs = outs.params
	return res, nil
}

// pipelineInputs resolves the root inputs from the given text values and the defaults.
func pipelineInputs(spec *pipelinespec.PipelineSpec, given map[string]string) (map[string]*structpb.Value, error) {
	root := spec.GetRoot()
	if len(root.GetInputDefinitions().GetArtifacts()) > 0 {
		return nil, fmt.Errorf("local: pipelines with input artifacts are not supported")
	}
	params, err := kfp.ParseParameters(spec, given)
	if err != nil {
		return nil, err
	}
	for name, def := range root.GetInputDefinitions().GetParameters() {
		if _, ok := params[name]; ok {
			continue
		}
		if def.GetDefaultValue() != nil {
			params[name] = def.GetDefaultValue()
			continue
		}
		if !def.GetIsOptional() {
			return nil, fmt.Errorf("local: pipeline parameter %q is required (--param %s=...)", name, name)
		}
	}
	return params, nil
}

// scope is what the tasks of one DAG see: the DAG component's inputs.
type scope struct {
	params    map[string]*structpb.Value
	artifacts map[string][]string
}

// outputs are a task's (or a DAG's) outputs. Artifacts are lists so that a
// ParallelFor can collect one per iteration.
type outputs struct {
	params    map[string]*structpb.Value
	artifacts map[string][]string
}

type runner struct {
	spec      *pipelinespec.PipelineSpec
	executors map[string]*pipelinespec.PipelineDeploymentConfig_ExecutorSpec
	secrets   map[string]bool // env vars the platform spec takes from secrets
	opts      Options
	dir       string
	slots     chan struct{} // bounds concurrent executions
	out       *lockedWriter

	mu      sync.Mutex
	results []TaskResult
}

func (r *runner) record(t TaskResult) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.results = append(r.results, t)
}

// errSkipped marks a task not run because an upstream task failed.
var errSkipped = errors.New("skipped: an upstream task failed")

// runDAG runs the tasks of a DAG component, each once its upstream tasks
// succeeded, and returns the DAG's outputs.
func (r *runner) runDAG(ctx context.Context, comp *pipelinespec.ComponentSpec, in scope, prefix string) (outputs, error) {
	tasks := comp.GetDag().GetTasks()
	type state struct {
		done chan struct{}
		out  outputs
		err  error
	}
	states := map[string]*state{}
	for name := range tasks {
		states[name] = &state{done: make(chan struct{})}
	}
	var wg sync.WaitGroup
	for name, task := range tasks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := states[name]
			defer close(st.done)
			upstream := map[string]outputs{}
			for _, dep := range upstreamOf(task) {
				d := states[dep]
				<-d.done
				if d.err != nil {
					st.err = errSkipped
				}
				upstream[dep] = d.out
			}
			path := prefix + name
			if st.err != nil {
				r.record(TaskResult{Path: path, Status: Skipped, Err: st.err})
				return
			}
			st.out, st.err = r.runTask(ctx, path, task, in, upstream)
		}()
	}
	wg.Wait()
	var errs []error
	for _, name := range keys(tasks) {
		if err := states[name].err; err != nil && !errors.Is(err, errSkipped) {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return outputs{}, errors.Join(errs...)
	}
	// The DAG's outputs, from its tasks' outputs.
	res := outputs{params: map[string]*structpb.Value{}, artifacts: map[string][]string{}}
	dagOut := comp.GetDag().GetOutputs()
	for name, o := range dagOut.GetParameters() {
		sel := o.GetValueFromParameter()
		if sel == nil {
			return outputs{}, fmt.Errorf("local: %s: DAG output %q: only valueFromParameter is supported", prefix, name)
		}
		if v, ok := states[sel.GetProducerSubtask()].out.params[sel.GetOutputParameterKey()]; ok {
			res.params[name] = v
		}
	}
	for name, o := range dagOut.GetArtifacts() {
		for _, sel := range o.GetArtifactSelectors() {
			res.artifacts[name] = append(res.artifacts[name], states[sel.GetProducerSubtask()].out.artifacts[sel.GetOutputArtifactKey()]...)
		}
	}
	return res, nil
}

// upstreamOf lists the tasks a task waits for: its dependentTasks and the
// producers of its inputs.
func upstreamOf(t *pipelinespec.PipelineTaskSpec) []string {
	seen := map[string]bool{}
	var out []string
	add := func(n string) {
		if n != "" && !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	for _, d := range t.GetDependentTasks() {
		add(d)
	}
	for _, p := range t.GetInputs().GetParameters() {
		add(p.GetTaskOutputParameter().GetProducerTask())
	}
	for _, a := range t.GetInputs().GetArtifacts() {
		add(a.GetTaskOutputArtifact().GetProducerTask())
	}
	sort.Strings(out)
	return out
}

// runTask resolves a task's inputs and runs it: a ParallelFor, a sub-DAG or
// a container.
func (r *runner) runTask(ctx context.Context, path string, task *pipelinespec.PipelineTaskSpec, in scope, upstream map[string]outputs) (outputs, error) {
	comp := r.spec.GetComponents()[task.GetComponentRef().GetName()]
	args, err := taskInputs(task, in, upstream)
	if err != nil {
		err = fmt.Errorf("task %s: %w", path, err)
		r.record(TaskResult{Path: path, Status: Failed, Err: err})
		return outputs{}, err
	}
	if task.GetParameterIterator() != nil {
		return r.runLoop(ctx, path, task, comp, args)
	}
	if task.GetArtifactIterator() != nil {
		err := fmt.Errorf("task %s: artifact iterators are not supported", path)
		r.record(TaskResult{Path: path, Status: Failed, Err: err})
		return outputs{}, err
	}
	if comp.GetDag() != nil {
		return r.runDAG(ctx, comp, args, path+"/")
	}
	return r.runContainer(ctx, path, comp, args)
}

// taskInputs resolves a task's inputs from the enclosing DAG's scope and
// its upstream tasks' outputs.
func taskInputs(task *pipelinespec.PipelineTaskSpec, in scope, upstream map[string]outputs) (scope, error) {
	s := scope{params: map[string]*structpb.Value{}, artifacts: map[string][]string{}}
	for name, src := range task.GetInputs().GetParameters() {
		if src.GetParameterExpressionSelector() != "" {
			return scope{}, fmt.Errorf("input %s: parameterExpressionSelector is not supported", name)
		}
		switch k := src.GetKind().(type) {
		case *pipelinespec.TaskInputsSpec_InputParameterSpec_ComponentInputParameter:
			if v, ok := in.params[k.ComponentInputParameter]; ok {
				s.params[name] = v
			}
		case *pipelinespec.TaskInputsSpec_InputParameterSpec_TaskOutputParameter:
			v, ok := upstream[k.TaskOutputParameter.GetProducerTask()].params[k.TaskOutputParameter.GetOutputParameterKey()]
			if !ok {
				return scope{}, fmt.Errorf("input %s: task %s has no output %s", name, k.TaskOutputParameter.GetProducerTask(), k.TaskOutputParameter.GetOutputParameterKey())
			}
			s.params[name] = v
		case *pipelinespec.TaskInputsSpec_InputParameterSpec_RuntimeValue:
			v := k.RuntimeValue.GetConstant()
			if v == nil {
				return scope{}, fmt.Errorf("input %s: only constant runtime values are supported", name)
			}
			s.params[name] = v
		default:
			return scope{}, fmt.Errorf("input %s: source %T is not supported", name, k)
		}
	}
	for name, src := range task.GetInputs().GetArtifacts() {
		switch k := src.GetKind().(type) {
		case *pipelinespec.TaskInputsSpec_InputArtifactSpec_ComponentInputArtifact:
			if v, ok := in.artifacts[k.ComponentInputArtifact]; ok {
				s.artifacts[name] = v
			}
		case *pipelinespec.TaskInputsSpec_InputArtifactSpec_TaskOutputArtifact:
			v, ok := upstream[k.TaskOutputArtifact.GetProducerTask()].artifacts[k.TaskOutputArtifact.GetOutputArtifactKey()]
			if !ok {
				return scope{}, fmt.Errorf("input %s: task %s has no output artifact %s", name, k.TaskOutputArtifact.GetProducerTask(), k.TaskOutputArtifact.GetOutputArtifactKey())
			}
			s.artifacts[name] = v
		default:
			return scope{}, fmt.Errorf("input artifact %s: source %T is not supported", name, k)
		}
	}
	return s, nil
}

// runLoop fans a ParallelFor body out over its items, at most
// parallelismLimit at once (0: no limit), and waits for all of them.
// Output parameters of the body are collected into lists.
func (r *runner) runLoop(ctx context.Context, path string, task *pipelinespec.PipelineTaskSpec, body *pipelinespec.ComponentSpec, in scope) (outputs, error) {
	it := task.GetParameterIterator()
	var items []*structpb.Value
	switch k := it.GetItems().GetKind().(type) {
	case *pipelinespec.ParameterIteratorSpec_ItemsSpec_InputParameter:
		list := in.params[k.InputParameter].GetListValue()
		if list == nil {
			err := fmt.Errorf("task %s: items %s is not a list: %v", path, k.InputParameter, in.params[k.InputParameter])
			r.record(TaskResult{Path: path, Status: Failed, Err: err})
			return outputs{}, err
		}
		items = list.GetValues()
	case *pipelinespec.ParameterIteratorSpec_ItemsSpec_Raw:
		v, err := kfp.ParseValue(k.Raw, pipelinespec.ParameterType_LIST)
		if err != nil {
			err = fmt.Errorf("task %s: raw items: %w", path, err)
			r.record(TaskResult{Path: path, Status: Failed, Err: err})
			return outputs{}, err
		}
		items = v.GetListValue().GetValues()
	}
	limit := int(task.GetIteratorPolicy().GetParallelismLimit())
	if limit <= 0 || limit > len(items) {
		limit = max(len(items), 1)
	}
	sem := make(chan struct{}, limit)
	iterOut := make([]outputs, len(items))
	iterErr := make([]error, len(items))
	var wg sync.WaitGroup
	for i, item := range items {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				iterErr[i] = ctx.Err()
				return
			}
			defer func() { <-sem }()
			s := scope{params: map[string]*structpb.Value{it.GetItemInput(): item}, artifacts: in.artifacts}
			for k, v := range in.params {
				s.params[k] = v
			}
			iterOut[i], iterErr[i] = r.runDAG(ctx, body, s, fmt.Sprintf("%s/%d/", path, i))
		}()
	}
	wg.Wait()
	res := outputs{params: map[string]*structpb.Value{}, artifacts: map[string][]string{}}
	collected := map[string][]any{}
	for i := range items {
		for k, v := range iterOut[i].params {
			collected[k] = append(collected[k], v.AsInterface())
		}
		for k, v := range iterOut[i].artifacts {
			res.artifacts[k] = append(res.artifacts[k], v...)
		}
	}
	for k, vs := range collected {
		if l, err := structpb.NewList(vs); err == nil {
			res.params[k] = structpb.NewListValue(l)
		}
	}
	if err := errors.Join(iterErr...); err != nil {
		r.record(TaskResult{Path: path, Status: Failed, Err: fmt.Errorf("task %s: an iteration failed", path)})
		return outputs{}, err
	}
	r.record(TaskResult{Path: path, Status: Succeeded, Parameters: res.params})
	return res, nil
}

// secretEnvNames lists the env vars the kubernetes platform spec takes from
// secrets; locally they come from the caller's environment.
func secretEnvNames(p *pipelinespec.PlatformSpec) map[string]bool {
	names := map[string]bool{}
	for _, cfg := range p.GetPlatforms()["kubernetes"].GetDeploymentSpec().GetExecutors() {
		envs, err := kfp.SecretEnvs(cfg.AsMap())
		if err != nil {
			continue // Validate has reported it already.
		}
		for _, s := range envs {
			for _, k := range s.KeyToEnv {
				names[k.EnvVar] = true
			}
		}
	}
	return names
}

// noteMissingSecrets says which secret-sourced variables the caller's
// environment lacks, since locally that is where they come from.
func (r *runner) noteMissingSecrets() {
	set := map[string]bool{}
	for _, kv := range r.opts.Env {
		if k, _, ok := strings.Cut(kv, "="); ok {
			set[k] = true
		}
	}
	for _, name := range keys(r.secrets) {
		if !set[name] {
			fmt.Fprintf(r.out, "note: %s comes from a Kubernetes secret in the cluster and is not set here\n", name)
		}
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
