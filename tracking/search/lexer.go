package search

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// tokenKind says what a lexed token is.
type tokenKind int

const (
	tokEOF      tokenKind = iota
	tokWord               // bare word: letters, digits, underscores (AND, metrics, r2, LIKE ...)
	tokBacktick           // `quoted identifier`
	tokDouble             // "double quoted": an identifier part or a string value, by position
	tokSingle             // 'single quoted' string value
	tokNumber             // -?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?
	tokDot                // the '.' joining identifier parts
	tokOp                 // a run of comparison characters: = != > >= < <= (and invalid ones like >>)
	tokLParen
	tokRParen
	tokComma
)

// token is one lexeme of a filter or order_by string. text is the source text as
// written (quotes included); val is the unquoted, unescaped content of quoted tokens
// and equals text otherwise.
type token struct {
	kind     tokenKind
	text     string
	val      string
	pos, end int // byte offsets in the source
}

// lexError is a tokenizer failure at a byte offset.
type lexError struct {
	pos int
	msg string
}

func (e *lexError) Error() string { return fmt.Sprintf("%s at position %d", e.msg, e.pos) }

// lex splits src into tokens, ending with one tokEOF token.
func lex(src string) ([]token, error) {
	var toks []token
	i := 0
	for i < len(src) {
		r, size := utf8.DecodeRuneInString(src[i:])
		switch {
		case unicode.IsSpace(r):
			i += size
		case r == '`' || r == '"' || r == '\'':
			t, err := lexQuoted(src, i, byte(r))
			if err != nil {
				return nil, err
			}
			toks = append(toks, t)
			i = t.end
		case r == '.' && adjacentIdentifierPart(toks, i):
			toks = append(toks, token{kind: tokDot, text: ".", val: ".", pos: i, end: i + 1})
			i++
		case isWordStart(r) || (isDigit(r) && followsDot(toks, i)):
			// After "metrics." a key may start with a digit ("metrics.2nd"): it is still a word.
			j := i
			for j < len(src) {
				r2, s2 := utf8.DecodeRuneInString(src[j:])
				if !isWordPart(r2) {
					break
				}
				j += s2
			}
			toks = append(toks, token{kind: tokWord, text: src[i:j], val: src[i:j], pos: i, end: j})
			i = j
		case isDigit(r) || r == '.' || r == '-':
			j, ok := scanNumber(src, i)
			if !ok {
				return nil, &lexError{pos: i, msg: fmt.Sprintf("unexpected character %q", r)}
			}
			if j < len(src) {
				if r2, _ := utf8.DecodeRuneInString(src[j:]); isWordPart(r2) || r2 == '.' {
					return nil, &lexError{pos: i, msg: fmt.Sprintf("malformed number %q", src[i:j+1])}
				}
			}
			toks = append(toks, token{kind: tokNumber, text: src[i:j], val: src[i:j], pos: i, end: j})
			i = j
		case strings.ContainsRune("<>=!~", r):
			j := i
			for j < len(src) && strings.IndexByte("<>=!~", src[j]) >= 0 {
				j++
			}
			toks = append(toks, token{kind: tokOp, text: src[i:j], val: src[i:j], pos: i, end: j})
			i = j
		case r == '(' || r == ')' || r == ',':
			kind := map[rune]tokenKind{'(': tokLParen, ')': tokRParen, ',': tokComma}[r]
			toks = append(toks, token{kind: kind, text: string(r), val: string(r), pos: i, end: i + 1})
			i++
		default:
			return nil, &lexError{pos: i, msg: fmt.Sprintf("unexpected character %q", r)}
		}
	}
	toks = append(toks, token{kind: tokEOF, pos: len(src), end: len(src)})
	return toks, nil
}

// lexQuoted reads a quoted token starting at src[start] == q. A doubled quote stands
// for one quote character; in string values (' and ") a backslash-escaped quote does
// too, as in sqlparse. Other backslashes are kept, so LIKE escapes survive.
func lexQuoted(src string, start int, q byte) (token, error) {
	var b strings.Builder
	i := start + 1
	for i < len(src) {
		c := src[i]
		switch {
		case c == '\\' && q != '`' && i+1 < len(src) && src[i+1] == q:
			b.WriteByte(q)
			i += 2
		case c == q && i+1 < len(src) && src[i+1] == q:
			b.WriteByte(q)
			i += 2
		case c == q:
			kind := map[byte]tokenKind{'`': tokBacktick, '"': tokDouble, '\'': tokSingle}[q]
			return token{kind: kind, text: src[start : i+1], val: b.String(), pos: start, end: i + 1}, nil
		default:
			b.WriteByte(c)
			i++
		}
	}
	return token{}, &lexError{pos: start, msg: fmt.Sprintf("unterminated %c-quoted text", q)}
}

// scanNumber returns the end of the number starting at src[i], if one starts there.
func scanNumber(src string, i int) (int, bool) {
	j := i
	if j < len(src) && src[j] == '-' {
		j++
	}
	digits := 0
	for j < len(src) && isDigit(rune(src[j])) {
		j++
		digits++
	}
	if j < len(src) && src[j] == '.' {
		j++
		for j < len(src) && isDigit(rune(src[j])) {
			j++
			digits++
		}
	}
	if digits == 0 {
		return i, false
	}
	if j < len(src) && (src[j] == 'e' || src[j] == 'E') {
		k := j + 1
		if k < len(src) && (src[k] == '+' || src[k] == '-') {
			k++
		}
		if k < len(src) && isDigit(rune(src[k])) {
			for k < len(src) && isDigit(rune(src[k])) {
				k++
			}
			j = k
		}
	}
	return j, true
}

// adjacentIdentifierPart reports whether the last token is an identifier part that
// ends exactly at pos, so that a '.' at pos joins identifier parts.
func adjacentIdentifierPart(toks []token, pos int) bool {
	if len(toks) == 0 {
		return false
	}
	last := toks[len(toks)-1]
	return last.end == pos && (last.kind == tokWord || last.kind == tokBacktick || last.kind == tokDouble)
}

// followsDot reports whether the last token is a '.' ending exactly at pos.
func followsDot(toks []token, pos int) bool {
	return len(toks) > 0 && toks[len(toks)-1].kind == tokDot && toks[len(toks)-1].end == pos
}

func isDigit(r rune) bool     { return r >= '0' && r <= '9' }
func isWordStart(r rune) bool { return r == '_' || unicode.IsLetter(r) }
func isWordPart(r rune) bool  { return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) }
