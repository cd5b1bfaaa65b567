package ui_test

import (
	"context"
	"html"
	"log/slog"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/sqlstore"
	"github.com/mlops-lab/housing/tracking/ui"
)

const labModel = "california-housing"

// registryLab is a store whose clock moves a minute at every reading, with
// the lab's three runs and its registered model as three runs of the
// register step leave it: version 1 (rf-baseline) promoted as the first
// champion, version 2 (rf-tuned) promoted over it, which archived version 1,
// and version 3 (rf-optimized) held back in Staging as the challenger; with
// the gate's and Production's tags the step writes, stamped by the same clock.
type registryLab struct {
	store   *sqlstore.Store
	handler http.Handler
	runs    map[string]string // run id by name
}

func newRegistryLab(t testing.TB) *registryLab {
	t.Helper()
	ctx := context.Background()
	var mu sync.Mutex
	clock := t0
	now := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		clock = clock.Add(time.Minute)
		return clock
	}
	dir := t.TempDir()
	store, err := sqlstore.Open(ctx, "sqlite:///"+filepath.Join(dir, "mlflow.db"), sqlstore.Options{
		DefaultArtifactRoot: filepath.Join(dir, "mlruns"), Now: now, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { store.Close() })
	// The UI's clock is the store's last reading, not moving it.
	uiNow := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	l := &registryLab{store: store, runs: map[string]string{}, handler: ui.New(store, nil, ui.Options{LoggedModels: store, Now: uiNow})}
	exp, err := store.CreateExperiment(ctx, "california-housing", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.CreateRegisteredModel(ctx, labModel, "", nil); err != nil {
		t.Fatalf("create model: %v", err)
	}
	set := func(version, k, v string) {
		if err := store.SetModelVersionTag(ctx, labModel, version, k, v); err != nil {
			t.Fatalf("tag %s: %v", k, err)
		}
	}
	for i, s := range []struct{ run, decision, reason string }{
		{"rf-baseline", "promoted", "there is no champion yet; the candidate's r2 is 0.6469"},
		{"rf-tuned", "promoted", "the candidate's r2 0.7737 beats the champion's (version 1) 0.6469 by more than 0"},
		{"rf-optimized", "held", "the candidate's r2 0.7700 does not beat the champion's (version 2) 0.7737 by more than 0.01"},
	} {
		run, err := store.CreateRun(ctx, tracking.CreateRun{ExperimentID: exp, RunName: s.run, StartTime: now().UnixMilli()})
		if err != nil {
			t.Fatal(err)
		}
		l.runs[s.run] = run.Info.RunID
		v, err := store.CreateModelVersion(ctx, tracking.CreateModelVersion{Name: labModel, Source: run.Info.ArtifactURI + "/model", RunID: run.Info.RunID})
		if err != nil {
			t.Fatalf("create version: %v", err)
		}
		if _, err := store.TransitionModelVersionStage(ctx, labModel, v.Version, tracking.StageStaging, false); err != nil {
			t.Fatal(err)
		}
		stamp := now().UTC().Format(time.RFC3339)
		set(v.Version, ui.GateTagPrefix+"reason", s.reason)
		set(v.Version, ui.GateTagPrefix+"metric", "r2")
		set(v.Version, ui.GateTagPrefix+"decided_at", stamp)
		if s.decision == "promoted" {
			if _, err := store.TransitionModelVersionStage(ctx, labModel, v.Version, tracking.StageProduction, true); err != nil {
				t.Fatal(err)
			}
			if err := store.SetRegisteredModelAlias(ctx, labModel, "champion", v.Version); err != nil {
				t.Fatal(err)
			}
			set(v.Version, ui.ProductionTagPrefix+"from", stamp)
			if i > 0 {
				set("1", ui.ProductionTagPrefix+"until", stamp)
				set("1", ui.ProductionTagPrefix+"replaced_by", v.Version)
			}
		} else if err := store.SetRegisteredModelAlias(ctx, labModel, "challenger", v.Version); err != nil {
			t.Fatal(err)
		}
		set(v.Version, ui.GateTagPrefix+"decision", s.decision)
	}
	return l
}

// timelineEntry is one entry of the model page's timeline.
type timelineEntry struct {
	Kind, Datetime, Text string
}

// timelineOf returns the timeline's entries in page order.
func timelineOf(body string) []timelineEntry {
	ol := regexp.MustCompile(`(?s)<ol class="timeline" id="timeline">(.*?)</ol>`).FindStringSubmatch(body)
	if ol == nil {
		return nil
	}
	var out []timelineEntry
	for _, li := range regexp.MustCompile(`(?s)<li class="ev ev-([\w-]+)">\s*<time datetime="([^"]*)">[^<]*</time>(.*?)</li>`).FindAllStringSubmatch(ol[1], -1) {
		text := html.UnescapeString(regexp.MustCompile(`<[^>]+>`).ReplaceAllString(li[3], ""))
		out = append(out, timelineEntry{li[1], li[2], strings.Join(strings.Fields(text), " ")})
	}
	return out
}

// entryTime reads a timeline entry's datetime (RFC 3339).
func entryTime(t *testing.T, s string) time.Time {
	t.Helper()
	at, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatalf("timeline datetime %q: %v", s, err)
	}
	return at
}

