package search

import (
	"strconv"
	"strings"

	"github.com/mlops-lab/housing/tracking"
)

// invalid returns the INVALID_PARAMETER_VALUE error every failure of this package is.
func invalid(format string, args ...any) *tracking.Error {
	return tracking.Errorf(tracking.ErrInvalidParameterValue, format, args...)
}

// rawIdent is an identifier as written: one or more parts joined by dots.
type rawIdent struct {
	parts []token
	text  string
}

// rawValue is a comparison's right-hand side before it is checked against its key.
type rawValue struct {
	kind  tokenKind // tokSingle, tokDouble, tokNumber, tokWord (unquoted word), or tokLParen (a list)
	val   string    // unquoted content of a scalar
	text  string    // as written, quotes and parentheses included
	items []token   // list: every token between the parentheses, commas included
}

// rawComparison is one clause as parsed, before entity-specific checks.
type rawComparison struct {
	ident rawIdent
	op    string // upper case; "NOT IN" for NOT IN
	value rawValue
}

// parser walks the tokens of one filter or order_by string.
type parser struct {
	src  string
	toks []token
	i    int
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tokEOF {
		p.i++
	}
	return t
}

// isKeyword reports whether t is the bare word kw, in any case.
func isKeyword(t token, kw string) bool {
	return t.kind == tokWord && strings.EqualFold(t.text, kw)
}

// reserved words cannot start an identifier: they are the grammar's own.
func isReserved(t token) bool {
	for _, kw := range []string{"AND", "OR", "NOT", "IN", "LIKE", "ILIKE"} {
		if isKeyword(t, kw) {
			return true
		}
	}
	return false
}

// ident parses part ('.' part)*, the parts touching one another.
func (p *parser) ident() (rawIdent, bool) {
	first := p.peek()
	if !(first.kind == tokWord || first.kind == tokBacktick || first.kind == tokDouble) || isReserved(first) {
		return rawIdent{}, false
	}
	id := rawIdent{parts: []token{p.next()}}
	for p.peek().kind == tokDot {
		dot := p.next()
		part := p.peek()
		if part.pos != dot.end || !(part.kind == tokWord || part.kind == tokBacktick || part.kind == tokDouble) {
			return rawIdent{}, false
		}
		id.parts = append(id.parts, p.next())
	}
	id.text = p.src[first.pos:id.parts[len(id.parts)-1].end]
	return id, true
}

// comparator parses an operator: a comparison-character run, LIKE, ILIKE, IN,
// NOT IN, IS NULL or IS NOT NULL.
func (p *parser) comparator() (string, bool) {
	t := p.peek()
	switch {
	case isKeyword(t, "IS") && isKeyword(p.toks[p.i+1], "NULL"):
		p.next()
		p.next()
		return OpIsNull, true
	case isKeyword(t, "IS") && isKeyword(p.toks[p.i+1], "NOT") && isKeyword(p.toks[p.i+2], "NULL"):
		p.i += 3
		return OpIsNotNull, true
	case t.kind == tokOp:
		p.next()
		return t.text, true
	case isKeyword(t, "LIKE"), isKeyword(t, "ILIKE"), isKeyword(t, "IN"):
		p.next()
		return strings.ToUpper(t.text), true
	case isKeyword(t, "NOT") && isKeyword(p.toks[p.i+1], "IN"):
		p.next()
		p.next()
		return OpNotIn, true
	}
	return "", false
}

