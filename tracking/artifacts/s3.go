package artifacts

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/mlops-lab/housing/tracking"
)

// DefaultPartSize is the multipart part size of uploads of unknown length: minio-go
// buffers one part in memory, and S3 allows 10000 parts, so objects up to ~160 GB.
const DefaultPartSize = 16 << 20

// S3Config says how to reach an S3-compatible server.
type S3Config struct {
	// Endpoint is the server's URL, e.g. "http://minio-service.kubeflow.svc:9000";
	// empty means AWS S3 (https://s3.amazonaws.com). An http:// endpoint disables TLS.
	Endpoint  string
	AccessKey string
	SecretKey string
	// Region is the bucket's region; empty lets minio-go ask the server.
	Region string
	// IgnoreTLS skips verification of the server's certificate (MLFLOW_S3_IGNORE_TLS).
	IgnoreTLS bool
	// PartSize is the multipart part size of uploads of unknown length; 0 means DefaultPartSize.
	PartSize uint64
	// Transport, when set, carries the requests (tests, proxies); IgnoreTLS is then ignored.
	Transport http.RoundTripper
}

// S3ConfigFromEnv reads the configuration the MLflow way: MLFLOW_S3_ENDPOINT_URL,
// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION and
// MLFLOW_S3_IGNORE_TLS. Both keys are required.
func S3ConfigFromEnv(getenv func(string) string) (S3Config, error) {
	cfg := S3Config{
		Endpoint:  strings.TrimSpace(getenv("MLFLOW_S3_ENDPOINT_URL")),
		AccessKey: getenv("AWS_ACCESS_KEY_ID"),
		SecretKey: getenv("AWS_SECRET_ACCESS_KEY"),
		Region:    getenv("AWS_DEFAULT_REGION"),
	}
	var missing []string
	if cfg.AccessKey == "" {
		missing = append(missing, "AWS_ACCESS_KEY_ID")
	}
	if cfg.SecretKey == "" {
		missing = append(missing, "AWS_SECRET_ACCESS_KEY")
	}
	if len(missing) > 0 {
		return S3Config{}, fmt.Errorf("artifacts: S3 credentials: %s not set", strings.Join(missing, " and "))
	}
	if v := getenv("MLFLOW_S3_IGNORE_TLS"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return S3Config{}, fmt.Errorf("artifacts: MLFLOW_S3_IGNORE_TLS=%q is not a boolean (true or false)", v)
		}
		cfg.IgnoreTLS = b
	}
	if cfg.Endpoint != "" {
		if _, _, err := parseEndpoint(cfg.Endpoint); err != nil {
			return S3Config{}, fmt.Errorf("artifacts: MLFLOW_S3_ENDPOINT_URL: %w", err)
		}
	}
	return cfg, nil
}

// parseEndpoint splits an endpoint URL into minio-go's host[:port] and TLS flag.
func parseEndpoint(endpoint string) (host string, secure bool, err error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return "", false, fmt.Errorf("%q is not a URL: %w", endpoint, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return "", false, fmt.Errorf("%q must look like http://host:port or https://host", endpoint)
	}
	if u.Path != "" && u.Path != "/" {
		return "", false, fmt.Errorf("%q: a path on the endpoint is not supported", endpoint)
	}
	return u.Host, u.Scheme == "https", nil
}

// S3 is an artifact repository under a key prefix of an S3 bucket.
type S3 struct {
	client   *minio.Client
	bucket   string
	prefix   string // no leading or trailing slash; "" for the bucket's root
	partSize uint64
}

var _ tracking.ArtifactRepository = (*S3)(nil)

// NewS3 returns the repository at s3://bucket/prefix. It does not contact the server.
func NewS3(ctx context.Context, bucket, prefix string, cfg S3Config) (*S3, error) {
	if bucket == "" {
		return nil, fmt.Errorf("artifacts: S3 bucket name is empty")
	}
	host, secure := "s3.amazonaws.com", true
	lookup := minio.BucketLookupAuto
	if cfg.Endpoint != "" {
		var err error
		if host, secure, err = parseEndpoint(cfg.Endpoint); err != nil {
			return nil, fmt.Errorf("artifacts: S3 endpoint: %w", err)
		}
		// MinIO and other self-hosted servers serve buckets as paths, not host names.
		lookup = minio.BucketLookupPath
	}
	transport := cfg.Transport
	if transport == nil {
		t, err := minio.DefaultTransport(secure)
		if err != nil {
			return nil, fmt.Errorf("artifacts: S3 transport: %w", err)
		}
		if cfg.IgnoreTLS {
			if t.TLSClientConfig == nil {
				t.TLSClientConfig = &tls.Config{}
			}
			t.TLSClientConfig.InsecureSkipVerify = true
		}
		transport = t
	}
	client, err := minio.New(host, &minio.Options{
		Creds:        credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure:       secure,
		Region:       cfg.Region,
		Transport:    transport,
		BucketLookup: lookup,
	})
	if err != nil {
		return nil, fmt.Errorf("artifacts: S3 client for %s: %w", host, err)
	}
	clean, err := CleanPath(prefix)
	if err != nil {
		return nil, fmt.Errorf("artifacts: S3 prefix %q: %w", prefix, err)
	}
	ps := cfg.PartSize
	if ps == 0 {
		ps = DefaultPartSize
	}
	return &S3{client: client, bucket: bucket, prefix: clean, partSize: ps}, nil
}

