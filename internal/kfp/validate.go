package kfp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/kubeflow/pipelines/api/v2alpha1/go/pipelinespec"
	"google.golang.org/protobuf/encoding/protojson"
)

// Executors returns the deployment spec's executors, read strictly from the
// Struct that PipelineSpec.deployment_spec is.
func Executors(spec *pipelinespec.PipelineSpec) (map[string]*pipelinespec.PipelineDeploymentConfig_ExecutorSpec, error) {
	if spec.GetDeploymentSpec() == nil {
		return nil, nil
	}
	j, err := protojson.Marshal(spec.GetDeploymentSpec())
	if err != nil {
		return nil, fmt.Errorf("kfp: deploymentSpec: %w", err)
	}
	var cfg pipelinespec.PipelineDeploymentConfig
	if err := (protojson.UnmarshalOptions{DiscardUnknown: false}).Unmarshal(j, &cfg); err != nil {
		return nil, fmt.Errorf("kfp: deploymentSpec is not a PipelineDeploymentConfig: %w", err)
	}
	return cfg.GetExecutors(), nil
}

// Validate checks that every reference in the document resolves: component
// refs, executor labels, task inputs against the component's declared
// inputs, producer tasks and their output keys, dependent tasks, iterator
// items, DAG outputs, container placeholders, and platform executors. It
// returns all problems found, joined.
func Validate(doc Document) error {
	v := &validator{spec: doc.Spec}
	v.run(doc)
	return errors.Join(v.errs...)
}

type validator struct {
	spec      *pipelinespec.PipelineSpec
	executors map[string]*pipelinespec.PipelineDeploymentConfig_ExecutorSpec
	errs      []error
}

func (v *validator) fail(format string, args ...any) {
	v.errs = append(v.errs, fmt.Errorf(format, args...))
}

func (v *validator) run(doc Document) {
	spec := doc.Spec
	if spec == nil {
		v.fail("no PipelineSpec")
		return
	}
	if spec.GetPipelineInfo().GetName() == "" {
		v.fail("pipelineInfo.name is empty")
	}
	if spec.GetSchemaVersion() == "" {
		v.fail("schemaVersion is empty")
	}
	var err error
	v.executors, err = Executors(spec)
	if err != nil {
		v.fail("%v", err)
	}
	if spec.GetRoot().GetDag() == nil {
		v.fail("root is not a DAG")
	}
	v.component("root", spec.GetRoot())
	names := sortedKeys(spec.GetComponents())
	used := map[string]bool{}
	for _, name := range names {
		v.component(name, spec.GetComponents()[name])
	}
	v.collectUsed(spec.GetRoot(), used)
	for _, name := range names {
		if !used[name] {
			v.fail("component %s is not used by any task", name)
		}
	}
	v.platform(doc.Platform)
}

func (v *validator) collectUsed(c *pipelinespec.ComponentSpec, used map[string]bool) {
	for _, t := range c.GetDag().GetTasks() {
		name := t.GetComponentRef().GetName()
		if used[name] {
			continue
		}
		used[name] = true
		if sub, ok := v.spec.GetComponents()[name]; ok {
			v.collectUsed(sub, used)
		}
	}
}

func (v *validator) component(name string, c *pipelinespec.ComponentSpec) {
	if c == nil {
		v.fail("component %s is missing", name)
		return
	}
	switch impl := c.GetImplementation().(type) {
	case *pipelinespec.ComponentSpec_ExecutorLabel:
		v.executor(name, c, impl.ExecutorLabel)
	case *pipelinespec.ComponentSpec_Dag:
		v.dag(name, c, impl.Dag)
	default:
		v.fail("component %s has neither dag nor executorLabel", name)
	}
}

func (v *validator) executor(comp string, c *pipelinespec.ComponentSpec, label string) {
	ex, ok := v.executors[label]
	if !ok {
		v.fail("component %s: executorLabel %s is not in deploymentSpec.executors", comp, label)
		return
	}
	ctr := ex.GetContainer()
	if ctr == nil {
		// Importers and resolvers carry no command line to check.
		return
	}
	if ctr.GetImage() == "" {
		v.fail("executor %s: container has no image", label)
	}
	if len(ctr.GetCommand()) == 0 {
		v.fail("executor %s: container has no command", label)
	}
	in, out := c.GetInputDefinitions(), c.GetOutputDefinitions()
	for _, arg := range append(append([]string(nil), ctr.GetCommand()...), ctr.GetArgs()...) {
		phs, err := Placeholders(arg)
		if err != nil {
			v.fail("executor %s: %v", label, err)
			continue
		}
		for _, p := range phs {
			var declared bool
			switch p.Kind {
			case KindInputParameter:
				_, declared = in.GetParameters()[p.Name]
			case KindInputArtifactPath, KindInputArtifactURI:
				_, declared = in.GetArtifacts()[p.Name]
			case KindOutputArtifactPath, KindOutputArtifactURI:
				_, declared = out.GetArtifacts()[p.Name]
			case KindOutputParameterFile:
				_, declared = out.GetParameters()[p.Name]
			}
			if !declared {
				v.fail("executor %s: placeholder %s: component %s declares no %s %q", label, p.Text, comp, p.Kind, p.Name)
			}
		}
	}
}

