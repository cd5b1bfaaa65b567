package kfp_test

import (
	"testing"

	"github.com/kubeflow/pipelines/api/v2alpha1/go/pipelinespec"

	"github.com/mlops-lab/housing/internal/kfp"
)

func TestParseValue(t *testing.T) {
	cases := []struct {
		text string
		typ  string
		want string
	}{
		{"abc", "STRING", "abc"},
		{"0.25", "NUMBER_DOUBLE", "0.25"},
		{"42", "NUMBER_INTEGER", "42"},
		{"true", "BOOLEAN", "true"},
		{"a, b", "LIST", `["a","b"]`},
		{`[1, "x"]`, "LIST", `[1,"x"]`},
		{`{"k": 1}`, "STRUCT", `{"k":1}`},
	}
	for _, c := range cases {
		v, err := kfp.ParseValue(c.text, kfpType(c.typ))
		if err != nil {
			t.Errorf("ParseValue(%q, %s): %v", c.text, c.typ, err)
			continue
		}
		if got := kfp.Text(v); got != c.want {
			t.Errorf("ParseValue(%q, %s) = %s, want %s", c.text, c.typ, got, c.want)
		}
	}
	for _, bad := range [][2]string{{"x", "NUMBER_DOUBLE"}, {"1.5", "NUMBER_INTEGER"}, {"[1", "LIST"}, {"[]", "STRUCT"}} {
		if _, err := kfp.ParseValue(bad[0], kfpType(bad[1])); err == nil {
			t.Errorf("ParseValue(%q, %s) accepted it", bad[0], bad[1])
		}
	}
}

func kfpType(name string) pipelinespec.ParameterType_ParameterTypeEnum {
	return pipelinespec.ParameterType_ParameterTypeEnum(pipelinespec.ParameterType_ParameterTypeEnum_value[name])
}
