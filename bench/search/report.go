package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, to create the benchmark's databases
)

var sqlRowsNone = sql.ErrNoRows

// pgDatabase creates database name on the server of the database at base
// unless it exists, and returns its URI.
func pgDatabase(ctx context.Context, base, name string) (string, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("parse %q: %w", base, err)
	}
	db, err := sql.Open("pgx", base)
	if err != nil {
		return "", err
	}
	defer db.Close()
	var exists bool
	if err := db.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return "", fmt.Errorf("look for database %s: %w", name, err)
	}
	if !exists {
		if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
			return "", fmt.Errorf("create database %s: %w", name, err)
		}
	}
	u.Path = "/" + name
	return u.String(), nil
}

// column is one (target, size) of the table.
type column struct {
	target string
	runs   int
}

func (c column) String() string { return fmt.Sprintf("%s %s", c.target, size(c.runs)) }

func size(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return fmt.Sprintf("%dM", n/1_000_000)
	case n >= 1000 && n%1000 == 0:
		return fmt.Sprintf("%dk", n/1000)
	}
	return fmt.Sprint(n)
}

// table writes the p50 of every shape by target and size, the ratios of ours
// to each real MLflow at the same size, whether the servers' first pages agree,
// and the throughput lines.
func (b *bench) table(w io.Writer) {
	var cols []column
	p50 := map[column]map[string]float64{}
	failed := map[column]map[string]bool{}
	var order []string
	seen := map[string]bool{}
	for _, r := range b.results {
		if r.Op != "search" {
			continue
		}
		c := column{r.Target, r.Runs}
		if p50[c] == nil {
			cols = append(cols, c)
			p50[c] = map[string]float64{}
		}
		p50[c][r.Shape] = r.P50ms
		if r.Error != "" && r.Samples == 0 {
			if failed[c] == nil {
				failed[c] = map[string]bool{}
			}
			failed[c][r.Shape] = true
		}
		if !seen[r.Shape] {
			seen[r.Shape] = true
			order = append(order, r.Shape)
		}
	}
	type ratio struct{ ours, theirs column }
	var ratios []ratio
	for _, t := range cols {
		if !strings.HasPrefix(t.target, "mlflow-") {
			continue
		}
		for _, o := range cols {
			if o.runs == t.runs && !strings.HasPrefix(o.target, "mlflow-") {
				ratios = append(ratios, ratio{o, t})
			}
		}
	}
	fmt.Fprint(w, "\n| shape |")
	for _, c := range cols {
		fmt.Fprintf(w, " %s |", c)
	}
	for _, r := range ratios {
		fmt.Fprintf(w, " %s / %s |", r.ours.target, strings.TrimPrefix(r.theirs.target, "mlflow-"))
	}
	fmt.Fprint(w, " same page |\n|---|")
	fmt.Fprint(w, strings.Repeat("---|", len(cols)+len(ratios)+1)+"\n")
	for _, s := range order {
		fmt.Fprintf(w, "| %s |", s)
		for _, c := range cols {
			if failed[c][s] {
				fmt.Fprint(w, " failed |")
			} else if v, ok := p50[c][s]; ok {
				fmt.Fprintf(w, " %s |", fmtMs(v))
			} else {
				fmt.Fprint(w, " |")
			}
		}
		for _, r := range ratios {
			a, okA := p50[r.ours][s]
			t, okT := p50[r.theirs][s]
			if okA && okT && t > 0 && !failed[r.theirs][s] {
				fmt.Fprintf(w, " %.3f |", a/t)
			} else {
				fmt.Fprint(w, " |")
			}
		}
		fmt.Fprintf(w, " %s |\n", b.agree(s))
	}
	fmt.Fprintln(w)
	for _, r := range b.results {
		switch r.Op {
		case "throughput":
			fmt.Fprintf(w, "- %s %s: %d clients, compound shapes: %.0f searches/s (load %s)\n", r.Target, size(r.Runs), r.Clients, r.PerSecond, r.LoadAvg)
		case "fill":
			fmt.Fprintf(w, "- %s %s: filled in %.1f s (load %s)\n", r.Target, size(r.Runs), r.Seconds, r.LoadAvg)
		}
	}
}

// load reads the results of an earlier run (its JSON lines).
func (b *bench) load(file string) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	for i, line := range bytes.Split(data, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 || line[0] != '{' {
			continue
		}
		var r result
		if err := json.Unmarshal(line, &r); err != nil {
			return fmt.Errorf("%s:%d: %w", file, i+1, err)
		}
		b.results = append(b.results, r)
	}
	return nil
}

// agree says whether every target answered the shape's first page with the
// same runs in the same order at the MLflow size, else which differ from the
// first target.
func (b *bench) agree(shape string) string {
	pages := map[string]string{}
	for _, r := range b.results {
		if r.Op == "search" && r.Shape == shape && r.Runs == b.cfg.mlflowSize && r.Page != "" {
			pages[r.Target] = r.Page
		}
	}
	if len(pages) < 2 {
		return ""
	}
	var first, ref string
	var differ []string
	for _, c := range []string{"sqlite", "postgresql", "mlflow-2.17.2", "mlflow-3.11.1"} {
		p, ok := pages[c]
		if !ok {
			continue
		}
		if first == "" {
			first, ref = c, p
			continue
		}
		if p != ref {
			differ = append(differ, c)
		}
	}
	if len(differ) == 0 {
		return fmt.Sprintf("yes (%d)", len(pages))
	}
	return "differs from " + first + ": " + strings.Join(differ, ", ")
}

func fmtMs(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}
