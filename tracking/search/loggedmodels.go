package search

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/mlops-lab/housing/tracking"
)

// loggedModelColumns are the attributes of a logged model (the columns of
// MLflow's SqlLoggedModel), after loggedModelAlias.
var loggedModelColumns = map[string]string{
	"model_id": "logged_models.model_id", "experiment_id": "logged_models.experiment_id",
	"name": "logged_models.name", "artifact_location": "logged_models.artifact_location",
	"creation_timestamp_ms": "logged_models.creation_timestamp_ms", "last_updated_timestamp_ms": "logged_models.last_updated_timestamp_ms",
	"status": "logged_models.status", "lifecycle_stage": "logged_models.lifecycle_stage",
	"model_type": "logged_models.model_type", "source_run_id": "logged_models.source_run_id",
	"status_message": "logged_models.status_message",
}

var (
	loggedModelNumericAttrs = keySet{"creation_timestamp_ms", "last_updated_timestamp_ms"}
	// loggedModelIntColumns are the integer columns MLflow compares as strings.
	loggedModelIntColumns = keySet{"status", "experiment_id"}
	// MLflow's order in its message (search_logged_model_utils.Entity.validate_op).
	loggedModelNumericOps = keySet{OpLt, OpLe, OpGt, OpGe, OpEq, OpNe}
	loggedModelStringOps  = keySet{OpEq, OpNe, OpLike, OpILike, OpIn, OpNotIn}
)

// loggedModelAlias maps MLflow's aliases (SqlLoggedModel.ALIASES) to columns.
func loggedModelAlias(key string) string {
	switch key {
	case "creation_time", "creation_timestamp":
		return "creation_timestamp_ms"
	case "last_updated_timestamp":
		return "last_updated_timestamp_ms"
	}
	return key
}

// loggedModelIdent resolves "metrics.k", "params.k", "tags.k",
// "attributes.k" and bare attribute names, as MLflow's Entity.from_str.
func loggedModelIdent(id rawIdent) (KeyType, string, error) {
	if len(id.parts) == 1 {
		key := loggedModelAlias(id.parts[0].val)
		if _, ok := loggedModelColumns[key]; !ok {
			return 0, "", invalid("Invalid attribute key: %s", pyRepr(key))
		}
		return Attribute, key, nil
	}
	entity, key := id.parts[0].text, joinKey(id.parts[1:])
	switch entity {
	case "metrics":
		return Metric, key, nil
	case "params":
		return Param, key, nil
	case "tags":
		return Tag, key, nil
	case "attributes":
		key = loggedModelAlias(key)
		if _, ok := loggedModelColumns[key]; !ok {
			return 0, "", invalid("Invalid attribute key: %s", pyRepr(key))
		}
		return Attribute, key, nil
	}
	return 0, "", invalid("Invalid entity type: %s. Expected one of ['attributes', 'metrics', 'params', 'tags'].", pyRepr(entity))
}

// ParseLoggedModelFilter parses a logged models search filter: comparisons
// joined by AND on attributes (name, model_type, source_run_id, status,
// creation_timestamp, ...), metrics.<key> (any logged value, not only the
// latest, as MLflow), params.<key> and tags.<key>; e.g. "name = 'model' AND
// metrics.r2 > 0.8".
func ParseLoggedModelFilter(s string) (Filter, error) {
	return parse(s, LoggedModels, resolveLoggedModelComparison)
}

