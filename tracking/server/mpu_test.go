package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/mlops-lab/housing/internal/testenv"
	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/artifacts"
	"github.com/mlops-lab/housing/tracking/server"
	"github.com/mlops-lab/housing/tracking/wire"
)

// clock is a settable test clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type answer struct {
	status int
	header http.Header
	body   string
}

func send(t *testing.T, method, u, body string) answer {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, string(b)}
}

func mpuJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// create starts an upload of the client's local file localPath into dir and
// returns the answer.
func create(t *testing.T, srv *httptest.Server, dir, localPath string, parts int) wire.CreateMultipartUploadResponse {
	t.Helper()
	a := send(t, "POST", srv.URL+wire.PathMultipartCreate+"/"+dir, mpuJSON(t, wire.CreateMultipartUploadRequest{Path: localPath, NumParts: int64(parts)}))
	if a.status != 200 {
		t.Fatalf("create: %d %s", a.status, a.body)
	}
	var resp wire.CreateMultipartUploadResponse
	if err := json.Unmarshal([]byte(a.body), &resp); err != nil {
		t.Fatal(err)
	}
	if resp.UploadID == "" || len(resp.Credentials) != parts {
		t.Fatalf("create answered %s, want an upload id and %d credentials", a.body, parts)
	}
	for i, c := range resp.Credentials {
		if c.PartNumber != int64(i+1) {
			t.Fatalf("credential %d is for part %d", i, c.PartNumber)
		}
	}
	return resp
}

// putPart PUTs content to a part URL and returns its ETag.
func putPart(t *testing.T, partURL, content string) string {
	t.Helper()
	a := send(t, "PUT", partURL, content)
	if a.status != 200 || a.header.Get("ETag") == "" {
		t.Fatalf("part PUT: %d %s (ETag %q)", a.status, a.body, a.header.Get("ETag"))
	}
	return a.header.Get("ETag")
}

func complete(t *testing.T, srv *httptest.Server, dir, localPath, id string, parts []wire.MultipartUploadPart) answer {
	t.Helper()
	return send(t, "POST", srv.URL+wire.PathMultipartComplete+"/"+dir,
		mpuJSON(t, wire.CompleteMultipartUploadRequest{Path: localPath, UploadID: id, Parts: parts}))
}

func abort(t *testing.T, srv *httptest.Server, dir, localPath, id string) answer {
	t.Helper()
	return send(t, "POST", srv.URL+wire.PathMultipartAbort+"/"+dir,
		mpuJSON(t, wire.AbortMultipartUploadRequest{Path: localPath, UploadID: id}))
}

func errorCode(t *testing.T, a answer) string {
	t.Helper()
	var e wire.ErrorResponse
	if err := json.Unmarshal([]byte(a.body), &e); err != nil {
		t.Fatalf("error body %q: %v", a.body, err)
	}
	return e.ErrorCode
}

type localMPU struct {
	srv   *httptest.Server
	dir   string // the destination's directory
	clock *clock
}

const (
	mpuDir   = "1/0123456789abcdef/artifacts/data"
	mpuLocal = "/home/me/work/big.bin" // what MLflow's client sends: the local file's path
)

func newLocalMPU(t *testing.T) localMPU {
	t.Helper()
	dir := t.TempDir()
	dest, err := artifacts.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	// The clock starts at the real time: staged files carry the real clock's
	// times, and pruning compares them with this one.
	c := &clock{now: time.Now()}
	srv := httptest.NewServer(server.New(nil, dest, server.Options{
		Multipart: server.MultipartOptions{SigningKey: []byte("test key"), URLExpiry: time.Minute, Now: c.Now},
	}))
	t.Cleanup(srv.Close)
	return localMPU{srv, dir, c}
}

