package dataset

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// LoadOptions configures Load. The zero value is usable.
type LoadOptions struct {
	// SHA256 is the expected SHA-256 (hex) of the bytes at the source (the
	// file or archive as stored, before parsing). Empty means: the published
	// ArchiveSHA256 when the source is ArchiveURL or ArchiveOriginURL, and no
	// check otherwise.
	SHA256 string
	// CacheDir holds downloaded http(s) files. Empty means
	// os.UserCacheDir()/housing.
	CacheDir string
	// Progress receives download progress lines; nil means none.
	Progress io.Writer
	// Getenv reads the environment for s3:// sources (MLFLOW_S3_ENDPOINT_URL,
	// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN,
	// AWS_DEFAULT_REGION, MLFLOW_S3_IGNORE_TLS). Nil means an empty
	// environment: pass os.Getenv to use the process's.
	Getenv func(string) string
	// HTTPClient fetches http(s):// sources; nil means a client with
	// http.DefaultTransport. Its Transport also serves s3:// requests.
	HTTPClient *http.Client
}

// Load reads the dataset at source, which is a local path (or file:// URL),
// an http(s):// URL, or an s3://bucket/key URL, in any format Read accepts.
//
// An http(s) source is downloaded once into the cache directory and read
// from there afterwards; with an expected SHA-256 the download is checked
// before it enters the cache, and the cached copy is checked before use. An
// s3 source is fetched on each call from the endpoint that
// MLFLOW_S3_ENDPOINT_URL names (AWS S3 when unset), as MLflow does.
//
// A checksum mismatch is an *Error wrapping ErrChecksum.
func Load(ctx context.Context, source string, opt LoadOptions) (*Dataset, error) {
	want := strings.ToLower(opt.SHA256)
	if _, err := hex.DecodeString(want); err != nil || (want != "" && len(want) != 2*sha256.Size) {
		return nil, fmt.Errorf("dataset: LoadOptions.SHA256 %q is not a SHA-256 in hex", opt.SHA256)
	}
	if want == "" && (source == ArchiveURL || source == ArchiveOriginURL) {
		want = ArchiveSHA256
	}
	switch {
	case strings.HasPrefix(source, "http://"), strings.HasPrefix(source, "https://"):
		p, err := fetchHTTP(ctx, source, want, opt)
		if err != nil {
			return nil, err
		}
		return readFile(p, source)
	case strings.HasPrefix(source, "s3://"):
		data, err := fetchS3(ctx, source, opt)
		if err != nil {
			return nil, err
		}
		if err := checkSum(source, sha256.Sum256(data), want); err != nil {
			return nil, err
		}
		return Read(bytes.NewReader(data), source)
	}
	p := strings.TrimPrefix(source, "file://")
	if want != "" {
		got, err := fileSHA256(p)
		if err != nil {
			return nil, fmt.Errorf("dataset: %w", err)
		}
		if err := checkSum(p, got, want); err != nil {
			return nil, err
		}
	}
	return readFile(p, p)
}

// readFile reads the file at p (a cached download of source, or source
// itself), naming source in errors and in the dataset.
func readFile(p, source string) (*Dataset, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	defer f.Close()
	return Read(f, source)
}

func checkSum(name string, got [sha256.Size]byte, want string) error {
	if want == "" || hex.EncodeToString(got[:]) == want {
		return nil
	}
	return &Error{File: name, Msg: fmt.Sprintf("SHA-256 is %x, expected %s", got, want), Err: ErrChecksum}
}

func fileSHA256(p string) ([sha256.Size]byte, error) {
	var sum [sha256.Size]byte
	f, err := os.Open(p)
	if err != nil {
		return sum, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return sum, fmt.Errorf("read %s: %w", p, err)
	}
	copy(sum[:], h.Sum(nil))
	return sum, nil
}

// cachePath names the cache file for rawURL: by the expected checksum when
// there is one (so any URL with the same content shares it), else by the
// URL; the URL's base name is kept for people looking in the directory.
func cachePath(dir, rawURL, want string) string {
	key := want
	if key == "" {
		h := sha256.Sum256([]byte(rawURL))
		key = "url-" + hex.EncodeToString(h[:8])
	}
	base := "data"
	if u, err := url.Parse(rawURL); err == nil && path.Base(u.Path) != "/" && path.Base(u.Path) != "." {
		base = path.Base(u.Path)
	}
	return filepath.Join(dir, key+"-"+base)
}