func resolveLoggedModelComparison(r rawComparison) (Comparison, error) {
	kt, key, err := loggedModelIdent(r.ident)
	if err != nil {
		return Comparison{}, err
	}
	c := Comparison{Type: kt, Key: key, Comparator: r.op}
	numeric := kt == Metric || (kt == Attribute && loggedModelNumericAttrs.has(key))
	ops := loggedModelStringOps
	if numeric {
		ops = loggedModelNumericOps
	}
	if !ops.has(r.op) {
		name := r.ident.text
		// (sic: MLflow lists the string comparators whatever the key.)
		return Comparison{}, invalid("Invalid comparison operator for %s: %s. Expected one of %s.",
			name, pyRepr(r.op), pyTuple(loggedModelStringOps))
	}
	v := r.value
	switch {
	case numeric:
		if v.kind != tokNumber {
			return Comparison{}, invalid("Expected a numeric value for %s. Got value %s", r.ident.text, v.text)
		}
		c.Value = number(v.text)
	case v.kind == tokLParen:
		c.Value, err = checkList(v)
	case v.isString():
		c.Value, err = quotedString(v)
	default:
		// MLflow strips quotes from whatever follows: a bare number is its text.
		c.Value = Value{Kind: StringValue, Str: v.text, Raw: v.text}
	}
	if err != nil {
		return Comparison{}, err
	}
	return c, nil
}

// pyTuple prints ss as a Python tuple of strings.
func pyTuple(ss keySet) string {
	quoted := make([]string, len(ss))
	for i, s := range ss {
		quoted[i] = pyRepr(s)
	}
	return "(" + strings.Join(quoted, ", ") + ")"
}

// ParseLoggedModelOrder checks the order keys of a logged models search: an
// attribute (with MLflow's aliases) or metrics.<key>.
func ParseLoggedModelOrder(order []tracking.LoggedModelOrder) ([]tracking.LoggedModelOrder, error) {
	out := make([]tracking.LoggedModelOrder, len(order))
	for i, o := range order {
		entity, key, dotted := strings.Cut(o.FieldName, ".")
		switch {
		case !dotted:
			col := loggedModelAlias(o.FieldName)
			if _, ok := loggedModelColumns[col]; !ok {
				return nil, invalid("Invalid order by field name: %s", o.FieldName)
			}
			o.FieldName = col
		case entity != "metrics":
			return nil, invalid("Invalid order by field name: %s. Only metrics are supported.", o.FieldName)
		default:
			o.FieldName = "metrics." + key
		}
		out[i] = o
	}
	return out, nil
}

