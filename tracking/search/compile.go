package search

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/mlops-lab/housing/tracking"
)

// Dialect is the SQL database the fragments are written for.
type Dialect int

// The supported dialects.
const (
	SQLite Dialect = iota
	PostgreSQL
)

// String returns the dialect's name.
func (d Dialect) String() string {
	switch d {
	case SQLite:
		return "sqlite"
	case PostgreSQL:
		return "postgresql"
	}
	return "Dialect(" + strconv.Itoa(int(d)) + ")"
}

// SQL is a compiled filter and ordering: fragments to embed in a query, with their
// bound arguments. See the package documentation for how to use them.
type SQL struct {
	// From is the FROM clause of a runs search: "runs" for CompileRuns, a join
	// for some of CompileRunSegments' segments; empty for the other searches.
	From string
	// FromArgs is how many of Args, first, belong to placeholders in From
	// (CompileRunsDriven's run ids): on SQLite, whose placeholders are
	// positional, they go before the arguments of what the caller puts between
	// From and Where.
	FromArgs int
	// Where is a boolean expression; "1 = 1" when the filter has no clauses.
	Where string
	// Args are Where's arguments, in placeholder order.
	Args []any
	// OrderBy is the ORDER BY list (without the keywords), never empty: it always
	// ends with a unique key as tie-break, so that paging is stable.
	OrderBy string
	// OrderArgs are OrderBy's arguments; their placeholders follow Where's.
	OrderArgs []any
	// NextArg is the number of the first placeholder after OrderBy's, for the
	// caller's LIMIT and OFFSET (PostgreSQL: "$NextArg"; SQLite: just "?").
	NextArg int
	// Lead is, for a segment that walks an indexed column of runs alone
	// (CompileRunSegments ordered by start_time, end_time or run_name), the
	// segment's own condition without the filter: which runs the walked
	// index holds, so that a caller can bound the walk by reading at most so
	// many of them, in OrderBy's order, before testing Where. Empty otherwise.
	Lead string
	// seek is how a runs segment orders first, for After.
	seek seekLead
}

// builder writes fragments and numbers their placeholders.
type builder struct {
	d    Dialect
	n    int // number of the next placeholder
	args []any
	// probe makes PostgreSQL test the filter's params, tags and metrics run
	// by run (see probeEnd), for plans that read few runs: walks and driven
	// searches.
	probe bool
	// run is the column the filter's probes and the ordering's subqueries
	// correlate with (runRef), when a plan reads another table before runs:
	// the walked metric or value, or the driver. It holds the same run id as
	// runs.run_uuid, and correlating with it lets the database test a probe
	// before it looks the run up: SQLite tests a term in the outermost loop
	// that has every table it names, so a candidate that fails costs no seek
	// of runs' index and row (a walk of m1 DESC probing m0 and p1 over 10,000
	// runs: 6.6 ms with runs.run_uuid, 3.5 ms with om.run_uuid).
	run string
}

// runRef returns the column holding the run id that probes correlate with.
func (b *builder) runRef() string {
	if b.run != "" {
		return b.run
	}
	return "runs.run_uuid"
}

// probeEnd ends an EXISTS subquery of a probing builder on PostgreSQL with
// OFFSET 0, which keeps the planner from turning it into a join: as a join
// it hashes every entry of the key (all runs), where a walk stopping after
// a page tests a few hundred (a compound filter of 10,000 runs: 160 ms as a
// hash join, 14 ms probed; it grows with the experiment as a join).
func (b *builder) probeEnd() string {
	if b.probe && b.d == PostgreSQL {
		return " OFFSET 0"
	}
	return ""
}

// bind records an argument and returns its placeholder.
func (b *builder) bind(v any) string {
	b.args = append(b.args, v)
	n := b.n
	b.n++
	if b.d == PostgreSQL {
		return "$" + strconv.Itoa(n)
	}
	return "?"
}

// take returns the arguments bound so far and starts a new list.
func (b *builder) take() []any {
	a := b.args
	b.args = nil
	return a
}

