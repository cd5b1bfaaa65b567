package dataset

import (
	"errors"
	"fmt"
	"strings"
)

// ErrChecksum is wrapped by the *Error returned when content does not have
// the SHA-256 it was expected to have, or a binary file fails its checksum.
var ErrChecksum = errors.New("checksum mismatch")

// ErrTruncated is wrapped by the *Error returned when an archive or binary
// file ends before its content does.
var ErrTruncated = errors.New("truncated")

// Error is a problem with input data, located as precisely as known.
type Error struct {
	File   string // path, URL or name the data came from (an archive member is "archive[member]")
	Line   int    // 1-based line number in the file; 0 when not about one line
	Column int    // 1-based column number; 0 when not about one column
	Msg    string // what is wrong
	Err    error  // underlying cause, if any
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.Column > 0 {
		fmt.Fprintf(&b, ": column %d", e.Column)
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }
