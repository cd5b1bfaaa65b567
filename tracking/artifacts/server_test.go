package artifacts_test

import (
	"net/http/httptest"
	"testing"

	"github.com/mlops-lab/housing/tracking/artifacts"
	"github.com/mlops-lab/housing/tracking/server"
)

// TestHTTPAgainstServer runs the repository contract through the project's
// tracking server, whose proxied artifact store is a local directory.
func TestHTTPAgainstServer(t *testing.T) {
	dest, err := artifacts.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(server.New(nil, dest, server.Options{}))
	defer srv.Close()
	repo, err := artifacts.NewHTTP(srv.URL, "1/0123456789abcdef/artifacts", srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	testRepository(t, repo)
}