// boolean renders a boolean literal. MLflow's SQLite databases hold is_nan as 0/1,
// and PostgreSQL will not compare BOOLEAN with an integer, hence one per dialect.
func (b *builder) boolean(v bool) string {
	switch {
	case b.d == PostgreSQL && v:
		return "TRUE"
	case b.d == PostgreSQL:
		return "FALSE"
	case v:
		return "1"
	}
	return "0"
}

// number binds a number for an integer column. Non-integers are cast so that
// PostgreSQL compares in double precision instead of refusing to bind 1.5 as BIGINT.
func (b *builder) number(v Value) string {
	if v.IsInt {
		return b.bind(v.Int)
	}
	return "CAST(" + b.bind(v.Num) + " AS DOUBLE PRECISION)"
}

// sqlOps maps the comparison comparators to SQL.
var sqlOps = map[string]string{OpEq: "=", OpNe: "<>", OpGt: ">", OpGe: ">=", OpLt: "<", OpLe: "<="}

// compare renders "col op value" for a string or integer column.
func (b *builder) compare(col, op string, v Value) (string, error) {
	switch op {
	case OpLike, OpILike:
		if v.Kind != StringValue {
			return "", fmt.Errorf("search: %s needs a string value, got %q", op, v.Raw)
		}
		elems := parseLike(v.Str)
		switch {
		case op == OpLike && b.d == SQLite:
			return col + " GLOB " + b.bind(globPattern(elems)), nil
		case op == OpLike:
			return col + " LIKE " + b.bind(likePattern(elems)), nil
		case b.d == SQLite:
			// SQLite's LOWER folds ASCII only, as its LIKE does.
			return "LOWER(" + col + ") LIKE LOWER(" + b.bind(likePattern(elems)) + `) ESCAPE '\'`, nil
		}
		return col + " ILIKE " + b.bind(likePattern(elems)), nil
	case OpIn, OpNotIn:
		if v.Kind != ListValue || len(v.List) == 0 {
			return "", fmt.Errorf("search: %s needs a non-empty list, got %q", op, v.Raw)
		}
		ph := make([]string, len(v.List))
		for i, s := range v.List {
			ph[i] = b.bind(s)
		}
		return col + " " + op + " (" + strings.Join(ph, ", ") + ")", nil
	}
	sqlOp, ok := sqlOps[op]
	if !ok {
		return "", fmt.Errorf("search: unknown comparator %q", op)
	}
	switch v.Kind {
	case StringValue:
		return col + " " + sqlOp + " " + b.bind(v.Str), nil
	case NumberValue:
		return col + " " + sqlOp + " " + b.number(v), nil
	}
	return "", fmt.Errorf("search: comparator %s cannot take %q", op, v.Raw)
}

// keyValue renders the EXISTS test of a key/value table (params, tags, the tag
// tables of experiments and the registry): a row for the owner with this key whose
// value compares true; for IS NULL / IS NOT NULL, no row or a row with this key.
func (b *builder) keyValue(table, alias, correlate, key string, c Comparison) (string, error) {
	keyPh := b.bind(key)
	switch c.Comparator {
	case OpIsNull, OpIsNotNull:
		exists := fmt.Sprintf("EXISTS (SELECT 1 FROM %s %s WHERE %s AND %s.key = %s)", table, alias, correlate, alias, keyPh)
		if c.Comparator == OpIsNull {
			return "NOT " + exists, nil
		}
		return exists, nil
	}
	cond, err := b.compare(alias+".value", c.Comparator, c.Value)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("EXISTS (SELECT 1 FROM %s %s WHERE %s AND %s.key = %s AND %s%s)",
		table, alias, correlate, alias, keyPh, cond, b.probeEnd()), nil
}