func TestModelTimeline(t *testing.T) {
	l := newRegistryLab(t)
	res, body := getFrom(t, l.handler, "/models/"+labModel)
	wantStatus(t, res, http.StatusOK)
	entries := timelineOf(body)
	var lines []string
	for _, e := range entries {
		lines = append(lines, e.Kind+" "+e.Datetime+" "+e.Text)
	}
	all := strings.Join(lines, "\n")
	// Newest first.
	for i := 1; i < len(entries); i++ {
		if entryTime(t, entries[i].Datetime).After(entryTime(t, entries[i-1].Datetime)) {
			t.Errorf("entry %d is newer than entry %d:\n%s", i, i-1, all)
		}
	}
	// What each version went through, newest first, as the register step left it.
	want := map[string][]string{
		"v1": {"current v1 last updated now Archived", "production-until v1 left Production replaced by version 2",
			"production-from v1 entered Production", "promoted v1 gate decision promoted there is no champion yet",
			"registered v1 registered from run rf-baseline as stage None"},
		"v2": {"current v2 last updated now Production @champion", "production-from v2 entered Production",
			"promoted v2 gate decision promoted the candidate's r2 0.7737 beats", "registered v2 registered from run rf-tuned"},
		// v3's stage changed before the gate decided; its alias leaves no time.
		"v3": {"held v3 gate decision held the candidate's r2 0.7700 does not beat", "current v3 last updated now Staging @challenger",
			"registered v3 registered from run rf-optimized"},
	}
	for v, wants := range want {
		var got []string
		for _, e := range entries {
			if strings.HasPrefix(e.Text, v+" ") {
				got = append(got, e.Kind+" "+e.Text)
			}
		}
		if len(got) != len(wants) {
			t.Errorf("%s: %d entries, want %d:\n%s", v, len(got), len(wants), strings.Join(got, "\n"))
			continue
		}
		for i := range wants {
			if !strings.HasPrefix(got[i], wants[i]) {
				t.Errorf("%s entry %d = %q, want it to start %q", v, i, got[i], wants[i])
			}
		}
	}
	mustContain(t, body, "metric=r2")
	// The timeline drawn: a lane per version, a Production bar for v1 (ended)
	// and v2 (to now), a mark per registration and decision.
	lanes := figures(body)["timeline"]
	if len(lanes) != 1 {
		t.Fatalf("%d timeline plots, want 1", len(lanes))
	}
	for what, want := range map[string]int{`class="series lane"`: 3, `class="series prod"`: 2,
		`class="mark ev-registered"`: 3, `class="mark ev-promoted"`: 2, `class="mark ev-held"`: 1} {
		if n := strings.Count(lanes[0], what); n != want {
			t.Errorf("timeline plot has %d %s, want %d", n, what, want)
		}
	}
	mustContain(t, lanes[0], ">v2 Production</text>", ">v1 Archived</text>", ">time (UTC)</text>")
	// The register step's tags are in the timeline, not among the version's tags.
	mustNotContain(t, body, "housing.production.from=", "housing.gate.reason=")
}

func TestModelSourceLoggedModel(t *testing.T) {
	l := newLab(t)
	m := seedLoggedModel(t, l)
	_, body := l.get(t, "/models/housing-logged")
	// Both versions name the logged model (one by models:/<id>, one by its
	// artifact location) and its run.
	link := `<a href="/logged-models/` + m.ModelID + `" title="logged model">model rf-model</a>, <a href="/runs/` + l.runs["rf-tuned"].Info.RunID + `" title="run">run rf-tuned</a>`
	if n := strings.Count(body, link); n != 2*2 { // the table and the timeline
		t.Errorf("%d links to the logged model and its run, want 4", n)
	}
	_, body = l.get(t, "/models/housing-logged/versions/1")
	mustContain(t, body, `<a href="/logged-models/`+m.ModelID+`" id="logged-model">rf-model</a>`, ">rf-tuned</a>")
}
