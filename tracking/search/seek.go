package search

import (
	"fmt"
	"strconv"
	"strings"
)

// Keyset ("seek") paging of runs: a page token of ours holds the sort key
// values of the previous page's last run (CompileRunKeys reads them), and the
// next page is the runs after those values in the search's order (SQL.After),
// which a walk finds by seeking its index instead of reading the runs of the
// pages before. On unchanged data these are exactly the runs at the token's
// offset and on; where runs were added or removed between pages, no run is
// repeated or skipped, as OFFSET would.

// seekLead tells SQL.After how a segment of CompileRunSegments orders first.
// The zero value is a segment ordered by the whole ordering (CompileRuns,
// CompileRunsDriven, and segments whose first ordering is not walked).
type seekLead struct {
	walk bool
	// class is where the segment's runs stand in the first ordering: 0 for
	// runs with a value (ordered by lead), 1 for NaN metrics (ordered by
	// their stored value, lead), 2 for runs without a value; the classes
	// follow one another in that order.
	class int
	// lead is the column the segment orders by first, in classes 0 and 1.
	lead string
	// prefix: lead is a value ordered by its first ValuePrefix characters
	// first (compileValueSegments), which the seek compares too.
	prefix bool
}

// sortKey is one term of a runs ordering as a value to compare: render
// writes its expression (binding its arguments each time it is written).
type sortKey struct {
	render   func(b *builder) string
	asc      bool
	nullable bool // NULLs sort after every value
	number   bool // an integer or a float; otherwise a string
}

// fits reports whether v can be the key's value: a token's values are bound
// as they are, and PostgreSQL refuses to compare a BIGINT with a string.
func (k sortKey) fits(v any) bool {
	switch v.(type) {
	case nil:
		return k.nullable
	case int64, float64:
		return k.number
	case string:
		return !k.number
	}
	return false
}

// numericRunColumns are the run attributes held as numbers.
var numericRunColumns = map[string]bool{"start_time": true, "end_time": true}

// runKeys returns the terms runOrder orders runs by, for order (none is
// start_time DESC), and how many of them the first ordering gives.
func runKeys(order []OrderBy) (keys []sortKey, first int, err error) {
	if len(order) == 0 {
		order = []OrderBy{{Type: Attribute, Key: "start_time"}}
	}
	startTimeOrdered := false
	for i, o := range order {
		switch o.Type {
		case Attribute:
			col, ok := runColumns[o.Key]
			if !ok {
				return nil, 0, fmt.Errorf("search: cannot order runs by attribute %q", o.Key)
			}
			startTimeOrdered = startTimeOrdered || o.Key == "start_time"
			keys = append(keys, sortKey{render: func(*builder) string { return col }, asc: o.Ascending, nullable: true, number: numericRunColumns[o.Key]})
		case Metric:
			key := o.Key
			keys = append(keys,
				sortKey{render: func(b *builder) string {
					return "COALESCE((SELECT CASE WHEN lm.is_nan = " + b.boolean(true) + " THEN 1 ELSE 0 END " + b.metricFrom() + b.bind(key) + "), 2)"
				}, asc: true, number: true},
				sortKey{render: func(b *builder) string { return "(SELECT lm.value " + b.metricFrom() + b.bind(key) + ")" }, asc: o.Ascending, nullable: true, number: true})
		case Param, Tag:
			table, alias, key := "params", "p", o.Key
			if o.Type == Tag {
				table, alias = "tags", "t"
			}
			keys = append(keys, sortKey{render: func(b *builder) string {
				return fmt.Sprintf("(SELECT %s.value FROM %s %s WHERE %s.%s AND %s.key = %s)", alias, table, alias, alias, runCorrelated, alias, b.bind(key))
			}, asc: o.Ascending, nullable: true})
		default:
			return nil, 0, fmt.Errorf("search: cannot order runs by %v %q", o.Type, o.Key)
		}
		if i == 0 {
			first = len(keys)
		}
	}
	if !startTimeOrdered {
		keys = append(keys, sortKey{render: func(*builder) string { return "runs.start_time" }, nullable: true, number: true})
	}
	keys = append(keys, sortKey{render: func(*builder) string { return "runs.run_uuid" }, asc: true})
	return keys, first, nil
}

