package stepkit

import (
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"
)

// Phases records where a step's time goes: each Done charges the time
// since the previous one (or since NewPhases) to a named phase, so that
// the phases add up to the step's whole time.
type Phases struct {
	now   func() time.Time
	start time.Time
	last  time.Time
	names []string // in the order first done
	spent map[string]time.Duration
}

// NewPhases starts the clock now.
func NewPhases(now func() time.Time) *Phases {
	t := now()
	return &Phases{now: now, start: t, last: t, spent: map[string]time.Duration{}}
}

// Done charges the time since the last mark to phase name.
func (p *Phases) Done(name string) {
	t := p.now()
	if _, ok := p.spent[name]; !ok {
		p.names = append(p.names, name)
	}
	p.spent[name] += t.Sub(p.last)
	p.last = t
}

// Seconds returns the time charged to name.
func (p *Phases) Seconds(name string) float64 { return p.spent[name].Seconds() }

// Metrics returns the phases as MLflow metrics, timing.<phase>_seconds,
// and timing.total_seconds up to the last mark.
func (p *Phases) Metrics() map[string]float64 {
	m := map[string]float64{"timing.total_seconds": p.last.Sub(p.start).Seconds()}
	for _, n := range p.names {
		m["timing."+n+"_seconds"] = p.spent[n].Seconds()
	}
	return m
}

// Log writes one line of where the time went, with each phase's share, and
// the process's peak resident memory (VmHWM) where /proc tells it.
func (p *Phases) Log(log *slog.Logger, msg string, attrs ...any) {
	total := p.last.Sub(p.start)
	parts := make([]string, 0, len(p.names))
	for _, n := range p.names {
		d := p.spent[n]
		parts = append(parts, fmt.Sprintf("%s %.2fs (%.0f%%)", n, d.Seconds(), 100*d.Seconds()/max(total.Seconds(), 1e-9)))
	}
	attrs = append(attrs, "total", fmt.Sprintf("%.2fs", total.Seconds()), "phases", strings.Join(parts, ", "))
	if hwm, ok := PeakRSS(); ok {
		attrs = append(attrs, "peak_rss_mib", fmt.Sprintf("%.0f", float64(hwm)/(1<<20)))
	}
	log.Info(msg, attrs...)
}

// PeakRSS returns the process's peak resident set size in bytes (VmHWM of
// /proc/self/status); false where there is no such file.
func PeakRSS() (int64, bool) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0, false
			}
			return kb << 10, true
		}
	}
	return 0, false
}
