package artifacts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/mlops-lab/housing/tracking"
)

// ArtifactsAPIPath is where a tracking server proxies its artifact store.
const ArtifactsAPIPath = "/api/2.0/mlflow-artifacts/artifacts"

// maxErrorBody bounds how much of an error response is read.
const maxErrorBody = 64 << 10

// HTTP is an artifact repository behind a tracking server's artifact proxy: the
// repository of mlflow-artifacts:/<root> URIs.
type HTTP struct {
	base   string // scheme://host[:port][/prefix], no trailing slash
	root   string // path under the proxy, e.g. "1/<run>/artifacts"
	client *http.Client
	mpu    MultipartConfig // multipart uploads when mpu.Enabled (WithMultipart)
}

var _ tracking.ArtifactRepository = (*HTTP)(nil)

// NewHTTP returns the repository at root under the artifact proxy of the tracking
// server at baseURL. client carries the requests (authentication, TLS); nil means
// http.DefaultClient. Requests are not retried: bodies are streams.
func NewHTTP(baseURL, root string, client *http.Client) (*HTTP, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("artifacts: tracking server URL %q must look like http(s)://host[:port][/prefix]", baseURL)
	}
	clean, err := CleanPath(root)
	if err != nil {
		return nil, fmt.Errorf("artifacts: proxied root %q: %w", root, err)
	}
	if client == nil {
		client = http.DefaultClient
	}
	return &HTTP{base: strings.TrimRight(baseURL, "/"), root: clean, client: client}, nil
}

// fileURL returns the URL of the file or directory at the proxy path full.
func (h *HTTP) fileURL(full string) string {
	segs := strings.Split(full, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return h.base + ArtifactsAPIPath + "/" + strings.Join(segs, "/")
}

func (h *HTTP) full(p string) (string, error) {
	clean, err := CleanPath(p)
	if err != nil {
		return "", err
	}
	return joinPath(h.root, clean), nil
}

// Put streams r to the proxy with one PUT (chunked when size is -1), or in
// parts when multipart uploads are on (WithMultipart) and size is known and
// large enough; a server that cannot take parts gets the one PUT.
func (h *HTTP) Put(ctx context.Context, p string, r io.Reader, size int64) error {
	full, err := h.full(p)
	if err != nil {
		return err
	}
	if full == h.root {
		return tracking.Errorf(tracking.ErrInvalidParameterValue, "Invalid path: a file needs a name")
	}
	if h.mpu.Enabled && size > 0 && size >= h.mpu.MinFileSize {
		if err := h.putMultipart(ctx, full, r, size); !errors.Is(err, errNoMultipart) {
			return err
		}
	}
	body := io.NopCloser(r)
	if size == 0 {
		body = http.NoBody
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, h.fileURL(full), body)
	if err != nil {
		return fmt.Errorf("artifacts: PUT %s: %w", full, err)
	}
	if size > 0 {
		req.ContentLength = size
	}
	req.Header.Set("Content-Type", contentType(full))
	resp, err := h.client.Do(req)
	if err != nil {
		return fmt.Errorf("artifacts: PUT %s: %w", full, err)
	}
	defer drainClose(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return ResponseError(resp, "PUT "+full)
	}
	return nil
}

// Get opens the file at p. MLflow's server answers a missing file with 500, so a
// failed GET is followed by a listing of the parent to tell "missing" apart.
func (h *HTTP) Get(ctx context.Context, p string) (io.ReadCloser, error) {
	full, err := h.full(p)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.fileURL(full), nil)
	if err != nil {
		return nil, fmt.Errorf("artifacts: GET %s: %w", full, err)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("artifacts: GET %s: %w", full, err)
	}
	if resp.StatusCode == http.StatusOK {
		return resp.Body, nil
	}
	defer drainClose(resp.Body)
	getErr := ResponseError(resp, "GET "+full)
	if resp.StatusCode == http.StatusInternalServerError && !tracking.IsNotFound(getErr) {
		if exists, lerr := h.exists(ctx, full); lerr == nil && !exists {
			return nil, tracking.Errorf(tracking.ErrResourceDoesNotExist, "Artifact %s not found", strings.TrimPrefix(full, h.root+"/"))
		}
	}
	return nil, getErr
}

