package artifacts

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mlops-lab/housing/tracking"
)

// Multipart upload defaults, MLflow's (MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE,
// MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE).
const (
	DefaultMultipartMinFileSize = 500 << 20
	DefaultMultipartChunkSize   = 10 << 20
	DefaultMultipartConcurrency = 4
)

// MultipartAPIPath is the tracking server's multipart upload API; create,
// complete and abort follow it, then the destination directory.
const MultipartAPIPath = "/api/2.0/mlflow-artifacts/mpu"

// unsupportedMultipartMessage starts the message of the error a server answers
// when its artifact store cannot take multipart uploads (MLflow's local store).
const unsupportedMultipartMessage = "Multipart upload is not supported for the current artifact repository"

// abortTimeout bounds the abort sent after a failed multipart upload.
const abortTimeout = 30 * time.Second

// MultipartConfig says when the HTTP repository uploads a file in parts through
// the tracking server's multipart API (mlflow-artifacts/mpu), as MLflow's client
// does with MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD. A server that answers that it
// cannot (501) gets a single PUT instead.
type MultipartConfig struct {
	// Enabled turns multipart uploads on. MLflow leaves them off by default:
	// with an S3 destination, parts go to presigned URLs naming the S3 endpoint
	// the server uses, which clients outside its network may not reach.
	Enabled bool
	// MinFileSize is the size from which uploads go in parts; 0 means
	// DefaultMultipartMinFileSize.
	MinFileSize int64
	// ChunkSize is the size of every part but the last; 0 means
	// DefaultMultipartChunkSize. S3 destinations need at least 5 MiB. It grows
	// when a file would need more than MaxParts parts.
	ChunkSize int64
	// Concurrency is how many parts are in flight at once when the source can be
	// read at offsets (a file); 0 means DefaultMultipartConcurrency. Other
	// sources go one part after the other.
	Concurrency int
	// PartClient carries the part uploads. They go to presigned URLs (S3's or
	// the server's own, signed), so they must not carry the tracking server's
	// credentials; nil means http.DefaultClient.
	PartClient *http.Client
}

// MultipartConfigFromEnv reads MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD,
// MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE and MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE.
func MultipartConfigFromEnv(getenv func(string) string) (MultipartConfig, error) {
	var cfg MultipartConfig
	if v := getenv("MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return cfg, fmt.Errorf("artifacts: MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD=%q is not a boolean (true or false)", v)
		}
		cfg.Enabled = b
	}
	for _, e := range []struct {
		name string
		dst  *int64
	}{{"MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE", &cfg.MinFileSize}, {"MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE", &cfg.ChunkSize}} {
		if v := getenv(e.name); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n <= 0 {
				return cfg, fmt.Errorf("artifacts: %s=%q is not a positive number of bytes", e.name, v)
			}
			*e.dst = n
		}
	}
	return cfg, nil
}

// WithMultipart returns a copy of h that uploads files of cfg.MinFileSize or
// more in parts.
func (h *HTTP) WithMultipart(cfg MultipartConfig) *HTTP {
	if cfg.MinFileSize <= 0 {
		cfg.MinFileSize = DefaultMultipartMinFileSize
	}
	if cfg.ChunkSize <= 0 {
		cfg.ChunkSize = DefaultMultipartChunkSize
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultMultipartConcurrency
	}
	if cfg.PartClient == nil {
		cfg.PartClient = http.DefaultClient
	}
	c := *h
	c.mpu = cfg
	return &c
}

// errNoMultipart means the server cannot take multipart uploads: send one PUT.
var errNoMultipart = errors.New("artifacts: server does not support multipart upload")

// multipartRequest is what create, complete and abort send. Path carries the
// file's name: the server stores the upload under the URL's directory and the
// base name of path, as MLflow's does with the local file's path.
type multipartRequest struct {
	Path     string                 `json:"path"`
	NumParts int                    `json:"num_parts,omitempty"`
	UploadID string                 `json:"upload_id,omitempty"`
	Parts    []multipartRequestPart `json:"parts,omitempty"`
}

type multipartRequestPart struct {
	PartNumber int    `json:"part_number"`
	ETag       string `json:"etag"`
	URL        string `json:"url,omitempty"`
}

type createMultipartResponse struct {
	UploadID    string `json:"upload_id"`
	Credentials []struct {
		URL        string            `json:"url"`
		PartNumber int               `json:"part_number"`
		Headers    map[string]string `json:"headers"`
	} `json:"credentials"`
}

