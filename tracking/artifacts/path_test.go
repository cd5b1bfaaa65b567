package artifacts_test

import (
	"testing"

	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/artifacts"
)

func TestCleanPath(t *testing.T) {
	ok := map[string]string{
		"":                 "",
		".":                "",
		"a":                "a",
		"a/b/c.txt":        "a/b/c.txt",
		"./a//b/":          "a/b",
		"model/MLmodel":    "model/MLmodel",
		"100%.txt":         "100%.txt",
		"a%20b":            "a%20b",
		"..hidden":         "..hidden",
		"a..b/c":           "a..b/c",
		"rf-baseline/plot": "rf-baseline/plot",
	}
	for in, want := range ok {
		got, err := artifacts.CleanPath(in)
		if err != nil || got != want {
			t.Errorf("CleanPath(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range traversals {
		_, err := artifacts.CleanPath(in)
		if tracking.ErrorCodeOf(err) != tracking.ErrInvalidParameterValue || tracking.ErrorMessage(err) != "Invalid path" {
			t.Errorf("CleanPath(%q) = %v; want INVALID_PARAMETER_VALUE Invalid path", in, err)
		}
	}
}