// fetchHTTP returns the path of a cached copy of rawURL, downloading it first
// if it is not cached (or the cached copy fails its checksum).
func fetchHTTP(ctx context.Context, rawURL, want string, opt LoadOptions) (string, error) {
	dir := opt.CacheDir
	if dir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("dataset: no cache directory for %s (set LoadOptions.CacheDir): %w", rawURL, err)
		}
		dir = filepath.Join(base, "housing")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("dataset: cache directory: %w", err)
	}
	final := cachePath(dir, rawURL, want)
	if _, err := os.Stat(final); err == nil {
		if want == "" {
			return final, nil
		}
		got, err := fileSHA256(final)
		if err == nil && checkSum(final, got, want) == nil {
			return final, nil
		}
		progressf(opt.Progress, "cached %s fails its checksum; downloading again\n", final)
	}

	client := opt.HTTPClient
	if client == nil {
		client = &http.Client{}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return "", fmt.Errorf("dataset: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("dataset: download: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("dataset: download %s: %s", rawURL, resp.Status)
	}
	tmp, err := os.CreateTemp(dir, ".download-*")
	if err != nil {
		return "", fmt.Errorf("dataset: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op once renamed
	h := sha256.New()
	pw := &progressWriter{w: opt.Progress, name: rawURL, total: resp.ContentLength}
	_, err = io.Copy(io.MultiWriter(tmp, h, pw), resp.Body)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("dataset: download %s: %w", rawURL, err)
	}
	var got [sha256.Size]byte
	copy(got[:], h.Sum(nil))
	if err := checkSum(rawURL, got, want); err != nil {
		return "", err
	}
	if err := os.Rename(tmp.Name(), final); err != nil {
		return "", fmt.Errorf("dataset: %w", err)
	}
	progressf(opt.Progress, "downloaded %s: %d bytes, sha256 %x, cached as %s\n", rawURL, pw.done, got, final)
	return final, nil
}

func progressf(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, format, args...)
	}
}

// progressWriter reports a download's progress about every tenth (or every
// 4 MiB when the size is unknown).
type progressWriter struct {
	w          io.Writer
	name       string
	total      int64
	done, next int64
}

func (p *progressWriter) Write(b []byte) (int, error) {
	p.done += int64(len(b))
	if p.w != nil && p.done >= p.next {
		if p.total > 0 {
			progressf(p.w, "downloading %s: %d of %d bytes (%d%%)\n", p.name, p.done, p.total, 100*p.done/p.total)
			p.next = p.done + p.total/10
		} else {
			progressf(p.w, "downloading %s: %d bytes\n", p.name, p.done)
			p.next = p.done + 4<<20
		}
	}
	return len(b), nil
}

// fetchS3 reads the object an s3://bucket/key URL names.
func fetchS3(ctx context.Context, source string, opt LoadOptions) ([]byte, error) {
	getenv := opt.Getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	u, err := url.Parse(source)
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	bucket, key := u.Host, strings.TrimPrefix(u.Path, "/")
	if bucket == "" || key == "" {
		return nil, fmt.Errorf("dataset: %q is not an s3://bucket/key URL", source)
	}
	endpoint, secure := "s3.amazonaws.com", true
	if e := getenv("MLFLOW_S3_ENDPOINT_URL"); e != "" {
		eu, err := url.Parse(e)
		if err != nil || eu.Host == "" {
			return nil, fmt.Errorf("dataset: MLFLOW_S3_ENDPOINT_URL %q is not a URL like http://host:9000", e)
		}
		endpoint, secure = eu.Host, eu.Scheme == "https"
	}
	var transport http.RoundTripper = http.DefaultTransport
	if opt.HTTPClient != nil && opt.HTTPClient.Transport != nil {
		transport = opt.HTTPClient.Transport
	}
	if v := strings.ToLower(getenv("MLFLOW_S3_IGNORE_TLS")); v == "true" || v == "1" {
		t, ok := transport.(*http.Transport)
		if !ok {
			return nil, fmt.Errorf("dataset: MLFLOW_S3_IGNORE_TLS needs an *http.Transport, have %T", transport)
		}
		t = t.Clone()
		t.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} // the user asked for it, as MLflow allows
		transport = t
	}
	client, err := minio.New(endpoint, &minio.Options{
		Creds:     credentials.NewStaticV4(getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY"), getenv("AWS_SESSION_TOKEN")),
		Secure:    secure,
		Region:    getenv("AWS_DEFAULT_REGION"),
		Transport: transport,
	})
	if err != nil {
		return nil, fmt.Errorf("dataset: s3 client for %s: %w", endpoint, err)
	}
	obj, err := client.GetObject(ctx, bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, fmt.Errorf("dataset: get %s from %s: %w", source, endpoint, err)
	}
	defer obj.Close()
	// GetObject sends no request; Stat does, so errors such as a missing
	// key surface here.
	info, err := obj.Stat()
	if err != nil {
		return nil, fmt.Errorf("dataset: get %s from %s: %w", source, endpoint, err)
	}
	var buf bytes.Buffer
	buf.Grow(int(min(info.Size, 1<<30)))
	pw := &progressWriter{w: opt.Progress, name: source, total: info.Size}
	if _, err := io.Copy(io.MultiWriter(&buf, pw), obj); err != nil {
		return nil, fmt.Errorf("dataset: get %s from %s: %w", source, endpoint, err)
	}
	return buf.Bytes(), nil
}