// value parses a quoted string, a number, an unquoted (dotted) word or a
// parenthesized list. Lists are only collected here; checkList judges them.
func (p *parser) value() (rawValue, bool) {
	t := p.peek()
	switch t.kind {
	case tokSingle, tokDouble, tokNumber:
		p.next()
		return rawValue{kind: t.kind, val: t.val, text: t.text}, true
	case tokWord:
		if isReserved(t) {
			return rawValue{}, false
		}
		id, ok := p.ident()
		if !ok {
			return rawValue{}, false
		}
		return rawValue{kind: tokWord, val: id.text, text: id.text}, true
	case tokLParen:
		open := p.next()
		v := rawValue{kind: tokLParen}
		for {
			t := p.next()
			switch t.kind {
			case tokEOF, tokLParen:
				return rawValue{}, false
			case tokRParen:
				v.text = p.src[open.pos:t.end]
				return v, true
			}
			v.items = append(v.items, t)
		}
	}
	return rawValue{}, false
}

// comparison parses ident comparator value.
func (p *parser) comparison() (rawComparison, bool) {
	id, ok := p.ident()
	if !ok {
		return rawComparison{}, false
	}
	op, ok := p.comparator()
	if !ok {
		return rawComparison{}, false
	}
	if op == OpIsNull || op == OpIsNotNull {
		return rawComparison{ident: id, op: op}, true
	}
	v, ok := p.value()
	if !ok {
		return rawComparison{}, false
	}
	if (op == OpIn || op == OpNotIn) && v.kind != tokLParen {
		return rawComparison{}, false
	}
	return rawComparison{ident: id, op: op, value: v}, true
}

// clauseText returns the source from token index from up to the next AND (or the end).
func (p *parser) clauseText(from int) string {
	end := len(p.src)
	for j := from; j < len(p.toks); j++ {
		if j > from && isKeyword(p.toks[j], "AND") {
			end = p.toks[j].pos
			break
		}
	}
	return strings.TrimSpace(p.src[p.toks[from].pos:end])
}

// parseRaw splits a filter into AND-joined raw comparisons. Like MLflow, it rejects
// anything that is not a comparison or AND (OR, parentheses, a dangling operator)
// before looking at any key or value.
func parseRaw(src string) ([]rawComparison, error) {
	toks, err := lex(src)
	if err != nil {
		return nil, invalid("Error on parsing filter '%s': %v", src, err)
	}
	p := &parser{src: src, toks: toks}
	var out []rawComparison
	if p.peek().kind == tokEOF {
		return nil, nil
	}
	for {
		start := p.i
		c, ok := p.comparison()
		if !ok {
			return nil, invalid("Invalid clause(s) in filter string: '%s'", p.clauseText(start))
		}
		out = append(out, c)
		t := p.peek()
		if t.kind == tokEOF {
			return out, nil
		}
		if !isKeyword(t, "AND") {
			return nil, invalid("Invalid clause(s) in filter string: '%s'", p.clauseText(p.i))
		}
		p.next()
		if p.peek().kind == tokEOF {
			return nil, invalid("Invalid clause(s) in filter string: '%s'", t.text)
		}
	}
}

// number converts a number literal.
func number(raw string) Value {
	v := Value{Kind: NumberValue, Raw: raw}
	if !strings.ContainsAny(raw, ".eE") {
		if n, err := strconv.ParseInt(raw, 10, 64); err == nil {
			v.Int, v.IsInt, v.Num = n, true, float64(n)
			return v
		}
	}
	// Out-of-range literals become ±Inf, as Python's float() makes them.
	v.Num, _ = strconv.ParseFloat(raw, 64)
	return v
}

// quotedString returns a StringValue for a quoted token, and MLflow's error for an
// unquoted word.
func quotedString(v rawValue) (Value, error) {
	if v.kind == tokWord {
		return Value{}, invalid("Parameter value is either not quoted or unidentified quote types used for string value %s. Use either single or double quotes.", v.text)
	}
	return Value{Kind: StringValue, Str: v.val, Raw: v.text}, nil
}

// isString reports whether v is a quoted string or an unquoted word (which
// quotedString rejects with MLflow's message).
func (v rawValue) isString() bool {
	return v.kind == tokSingle || v.kind == tokDouble || v.kind == tokWord
}

