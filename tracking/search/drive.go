package search

import (
	"fmt"
	"unicode/utf8"
)

// ValuePrefix is how many characters of a param's or tag's value the store's
// index on (key, substr(value, 1, ValuePrefix), run_uuid) holds: PostgreSQL's
// B-tree refuses entries over ~2.7 kB, and MLflow's values go to 6,000 (params)
// and 8,000 (tags) characters.
const ValuePrefix = 200

// valueTable renders params or tags as a FROM item read through the store's
// index on (key, substr(value, 1, ValuePrefix), run_uuid). SQLite is told to:
// without statistics its planner takes the primary key (key, run_uuid) for
// key = ? and sorts every entry (31-90 ms instead of 0.6 ms for the first page
// of 10,000 runs ordered by a param). The store creates the index whenever it
// opens the database, so it is there; PostgreSQL's planner weighs both.
func (b *builder) valueTable(table, alias string) string {
	if b.d == SQLite {
		return table + " " + alias + " INDEXED BY housing_" + table + "_key_value"
	}
	return table + " " + alias
}

// driveAlias is the alias of the table a driven query reads first.
const driveAlias = "drv"

// RunDrivers returns the indexes of f's clauses that can drive a runs search:
// an index lists the runs they may match in a range of entries, so a search can
// read those runs first (CompileRunsDriven) instead of testing every run of the
// experiments. They are metric comparisons other than !=, param and tag (and
// run_name) equality, run_id = or IN, and, where the database compares strings
// bytewise (SQLite; PostgreSQL in the C collation), LIKEs with a literal
// prefix, whose matches lie in the range [prefix, prefixEnd(prefix)).
func RunDrivers(f Filter, bytewise bool) []int { return clausesWhere(f, bytewise, driverOf) }

// clausesWhere returns the indexes of f's clauses that is holds for.
func clausesWhere(f Filter, bytewise bool, is func(Comparison, bool) bool) []int {
	var out []int
	for i, c := range f.Clauses {
		if is(c, bytewise) {
			out = append(out, i)
		}
	}
	return out
}

func driverOf(c Comparison, bytewise bool) bool {
	switch c.Type {
	case Metric:
		return c.Comparator != OpNe
	case Param, Tag:
		return c.Comparator == OpEq || c.Comparator == OpLike && bytewise && likePrefix(c.Value.Str) != ""
	case Attribute:
		switch c.Key {
		case "run_name":
			return c.Comparator == OpEq || c.Comparator == OpLike && bytewise && likePrefix(c.Value.Str) != ""
		case "run_id":
			return c.Comparator == OpEq || c.Comparator == OpIn
		}
	}
	return false
}

// likePrefix is the literal text a LIKE pattern starts with, when a string
// above it bounds the strings that start with it (see prefixEnd).
func likePrefix(pattern string) string {
	var lit []rune
	for _, e := range parseLike(pattern) {
		if e.wild != 0 {
			break
		}
		lit = append(lit, e.lit)
	}
	if len(lit) > ValuePrefix {
		lit = lit[:ValuePrefix]
	}
	if _, ok := prefixEnd(string(lit)); !ok {
		return ""
	}
	return string(lit)
}

// prefixEnd returns the least string above every string that starts with p in
// bytewise (UTF-8, code point) order: p with its last character incremented,
// dropping maximal last characters first. ok is false when there is none.
func prefixEnd(p string) (string, bool) {
	rs := []rune(p)
	for len(rs) > 0 {
		last := rs[len(rs)-1]
		rs = rs[:len(rs)-1]
		next := last + 1
		if next == 0xD800 {
			next = 0xE000 // past the surrogates, which UTF-8 does not encode
		}
		if next <= utf8.MaxRune {
			return string(append(rs, next)), true
		}
	}
	return "", false
}