// CompileLoggedModels compiles a logged models filter, data sets and
// ordering over table logged_models (tags in logged_model_tags, params in
// logged_model_params, metrics in logged_model_metrics). With data sets, only
// models with a metric on one of them match, and metric filters look at those
// metrics only. The ordering puts NULLs last and ends with MLflow's
// creation_timestamp_ms DESC (unless ordered by already), then model_id, so
// that pages are stable.
func CompileLoggedModels(f Filter, datasets []tracking.LoggedModelDataset, order []tracking.LoggedModelOrder, d Dialect, firstArg int) (SQL, error) {
	b, err := newBuilder(d, firstArg)
	if err != nil {
		return SQL{}, err
	}
	datasetCond := func(alias string) string {
		if len(datasets) == 0 {
			return ""
		}
		ors := make([]string, len(datasets))
		for i, ds := range datasets {
			ors[i] = alias + ".dataset_name = " + b.bind(ds.Name)
			if ds.Digest != "" {
				ors[i] = "(" + ors[i] + " AND " + alias + ".dataset_digest = " + b.bind(ds.Digest) + ")"
			}
		}
		return " AND (" + strings.Join(ors, " OR ") + ")"
	}
	hasMetric := false
	where, err := b.where(f, LoggedModels, func(c Comparison) (string, error) {
		switch c.Type {
		case Attribute:
			c = loggedModelColumnValue(c)
			if col := loggedModelColumns[c.Key]; c.Value.Kind == ListValue && loggedModelIntColumns.has(c.Key) {
				// IN binds strings: compare the integer column as text.
				return b.compare("CAST("+col+" AS VARCHAR(20))", c.Comparator, c.Value)
			}
			return b.attributeClause(loggedModelColumns, c)
		case Metric:
			hasMetric = true
			keyPh := b.bind(c.Key)
			cond, err := b.compareFloat("lmm.metric_value", c.Comparator, c.Value)
			if err != nil {
				return "", err
			}
			return "EXISTS (SELECT 1 FROM logged_model_metrics lmm WHERE lmm.model_id = logged_models.model_id AND lmm.metric_name = " +
				keyPh + " AND " + cond + datasetCond("lmm") + ")", nil
		case Param, Tag:
			table, col := "logged_model_params", "param"
			if c.Type == Tag {
				table, col = "logged_model_tags", "tag"
			}
			keyPh := b.bind(c.Key)
			cond, err := b.compare("kv."+col+"_value", c.Comparator, c.Value)
			if err != nil {
				return "", err
			}
			return fmt.Sprintf("EXISTS (SELECT 1 FROM %s kv WHERE kv.model_id = logged_models.model_id AND kv.%s_key = %s AND %s)",
				table, col, keyPh, cond), nil
		}
		return "", fmt.Errorf("search: logged models have no %v keys", c.Type)
	})
	if err != nil {
		return SQL{}, err
	}
	if len(datasets) > 0 && !hasMetric {
		where += " AND EXISTS (SELECT 1 FROM logged_model_metrics lmd WHERE lmd.model_id = logged_models.model_id" + datasetCond("lmd") + ")"
	}
	out := SQL{Where: where, Args: b.take()}
	var terms []string
	hasCreation := false
	for _, o := range order {
		var expr string
		if key, ok := strings.CutPrefix(o.FieldName, "metrics."); ok {
			cond := ""
			if o.DatasetName != "" {
				cond += " AND lmo.dataset_name = " + b.bind(o.DatasetName)
			}
			if o.DatasetDigest != "" {
				cond += " AND lmo.dataset_digest = " + b.bind(o.DatasetDigest)
			}
			// The latest value: MLflow ranks by timestamp, then step.
			expr = "(SELECT lmo.metric_value FROM logged_model_metrics lmo WHERE lmo.model_id = logged_models.model_id AND lmo.metric_name = " +
				b.bind(key) + cond + " ORDER BY lmo.metric_timestamp_ms DESC, lmo.metric_step DESC LIMIT 1)"
		} else {
			col, ok := loggedModelColumns[o.FieldName]
			if !ok {
				return SQL{}, fmt.Errorf("search: cannot order logged models by %q", o.FieldName)
			}
			hasCreation = hasCreation || o.FieldName == "creation_timestamp_ms"
			expr = col
		}
		terms = append(terms, expr+" "+direction(o.Ascending)+" NULLS LAST")
	}
	if !hasCreation {
		terms = append(terms, "logged_models.creation_timestamp_ms DESC")
	}
	terms = append(terms, "logged_models.model_id ASC")
	out.OrderBy = strings.Join(terms, ", ")
	out.OrderArgs = b.take()
	out.NextArg = b.n
	return out, nil
}

// loggedModelColumnValue turns the values of a comparison into what the
// columns hold: status names (LOGGED_MODEL_READY, or READY as the Python
// client prints them) into the numbers logged_models.status keeps, and
// experiment ids into integers. Deliberate difference: MLflow compares the
// names with the numbers themselves, which matches nothing on SQLite and
// fails on PostgreSQL (named in the sqlstore's TestLoggedModelsSQLite).
func loggedModelColumnValue(c Comparison) Comparison {
	conv := func(s string) (int64, bool) {
		switch c.Key {
		case "status":
			for _, name := range []string{s, "LOGGED_MODEL_" + s} {
				if st, err := tracking.ParseLoggedModelStatus(name); err == nil {
					return int64(st.Int()), true
				}
			}
		case "experiment_id":
			if n, err := strconv.ParseInt(s, 10, 64); err == nil {
				return n, true
			}
		}
		return 0, false
	}
	switch c.Value.Kind {
	case StringValue:
		if n, ok := conv(c.Value.Str); ok && (c.Comparator == OpEq || c.Comparator == OpNe) {
			c.Value = Value{Kind: NumberValue, Int: n, IsInt: true, Num: float64(n), Raw: c.Value.Raw}
		}
	case ListValue:
		// IN and NOT IN bind strings: the numbers go as their text.
		list := make([]string, len(c.Value.List))
		for i, s := range c.Value.List {
			list[i] = s
			if n, ok := conv(s); ok {
				list[i] = strconv.FormatInt(n, 10)
			}
		}
		c.Value.List = list
	}
	return c
}

