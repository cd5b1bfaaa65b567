package server_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mlops-lab/housing/tracking/server"
	"github.com/mlops-lab/housing/tracking/wire"
)

// TestOversizeBodyAnswerReachesSender: a client that sends a whole large body
// before it reads the answer, as Python's requests does, reads the 413 JSON
// rather than a reset connection, with and without Content-Length, on an
// endpoint that refuses from the header and on one that finds out while reading.
func TestOversizeBodyAnswerReachesSender(t *testing.T) {
	const limit = 1 << 20
	srv := newAPIServerWith(t, server.Options{MaxBodyBytes: limit})
	addr := strings.TrimPrefix(srv.URL, "http://")
	body := `{"name":"` + strings.Repeat("x", 24<<20) + `"}`
	want := fmt.Sprintf(`{"error_code": "BAD_REQUEST", "message": "Request body is larger than the limit of %d bytes."}`, limit)
	for _, chunked := range []bool{false, true} {
		t.Run(fmt.Sprintf("chunked=%v", chunked), func(t *testing.T) {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
			head := "POST " + wire.PathCreateExperiment + " HTTP/1.1\r\nHost: " + addr + "\r\nContent-Type: application/json\r\n"
			payload := body
			if chunked {
				head += "Transfer-Encoding: chunked\r\n\r\n"
				payload = fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(body), body)
			} else {
				head += fmt.Sprintf("Content-Length: %d\r\n\r\n", len(body))
			}
			if _, err := io.WriteString(conn, head+payload); err != nil {
				t.Fatalf("sending the body: %v (the server stopped reading it)", err)
			}
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatalf("reading the answer: %v", err)
			}
			defer resp.Body.Close()
			got, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusRequestEntityTooLarge || string(got) != want {
				t.Errorf("%d %s, want 413 %s", resp.StatusCode, got, want)
			}
		})
	}
	// Go's client reads while it sends; it gets the answer too.
	resp, err := http.Post(srv.URL+wire.PathLogBatch, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e wire.ErrorResponse
	if err := json.NewDecoder(resp.Body).Decode(&e); err != nil || resp.StatusCode != 413 || e.ErrorCode != "BAD_REQUEST" {
		t.Errorf("Go client: %d %+v %v", resp.StatusCode, e, err)
	}
}

// TestOversizeBodyWithExpectContinue: a client that asked for 100-continue
// and sends nothing until told gets the 413 at once; the server does not wait
// for a body that will not come.
func TestOversizeBodyWithExpectContinue(t *testing.T) {
	const limit = 1 << 20
	srv := newAPIServerWith(t, server.Options{MaxBodyBytes: limit})
	addr := strings.TrimPrefix(srv.URL, "http://")
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second)) // well under the drain timeout
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: %d\r\n\r\n",
		wire.PathCreateExperiment, addr, 32<<20)
	start := time.Now()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("status %d, want 413 (not 100 Continue)", resp.StatusCode)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("answered after %v", d)
	}
}
