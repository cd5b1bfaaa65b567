package search

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"hash/fnv"
	"strconv"
	"unicode/utf8"
)

// EncodePageToken returns the token of the page starting at offset, exactly as
// MLflow makes it: base64 of the JSON {"offset": N} (with Python's spacing).
func EncodePageToken(offset int) string {
	return base64.StdEncoding.EncodeToString([]byte(`{"offset": ` + strconv.Itoa(offset) + `}`))
}

// DecodePageToken returns the offset a page token stands for; the empty token is
// offset 0. A token that is not base64, not JSON, or has no positive integer
// "offset" is an INVALID_PARAMETER_VALUE error with MLflow's messages. (MLflow
// accepts negative offsets and answers non-object JSON with an internal error;
// both are refused here as invalid.)
func DecodePageToken(token string) (int, error) {
	if token == "" {
		return 0, nil
	}
	raw, err := base64.StdEncoding.DecodeString(token)
	if err != nil {
		return 0, invalid("Invalid page token, could not base64-decode")
	}
	var parsed map[string]json.RawMessage
	if err := json.Unmarshal(raw, &parsed); err != nil {
		if !json.Valid(raw) {
			return 0, invalid("Invalid page token, decoded value=b%s", pyRepr(string(raw)))
		}
		return 0, invalid("Invalid page token, parsed value=%s", raw)
	}
	off, ok := parsed["offset"]
	if !ok || bytes.Equal(off, []byte("0")) || bytes.Equal(off, []byte("null")) || bytes.Equal(off, []byte(`""`)) {
		return 0, invalid("Invalid page token, parsed value=%s", raw)
	}
	// Python's int() takes numbers and numeric strings alike.
	var text string
	if err := json.Unmarshal(off, &text); err != nil {
		text = string(off)
	}
	n, err := strconv.Atoi(text)
	if err != nil {
		return 0, invalid("Invalid page token, not stringable %s", text)
	}
	if n <= 0 {
		return 0, invalid("Invalid page token, parsed value=%s", raw)
	}
	return n, nil
}

// RunPosition is what a runs page token holds: MLflow's offset of the page,
// and, in the tokens this server hands out, where the previous page ended
// (the sort key values of its last run, see RunKeyValues) with the
// fingerprint of the search it pages (SearchFingerprint).
type RunPosition struct {
	Offset int
	// After holds the previous page's last run's sort key values (int64,
	// float64, string or nil), empty in MLflow's own tokens.
	After []any
	// Search is the fingerprint of the search that made the token.
	Search string
}

// runToken is the JSON of a runs page token. MLflow's servers read "offset"
// alone (SearchUtils.parse_start_offset_from_page_token), so a token of ours
// stays valid there and on the offset path.
type runToken struct {
	Offset int       `json:"offset"`
	After  []*string `json:"after,omitempty"`
	Search string    `json:"search,omitempty"`
}

// EncodeRunPageToken returns the token of the page at p.Offset that resumes
// after p.After. Each key value is a string tagged by its type ("i" int64, "f"
// float64, "s" string; null is NULL), so that it binds back as it was read.
func EncodeRunPageToken(p RunPosition) string {
	if len(p.After) == 0 {
		return EncodePageToken(p.Offset)
	}
	tok := runToken{Offset: p.Offset, Search: p.Search, After: make([]*string, len(p.After))}
	for i, v := range p.After {
		var s string
		switch v := v.(type) {
		case nil:
			continue
		case int64:
			s = "i" + strconv.FormatInt(v, 10)
		case float64:
			s = "f" + strconv.FormatFloat(v, 'g', -1, 64)
		case string:
			if !utf8.ValidString(v) {
				return EncodePageToken(p.Offset) // JSON would replace the invalid bytes
			}
			s = "s" + v
		default:
			// RunKeyValues gives these types only: without a
			// position the token is an offset one, still correct.
			return EncodePageToken(p.Offset)
		}
		tok.After[i] = &s
	}
	raw, _ := json.Marshal(tok)
	return base64.StdEncoding.EncodeToString(raw)
}

// DecodeRunPageToken returns the position a runs page token stands for. The
// offset is read and checked as DecodePageToken does (MLflow's errors); a
// position that does not parse is dropped, leaving the offset alone, which
// pages the same way on unchanged data.
func DecodeRunPageToken(token string) (RunPosition, error) {
	off, err := DecodePageToken(token)
	if err != nil || off == 0 {
		return RunPosition{Offset: off}, err
	}
	p := RunPosition{Offset: off}
	raw, _ := base64.StdEncoding.DecodeString(token)
	var tok struct {
		After  []*string `json:"after"`
		Search string    `json:"search"`
	}
	if json.Unmarshal(raw, &tok) != nil || len(tok.After) == 0 || tok.Search == "" {
		return p, nil
	}
	after := make([]any, len(tok.After))
	for i, s := range tok.After {
		if s == nil {
			continue
		}
		v, ok := keyValue(*s)
		if !ok {
			return p, nil
		}
		after[i] = v
	}
	p.After, p.Search = after, tok.Search
	return p, nil
}

// keyValue reads one tagged key value of a token.
func keyValue(s string) (any, bool) {
	if s == "" {
		return nil, false
	}
	switch body := s[1:]; s[0] {
	case 'i':
		n, err := strconv.ParseInt(body, 10, 64)
		return n, err == nil
	case 'f':
		f, err := strconv.ParseFloat(body, 64)
		return f, err == nil
	case 's':
		return body, true
	}
	return nil, false
}

// SearchFingerprint identifies a runs search for its page tokens: a token
// resumes after its key values only in the search that made it (the same
// experiments, view, filter and ordering); elsewhere its offset stands.
func SearchFingerprint(experimentIDs []string, view, filter string, orderBy []string) string {
	h := fnv.New64a()
	for _, part := range [][]string{experimentIDs, {view, filter}, orderBy} {
		for _, s := range part {
			h.Write([]byte(s))
			h.Write([]byte{0})
		}
		h.Write([]byte{1})
	}
	return strconv.FormatUint(h.Sum64(), 36)
}
