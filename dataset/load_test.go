package dataset_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/mlops-lab/housing/dataset"
	"github.com/mlops-lab/housing/internal/testenv"
)

// archiveServer serves a tgz at /files/cal_housing.tgz on 127.0.0.1 and
// counts the requests it gets.
func archiveServer(t *testing.T, body []byte) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.URL.Path != "/files/cal_housing.tgz" {
			http.NotFound(w, r)
			return
		}
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func checksumError(t *testing.T, err error, file string) {
	t.Helper()
	var de *dataset.Error
	if !errors.As(err, &de) || !errors.Is(err, dataset.ErrChecksum) {
		t.Fatalf("error %v: want a *dataset.Error wrapping ErrChecksum", err)
	}
	if de.File != file {
		t.Errorf("checksum error names %q, want %q", de.File, file)
	}
}

func TestLoadSharedDataWithPublishedChecksum(t *testing.T) {
	p, ok := dataset.SharedDataPath()
	if !ok {
		t.Skip("shared/data/cal_housing.data not found (set HOUSING_DATA to its path)")
	}
	d, err := dataset.Load(context.Background(), p, dataset.LoadOptions{SHA256: dataset.RawSHA256})
	if err != nil {
		t.Fatal(err)
	}
	if d.Rows() != 20640 || d.Source != p {
		t.Errorf("rows %d source %q", d.Rows(), d.Source)
	}
}

