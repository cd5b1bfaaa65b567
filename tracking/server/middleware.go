package server

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/wire"
)

// limitBody bounds the request body; reading past max fails with
// *http.MaxBytesError, which writeError answers with 413.
func limitBody(max int64, h http.Handler) http.Handler {
	if max <= 0 {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > max {
			writeError(w, r, slog.New(slog.DiscardHandler), &http.MaxBytesError{Limit: max})
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, max)
		h.ServeHTTP(w, r)
	})
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
