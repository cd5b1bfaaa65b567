package sqlstore

import (
	"slices"
	"testing"
)

// TestDistribute hands rows of interleaved runs to their runs in row order, leaves
// runs without rows out, and caps each part so that appending to one run's
// slice cannot overwrite the next run's rows.
func TestDistribute(t *testing.T) {
	rows := []ofRun[string]{{2, "a"}, {0, "b"}, {2, "c"}, {1, "d"}, {0, "e"}}
	got := map[int][]string{}
	distribute(rows, 4, nil, func(run int, vs []string) { got[run] = vs })
	want := map[int][]string{0: {"b", "e"}, 1: {"d"}, 2: {"a", "c"}}
	if len(got) != len(want) {
		t.Fatalf("distribute set %d runs (%v), want %d", len(got), got, len(want))
	}
	for run, vs := range want {
		if !slices.Equal(got[run], vs) {
			t.Errorf("run %d got %q, want %q", run, got[run], vs)
		}
	}
	_ = append(got[0], "x")
	if got[1][0] != "d" {
		t.Errorf("appending to run 0's rows overwrote run 1's: %q", got[1])
	}
	distribute[string](nil, 3, nil, func(run int, vs []string) { t.Errorf("no rows, yet run %d was set to %q", run, vs) })
}