// runKeyValue renders the EXISTS test of a run's param or tag (table params or
// tags). An equality with a value shorter than ValuePrefix characters is tested
// on the store's index (key, substr(value, 1, ValuePrefix), run_uuid) alone:
// a value equals it exactly when its prefix does (a longer value's prefix has
// ValuePrefix characters), so the probe is one index seek, where MLflow's
// primary key (key, run_uuid) leaves a seek of the table row for the value
// (most of a compound search's probes over 10,000 runs on SQLite).
func (b *builder) runKeyValue(table, alias, key string, c Comparison) (string, error) {
	correlate := alias + ".run_uuid = " + b.runRef()
	if c.Comparator != OpEq || c.Value.Kind != StringValue || !utf8.ValidString(c.Value.Str) ||
		utf8.RuneCountInString(c.Value.Str) >= ValuePrefix {
		return b.keyValue(table, alias, correlate, key, c)
	}
	return fmt.Sprintf("EXISTS (SELECT 1 FROM %s WHERE %s AND %s.key = %s AND substr(%s.value, 1, %d) = %s%s)",
		b.valueTable(table, alias), correlate, alias, b.bind(key), alias, ValuePrefix, b.bind(c.Value.Str), b.probeEnd()), nil
}

// where turns a filter's clauses into a WHERE expression, one clause at a time.
func (b *builder) where(f Filter, want Entity, clause func(Comparison) (string, error)) (string, error) {
	if f.Entity != want {
		return "", fmt.Errorf("search: cannot compile a filter on %v as one on %v", f.Entity, want)
	}
	if len(f.Clauses) == 0 {
		return "1 = 1", nil
	}
	parts := make([]string, len(f.Clauses))
	for i, c := range f.Clauses {
		s, err := clause(c)
		if err != nil {
			return "", err
		}
		parts[i] = "(" + s + ")"
	}
	return strings.Join(parts, " AND "), nil
}

// newBuilder checks the dialect and the first placeholder number.
func newBuilder(d Dialect, firstArg int) (*builder, error) {
	if d != SQLite && d != PostgreSQL {
		return nil, fmt.Errorf("search: unknown dialect %v", d)
	}
	if firstArg < 1 {
		return nil, fmt.Errorf("search: firstArg must be at least 1, got %d", firstArg)
	}
	return &builder{d: d, n: firstArg}, nil
}

// direction renders ASC or DESC.
func direction(asc bool) string {
	if asc {
		return "ASC"
	}
	return "DESC"
}

// runColumns maps run attributes to columns of table runs.
var runColumns = map[string]string{
	"run_id": "runs.run_uuid", "run_name": "runs.name", "user_id": "runs.user_id",
	"status": "runs.status", "artifact_uri": "runs.artifact_uri",
	"start_time": "runs.start_time", "end_time": "runs.end_time",
}

// runNameTag is the tag MLflow filters run_name on: the runs.name column is empty
// for runs logged by MLflow <= 1.29.
const runNameTag = "mlflow.runName"

// datasetContextTag is the input tag that holds a dataset's context ("train", ...).
const datasetContextTag = "mlflow.data.context"

const runCorrelated = "run_uuid = runs.run_uuid"

// metricFrom starts a subquery reading one run's latest value of a metric (alias
// lm; the key's placeholder follows). On SQLite it names the store's index on
// latest_metrics (run_uuid, "key", is_nan, value), which covers the probe: left to
// itself SQLite takes MLflow's primary key (key, run_uuid) and then seeks the
// table row for value and is_nan, a quarter of the CPU of a compound search over
// 10,000 runs. The store creates the index whenever it opens the database;
// PostgreSQL's planner weighs both.
func (b *builder) metricFrom() string {
	table := "latest_metrics lm"
	if b.d == SQLite {
		table += " INDEXED BY " + metricRunIndex
	}
	return "FROM " + table + " WHERE lm.run_uuid = " + b.runRef() + " AND lm.key = "
}

// metricRunIndex is the store's index on latest_metrics (run_uuid, "key", is_nan, value).
const metricRunIndex = "housing_latest_metrics_run"

// CompileRuns compiles a runs filter and ordering over table runs (see the package
// documentation for the contract). The ordering ends with start_time DESC (unless
// ordered by already) and run_uuid ASC, as MLflow's.
func CompileRuns(f Filter, order []OrderBy, d Dialect, firstArg int) (SQL, error) {
	b, err := newBuilder(d, firstArg)
	if err != nil {
		return SQL{}, err
	}
	return b.runSearch(f, order, "runs", "", nil)
}

// orderMetric is the alias of latest_metrics in the segments that walk the first
// ordering metric.
const orderMetric = "om"