func (v *validator) dag(comp string, c *pipelinespec.ComponentSpec, dag *pipelinespec.DagSpec) {
	tasks := dag.GetTasks()
	if len(tasks) == 0 {
		v.fail("component %s: DAG has no tasks", comp)
	}
	in := c.GetInputDefinitions()
	for _, tname := range sortedKeys(tasks) {
		t := tasks[tname]
		where := fmt.Sprintf("component %s, task %s", comp, tname)
		if t.GetTaskInfo().GetName() == "" {
			v.fail("%s: taskInfo.name is empty", where)
		}
		ref := t.GetComponentRef().GetName()
		target, ok := v.spec.GetComponents()[ref]
		if !ok {
			v.fail("%s: componentRef %q is not in components", where, ref)
			continue
		}
		deps := map[string]bool{}
		for _, d := range t.GetDependentTasks() {
			if _, ok := tasks[d]; !ok {
				v.fail("%s: dependent task %q is not in the DAG", where, d)
			}
			if d == tname {
				v.fail("%s: depends on itself", where)
			}
			deps[d] = true
		}
		// Inputs the iterator provides per iteration.
		provided := map[string]bool{}
		if it := t.GetParameterIterator(); it != nil {
			provided[it.GetItemInput()] = true
			v.parameterIterator(where, t, target, it)
		}
		if it := t.GetArtifactIterator(); it != nil {
			provided[it.GetItemInput()] = true
			if _, ok := t.GetInputs().GetArtifacts()[it.GetItems().GetInputArtifact()]; !ok {
				v.fail("%s: artifactIterator items %q is not an input artifact of the task", where, it.GetItems().GetInputArtifact())
			}
		}
		targetIn := target.GetInputDefinitions()
		for _, pname := range sortedKeys(t.GetInputs().GetParameters()) {
			src := t.GetInputs().GetParameters()[pname]
			if _, ok := targetIn.GetParameters()[pname]; !ok {
				v.fail("%s: input parameter %q is not declared by %s", where, pname, ref)
			}
			switch k := src.GetKind().(type) {
			case *pipelinespec.TaskInputsSpec_InputParameterSpec_ComponentInputParameter:
				if _, ok := in.GetParameters()[k.ComponentInputParameter]; !ok {
					v.fail("%s: input parameter %q takes component input %q, which %s does not declare", where, pname, k.ComponentInputParameter, comp)
				}
			case *pipelinespec.TaskInputsSpec_InputParameterSpec_TaskOutputParameter:
				v.producer(where, tasks, deps, k.TaskOutputParameter.GetProducerTask(), k.TaskOutputParameter.GetOutputParameterKey(), false)
			case *pipelinespec.TaskInputsSpec_InputParameterSpec_RuntimeValue:
				if k.RuntimeValue.GetConstant() == nil && k.RuntimeValue.GetConstantValue() == nil && k.RuntimeValue.GetRuntimeParameter() == "" {
					v.fail("%s: input parameter %q has an empty runtimeValue", where, pname)
				}
			case *pipelinespec.TaskInputsSpec_InputParameterSpec_TaskFinalStatus_:
				if _, ok := tasks[k.TaskFinalStatus.GetProducerTask()]; !ok {
					v.fail("%s: taskFinalStatus producer %q is not in the DAG", where, k.TaskFinalStatus.GetProducerTask())
				}
			default:
				v.fail("%s: input parameter %q has no source", where, pname)
			}
		}
		for _, aname := range sortedKeys(t.GetInputs().GetArtifacts()) {
			src := t.GetInputs().GetArtifacts()[aname]
			if _, ok := targetIn.GetArtifacts()[aname]; !ok {
				v.fail("%s: input artifact %q is not declared by %s", where, aname, ref)
			}
			switch k := src.GetKind().(type) {
			case *pipelinespec.TaskInputsSpec_InputArtifactSpec_ComponentInputArtifact:
				if _, ok := in.GetArtifacts()[k.ComponentInputArtifact]; !ok {
					v.fail("%s: input artifact %q takes component input %q, which %s does not declare", where, aname, k.ComponentInputArtifact, comp)
				}
			case *pipelinespec.TaskInputsSpec_InputArtifactSpec_TaskOutputArtifact:
				v.producer(where, tasks, deps, k.TaskOutputArtifact.GetProducerTask(), k.TaskOutputArtifact.GetOutputArtifactKey(), true)
			default:
				v.fail("%s: input artifact %q has no source", where, aname)
			}
		}
		// Every required input of the target must be supplied.
		for _, pname := range sortedKeys(targetIn.GetParameters()) {
			p := targetIn.GetParameters()[pname]
			if _, ok := t.GetInputs().GetParameters()[pname]; ok || provided[pname] || p.GetIsOptional() || p.GetDefaultValue() != nil {
				continue
			}
			v.fail("%s: required input parameter %q of %s is not supplied", where, pname, ref)
		}
		for _, aname := range sortedKeys(targetIn.GetArtifacts()) {
			a := targetIn.GetArtifacts()[aname]
			if _, ok := t.GetInputs().GetArtifacts()[aname]; ok || provided[aname] || a.GetIsOptional() {
				continue
			}
			v.fail("%s: required input artifact %q of %s is not supplied", where, aname, ref)
		}
	}
	v.dagOutputs(comp, c, dag)
	if cycle := findCycle(tasks); cycle != "" {
		v.fail("component %s: dependency cycle through task %s", comp, cycle)
	}
}

