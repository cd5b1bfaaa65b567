package stepkit

import (
	"fmt"
	"strings"
)

// Direction says whether a larger or a smaller metric is better.
type Direction string

// Directions.
const (
	Maximize Direction = "max"
	Minimize Direction = "min"
)

// ParseDirection accepts max or min (and maximize, minimize), case-insensitively.
func ParseDirection(s string) (Direction, error) {
	switch strings.ToLower(s) {
	case "max", "maximize":
		return Maximize, nil
	case "min", "minimize":
		return Minimize, nil
	}
	return "", fmt.Errorf("direction %q: want max or min", s)
}

// Better reports whether a beats b in direction d.
func (d Direction) Better(a, b float64) bool {
	if d == Minimize {
		return a < b
	}
	return a > b
}

// Improvement is how much a improves on b in direction d (negative when worse).
func (d Direction) Improvement(a, b float64) float64 {
	if d == Minimize {
		return b - a
	}
	return a - b
}
