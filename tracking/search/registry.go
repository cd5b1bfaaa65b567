package search

import "strconv"

// Keys MLflow 2.17 accepts for experiments, registered models and model versions.
var (
	experimentSearchAttrs  = keySet{"name", "creation_time", "last_update_time"}
	experimentOrderAttrs   = keySet{"name", "experiment_id", "creation_time", "last_update_time"}
	experimentNumericAttrs = keySet{"creation_time", "last_update_time"}

	modelSearchAttrs = keySet{"name"}
	// "timestamp" and "last_updated_timestamp" both mean the last update, as in
	// MLflow's SQL store; "creation_timestamp" is accepted as its file store does.
	modelOrderKeys       = keySet{"name", "timestamp", "last_updated_timestamp", "creation_timestamp"}
	modelRecommendedKeys = keySet{"name", "timestamp"}

	versionSearchAttrs  = keySet{"name", "version_number", "run_id", "source_path"}
	versionOrderAttrs   = keySet{"name", "version_number", "creation_timestamp", "last_updated_timestamp"}
	versionNumericAttrs = keySet{"version_number", "creation_timestamp", "last_updated_timestamp"}
)

// registryIdent resolves an identifier the way MLflow does for experiments and the
// model registry: unprefixed keys are attributes, and the only prefixes are
// "attribute", "tag" and "tags", spelled exactly so.
func registryIdent(id rawIdent, attrs keySet) (KeyType, string, error) {
	kt, key := Attribute, id.parts[0].val
	if len(id.parts) > 1 {
		switch entity := id.parts[0].text; entity {
		case "attribute":
			kt = Attribute
		case "tag", "tags":
			kt = Tag
		default:
			return 0, "", invalid("Invalid entity type '%s'. Valid entity types are ('attribute', 'tag', 'tags')", entity)
		}
		key = joinKey(id.parts[1:])
	}
	if kt == Attribute && !attrs.has(key) {
		return 0, "", invalid("Invalid attribute key '%s' specified. Valid keys are '%s'", key, attrs)
	}
	return kt, key, nil
}

// tagValue checks the value of a tag comparison.
func tagValue(v rawValue) (Value, error) {
	if !v.isString() {
		return Value{}, invalid("Expected a quoted string value for tag (e.g. 'my-value'). Got value %s", v.text)
	}
	return quotedString(v)
}

// tagComparator checks the comparator of a tag comparison (MLflow's SQL store message).
func tagComparator(op string) error {
	if !stringOps.has(op) {
		return invalid("Invalid comparator for tag: %s", op)
	}
	return nil
}

// ParseExperimentFilter parses an experiments/search filter over name,
// creation_time, last_update_time and tags, e.g. "name LIKE 'curl%' and tags.k = 'v'".
func ParseExperimentFilter(s string) (Filter, error) {
	return parse(s, Experiments, func(r rawComparison) (Comparison, error) {
		kt, key, err := registryIdent(r.ident, experimentSearchAttrs)
		if err != nil {
			return Comparison{}, err
		}
		c := Comparison{Type: kt, Key: key, Comparator: r.op}
		v := r.value
		switch {
		case kt == Tag:
			if c.Value, err = tagValue(v); err != nil {
				return Comparison{}, err
			}
			return c, tagComparator(r.op)
		case experimentNumericAttrs.has(key):
			if v.kind != tokNumber {
				return Comparison{}, invalid("Expected numeric value type for numeric attribute: %s. Found %s", key, v.text)
			}
			c.Value = number(v.text)
			if !numericOps.has(r.op) {
				return Comparison{}, invalid("Invalid comparator for numeric attribute: %s", r.op)
			}
			return c, nil
		case v.kind == tokLParen:
			return Comparison{}, invalid("Only the 'run_id' attribute supports comparison with a list of quoted string values.")
		case !v.isString():
			return Comparison{}, invalid("Expected a quoted string value for attributes. Got value %s", v.text)
		}
		if c.Value, err = quotedString(v); err != nil {
			return Comparison{}, err
		}
		if !stringListOps.has(r.op) {
			return Comparison{}, invalid("Invalid comparator '%s' not one of '%s'", r.op, stringListOps)
		}
		if !stringOps.has(r.op) {
			return Comparison{}, invalid("Invalid comparator for string attribute: %s", r.op)
		}
		return c, nil
	})
}

// ParseRegisteredModelFilter parses a registered-models/search filter over name and
// tags, e.g. "name LIKE 'california%'".
func ParseRegisteredModelFilter(s string) (Filter, error) {
	return parse(s, RegisteredModels, func(r rawComparison) (Comparison, error) {
		kt, key, err := registryIdent(r.ident, modelSearchAttrs)
		if err != nil {
			return Comparison{}, err
		}
		c := Comparison{Type: kt, Key: key, Comparator: r.op}
		v := r.value
		switch {
		case kt == Tag:
			if c.Value, err = tagValue(v); err != nil {
				return Comparison{}, err
			}
			return c, tagComparator(r.op)
		case v.kind == tokLParen:
			return Comparison{}, invalid("Only the 'run_id' attribute supports comparison with a list of quoted string values.")
		case !v.isString():
			return Comparison{}, invalid("Expected a quoted string value or a list of quoted string values for attributes. Got value %s", v.text)
		}
		if c.Value, err = quotedString(v); err != nil {
			return Comparison{}, err
		}
		if !stringOps.has(r.op) {
			return Comparison{}, invalid("Invalid comparator for attribute: %s", r.op)
		}
		return c, nil
	})
}

