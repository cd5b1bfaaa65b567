package main

import (
	"fmt"
	"math"

	"github.com/mlops-lab/housing/steps/internal/stepkit"
)

// Gate decides whether a candidate replaces the champion: it must be better by
// more than Margin (an absolute difference in Metric).
type Gate struct {
	Metric    string
	Direction stepkit.Direction
	Margin    float64
}

// Decision is the gate's verdict and why.
type Decision struct {
	Promote         bool     `json:"promote"`
	Reason          string   `json:"reason"`
	Metric          string   `json:"metric"`
	Candidate       float64  `json:"candidate"`
	Champion        *float64 `json:"champion,omitempty"` // nil when there was no champion
	ChampionVersion string   `json:"champion_version,omitempty"`
	Margin          float64  `json:"margin"`
}

// Decide compares candidate with champion (nil when there is none).
func (g Gate) Decide(candidate float64, champion *float64, championVersion string) Decision {
	d := Decision{Metric: g.Metric, Candidate: candidate, Champion: champion, ChampionVersion: championVersion, Margin: g.Margin}
	switch {
	case math.IsNaN(candidate):
		d.Reason = fmt.Sprintf("the candidate's %s is NaN", g.Metric)
	case champion == nil:
		d.Promote = true
		d.Reason = fmt.Sprintf("there is no champion yet; the candidate's %s is %.4f", g.Metric, candidate)
	default:
		improvement := g.Direction.Improvement(candidate, *champion)
		if improvement > g.Margin {
			d.Promote = true
			d.Reason = fmt.Sprintf("%s %.4f beats the champion (version %s) at %.4f by %.4f, more than the margin %.4f",
				g.Metric, candidate, championVersion, *champion, improvement, g.Margin)
		} else {
			d.Reason = fmt.Sprintf("%s %.4f does not beat the champion (version %s) at %.4f by more than the margin %.4f (difference %.4f)",
				g.Metric, candidate, championVersion, *champion, g.Margin, improvement)
		}
	}
	return d
}
