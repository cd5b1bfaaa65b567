package artifacts_test

import (
	"context"
	"crypto/sha256"
	"io"
	"testing"

	"github.com/mlops-lab/housing/internal/testenv"
	"github.com/mlops-lab/housing/tracking/artifacts"
)

func newS3(t *testing.T, prefix string) *artifacts.S3 {
	t.Helper()
	srv, bucket := testenv.S3Bucket(t)
	cfg, err := artifacts.S3ConfigFromEnv(func(k string) string { return srv.Env()[k] })
	if err != nil {
		t.Fatal(err)
	}
	repo, err := artifacts.NewS3(context.Background(), bucket, prefix, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return repo
}

func TestS3(t *testing.T) {
	testRepository(t, newS3(t, "1/run/artifacts"))
}

func TestS3BucketRoot(t *testing.T) {
	testRepository(t, newS3(t, ""))
}

// TestS3StreamedUpload sends 50 MB made on the fly (size unknown, so a multipart
// upload) and reads it back as a stream, comparing digests.
func TestS3StreamedUpload(t *testing.T) {
	if testing.Short() {
		t.Skip("50 MB upload skipped in -short mode")
	}
	repo := newS3(t, "big")
	const size = 50 << 20
	ctx := context.Background()
	sent := sha256.New()
	src := io.TeeReader(io.LimitReader(&pattern{}, size), sent)
	if err := repo.Put(ctx, "blob.bin", src, -1); err != nil {
		t.Fatalf("streamed Put: %v", err)
	}
	files := list(t, repo, "")
	if len(files) != 1 || files[0].FileSize != size {
		t.Fatalf("List after upload = %+v, want one file of %d bytes", files, size)
	}
	rc, err := repo.Get(ctx, "blob.bin")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got := sha256.New()
	n, err := io.Copy(got, rc)
	if err != nil || n != size {
		t.Fatalf("read back %d bytes, %v; want %d", n, err, size)
	}
	if string(got.Sum(nil)) != string(sent.Sum(nil)) {
		t.Fatal("downloaded content differs from the uploaded stream")
	}
}

// pattern is an endless, cheap, non-repeating-looking byte stream.
type pattern struct{ x uint64 }

func (p *pattern) Read(b []byte) (int, error) {
	for i := range b {
		p.x = p.x*6364136223846793005 + 1442695040888963407
		b[i] = byte(p.x >> 56)
	}
	return len(b), nil
}

func TestS3ConfigFromEnv(t *testing.T) {
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	cfg, err := artifacts.S3ConfigFromEnv(env(
		"MLFLOW_S3_ENDPOINT_URL", "http://minio-service.kubeflow.svc:9000",
		"AWS_ACCESS_KEY_ID", "minio", "AWS_SECRET_ACCESS_KEY", "minio123",
		"AWS_DEFAULT_REGION", "eu-west-1", "MLFLOW_S3_IGNORE_TLS", "true"))
	if err != nil {
		t.Fatal(err)
	}
	want := artifacts.S3Config{Endpoint: "http://minio-service.kubeflow.svc:9000", AccessKey: "minio", SecretKey: "minio123", Region: "eu-west-1", IgnoreTLS: true}
	if cfg.Endpoint != want.Endpoint || cfg.AccessKey != want.AccessKey || cfg.SecretKey != want.SecretKey || cfg.Region != want.Region || cfg.IgnoreTLS != want.IgnoreTLS {
		t.Fatalf("S3ConfigFromEnv = %+v, want %+v", cfg, want)
	}
	bad := map[string]struct {
		env  func(string) string
		want string
	}{
		"NoKeys":       {env(), "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY not set"},
		"NoSecret":     {env("AWS_ACCESS_KEY_ID", "k"), "AWS_SECRET_ACCESS_KEY not set"},
		"BadTLSFlag":   {env("AWS_ACCESS_KEY_ID", "k", "AWS_SECRET_ACCESS_KEY", "s", "MLFLOW_S3_IGNORE_TLS", "maybe"), "MLFLOW_S3_IGNORE_TLS"},
		"NoScheme":     {env("AWS_ACCESS_KEY_ID", "k", "AWS_SECRET_ACCESS_KEY", "s", "MLFLOW_S3_ENDPOINT_URL", "minio:9000"), "MLFLOW_S3_ENDPOINT_URL"},
		"EndpointPath": {env("AWS_ACCESS_KEY_ID", "k", "AWS_SECRET_ACCESS_KEY", "s", "MLFLOW_S3_ENDPOINT_URL", "http://minio:9000/bucket"), "path on the endpoint"},
	}
	for name, tc := range bad {
		t.Run(name, func(t *testing.T) {
			_, err := artifacts.S3ConfigFromEnv(tc.env)
			if err == nil || !contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
}