func TestLoadLocalFiles(t *testing.T) {
	dir := t.TempDir()
	raw := []byte(rawRows(20))
	good := filepath.Join(dir, "good.data")
	if err := os.WriteFile(good, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	want, err := dataset.Read(bytes.NewReader(raw), "mem")
	if err != nil {
		t.Fatal(err)
	}
	for _, src := range []string{good, "file://" + good} {
		d, err := dataset.Load(context.Background(), src, dataset.LoadOptions{SHA256: sumHex(raw)})
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		if d.Digest() != want.Digest() {
			t.Errorf("%s: digest differs from the bytes read directly", src)
		}
	}
	_, err = dataset.Load(context.Background(), good, dataset.LoadOptions{SHA256: strings.Repeat("0", 64)})
	checksumError(t, err, good)

	bad := filepath.Join(dir, "bad.data")
	lines := strings.SplitAfter(string(raw), "\n")
	if err := os.WriteFile(bad, []byte(lines[0]+lines[1]+"1,2,x,4,5,6,7,8,9\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = dataset.Load(context.Background(), bad, dataset.LoadOptions{})
	var de *dataset.Error
	if !errors.As(err, &de) || de.File != bad || de.Line != 3 || de.Column != 3 {
		t.Errorf("error %v: want %s line 3 column 3", err, bad)
	}
	if _, err := dataset.Load(context.Background(), filepath.Join(dir, "missing"), dataset.LoadOptions{}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: error %v, want one wrapping os.ErrNotExist", err)
	}
}

func TestLoadHTTPDownloadsOnce(t *testing.T) {
	raw := rawRows(300)
	tgz := makeTGZ(t, map[string]string{dataset.ArchiveMember: raw})
	srv, hits := archiveServer(t, tgz)
	src := srv.URL + "/files/cal_housing.tgz"
	cache := t.TempDir()
	var progress bytes.Buffer
	opt := dataset.LoadOptions{SHA256: sumHex(tgz), CacheDir: cache, Progress: &progress}

	first, err := dataset.Load(context.Background(), src, opt)
	if err != nil {
		t.Fatal(err)
	}
	if first.Rows() != 300 || first.Source != src {
		t.Fatalf("rows %d source %q", first.Rows(), first.Source)
	}
	if !strings.Contains(progress.String(), "downloading "+src) || !strings.Contains(progress.String(), "cached as "+cache) {
		t.Errorf("progress output %q does not report the download", progress.String())
	}
	second, err := dataset.Load(context.Background(), src, opt)
	if err != nil {
		t.Fatal(err)
	}
	if n := hits.Load(); n != 1 {
		t.Errorf("%d requests for two loads, want 1", n)
	}
	if second.Digest() != first.Digest() {
		t.Error("cached copy reads differently")
	}

	// A damaged cached copy fails its checksum and is fetched again.
	entries, err := os.ReadDir(cache)
	if err != nil || len(entries) != 1 {
		t.Fatalf("cache holds %v (%v), want one file", entries, err)
	}
	if err := os.WriteFile(filepath.Join(cache, entries[0].Name()), []byte("junk"), 0o644); err != nil {
		t.Fatal(err)
	}
	third, err := dataset.Load(context.Background(), src, opt)
	if err != nil {
		t.Fatal(err)
	}
	if hits.Load() != 2 || third.Digest() != first.Digest() {
		t.Errorf("after damaging the cache: %d requests (want 2), digest equal %v", hits.Load(), third.Digest() == first.Digest())
	}
}

func TestLoadHTTPWithoutChecksumCachesByURL(t *testing.T) {
	tgz := makeTGZ(t, map[string]string{dataset.ArchiveMember: rawRows(5)})
	srv, hits := archiveServer(t, tgz)
	opt := dataset.LoadOptions{CacheDir: t.TempDir()}
	for range 2 {
		if _, err := dataset.Load(context.Background(), srv.URL+"/files/cal_housing.tgz", opt); err != nil {
			t.Fatal(err)
		}
	}
	if n := hits.Load(); n != 1 {
		t.Errorf("%d requests for two loads, want 1", n)
	}
}

func TestLoadHTTPChecksumMismatch(t *testing.T) {
	tgz := makeTGZ(t, map[string]string{dataset.ArchiveMember: rawRows(5)})
	srv, hits := archiveServer(t, tgz)
	src := srv.URL + "/files/cal_housing.tgz"
	cache := t.TempDir()
	_, err := dataset.Load(context.Background(), src, dataset.LoadOptions{SHA256: strings.Repeat("ab", 32), CacheDir: cache})
	checksumError(t, err, src)
	if entries, _ := os.ReadDir(cache); len(entries) != 0 {
		t.Errorf("a download that failed its checksum left %d file(s) in the cache", len(entries))
	}
	if _, err := dataset.Load(context.Background(), src, dataset.LoadOptions{SHA256: sumHex(tgz), CacheDir: cache}); err != nil {
		t.Fatalf("load with the right checksum: %v", err)
	}
	if hits.Load() != 2 {
		t.Errorf("%d requests, want 2", hits.Load())
	}
}

// TestLoadPublicArchiveURLIsVerified sends requests for the public
// archive's URL to a local server (the test has no network) serving a
// different archive: Load must apply the published checksum by itself.
func TestLoadPublicArchiveURLIsVerified(t *testing.T) {
	tgz := makeTGZ(t, map[string]string{dataset.ArchiveMember: rawRows(5)})
	srv, hits := archiveServer(t, tgz)
	local, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		r = r.Clone(r.Context())
		r.URL.Scheme, r.URL.Host, r.URL.Path = local.Scheme, local.Host, "/files/cal_housing.tgz"
		return http.DefaultTransport.RoundTrip(r)
	})}
	_, err = dataset.Load(context.Background(), dataset.ArchiveURL, dataset.LoadOptions{CacheDir: t.TempDir(), HTTPClient: client})
	checksumError(t, err, dataset.ArchiveURL)
	if hits.Load() != 1 {
		t.Errorf("%d requests reached the local server, want 1", hits.Load())
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestLoadHTTPErrorStatus(t *testing.T) {
	srv, _ := archiveServer(t, nil)
	_, err := dataset.Load(context.Background(), srv.URL+"/nothing-here.tgz", dataset.LoadOptions{CacheDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("error %v, want one reporting 404", err)
	}
}

func TestLoadS3(t *testing.T) {
	s3, bucket := testenv.S3Bucket(t)
	client, err := s3.Client()
	if err != nil {
		t.Fatal(err)
	}
	tgz := makeTGZ(t, map[string]string{dataset.ArchiveMember: rawRows(40)})
	ctx := context.Background()
	if _, err := client.PutObject(ctx, bucket, "data/cal_housing.tgz", bytes.NewReader(tgz), int64(len(tgz)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	env := s3.Env()
	opt := dataset.LoadOptions{Getenv: func(k string) string { return env[k] }, SHA256: sumHex(tgz)}
	src := "s3://" + bucket + "/data/cal_housing.tgz"
	d, err := dataset.Load(ctx, src, opt)
	if err != nil {
		t.Fatal(err)
	}
	want, err := dataset.Read(bytes.NewReader(tgz), "mem")
	if err != nil {
		t.Fatal(err)
	}
	if d.Rows() != 40 || d.Digest() != want.Digest() || d.Source != src {
		t.Errorf("s3 load: rows %d source %q, digest equal %v", d.Rows(), d.Source, d.Digest() == want.Digest())
	}

	opt.SHA256 = strings.Repeat("0", 64)
	_, err = dataset.Load(ctx, src, opt)
	checksumError(t, err, src)

	opt.SHA256 = ""
	if _, err := dataset.Load(ctx, "s3://"+bucket+"/data/missing.tgz", opt); err == nil || !strings.Contains(err.Error(), "missing.tgz") {
		t.Errorf("missing key: error %v, want one naming the key", err)
	}
	badCreds := map[string]string{"MLFLOW_S3_ENDPOINT_URL": env["MLFLOW_S3_ENDPOINT_URL"], "AWS_ACCESS_KEY_ID": "minio", "AWS_SECRET_ACCESS_KEY": "wrong", "AWS_DEFAULT_REGION": env["AWS_DEFAULT_REGION"]}
	if _, err := dataset.Load(ctx, src, dataset.LoadOptions{Getenv: func(k string) string { return badCreds[k] }}); err == nil {
		t.Error("wrong secret key: no error")
	}
}

func TestLoadRefusesMalformedChecksumOption(t *testing.T) {
	for _, sum := range []string{"abc", "zz" + strings.Repeat("0", 62), strings.Repeat("0", 66)} {
		if _, err := dataset.Load(context.Background(), "unused", dataset.LoadOptions{SHA256: sum}); err == nil || !strings.Contains(err.Error(), "not a SHA-256") {
			t.Errorf("SHA256 %q: error %v", sum, err)
		}
	}
}