// checkList turns a parenthesized list into a ListValue: a non-empty,
// comma-separated list of single-quoted strings, as MLflow accepts.
func checkList(v rawValue) (Value, error) {
	if len(v.items) == 0 {
		return Value{}, invalid("While parsing a list in the query, expected a non-empty list of string values, but got empty list")
	}
	out := Value{Kind: ListValue, Raw: v.text}
	for i, t := range v.items {
		if i%2 == 1 {
			if t.kind != tokComma {
				return Value{}, invalid("While parsing a list in the query, expected a non-empty list of string values, but got ill-formed list.")
			}
			continue
		}
		if t.kind != tokSingle {
			if t.kind == tokComma {
				return Value{}, invalid("While parsing a list in the query, expected a non-empty list of string values, but got ill-formed list.")
			}
			return Value{}, invalid("While parsing a list in the query, expected string value, punctuation, or whitespace, but got different type in list: %s", v.text)
		}
		out.List = append(out.List, t.val)
	}
	if len(v.items)%2 == 0 { // ends with a comma
		return Value{}, invalid("While parsing a list in the query, expected a non-empty list of string values, but got ill-formed list.")
	}
	return out, nil
}

// keySet is a set of valid keys with the order MLflow's messages list them in.
type keySet []string

func (s keySet) has(k string) bool {
	for _, x := range s {
		if x == k {
			return true
		}
	}
	return false
}

// String renders the set the way Python prints a set of strings.
func (s keySet) String() string {
	q := make([]string, len(s))
	for i, k := range s {
		q[i] = pyRepr(k)
	}
	return "{" + strings.Join(q, ", ") + "}"
}

// pyRepr quotes s the way Python's repr quotes a str.
func pyRepr(s string) string {
	if strings.Contains(s, "'") && !strings.Contains(s, `"`) {
		return `"` + strings.ReplaceAll(s, `\`, `\\`) + `"`
	}
	return "'" + strings.NewReplacer(`\`, `\\`, "'", `\'`).Replace(s) + "'"
}

// pyList renders strings the way Python prints a list of str.
func pyList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = pyRepr(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// joinKey joins identifier parts after the entity into a key, unquoted.
func joinKey(parts []token) string {
	vals := make([]string, len(parts))
	for i, t := range parts {
		vals[i] = t.val
	}
	return strings.Join(vals, ".")
}

// The comparator sets, in the order MLflow's messages print them.
var (
	numericOps         = keySet{OpGt, OpEq, OpGe, OpNe, OpLe, OpLt}
	stringOps          = keySet{OpNe, OpEq, OpLike, OpILike}
	stringListOps      = keySet{OpNe, OpEq, OpLike, OpILike, OpIn, OpNotIn}
	modelVersionStrOps = keySet{OpNe, OpEq, OpLike, OpILike, OpIn}
)

// checkListUse rejects a list compared with anything but IN / NOT IN.
func checkListUse(c Comparison) error {
	if c.Value.Kind == ListValue && c.Comparator != OpIn && c.Comparator != OpNotIn {
		return invalid("Invalid comparator '%s' for a list of values %s. Use IN or NOT IN.", c.Comparator, c.Value.Raw)
	}
	return nil
}

// parse runs the shared grammar and resolves each clause with the entity's rules.
func parse(src string, e Entity, resolve func(rawComparison) (Comparison, error)) (Filter, error) {
	raws, err := parseRaw(src)
	if err != nil {
		return Filter{}, err
	}
	f := Filter{Entity: e}
	for _, r := range raws {
		if (r.op == OpIsNull || r.op == OpIsNotNull) && e != Runs {
			return Filter{}, invalid("Invalid comparator '%s': IS NULL / IS NOT NULL is only supported for the tags and params of runs", r.op)
		}
		c, err := resolve(r)
		if err != nil {
			return Filter{}, err
		}
		if err := checkListUse(c); err != nil {
			return Filter{}, err
		}
		f.Clauses = append(f.Clauses, c)
	}
	return f, nil
}
