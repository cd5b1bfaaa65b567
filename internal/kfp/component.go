// Package kfp builds and checks Kubeflow Pipelines v2 pipeline definitions
// (the PipelineSpec IR that the KFP 2.x SDK compiler emits) for the housing
// steps, using KFP's own generated Go types.
//
// A Step describes one container step (its typed inputs and outputs and its
// command line with KFP placeholders); ComponentFile turns it into a
// stand-alone component YAML, HousingPipeline wires the steps into the lab's
// pipeline, and Marshal / Parse / Validate move between the Go types and YAML.
package kfp

import (
	"fmt"

	"github.com/kubeflow/pipelines/api/v2alpha1/go/pipelinespec"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
)

// Artifact schema titles of KFP's system artifact types.
const (
	Dataset  = "system.Dataset"
	Model    = "system.Model"
	Markdown = "system.Markdown"
	HTML     = "system.HTML"
	Metrics  = "system.Metrics"
	Generic  = "system.Artifact"
)

// schemaVersion is the version the SDK writes for every system.* type.
const schemaVersion = "0.0.1"

// Parameter types, shortened.
const (
	String  = pipelinespec.ParameterType_STRING
	Double  = pipelinespec.ParameterType_NUMBER_DOUBLE
	Integer = pipelinespec.ParameterType_NUMBER_INTEGER
	Boolean = pipelinespec.ParameterType_BOOLEAN
	List    = pipelinespec.ParameterType_LIST
	Struct  = pipelinespec.ParameterType_STRUCT
)

// Param is a typed parameter of a component. A Default makes the input
// optional (the SDK marks such inputs isOptional and writes the default).
type Param struct {
	Name        string
	Type        pipelinespec.ParameterType_ParameterTypeEnum
	Default     *structpb.Value
	Description string
}

// Artifact is a typed artifact of a component.
type Artifact struct {
	Name        string
	Schema      string // e.g. Dataset
	Description string
}

// EnvVar is a plain environment variable of a step's container.
type EnvVar struct{ Name, Value string }

// SecretEnv maps keys of a Kubernetes secret to environment variables of a
// step's container (kfp-kubernetes use_secret_as_env).
type SecretEnv struct {
	SecretName string
	KeyToEnv   []SecretKeyToEnv
}

// SecretKeyToEnv maps one secret key to one environment variable.
type SecretKeyToEnv struct{ SecretKey, EnvVar string }

// Step is one container step of a pipeline: a KFP component implemented by
// a container whose command line refers to its inputs and outputs through
// placeholders (see InputParam, OutputArtifactPath, ...).
type Step struct {
	Name            string // component name, e.g. "train"
	Description     string
	Image           string
	Command         []string
	Args            []string
	Inputs          []Param
	InputArtifacts  []Artifact
	Outputs         []Param
	OutputArtifacts []Artifact
	Env             []EnvVar
	Secrets         []SecretEnv
}

// InputParam is the placeholder for the value of input parameter name.
func InputParam(name string) string { return fmt.Sprintf("{{$.inputs.parameters['%s']}}", name) }

// InputArtifactPath is the placeholder for the local path of input artifact name.
func InputArtifactPath(name string) string {
	return fmt.Sprintf("{{$.inputs.artifacts['%s'].path}}", name)
}

// OutputArtifactPath is the placeholder for the local path the step writes
// output artifact name to.
func OutputArtifactPath(name string) string {
	return fmt.Sprintf("{{$.outputs.artifacts['%s'].path}}", name)
}

// OutputParamFile is the placeholder for the file the step writes the value
// of output parameter name to.
func OutputParamFile(name string) string {
	return fmt.Sprintf("{{$.outputs.parameters['%s'].output_file}}", name)
}

// ComponentName is the key of the step's component in PipelineSpec.components.
func ComponentName(task string) string { return "comp-" + task }

// ExecutorLabel is the key of the step's executor in the deployment spec.
func ExecutorLabel(task string) string { return "exec-" + task }

func artifactType(schema string) *pipelinespec.ArtifactTypeSchema {
	return &pipelinespec.ArtifactTypeSchema{
		Kind:          &pipelinespec.ArtifactTypeSchema_SchemaTitle{SchemaTitle: schema},
		SchemaVersion: schemaVersion,
	}
}