// CompileRunSegments compiles the same search as CompileRuns, split into segments
// whose results, read one after the other, are CompileRuns' results in its order.
// Each segment is an SQL used like CompileRuns' except that its From replaces
// "runs" in the FROM clause (it may join; the runs table keeps its name); every
// segment numbers its placeholders from firstArg.
//
// When the first ordering is a metric there are three segments: runs with a
// number for it, read by joining latest_metrics and ordering by its value first,
// so that with an index on latest_metrics (key, is_nan, value) the database walks
// the index and a LIMIT stops early instead of sorting every run; then runs where
// it is NaN; then runs without it. Otherwise there is one segment, CompileRuns'.
//
// When the first ordering is a param or a tag there are two segments: runs with
// a value for it, read by joining params or tags and ordering by the indexed
// prefix of the value (substr(value, 1, ValuePrefix)) and then the value, so that
// the database walks the index on (key, substr(value, 1, ValuePrefix), run_uuid);
// then runs without it. That order is the value's only where comparing
// prefixes first agrees with comparing values: bytewise (SQLite's BINARY,
// PostgreSQL's "C" collation), which the caller checks.
func CompileRunSegments(f Filter, order []OrderBy, d Dialect, firstArg int) ([]SQL, error) {
	if len(order) > 0 && (order[0].Type == Param || order[0].Type == Tag) {
		return compileValueSegments(f, order, d, firstArg)
	}
	if len(order) == 0 {
		order = []OrderBy{{Type: Attribute, Key: "start_time"}}
	}
	if col, ok := walkedColumns[order[0].Key]; ok && order[0].Type == Attribute {
		return compileColumnSegments(f, order, col, d, firstArg)
	}
	if order[0].Type != Metric {
		s, err := CompileRuns(f, order, d, firstArg)
		if err != nil {
			return nil, err
		}
		return []SQL{s}, nil
	}
	first := order[0]
	const (
		numbers = iota
		nans
		missing
	)
	segments := make([]SQL, 0, 3)
	for _, seg := range []int{numbers, nans, missing} {
		b, err := newBuilder(d, firstArg)
		if err != nil {
			return nil, err
		}
		b.probe = true
		from, lead := "runs", []string(nil)
		var cond string
		if seg == missing {
			cond = "NOT EXISTS (SELECT 1 " + b.metricFrom() + b.bind(first.Key) + ")"
		} else {
			// SQLite takes CROSS JOIN as a fixed join order: with statistics
			// (ANALYZE) its planner would otherwise read all of an experiment's
			// runs first and sort them, since it does not weigh the LIMIT
			// (20 ms instead of 0.8 ms at 10,000 runs). PostgreSQL plans it
			// as any inner join.
			from = "latest_metrics " + orderMetric + " CROSS JOIN runs"
			b.run = orderMetric + ".run_uuid"
			cond = "runs.run_uuid = " + orderMetric + ".run_uuid AND " +
				orderMetric + ".key = " + b.bind(first.Key) + " AND " + orderMetric + ".is_nan = " + b.boolean(seg == nans)
			lead = []string{orderMetric + ".value " + direction(first.Ascending)}
		}
		s, err := b.runSearch(f, order[1:], from, cond, lead)
		if err != nil {
			return nil, err
		}
		s.seek = seekLead{walk: true, class: seg, lead: orderMetric + ".value"}
		segments = append(segments, s)
	}
	return segments, nil
}

// walkedColumns are the run attributes whose column the store indexes after
// (experiment_id, lifecycle_stage), so that a search ordered by one walks it.
var walkedColumns = map[string]string{"start_time": "runs.start_time", "end_time": "runs.end_time", "run_name": "runs.name"}

