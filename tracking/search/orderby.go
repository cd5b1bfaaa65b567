package search

import "strings"

// parseOrderClause parses one order_by string: an identifier, then optionally ASC or
// DESC in any case. Messages are MLflow's.
func parseOrderClause(s string) (rawIdent, bool, error) {
	unparsable := invalid("Invalid order_by clause '%s'. Could not be parsed.", s)
	toks, err := lex(s)
	if err != nil {
		return rawIdent{}, false, unparsable
	}
	p := &parser{src: s, toks: toks}
	id, ok := p.ident()
	if !ok {
		return rawIdent{}, false, unparsable
	}
	t := p.next()
	switch {
	case t.kind == tokEOF:
		return id, true, nil
	case t.kind == tokWord && p.peek().kind == tokEOF:
		switch strings.ToLower(t.text) {
		case "asc":
			return id, true, nil
		case "desc":
			return id, false, nil
		}
		return rawIdent{}, false, invalid("Invalid ordering key in order_by clause '%s'.", s)
	}
	return rawIdent{}, false, unparsable
}

// parseOrderClauses parses order_by clauses whose identifiers field resolves
// to a key, refusing the same field twice as MLflow does.
func parseOrderClauses(clauses []string, field func(rawIdent) (KeyType, string, error)) ([]OrderBy, error) {
	out := make([]OrderBy, 0, len(clauses))
	seen := map[OrderBy]bool{}
	for _, s := range clauses {
		id, asc, err := parseOrderClause(s)
		if err != nil {
			return nil, err
		}
		kt, key, err := field(id)
		if err != nil {
			return nil, err
		}
		f := OrderBy{Type: kt, Key: key}
		if seen[f] {
			return nil, invalid("`order_by` contains duplicate fields: %s", pyList(clauses))
		}
		seen[f] = true
		f.Ascending = asc
		out = append(out, f)
	}
	return out, nil
}
