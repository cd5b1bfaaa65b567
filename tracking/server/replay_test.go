package server_test

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReplayPythonClient sends every request the real MLflow 2.17.2 Python client
// sent in the capture (shared/mlflow-wire/client_wire.jsonl), with the captured
// run ids replaced by ours, and expects the statuses MLflow answered.
func TestReplayPythonClient(t *testing.T) {
	path := filepath.Join("..", "..", "..", "shared", "mlflow-wire", "client_wire.jsonl")
	f, err := os.Open(path)
	if err != nil {
		t.Skipf("capture not found (%v): run inside the lab's work tree", err)
	}
	defer f.Close()
	srv := newAPIServer(t)
	ids := map[string]string{} // captured run id -> ours
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var rec struct {
			Method   string  `json:"method"`
			Path     string  `json:"path"`
			ReqType  *string `json:"req_content_type"`
			ReqBody  *string `json:"req_body"`
			Status   int     `json:"status"`
			RespBody string  `json:"resp_body"`
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatal(err)
		}
		subst := func(s string) string {
			for theirs, ours := range ids {
				s = strings.ReplaceAll(s, theirs, ours)
			}
			return s
		}
		ct, body := "", ""
		if rec.ReqType != nil {
			ct = *rec.ReqType
		}
		if rec.ReqBody != nil {
			body = subst(*rec.ReqBody)
		}
		if ct == "application/json" && !json.Valid([]byte(body)) {
			continue // the capture shortened this body ("...<N chars>"): nothing to replay
		}
		got := do(t, srv, rec.Method, subst(rec.Path), ct, body)
		if got.status != rec.Status {
			t.Fatalf("%s %s: status %d, MLflow answered %d\nours: %s\ntheirs: %s", rec.Method, rec.Path, got.status, rec.Status, got.body, rec.RespBody)
		}
		if strings.HasSuffix(rec.Path, "/runs/create") {
			var theirs, ours struct {
				Run struct {
					Info struct {
						RunID string `json:"run_id"`
					} `json:"info"`
				} `json:"run"`
			}
			json.Unmarshal([]byte(rec.RespBody), &theirs)
			json.Unmarshal([]byte(got.body), &ours)
			ids[theirs.Run.Info.RunID] = ours.Run.Info.RunID
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(ids) == 0 {
		t.Fatal("the capture created no runs")
	}
}