// compileColumnSegments is CompileRunSegments for a first ordering by an
// indexed column of runs (walkedColumns; no ordering is start_time DESC): the
// runs where it is set, ordered by it with the direction alone, which is the
// order an index scan gives on both dialects (they put NULLs at opposite
// ends, and MLflow's order puts them last); then the runs where it is NULL.
func compileColumnSegments(f Filter, order []OrderBy, col string, d Dialect, firstArg int) ([]SQL, error) {
	segments := make([]SQL, 0, 2)
	for _, set := range []bool{true, false} {
		b, err := newBuilder(d, firstArg)
		if err != nil {
			return nil, err
		}
		b.probe = true
		cond, lead := col+" IS NULL", []string{col + " " + direction(order[0].Ascending) + " NULLS LAST"}
		if set {
			cond, lead = col+" IS NOT NULL", []string{col + " " + direction(order[0].Ascending)}
		}
		s, err := b.runSearch(f, order[1:], "runs", cond, lead)
		if err != nil {
			return nil, err
		}
		s.seek = seekLead{walk: true, class: nullClass(set), lead: col}
		s.Lead = cond
		segments = append(segments, s)
	}
	return segments, nil
}

// orderValue is the alias of params or tags in the segments that walk the
// first ordering param or tag.
const orderValue = "ov"

// compileValueSegments is CompileRunSegments for a first ordering by a param
// or a tag: the runs with a (non-NULL) value, in value order, then the others.
func compileValueSegments(f Filter, order []OrderBy, d Dialect, firstArg int) ([]SQL, error) {
	first := order[0]
	table := "params"
	if first.Type == Tag {
		table = "tags"
	}
	segments := make([]SQL, 0, 2)
	for _, present := range []bool{true, false} {
		b, err := newBuilder(d, firstArg)
		if err != nil {
			return nil, err
		}
		b.probe = true
		from, lead := "runs", []string(nil)
		var cond string
		if present {
			// CROSS JOIN: SQLite's fixed join order, as for metrics.
			from = b.valueTable(table, orderValue) + " CROSS JOIN runs"
			b.run = orderValue + ".run_uuid"
			cond = "runs.run_uuid = " + orderValue + ".run_uuid AND " + orderValue + ".key = " + b.bind(first.Key) +
				" AND substr(" + orderValue + ".value, 1, " + strconv.Itoa(ValuePrefix) + ") IS NOT NULL" // NULL exactly when value is; in the index
			dir := direction(first.Ascending)
			lead = []string{"substr(" + orderValue + ".value, 1, " + strconv.Itoa(ValuePrefix) + ") " + dir, orderValue + ".value " + dir}
		} else {
			cond = "NOT EXISTS (SELECT 1 FROM " + table + " x WHERE x." + runCorrelated + " AND x.key = " + b.bind(first.Key) + " AND x.value IS NOT NULL)"
		}
		s, err := b.runSearch(f, order[1:], from, cond, lead)
		if err != nil {
			return nil, err
		}
		s.seek = seekLead{walk: true, class: nullClass(present), lead: orderValue + ".value", prefix: true}
		segments = append(segments, s)
	}
	return segments, nil
}

// runSearch finishes a runs query whose FROM item and leading condition the
// plan chose (a walk's segment, a driven read): it appends f's clauses to cond,
// orders by lead then order, and takes the arguments bound so far, those of
// from and cond first.
func (b *builder) runSearch(f Filter, order []OrderBy, from, cond string, lead []string) (SQL, error) {
	where, err := b.where(f, Runs, b.runClause)
	if err != nil {
		return SQL{}, err
	}
	if cond != "" {
		where = cond + " AND " + where
	}
	s := SQL{From: from, Where: where, Args: b.take()}
	if s.OrderBy, err = b.runOrder(order, lead); err != nil {
		return SQL{}, err
	}
	s.OrderArgs = b.take()
	s.NextArg = b.n
	return s, nil
}