// inputDefinitions returns the SDK's input definitions for params and artifacts,
// nil when there are none (the SDK omits the field then).
func inputDefinitions(params []Param, arts []Artifact) *pipelinespec.ComponentInputsSpec {
	if len(params) == 0 && len(arts) == 0 {
		return nil
	}
	in := &pipelinespec.ComponentInputsSpec{}
	for _, p := range params {
		if in.Parameters == nil {
			in.Parameters = map[string]*pipelinespec.ComponentInputsSpec_ParameterSpec{}
		}
		in.Parameters[p.Name] = &pipelinespec.ComponentInputsSpec_ParameterSpec{
			ParameterType: p.Type,
			DefaultValue:  p.Default,
			IsOptional:    p.Default != nil,
			Description:   p.Description,
		}
	}
	for _, a := range arts {
		if in.Artifacts == nil {
			in.Artifacts = map[string]*pipelinespec.ComponentInputsSpec_ArtifactSpec{}
		}
		in.Artifacts[a.Name] = &pipelinespec.ComponentInputsSpec_ArtifactSpec{
			ArtifactType: artifactType(a.Schema),
			Description:  a.Description,
		}
	}
	return in
}

func outputDefinitions(params []Param, arts []Artifact) *pipelinespec.ComponentOutputsSpec {
	if len(params) == 0 && len(arts) == 0 {
		return nil
	}
	out := &pipelinespec.ComponentOutputsSpec{}
	for _, p := range params {
		if out.Parameters == nil {
			out.Parameters = map[string]*pipelinespec.ComponentOutputsSpec_ParameterSpec{}
		}
		out.Parameters[p.Name] = &pipelinespec.ComponentOutputsSpec_ParameterSpec{
			ParameterType: p.Type,
			Description:   p.Description,
		}
	}
	for _, a := range arts {
		if out.Artifacts == nil {
			out.Artifacts = map[string]*pipelinespec.ComponentOutputsSpec_ArtifactSpec{}
		}
		out.Artifacts[a.Name] = &pipelinespec.ComponentOutputsSpec_ArtifactSpec{
			ArtifactType: artifactType(a.Schema),
			Description:  a.Description,
		}
	}
	return out
}

// component is the step's ComponentSpec with the given executor label.
func (s Step) component(label string) *pipelinespec.ComponentSpec {
	return &pipelinespec.ComponentSpec{
		InputDefinitions:  inputDefinitions(s.Inputs, s.InputArtifacts),
		OutputDefinitions: outputDefinitions(s.Outputs, s.OutputArtifacts),
		Implementation:    &pipelinespec.ComponentSpec_ExecutorLabel{ExecutorLabel: label},
	}
}

// executor is the step's container executor.
func (s Step) executor() *pipelinespec.PipelineDeploymentConfig_ExecutorSpec {
	c := &pipelinespec.PipelineDeploymentConfig_PipelineContainerSpec{
		Image:   s.Image,
		Command: s.Command,
		Args:    s.Args,
	}
	for _, e := range s.Env {
		c.Env = append(c.Env, &pipelinespec.PipelineDeploymentConfig_PipelineContainerSpec_EnvVar{Name: e.Name, Value: e.Value})
	}
	return &pipelinespec.PipelineDeploymentConfig_ExecutorSpec{
		Spec: &pipelinespec.PipelineDeploymentConfig_ExecutorSpec_Container{Container: c},
	}
}

// kubernetesExecutorConfig is the kfp-kubernetes executor config of the step
// (secretAsEnv), or nil when the step needs none.
func (s Step) kubernetesExecutorConfig() (*structpb.Struct, error) {
	if len(s.Secrets) == 0 {
		return nil, nil
	}
	var secrets []any
	for _, sec := range s.Secrets {
		var keys []any
		for _, k := range sec.KeyToEnv {
			keys = append(keys, map[string]any{"envVar": k.EnvVar, "secretKey": k.SecretKey})
		}
		secrets = append(secrets, map[string]any{"keyToEnv": keys, "secretName": sec.SecretName})
	}
	cfg, err := structpb.NewStruct(map[string]any{"secretAsEnv": secrets})
	if err != nil {
		return nil, fmt.Errorf("kfp: kubernetes config of step %s: %w", s.Name, err)
	}
	return cfg, nil
}

