package search

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strconv"
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
