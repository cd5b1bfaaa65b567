// Package deploy_test decodes every Kubernetes manifest in deploy/ strictly with
// the Kubernetes API types and checks what the lab relies on.
package deploy_test

import (
	"bytes"
	"os"
	"regexp"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

type kustomization struct {
	APIVersion string              `json:"apiVersion"`
	Kind       string              `json:"kind"`
	Namespace  string              `json:"namespace"`
	Labels     []map[string]any    `json:"labels"`
	Resources  []string            `json:"resources"`
	Images     []map[string]string `json:"images"`
}

// decoded holds every object of the resources, by kind and name.
type decoded struct {
	services     map[string]*corev1.Service
	deployments  map[string]*appsv1.Deployment
	statefulSets map[string]*appsv1.StatefulSet
	secrets      map[string]*corev1.Secret
	namespaces   map[string]*corev1.Namespace
}

var docSeparator = regexp.MustCompile(`(?m)^---\s*$`)

func decodeAll(t *testing.T) (*kustomization, *decoded) {
	t.Helper()
	raw, err := os.ReadFile("kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var k kustomization
	if err := yaml.UnmarshalStrict(raw, &k); err != nil {
		t.Fatalf("kustomization.yaml: %v", err)
	}
	d := &decoded{map[string]*corev1.Service{}, map[string]*appsv1.Deployment{}, map[string]*appsv1.StatefulSet{}, map[string]*corev1.Secret{}, map[string]*corev1.Namespace{}}
	for _, res := range k.Resources {
		data, err := os.ReadFile(res)
		if err != nil {
			t.Fatalf("kustomization lists %s: %v", res, err)
		}
		for i, doc := range docSeparator.Split(string(data), -1) {
			if strings.TrimSpace(stripComments(doc)) == "" {
				continue
			}
			var meta struct {
				Kind string `json:"kind"`
			}
			if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
				t.Fatalf("%s document %d: %v", res, i+1, err)
			}
			var obj interface{ GetName() string }
			switch meta.Kind {
			case "Service":
				obj = &corev1.Service{}
			case "Deployment":
				obj = &appsv1.Deployment{}
			case "StatefulSet":
				obj = &appsv1.StatefulSet{}
			case "Secret":
				obj = &corev1.Secret{}
			case "Namespace":
				obj = &corev1.Namespace{}
			default:
				t.Fatalf("%s document %d: unexpected kind %q", res, i+1, meta.Kind)
			}
			if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
				t.Fatalf("%s document %d (%s): strict decode: %v", res, i+1, meta.Kind, err)
			}
			switch o := obj.(type) {
			case *corev1.Service:
				d.services[o.Name] = o
			case *appsv1.Deployment:
				d.deployments[o.Name] = o
			case *appsv1.StatefulSet:
				d.statefulSets[o.Name] = o
			case *corev1.Secret:
				d.secrets[o.Name] = o
			case *corev1.Namespace:
				d.namespaces[o.Name] = o
			}
		}
	}
	return &k, d
}

func stripComments(doc string) string {
	var b bytes.Buffer
	for _, l := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

func TestManifestsDecodeStrictly(t *testing.T) {
	k, d := decodeAll(t)
	if k.Namespace != "mlflow-system" {
		t.Errorf("kustomization namespace %q, want mlflow-system", k.Namespace)
	}
	if d.namespaces["mlflow-system"] == nil {
		t.Error("no Namespace mlflow-system")
	}
	svc := d.services["mlflow-server-service"]
	if svc == nil {
		t.Fatal("no Service mlflow-server-service")
	}
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != 5000 {
		t.Errorf("mlflow-server-service ports %+v, want 5000", svc.Spec.Ports)
	}
	dep := d.deployments["mlflow-server"]
	if dep == nil {
		t.Fatal("no Deployment mlflow-server")
	}
	for k, v := range svc.Spec.Selector {
		if dep.Spec.Template.Labels[k] != v {
			t.Errorf("service selector %s=%s does not select the deployment's pods (%v)", k, v, dep.Spec.Template.Labels)
		}
	}
	pod := dep.Spec.Template.Spec
	if pod.SecurityContext == nil || pod.SecurityContext.RunAsNonRoot == nil || !*pod.SecurityContext.RunAsNonRoot {
		t.Error("tracking server pod does not require a non-root user")
	}
	c := pod.Containers[0]
	for name, p := range map[string]*corev1.Probe{"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/health" {
			t.Errorf("%s probe %+v, want GET /health", name, p)
		}
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() {
		t.Error("tracking server has no resource requests")
	}
	args := strings.Join(c.Args, " ")
	for _, want := range []string{"--backend-store-uri=postgresql://", "--artifacts-destination=s3://", "--port=5000"} {
		if !strings.Contains(args, want) {
			t.Errorf("tracking server args %q lack %q", args, want)
		}
	}
	// Every secret a container reads exists, with the key it reads.
	for _, cs := range [][]corev1.Container{pod.Containers, d.statefulSets["mlflow-postgres"].Spec.Template.Spec.Containers} {
		for _, c := range cs {
			for _, e := range c.Env {
				if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
					continue
				}
				ref := e.ValueFrom.SecretKeyRef
				s := d.secrets[ref.Name]
				if s == nil {
					t.Errorf("%s env %s reads missing secret %s", c.Name, e.Name, ref.Name)
				} else if _, ok := s.StringData[ref.Key]; !ok {
					t.Errorf("%s env %s reads key %s that secret %s lacks", c.Name, e.Name, ref.Key, ref.Name)
				}
			}
		}
	}
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	if env["MLFLOW_S3_ENDPOINT_URL"] != "http://minio-service.kubeflow.svc:9000" {
		t.Errorf("MLFLOW_S3_ENDPOINT_URL %q", env["MLFLOW_S3_ENDPOINT_URL"])
	}
	pgSvc := d.services["mlflow-postgres"]
	if pgSvc == nil || d.statefulSets["mlflow-postgres"] == nil {
		t.Fatal("no PostgreSQL service and statefulset")
	}
	if !strings.Contains(args, "@mlflow-postgres:5432/") {
		t.Errorf("backend store URI does not point at the mlflow-postgres service: %q", args)
	}
}
