// Package argocheck compiles the housing pipeline with KFP's own backend
// compiler (the one the KFP API server uses) into an Argo Workflow. It is
// its own module so that KFP's ~650 dependencies stay out of the main one.
package argocheck

import (
	"os"
	"strings"
	"testing"

	"github.com/kubeflow/pipelines/api/v2alpha1/go/pipelinespec"
	"github.com/kubeflow/pipelines/backend/src/v2/compiler/argocompiler"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/mlops-lab/housing/internal/kfp"
)

func TestArgoCompile(t *testing.T) {
	b, err := os.ReadFile("../california-housing.yaml")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := kfp.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	j, err := protojson.Marshal(doc.Spec)
	if err != nil {
		t.Fatal(err)
	}
	job := &pipelinespec.PipelineJob{PipelineSpec: &structpb.Struct{}}
	if err := protojson.Unmarshal(j, job.PipelineSpec); err != nil {
		t.Fatal(err)
	}
	var k8s *pipelinespec.SinglePlatformSpec
	if doc.Platform != nil {
		k8s = doc.Platform.GetPlatforms()["kubernetes"]
	}
	wf, err := argocompiler.Compile(job, k8s, nil)
	if err != nil {
		t.Fatalf("KFP's compiler rejected the pipeline: %v", err)
	}
	var names []string
	for _, tmpl := range wf.Spec.Templates {
		names = append(names, tmpl.Name)
	}
	all := strings.Join(names, " ")
	for _, want := range []string{"comp-for-loop-1", "system-container-executor"} {
		if !strings.Contains(all, want) {
			t.Errorf("workflow templates %v lack %s", names, want)
		}
	}
}
