package search

import (
	"fmt"
	"strconv"
	"strings"
)

// Keyset ("seek") paging of runs: a page token of ours holds the sort key
// values of the previous page's last run (RunKeyValues takes them from the
// run as loaded), and the
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
// writes its expression (binding its arguments each time it is written), and
// of reads the value that expression yields for a run from the run as stored.
type sortKey struct {
	render   func(b *builder) string
	of       func(r StoredRun) (any, bool)
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

// StoredRun is one run as the database holds it, for RunKeyValues: the
// values a page's last run was read with, so that its sort keys need no query
// of their own.
type StoredRun interface {
	// Column returns a column of table runs (no "runs." prefix) as int64,
	// string or nil for NULL; ok is false when the run does not hold it.
	Column(name string) (v any, ok bool)
	// Metric returns the run's latest_metrics row of key as stored (value
	// and is_nan); ok is false when there is none.
	Metric(key string) (value float64, isNaN, ok bool)
	// Param and Tag return the value of key, nil when NULL or absent.
	Param(key string) any
	Tag(key string) any
}

// runKeys returns the terms runOrder orders runs by, for order (none is
// start_time DESC), and how many of them the first ordering gives. Each
// term's of yields for a StoredRun what its SQL yields for that run's row:
// a metric's rank is 0 for a number, 1 for is_nan, 2 without the metric (the
// COALESCE over no row), and its value is the stored value (the 0 MLflow
// writes for NaN included) or NULL without the metric; a param or tag is its
// value or NULL (absent, or a NULL tag value).
func runKeys(order []OrderBy) (keys []sortKey, first int, err error) {
	if len(order) == 0 {
		order = []OrderBy{{Type: Attribute, Key: "start_time"}}
	}
	column := func(col string) sortKey {
		name := strings.TrimPrefix(col, "runs.")
		return sortKey{render: func(*builder) string { return col }, of: func(r StoredRun) (any, bool) { return r.Column(name) },
			nullable: true, number: numericRunColumns[name]}
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
			k := column(col)
			k.asc = o.Ascending
			keys = append(keys, k)
		case Metric:
			key := o.Key
			keys = append(keys,
				sortKey{render: func(b *builder) string {
					return "COALESCE((SELECT CASE WHEN lm.is_nan = " + b.boolean(true) + " THEN 1 ELSE 0 END " + b.metricFrom() + b.bind(key) + "), 2)"
				}, of: func(r StoredRun) (any, bool) {
					switch _, isNaN, ok := r.Metric(key); {
					case !ok:
						return int64(2), true
					case isNaN:
						return int64(1), true
					}
					return int64(0), true
				}, asc: true, number: true},
				sortKey{render: func(b *builder) string { return "(SELECT lm.value " + b.metricFrom() + b.bind(key) + ")" },
					of: func(r StoredRun) (any, bool) {
						if v, _, ok := r.Metric(key); ok {
							return v, true
						}
						return nil, true
					}, asc: o.Ascending, nullable: true, number: true})
		case Param, Tag:
			table, alias, key := "params", "p", o.Key
			value := StoredRun.Param
			if o.Type == Tag {
				table, alias, value = "tags", "t", StoredRun.Tag
			}
			keys = append(keys, sortKey{render: func(b *builder) string {
				return fmt.Sprintf("(SELECT %s.value FROM %s %s WHERE %s.%s AND %s.key = %s)", alias, table, alias, alias, runCorrelated, alias, b.bind(key))
			}, of: func(r StoredRun) (any, bool) { return value(r, key), true }, asc: o.Ascending, nullable: true})
		default:
			return nil, 0, fmt.Errorf("search: cannot order runs by %v %q", o.Type, o.Key)
		}
		if i == 0 {
			first = len(keys)
		}
	}
	if !startTimeOrdered {
		keys = append(keys, column("runs.start_time"))
	}
	k := column("runs.run_uuid")
	k.asc, k.nullable = true, false
	keys = append(keys, k)
	return keys, first, nil
}

// RunKeyValues returns the sort key values of run r in a runs ordering, which
// a page token keeps of a page's last run for SQL.After: exactly what the
// ordering's terms yield in SQL for r's row (as int64, float64, string or
// nil), taken from the values the run was loaded with.
func RunKeyValues(order []OrderBy, r StoredRun) ([]any, error) {
	keys, _, err := runKeys(order)
	if err != nil {
		return nil, err
	}
	vals := make([]any, len(keys))
	for i, k := range keys {
		v, ok := k.of(r)
		if !ok || !k.fits(v) {
			return nil, fmt.Errorf("search: the run holds no value of sort key %d that fits it (%v)", i, v)
		}
		vals[i] = v
	}
	return vals, nil
}

// After compiles the condition that keeps, of the segment's runs, those after
// the run whose sort key values (RunKeyValues, for the same order) are
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