// drive renders the driver clause c as a table read first: its FROM item, the
// condition selecting the index range (and the clause itself, where the range
// is wider), and the driver's column holding the run id.
func (b *builder) drive(c Comparison) (from, cond, runCol string, err error) {
	switch {
	case c.Type == Metric:
		op := sqlOps[c.Comparator]
		return "latest_metrics " + driveAlias, driveAlias + ".key = " + b.bind(c.Key) + " AND " + driveAlias + ".is_nan = " + b.boolean(false) +
			" AND " + driveAlias + ".value " + op + " " + b.bind(c.Value.Num), driveAlias + ".run_uuid", nil
	case c.Type == Attribute && c.Key == "run_id":
		ids := c.Value.List
		if c.Comparator == OpEq {
			ids = []string{c.Value.Str}
		}
		seen := map[string]bool{}
		from = "(VALUES "
		for _, id := range ids {
			if seen[id] {
				continue
			}
			if len(seen) > 0 {
				from += ", "
			}
			seen[id] = true
			from += "(" + b.bind(id) + ")"
		}
		return from + ") " + driveAlias, "1 = 1", driveAlias + ".column1", nil
	case c.Type == Param, c.Type == Tag, c.Type == Attribute && c.Key == "run_name":
		table, key := "params", c.Key
		if c.Type != Param {
			table = "tags"
		}
		if c.Type == Attribute {
			key = runNameTag
		}
		cond = driveAlias + ".key = " + b.bind(key) + " AND "
		prefix := "substr(" + driveAlias + ".value, 1, " + fmt.Sprint(ValuePrefix) + ")"
		switch c.Comparator {
		case OpEq:
			cond += prefix + " = substr(" + b.bind(c.Value.Str) + ", 1, " + fmt.Sprint(ValuePrefix) + ")"
			if !utf8.ValidString(c.Value.Str) || utf8.RuneCountInString(c.Value.Str) >= ValuePrefix {
				// Only a value shorter than the prefix equals its prefix
				// alone; otherwise the row must be read for the whole value.
				cond += " AND " + driveAlias + ".value = " + b.bind(c.Value.Str)
			}
		case OpLike:
			p := likePrefix(c.Value.Str)
			end, _ := prefixEnd(p)
			// Bound in the order of the text: SQLite's placeholders are positional.
			cond += prefix + " >= " + b.bind(p) + " AND " + prefix + " < " + b.bind(end) + " AND "
			like, err := b.indexedMatch(driveAlias, c)
			if err != nil {
				return "", "", "", err
			}
			cond += like
		default:
			return "", "", "", fmt.Errorf("search: %s %q %s cannot drive a search", c.Type, c.Key, c.Comparator)
		}
		return b.valueTable(table, driveAlias), cond, driveAlias + ".run_uuid", nil
	}
	return "", "", "", fmt.Errorf("search: %s %q %s cannot drive a search", c.Type, c.Key, c.Comparator)
}

// CompileRunsDriven compiles the search of CompileRuns as one query that reads
// first the runs the clause f.Clauses[driver] lists through its index (see
// RunDrivers), then tests the other clauses on them and sorts them: From is
// "<driver> CROSS JOIN runs" (SQLite keeps that join order; PostgreSQL plans
// it as any join). Its results are CompileRuns' in the same order.
func CompileRunsDriven(f Filter, order []OrderBy, driver int, d Dialect, firstArg int) (SQL, error) {
	if driver < 0 || driver >= len(f.Clauses) || !driverOf(f.Clauses[driver], true) {
		return SQL{}, fmt.Errorf("search: clause %d cannot drive a search on %v", driver, d)
	}
	b, err := newBuilder(d, firstArg)
	if err != nil {
		return SQL{}, err
	}
	b.probe = true
	from, cond, runCol, err := b.drive(f.Clauses[driver])
	if err != nil {
		return SQL{}, err
	}
	fromArgs := 0
	if f.Clauses[driver].Type == Attribute && f.Clauses[driver].Key == "run_id" {
		fromArgs = len(b.args) // the VALUES list; the other drivers bind in cond
	}
	b.run = runCol
	rest := Filter{Entity: f.Entity}
	for i, c := range f.Clauses {
		if i != driver {
			rest.Clauses = append(rest.Clauses, c)
		}
	}
	out, err := b.runSearch(rest, order, from+" CROSS JOIN runs", "runs.run_uuid = "+runCol+" AND "+cond, nil)
	if err != nil {
		return SQL{}, err
	}
	out.FromArgs = fromArgs
	return out, nil
}