// exists reports whether the parent directory of full lists full as a file.
func (h *HTTP) exists(ctx context.Context, full string) (bool, error) {
	parent, name := "", full
	if i := strings.LastIndex(full, "/"); i >= 0 {
		parent, name = full[:i], full[i+1:]
	}
	files, err := h.list(ctx, parent)
	if err != nil {
		return false, err
	}
	for _, f := range files {
		if f.Path == name && !f.IsDir {
			return true, nil
		}
	}
	return false, nil
}

// listResponse is the body of GET .../mlflow-artifacts/artifacts?path=.
type listResponse struct {
	Files []struct {
		Path     string `json:"path"`
		IsDir    bool   `json:"is_dir"`
		FileSize int64  `json:"file_size"`
	} `json:"files"`
}

// list lists the proxy directory full; paths in the answer are relative to it.
func (h *HTTP) list(ctx context.Context, full string) ([]tracking.FileInfo, error) {
	u := h.base + ArtifactsAPIPath
	if full != "" {
		u += "?path=" + url.QueryEscape(full)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("artifacts: list %s: %w", full, err)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("artifacts: list %s: %w", full, err)
	}
	defer drainClose(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return nil, ResponseError(resp, "list "+full)
	}
	var body listResponse
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("artifacts: list %s: decode answer: %w", full, err)
	}
	out := make([]tracking.FileInfo, 0, len(body.Files))
	for _, f := range body.Files {
		info := tracking.FileInfo{Path: f.Path, IsDir: f.IsDir}
		if !f.IsDir {
			info.FileSize = f.FileSize
		}
		out = append(out, info)
	}
	return out, nil
}

// List lists the children of p, with paths relative to the repository's root.
func (h *HTTP) List(ctx context.Context, p string) ([]tracking.FileInfo, error) {
	full, err := h.full(p)
	if err != nil {
		return nil, err
	}
	files, err := h.list(ctx, full)
	if err != nil {
		return nil, err
	}
	rel := strings.TrimPrefix(strings.TrimPrefix(full, h.root), "/")
	for i := range files {
		name, err := CleanPath(files[i].Path)
		if err != nil || name == "" || strings.Contains(name, "/") {
			return nil, fmt.Errorf("artifacts: list %s: server sent a bad entry %q", full, files[i].Path)
		}
		files[i].Path = joinPath(rel, name)
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	return files, nil
}

// Delete removes the file or tree at p.
func (h *HTTP) Delete(ctx context.Context, p string) error {
	full, err := h.full(p)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, h.fileURL(full), nil)
	if err != nil {
		return fmt.Errorf("artifacts: DELETE %s: %w", full, err)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return fmt.Errorf("artifacts: DELETE %s: %w", full, err)
	}
	defer drainClose(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return ResponseError(resp, "DELETE "+full)
	}
	return nil
}

// ResponseError turns a failed response of an MLflow server into a
// *tracking.Error: the error_code and message of a JSON error body, or a code
// for the status (tracking.CodeForStatus) when the body is not one. what names
// the request for the message.
func ResponseError(resp *http.Response, what string) error {
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	var body struct {
		ErrorCode string `json:"error_code"`
		Message   string `json:"message"`
	}
	if json.Unmarshal(raw, &body) == nil && body.ErrorCode != "" {
		return &tracking.Error{Code: tracking.ErrorCode(body.ErrorCode), Message: body.Message}
	}
	text := strings.TrimSpace(string(raw))
	if len(text) > 200 {
		text = text[:200] + "..."
	}
	return tracking.Errorf(tracking.CodeForStatus(resp.StatusCode), "%s: HTTP %s: %s", what, resp.Status, text)
}

// drainClose reads a little of what is left so the connection can be reused.
func drainClose(rc io.ReadCloser) {
	io.Copy(io.Discard, io.LimitReader(rc, maxErrorBody))
	rc.Close()
}
