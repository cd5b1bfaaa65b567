package kfp

import (
	"bytes"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/kubeflow/pipelines/api/v2alpha1/go/pipelinespec"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"sigs.k8s.io/yaml"
)

// Marshal writes a document as the SDK does: a "# PIPELINE DEFINITION"
// comment header, the PipelineSpec as YAML with sorted keys, and, if there is
// one, the PlatformSpec as a second YAML document.
func Marshal(doc Document) ([]byte, error) {
	if doc.Spec == nil {
		return nil, fmt.Errorf("kfp: marshal: document has no PipelineSpec")
	}
	var buf bytes.Buffer
	buf.WriteString(header(doc.Spec))
	spec, err := toYAML(doc.Spec)
	if err != nil {
		return nil, fmt.Errorf("kfp: marshal pipeline %q: %w", doc.Spec.GetPipelineInfo().GetName(), err)
	}
	buf.Write(spec)
	if doc.Platform != nil {
		platform, err := toYAML(doc.Platform)
		if err != nil {
			return nil, fmt.Errorf("kfp: marshal platform spec: %w", err)
		}
		buf.WriteString("---\n")
		buf.Write(platform)
	}
	return buf.Bytes(), nil
}

func toYAML(m proto.Message) ([]byte, error) {
	j, err := protojson.Marshal(m)
	if err != nil {
		return nil, err
	}
	return yaml.JSONToYAML(j)
}

var docSeparator = regexp.MustCompile(`(?m)^---[ \t]*$`)

// Parse reads a pipeline or component YAML file strictly: the first document
// must be a PipelineSpec and the optional second one a PlatformSpec, and any
// field either message does not define is an error.
func Parse(data []byte) (Document, error) {
	parts := docSeparator.Split(string(data), -1)
	var docs []string
	for _, p := range parts {
		if strings.TrimSpace(stripComments(p)) != "" {
			docs = append(docs, p)
		}
	}
	if len(docs) == 0 || len(docs) > 2 {
		return Document{}, fmt.Errorf("kfp: parse: want 1 or 2 YAML documents (PipelineSpec, PlatformSpec), got %d", len(docs))
	}
	strict := protojson.UnmarshalOptions{DiscardUnknown: false}
	var doc Document
	doc.Spec = &pipelinespec.PipelineSpec{}
	if err := fromYAML(strict, docs[0], doc.Spec); err != nil {
		return Document{}, fmt.Errorf("kfp: parse PipelineSpec: %w", err)
	}
	if len(docs) == 2 {
		doc.Platform = &pipelinespec.PlatformSpec{}
		if err := fromYAML(strict, docs[1], doc.Platform); err != nil {
			return Document{}, fmt.Errorf("kfp: parse PlatformSpec: %w", err)
		}
	}
	return doc, nil
}

func fromYAML(opts protojson.UnmarshalOptions, doc string, m proto.Message) error {
	j, err := yaml.YAMLToJSON([]byte(doc))
	if err != nil {
		return err
	}
	return opts.Unmarshal(j, m)
}

func stripComments(s string) string {
	var b strings.Builder
	for _, line := range strings.Split(s, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			b.WriteString(line)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// header is the SDK's comment block naming the pipeline and its inputs and outputs.
func header(spec *pipelinespec.PipelineSpec) string {
	var b strings.Builder
	b.WriteString("# PIPELINE DEFINITION\n")
	fmt.Fprintf(&b, "# Name: %s\n", spec.GetPipelineInfo().GetName())
	if d := spec.GetPipelineInfo().GetDescription(); d != "" {
		fmt.Fprintf(&b, "# Description: %s\n", d)
	}
	in := spec.GetRoot().GetInputDefinitions()
	var lines []string
	for name, p := range in.GetParameters() {
		line := fmt.Sprintf("%s: %s", name, pyType(p.GetParameterType()))
		if p.GetDefaultValue() != nil {
			line += fmt.Sprintf(" [Default: %s]", pyRepr(p.GetDefaultValue(), p.GetParameterType()))
		}
		lines = append(lines, line)
	}
	for name, a := range in.GetArtifacts() {
		lines = append(lines, fmt.Sprintf("%s: %s", name, a.GetArtifactType().GetSchemaTitle()))
	}
	writeSection(&b, "Inputs", lines)
	lines = nil
	out := spec.GetRoot().GetOutputDefinitions()
	for name, p := range out.GetParameters() {
		lines = append(lines, fmt.Sprintf("%s: %s", name, pyType(p.GetParameterType())))
	}
	for name, a := range out.GetArtifacts() {
		lines = append(lines, fmt.Sprintf("%s: %s", name, a.GetArtifactType().GetSchemaTitle()))
	}
	writeSection(&b, "Outputs", lines)
	return b.String()
}

func writeSection(b *strings.Builder, title string, lines []string) {
	if len(lines) == 0 {
		return
	}
	sort.Strings(lines)
	fmt.Fprintf(b, "# %s:\n", title)
	for _, l := range lines {
		fmt.Fprintf(b, "#    %s\n", l)
	}
}

func pyType(t pipelinespec.ParameterType_ParameterTypeEnum) string {
	switch t {
	case pipelinespec.ParameterType_STRING:
		return "str"
	case pipelinespec.ParameterType_NUMBER_DOUBLE:
		return "float"
	case pipelinespec.ParameterType_NUMBER_INTEGER:
		return "int"
	case pipelinespec.ParameterType_BOOLEAN:
		return "bool"
	case pipelinespec.ParameterType_LIST:
		return "list"
	case pipelinespec.ParameterType_STRUCT:
		return "dict"
	default:
		return strings.ToLower(t.String())
	}
}

// pyRepr writes a default value the way Python's repr shows it, as the SDK
// header does.
func pyRepr(v *structpb.Value, t pipelinespec.ParameterType_ParameterTypeEnum) string {
	switch k := v.GetKind().(type) {
	case *structpb.Value_StringValue:
		return "'" + strings.ReplaceAll(k.StringValue, "'", `\'`) + "'"
	case *structpb.Value_NumberValue:
		if t == pipelinespec.ParameterType_NUMBER_INTEGER {
			return strconv.FormatInt(int64(k.NumberValue), 10)
		}
		if k.NumberValue == math.Trunc(k.NumberValue) && math.Abs(k.NumberValue) < 1e16 {
			return strconv.FormatFloat(k.NumberValue, 'f', 1, 64)
		}
		return strconv.FormatFloat(k.NumberValue, 'g', -1, 64)
	case *structpb.Value_BoolValue:
		if k.BoolValue {
			return "True"
		}
		return "False"
	case *structpb.Value_ListValue:
		items := make([]string, len(k.ListValue.GetValues()))
		for i, item := range k.ListValue.GetValues() {
			items[i] = pyRepr(item, pipelinespec.ParameterType_PARAMETER_TYPE_ENUM_UNSPECIFIED)
		}
		return "[" + strings.Join(items, ", ") + "]"
	case *structpb.Value_NullValue:
		return "None"
	default:
		j, _ := protojson.Marshal(v)
		return string(j)
	}
}
