package local

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"sync"

	"github.com/kubeflow/pipelines/api/v2alpha1/go/pipelinespec"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/mlops-lab/housing/internal/kfp"
)

// TaskError is a failed container task: its log file and the end of it.
type TaskError struct {
	Task    string
	Log     string
	LogTail string
	Err     error
}

func (e *TaskError) Error() string {
	return fmt.Sprintf("task %s failed: %v (log: %s)", e.Task, e.Err, e.Log)
}

func (e *TaskError) Unwrap() []error { return []error{e.Err, ErrTaskFailed} }

// logTailLines is how much of a failed task's log its error carries.
const logTailLines = 20

// runContainer runs one container task with the local binary of its
// command, its placeholders resolved to files under the task's directory
// (artifacts/<name>, outputs/<name>), and reads back its output parameters.
func (r *runner) runContainer(ctx context.Context, taskPath string, comp *pipelinespec.ComponentSpec, in scope) (outputs, error) {
	res := TaskResult{Path: taskPath}
	out, err := r.execute(ctx, taskPath, comp, in, &res)
	if err != nil {
		res.Status = Failed
		var te *TaskError
		if !errors.As(err, &te) {
			err = &TaskError{Task: taskPath, Log: res.Log, LogTail: tail(res.Log, logTailLines), Err: err}
		}
		res.Err = err
		r.record(res)
		return outputs{}, err
	}
	res.Status = Succeeded
	res.Parameters = out.params
	res.Artifacts = map[string]string{}
	for k, v := range out.artifacts {
		res.Artifacts[k] = v[0]
	}
	r.record(res)
	return out, nil
}

