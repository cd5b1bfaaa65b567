package reliability_test

import (
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mlops-lab/housing/tracking/wire"
)

// TestSIGTERMDrainsInFlightRequests sends SIGTERM to the real tracking-server
// binary while an upload is half sent, finishes sending it, and checks that it
// is answered 200 and stored, that new connections are refused after the signal,
// and that the process exits 0.
func TestSIGTERMDrainsInFlightRequests(t *testing.T) {
	dir := t.TempDir()
	p := startServerProcess(t, nil, "--backend-store-uri", "sqlite:///"+filepath.Join(dir, "mlflow.db"),
		"--artifacts-destination", filepath.Join(dir, "mlartifacts"))

	pr, pw := io.Pipe()
	req, err := http.NewRequest("PUT", p.url+wire.PathArtifacts+"/0/slow/model.bin", pr)
	if err != nil {
		t.Fatal(err)
	}
	answered := make(chan *http.Response, 1)
	failed := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			failed <- err
			return
		}
		answered <- resp
	}()
	half := strings.Repeat("a", 64<<10)
	if _, err := pw.Write([]byte(half)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // the request is in the handler, reading its body
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // the server has stopped listening
	if resp, err := http.Get(p.url + wire.PathHealth); err == nil {
		resp.Body.Close()
		t.Errorf("a new request after SIGTERM was served: %s", resp.Status)
	}
	if _, err := pw.Write([]byte(half)); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	select {
	case resp := <-answered:
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("in-flight upload answered %s after SIGTERM, want 200", resp.Status)
		}
	case err := <-failed:
		t.Fatalf("in-flight upload failed after SIGTERM: %v\n%s", err, p.log.String())
	case <-time.After(20 * time.Second):
		t.Fatal("in-flight upload not answered in 20s")
	}
	if err := p.cmd.Wait(); err != nil {
		t.Errorf("server exit after SIGTERM: %v\n%s", err, p.log.String())
	}
	if !strings.Contains(p.log.String(), "draining") {
		t.Errorf("server log does not say it drained:\n%s", p.log.String())
	}
	b, err := readFile(filepath.Join(dir, "mlartifacts", "0", "slow", "model.bin"))
	if err != nil || len(b) != 2*len(half) {
		t.Errorf("stored upload: %d bytes, %v; want %d", len(b), err, 2*len(half))
	}
}
