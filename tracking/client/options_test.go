package client_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/client"
)

func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func TestOptionsFromEnv(t *testing.T) {
	opt, err := client.OptionsFromEnv(env(
		"MLFLOW_TRACKING_USERNAME", "ann", "MLFLOW_TRACKING_PASSWORD", "pw",
		"MLFLOW_TRACKING_INSECURE_TLS", "true", "MLFLOW_HTTP_REQUEST_TIMEOUT", "2.5",
		"MLFLOW_HTTP_REQUEST_MAX_RETRIES", "3"))
	if err != nil {
		t.Fatal(err)
	}
	if opt.Username != "ann" || opt.Password != "pw" || !opt.InsecureTLS || opt.Timeout != 2500*time.Millisecond || opt.MaxRetries != 3 {
		t.Fatalf("OptionsFromEnv = %+v", opt)
	}
	opt, err = client.OptionsFromEnv(env("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0"))
	if err != nil || opt.MaxRetries >= 0 {
		t.Fatalf("MAX_RETRIES=0 gives MaxRetries %d, %v; want negative (none)", opt.MaxRetries, err)
	}
	for name, tc := range map[string]struct {
		env  func(string) string
		want string
	}{
		"UserWithoutPassword": {env("MLFLOW_TRACKING_USERNAME", "ann"), "MLFLOW_TRACKING_PASSWORD"},
		"BadTimeout":          {env("MLFLOW_HTTP_REQUEST_TIMEOUT", "soon"), "MLFLOW_HTTP_REQUEST_TIMEOUT"},
		"BadRetries":          {env("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "-2"), "MLFLOW_HTTP_REQUEST_MAX_RETRIES"},
		"BadInsecure":         {env("MLFLOW_TRACKING_INSECURE_TLS", "yes please"), "MLFLOW_TRACKING_INSECURE_TLS"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := client.OptionsFromEnv(tc.env)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error naming %s", err, tc.want)
			}
		})
	}
}

func TestNewRefusesBadURIs(t *testing.T) {
	for _, uri := range []string{"", "localhost:5000", "sqlite:///mlflow.db", "http://", "http://h:5000/?x=1"} {
		if _, err := client.New(uri, client.Options{}); err == nil {
			t.Errorf("New(%q) succeeded", uri)
		}
	}
}

func TestAuthentication(t *testing.T) {
	var gotAuth, gotUA string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAuth, gotUA = r.Header.Get("Authorization"), r.Header.Get("User-Agent")
	}))
	defer srv.Close()
	cases := []struct {
		opt  client.Options
		want string
	}{
		{client.Options{}, ""},
		{client.Options{Username: "ann", Password: "pw"}, "Basic YW5uOnB3"},
		{client.Options{Token: "tok", Username: "ann", Password: "pw"}, "Bearer tok"},
	}
	for _, tc := range cases {
		c, err := client.New(srv.URL, tc.opt)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Ping(context.Background()); err != nil {
			t.Fatal(err)
		}
		if gotAuth != tc.want || gotUA != client.UserAgent {
			t.Errorf("options %+v: Authorization %q, User-Agent %q; want %q, %q", tc.opt, gotAuth, gotUA, tc.want, client.UserAgent)
		}
		// Artifact transfers through HTTPClient carry the same credentials.
		resp, err := c.HTTPClient().Get(srv.URL + "/x")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if gotAuth != tc.want {
			t.Errorf("HTTPClient: Authorization %q, want %q", gotAuth, tc.want)
		}
	}
}

func TestNonJSONErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		switch r.URL.Path {
		case "/api/2.0/mlflow/experiments/get":
			w.WriteHeader(http.StatusNotFound)
		case "/api/2.0/mlflow/runs/get":
			w.WriteHeader(http.StatusUnauthorized)
		default:
			w.WriteHeader(http.StatusForbidden)
		}
		w.Write([]byte("<!doctype html><title>nope</title>"))
	}))
	defer srv.Close()
	c, _ := client.New(srv.URL, client.Options{MaxRetries: -1})
	ctx := context.Background()
	_, err := c.GetExperiment(ctx, "1")
	if tracking.ErrorCodeOf(err) != tracking.ErrEndpointNotFound {
		t.Errorf("HTML 404: %v, want ENDPOINT_NOT_FOUND", err)
	}
	_, err = c.GetRun(ctx, "r")
	if tracking.ErrorCodeOf(err) != tracking.ErrUnauthenticated {
		t.Errorf("HTML 401: %v, want UNAUTHENTICATED", err)
	}
	_, err = c.GetRegisteredModel(ctx, "m")
	if tracking.ErrorCodeOf(err) != tracking.ErrPermissionDenied {
		t.Errorf("HTML 403: %v, want PERMISSION_DENIED", err)
	}
}
