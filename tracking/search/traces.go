package search

import (
	"fmt"
	"strconv"
	"strings"
)

// Trace keys as MLflow 2.17 accepts them (SearchTraceUtils), in the order its
// messages list them.
var (
	traceSearchAttrs  = keySet{"name", "timestamp", "execution_time", "status", "execution_time_ms", "request_id", "run_id", "timestamp_ms"}
	traceOrderAttrs   = keySet{"name", "timestamp", "experiment_id", "execution_time", "status", "execution_time_ms", "request_id", "run_id", "timestamp_ms"}
	traceNumericAttrs = keySet{"timestamp", "execution_time_ms", "execution_time", "timestamp_ms"}
	traceListAttrs    = keySet{"run_id", "name", "request_id", "status"}
	traceEntityTypes  = keySet{"trace", "attributes", "tags", "request_metadata", "tag", "attribute", "metadata"}
	// MLflow leaves LIKE out of trace searches: tags and metadata take = and
	// != only, string attributes also IN and NOT IN.
	traceTagOps        = keySet{OpEq, OpNe}
	traceStringAttrOps = keySet{OpIn, OpEq, OpNe, OpNotIn}
)

// Tags and request metadata keys that the attributes name and run_id read
// (TraceTagKey.TRACE_NAME, TraceMetadataKey.SOURCE_RUN).
const (
	traceNameTag      = "mlflow.traceName"
	traceSourceRunKey = "mlflow.sourceRun"
)

// traceIdent resolves a trace identifier to its key type and key, before the
// aliases of traceAlias.
func traceIdent(id rawIdent, attrs keySet) (KeyType, string, error) {
	kt, key := Attribute, id.parts[0].val
	if len(id.parts) > 1 {
		entity := id.parts[0]
		name := entity.val
		if entity.kind == tokDouble { // MLflow trims only backticks from the entity type
			name = entity.text
		}
		switch name {
		case "tag", "tags":
			kt = Tag
		case "attribute", "attributes", "trace":
			kt = Attribute
		case "request_metadata", "metadata":
			kt = RequestMetadata
		default:
			return 0, "", invalid("Invalid entity type '%s'. Valid values are %s", name, traceEntityTypes)
		}
		key = joinKey(id.parts[1:])
	}
	if kt == Attribute && !attrs.has(key) {
		return 0, "", invalid("Invalid attribute key '%s' specified. Valid keys are '%s'", key, attrs)
	}
	return kt, key, nil
}

// traceAlias resolves the attributes MLflow maps elsewhere: name is the
// mlflow.traceName tag, run_id the mlflow.sourceRun metadata, timestamp and
// execution_time the _ms columns.
//
// MLflow maps these keys whatever their entity type, so that tags.name reads
// the mlflow.traceName tag and tags.timestamp a tag named timestamp_ms; here
// only attributes are mapped, and tags.name is the tag named name.
func traceAlias(kt KeyType, key string) (KeyType, string) {
	if kt != Attribute {
		return kt, key
	}
	switch key {
	case "name":
		return Tag, traceNameTag
	case "run_id":
		return RequestMetadata, traceSourceRunKey
	case "timestamp":
		return Attribute, "timestamp_ms"
	case "execution_time":
		return Attribute, "execution_time_ms"
	}
	return kt, key
}

// ParseTraceFilter parses a traces search filter over the attributes
// request_id, status, timestamp_ms (timestamp), execution_time_ms
// (execution_time), name (the mlflow.traceName tag) and run_id (the
// mlflow.sourceRun metadata), tags (tag., tags.) and request metadata
// (request_metadata., metadata.), e.g. "status = 'OK' and tags.env = 'prod'
// and timestamp_ms > 1700000000000".
//
// MLflow 2.17.2's parser cannot read the bare word timestamp in a filter
// (sqlparse takes it for a type name: "Invalid clause(s) in filter string:
// 'timestamp', '>', '10'"), although its tables list it as an alias of
// timestamp_ms; here it is that alias, as attributes.timestamp is in MLflow.
func ParseTraceFilter(s string) (Filter, error) {
	return parse(s, Traces, resolveTraceComparison)
}

