package artifacts_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/artifacts"
)

// proxy serves a Local repository the way MLflow's artifact proxy does, including
// its answer to a missing file (500 INTERNAL_ERROR). It stands in until the
// project's server can be used here; tracking/client tests run against that.
func proxy(t *testing.T) *httptest.Server {
	t.Helper()
	store, err := artifacts.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	fail := func(w http.ResponseWriter, err error) {
		code := tracking.ErrorCodeOf(err)
		status := tracking.HTTPStatus(code)
		if code == tracking.ErrResourceDoesNotExist {
			code, status = tracking.ErrInternal, http.StatusInternalServerError // as MLflow 2.17 does
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]string{"error_code": string(code), "message": tracking.ErrorMessage(err)})
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+artifacts.ArtifactsAPIPath, func(w http.ResponseWriter, r *http.Request) {
		dir := r.URL.Query().Get("path")
		files, err := store.List(r.Context(), dir)
		if err != nil {
			fail(w, err)
			return
		}
		type entry struct {
			Path     string `json:"path"`
			IsDir    bool   `json:"is_dir"`
			FileSize int64  `json:"file_size,omitempty"`
		}
		var out struct {
			Files []entry `json:"files,omitempty"`
		}
		for _, f := range files {
			out.Files = append(out.Files, entry{strings.TrimPrefix(strings.TrimPrefix(f.Path, strings.Trim(dir, "/")), "/"), f.IsDir, f.FileSize})
		}
		json.NewEncoder(w).Encode(out)
	})
	mux.HandleFunc(artifacts.ArtifactsAPIPath+"/", func(w http.ResponseWriter, r *http.Request) {
		p := strings.TrimPrefix(r.URL.EscapedPath(), artifacts.ArtifactsAPIPath+"/")
		if _, err := artifacts.CleanPath(p); err != nil {
			fail(w, err)
			return
		}
		p = strings.TrimPrefix(r.URL.Path, artifacts.ArtifactsAPIPath+"/")
		switch r.Method {
		case http.MethodPut:
			if err := store.Put(r.Context(), p, r.Body, r.ContentLength); err != nil {
				fail(w, err)
				return
			}
			io.WriteString(w, "{}")
		case http.MethodGet:
			rc, err := store.Get(r.Context(), p)
			if err != nil {
				fail(w, err)
				return
			}
			defer rc.Close()
			io.Copy(w, rc)
		case http.MethodDelete:
			if err := store.Delete(r.Context(), p); err != nil {
				fail(w, err)
				return
			}
			io.WriteString(w, "{}")
		default:
			w.WriteHeader(http.StatusMethodNotAllowed)
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestHTTP(t *testing.T) {
	srv := proxy(t)
	repo, err := artifacts.NewHTTP(srv.URL, "1/0123456789abcdef/artifacts", srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	testRepository(t, repo)
}

func TestResponseError(t *testing.T) {
	cases := []struct {
		status int
		body   string
		want   tracking.ErrorCode
	}{
		{404, `{"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "Run with id=x not found"}`, tracking.ErrResourceDoesNotExist},
		{400, `{"error_code": "RESOURCE_ALREADY_EXISTS", "message": "dup"}`, tracking.ErrResourceAlreadyExists},
		{502, `<html>Bad Gateway</html>`, tracking.ErrInternal},
		{503, ``, tracking.ErrTemporarilyUnavailable},
		{404, `<!doctype html><title>404 Not Found</title>`, tracking.ErrEndpointNotFound},
	}
	for _, c := range cases {
		resp := &http.Response{StatusCode: c.status, Status: http.StatusText(c.status), Body: io.NopCloser(strings.NewReader(c.body))}
		err := artifacts.ResponseError(resp, "GET x")
		var te *tracking.Error
		if !errors.As(err, &te) || te.Code != c.want {
			t.Errorf("status %d body %q: got %v, want code %s", c.status, c.body, err, c.want)
		}
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