func (r *runner) execute(ctx context.Context, taskPath string, comp *pipelinespec.ComponentSpec, in scope, res *TaskResult) (outputs, error) {
	ctr := r.executors[comp.GetExecutorLabel()].GetContainer()
	if ctr == nil {
		return outputs{}, fmt.Errorf("executor %s is not a container", comp.GetExecutorLabel())
	}
	dir := filepath.Join(r.dir, filepath.FromSlash(taskPath))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return outputs{}, err
	}
	res.Log = filepath.Join(dir, "log")

	// Inputs: what the task got, else the component's defaults.
	params := map[string]*structpb.Value{}
	for name, def := range comp.GetInputDefinitions().GetParameters() {
		if v, ok := in.params[name]; ok {
			params[name] = v
		} else if def.GetDefaultValue() != nil {
			params[name] = def.GetDefaultValue()
		} else if !def.GetIsOptional() {
			return outputs{}, fmt.Errorf("input parameter %s has no value", name)
		}
	}
	out := outputs{params: map[string]*structpb.Value{}, artifacts: map[string][]string{}}
	outFiles := map[string]string{}
	for name := range comp.GetOutputDefinitions().GetArtifacts() {
		p := filepath.Join(dir, "artifacts", name)
		out.artifacts[name] = []string{p}
	}
	for name := range comp.GetOutputDefinitions().GetParameters() {
		outFiles[name] = filepath.Join(dir, "outputs", name)
	}
	// The KFP launcher makes the parent directories of output paths; so do we.
	for _, sub := range []string{"artifacts", "outputs"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return outputs{}, err
		}
	}
	value := func(p kfp.Placeholder) (string, error) {
		switch p.Kind {
		case kfp.KindInputParameter:
			v, ok := params[p.Name]
			if !ok {
				return "", fmt.Errorf("input parameter %s has no value", p.Name)
			}
			return kfp.Text(v), nil
		case kfp.KindInputArtifactPath, kfp.KindInputArtifactURI:
			paths := in.artifacts[p.Name]
			if len(paths) != 1 {
				return "", fmt.Errorf("input artifact %s: want one artifact, have %d", p.Name, len(paths))
			}
			return pathOrURI(paths[0], p.Kind == kfp.KindInputArtifactURI), nil
		case kfp.KindOutputArtifactPath, kfp.KindOutputArtifactURI:
			return pathOrURI(out.artifacts[p.Name][0], p.Kind == kfp.KindOutputArtifactURI), nil
		case kfp.KindOutputParameterFile:
			return outFiles[p.Name], nil
		}
		return "", fmt.Errorf("placeholder %s is not supported", p.Text)
	}
	var argv []string
	for _, a := range append(append([]string(nil), ctr.GetCommand()...), ctr.GetArgs()...) {
		s, err := kfp.ResolvePlaceholders(a, value)
		if err != nil {
			return outputs{}, err
		}
		argv = append(argv, s)
	}
	bin := filepath.Join(r.opts.BinDir, path.Base(argv[0]))
	if st, err := os.Stat(bin); err != nil || st.IsDir() {
		return outputs{}, fmt.Errorf("no binary %s for command %s: build it into --bin-dir", bin, argv[0])
	}

	logFile, err := os.Create(res.Log)
	if err != nil {
		return outputs{}, err
	}
	defer logFile.Close()
	prefixed := &prefixWriter{w: r.out, prefix: "[" + taskPath + "] "}
	w := io.MultiWriter(logFile, prefixed)
	fmt.Fprintf(logFile, "$ %s\n", strings.Join(argv, " "))

	select {
	case r.slots <- struct{}{}:
	case <-ctx.Done():
		return outputs{}, ctx.Err()
	}
	// The step runs in the caller's working directory, so that relative
	// paths and URIs (sqlite:///mlflow.db) mean what they mean to the caller.
	cmd := exec.CommandContext(ctx, bin, argv[1:]...)
	cmd.Env = containerEnv(r.opts.Env, ctr.GetEnv())
	cmd.Stdout, cmd.Stderr = w, w
	runErr := cmd.Run()
	<-r.slots
	prefixed.flush()
	if runErr != nil {
		logFile.Sync()
		return outputs{}, &TaskError{Task: taskPath, Log: res.Log, LogTail: tail(res.Log, logTailLines), Err: runErr}
	}

	for name, def := range comp.GetOutputDefinitions().GetParameters() {
		b, err := os.ReadFile(outFiles[name])
		if err != nil {
			return outputs{}, fmt.Errorf("output parameter %s: the step wrote no %s: %w", name, outFiles[name], err)
		}
		v, err := kfp.OutputValue(string(b), def.GetParameterType())
		if err != nil {
			return outputs{}, fmt.Errorf("output parameter %s: %w", name, err)
		}
		out.params[name] = v
	}
	for name, paths := range out.artifacts {
		if _, err := os.Stat(paths[0]); err != nil {
			return outputs{}, fmt.Errorf("output artifact %s: the step wrote nothing to %s", name, paths[0])
		}
	}
	return out, nil
}

func pathOrURI(p string, uri bool) string {
	if uri {
		return "file://" + filepath.ToSlash(p)
	}
	return p
}

// containerEnv is the caller's environment plus the container's env values
// for variables the caller has not set.
func containerEnv(caller []string, env []*pipelinespec.PipelineDeploymentConfig_PipelineContainerSpec_EnvVar) []string {
	set := map[string]bool{}
	for _, kv := range caller {
		if k, _, ok := strings.Cut(kv, "="); ok {
			set[k] = true
		}
	}
	out := append([]string(nil), caller...)
	for _, e := range env {
		if !set[e.GetName()] {
			out = append(out, e.GetName()+"="+e.GetValue())
		}
	}
	return out
}

// tail returns the last n lines of a file, or "" if it cannot be read.
func tail(file string, n int) string {
	b, err := os.ReadFile(file)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// lockedWriter serializes writes from concurrent tasks.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// prefixWriter writes whole lines, each with a prefix, so that lines of
// concurrent tasks do not interleave mid-line.
type prefixWriter struct {
	w      io.Writer
	prefix string
	mu     sync.Mutex
	buf    []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf = append(p.buf, b...)
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			break
		}
		line := append([]byte(p.prefix), p.buf[:i+1]...)
		p.buf = p.buf[i+1:]
		if _, err := p.w.Write(line); err != nil {
			return len(b), err
		}
	}
	return len(b), nil
}

func (p *prefixWriter) flush() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.buf) > 0 {
		p.w.Write(append(append([]byte(p.prefix), p.buf...), '\n'))
		p.buf = nil
	}
}