func resolveTraceComparison(r rawComparison) (Comparison, error) {
	kt, key, err := traceIdent(r.ident, traceSearchAttrs)
	if err != nil {
		return Comparison{}, err
	}
	v := r.value
	var val Value
	// Values are checked by the key as written, before the aliases, as MLflow does.
	switch {
	case kt == RequestMetadata && !v.isString():
		return Comparison{}, invalid("Expected a quoted string value for request_metadata (e.g. 'my-value'). Got value %s", v.text)
	case v.isString():
		val, err = quotedString(v)
	case v.kind == tokLParen && kt == Attribute && !traceListAttrs.has(key):
		return Comparison{}, invalid("Only attributes in %s supports comparison with a list of quoted string values.", traceListAttrs)
	case v.kind == tokLParen:
		val, err = checkList(v)
	case kt == Tag:
		return Comparison{}, invalid("Expected a quoted string value for tag (e.g. 'my-value'). Got value %s", v.text)
	case !traceNumericAttrs.has(key):
		return Comparison{}, invalid("Only the '%s' attributes support comparison with numeric values.", traceNumericAttrs)
	default:
		val = number(v.text)
	}
	if err != nil {
		return Comparison{}, err
	}
	kt, key = traceAlias(kt, key)
	numeric := kt == Attribute && traceNumericAttrs.has(key)
	if numeric && val.Kind == StringValue {
		// MLflow hands a quoted number to the database, which converts it;
		// converting here keeps PostgreSQL from refusing a text parameter.
		n, err := strconv.ParseInt(val.Str, 10, 64)
		if err != nil {
			return Comparison{}, invalid("Expected numeric value type for numeric attribute: %s. Found %s", key, v.text)
		}
		val = Value{Kind: NumberValue, Int: n, IsInt: true, Num: float64(n), Raw: v.text}
	}
	op := r.op
	switch {
	case kt == Tag && !traceTagOps.has(op):
		return Comparison{}, invalid("Invalid comparator '%s' not one of '%s", op, traceTagOps)
	case kt == RequestMetadata && !traceTagOps.has(op):
		return Comparison{}, invalid("Invalid comparator '%s' not one of '%s'", op, traceTagOps)
	case numeric && !numericOps.has(op):
		// (sic: MLflow lists the string comparators here.)
		return Comparison{}, invalid("Invalid comparator '%s' not one of '%s", op, traceStringAttrOps)
	case kt == Attribute && !numeric && !traceStringAttrOps.has(op):
		return Comparison{}, invalid("Invalid comparator '%s' not one of '%s'", op, traceStringAttrOps)
	}
	return Comparison{Type: kt, Key: key, Comparator: op, Value: val}, nil
}

// ParseTraceOrderBy parses traces search order_by clauses such as
// "timestamp_ms DESC", "timestamp ASC", "name", "tags.env",
// "request_metadata.`mlflow.sourceRun`". Keys come back resolved as in
// ParseTraceFilter. Ordering by the same field twice is an error, as in MLflow
// (which answers it with INTERNAL_ERROR).
func ParseTraceOrderBy(clauses []string) ([]OrderBy, error) {
	return parseOrderClauses(clauses, func(id rawIdent) (KeyType, string, error) {
		kt, key, err := traceIdent(id, traceOrderAttrs)
		if err != nil {
			return 0, "", err
		}
		kt, key = traceAlias(kt, key)
		return kt, key, nil
	})
}

var traceColumns = map[string]string{
	"request_id": "trace_info.request_id", "experiment_id": "trace_info.experiment_id",
	"timestamp_ms": "trace_info.timestamp_ms", "execution_time_ms": "trace_info.execution_time_ms",
	"status": "trace_info.status",
}

// traceTables are the key/value tables of a trace, with their aliases.
var traceTables = map[KeyType][2]string{
	Tag:             {"trace_tags", "tt"},
	RequestMetadata: {"trace_request_metadata", "trm"},
}

// CompileTraces compiles a traces filter and ordering over table trace_info
// (tags in trace_tags, metadata in trace_request_metadata). The ordering ends
// with MLflow's tie-breaks, timestamp_ms DESC and request_id ASC, each unless
// ordered by already; tags and metadata a trace lacks sort last.
func CompileTraces(f Filter, order []OrderBy, d Dialect, firstArg int) (SQL, error) {
	b, err := newBuilder(d, firstArg)
	if err != nil {
		return SQL{}, err
	}
	where, err := b.where(f, Traces, func(c Comparison) (string, error) {
		if t, ok := traceTables[c.Type]; ok {
			return b.keyValue(t[0], t[1], t[1]+".request_id = trace_info.request_id", c.Key, c)
		}
		if c.Type != Attribute {
			return "", fmt.Errorf("search: traces have no %v keys", c.Type)
		}
		return b.attributeClause(traceColumns, c)
	})
	if err != nil {
		return SQL{}, err
	}
	out := SQL{Where: where, Args: b.take()}
	var terms []string
	used := map[string]bool{}
	for _, o := range order {
		if t, ok := traceTables[o.Type]; ok {
			terms = append(terms, fmt.Sprintf("(SELECT %[2]s.value FROM %[1]s %[2]s WHERE %[2]s.request_id = trace_info.request_id AND %[2]s.key = %[3]s) %[4]s NULLS LAST",
				t[0], t[1], b.bind(o.Key), direction(o.Ascending)))
			continue
		}
		col, ok := traceColumns[o.Key]
		if o.Type != Attribute || !ok {
			return SQL{}, fmt.Errorf("search: cannot order traces by %v %q", o.Type, o.Key)
		}
		used[col] = true
		terms = append(terms, col+" "+direction(o.Ascending)+" NULLS LAST")
	}
	for _, tb := range []string{"trace_info.timestamp_ms DESC", "trace_info.request_id ASC"} {
		if col, _, _ := strings.Cut(tb, " "); !used[col] {
			terms = append(terms, tb)
		}
	}
	out.OrderBy = strings.Join(terms, ", ")
	out.OrderArgs = b.take()
	out.NextArg = b.n
	return out, nil
}
