package search

import "strings"

// likeElem is one element of a LIKE pattern: '%', '_' or a literal character.
type likeElem struct {
	wild rune // '%' or '_', or 0 for a literal
	lit  rune
}

// parseLike reads a LIKE pattern with PostgreSQL's default escape character: a
// backslash makes the next character literal (a trailing backslash is literal
// itself). Both dialects give patterns this meaning, so a filter means the same on
// SQLite and PostgreSQL.
func parseLike(p string) []likeElem {
	rs := []rune(p)
	out := make([]likeElem, 0, len(rs))
	for i := 0; i < len(rs); i++ {
		switch r := rs[i]; {
		case r == '\\' && i+1 < len(rs):
			i++
			out = append(out, likeElem{lit: rs[i]})
		case r == '%' || r == '_':
			out = append(out, likeElem{wild: r})
		default:
			out = append(out, likeElem{lit: r})
		}
	}
	return out
}

// likePattern renders a pattern for LIKE ... with '\' as the escape character
// (PostgreSQL's default; SQLite needs ESCAPE '\').
func likePattern(elems []likeElem) string {
	var b strings.Builder
	for _, e := range elems {
		switch {
		case e.wild != 0:
			b.WriteRune(e.wild)
		case e.lit == '%' || e.lit == '_' || e.lit == '\\':
			b.WriteByte('\\')
			b.WriteRune(e.lit)
		default:
			b.WriteRune(e.lit)
		}
	}
	return b.String()
}

// globPattern renders a pattern for SQLite's GLOB, which is case-sensitive
// whatever the connection's case_sensitive_like: '%' is '*', '_' is '?', and GLOB's
// own special characters are bracketed to stand for themselves.
func globPattern(elems []likeElem) string {
	var b strings.Builder
	for _, e := range elems {
		switch {
		case e.wild == '%':
			b.WriteByte('*')
		case e.wild == '_':
			b.WriteByte('?')
		case e.lit == '*' || e.lit == '?' || e.lit == '[':
			b.WriteByte('[')
			b.WriteRune(e.lit)
			b.WriteByte(']')
		default:
			b.WriteRune(e.lit)
		}
	}
	return b.String()
}
