package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/wire"
)

// maxErrorBody bounds how much of an error answer is read.
const maxErrorBody = 64 << 10

// retryStatus are the statuses MLflow's client retries (urllib3's status_forcelist).
var retryStatus = map[int]bool{
	http.StatusRequestTimeout:      true,
	http.StatusTooManyRequests:     true,
	http.StatusInternalServerError: true,
	http.StatusBadGateway:          true,
	http.StatusServiceUnavailable:  true,
	http.StatusGatewayTimeout:      true,
}

func (c *Client) get(ctx context.Context, path string, query url.Values, out any) error {
	return c.do(ctx, http.MethodGet, path, query, nil, out)
}

func (c *Client) post(ctx context.Context, path string, in, out any) error {
	return c.do(ctx, http.MethodPost, path, nil, in, out)
}

// do sends one REST call, retrying transient failures, and decodes a 200 answer
// into out (nil: ignore the body). Bodies are byte slices, so every attempt can
// send them again.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return fmt.Errorf("client: %s %s: encode request: %w", method, path, err)
		}
	}
	target := c.base + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	for attempt := 0; ; attempt++ {
		retryAfter, err := c.attempt(ctx, method, target, path, body, out)
		if err == nil {
			return nil
		}
		var rerr *retryable
		if !errors.As(err, &rerr) || attempt >= c.retries {
			if rerr != nil {
				return rerr.err
			}
			return err
		}
		wait := c.backoff.wait(attempt)
		if retryAfter > 0 {
			wait = min(retryAfter, c.backoff.max)
		}
		if c.log != nil {
			c.log.WarnContext(ctx, "retrying MLflow request", "method", method, "path", path, "attempt", attempt+1, "wait", wait, "err", rerr.err)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("client: %s %s: %w (after %d attempts, last: %v)", method, path, ctx.Err(), attempt+1, rerr.err)
		case <-t.C:
		}
	}
}

// retryable marks an error worth another attempt.
type retryable struct{ err error }

func (r *retryable) Error() string { return r.err.Error() }
func (r *retryable) Unwrap() error { return r.err }

// attempt makes one request. It returns a *retryable error for failures that may
// pass, and the server's Retry-After when it sent one.
func (c *Client) attempt(ctx context.Context, method, target, path string, body []byte, out any) (time.Duration, error) {
	actx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(actx, method, target, rd)
	if err != nil {
		return 0, fmt.Errorf("client: %s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		err = fmt.Errorf("client: %s %s: %w", method, path, err)
		if ctx.Err() != nil || isCertificateError(err) {
			return 0, err
		}
		return 0, &retryable{err} // connection refused or reset, attempt timed out, ...
	}
	defer func() {
		io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
		resp.Body.Close()
	}()
	if resp.StatusCode != http.StatusOK {
		err := responseError(resp, method+" "+path)
		if retryStatus[resp.StatusCode] {
			return retryAfter(resp.Header.Get("Retry-After")), &retryable{err}
		}
		return 0, err
	}
	if out == nil {
		return 0, nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		err = fmt.Errorf("client: %s %s: decode answer: %w", method, path, err)
		if ctx.Err() == nil && actx.Err() != nil {
			return 0, &retryable{err} // the attempt timed out while reading
		}
		return 0, err
	}
	return 0, nil
}

// isCertificateError reports whether err is a TLS certificate problem, which no
// retry will fix.
func isCertificateError(err error) bool {
	var verr *tls.CertificateVerificationError
	var unknown x509.UnknownAuthorityError
	var host x509.HostnameError
	var invalid x509.CertificateInvalidError
	return errors.As(err, &verr) || errors.As(err, &unknown) || errors.As(err, &host) || errors.As(err, &invalid)
}

// retryAfter parses a Retry-After header given in seconds; 0 when absent or a date.
func retryAfter(v string) time.Duration {
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	return 0
}

// responseError turns a failed answer into a *tracking.Error: MLflow's error body
// when there is one, else a code for the status.
func responseError(resp *http.Response, what string) error {
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	var body wire.ErrorResponse
	if json.Unmarshal(raw, &body) == nil && body.ErrorCode != "" {
		return body.Err()
	}
	text := strings.TrimSpace(string(raw))
	if len(text) > 200 {
		text = text[:200] + "..."
	}
	return tracking.Errorf(tracking.CodeForStatus(resp.StatusCode), "%s: HTTP %s: %s", what, resp.Status, text)
}