// runOrder renders the ORDER BY list of a runs search: terms, then order, then the
// tie-breaks start_time DESC (unless ordered by already) and run_uuid ASC.
func (b *builder) runOrder(order []OrderBy, terms []string) (string, error) {
	startTimeOrdered := len(terms) > 0 && strings.HasPrefix(terms[0], "runs.start_time ")
	for _, o := range order {
		switch o.Type {
		case Attribute:
			col, ok := runColumns[o.Key]
			if !ok {
				return "", fmt.Errorf("search: cannot order runs by attribute %q", o.Key)
			}
			startTimeOrdered = startTimeOrdered || o.Key == "start_time"
			terms = append(terms, col+" "+direction(o.Ascending)+" NULLS LAST")
		case Metric:
			// Like MLflow: numbers first (in the asked direction), then NaN, then runs
			// without the metric, whichever the direction.
			rank := "COALESCE((SELECT CASE WHEN lm.is_nan = " + b.boolean(true) + " THEN 1 ELSE 0 END " + b.metricFrom() + b.bind(o.Key) + "), 2) ASC"
			value := "(SELECT lm.value " + b.metricFrom() + b.bind(o.Key) + ") " + direction(o.Ascending)
			terms = append(terms, rank, value)
		case Param, Tag:
			table, alias := "params", "p"
			if o.Type == Tag {
				table, alias = "tags", "t"
			}
			terms = append(terms, fmt.Sprintf("(SELECT %s.value FROM %s %s WHERE %s.run_uuid = %s AND %s.key = %s) %s NULLS LAST",
				alias, table, alias, alias, b.runRef(), alias, b.bind(o.Key), direction(o.Ascending)))
		default:
			return "", fmt.Errorf("search: cannot order runs by %v %q", o.Type, o.Key)
		}
	}
	if !startTimeOrdered {
		terms = append(terms, "runs.start_time DESC NULLS LAST")
	}
	terms = append(terms, "runs.run_uuid ASC")
	return strings.Join(terms, ", "), nil
}

// runClause compiles one runs comparison.
func (b *builder) runClause(c Comparison) (string, error) {
	switch c.Type {
	case Metric:
		if c.Value.Kind != NumberValue {
			return "", fmt.Errorf("search: metric %q compared with non-number %q", c.Key, c.Value.Raw)
		}
		op, ok := sqlOps[c.Comparator]
		if !ok {
			return "", fmt.Errorf("search: invalid metric comparator %q", c.Comparator)
		}
		keyPh := b.bind(c.Key)
		valPh := b.bind(c.Value.Num)
		// NaN is stored as value 0 with is_nan set; it compares false with every
		// number, and unequal to every number (IEEE 754, as MLflow's file store).
		cond := "lm.value " + op + " " + valPh + " AND lm.is_nan = " + b.boolean(false)
		if c.Comparator == OpNe {
			cond = "(lm.value <> " + valPh + " OR lm.is_nan = " + b.boolean(true) + ")"
		}
		return "EXISTS (SELECT 1 " + b.metricFrom() + keyPh + " AND " + cond + b.probeEnd() + ")", nil
	case Param:
		return b.runKeyValue("params", "p", c.Key, c)
	case Tag:
		if c.Comparator == OpIn || c.Comparator == OpNotIn {
			// A list (ours, not MLflow's) names a few values, such as the parents of
			// nested runs: the database reads the tag's rows (the key leads tags'
			// primary key) and looks the runs up, rather than testing every run.
			keyPh := b.bind(c.Key)
			cond, err := b.compare("t.value", c.Comparator, c.Value)
			if err != nil {
				return "", err
			}
			return b.runRef() + " IN (SELECT t.run_uuid FROM tags t WHERE t.key = " + keyPh + " AND " + cond + ")", nil
		}
		return b.runKeyValue("tags", "t", c.Key, c)
	case Attribute:
		if c.Key == "run_name" {
			return b.runKeyValue("tags", "t", runNameTag, c)
		}
		col, ok := runColumns[c.Key]
		if !ok {
			return "", fmt.Errorf("search: unknown run attribute %q", c.Key)
		}
		return b.compare(col, c.Comparator, c.Value)
	case Dataset:
		const from = "FROM inputs i JOIN datasets d ON d.dataset_uuid = i.source_id"
		const correlate = "i.destination_id = runs.run_uuid"
		switch c.Key {
		case "name", "digest":
			cond, err := b.compare("d."+c.Key, c.Comparator, c.Value)
			if err != nil {
				return "", err
			}
			return "EXISTS (SELECT 1 " + from + " WHERE " + correlate + " AND " + cond + ")", nil
		case "context":
			namePh := b.bind(datasetContextTag)
			cond, err := b.compare("it.value", c.Comparator, c.Value)
			if err != nil {
				return "", err
			}
			return "EXISTS (SELECT 1 " + from + " JOIN input_tags it ON it.input_uuid = i.input_uuid WHERE " +
				correlate + " AND it.name = " + namePh + " AND " + cond + ")", nil
		}
		return "", fmt.Errorf("search: unknown dataset key %q", c.Key)
	}
	return "", fmt.Errorf("search: unknown key type %v", c.Type)
}

