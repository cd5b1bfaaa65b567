package kfp

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/kubeflow/pipelines/api/v2alpha1/go/pipelinespec"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
)

// ParseValue reads the text form of a parameter of type t, as given on the
// command line (--param k=v): strings as they are, numbers and booleans as
// Go parses them, lists and structs as JSON. A list may also be given as
// comma-separated words (sweep=rf-baseline,linear).
func ParseValue(text string, t pipelinespec.ParameterType_ParameterTypeEnum) (*structpb.Value, error) {
	switch t {
	case pipelinespec.ParameterType_STRING:
		return structpb.NewStringValue(text), nil
	case pipelinespec.ParameterType_NUMBER_DOUBLE:
		f, err := strconv.ParseFloat(strings.TrimSpace(text), 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a number", text)
		}
		return structpb.NewNumberValue(f), nil
	case pipelinespec.ParameterType_NUMBER_INTEGER:
		i, err := strconv.ParseInt(strings.TrimSpace(text), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not an integer", text)
		}
		return structpb.NewNumberValue(float64(i)), nil
	case pipelinespec.ParameterType_BOOLEAN:
		b, err := strconv.ParseBool(strings.TrimSpace(text))
		if err != nil {
			return nil, fmt.Errorf("%q is not a boolean", text)
		}
		return structpb.NewBoolValue(b), nil
	case pipelinespec.ParameterType_LIST:
		trimmed := strings.TrimSpace(text)
		if !strings.HasPrefix(trimmed, "[") {
			var items []any
			for _, w := range strings.Split(trimmed, ",") {
				if w = strings.TrimSpace(w); w != "" {
					items = append(items, w)
				}
			}
			l, err := structpb.NewList(items)
			if err != nil {
				return nil, err
			}
			return structpb.NewListValue(l), nil
		}
		return jsonValue(trimmed, "list")
	case pipelinespec.ParameterType_STRUCT:
		return jsonValue(text, "struct")
	default:
		return nil, fmt.Errorf("parameter type %v is not supported", t)
	}
}

func jsonValue(text, kind string) (*structpb.Value, error) {
	var v any
	if err := json.Unmarshal([]byte(text), &v); err != nil {
		return nil, fmt.Errorf("%q is not a JSON %s: %v", text, kind, err)
	}
	val, err := structpb.NewValue(v)
	if err != nil {
		return nil, err
	}
	switch {
	case kind == "list" && val.GetListValue() == nil, kind == "struct" && val.GetStructValue() == nil:
		return nil, fmt.Errorf("%q is not a JSON %s", text, kind)
	}
	return val, nil
}

// Text is how KFP puts a parameter value into a command line: strings as
// they are, numbers in their shortest form, lists and structs as JSON.
func Text(v *structpb.Value) string {
	switch k := v.GetKind().(type) {
	case *structpb.Value_StringValue:
		return k.StringValue
	case *structpb.Value_NumberValue:
		return strconv.FormatFloat(k.NumberValue, 'f', -1, 64)
	case *structpb.Value_BoolValue:
		return strconv.FormatBool(k.BoolValue)
	case *structpb.Value_NullValue, nil:
		return ""
	default:
		b, err := protojson.Marshal(v)
		if err != nil {
			return fmt.Sprint(v.AsInterface())
		}
		// protojson output is valid JSON; re-encode it compactly.
		var x any
		if json.Unmarshal(b, &x) == nil {
			if c, err := json.Marshal(x); err == nil {
				return string(c)
			}
		}
		return string(b)
	}
}

// OutputValue reads the text a step wrote to an output parameter file as a
// value of the declared type.
func OutputValue(text string, t pipelinespec.ParameterType_ParameterTypeEnum) (*structpb.Value, error) {
	if t == pipelinespec.ParameterType_STRING {
		return structpb.NewStringValue(text), nil
	}
	return ParseValue(strings.TrimSpace(text), t)
}

// ParseParameters reads pipeline parameters given in text form (name ->
// text) as values of the types the pipeline's root inputs declare. It
// returns only the given parameters, and an error for a name the pipeline
// does not have.
func ParseParameters(spec *pipelinespec.PipelineSpec, given map[string]string) (map[string]*structpb.Value, error) {
	defs := spec.GetRoot().GetInputDefinitions().GetParameters()
	out := map[string]*structpb.Value{}
	for name, text := range given {
		def, ok := defs[name]
		if !ok {
			return nil, fmt.Errorf("kfp: pipeline %s has no parameter %q (it has %s)", spec.GetPipelineInfo().GetName(), name, strings.Join(sortedKeys(defs), ", "))
		}
		v, err := ParseValue(text, def.GetParameterType())
		if err != nil {
			return nil, fmt.Errorf("kfp: parameter %s: %w", name, err)
		}
		out[name] = v
	}
	return out, nil
}