func (l localMPU) staged(t *testing.T) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(l.dir, ".housing-tmp-mpu", "*"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestMultipartLocalParts uploads parts out of order, once twice, and checks
// that completion assembles them in part order under the URL's directory and
// the base name of the client's local path.
func TestMultipartLocalParts(t *testing.T) {
	l := newLocalMPU(t)
	resp := create(t, l.srv, mpuDir, mpuLocal, 3)
	for _, c := range resp.Credentials {
		if !strings.HasPrefix(c.URL, l.srv.URL+server.PathMultipartPart+"?") {
			t.Fatalf("part URL %s does not point back at the server", c.URL)
		}
	}
	e3 := putPart(t, resp.Credentials[2].URL, "ccc")
	putPart(t, resp.Credentials[0].URL, "first try")
	e1 := putPart(t, resp.Credentials[0].URL, "aaa") // a retried part replaces the first try
	e2 := putPart(t, resp.Credentials[1].URL, "bbb")
	a := complete(t, l.srv, mpuDir, mpuLocal, resp.UploadID, []wire.MultipartUploadPart{
		{PartNumber: 1, ETag: e1}, {PartNumber: 2, ETag: e2}, {PartNumber: 3, ETag: e3}})
	if a.status != 200 || a.body != "{}" {
		t.Fatalf("complete: %d %s", a.status, a.body)
	}
	got, err := os.ReadFile(filepath.Join(l.dir, filepath.FromSlash(mpuDir), "big.bin"))
	if err != nil || string(got) != "aaabbbccc" {
		t.Fatalf("assembled file %q (%v), want aaabbbccc", got, err)
	}
	if s := l.staged(t); len(s) != 0 {
		t.Errorf("staging left after complete: %v", s)
	}
	if putAgain := send(t, "PUT", resp.Credentials[0].URL, "late"); putAgain.status != 404 {
		t.Errorf("part PUT after complete: %d %s, want 404", putAgain.status, putAgain.body)
	}
}

func TestMultipartLocalAbort(t *testing.T) {
	l := newLocalMPU(t)
	resp := create(t, l.srv, mpuDir, mpuLocal, 2)
	putPart(t, resp.Credentials[0].URL, "some bytes")
	if len(l.staged(t)) != 1 {
		t.Fatalf("staged before abort: %v, want one upload", l.staged(t))
	}
	if a := abort(t, l.srv, mpuDir, "other.bin", resp.UploadID); a.status != 400 {
		t.Errorf("abort naming another file: %d %s, want 400", a.status, a.body)
	}
	if a := abort(t, l.srv, mpuDir, mpuLocal, resp.UploadID); a.status != 200 {
		t.Fatalf("abort: %d %s", a.status, a.body)
	}
	if s := l.staged(t); len(s) != 0 {
		t.Errorf("staging left after abort: %v", s)
	}
	if a := send(t, "PUT", resp.Credentials[1].URL, "x"); a.status != 404 {
		t.Errorf("part PUT after abort: %d %s, want 404", a.status, a.body)
	}
	if a := complete(t, l.srv, mpuDir, mpuLocal, resp.UploadID, []wire.MultipartUploadPart{{PartNumber: 1, ETag: "x"}}); a.status != 404 {
		t.Errorf("complete after abort: %d %s, want 404", a.status, a.body)
	}
	if _, err := os.Stat(filepath.Join(l.dir, filepath.FromSlash(mpuDir), "big.bin")); !os.IsNotExist(err) {
		t.Errorf("aborted upload left a file (stat: %v)", err)
	}
}

// TestMultipartLocalPartURLs refuses part URLs that the server did not issue:
// a forged signature, a part number or upload id changed under a valid
// signature, and an expired URL.
func TestMultipartLocalPartURLs(t *testing.T) {
	l := newLocalMPU(t)
	resp := create(t, l.srv, mpuDir, mpuLocal, 2)
	other := create(t, l.srv, mpuDir, "other.bin", 1)
	u, err := url.Parse(resp.Credentials[0].URL)
	if err != nil {
		t.Fatal(err)
	}
	with := func(key, value string) string {
		q := u.Query()
		if value == "" {
			q.Del(key)
		} else {
			q.Set(key, value)
		}
		v := *u
		v.RawQuery = q.Encode()
		return v.String()
	}
	forged := map[string]string{
		"BadSignature":    with("signature", "AAAA"+u.Query().Get("signature")[4:]),
		"NoSignature":     with("signature", ""),
		"OtherPart":       with("part_number", "2"),
		"OtherUpload":     with("upload_id", other.UploadID),
		"LongerLife":      with("expires", "99999999999"),
		"TraversalUpload": with("upload_id", "../../../../etc"),
	}
	for name, fu := range forged {
		t.Run(name, func(t *testing.T) {
			a := send(t, "PUT", fu, "evil")
			if a.status != 403 || errorCode(t, a) != string(tracking.ErrPermissionDenied) {
				t.Fatalf("forged part URL: %d %s, want 403 PERMISSION_DENIED", a.status, a.body)
			}
		})
	}
	if s := l.staged(t); len(s) != 2 {
		t.Fatalf("staged %v", s)
	}
	for _, dir := range l.staged(t) {
		entries, _ := os.ReadDir(dir)
		if len(entries) != 1 { // only the target file: no part was stored
			t.Errorf("forged URLs stored parts in %s: %v", dir, entries)
		}
	}

	l.clock.Add(2 * time.Minute) // past URLExpiry
	a := send(t, "PUT", resp.Credentials[0].URL, "late")
	if a.status != 403 || !strings.Contains(a.body, "expired") {
		t.Fatalf("expired part URL: %d %s, want 403 saying it expired", a.status, a.body)
	}
}

func TestMultipartLocalCompleteRefusals(t *testing.T) {
	l := newLocalMPU(t)
	resp := create(t, l.srv, mpuDir, mpuLocal, 2)
	e1 := putPart(t, resp.Credentials[0].URL, "aaa")
	e2 := putPart(t, resp.Credentials[1].URL, "bbb")
	cases := []struct {
		name     string
		dir, loc string
		id       string
		parts    []wire.MultipartUploadPart
		status   int
		contains string
	}{
		{"WrongETag", mpuDir, mpuLocal, resp.UploadID, []wire.MultipartUploadPart{{PartNumber: 1, ETag: e1}, {PartNumber: 2, ETag: `"0123456789abcdef0123456789abcdef"`}}, 400, "ETag"},
		{"MissingPart", mpuDir, mpuLocal, resp.UploadID, []wire.MultipartUploadPart{{PartNumber: 1, ETag: e1}, {PartNumber: 3, ETag: e2}}, 400, "part 3 was not uploaded"},
		{"OutOfOrder", mpuDir, mpuLocal, resp.UploadID, []wire.MultipartUploadPart{{PartNumber: 2, ETag: e2}, {PartNumber: 1, ETag: e1}}, 400, "ascending"},
		{"NoParts", mpuDir, mpuLocal, resp.UploadID, nil, 400, "at least one part"},
		{"OtherFile", mpuDir, "/x/other.bin", resp.UploadID, []wire.MultipartUploadPart{{PartNumber: 1, ETag: e1}}, 400, "is for"},
		{"OtherDir", "1/elsewhere", mpuLocal, resp.UploadID, []wire.MultipartUploadPart{{PartNumber: 1, ETag: e1}}, 400, "is for"},
		{"UnknownUpload", mpuDir, mpuLocal, "AAAAAAAAAAAAAAAAAAAAAAAAAA", []wire.MultipartUploadPart{{PartNumber: 1, ETag: e1}}, 404, "does not exist"},
		{"TraversalUploadID", mpuDir, mpuLocal, "../../../etc", []wire.MultipartUploadPart{{PartNumber: 1, ETag: e1}}, 400, "Invalid upload id"},
		{"TraversalDir", "1/%2E%2E/%2E%2E/etc", mpuLocal, resp.UploadID, []wire.MultipartUploadPart{{PartNumber: 1, ETag: e1}}, 400, "Invalid path"},
		{"TraversalName", mpuDir, "..", resp.UploadID, []wire.MultipartUploadPart{{PartNumber: 1, ETag: e1}}, 400, "names no file"},
		{"StagingAsTarget", ".housing-tmp-mpu/" + resp.UploadID, "target", resp.UploadID, []wire.MultipartUploadPart{{PartNumber: 1, ETag: e1}}, 400, "Invalid path"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var a answer
			if c.parts == nil {
				a = send(t, "POST", l.srv.URL+wire.PathMultipartComplete+"/"+c.dir, `{"path":"`+c.loc+`","upload_id":"`+c.id+`","parts":[]}`)
			} else {
				a = complete(t, l.srv, c.dir, c.loc, c.id, c.parts)
			}
			if a.status != c.status || !strings.Contains(a.body, c.contains) {
				t.Fatalf("%d %s, want %d mentioning %q", a.status, a.body, c.status, c.contains)
			}
		})
	}
	// The refusals left the upload intact: it still completes.
	a := complete(t, l.srv, mpuDir, mpuLocal, resp.UploadID, []wire.MultipartUploadPart{{PartNumber: 1, ETag: e1}, {PartNumber: 2, ETag: e2}})
	if a.status != 200 {
		t.Fatalf("complete after refusals: %d %s", a.status, a.body)
	}
}