func (s *S3) key(p string) (string, error) {
	clean, err := CleanPath(p)
	if err != nil {
		return "", err
	}
	return joinPath(s.prefix, clean), nil
}

// Put uploads r to p; with size -1 it streams a multipart upload, one part in memory at a time.
func (s *S3) Put(ctx context.Context, p string, r io.Reader, size int64) error {
	key, err := s.key(p)
	if err != nil {
		return err
	}
	if key == s.prefix {
		return tracking.Errorf(tracking.ErrInvalidParameterValue, "Invalid path: a file needs a name")
	}
	opts := minio.PutObjectOptions{ContentType: contentType(key), PartSize: s.partSize}
	if _, err := s.client.PutObject(ctx, s.bucket, key, r, size, opts); err != nil {
		return s3Error(err, "upload s3://%s/%s", s.bucket, key)
	}
	return nil
}

// Get opens the object at p.
func (s *S3) Get(ctx context.Context, p string) (io.ReadCloser, error) {
	key, err := s.key(p)
	if err != nil {
		return nil, err
	}
	obj, err := s.client.GetObject(ctx, s.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, s3Error(err, "get s3://%s/%s", s.bucket, key)
	}
	// GetObject is lazy: Stat makes the request, so a missing key shows here.
	if _, err := obj.Stat(); err != nil {
		obj.Close()
		return nil, s3Error(err, "get s3://%s/%s", s.bucket, key)
	}
	return obj, nil
}

// List lists the objects and common prefixes directly under p.
func (s *S3) List(ctx context.Context, p string) ([]tracking.FileInfo, error) {
	key, err := s.key(p)
	if err != nil {
		return nil, err
	}
	prefix := key
	if prefix != "" {
		prefix += "/"
	}
	out := []tracking.FileInfo{}
	for obj := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: prefix}) {
		if obj.Err != nil {
			return nil, s3Error(obj.Err, "list s3://%s/%s", s.bucket, prefix)
		}
		name := strings.TrimPrefix(obj.Key, prefix)
		isDir := strings.HasSuffix(name, "/")
		name = strings.TrimSuffix(name, "/")
		if name == "" {
			continue // a "directory marker" object some tools create
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(obj.Key, s.prefix), "/")
		info := tracking.FileInfo{Path: strings.TrimSuffix(rel, "/"), IsDir: isDir}
		if !isDir {
			info.FileSize = obj.Size
		}
		out = append(out, info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// Delete removes the object at p and every object under p/.
func (s *S3) Delete(ctx context.Context, p string) error {
	key, err := s.key(p)
	if err != nil {
		return err
	}
	prefix := key
	if prefix != "" {
		prefix += "/"
	}
	objects := make(chan minio.ObjectInfo)
	listErr := make(chan error, 1)
	go func() {
		defer close(objects)
		if key != "" {
			select {
			case objects <- minio.ObjectInfo{Key: key}:
			case <-ctx.Done():
				listErr <- ctx.Err()
				return
			}
		}
		for obj := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
			if obj.Err != nil {
				listErr <- obj.Err
				return
			}
			select {
			case objects <- obj:
			case <-ctx.Done():
				listErr <- ctx.Err()
				return
			}
		}
	}()
	var firstErr error
	for rerr := range s.client.RemoveObjects(ctx, s.bucket, objects, minio.RemoveObjectsOptions{}) {
		if firstErr == nil && minio.ToErrorResponse(rerr.Err).Code != "NoSuchKey" {
			firstErr = s3Error(rerr.Err, "delete s3://%s/%s", s.bucket, rerr.ObjectName)
		}
	}
	select {
	case err := <-listErr:
		if firstErr == nil {
			firstErr = s3Error(err, "list s3://%s/%s", s.bucket, prefix)
		}
	default:
	}
	return firstErr
}

// s3Error turns a minio-go error into a tracking error with the right code.
func s3Error(err error, format string, args ...any) error {
	what := fmt.Sprintf(format, args...)
	var er minio.ErrorResponse
	if errors.As(err, &er) {
		switch er.Code {
		case "NoSuchKey":
			return tracking.Errorf(tracking.ErrResourceDoesNotExist, "%s: not found: %w", what, err)
		case "NoSuchBucket":
			return tracking.Errorf(tracking.ErrResourceDoesNotExist, "%s: bucket does not exist: %w", what, err)
		case "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch":
			return tracking.Errorf(tracking.ErrPermissionDenied, "%s: %w", what, err)
		}
	}
	return fmt.Errorf("artifacts: %s: %w", what, err)
}

// contentType guesses a Content-Type from the file name, as MLflow does.
func contentType(name string) string {
	if t := mime.TypeByExtension(path.Ext(name)); t != "" {
		return t
	}
	return "application/octet-stream"
}