// CompileRunKeys compiles the select list of a runs ordering's n sort key
// values ("SELECT " + Where + " FROM runs WHERE runs.run_uuid = ..."), which
// a page token keeps of a page's last run for SQL.After. They read as int64,
// float64, string or NULL.
func CompileRunKeys(order []OrderBy, d Dialect, firstArg int) (s SQL, n int, err error) {
	keys, _, err := runKeys(order)
	if err != nil {
		return SQL{}, 0, err
	}
	b, err := newBuilder(d, firstArg)
	if err != nil {
		return SQL{}, 0, err
	}
	cols := make([]string, len(keys))
	for i, k := range keys {
		cols[i] = k.render(b)
	}
	return SQL{From: "runs", Where: strings.Join(cols, ", "), Args: b.take(), NextArg: b.n}, len(keys), nil
}

// After compiles the condition that keeps, of the segment's runs, those after
// the run whose sort key values (CompileRunKeys, for the same order) are
// after, in the search's order. Its placeholders are numbered from firstArg;
// on SQLite its arguments go after the segment's Args (the condition joins
// Where) and before OrderArgs. skip reports that no run of the segment comes
// after: the caller reads the next segment.
func (s SQL) After(order []OrderBy, after []any, d Dialect, firstArg int) (cond string, args []any, skip bool, err error) {
	keys, first, err := runKeys(order)
	if err != nil {
		return "", nil, false, err
	}
	if len(after) != len(keys) {
		return "", nil, false, fmt.Errorf("search: %d sort key values for an ordering of %d", len(after), len(keys))
	}
	for i, k := range keys {
		if !k.fits(after[i]) {
			return "", nil, false, fmt.Errorf("search: sort key value %d (%v) does not fit its ordering", i, after[i])
		}
	}
	b, err := newBuilder(d, firstArg)
	if err != nil {
		return "", nil, false, err
	}
	if !s.seek.walk {
		return b.after(keys, after, 0), b.take(), false, nil
	}
	class := 0
	switch v := after[0].(type) {
	case nil:
		class = 2
	case int64:
		if first == 2 { // a metric: its NaN rank
			class = int(v)
		}
	}
	switch {
	case s.seek.class < class:
		return "", nil, true, nil
	case s.seek.class > class:
		return "1 = 1", nil, false, nil
	case class == 2:
		// The first ordering ties within the segment (no value). NaN
		// (class 1) is ordered by its stored value, like a number: MLflow
		// writes 0, but another writer may leave any.
		return b.after(keys, after, first), b.take(), false, nil
	}
	// Seek the walked index to the value, then the runs after the cursor.
	v, k := after[first-1], keys[first-1]
	op, strict := ">=", ">"
	if !k.asc {
		op, strict = "<=", "<"
	}
	lead := s.seek.lead
	if s.seek.prefix {
		p := strconv.Itoa(ValuePrefix)
		cond = "substr(" + lead + ", 1, " + p + ") " + op + " substr(" + b.bind(v) + ", 1, " + p + ") AND "
	} else {
		cond = lead + " " + op + " " + b.bind(v) + " AND "
	}
	cond += "(" + lead + " " + strict + " " + b.bind(v) + " OR " + lead + " = " + b.bind(v) + " AND " + b.after(keys, after, first) + ")"
	return cond, b.take(), false, nil
}

// after renders "the run comes after the values vals" over keys[i:]:
// lexicographically, NULLs last, the last key unique.
func (b *builder) after(keys []sortKey, vals []any, i int) string {
	k, v := keys[i], vals[i]
	var strict string
	switch {
	case v == nil:
		strict = "1 = 0" // nothing follows NULL, which sorts last
	case k.nullable:
		strict = "(" + k.render(b) + " " + afterOp(k.asc) + " " + b.bind(v) + " OR " + k.render(b) + " IS NULL)"
	default:
		strict = k.render(b) + " " + afterOp(k.asc) + " " + b.bind(v)
	}
	if i == len(keys)-1 {
		return "(" + strict + ")"
	}
	var eq string // rendered once: rendering binds
	if v == nil {
		eq = k.render(b) + " IS NULL"
	} else {
		eq = k.render(b) + " = " + b.bind(v)
	}
	return "(" + strict + " OR " + eq + " AND " + b.after(keys, vals, i+1) + ")"
}

// afterOp returns the comparator of "comes after" in a direction.
func afterOp(asc bool) string {
	if asc {
		return ">"
	}
	return "<"
}

// nullClass is the seekLead class of the runs with a value (0) or without (2).
func nullClass(set bool) int {
	if set {
		return 0
	}
	return 2
}
