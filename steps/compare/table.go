package main

import (
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/mlops-lab/housing/steps/internal/stepkit"
	"github.com/mlops-lab/housing/tracking"
)

// Row is one run in the comparison.
type Row struct {
	Rank    int // 1 is best; 0 when the run lacks the metric
	RunID   string
	RunName string
	Status  tracking.RunStatus
	Params  []string // in the order of Table.ParamKeys; "" when unset
	Metrics []string // in the order of Table.MetricKeys; "" when unset
	Score   float64  // the ranking metric (NaN when missing)
}

// Table is the comparison of an experiment's runs.
type Table struct {
	Experiment string
	Metric     string
	Direction  stepkit.Direction
	ParamKeys  []string
	MetricKeys []string
	Rows       []Row // ranked rows first (best first), then the unranked in search order
}

// Best returns the best ranked row, if any run has the metric.
func (t *Table) Best() (Row, bool) {
	if len(t.Rows) == 0 || t.Rows[0].Rank != 1 {
		return Row{}, false
	}
	return t.Rows[0], true
}

// Ranked counts the runs that carry the ranking metric: the runs Best chose among.
func (t *Table) Ranked() int {
	n := 0
	for _, r := range t.Rows {
		if r.Rank > 0 {
			n++
		}
	}
	return n
}

// buildTable ranks runs (in search order, newest first) by metric. Ties keep the
// search order, so among equals the newest run wins.
func buildTable(experiment string, runs []tracking.Run, metric string, dir stepkit.Direction, paramKeys, metricKeys []string) *Table {
	t := &Table{Experiment: experiment, Metric: metric, Direction: dir, ParamKeys: paramKeys, MetricKeys: metricKeys}
	var ranked, unranked []Row
	for i := range runs {
		r := &runs[i]
		row := Row{RunID: r.Info.RunID, RunName: r.Info.RunName, Status: r.Info.Status, Score: math.NaN()}
		for _, k := range paramKeys {
			v, _ := r.Param(k)
			row.Params = append(row.Params, v)
		}
		for _, k := range metricKeys {
			v, ok := r.Metric(k)
			row.Metrics = append(row.Metrics, formatMetric(v, ok))
		}
		if v, ok := r.Metric(metric); ok && !math.IsNaN(v) {
			row.Score = v
			ranked = append(ranked, row)
		} else {
			unranked = append(unranked, row)
		}
	}
	slices.SortStableFunc(ranked, func(a, b Row) int {
		switch {
		case dir.Better(a.Score, b.Score):
			return -1
		case dir.Better(b.Score, a.Score):
			return 1
		}
		return 0
	})
	for i := range ranked {
		ranked[i].Rank = i + 1
	}
	t.Rows = append(ranked, unranked...)
	return t
}

func formatMetric(v float64, ok bool) string {
	if !ok {
		return ""
	}
	return strconv.FormatFloat(v, 'f', 4, 64)
}

func (t *Table) header() []string {
	h := []string{"rank", "run_name", "run_id", "status"}
	for _, k := range t.ParamKeys {
		h = append(h, "params."+k)
	}
	for _, k := range t.MetricKeys {
		h = append(h, "metrics."+k)
	}
	return h
}

func (t *Table) cells(r Row) []string {
	rank := "-"
	if r.Rank > 0 {
		rank = strconv.Itoa(r.Rank)
	}
	c := []string{rank, r.RunName, r.RunID, string(r.Status)}
	c = append(c, r.Params...)
	return append(c, r.Metrics...)
}

// WriteCSV writes the table as CSV with a header.
func (t *Table) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(t.header()); err != nil {
		return err
	}
	for _, r := range t.Rows {
		if err := cw.Write(t.cells(r)); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// Markdown returns the table as GitHub-flavoured Markdown, as Kubeflow's UI renders it.
func (t *Table) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Runs of %s, ranked by %s (%s)\n\n", escapeMarkdown(t.Experiment), escapeMarkdown(t.Metric), t.Direction)
	writeRow := func(cells []string) {
		b.WriteString("|")
		for _, c := range cells {
			b.WriteString(" " + escapeMarkdown(c) + " |")
		}
		b.WriteString("\n")
	}
	h := t.header()
	writeRow(h)
	b.WriteString("|" + strings.Repeat(" --- |", len(h)) + "\n")
	for _, r := range t.Rows {
		writeRow(t.cells(r))
	}
	if best, ok := t.Best(); ok {
		fmt.Fprintf(&b, "\nBest: **%s** (`%s`), %s = %.4f\n", escapeMarkdown(best.RunName), best.RunID, escapeMarkdown(t.Metric), best.Score)
	}
	return b.String()
}

// Text returns the table aligned in columns for a terminal (short run ids).
func (t *Table) Text() string {
	h := t.header()
	rows := [][]string{h}
	for _, r := range t.Rows {
		c := t.cells(r)
		if len(c[2]) > 8 {
			c[2] = c[2][:8]
		}
		rows = append(rows, c)
	}
	width := make([]int, len(h))
	for _, r := range rows {
		for i, c := range r {
			width[i] = max(width[i], len(c))
		}
	}
	var b strings.Builder
	for _, r := range rows {
		for i, c := range r {
			fmt.Fprintf(&b, "%-*s  ", width[i], c)
		}
		b.WriteString("\n")
	}
	return b.String()
}

var markdownEscaper = strings.NewReplacer("|", `\|`, "\n", " ", "*", `\*`, "_", `\_`, "`", "'", "<", "&lt;", ">", "&gt;")

func escapeMarkdown(s string) string { return markdownEscaper.Replace(s) }