func TestMultipartCreateRefusals(t *testing.T) {
	l := newLocalMPU(t)
	for name, c := range map[string]struct {
		dir, body string
		contains  string
	}{
		"NoParts":        {mpuDir, `{"path":"big.bin","num_parts":0}`, "num_parts"},
		"TooManyParts":   {mpuDir, `{"path":"big.bin","num_parts":10001}`, "num_parts"},
		"MissingPath":    {mpuDir, `{"num_parts":2}`, "'path'"},
		"DotDotName":     {mpuDir, `{"path":"/a/..","num_parts":2}`, "names no file"},
		"TraversalDir":   {"1/%2E%2E/%2E%2E", `{"path":"big.bin","num_parts":2}`, "Invalid path"},
		"WindowsPath":    {"C:/x", `{"path":"big.bin","num_parts":2}`, "Invalid path"},
		"IntoStagingDir": {".housing-tmp-mpu", `{"path":"big.bin","num_parts":2}`, "Invalid path"},
	} {
		t.Run(name, func(t *testing.T) {
			a := send(t, "POST", l.srv.URL+wire.PathMultipartCreate+"/"+c.dir, c.body)
			if a.status != 400 || !strings.Contains(a.body, c.contains) {
				t.Fatalf("%d %s, want 400 mentioning %q", a.status, a.body, c.contains)
			}
		})
	}
	// A Windows client's local path contributes only its base name.
	resp := create(t, l.srv, mpuDir, `C:\Users\me\big.bin`, 1)
	e := putPart(t, resp.Credentials[0].URL, "win")
	if a := complete(t, l.srv, mpuDir, "big.bin", resp.UploadID, []wire.MultipartUploadPart{{PartNumber: 1, ETag: e}}); a.status != 200 {
		t.Fatalf("complete: %d %s", a.status, a.body)
	}
	if got, err := os.ReadFile(filepath.Join(l.dir, filepath.FromSlash(mpuDir), "big.bin")); err != nil || string(got) != "win" {
		t.Fatalf("file %q, %v", got, err)
	}
}

