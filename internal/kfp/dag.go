package kfp

import (
	"github.com/kubeflow/pipelines/api/v2alpha1/go/pipelinespec"
)

// paramSource is where a task input parameter comes from.
type paramSource = *pipelinespec.TaskInputsSpec_InputParameterSpec

// artifactSource is where a task input artifact comes from.
type artifactSource = *pipelinespec.TaskInputsSpec_InputArtifactSpec

// fromInput takes a parameter from an input of the enclosing DAG component.
func fromInput(name string) paramSource {
	return &pipelinespec.TaskInputsSpec_InputParameterSpec{
		Kind: &pipelinespec.TaskInputsSpec_InputParameterSpec_ComponentInputParameter{ComponentInputParameter: name},
	}
}

// fromTask takes output parameter key of task producer.
func fromTask(producer, key string) paramSource {
	return &pipelinespec.TaskInputsSpec_InputParameterSpec{
		Kind: &pipelinespec.TaskInputsSpec_InputParameterSpec_TaskOutputParameter{
			TaskOutputParameter: &pipelinespec.TaskInputsSpec_InputParameterSpec_TaskOutputParameterSpec{
				ProducerTask: producer, OutputParameterKey: key,
			},
		},
	}
}

// fromInputArtifact takes an artifact from an input of the enclosing DAG component.
func fromInputArtifact(name string) artifactSource {
	return &pipelinespec.TaskInputsSpec_InputArtifactSpec{
		Kind: &pipelinespec.TaskInputsSpec_InputArtifactSpec_ComponentInputArtifact{ComponentInputArtifact: name},
	}
}

// fromTaskArtifact takes output artifact key of task producer.
func fromTaskArtifact(producer, key string) artifactSource {
	return &pipelinespec.TaskInputsSpec_InputArtifactSpec{
		Kind: &pipelinespec.TaskInputsSpec_InputArtifactSpec_TaskOutputArtifact{
			TaskOutputArtifact: &pipelinespec.TaskInputsSpec_InputArtifactSpec_TaskOutputArtifactSpec{
				ProducerTask: producer, OutputArtifactKey: key,
			},
		},
	}
}

func setParam(in *pipelinespec.TaskInputsSpec, name string, src paramSource) {
	if in.Parameters == nil {
		in.Parameters = map[string]*pipelinespec.TaskInputsSpec_InputParameterSpec{}
	}
	in.Parameters[name] = src
}

func setArtifact(in *pipelinespec.TaskInputsSpec, name string, src artifactSource) {
	if in.Artifacts == nil {
		in.Artifacts = map[string]*pipelinespec.TaskInputsSpec_InputArtifactSpec{}
	}
	in.Artifacts[name] = src
}

func setDagOutputParam(out *pipelinespec.DagOutputsSpec, name, producer, key string) {
	if out.Parameters == nil {
		out.Parameters = map[string]*pipelinespec.DagOutputsSpec_DagOutputParameterSpec{}
	}
	out.Parameters[name] = &pipelinespec.DagOutputsSpec_DagOutputParameterSpec{
		Kind: &pipelinespec.DagOutputsSpec_DagOutputParameterSpec_ValueFromParameter{
			ValueFromParameter: &pipelinespec.DagOutputsSpec_ParameterSelectorSpec{
				ProducerSubtask: producer, OutputParameterKey: key,
			},
		},
	}
}

func setDagOutputArtifact(out *pipelinespec.DagOutputsSpec, name, producer, key string) {
	if out.Artifacts == nil {
		out.Artifacts = map[string]*pipelinespec.DagOutputsSpec_DagOutputArtifactSpec{}
	}
	out.Artifacts[name] = &pipelinespec.DagOutputsSpec_DagOutputArtifactSpec{
		ArtifactSelectors: []*pipelinespec.DagOutputsSpec_ArtifactSelectorSpec{
			{ProducerSubtask: producer, OutputArtifactKey: key},
		},
	}
}

// channel is the SDK's name for a value that crosses into a sub-DAG
// (ParallelFor body): "pipelinechannel--" + the pipeline input name, or
// + "<task>-<output>" for a task output.
func channel(name string) string { return "pipelinechannel--" + name }

// loopItem is the SDK's name of the per-iteration input of a ParallelFor
// over the list channel ch.
func loopItem(ch string) string { return ch + "-loop-item" }
