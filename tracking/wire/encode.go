package wire

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// Marshal writes v as MLflow's server writes success bodies: json.dumps with
// indent=2 (two-space indent, ", "-free line ends, non-ASCII escaped as \uXXXX,
// HTML characters kept) and no trailing newline. An empty message is {}.
func Marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("wire: encode %T: %w", v, err)
	}
	return asciiOnly(bytes.TrimRight(buf.Bytes(), "\n")), nil
}

// MarshalError writes an error body as MLflow does: compact json.dumps style,
// {"error_code": "...", "message": "..."}.
func MarshalError(e ErrorResponse) []byte {
	var buf bytes.Buffer
	buf.WriteString(`{"error_code": `)
	writeString(&buf, e.ErrorCode)
	buf.WriteString(`, "message": `)
	writeString(&buf, e.Message)
	buf.WriteByte('}')
	return asciiOnly(buf.Bytes())
}

func writeString(buf *bytes.Buffer, s string) {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	buf.Truncate(buf.Len() - 1)
}

// asciiOnly escapes every non-ASCII rune as Python's ensure_ascii does (UTF-16
// surrogate pairs beyond the BMP). Non-ASCII bytes only occur inside JSON
// strings, so escaping them in place keeps the document valid.
func asciiOnly(b []byte) []byte {
	ascii := true
	for _, c := range b {
		if c >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return b
	}
	out := make([]byte, 0, len(b)+16)
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		b = b[size:]
		switch {
		case r < utf8.RuneSelf:
			out = append(out, byte(r))
		case r > 0xFFFF:
			r -= 0x10000
			out = fmt.Appendf(out, `\u%04x\u%04x`, 0xD800+(r>>10), 0xDC00+(r&0x3FF))
		default:
			out = fmt.Appendf(out, `\u%04x`, r)
		}
	}
	return out
}