// putMultipart uploads size bytes of r to full in parts. It returns
// errNoMultipart, having read nothing of r, when the server cannot take them.
// A failed upload is aborted.
func (h *HTTP) putMultipart(ctx context.Context, full string, r io.Reader, size int64) error {
	dir, name := "", full
	if i := strings.LastIndex(full, "/"); i >= 0 {
		dir, name = full[:i], full[i+1:]
	}
	chunk := max(h.mpu.ChunkSize, (size+MaxParts-1)/MaxParts)
	n := int((size + chunk - 1) / chunk)

	var created createMultipartResponse
	err := h.mpuCall(ctx, "create", dir, multipartRequest{Path: name, NumParts: n}, &created)
	if err != nil {
		if tracking.ErrorCodeOf(err) == tracking.ErrNotImplemented || strings.HasPrefix(tracking.ErrorMessage(err), unsupportedMultipartMessage) {
			return errNoMultipart
		}
		return fmt.Errorf("artifacts: multipart upload of %s: %w", full, err)
	}
	parts, err := h.uploadParts(ctx, &created, r, size, chunk, n)
	if err == nil {
		err = h.mpuCall(ctx, "complete", dir, multipartRequest{Path: name, UploadID: created.UploadID, Parts: parts}, nil)
	}
	if err != nil {
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
		defer cancel()
		if aerr := h.mpuCall(actx, "abort", dir, multipartRequest{Path: name, UploadID: created.UploadID}, nil); aerr != nil {
			err = errors.Join(err, fmt.Errorf("abort: %w", aerr))
		}
		return fmt.Errorf("artifacts: multipart upload of %s: %w", full, err)
	}
	return nil
}

// uploadParts PUTs every part to its URL and returns the parts with their
// ETags, in part order. A source that can be read at offsets has several parts
// in flight; any other is read once, part after part. No part is held in memory.
func (h *HTTP) uploadParts(ctx context.Context, created *createMultipartResponse, r io.Reader, size, chunk int64, n int) ([]multipartRequestPart, error) {
	if len(created.Credentials) != n {
		return nil, fmt.Errorf("server answered %d part URLs for %d parts", len(created.Credentials), n)
	}
	parts := make([]multipartRequestPart, n)
	section := func(i int) (int64, int64) {
		off := int64(i) * chunk
		return off, min(chunk, size-off)
	}
	put := func(ctx context.Context, i int, body io.Reader, length int64) error {
		c := created.Credentials[i]
		etag, err := h.putPart(ctx, c.URL, c.Headers, body, length)
		if err != nil {
			return fmt.Errorf("part %d: %w", c.PartNumber, err)
		}
		parts[i] = multipartRequestPart{PartNumber: c.PartNumber, ETag: etag, URL: c.URL}
		return nil
	}
	ra, ok := r.(io.ReaderAt)
	if !ok {
		for i := range n {
			_, length := section(i)
			if err := put(ctx, i, io.LimitReader(r, length), length); err != nil {
				return nil, err
			}
		}
		return parts, nil
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(h.mpu.Concurrency, n) {
		wg.Go(func() {
			for i := range next {
				off, length := section(i)
				if err := put(ctx, i, io.NewSectionReader(ra, off, length), length); err != nil {
					cancel(err)
				}
			}
		})
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	return parts, nil
}

// putPart PUTs one part to its URL and returns the ETag the answer carries.
func (h *HTTP) putPart(ctx context.Context, partURL string, headers map[string]string, body io.Reader, length int64) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, partURL, body)
	if err != nil {
		return "", err
	}
	req.ContentLength = length
	if length == 0 {
		req.Body = http.NoBody
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := h.mpu.PartClient.Do(req)
	if err != nil {
		return "", err
	}
	defer drainClose(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", ResponseError(resp, "PUT part")
	}
	etag := resp.Header.Get("ETag")
	if etag == "" {
		return "", fmt.Errorf("the answer to the part's PUT has no ETag")
	}
	return etag, nil
}

// mpuCall POSTs body to the multipart API's op (create, complete, abort) for
// the directory dir and decodes the answer into out, when not nil.
func (h *HTTP) mpuCall(ctx context.Context, op, dir string, body multipartRequest, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	u := h.base + MultipartAPIPath + "/" + op + "/" + escapePath(dir)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := h.client.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	defer drainClose(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return ResponseError(resp, op)
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return fmt.Errorf("%s: decode answer: %w", op, err)
		}
	}
	return nil
}

// escapePath percent-escapes each segment of a slash-separated path.
func escapePath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}
