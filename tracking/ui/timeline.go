package ui

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mlops-lab/housing/tracking"
)

// ProductionTagPrefix starts the model version tags the register step writes
// when a version enters or leaves Production: housing.production.from and
// .until (RFC 3339) and .replaced_by (the version that took its place).
const ProductionTagPrefix = "housing.production."

// MLflow's registry keeps no history of stage or alias changes: a version has
// its creation time, the time of its last change, and its current stage and
// aliases. The timeline is derived from those and from the tags the register
// step writes (GateTagPrefix, ProductionTagPrefix), and says which is which.

// timelineEvent is one dated thing that happened to a version.
type timelineEvent struct {
	At      int64  // milliseconds since the epoch; 0: unknown
	When    string // At formatted, or the tag's value as written when it does not parse
	Raw     string // the time as stored (RFC 3339 or milliseconds), for <time datetime>
	Version string
	URL     string
	Kind    string // registered, promoted, held, unchanged, production-from, production-until, current
	Label   string
	Text    string
	Details []tracking.Tag
	Stage   tracking.Stage // current: the stage now
	Aliases []string       // current: the aliases now
	Source  *versionSource // registered: where it came from
}

// versionSource is where a version was registered from: a run, a logged
// model, or only a URI.
type versionSource struct {
	RunName, RunURL     string
	ModelName, ModelURL string
	URI                 string
}

// timeline returns the events of the versions, newest first; an event of
// unknown time sorts as its version's last update.
func timeline(versions []tracking.ModelVersion, sources map[string]*versionSource) []timelineEvent {
	var evs []timelineEvent
	for _, v := range versions {
		url := versionURL(v.Name, v.Version)
		ev := func(kind, label string, at int64, raw string) timelineEvent {
			when := fmtMillis(at)
			if at == 0 {
				when = raw
			}
			return timelineEvent{At: at, When: when, Raw: raw, Version: v.Version, URL: url, Kind: kind, Label: label}
		}
		reg := ev("registered", "registered", v.CreationTimestamp, strconv.FormatInt(v.CreationTimestamp, 10))
		reg.Source = sources[v.Version]
		reg.Text = "as stage None"
		evs = append(evs, reg)

		tags := map[string]string{}
		var details []tracking.Tag
		for _, t := range v.Tags {
			tags[t.Key] = t.Value
			if key, ok := strings.CutPrefix(t.Key, GateTagPrefix); ok && key != "decision" && key != "reason" && key != "decided_at" {
				details = append(details, tracking.Tag{Key: key, Value: t.Value})
			}
		}
		slices.SortFunc(details, func(a, b tracking.Tag) int { return cmp.Compare(a.Key, b.Key) })
		if d, ok := tags[GateTagPrefix+"decision"]; ok {
			raw := tags[GateTagPrefix+"decided_at"]
			e := ev(d, "gate decision", tagTime(raw), raw)
			e.Text, e.Details = tags[GateTagPrefix+"reason"], details
			evs = append(evs, e)
		}
		if raw, ok := tags[ProductionTagPrefix+"from"]; ok {
			e := ev("production-from", "entered Production", tagTime(raw), raw)
			evs = append(evs, e)
		}
		if raw, ok := tags[ProductionTagPrefix+"until"]; ok {
			e := ev("production-until", "left Production", tagTime(raw), raw)
			if by := tags[ProductionTagPrefix+"replaced_by"]; by != "" {
				e.Text = "replaced by version " + by
			}
			evs = append(evs, e)
		}
		cur := ev("current", "last updated", v.LastUpdatedTimestamp, strconv.FormatInt(v.LastUpdatedTimestamp, 10))
		cur.Stage, cur.Aliases = v.CurrentStage, slices.Clone(v.Aliases)
		slices.Sort(cur.Aliases)
		evs = append(evs, cur)
	}
	// An event without a time goes with its version's last change.
	last := map[string]int64{}
	for _, v := range versions {
		last[v.Version] = v.LastUpdatedTimestamp
	}
	at := func(e timelineEvent) int64 {
		if e.At == 0 {
			return last[e.Version]
		}
		return e.At
	}
	rank := map[string]int{"current": 0, "production-until": 1, "production-from": 2, "promoted": 3, "held": 3, "unchanged": 3, "registered": 4}
	slices.SortStableFunc(evs, func(a, b timelineEvent) int {
		return cmp.Or(
			cmp.Compare(at(b), at(a)),
			cmp.Compare(versionNumber(b.Version), versionNumber(a.Version)),
			cmp.Compare(rank[a.Kind], rank[b.Kind]),
		)
	})
	return evs
}

// tagTime reads a time tag: RFC 3339, or milliseconds since the epoch; 0 when
// it is neither.
func tagTime(s string) int64 {
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return ms
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UnixMilli()
	}
	return 0
}