// compareFloat renders "col op value" for a floating-point column.
func (b *builder) compareFloat(col, op string, v Value) (string, error) {
	sqlOp, ok := sqlOps[op]
	if !ok || v.Kind != NumberValue {
		return "", fmt.Errorf("search: cannot compare a metric with %s %q", op, v.Raw)
	}
	return col + " " + sqlOp + " CAST(" + b.bind(v.Num) + " AS DOUBLE PRECISION)", nil
}

// loggedModelToken is MLflow's page token of a logged models search
// (SearchLoggedModelsPaginationToken): the offset with the search it pages,
// so that a token is refused for another search.
type loggedModelToken struct {
	ExperimentIDs []string            `json:"experiment_ids"`
	FilterString  *string             `json:"filter_string"`
	OrderBy       []loggedModelTokOrd `json:"order_by"`
	Offset        int                 `json:"offset"`
}

type loggedModelTokOrd struct {
	FieldName     string  `json:"field_name"`
	Ascending     bool    `json:"ascending"`
	DatasetName   *string `json:"dataset_name"`
	DatasetDigest *string `json:"dataset_digest"`
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func newLoggedModelToken(q tracking.LoggedModelQuery, offset int) loggedModelToken {
	t := loggedModelToken{ExperimentIDs: q.ExperimentIDs, FilterString: optional(q.Filter), Offset: offset}
	if t.ExperimentIDs == nil {
		t.ExperimentIDs = []string{}
	}
	for _, o := range q.OrderBy {
		t.OrderBy = append(t.OrderBy, loggedModelTokOrd{o.FieldName, o.Ascending, optional(o.DatasetName), optional(o.DatasetDigest)})
	}
	return t
}

// EncodeLoggedModelPageToken returns the token of the page of q's search that
// starts at offset: base64 of JSON, as MLflow makes it.
func EncodeLoggedModelPageToken(q tracking.LoggedModelQuery, offset int) string {
	raw, _ := json.Marshal(newLoggedModelToken(q, offset))
	return base64.StdEncoding.EncodeToString(raw)
}

// DecodeLoggedModelPageToken returns the offset of q.PageToken (0 when
// empty), refusing a token made for another search with MLflow's messages.
func DecodeLoggedModelPageToken(q tracking.LoggedModelQuery) (int, error) {
	if q.PageToken == "" {
		return 0, nil
	}
	raw, err := base64.StdEncoding.DecodeString(q.PageToken)
	var tok loggedModelToken
	if err == nil {
		err = json.Unmarshal(raw, &tok)
	}
	if err != nil {
		return 0, invalid("Invalid page token: %s. %v", q.PageToken, err)
	}
	want := newLoggedModelToken(q, tok.Offset)
	switch {
	case !slices.Equal(tok.ExperimentIDs, want.ExperimentIDs):
		return 0, invalid("Experiment IDs in the page token do not match the requested experiment IDs. Expected: %s. Found: %s",
			pyList(want.ExperimentIDs), pyList(tok.ExperimentIDs))
	case deref(tok.FilterString) != deref(want.FilterString):
		return 0, invalid("Filter string in the page token does not match the requested filter string. Expected: %s. Found: %s",
			pyNone(want.FilterString), pyNone(tok.FilterString))
	case !slices.EqualFunc(tok.OrderBy, want.OrderBy, func(a, b loggedModelTokOrd) bool {
		return a.FieldName == b.FieldName && a.Ascending == b.Ascending &&
			deref(a.DatasetName) == deref(b.DatasetName) && deref(a.DatasetDigest) == deref(b.DatasetDigest)
	}):
		return 0, invalid("Order by in the page token does not match the requested order by.")
	case tok.Offset < 0:
		return 0, invalid("Invalid page token: %s. offset %s", q.PageToken, strconv.Itoa(tok.Offset))
	}
	return tok.Offset, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func pyNone(s *string) string {
	if s == nil {
		return "None"
	}
	return *s
}
