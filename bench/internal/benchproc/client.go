package benchproc

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// Client speaks the MLflow REST API (JSON) to one server.
type Client struct {
	Base string // http://host:port
	HTTP *http.Client
}

// NewClient returns a client of base keeping up to conns idle connections.
func NewClient(base string, conns int) *Client {
	return &Client{Base: base, HTTP: &http.Client{Timeout: 120 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: conns}}}
}

// Post posts in as JSON and decodes a 200 answer into out (unless out is nil).
func (c *Client) Post(ctx context.Context, path string, in, out any) error {
	b, err := c.PostRaw(ctx, path, in)
	if err != nil || out == nil {
		return err
	}
	return json.Unmarshal(b, out)
}

// PostRaw posts in as JSON and returns the body of a 200 answer.
func (c *Client) PostRaw(ctx context.Context, path string, in any) ([]byte, error) {
	body, err := json.Marshal(in)
	if err != nil {
		return nil, err
	}
	return c.Do(ctx, http.MethodPost, path, bytes.NewReader(body))
}

// PostBody posts body, which is JSON, and returns the body of a 200 answer.
func (c *Client) PostBody(ctx context.Context, path string, body []byte) ([]byte, error) {
	return c.Do(ctx, http.MethodPost, path, bytes.NewReader(body))
}

// Get sends a GET with query q and returns the body of a 200 answer.
func (c *Client) Get(ctx context.Context, path string, q url.Values) ([]byte, error) {
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	return c.Do(ctx, http.MethodGet, path, nil)
}

// Do sends one request (a JSON body if body is not nil) and returns the body of
// a 200 answer; any other status is an error holding the start of the body.
func (c *Client) Do(ctx context.Context, method, path string, body io.Reader) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, body)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	// Read into a buffer of the announced length: io.ReadAll's doubling would
	// copy a 10 MB answer three times over and count that as the server's.
	buf := bytes.NewBuffer(make([]byte, 0, max(resp.ContentLength, 0)+bytes.MinRead))
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s %s: %d %.300s", method, path, resp.StatusCode, b)
	}
	return b, nil
}
