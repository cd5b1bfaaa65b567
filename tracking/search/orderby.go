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