func (v *validator) parameterIterator(where string, t *pipelinespec.PipelineTaskSpec, target *pipelinespec.ComponentSpec, it *pipelinespec.ParameterIteratorSpec) {
	if it.GetItemInput() == "" {
		v.fail("%s: parameterIterator has no itemInput", where)
	} else if _, ok := target.GetInputDefinitions().GetParameters()[it.GetItemInput()]; !ok {
		v.fail("%s: parameterIterator itemInput %q is not an input of %s", where, it.GetItemInput(), t.GetComponentRef().GetName())
	}
	switch k := it.GetItems().GetKind().(type) {
	case *pipelinespec.ParameterIteratorSpec_ItemsSpec_InputParameter:
		if _, ok := t.GetInputs().GetParameters()[k.InputParameter]; !ok {
			v.fail("%s: parameterIterator items %q is not an input parameter of the task", where, k.InputParameter)
		}
	case *pipelinespec.ParameterIteratorSpec_ItemsSpec_Raw:
		var items []any
		if err := json.Unmarshal([]byte(k.Raw), &items); err != nil {
			v.fail("%s: parameterIterator raw items are not a JSON list: %v", where, err)
		}
	default:
		v.fail("%s: parameterIterator has no items", where)
	}
	if t.GetIteratorPolicy().GetParallelismLimit() < 0 {
		v.fail("%s: negative parallelismLimit", where)
	}
}

// producer checks that task producer exists in the DAG, produces key, and
// that the consumer waits for it.
func (v *validator) producer(where string, tasks map[string]*pipelinespec.PipelineTaskSpec, deps map[string]bool, producer, key string, artifact bool) {
	p, ok := tasks[producer]
	if !ok {
		v.fail("%s: producer task %q is not in the DAG", where, producer)
		return
	}
	if !deps[producer] {
		v.fail("%s: takes an output of %q but does not list it in dependentTasks", where, producer)
	}
	out := v.spec.GetComponents()[p.GetComponentRef().GetName()].GetOutputDefinitions()
	if artifact {
		if _, ok := out.GetArtifacts()[key]; !ok {
			v.fail("%s: producer %q has no output artifact %q", where, producer, key)
		}
		return
	}
	if _, ok := out.GetParameters()[key]; !ok {
		v.fail("%s: producer %q has no output parameter %q", where, producer, key)
	}
}