// attributeClause compiles a comparison on a column of the searched table.
func (b *builder) attributeClause(columns map[string]string, c Comparison) (string, error) {
	col, ok := columns[c.Key]
	if !ok {
		return "", fmt.Errorf("search: unknown attribute %q", c.Key)
	}
	return b.compare(col, c.Comparator, c.Value)
}

// orderTerms renders attribute orderings and appends each tie-break whose column is
// not ordered by already.
func orderTerms(columns map[string]string, order []OrderBy, tieBreaks ...string) (string, error) {
	var terms []string
	used := map[string]bool{}
	for _, o := range order {
		col, ok := columns[o.Key]
		if o.Type != Attribute || !ok {
			return "", fmt.Errorf("search: cannot order by %v %q", o.Type, o.Key)
		}
		used[col] = true
		terms = append(terms, col+" "+direction(o.Ascending)+" NULLS LAST")
	}
	for _, tb := range tieBreaks {
		col, _, _ := strings.Cut(tb, " ")
		if !used[col] {
			terms = append(terms, tb)
		}
	}
	return strings.Join(terms, ", "), nil
}

var experimentColumns = map[string]string{
	"name": "experiments.name", "experiment_id": "experiments.experiment_id",
	"creation_time": "experiments.creation_time", "last_update_time": "experiments.last_update_time",
}

// CompileExperiments compiles an experiments filter and ordering over table
// experiments (tags in experiment_tags). Without an ordering it is MLflow's
// creation_time DESC, experiment_id ASC; otherwise experiment_id DESC breaks ties.
func CompileExperiments(f Filter, order []OrderBy, d Dialect, firstArg int) (SQL, error) {
	b, err := newBuilder(d, firstArg)
	if err != nil {
		return SQL{}, err
	}
	where, err := b.where(f, Experiments, func(c Comparison) (string, error) {
		if c.Type == Tag {
			return b.keyValue("experiment_tags", "et", "et.experiment_id = experiments.experiment_id", c.Key, c)
		}
		return b.attributeClause(experimentColumns, c)
	})
	if err != nil {
		return SQL{}, err
	}
	if len(order) == 0 {
		order = []OrderBy{{Type: Attribute, Key: "creation_time"}, {Type: Attribute, Key: "experiment_id", Ascending: true}}
	}
	orderBy, err := orderTerms(experimentColumns, order, "experiments.experiment_id DESC")
	if err != nil {
		return SQL{}, err
	}
	return SQL{Where: where, Args: b.take(), OrderBy: orderBy, NextArg: b.n}, nil
}

// withoutPrompts applies MLflow 3's rule for registry searches: prompts
// (tracking.PromptTagKey) are left out unless the filter asks for them. The
// first comparison on the prompt tag decides: "= 'true'" or "!= 'false'"
// (either case) asks for prompts, and then the filter is kept as it is.
// Otherwise every comparison on the prompt tag is dropped, and the caller
// excludes the prompts, so that models without the tag (all models but
// prompts) match "tags.`mlflow.prompt.is_prompt` != 'true'", the clause MLflow
// 3's client adds to every registered-models search (MLflow's SQL store,
// _is_querying_prompt and _update_query_to_exclude_prompts). This applies to
// every client: MLflow 2.17.2 knew no prompts, and MLflow 3.11.1's server does it.
func withoutPrompts(f Filter) (kept Filter, exclude bool) {
	for _, c := range f.Clauses {
		if c.Type != Tag || c.Key != tracking.PromptTagKey {
			continue
		}
		v := strings.ToLower(c.Value.Str)
		if c.Value.Kind == StringValue && (c.Comparator == OpEq && v == "true" || c.Comparator == OpNe && v == "false") {
			return f, false
		}
		break
	}
	kept = Filter{Entity: f.Entity}
	for _, c := range f.Clauses {
		if c.Type != Tag || c.Key != tracking.PromptTagKey {
			kept.Clauses = append(kept.Clauses, c)
		}
	}
	return kept, true
}