// TestMultipartUnsupported answers as MLflow does for stores without multipart
// support, with the message its client falls back on.
func TestMultipartUnsupported(t *testing.T) {
	local, err := artifacts.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	sub, err := artifacts.Sub(local, "proxied")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(server.New(nil, sub, server.Options{}))
	defer srv.Close()
	want := `{"error_code": "NOT_IMPLEMENTED", "message": "Multipart upload is not supported for the current artifact repository"}`
	for _, p := range []string{wire.PathMultipartCreate, wire.PathMultipartComplete, wire.PathMultipartAbort} {
		a := send(t, "POST", srv.URL+p+"/"+mpuDir, `{"path":"big.bin","num_parts":3,"upload_id":"x","parts":[{"part_number":1,"etag":"e"}]}`)
		if a.status != 501 || a.body != want {
			t.Errorf("%s: %d %s, want 501 %s", p, a.status, a.body, want)
		}
	}

	// Without an artifacts destination at all, the endpoints are disabled (503).
	none := httptest.NewServer(server.New(nil, nil, server.Options{}))
	defer none.Close()
	if a := send(t, "POST", none.URL+wire.PathMultipartCreate+"/"+mpuDir, `{"path":"big.bin","num_parts":1}`); a.status != 503 {
		t.Errorf("create without artifacts: %d %s, want 503", a.status, a.body)
	}
}

