package stepkit_test

import (
	"strings"
	"testing"

	"github.com/mlops-lab/housing/steps/internal/stepkit"
)

func TestParseDirection(t *testing.T) {
	for in, want := range map[string]stepkit.Direction{"max": stepkit.Maximize, "MIN": stepkit.Minimize, "minimize": stepkit.Minimize} {
		if got, err := stepkit.ParseDirection(in); err != nil || got != want {
			t.Errorf("ParseDirection(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := stepkit.ParseDirection("up"); err == nil || !strings.Contains(err.Error(), `"up"`) {
		t.Errorf("ParseDirection(up) error = %v, want one naming the value", err)
	}
}

func TestDirectionImprovement(t *testing.T) {
	if got := stepkit.Maximize.Improvement(0.8, 0.7); got < 0.0999 || got > 0.1001 {
		t.Errorf("max improvement of 0.8 over 0.7 = %v, want 0.1", got)
	}
	if got := stepkit.Minimize.Improvement(0.8, 0.7); got > -0.0999 || got < -0.1001 {
		t.Errorf("min improvement of 0.8 over 0.7 = %v, want -0.1", got)
	}
	if !stepkit.Minimize.Better(0.4, 0.5) || stepkit.Maximize.Better(0.4, 0.5) {
		t.Error("Better disagrees with the direction")
	}
}
