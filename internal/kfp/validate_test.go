package kfp_test

import (
	"strings"
	"testing"

	"github.com/kubeflow/pipelines/api/v2alpha1/go/pipelinespec"
	"google.golang.org/protobuf/proto"

	"github.com/mlops-lab/housing/internal/kfp"
)

func housing(t *testing.T) kfp.Document {
	t.Helper()
	doc, err := kfp.HousingPipeline()
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func TestGeneratedDocumentsValidateAndRoundTrip(t *testing.T) {
	docs := map[string]kfp.Document{"pipeline": housing(t)}
	for _, s := range kfp.Steps() {
		d, err := kfp.ComponentFile(s)
		if err != nil {
			t.Fatal(err)
		}
		docs["component "+s.Name] = d
	}
	for name, doc := range docs {
		t.Run(name, func(t *testing.T) {
			if err := kfp.Validate(doc); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			b, err := kfp.Marshal(doc)
			if err != nil {
				t.Fatal(err)
			}
			back, err := kfp.Parse(b)
			if err != nil {
				t.Fatalf("Parse of marshalled document: %v", err)
			}
			if !proto.Equal(back.Spec, doc.Spec) {
				t.Error("PipelineSpec changed in a YAML round trip")
			}
			if !proto.Equal(back.Platform, doc.Platform) {
				t.Error("PlatformSpec changed in a YAML round trip")
			}
		})
	}
}

func TestParseIsStrict(t *testing.T) {
	b, err := kfp.Marshal(housing(t))
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]string{
		"unknown top-level field": strings.Replace(string(b), "schemaVersion: 2.1.0", "schemaVersion: 2.1.0\nbogusField: 1", 1),
		"unknown task field":      strings.Replace(string(b), "        taskInfo:\n          name: ingest", "        taskInfo:\n          name: ingest\n        retries: 3", 1),
		"unknown platform field":  strings.Replace(string(b), "platforms:", "extra: 1\nplatforms:", 1),
		"wrong enum":              strings.Replace(string(b), "parameterType: LIST", "parameterType: ARRAY", 1),
		"three documents":         string(b) + "---\nplatforms: {}\n",
	}
	for name, text := range cases {
		t.Run(name, func(t *testing.T) {
			if text == string(b) {
				t.Fatal("test case did not change the document")
			}
			if _, err := kfp.Parse([]byte(text)); err == nil {
				t.Fatal("Parse accepted it")
			}
		})
	}
}

func TestValidateFindsBrokenReferences(t *testing.T) {
	root := func(d kfp.Document) map[string]*pipelinespec.PipelineTaskSpec {
		return d.Spec.GetRoot().GetDag().GetTasks()
	}
	cases := []struct {
		name   string
		mutate func(d kfp.Document)
		want   string
	}{
		{"componentRef", func(d kfp.Document) { root(d)["ingest"].ComponentRef.Name = "comp-nope" }, `componentRef "comp-nope"`},
		{"executorLabel", func(d kfp.Document) {
			d.Spec.Components["comp-train"].Implementation = &pipelinespec.ComponentSpec_ExecutorLabel{ExecutorLabel: "exec-nope"}
		}, "executorLabel exec-nope"},
		{"producer key", func(d kfp.Document) {
			root(d)["register"].Inputs.Parameters["run_id"].GetTaskOutputParameter().OutputParameterKey = "best"
		}, `producer "compare" has no output parameter "best"`},
		{"producer artifact", func(d kfp.Document) {
			root(d)["register"].Inputs.Artifacts["test"].GetTaskOutputArtifact().OutputArtifactKey = "validation"
		}, `producer "ingest" has no output artifact "validation"`},
		{"producer task", func(d kfp.Document) {
			root(d)["register"].Inputs.Parameters["run_id"].GetTaskOutputParameter().ProducerTask = "rank"
		}, `producer task "rank"`},
		{"dependency missing", func(d kfp.Document) { root(d)["register"].DependentTasks = []string{"ingest"} }, `does not list it in dependentTasks`},
		{"dependent task unknown", func(d kfp.Document) { root(d)["compare"].DependentTasks = []string{"for-loop-9"} }, `dependent task "for-loop-9"`},
		{"iterator items", func(d kfp.Document) {
			root(d)["for-loop-1"].GetParameterIterator().Items.Kind = &pipelinespec.ParameterIteratorSpec_ItemsSpec_InputParameter{InputParameter: "pipelinechannel--configs"}
		}, `items "pipelinechannel--configs"`},
		{"iterator itemInput", func(d kfp.Document) {
			root(d)["for-loop-1"].GetParameterIterator().ItemInput = "item"
		}, `itemInput "item"`},
		{"component input", func(d kfp.Document) {
			root(d)["ingest"].Inputs.Parameters["data_uri"].Kind = &pipelinespec.TaskInputsSpec_InputParameterSpec_ComponentInputParameter{ComponentInputParameter: "data"}
		}, `component input "data"`},
		{"undeclared task input", func(d kfp.Document) {
			root(d)["ingest"].Inputs.Parameters["rows"] = root(d)["ingest"].Inputs.Parameters["data_uri"]
		}, `input parameter "rows" is not declared`},
		{"required input missing", func(d kfp.Document) { delete(root(d)["ingest"].Inputs.Parameters, "data_uri") }, `required input parameter "data_uri"`},
		{"dag output", func(d kfp.Document) {
			d.Spec.Root.GetDag().Outputs.Parameters["decision"].GetValueFromParameter().ProducerSubtask = "compare"
		}, `DAG output parameter "decision"`},
		{"cycle", func(d kfp.Document) { root(d)["ingest"].DependentTasks = []string{"register"} }, "dependency cycle"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := housing(t)
			c.mutate(d)
			err := kfp.Validate(d)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Validate = %v, want an error containing %q", err, c.want)
			}
		})
	}
}

func TestValidateChecksPlaceholders(t *testing.T) {
	s := kfp.TrainStep()
	s.Args = append(s.Args, "--extra", kfp.InputParam("depth"), kfp.OutputArtifactPath("model"), "{{$}}")
	doc, err := kfp.ComponentFile(s)
	if err != nil {
		t.Fatal(err)
	}
	err = kfp.Validate(doc)
	if err == nil {
		t.Fatal("Validate accepted undeclared placeholders")
	}
	for _, want := range []string{`input parameter "depth"`, `output artifact "model"`, "unsupported placeholder {{$}}"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestValidateChecksPlatformExecutors(t *testing.T) {
	d := housing(t)
	execs := d.Platform.Platforms["kubernetes"].DeploymentSpec.Executors
	execs["exec-gone"] = execs["exec-train"]
	if err := kfp.Validate(d); err == nil || !strings.Contains(err.Error(), `executor "exec-gone"`) {
		t.Fatalf("Validate = %v, want an error about exec-gone", err)
	}
}

func TestResolvePlaceholders(t *testing.T) {
	got, err := kfp.ResolvePlaceholders("--x={{$.inputs.parameters['a']}}:{{$.outputs.parameters['b'].output_file}}", func(p kfp.Placeholder) (string, error) {
		return p.Kind.String() + "/" + p.Name, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := "--x=input parameter/a:output parameter/b"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if _, err := kfp.ResolvePlaceholders("{{$.inputs.parameters['a'].path}}", func(kfp.Placeholder) (string, error) { return "", nil }); err == nil {
		t.Fatal("accepted .path on a parameter")
	}
}