// TestMultipartS3 runs the protocol against a real S3 server (versitygw): parts
// go to presigned URLs on S3's endpoint; a wrong ETag fails the completion
// clearly; the right ones make the object; an abort leaves no upload open.
func TestMultipartS3(t *testing.T) {
	s3srv, bucket := testenv.S3Bucket(t)
	cfg, err := artifacts.S3ConfigFromEnv(func(k string) string { return s3srv.Env()[k] })
	if err != nil {
		t.Fatal(err)
	}
	dest, err := artifacts.NewS3(context.Background(), bucket, "mlartifacts", cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(server.New(nil, dest, server.Options{}))
	defer srv.Close()

	resp := create(t, srv, mpuDir, mpuLocal, 2)
	for _, c := range resp.Credentials {
		if !strings.HasPrefix(c.URL, s3srv.URL()+"/"+bucket+"/mlartifacts/"+mpuDir+"/big.bin?") {
			t.Fatalf("part URL %s does not point at the S3 object", c.URL)
		}
	}
	first := strings.Repeat("a", 5<<20) // S3's smallest part but the last
	e1 := putPart(t, resp.Credentials[0].URL, first)
	e2 := putPart(t, resp.Credentials[1].URL, "tail")

	a := complete(t, srv, mpuDir, mpuLocal, resp.UploadID, []wire.MultipartUploadPart{{PartNumber: 1, ETag: e1}, {PartNumber: 2, ETag: `"0123456789abcdef0123456789abcdef"`}})
	if a.status != 400 || errorCode(t, a) != string(tracking.ErrInvalidParameterValue) || !strings.Contains(a.body, "ETag") {
		t.Fatalf("complete with a wrong ETag: %d %s, want 400 INVALID_PARAMETER_VALUE naming the ETag", a.status, a.body)
	}
	a = complete(t, srv, mpuDir, mpuLocal, resp.UploadID, []wire.MultipartUploadPart{{PartNumber: 1, ETag: e1}, {PartNumber: 2, ETag: e2}})
	if a.status != 200 {
		t.Fatalf("complete: %d %s", a.status, a.body)
	}
	rc, err := dest.Get(context.Background(), mpuDir+"/big.bin")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || string(got) != first+"tail" {
		t.Fatalf("object of %d bytes (%v), want %d", len(got), err, len(first)+4)
	}

	aborted := create(t, srv, mpuDir, "other.bin", 1)
	putPart(t, aborted.Credentials[0].URL, "x")
	if a := abort(t, srv, mpuDir, "other.bin", aborted.UploadID); a.status != 200 {
		t.Fatalf("abort: %d %s", a.status, a.body)
	}
	client, err := s3srv.Client()
	if err != nil {
		t.Fatal(err)
	}
	pending, err := minio.Core{Client: client}.ListMultipartUploads(context.Background(), bucket, "", "", "", "", 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(pending.Uploads) != 0 {
		t.Errorf("%d uploads left open on S3 after complete and abort", len(pending.Uploads))
	}
	if a := abort(t, srv, mpuDir, "other.bin", aborted.UploadID); a.status != 404 {
		t.Errorf("second abort: %d %s, want 404", a.status, a.body)
	}
}

// TestMultipartLocalPrunesAbandoned: an upload neither completed nor aborted
// is removed by a later create once its URLs are long expired; the new one stays.
func TestMultipartLocalPrunesAbandoned(t *testing.T) {
	l := newLocalMPU(t)
	abandoned := create(t, l.srv, mpuDir, mpuLocal, 1)
	putPart(t, abandoned.Credentials[0].URL, "never completed")
	create(t, l.srv, mpuDir, "idle.bin", 1)
	if s := l.staged(t); len(s) != 2 {
		t.Fatalf("staged %v, want 2 uploads", s)
	}
	l.clock.Add(3 * time.Minute) // URLExpiry is a minute: both are older than twice that
	fresh := create(t, l.srv, mpuDir, "fresh.bin", 1)
	s := l.staged(t)
	if len(s) != 1 || filepath.Base(s[0]) != fresh.UploadID {
		t.Fatalf("staged after pruning %v, want only %s", s, fresh.UploadID)
	}
	if a := abort(t, l.srv, mpuDir, mpuLocal, abandoned.UploadID); a.status != 404 {
		t.Errorf("abort of a pruned upload: %d %s, want 404", a.status, a.body)
	}
}
