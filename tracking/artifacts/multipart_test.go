package artifacts_test

import (
	"context"
	"crypto/sha256"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/mlops-lab/housing/internal/testenv"
	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/artifacts"
	"github.com/mlops-lab/housing/tracking/server"
)

// patternAt is content that depends on each byte's offset, readable at any
// offset: parts put in the wrong order or place would change its digest.
type patternAt struct{}

func (patternAt) ReadAt(b []byte, off int64) (int, error) {
	for i := range b {
		x := uint64(off+int64(i)) * 0x9E3779B97F4A7C15
		b[i] = byte(x>>56) ^ byte(x>>29)
	}
	return len(b), nil
}

// onlyReader hides every method of r but Read, so the upload cannot read at
// offsets and must stream part after part.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(b []byte) (int, error) { return o.r.Read(b) }

// recorder notes "METHOD path status" of each request the server answers.
type recorder struct {
	mu   sync.Mutex
	seen []string
}

func (rec *recorder) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(sw, r)
		rec.mu.Lock()
		rec.seen = append(rec.seen, r.Method+" "+r.URL.Path+" "+http.StatusText(sw.status))
		rec.mu.Unlock()
	})
}

// count returns how many requests started with prefix and got status.
func (rec *recorder) count(prefix string, status int) int {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	n := 0
	for _, s := range rec.seen {
		if strings.HasPrefix(s, prefix) && strings.HasSuffix(s, " "+http.StatusText(status)) {
			n++
		}
	}
	return n
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// serveDest starts the project's tracking server over dest, recording requests.
func serveDest(t *testing.T, dest tracking.ArtifactRepository) (*httptest.Server, *recorder) {
	t.Helper()
	rec := &recorder{}
	srv := httptest.NewServer(rec.wrap(server.New(nil, dest, server.Options{})))
	t.Cleanup(srv.Close)
	return srv, rec
}

const (
	bigSize   = 50 << 20
	partSize  = 5 << 20
	bigParts  = bigSize / partSize
	runRoot   = "1/0123456789abcdef/artifacts"
	mpuPrefix = "POST " + artifacts.MultipartAPIPath
)

func multipartRepo(t *testing.T, srv *httptest.Server) *artifacts.HTTP {
	t.Helper()
	h, err := artifacts.NewHTTP(srv.URL, runRoot, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	return h.WithMultipart(artifacts.MultipartConfig{Enabled: true, MinFileSize: 1 << 20, ChunkSize: partSize})
}

// digestOf reads p back from repo and returns its SHA-256 and length.
func digestOf(t *testing.T, repo tracking.ArtifactRepository, p string) ([]byte, int64) {
	t.Helper()
	rc, err := repo.Get(context.Background(), p)
	if err != nil {
		t.Fatalf("Get %s: %v", p, err)
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(h, rc)
	if err != nil {
		t.Fatalf("read %s: %v", p, err)
	}
	return h.Sum(nil), n
}

// checkMultipartUse asserts that the upload went as one create, the parts and one
// complete, and never as a single PUT of the file.
func checkMultipartUse(t *testing.T, rec *recorder, partPrefix string) {
	t.Helper()
	if n := rec.count(mpuPrefix+"/create/"+runRoot+"/data", http.StatusOK); n != 1 {
		t.Errorf("%d successful creates, want 1; requests %q", n, rec.seen)
	}
	if n := rec.count(mpuPrefix+"/complete/"+runRoot+"/data", http.StatusOK); n != 1 {
		t.Errorf("%d successful completes, want 1", n)
	}
	if partPrefix != "" {
		if n := rec.count(partPrefix, http.StatusOK); n != bigParts {
			t.Errorf("%d parts through the server, want %d", n, bigParts)
		}
	}
	if n := rec.count("PUT "+artifacts.ArtifactsAPIPath, http.StatusOK); n != 0 {
		t.Errorf("%d single PUTs of the file, want 0", n)
	}
}

// TestMultipartToLocal streams 50 MB, made on the fly and readable only once,
// through the server to a local destination in 5 MB parts, and reads it back.
func TestMultipartToLocal(t *testing.T) {
	if testing.Short() {
		t.Skip("50 MB upload skipped in -short mode")
	}
	dir := t.TempDir()
	dest, err := artifacts.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	srv, rec := serveDest(t, dest)
	repo := multipartRepo(t, srv)
	sent := sha256.New()
	src := onlyReader{io.TeeReader(io.LimitReader(&pattern{}, bigSize), sent)}
	if err := repo.Put(context.Background(), "data/big.bin", src, bigSize); err != nil {
		t.Fatalf("multipart Put: %v", err)
	}
	got, n := digestOf(t, repo, "data/big.bin")
	if n != bigSize || string(got) != string(sent.Sum(nil)) {
		t.Fatalf("read back %d bytes with another digest than the %d sent", n, bigSize)
	}
	checkMultipartUse(t, rec, "PUT "+server.PathMultipartPart)

	// The staging area is empty and never listed.
	staged, err := filepath.Glob(filepath.Join(dir, ".housing-tmp-mpu", "*"))
	if err != nil || len(staged) != 0 {
		t.Errorf("staging left %v (%v)", staged, err)
	}
	top := list(t, dest, "")
	if len(top) != 1 || top[0].Path != "1" {
		t.Errorf("destination root lists %+v, want only 1", top)
	}
}

// TestMultipartToS3 uploads 50 MB in 5 MB parts, several in flight, through
// the server to presigned URLs of a real S3 server (versitygw).
func TestMultipartToS3(t *testing.T) {
	if testing.Short() {
		t.Skip("50 MB upload skipped in -short mode")
	}
	s3srv, bucket := testenv.S3Bucket(t)
	dest := newS3Bucket(t, s3srv, bucket, "mlartifacts")
	srv, rec := serveDest(t, dest)
	repo := multipartRepo(t, srv)
	src := io.NewSectionReader(patternAt{}, 0, bigSize)
	if err := repo.Put(context.Background(), "data/big.bin", src, bigSize); err != nil {
		t.Fatalf("multipart Put: %v", err)
	}
	want := sha256.New()
	io.Copy(want, io.NewSectionReader(patternAt{}, 0, bigSize))
	got, n := digestOf(t, repo, "data/big.bin")
	if n != bigSize || string(got) != string(want.Sum(nil)) {
		t.Fatalf("read back %d bytes with another digest than the %d sent", n, bigSize)
	}
	checkMultipartUse(t, rec, "") // parts went to S3, not through the server

	client, err := s3srv.Client()
	if err != nil {
		t.Fatal(err)
	}
	pending, err := minio.Core{Client: client}.ListMultipartUploads(context.Background(), bucket, "", "", "", "", 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(pending.Uploads) != 0 {
		t.Errorf("%d multipart uploads left open on S3", len(pending.Uploads))
	}
}

func newS3Bucket(t *testing.T, s3srv *testenv.S3Server, bucket, prefix string) *artifacts.S3 {
	t.Helper()
	cfg, err := artifacts.S3ConfigFromEnv(func(k string) string { return s3srv.Env()[k] })
	if err != nil {
		t.Fatal(err)
	}
	repo, err := artifacts.NewS3(context.Background(), bucket, prefix, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return repo
}

// TestMultipartFallsBackOn501 uploads to a server whose store cannot take
// parts (as MLflow's local one): the create is answered 501 and the file goes
// in one PUT instead.
func TestMultipartFallsBackOn501(t *testing.T) {
	local, err := artifacts.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	noMultipart, err := artifacts.Sub(local, "proxied") // a repository without multipart support
	if err != nil {
		t.Fatal(err)
	}
	srv, rec := serveDest(t, noMultipart)
	repo := multipartRepo(t, srv)
	const size = 3 << 20
	sent := sha256.New()
	src := io.TeeReader(io.LimitReader(&pattern{}, size), sent)
	if err := repo.Put(context.Background(), "data/big.bin", src, size); err != nil {
		t.Fatalf("Put: %v", err)
	}
	if n := rec.count(mpuPrefix+"/create/", http.StatusNotImplemented); n != 1 {
		t.Errorf("%d creates answered 501, want 1; requests %q", n, rec.seen)
	}
	if n := rec.count("PUT "+artifacts.ArtifactsAPIPath+"/"+runRoot+"/data/big.bin", http.StatusOK); n != 1 {
		t.Errorf("%d single PUTs, want 1; requests %q", n, rec.seen)
	}
	got, n := digestOf(t, repo, "data/big.bin")
	if n != size || string(got) != string(sent.Sum(nil)) {
		t.Fatalf("read back %d bytes with another digest than the %d sent", n, size)
	}
}

// TestMultipartBelowThreshold keeps small files to one PUT.
func TestMultipartBelowThreshold(t *testing.T) {
	dest, err := artifacts.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv, rec := serveDest(t, dest)
	repo := multipartRepo(t, srv)
	put(t, repo, "small.txt", "under the threshold")
	if n := rec.count(mpuPrefix, http.StatusOK) + rec.count(mpuPrefix, http.StatusNotImplemented); n != 0 {
		t.Errorf("%d multipart calls for a small file; requests %q", n, rec.seen)
	}
	if got := get(t, repo, "small.txt"); got != "under the threshold" {
		t.Errorf("read back %q", got)
	}
}

// TestMultipartFailedPartAborts makes the server refuse the parts (its limit
// on an artifact's size is below a part's): the upload fails saying so and is
// aborted, leaving nothing staged.
func TestMultipartFailedPartAborts(t *testing.T) {
	dir := t.TempDir()
	dest, err := artifacts.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	srv := httptest.NewServer(rec.wrap(server.New(nil, dest, server.Options{MaxArtifactBytes: 1 << 20})))
	t.Cleanup(srv.Close)
	h, err := artifacts.NewHTTP(srv.URL, runRoot, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	repo := h.WithMultipart(artifacts.MultipartConfig{Enabled: true, MinFileSize: 1, ChunkSize: 2 << 20})
	err = repo.Put(context.Background(), "data/big.bin", io.NewSectionReader(patternAt{}, 0, 5<<20), 5<<20)
	if err == nil || !strings.Contains(err.Error(), "part") {
		t.Fatalf("Put with parts over the server's limit: %v, want a part failure", err)
	}
	if n := rec.count(mpuPrefix+"/abort/", http.StatusOK); n != 1 {
		t.Errorf("%d aborts, want 1; requests %q", n, rec.seen)
	}
	staged, _ := filepath.Glob(filepath.Join(dir, ".housing-tmp-mpu", "*"))
	if len(staged) != 0 {
		t.Errorf("staging left %v", staged)
	}
	if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(runRoot), "data", "big.bin")); !os.IsNotExist(err) {
		t.Errorf("a failed upload left the file (stat: %v)", err)
	}
}

func TestMultipartConfigFromEnv(t *testing.T) {
	env := map[string]string{
		"MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD":      "true",
		"MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE": "1048576",
		"MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE":        "5242880",
	}
	cfg, err := artifacts.MultipartConfigFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Enabled || cfg.MinFileSize != 1<<20 || cfg.ChunkSize != 5<<20 {
		t.Errorf("MultipartConfigFromEnv = %+v", cfg)
	}
	if cfg, err := artifacts.MultipartConfigFromEnv(func(string) string { return "" }); err != nil || cfg.Enabled {
		t.Errorf("empty environment: %+v, %v; want multipart off, as MLflow", cfg, err)
	}
	for k, v := range map[string]string{"MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD": "sometimes", "MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE": "-1"} {
		if _, err := artifacts.MultipartConfigFromEnv(func(name string) string {
			if name == k {
				return v
			}
			return ""
		}); err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("%s=%s: %v, want an error naming it", k, v, err)
		}
	}
}

// TestOpenReadsMultipartEnv opens an mlflow-artifacts URI configured the MLflow
// way, through the environment, and checks that uploads then go in parts.
func TestOpenReadsMultipartEnv(t *testing.T) {
	dest, err := artifacts.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv, rec := serveDest(t, dest)
	env := map[string]string{
		"MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD":      "true",
		"MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE": "1048576",
		"MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE":        "1048576",
	}
	ctx := context.Background()
	repo, err := artifacts.Open(ctx, "mlflow-artifacts:/"+runRoot, artifacts.Options{TrackingURI: srv.URL, Getenv: func(k string) string { return env[k] }})
	if err != nil {
		t.Fatal(err)
	}
	const size = 3<<20 + 17
	if err := repo.Put(ctx, "data/big.bin", io.NewSectionReader(patternAt{}, 0, size), size); err != nil {
		t.Fatal(err)
	}
	if n := rec.count("PUT "+server.PathMultipartPart, http.StatusOK); n != 4 {
		t.Errorf("%d parts, want 4; requests %q", n, rec.seen)
	}
	if _, n := digestOf(t, repo, "data/big.bin"); n != size {
		t.Errorf("read back %d bytes, want %d", n, size)
	}

	env["MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE"] = "ten megabytes"
	if _, err := artifacts.Open(ctx, "mlflow-artifacts:/"+runRoot, artifacts.Options{TrackingURI: srv.URL, Getenv: func(k string) string { return env[k] }}); err == nil {
		t.Error("Open with a bad MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE succeeded")
	}
}
