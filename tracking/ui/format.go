package ui

import (
	"fmt"
	"html/template"
	"math"
	"strconv"
	"time"
)

// funcs are the template functions; each returns plain strings that templates escape.
var funcs = template.FuncMap{
	"millis":   fmtMillis,
	"duration": fmtDuration,
	"num":      fmtNum,
	"bytes":    fmtBytes,
}

// fmtMillis formats milliseconds since the epoch as UTC; 0 is "-".
func fmtMillis(ms int64) string {
	if ms == 0 {
		return "-"
	}
	return time.UnixMilli(ms).UTC().Format("2006-01-02 15:04:05 UTC")
}

// fmtDuration formats the time between start and end (ms); an unfinished run has "-".
func fmtDuration(start, end int64) string {
	if start == 0 || end == 0 || end < start {
		return "-"
	}
	d := time.Duration(end-start) * time.Millisecond
	switch {
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}

// fmtNum formats a metric value compactly but without losing what matters:
// up to 6 significant digits.
func fmtNum(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1) || v >= math.MaxFloat64:
		return "+Inf"
	case math.IsInf(v, -1) || v <= -math.MaxFloat64:
		return "-Inf"
	}
	return strconv.FormatFloat(v, 'g', 6, 64)
}

// fmtBytes formats a file size.
func fmtBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
