package client_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/client"
)

func fastOptions() client.Options {
	return client.Options{
		BackoffBase: time.Millisecond,
		BackoffMax:  5 * time.Millisecond,
		Rand:        rand.New(rand.NewPCG(1, 2)),
		Timeout:     5 * time.Second,
	}
}

// flaky answers status for the first n requests and then the experiment.
func flaky(t *testing.T, n int32, status int) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) <= n {
			w.WriteHeader(status)
			w.Write([]byte("<html>try again</html>"))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"experiment": {"experiment_id": "7", "name": "california-housing", "artifact_location": "mlflow-artifacts:/7", "lifecycle_stage": "active"}}`))
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func TestRetriesTransientStatuses(t *testing.T) {
	for _, status := range []int{408, 429, 500, 502, 503, 504} {
		srv, hits := flaky(t, 3, status)
		c, err := client.New(srv.URL, fastOptions())
		if err != nil {
			t.Fatal(err)
		}
		e, err := c.GetExperiment(context.Background(), "7")
		if err != nil {
			t.Fatalf("status %d three times: %v", status, err)
		}
		if e.Name != "california-housing" || hits.Load() != 4 {
			t.Fatalf("status %d: got %+v after %d requests, want the experiment after 4", status, e, hits.Load())
		}
	}
}

func TestRetriesPostBodyAgain(t *testing.T) {
	var hits atomic.Int32
	var bodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := make([]byte, 100)
		n, _ := r.Body.Read(b)
		bodies = append(bodies, string(b[:n]))
		if hits.Add(1) <= 2 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte(`{"experiment_id": "3"}`))
	}))
	defer srv.Close()
	c, _ := client.New(srv.URL, fastOptions())
	id, err := c.CreateExperiment(context.Background(), "x", "", nil)
	if err != nil || id != "3" {
		t.Fatalf("CreateExperiment = %q, %v", id, err)
	}
	for i, b := range bodies {
		if b != `{"name":"x"}` {
			t.Errorf("attempt %d sent body %q", i+1, b)
		}
	}
}

func TestRetriesGiveUp(t *testing.T) {
	srv, hits := flaky(t, 100, http.StatusBadGateway)
	opt := fastOptions()
	opt.MaxRetries = 2
	c, _ := client.New(srv.URL, opt)
	_, err := c.GetExperiment(context.Background(), "7")
	if hits.Load() != 3 {
		t.Fatalf("made %d requests, want 1 + 2 retries", hits.Load())
	}
	if tracking.ErrorCodeOf(err) != tracking.ErrInternal || !strings.Contains(err.Error(), "502") {
		t.Fatalf("after retries: %v, want INTERNAL_ERROR naming the 502", err)
	}

	opt.MaxRetries = -1
	c, _ = client.New(srv.URL, opt)
	hits.Store(0)
	c.GetExperiment(context.Background(), "7")
	if hits.Load() != 1 {
		t.Fatalf("MaxRetries -1 made %d requests, want 1", hits.Load())
	}
}

func TestNoRetryOnClientErrors(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "No Experiment with id=9 exists"}`))
	}))
	defer srv.Close()
	c, _ := client.New(srv.URL, fastOptions())
	_, err := c.GetExperiment(context.Background(), "9")
	if !tracking.IsNotFound(err) || tracking.ErrorMessage(err) != "No Experiment with id=9 exists" {
		t.Fatalf("got %v, want RESOURCE_DOES_NOT_EXIST with the server's message", err)
	}
	if hits.Load() != 1 {
		t.Fatalf("a 404 was sent %d times", hits.Load())
	}
}

func TestRetriesConnectionErrors(t *testing.T) {
	// A port that was just free: connections are refused.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	opt := fastOptions()
	opt.MaxRetries = 3
	c, _ := client.New("http://"+addr, opt)
	start := time.Now()
	err = c.Ping(context.Background())
	if err == nil {
		t.Fatal("Ping of a closed port succeeded")
	}
	if !strings.Contains(err.Error(), "refused") {
		t.Fatalf("got %v, want connection refused", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatalf("giving up took %v", time.Since(start))
	}
}

func TestStopsOnContextDone(t *testing.T) {
	srv, hits := flaky(t, 1000, http.StatusServiceUnavailable)
	opt := fastOptions()
	opt.BackoffBase, opt.BackoffMax = time.Hour, time.Hour
	opt.Rand = rand.New(rand.NewPCG(3, 3))
	c, _ := client.New(srv.URL, opt)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := c.GetExperiment(ctx, "7")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want the context's deadline", err)
	}
	if hits.Load() > 2 {
		t.Fatalf("made %d requests while waiting an hour between them", hits.Load())
	}
}

func TestNoRetryOnCertificateError(t *testing.T) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Config.ErrorLog = nil
	srv.StartTLS()
	defer srv.Close()
	c, _ := client.New(srv.URL, fastOptions()) // does not trust the test certificate
	err := c.Ping(context.Background())
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("got %v, want a certificate error", err)
	}
	time.Sleep(20 * time.Millisecond) // let the server see every connection
	if conns.Load() != 1 {
		t.Fatalf("%d connections for a certificate error, want 1 (no retries)", conns.Load())
	}

	opt := fastOptions()
	opt.InsecureTLS = true
	c, _ = client.New(srv.URL, opt)
	if err := c.Ping(context.Background()); err != nil {
		t.Fatalf("with InsecureTLS: %v", err)
	}
}

func TestRetryAfter(t *testing.T) {
	var hits atomic.Int32
	var first time.Time
	var waited time.Duration
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) == 1 {
			first = time.Now()
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		waited = time.Since(first)
	}))
	defer srv.Close()
	opt := fastOptions()
	opt.BackoffMax = 2 * time.Second
	c, _ := client.New(srv.URL, opt)
	if err := c.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	if waited < 900*time.Millisecond {
		t.Fatalf("retried after %v, want the server's Retry-After of 1s", waited)
	}
}