// ParseModelVersionFilter parses a model-versions/search filter over name,
// version_number, run_id, source_path and tags, e.g. "name = 'm' and run_id IN ('a', 'b')".
func ParseModelVersionFilter(s string) (Filter, error) {
	return parse(s, ModelVersions, func(r rawComparison) (Comparison, error) {
		kt, key, err := registryIdent(r.ident, versionSearchAttrs)
		if err != nil {
			return Comparison{}, err
		}
		c := Comparison{Type: kt, Key: key, Comparator: r.op}
		v := r.value
		if kt == Tag {
			if c.Value, err = tagValue(v); err != nil {
				return Comparison{}, err
			}
			return c, tagComparator(r.op)
		}
		switch {
		case v.kind == tokLParen:
			if key != "run_id" {
				return Comparison{}, invalid("Only the 'run_id' attribute supports comparison with a list of quoted string values.")
			}
			if c.Value, err = checkList(v); err != nil {
				return Comparison{}, err
			}
		case v.kind == tokNumber:
			if !versionNumericAttrs.has(key) {
				return Comparison{}, invalid("Only the '%s' attributes support comparison with numeric values.", versionNumericAttrs)
			}
			c.Value = number(v.text)
		case versionNumericAttrs.has(key) && (v.kind == tokSingle || v.kind == tokDouble):
			// MLflow passes a quoted version on to the database, which converts it;
			// converting here keeps PostgreSQL from refusing a text parameter.
			n, err := strconv.ParseInt(v.val, 10, 64)
			if err != nil {
				return Comparison{}, invalid("Expected numeric value type for numeric attribute: %s. Found %s", key, v.text)
			}
			c.Value = Value{Kind: NumberValue, Int: n, IsInt: true, Num: float64(n), Raw: v.text}
		case v.isString():
			if c.Value, err = quotedString(v); err != nil {
				return Comparison{}, err
			}
		default:
			return Comparison{}, invalid("Expected a quoted string value or a list of quoted string values for attributes. Got value %s", v.text)
		}
		if versionNumericAttrs.has(key) {
			if !numericOps.has(r.op) {
				return Comparison{}, invalid("Invalid comparator '%s' not one of '%s", r.op, numericOps)
			}
		} else if !modelVersionStrOps.has(r.op) {
			return Comparison{}, invalid("Invalid comparator '%s' not one of '%s'", r.op, modelVersionStrOps)
		}
		return c, nil
	})
}

// ParseExperimentOrderBy parses experiments/search order_by clauses over name,
// experiment_id, creation_time and last_update_time.
func ParseExperimentOrderBy(clauses []string) ([]OrderBy, error) {
	return parseRegistryOrderBy(clauses, experimentOrderAttrs)
}

// ParseModelVersionOrderBy parses model-versions/search order_by clauses over name,
// version_number, creation_timestamp and last_updated_timestamp.
func ParseModelVersionOrderBy(clauses []string) ([]OrderBy, error) {
	return parseRegistryOrderBy(clauses, versionOrderAttrs)
}

func parseRegistryOrderBy(clauses []string, attrs keySet) ([]OrderBy, error) {
	out := make([]OrderBy, 0, len(clauses))
	for _, s := range clauses {
		id, asc, err := parseOrderClause(s)
		if err != nil {
			return nil, err
		}
		kt, key, err := registryIdent(id, attrs)
		if err != nil {
			return nil, err
		}
		if kt != Attribute {
			return nil, invalid("Invalid order_by entity: %s", kt)
		}
		out = append(out, OrderBy{Type: Attribute, Key: key, Ascending: asc})
	}
	return out, nil
}

// ParseRegisteredModelOrderBy parses registered-models/search order_by clauses:
// "name", "timestamp" / "last_updated_timestamp" (the last update) or
// "creation_timestamp", each optionally followed by ASC or DESC. Keys are returned
// canonical: "timestamp" becomes "last_updated_timestamp".
func ParseRegisteredModelOrderBy(clauses []string) ([]OrderBy, error) {
	out := make([]OrderBy, 0, len(clauses))
	seen := map[string]bool{}
	for _, s := range clauses {
		id, asc, err := parseOrderClause(s)
		if err != nil {
			return nil, err
		}
		key := joinKey(id.parts)
		if len(id.parts) > 1 || !modelOrderKeys.has(key) {
			return nil, invalid("Invalid order by key '%s' specified. Valid keys are '%s'", key, modelRecommendedKeys)
		}
		if key == "timestamp" {
			key = "last_updated_timestamp"
		}
		if seen[key] {
			return nil, invalid("`order_by` contains duplicate fields: %s", pyList(clauses))
		}
		seen[key] = true
		out = append(out, OrderBy{Type: Attribute, Key: key, Ascending: asc})
	}
	return out, nil
}
