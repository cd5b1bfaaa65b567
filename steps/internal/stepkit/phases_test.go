package stepkit

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestPhasesAddUp charges a fake clock's steps to phases, a phase done twice
// included, and wants the metrics to add up to the total and the log line
// to name each phase with its share.
func TestPhasesAddUp(t *testing.T) {
	clock := time.Unix(1000, 0)
	p := NewPhases(func() time.Time { return clock })
	for _, step := range []struct {
		phase string
		d     time.Duration
	}{{"load", 1 * time.Second}, {"fit", 6 * time.Second}, {"load", 1 * time.Second}, {"upload", 2 * time.Second}} {
		clock = clock.Add(step.d)
		p.Done(step.phase)
	}
	want := map[string]float64{"timing.load_seconds": 2, "timing.fit_seconds": 6, "timing.upload_seconds": 2, "timing.total_seconds": 10}
	got := p.Metrics()
	if len(got) != len(want) {
		t.Fatalf("metrics %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	var buf bytes.Buffer
	p.Log(slog.New(slog.NewTextHandler(&buf, nil)), "where the time went")
	if line := buf.String(); !strings.Contains(line, `phases="load 2.00s (20%), fit 6.00s (60%), upload 2.00s (20%)"`) || !strings.Contains(line, "total=10.00s") {
		t.Errorf("log line %q", line)
	}
	if hwm, ok := PeakRSS(); ok && hwm < 1<<20 {
		t.Errorf("peak RSS %d bytes: not a process's", hwm)
	}
}
