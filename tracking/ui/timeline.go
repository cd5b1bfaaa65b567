package ui

import (
	"cmp"
	"fmt"
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
	At       int64  // milliseconds since the epoch; 0: unknown
	When     string // At formatted, or the tag's value as written when it does not parse
	Datetime string // At in RFC 3339, for <time datetime>; "" when unknown
	Version  string
	URL      string
	Kind     string // registered, promoted, held, unchanged, production-from, production-until, current
	Label    string
	Text     string
	Details  []tracking.Tag
	Stage    tracking.Stage // current: the stage now
	Aliases  []string       // current: the aliases now
	Source   *versionSource // registered: where it came from
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
			e := timelineEvent{At: at, When: raw, Version: v.Version, URL: url, Kind: kind, Label: label}
			if at != 0 {
				e.When, e.Datetime = fmtMillis(at), time.UnixMilli(at).UTC().Format(time.RFC3339)
			}
			return e
		}
		reg := ev("registered", "registered", v.CreationTimestamp, "-")
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
		cur := ev("current", "last updated", v.LastUpdatedTimestamp, "-")
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

// timeSteps are the round intervals a time axis may tick at, in milliseconds.
var timeSteps = []int64{
	1e3, 5e3, 15e3, 30e3, // seconds
	60e3, 5 * 60e3, 15 * 60e3, 30 * 60e3, // minutes
	3600e3, 3 * 3600e3, 6 * 3600e3, 12 * 3600e3, // hours
	86400e3, 2 * 86400e3, 7 * 86400e3, 30 * 86400e3, 90 * 86400e3, 365 * 86400e3, // days
}

// timeTicks returns at most about n round times (ms since the epoch, UTC)
// within [lo, hi], and the layout that labels them: the smallest step of
// timeSteps that needs no more than n ticks, the label as fine as the step
// and saying the day when the range spans more than one.
func timeTicks(lo, hi int64, n int) ([]int64, string) {
	if hi <= lo || n < 1 {
		return nil, ""
	}
	step := timeSteps[len(timeSteps)-1]
	for _, s := range timeSteps {
		if (hi-lo)/s <= int64(n) {
			step = s
			break
		}
	}
	var ticks []int64
	for t := (lo + step - 1) / step * step; t <= hi; t += step {
		ticks = append(ticks, t)
	}
	oneDay := time.UnixMilli(lo).UTC().Format("20060102") == time.UnixMilli(hi).UTC().Format("20060102")
	switch {
	case step >= 30*86400e3:
		return ticks, "Jan 2006"
	case step >= 86400e3:
		return ticks, "Jan 2"
	case step < 60e3 && oneDay:
		return ticks, "15:04:05"
	case oneDay:
		return ticks, "15:04"
	}
	return ticks, "Jan 2 15:04"
}

// timelinePlot draws the versions as lanes over time, newest on top: each
// from its registration to now, a bar where the register step's tags say it
// was in Production (to now when it still is), and a mark per registration
// and gate decision.
func timelinePlot(versions []tracking.ModelVersion, events []timelineEvent, now int64) *plot {
	p := newPlot("timeline", "Versions over time", wideW, 64+34*float64(max(len(versions), 1)))
	p.Left = 150
	p.Bottom = p.Height - 40
	if len(versions) == 0 {
		p.Empty = "no versions yet"
		return p
	}
	lo, hi := now, now
	for _, v := range versions {
		lo = min(lo, v.CreationTimestamp)
		hi = max(hi, v.LastUpdatedTimestamp)
	}
	for _, e := range events {
		if e.At > 0 {
			lo, hi = min(lo, e.At), max(hi, e.At)
		}
	}
	pad := max((hi-lo)/40, 1000)
	sx := scale{float64(lo - pad), float64(hi + pad), p.Left, p.Right}
	ticks, layout := timeTicks(lo-pad, hi+pad, 7)
	for _, t := range ticks {
		p.XTicks = append(p.XTicks, tick{Pos: sx.at(float64(t)), Label: time.UnixMilli(t).UTC().Format(layout)})
	}
	p.XLabel = "time (UTC)"
	// One lane per version, the oldest at the bottom.
	order := slices.Clone(versions)
	slices.SortFunc(order, func(a, b tracking.ModelVersion) int { return versionNumber(a.Version) - versionNumber(b.Version) })
	lane := map[string]float64{}
	h := (p.Bottom - p.Top) / float64(len(order))
	for i, v := range order {
		y := p.Bottom - (float64(i)+0.5)*h
		lane[v.Version] = y
		label := "v" + v.Version + " " + string(v.CurrentStage)
		p.YTicks = append(p.YTicks, tick{Pos: y, Label: label})
		title := fmt.Sprintf("version %s: registered %s, now %s", v.Version, fmtMillis(v.CreationTimestamp), v.CurrentStage)
		for _, a := range v.Aliases {
			title += " @" + a
		}
		p.Series = append(p.Series, series{Run: versionNumber(v.Version), Class: "lane",
			D: fmt.Sprintf("M%.1f,%.1f L%.1f,%.1f", sx.at(float64(v.CreationTimestamp)), y, sx.at(float64(now)), y), Title: title})
	}
	// Production periods: from each "entered" to the version's "left", or to
	// now when it is in Production still.
	from := map[string]int64{}
	for _, e := range events {
		if e.Kind == "production-from" && e.At > 0 {
			from[e.Version] = e.At
		}
	}
	for _, v := range versions {
		start, ok := from[v.Version]
		if !ok {
			continue
		}
		end, until := int64(0), ""
		for _, e := range events {
			if e.Version == v.Version && e.Kind == "production-until" && e.At > 0 {
				end, until = e.At, fmtMillis(e.At)
			}
		}
		if until == "" {
			if v.CurrentStage != tracking.StageProduction {
				continue // it left, and no tag says when
			}
			end, until = now, "now"
		}
		y := lane[v.Version]
		p.Series = append(p.Series, series{Run: versionNumber(v.Version), Class: "prod",
			D:     fmt.Sprintf("M%.1f,%.1f L%.1f,%.1f", sx.at(float64(start)), y, sx.at(float64(end)), y),
			Title: fmt.Sprintf("version %s in Production from %s to %s", v.Version, fmtMillis(start), until)})
	}
	for _, e := range events {
		switch e.Kind {
		case "registered", "promoted", "held", "unchanged":
		default:
			continue
		}
		if e.At == 0 {
			continue
		}
		title := "version " + e.Version + " " + e.Label + " " + e.When
		if e.Kind != "registered" {
			title += ": " + e.Kind + ". " + e.Text
		}
		p.Marks = append(p.Marks, mark{Run: versionNumber(e.Version), Class: "ev-" + e.Kind, X: sx.at(float64(e.At)), Y: lane[e.Version], Title: title})
	}
	return p
}
