package server

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/wire"
)

// limitBody bounds the request body; reading past max fails with
// *http.MaxBytesError, which writeError answers with 413. After a 413 the rest
// of the body is drained (see drainRefused), so that a client still sending it
// reads the answer.
func limitBody(max int64, h http.Handler) http.Handler {
	if max <= 0 {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := r.Body
		if r.ContentLength > max {
			writeError(w, r, slog.New(slog.DiscardHandler), &http.MaxBytesError{Limit: max})
			drainRefused(w, r, body)
			return
		}
		limited := &limitedBody{ReadCloser: http.MaxBytesReader(w, body, max)}
		r.Body = limited
		h.ServeHTTP(w, r)
		if limited.hit {
			drainRefused(w, r, body)
		}
	})
}

// limitedBody records that a read went past the limit.
type limitedBody struct {
	io.ReadCloser
	hit bool
}

func (b *limitedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		b.hit = true
	}
	return n, err
}

// What drainRefused reads at most, and for how long.
const (
	drainLimit   = 64 << 20
	drainTimeout = 10 * time.Second
)

// drainRefused sends the answer already written, then reads and discards up to
// drainLimit bytes of the refused body (for at most drainTimeout) before the
// connection closes. Closing a socket with unread data makes the kernel reset
// the connection, and the reset discards the answer at a client that is still
// sending (Python's requests sends the whole body before reading): it would
// see "connection reset" instead of the 413. (A client that asked for
// 100-continue and was not told to go on has sent no body: net/http ends its
// body at once.) HTTP/2 ends the one stream, not the connection.
func drainRefused(w http.ResponseWriter, r *http.Request, body io.Reader) {
	if r.ProtoMajor >= 2 {
		return
	}
	rc := http.NewResponseController(w)
	_ = rc.Flush()                                       // the answer goes first
	_ = rc.SetReadDeadline(time.Now().Add(drainTimeout)) // a slow sender does not hold the handler
	_, _ = io.CopyN(io.Discard, body, drainLimit)
}

// recoverPanics turns a handler panic into a logged 500 answer instead of a
// dropped connection.
func recoverPanics(logger *slog.Logger, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				writeError(w, r, logger, fmt.Errorf("panic serving %s %s: %v", r.Method, r.URL.Path, v))
			}
		}()
		h.ServeHTTP(w, r)
	})
}

// rejectTraversal answers 400 "Invalid path", as MLflow does, for artifact
// routes whose path has "..", "." or empty segments or backslashes (raw or
// percent-encoded: r.URL.Path is already decoded). Without it the mux would
// redirect such paths to their cleaned form.
func rejectTraversal(logger *slog.Logger, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rest, ok := artifactRoutePath(r.URL.Path); ok && !safeArtifactPath(rest) {
			writeError(w, r, logger, tracking.Errorf(tracking.ErrInvalidParameterValue, "Invalid path"))
			return
		}
		h.ServeHTTP(w, r)
	})
}

// artifactRoutePath returns what follows the mlflow-artifacts prefix of p.
func artifactRoutePath(p string) (string, bool) {
	for _, prefix := range []string{wire.APIPrefix, wire.AjaxAPIPrefix} {
		if rest, ok := strings.CutPrefix(p, prefix+"/mlflow-artifacts/"); ok {
			return rest, true
		}
	}
	return "", false
}

// safeArtifactPath reports whether p is a relative path without "..", "." or
// empty segments, backslashes or NUL bytes.
func safeArtifactPath(p string) bool {
	if strings.ContainsAny(p, "\\\x00") {
		return false
	}
	segs := strings.Split(p, "/")
	for i, seg := range segs {
		if seg == ".." || seg == "." || (seg == "" && i != len(segs)-1) {
			return false
		}
	}
	return true
}
