package reliability_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/mlops-lab/housing/internal/testenv"

	"github.com/mlops-lab/housing/tracking/artifacts"
	"github.com/mlops-lab/housing/tracking/server"
	"github.com/mlops-lab/housing/tracking/sqlstore"
)

// sqliteServer serves a real SQLite store and local artifacts over real HTTP, as
// the tracking-server binary does by default. It returns the server and the
// directory holding mlflow.db and mlartifacts/.
func sqliteServer(t *testing.T, opts server.Options) (*httptest.Server, string) {
	t.Helper()
	dir := t.TempDir()
	return storeServer(t, "sqlite:///"+filepath.Join(dir, "mlflow.db"), dir, opts), dir
}

// backends are the backend stores every test in this package runs on: SQLite in
// dir, and a fresh database on the test PostgreSQL server (skipped, or failed
// under HOUSING_REQUIRE_SERVICES=1, when PostgreSQL is absent).
var backends = []struct {
	name string
	uri  func(t *testing.T, dir string) string
}{
	{"sqlite", func(t *testing.T, dir string) string { return "sqlite:///" + filepath.Join(dir, "mlflow.db") }},
	{"postgresql", func(t *testing.T, dir string) string { return testenv.PostgresURI(t) }},
}

// storeServer serves the store at uri, with local artifacts in dir/mlartifacts.
func storeServer(t *testing.T, uri, dir string, opts server.Options) *httptest.Server {
	t.Helper()
	store, err := sqlstore.Open(context.Background(), uri, sqlstore.Options{DefaultArtifactRoot: "mlflow-artifacts:/"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	repo, err := artifacts.NewLocal(filepath.Join(dir, "mlartifacts"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(server.New(store, repo, opts))
	t.Cleanup(srv.Close)
	return srv
}

// reply is an HTTP answer read whole.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// errorBody is MLflow's error answer.
type errorBody struct {
	ErrorCode string `json:"error_code"`
	Message   string `json:"message"`
}

func (r reply) errorBody(t *testing.T) errorBody {
	t.Helper()
	var e errorBody
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatalf("status %d body %q is not an MLflow error: %v", r.status, r.body, err)
	}
	return e
}

// send sends one request; body is sent as is with Content-Type application/json
// when non-empty.
func send(t *testing.T, method, url string, body []byte) reply {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, url, err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: b}
}

// mustJSON sends a JSON request that must succeed and decodes its answer into out.
func mustJSON(t *testing.T, method, url string, in, out any) {
	t.Helper()
	var b []byte
	if in != nil {
		var err error
		if b, err = json.Marshal(in); err != nil {
			t.Fatal(err)
		}
	}
	r := send(t, method, url, b)
	if r.status != http.StatusOK {
		t.Fatalf("%s %s %s: status %d: %s", method, url, b, r.status, r.body)
	}
	if out != nil {
		if err := json.Unmarshal(r.body, out); err != nil {
			t.Fatalf("%s %s: decode %s: %v", method, url, r.body, err)
		}
	}
}

func jsonDecode(r io.Reader, v any) error { return json.NewDecoder(r).Decode(v) }

func readFile(name string) ([]byte, error) { return os.ReadFile(name) }