func (v *validator) dagOutputs(comp string, c *pipelinespec.ComponentSpec, dag *pipelinespec.DagSpec) {
	outDefs := c.GetOutputDefinitions()
	tasks := dag.GetTasks()
	produces := func(task, key string, artifact bool) bool {
		t, ok := tasks[task]
		if !ok {
			return false
		}
		out := v.spec.GetComponents()[t.GetComponentRef().GetName()].GetOutputDefinitions()
		if artifact {
			_, ok = out.GetArtifacts()[key]
		} else {
			_, ok = out.GetParameters()[key]
		}
		return ok
	}
	for _, name := range sortedKeys(dag.GetOutputs().GetParameters()) {
		o := dag.GetOutputs().GetParameters()[name]
		if _, ok := outDefs.GetParameters()[name]; !ok {
			v.fail("component %s: DAG output parameter %q is not in outputDefinitions", comp, name)
		}
		var sels []*pipelinespec.DagOutputsSpec_ParameterSelectorSpec
		if s := o.GetValueFromParameter(); s != nil {
			sels = append(sels, s)
		}
		sels = append(sels, o.GetValueFromOneof().GetParameterSelectors()...)
		if len(sels) == 0 {
			v.fail("component %s: DAG output parameter %q selects nothing", comp, name)
		}
		for _, s := range sels {
			if !produces(s.GetProducerSubtask(), s.GetOutputParameterKey(), false) {
				v.fail("component %s: DAG output parameter %q: task %q produces no parameter %q", comp, name, s.GetProducerSubtask(), s.GetOutputParameterKey())
			}
		}
	}
	for _, name := range sortedKeys(dag.GetOutputs().GetArtifacts()) {
		o := dag.GetOutputs().GetArtifacts()[name]
		if _, ok := outDefs.GetArtifacts()[name]; !ok {
			v.fail("component %s: DAG output artifact %q is not in outputDefinitions", comp, name)
		}
		if len(o.GetArtifactSelectors()) == 0 {
			v.fail("component %s: DAG output artifact %q selects nothing", comp, name)
		}
		for _, s := range o.GetArtifactSelectors() {
			if !produces(s.GetProducerSubtask(), s.GetOutputArtifactKey(), true) {
				v.fail("component %s: DAG output artifact %q: task %q produces no artifact %q", comp, name, s.GetProducerSubtask(), s.GetOutputArtifactKey())
			}
		}
	}
	for _, name := range sortedKeys(outDefs.GetParameters()) {
		if _, ok := dag.GetOutputs().GetParameters()[name]; !ok {
			v.fail("component %s: output parameter %q is not produced by the DAG", comp, name)
		}
	}
	for _, name := range sortedKeys(outDefs.GetArtifacts()) {
		if _, ok := dag.GetOutputs().GetArtifacts()[name]; !ok {
			v.fail("component %s: output artifact %q is not produced by the DAG", comp, name)
		}
	}
}

// platform checks the kubernetes platform spec: its executors exist and its
// secretAsEnv entries are complete.
func (v *validator) platform(p *pipelinespec.PlatformSpec) {
	for _, pname := range sortedKeys(p.GetPlatforms()) {
		execs := p.GetPlatforms()[pname].GetDeploymentSpec().GetExecutors()
		for _, label := range sortedKeys(execs) {
			if _, ok := v.executors[label]; !ok {
				v.fail("platform %s: executor %q is not in deploymentSpec.executors", pname, label)
			}
			if pname != "kubernetes" {
				continue
			}
			envs, err := SecretEnvs(execs[label].AsMap())
			if err != nil {
				v.fail("platform kubernetes, executor %s: %v", label, err)
			}
			for _, s := range envs {
				if s.SecretName == "" || len(s.KeyToEnv) == 0 {
					v.fail("platform kubernetes, executor %s: secretAsEnv entry needs secretName and keyToEnv", label)
				}
				for _, k := range s.KeyToEnv {
					if k.SecretKey == "" || k.EnvVar == "" {
						v.fail("platform kubernetes, executor %s: secret %s: keyToEnv entry needs secretKey and envVar", label, s.SecretName)
					}
				}
			}
		}
	}
}

// SecretEnvs reads the secretAsEnv entries of a kfp-kubernetes executor config.
func SecretEnvs(cfg map[string]any) ([]SecretEnv, error) {
	raw, ok := cfg["secretAsEnv"]
	if !ok {
		return nil, nil
	}
	j, err := json.Marshal(raw)
	if err != nil {
		return nil, err
	}
	var entries []struct {
		SecretName string `json:"secretName"`
		KeyToEnv   []struct {
			SecretKey string `json:"secretKey"`
			EnvVar    string `json:"envVar"`
		} `json:"keyToEnv"`
	}
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&entries); err != nil {
		return nil, fmt.Errorf("secretAsEnv: %w", err)
	}
	out := make([]SecretEnv, len(entries))
	for i, e := range entries {
		out[i].SecretName = e.SecretName
		for _, k := range e.KeyToEnv {
			out[i].KeyToEnv = append(out[i].KeyToEnv, SecretKeyToEnv{SecretKey: k.SecretKey, EnvVar: k.EnvVar})
		}
	}
	return out, nil
}

// findCycle returns a task on a dependency cycle, or "" if there is none.
func findCycle(tasks map[string]*pipelinespec.PipelineTaskSpec) string {
	const (
		unseen = iota
		active
		done
	)
	state := map[string]int{}
	var visit func(string) string
	visit = func(n string) string {
		switch state[n] {
		case active:
			return n
		case done:
			return ""
		}
		state[n] = active
		for _, d := range tasks[n].GetDependentTasks() {
			if _, ok := tasks[d]; !ok {
				continue
			}
			if c := visit(d); c != "" {
				return c
			}
		}
		state[n] = done
		return ""
	}
	for _, n := range sortedKeys(tasks) {
		if c := visit(n); c != "" {
			return c
		}
	}
	return ""
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