// deploymentSpec packs executors into the Struct that PipelineSpec.deployment_spec is.
func deploymentSpec(executors map[string]*pipelinespec.PipelineDeploymentConfig_ExecutorSpec) (*structpb.Struct, error) {
	b, err := protojson.Marshal(&pipelinespec.PipelineDeploymentConfig{Executors: executors})
	if err != nil {
		return nil, fmt.Errorf("kfp: marshal deployment config: %w", err)
	}
	st := &structpb.Struct{}
	if err := protojson.Unmarshal(b, st); err != nil {
		return nil, fmt.Errorf("kfp: deployment config as struct: %w", err)
	}
	return st, nil
}

// platformSpec is the kubernetes PlatformSpec for the given executor configs,
// or nil when there are none.
func platformSpec(configs map[string]*structpb.Struct) *pipelinespec.PlatformSpec {
	if len(configs) == 0 {
		return nil
	}
	return &pipelinespec.PlatformSpec{Platforms: map[string]*pipelinespec.SinglePlatformSpec{
		"kubernetes": {DeploymentSpec: &pipelinespec.PlatformDeploymentConfig{Executors: configs}},
	}}
}

// Document is one pipeline YAML file: the PipelineSpec and, when any step
// needs Kubernetes configuration, the PlatformSpec that follows it as the
// second YAML document.
type Document struct {
	Spec     *pipelinespec.PipelineSpec
	Platform *pipelinespec.PlatformSpec
}

// ComponentFile returns the stand-alone component document of a step, shaped
// as the SDK compiles a single component: the component and its executor,
// and a root DAG with one task that forwards the root inputs and outputs.
func ComponentFile(s Step) (Document, error) {
	label := ExecutorLabel(s.Name)
	deploy, err := deploymentSpec(map[string]*pipelinespec.PipelineDeploymentConfig_ExecutorSpec{label: s.executor()})
	if err != nil {
		return Document{}, err
	}
	task := &pipelinespec.PipelineTaskSpec{
		TaskInfo:       &pipelinespec.PipelineTaskInfo{Name: s.Name},
		ComponentRef:   &pipelinespec.ComponentRef{Name: ComponentName(s.Name)},
		CachingOptions: &pipelinespec.PipelineTaskSpec_CachingOptions{},
	}
	in := &pipelinespec.TaskInputsSpec{}
	for _, p := range s.Inputs {
		setParam(in, p.Name, fromInput(p.Name))
	}
	for _, a := range s.InputArtifacts {
		setArtifact(in, a.Name, fromInputArtifact(a.Name))
	}
	if len(in.Parameters)+len(in.Artifacts) > 0 {
		task.Inputs = in
	}
	dag := &pipelinespec.DagSpec{Tasks: map[string]*pipelinespec.PipelineTaskSpec{s.Name: task}}
	if len(s.Outputs)+len(s.OutputArtifacts) > 0 {
		dag.Outputs = &pipelinespec.DagOutputsSpec{}
		for _, p := range s.Outputs {
			setDagOutputParam(dag.Outputs, p.Name, s.Name, p.Name)
		}
		for _, a := range s.OutputArtifacts {
			setDagOutputArtifact(dag.Outputs, a.Name, s.Name, a.Name)
		}
	}
	spec := &pipelinespec.PipelineSpec{
		PipelineInfo:   &pipelinespec.PipelineInfo{Name: s.Name, Description: s.Description},
		DeploymentSpec: deploy,
		SdkVersion:     SDKVersion,
		SchemaVersion:  SchemaVersion,
		Components:     map[string]*pipelinespec.ComponentSpec{ComponentName(s.Name): s.component(label)},
		Root: &pipelinespec.ComponentSpec{
			InputDefinitions:  inputDefinitions(s.Inputs, s.InputArtifacts),
			OutputDefinitions: outputDefinitions(s.Outputs, s.OutputArtifacts),
			Implementation:    &pipelinespec.ComponentSpec_Dag{Dag: dag},
		},
	}
	k8s, err := s.kubernetesExecutorConfig()
	if err != nil {
		return Document{}, err
	}
	doc := Document{Spec: spec}
	if k8s != nil {
		doc.Platform = platformSpec(map[string]*structpb.Struct{label: k8s})
	}
	return doc, nil
}

// SchemaVersion is the PipelineSpec schema version the KFP 2.x SDK writes.
const SchemaVersion = "2.1.0"

// SDKVersion names what produced the spec, in the sdkVersion field. KFP
// records it only for information.
const SDKVersion = "kfp-2.0.1"
