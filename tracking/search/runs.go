package search

// Run attributes as MLflow 2.17 accepts them (RunInfo's searchable attributes plus
// the aliases), in the order the error messages list them.
var (
	runSearchAttrs  = keySet{"artifact_uri", "end_time", "run_id", "run_name", "start_time", "status", "user_id", "created", "Created", "run name", "Run name", "Run Name"}
	runOrderAttrs   = keySet{"artifact_uri", "end_time", "run_id", "run_name", "start_time", "status", "user_id", "created", "Created"}
	runNumericAttrs = keySet{"start_time", "end_time", "created", "Created"}
	datasetKeys     = keySet{"name", "digest", "context"}
)

// runEntityTypes maps every spelling of an entity type MLflow accepts for runs.
var runEntityTypes = map[string]KeyType{
	"metric": Metric, "metrics": Metric,
	"parameter": Param, "parameters": Param, "param": Param, "params": Param,
	"tag": Tag, "tags": Tag,
	"attribute": Attribute, "attr": Attribute, "attributes": Attribute, "run": Attribute,
	"dataset": Dataset, "datasets": Dataset,
}

// canonicalRunAttr resolves MLflow's attribute aliases.
func canonicalRunAttr(key string) string {
	switch key {
	case "created", "Created":
		return "start_time"
	case "run name", "Run name", "Run Name":
		return "run_name"
	}
	return key
}

// runIdent resolves a run identifier to its key type and (uncanonicalized) key.
func runIdent(id rawIdent, attrs keySet) (KeyType, string, error) {
	kt, key := Attribute, id.parts[0].val
	if len(id.parts) > 1 {
		entity := id.parts[0]
		name := entity.val
		if entity.kind == tokDouble { // MLflow trims only backticks from the entity type
			name = entity.text
		}
		var ok bool
		if kt, ok = runEntityTypes[name]; !ok {
			return 0, "", invalid("Invalid entity type '%s'. Valid values are ['metric', 'parameter', 'tag', 'attribute', 'dataset']", name)
		}
		key = joinKey(id.parts[1:])
	}
	switch {
	case kt == Attribute && !attrs.has(key):
		return 0, "", invalid("Invalid attribute key '%s' specified. Valid keys are '%s'", key, attrs)
	case kt == Dataset && !datasetKeys.has(key):
		return 0, "", invalid("Invalid dataset key '%s' specified. Valid keys are '%s'", key, datasetKeys)
	}
	return kt, key, nil
}

// ParseRunFilter parses a runs/search filter such as
// "metrics.r2 > 0.5 and params.max_depth = '10' and attributes.status = 'FINISHED'".
// An empty or blank filter matches every run. Errors are *tracking.Error with code
// INVALID_PARAMETER_VALUE and MLflow 2.17's messages.
func ParseRunFilter(s string) (Filter, error) {
	return parse(s, Runs, resolveRunComparison)
}

func resolveRunComparison(r rawComparison) (Comparison, error) {
	kt, key, err := runIdent(r.ident, runSearchAttrs)
	if err != nil {
		return Comparison{}, err
	}
	c := Comparison{Type: kt, Key: key, Comparator: r.op}
	if r.op == OpIsNull || r.op == OpIsNotNull {
		// MLflow 3's test of whether a run has a tag or param at all.
		if kt != Param && kt != Tag {
			return Comparison{}, invalid("IS NULL / IS NOT NULL is only supported for tags and params, not for '%s' '%s'", kt, key)
		}
		return c, nil
	}
	v := r.value
	// Values are checked before comparators, as MLflow does.
	switch kt {
	case Metric:
		if v.kind != tokNumber {
			return Comparison{}, invalid("Expected numeric value type for metric. Found %s", v.text)
		}
		c.Value = number(v.text)
	case Param, Tag:
		if kt == Tag && v.kind == tokLParen {
			// Beyond MLflow, whose tags take no lists: tags.k IN ('a', 'b')
			// finds the runs of many parents (mlflow.parentRunId) in one search.
			if c.Value, err = checkList(v); err != nil {
				return Comparison{}, err
			}
			break
		}
		if !v.isString() {
			return Comparison{}, invalid("Expected a quoted string value for %s (e.g. 'my-value'). Got value %s", kt, v.text)
		}
		if c.Value, err = quotedString(v); err != nil {
			return Comparison{}, err
		}
	case Attribute:
		switch {
		case runNumericAttrs.has(key):
			if v.kind != tokNumber {
				return Comparison{}, invalid("Expected numeric value type for numeric attribute: %s. Found %s", key, v.text)
			}
			c.Value = number(v.text)
		case v.isString():
			if c.Value, err = quotedString(v); err != nil {
				return Comparison{}, err
			}
		case v.kind == tokLParen:
			if key != "run_id" {
				return Comparison{}, invalid("Only the 'run_id' attribute supports comparison with a list of quoted string values.")
			}
			if c.Value, err = checkList(v); err != nil {
				return Comparison{}, err
			}
		default:
			return Comparison{}, invalid("Expected a quoted string value for attributes. Got value %s", v.text)
		}
	case Dataset:
		switch {
		case v.isString():
			if c.Value, err = quotedString(v); err != nil {
				return Comparison{}, err
			}
		case v.kind == tokLParen:
			if c.Value, err = checkList(v); err != nil {
				return Comparison{}, err
			}
		default:
			return Comparison{}, invalid("Expected a quoted string value for dataset attributes. Got value %s", v.text)
		}
	}
	// The comparator messages keep MLflow's quirks (some lack the closing quote).
	op := c.Comparator
	switch {
	case kt == Metric && !numericOps.has(op):
		return Comparison{}, invalid("Invalid comparator '%s' not one of '%s", op, numericOps)
	case kt == Param && !stringOps.has(op):
		return Comparison{}, invalid("Invalid comparator '%s' not one of '%s'", op, stringOps)
	case kt == Tag && c.Value.Kind == ListValue && op != OpIn && op != OpNotIn:
		return Comparison{}, invalid("Invalid comparator '%s' for a list of values %s. Use IN or NOT IN.", op, c.Value.Raw)
	case kt == Tag && c.Value.Kind != ListValue && !stringOps.has(op):
		return Comparison{}, invalid("Invalid comparator '%s' not one of '%s", op, stringOps)
	case kt == Attribute && runNumericAttrs.has(key) && !numericOps.has(op):
		return Comparison{}, invalid("Invalid comparator '%s' not one of '%s", op, numericOps)
	case kt == Attribute && !runNumericAttrs.has(key) && !stringListOps.has(op):
		return Comparison{}, invalid("Invalid comparator '%s' not one of '%s'", op, stringListOps)
	case kt == Dataset && !stringListOps.has(op):
		return Comparison{}, invalid("Invalid comparator '%s' not one of '%s", op, stringListOps)
	}
	if kt == Attribute {
		c.Key = canonicalRunAttr(key)
	}
	return c, nil
}

// ParseRunOrderBy parses runs/search order_by clauses such as "metrics.r2 DESC",
// "params.alpha", "attributes.start_time ASC", "run_name". Ordering by the same
// field twice is an error, as in MLflow.
func ParseRunOrderBy(clauses []string) ([]OrderBy, error) {
	return parseOrderClauses(clauses, func(id rawIdent) (KeyType, string, error) {
		kt, key, err := runIdent(id, runOrderAttrs)
		if err != nil {
			return 0, "", err
		}
		if kt == Dataset {
			return 0, "", invalid("Invalid identifier type '%s'", kt)
		}
		if kt == Attribute {
			key = canonicalRunAttr(key)
		}
		return kt, key, nil
	})
}