// notPrompt renders the exclusion of prompts: no row of the tag table tags the
// owner's name as a prompt. For model versions MLflow matches the name alone
// too, so a version is left out when any version of its model is a prompt
// version.
func (b *builder) notPrompt(where, table, correlate string) string {
	return where + fmt.Sprintf(" AND NOT EXISTS (SELECT 1 FROM %s p WHERE %s AND p.key = %s AND p.value = %s)",
		table, correlate, b.bind(tracking.PromptTagKey), b.bind("true"))
}

var registeredModelColumns = map[string]string{
	"name":                   "registered_models.name",
	"creation_timestamp":     "registered_models.creation_time",
	"last_updated_timestamp": "registered_models.last_updated_time",
}

// CompileRegisteredModels compiles a registered-models filter and ordering over
// table registered_models (tags in registered_model_tags); name ASC breaks ties.
// Prompts are left out unless the filter asks for them (withoutPrompts).
func CompileRegisteredModels(f Filter, order []OrderBy, d Dialect, firstArg int) (SQL, error) {
	b, err := newBuilder(d, firstArg)
	if err != nil {
		return SQL{}, err
	}
	f, exclude := withoutPrompts(f)
	where, err := b.where(f, RegisteredModels, func(c Comparison) (string, error) {
		if c.Type == Tag {
			return b.keyValue("registered_model_tags", "rmt", "rmt.name = registered_models.name", c.Key, c)
		}
		return b.attributeClause(registeredModelColumns, c)
	})
	if err != nil {
		return SQL{}, err
	}
	if exclude {
		where = b.notPrompt(where, "registered_model_tags", "p.name = registered_models.name")
	}
	orderBy, err := orderTerms(registeredModelColumns, order, "registered_models.name ASC")
	if err != nil {
		return SQL{}, err
	}
	return SQL{Where: where, Args: b.take(), OrderBy: orderBy, NextArg: b.n}, nil
}

var modelVersionColumns = map[string]string{
	"name": "model_versions.name", "version_number": "model_versions.version",
	"run_id": "model_versions.run_id", "source_path": "model_versions.source",
	"creation_timestamp":     "model_versions.creation_time",
	"last_updated_timestamp": "model_versions.last_updated_time",
}

// CompileModelVersions compiles a model-versions filter and ordering over table
// model_versions (tags in model_version_tags). Without an ordering it is MLflow's
// last_updated_timestamp DESC, name ASC, version_number DESC; otherwise name ASC
// and version DESC break ties. Prompt versions are left out unless the filter
// asks for them (withoutPrompts). The caller still excludes the versions MLflow
// hides (current_stage 'Deleted_Internal').
func CompileModelVersions(f Filter, order []OrderBy, d Dialect, firstArg int) (SQL, error) {
	b, err := newBuilder(d, firstArg)
	if err != nil {
		return SQL{}, err
	}
	f, exclude := withoutPrompts(f)
	where, err := b.where(f, ModelVersions, func(c Comparison) (string, error) {
		if c.Type == Tag {
			return b.keyValue("model_version_tags", "mvt",
				"mvt.name = model_versions.name AND mvt.version = model_versions.version", c.Key, c)
		}
		return b.attributeClause(modelVersionColumns, c)
	})
	if err != nil {
		return SQL{}, err
	}
	if exclude {
		where = b.notPrompt(where, "model_version_tags", "p.name = model_versions.name")
	}
	if len(order) == 0 {
		order = []OrderBy{{Type: Attribute, Key: "last_updated_timestamp"}}
	}
	orderBy, err := orderTerms(modelVersionColumns, order, "model_versions.name ASC", "model_versions.version DESC")
	if err != nil {
		return SQL{}, err
	}
	return SQL{Where: where, Args: b.take(), OrderBy: orderBy, NextArg: b.n}, nil
}