// CompileDriverCount compiles the index range of driver clause f.Clauses[i]
// alone, for counting its entries: "SELECT ... FROM " + From + " WHERE " +
// Where. The count bounds the runs the clause matches (over all experiments).
func CompileDriverCount(f Filter, i int, d Dialect, firstArg int) (SQL, error) {
	if i < 0 || i >= len(f.Clauses) || !driverOf(f.Clauses[i], true) {
		return SQL{}, fmt.Errorf("search: clause %d cannot drive a search on %v", i, d)
	}
	b, err := newBuilder(d, firstArg)
	if err != nil {
		return SQL{}, err
	}
	from, cond, _, err := b.drive(f.Clauses[i])
	if err != nil {
		return SQL{}, err
	}
	return SQL{From: from, Where: cond, Args: b.take(), NextArg: b.n}, nil
}

// RunScans returns the indexes of f's clauses whose runs a scan of one key's
// entries lists, where no range of an index does (they are not RunDrivers):
// LIKE, ILIKE and != on a param, a tag or run_name. On SQLite the scan reads
// the store's index on (key, substr(value, 1, ValuePrefix), run_uuid) and
// tests values shorter than the prefix on the index alone (CompileRunScan),
// about a sixth of the cost of probing each run walked (a run_name ILIKE
// matching 1% of 10,000 runs: 3 ms to list them, 16 ms to walk 9,000 runs).
func RunScans(f Filter, bytewise bool) []int { return clausesWhere(f, bytewise, scanOf) }

func scanOf(c Comparison, bytewise bool) bool {
	if driverOf(c, bytewise) || c.Value.Kind != StringValue {
		return false
	}
	if c.Type != Param && c.Type != Tag && (c.Type != Attribute || c.Key != "run_name") {
		return false
	}
	switch c.Comparator {
	case OpLike, OpILike, OpNe:
		return true
	}
	return false
}

// indexedMatch renders comparison c on the value of alias, a row of params
// or tags read through the store's value index (valueTable). On SQLite a
// prefix of fewer than ValuePrefix bytes holds fewer characters, so it is the
// whole value: c is tested on the index, and the row is read only for longer
// values (octet_length: length stops at a NUL). SQLite seeks the row only
// when a column of it is read (OP_DeferredSeek), so a scan or a prefix range
// of short values reads the index alone. PostgreSQL tests the value: it
// reads the rows in any case, having no index-only scan of an expression.
func (b *builder) indexedMatch(alias string, c Comparison) (string, error) {
	if b.d != SQLite {
		return b.compare(alias+".value", c.Comparator, c.Value)
	}
	prefix := "substr(" + alias + ".value, 1, " + fmt.Sprint(ValuePrefix) + ")"
	// Bound in the order of the text: SQLite's placeholders are positional.
	short, err := b.compare(prefix, c.Comparator, c.Value)
	if err != nil {
		return "", err
	}
	whole, err := b.compare(alias+".value", c.Comparator, c.Value)
	if err != nil {
		return "", err
	}
	return "CASE WHEN octet_length(" + prefix + ") < " + fmt.Sprint(ValuePrefix) + " THEN " + short + " ELSE " + whole + " END", nil
}

// CompileRunScan compiles the scan of clause f.Clauses[i] (see RunScans):
// "SELECT drv.run_uuid FROM " + From + " WHERE " + Where lists, once each,
// the runs of every experiment that the clause matches.
func CompileRunScan(f Filter, i int, d Dialect, firstArg int) (SQL, error) {
	if i < 0 || i >= len(f.Clauses) || !scanOf(f.Clauses[i], false) {
		return SQL{}, fmt.Errorf("search: clause %d cannot be scanned for runs", i)
	}
	b, err := newBuilder(d, firstArg)
	if err != nil {
		return SQL{}, err
	}
	c := f.Clauses[i]
	table, key := "params", c.Key
	if c.Type != Param {
		table = "tags"
	}
	if c.Type == Attribute {
		key = runNameTag
	}
	where := driveAlias + ".key = " + b.bind(key) + " AND " // bound first: SQLite's placeholders are positional
	cond, err := b.indexedMatch(driveAlias, c)
	if err != nil {
		return SQL{}, err
	}
	where += cond
	return SQL{From: b.valueTable(table, driveAlias), Where: where, Args: b.take(), NextArg: b.n}, nil
}
