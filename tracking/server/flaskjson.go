package server

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"net/http"
	"slices"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/mlops-lab/housing/tracking/wire"
)

// The web UI's ajax-only endpoints that MLflow answers with a Python dict
// (metrics/get-history-bulk, gateway-proxy) go through Flask's JSON provider,
// not through protobuf's JSON mapping as the REST API does: keys sorted,
// compact separators, non-ASCII escaped, a trailing newline, and NaN and the
// infinities as the bare (non-standard) tokens NaN, Infinity and -Infinity,
// which Python's and JavaScript's lenient readers accept.

// encodeFlask writes v as Flask's jsonify does, with status 200.
func encodeFlask(w http.ResponseWriter, v any) error {
	b, err := appendFlask(nil, v)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b) // the client went away: nothing left to tell it
	return nil
}

// appendFlask appends v, one of map[string]any, []any, string, json.Number,
// float64, int64, bool or nil (what a JSON decoder with UseNumber gives, plus
// the Go numbers the handlers build), as Python's json.dumps(v,
// sort_keys=True, separators=(",", ":")) writes it.
func appendFlask(b []byte, v any) ([]byte, error) {
	switch t := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case bool:
		return strconv.AppendBool(b, t), nil
	case string:
		return appendPythonString(b, t), nil
	case int64:
		return strconv.AppendInt(b, t, 10), nil
	case float64:
		return appendPythonFloat(b, t), nil
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return strconv.AppendInt(b, i, 10), nil
		}
		f, err := t.Float64()
		if err != nil {
			return nil, fmt.Errorf("number %q: %w", t, err)
		}
		// Python re-reads a JSON float as a float: 1E5 is written back as 100000.0.
		return appendPythonFloat(b, f), nil
	case []any:
		b = append(b, '[')
		for i, e := range t {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendFlask(b, e); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	case map[string]any:
		b = append(b, '{')
		for i, k := range slices.Sorted(maps.Keys(t)) {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendPythonString(b, k)
			b = append(b, ':')
			var err error
			if b, err = appendFlask(b, t[k]); err != nil {
				return nil, err
			}
		}
		return append(b, '}'), nil
	}
	return nil, fmt.Errorf("cannot write %T as JSON", v)
}

// appendPythonFloat writes f as Python's json.dumps: repr for finite values,
// NaN, Infinity and -Infinity otherwise.
func appendPythonFloat(b []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(b, "NaN"...)
	case math.IsInf(f, 1):
		return append(b, "Infinity"...)
	case math.IsInf(f, -1):
		return append(b, "-Infinity"...)
	}
	return append(b, wire.FormatFloat(f)...)
}

// appendPythonString writes s as json.dumps with ensure_ascii: the two-letter
// escapes, \u00XX for other control characters, \uXXXX (surrogate pairs
// beyond the BMP) for everything outside ASCII.
func appendPythonString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	u := func(b []byte, r rune) []byte {
		return append(b, '\\', 'u', hex[r>>12&0xf], hex[r>>8&0xf], hex[r>>4&0xf], hex[r&0xf])
	}
	b = append(b, '"')
	for _, r := range s {
		switch {
		case r == '"':
			b = append(b, '\\', '"')
		case r == '\\':
			b = append(b, '\\', '\\')
		case r == '\n':
			b = append(b, '\\', 'n')
		case r == '\r':
			b = append(b, '\\', 'r')
		case r == '\t':
			b = append(b, '\\', 't')
		case r == '\b':
			b = append(b, '\\', 'b')
		case r == '\f':
			b = append(b, '\\', 'f')
		case r < 0x20:
			b = u(b, r)
		case r < utf8.RuneSelf:
			b = append(b, byte(r))
		case r > 0xffff:
			r1, r2 := utf16.EncodeRune(r)
			b = u(u(b, r1), r2)
		default:
			b = u(b, r)
		}
	}
	return append(b, '"')
}
