// Package pipelines_test checks the committed KFP YAML: it is what the
// generator writes, it parses strictly as PipelineSpec, and it is consistent.
package pipelines_test

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/kubeflow/pipelines/api/v2alpha1/go/pipelinespec"

	"github.com/mlops-lab/housing/internal/kfp"
)

// repoRoot is the repository root, seen from this package's directory.
const repoRoot = ".."

func TestCommittedFilesAreGenerated(t *testing.T) {
	files, err := kfp.GeneratedFiles()
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("the generator produced no files")
	}
	for path, want := range files {
		got, err := os.ReadFile(filepath.Join(repoRoot, filepath.FromSlash(path)))
		if err != nil {
			t.Errorf("%s: %v (run make generate)", path, err)
			continue
		}
		if string(got) != string(want) {
			t.Errorf("%s differs from what the generator writes (run make generate)", path)
		}
	}
}

func parseFile(t *testing.T, path string) kfp.Document {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, path))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := kfp.Parse(b)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return doc
}

func TestCommittedFilesParseStrictlyAndValidate(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join(repoRoot, "components", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	paths = append(paths, filepath.Join(repoRoot, "pipelines", "california-housing.yaml"))
	if len(paths) < 6 {
		t.Fatalf("found %d YAML files, want 5 components and the pipeline", len(paths))
	}
	for _, p := range paths {
		rel, _ := filepath.Rel(repoRoot, p)
		t.Run(rel, func(t *testing.T) {
			doc := parseFile(t, rel)
			if err := kfp.Validate(doc); err != nil {
				t.Fatal(err)
			}
			if doc.Platform == nil {
				t.Fatal("no platform spec: the S3 credentials secret is not mounted")
			}
		})
	}
}

func TestPipelineShape(t *testing.T) {
	doc := parseFile(t, "pipelines/california-housing.yaml")
	root := doc.Spec.GetRoot()
	params := root.GetInputDefinitions().GetParameters()
	for name, typ := range map[string]pipelinespec.ParameterType_ParameterTypeEnum{
		"data_uri": kfp.String, "experiment_name": kfp.String, "registered_model_name": kfp.String,
		"sweep": kfp.List, "metric": kfp.String, "promotion_margin": kfp.Double,
	} {
		p, ok := params[name]
		if !ok {
			t.Errorf("pipeline parameter %s missing", name)
			continue
		}
		if p.GetParameterType() != typ {
			t.Errorf("pipeline parameter %s: type %v, want %v", name, p.GetParameterType(), typ)
		}
	}
	var sweep []string
	for _, v := range params["sweep"].GetDefaultValue().GetListValue().GetValues() {
		sweep = append(sweep, v.GetStringValue())
	}
	if !slices.Equal(sweep, kfp.DefaultSweep()) {
		t.Errorf("sweep default %v, want %v", sweep, kfp.DefaultSweep())
	}

	tasks := root.GetDag().GetTasks()
	var loop *pipelinespec.PipelineTaskSpec
	for _, task := range tasks {
		if task.GetParameterIterator() != nil {
			loop = task
		}
	}
	if loop == nil {
		t.Fatal("no ParallelFor task in the root DAG")
	}
	if items := loop.GetParameterIterator().GetItems().GetInputParameter(); loop.GetInputs().GetParameters()[items].GetComponentInputParameter() != "sweep" {
		t.Errorf("ParallelFor iterates over %q, which is not the sweep parameter", items)
	}
	if loop.GetIteratorPolicy().GetParallelismLimit() <= 0 {
		t.Error("ParallelFor has no parallelism limit")
	}
	body := doc.Spec.GetComponents()[loop.GetComponentRef().GetName()].GetDag().GetTasks()
	if _, ok := body["train"]; !ok {
		t.Errorf("ParallelFor body has tasks %v, want train", slices.Sorted(maps.Keys(body)))
	}
	if !slices.Contains(tasks["compare"].GetDependentTasks(), loop.GetTaskInfo().GetName()) {
		t.Error("compare does not wait for the ParallelFor")
	}
	// register is the last step: every other task is upstream of it.
	upstream := map[string]bool{}
	var walk func(string)
	walk = func(n string) {
		for _, d := range tasks[n].GetDependentTasks() {
			if !upstream[d] {
				upstream[d] = true
				walk(d)
			}
		}
	}
	walk("register")
	for name := range tasks {
		if name != "register" && !upstream[name] {
			t.Errorf("task %s is not upstream of register", name)
		}
	}
}
