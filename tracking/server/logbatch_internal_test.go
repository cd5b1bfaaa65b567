package server

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// agrees checks parseLogBatch against decodeLogBatch on body: what the fast
// parser accepts, decode must accept and read to the same request. It
// reports whether the fast parser accepted.
func agrees(t testing.TB, body string) bool {
	t.Helper()
	fast, ok := parseLogBatch([]byte(body))
	if !ok {
		return false
	}
	slow, err := decodeLogBatch([]byte(body))
	if err != nil {
		t.Fatalf("parseLogBatch accepted what decode refuses (%v):\n%s", err, body)
	}
	if !reflect.DeepEqual(fast, slow) {
		t.Fatalf("parseLogBatch read %+v, decode %+v:\n%s", fast, slow, body)
	}
	return true
}

func TestParseLogBatchAgreesWithDecode(t *testing.T) {
	// Bodies decode refuses or reads its own way: each must be declined.
	declined := []string{
		``, `null`, `"{\"run_id\": \"r1\"}"`, `[]`, `{}`, `{"run_id": ""}`, `{"run_id": null}`,
		`{"run_id": "r1"} x`, `{"run_id": "r1",}`, `{"run_id": "r\u00001"}`, `{"run_id": "r\"1"}`,
		`{"run_id": "r1", "run_id": "r2"}`, `{"RUN_ID": "r1"}`, `{"run_id": "r1", "extra": 1}`,
		`{"run_id": 5}`, `{"run_id": "r1", "metrics": null}`, `{"run_id": "r1", "metrics": {}}`,
		`{"run_id": "r1", "metrics": [{"key": "m", "value": 1}]}`,
		`{"run_id": "r1", "metrics": [{"key": "m", "timestamp": 1}]}`,
		`{"run_id": "r1", "metrics": [{"value": 1, "timestamp": 1}]}`,
		`{"run_id": "r1", "metrics": [{"key": "", "value": 1, "timestamp": 1}]}`,
		`{"run_id": "r1", "metrics": [{"key": "m", "value": "NaN", "timestamp": 1}]}`,
		`{"run_id": "r1", "metrics": [{"key": "m", "value": 1e400, "timestamp": 1}]}`,
		`{"run_id": "r1", "metrics": [{"key": "m", "value": 01, "timestamp": 1}]}`,
		`{"run_id": "r1", "metrics": [{"key": "m", "value": 1., "timestamp": 1}]}`,
		`{"run_id": "r1", "metrics": [{"key": "m", "value": 1, "timestamp": 1.0}]}`,
		`{"run_id": "r1", "metrics": [{"key": "m", "value": 1, "timestamp": 1e3}]}`,
		`{"run_id": "r1", "metrics": [{"key": "m", "value": 1, "timestamp": 99999999999999999999}]}`,
		`{"run_id": "r1", "metrics": [{"key": "m", "value": 1, "timestamp": 1, "step": null}]}`,
		`{"run_id": "r1", "metrics": [{"key": "m", "value": 1, "timestamp": 1, "model_id": "x"}]}`,
		`{"run_id": "r1", "metrics": [{"key": "m", "value": 1, "timestamp": 1, "Step": 2}]}`,
		`{"run_id": "r1", "params": [{"value": "v"}]}`, `{"run_id": "r1", "params": [{"key": "k", "value": null}]}`,
		`{"run_id": "r1", "tags": [{"key": "k", "value": 3}]}`, "{\"run_id\": \"r\xff1\"}",
		"{\"run_id\": \"r\t1\"}",
	}
	for _, body := range declined {
		if _, ok := parseLogBatch([]byte(body)); ok {
			t.Errorf("parseLogBatch accepted %q", body)
		}
	}
	accepted := []string{
		`{"run_id": "r1"}`,
		` {"metrics": [], "run_id": "r1", "params": [], "tags": []} `,
		`{"run_id":"r1","metrics":[{"key":"m","value":-0.5e-3,"timestamp":-1,"step":9223372036854775807}]}`,
		"{\n\t\"run_id\": \"r1\",\r\n \"tags\": [{\"key\": \"k\", \"value\": \"\"}], \"params\": [{\"key\": \"p\"}]}",
		`{"run_id": "r1", "metrics": [{"key": "m", "value": 0, "timestamp": 0}, {"key": "ü/ x:y", "value": 1E+2, "timestamp": 5}]}`,
		`{"run_id": "r1", "metrics": [{"key": "m", "value": 1.7976931348623157e308, "timestamp": 0}]}`,
	}
	for _, body := range accepted {
		if !agrees(t, body) {
			t.Errorf("parseLogBatch declined %q", body)
		}
	}
	// Random bodies of the usual shape, and the same with one byte changed.
	rng := rand.New(rand.NewPCG(1, 2))
	var fast, total int
	for range 20000 {
		body := randomBatch(rng)
		if rng.IntN(2) == 0 {
			b := []byte(body)
			const bytes = "{}[]\",:0-.eE \\nx\x00\xc3"
			b[rng.IntN(len(b))] = bytes[rng.IntN(len(bytes))]
			body = string(b)
		}
		total++
		if agrees(t, body) {
			fast++
		}
	}
	// Half the bodies are unchanged and every one of those must be read fast.
	if fast < total/2 {
		t.Fatalf("parseLogBatch accepted %d of %d bodies", fast, total)
	}
}

// randomBatch writes a log-batch body as clients write them, with random
// spacing, field order, numbers and keys.
func randomBatch(rng *rand.Rand) string {
	sp := func() string { return []string{"", " ", "\n  ", "\t"}[rng.IntN(4)] }
	key := func() string {
		return []string{"m0", "loss", "val/acc", "ü", "a b:c.d-e", "日本"}[rng.IntN(6)] + fmt.Sprint(rng.IntN(100))
	}
	num := func() string {
		switch rng.IntN(6) {
		case 0:
			return fmt.Sprint(rng.Int64())
		case 1:
			return fmt.Sprint(-rng.Float64())
		case 2:
			return fmt.Sprintf("%e", rng.NormFloat64()*1e10)
		case 3:
			return "0"
		default:
			return fmt.Sprint(rng.Float64() * 100)
		}
	}
	integer := func() string { return fmt.Sprint(rng.Int64N(1<<62) - 1<<61) }
	obj := func(members []string) string {
		rng.Shuffle(len(members), func(i, j int) { members[i], members[j] = members[j], members[i] })
		return "{" + sp() + strings.Join(members, ","+sp()) + sp() + "}"
	}
	list := func(n int, elem func() string) string {
		var es []string
		for range n {
			es = append(es, elem())
		}
		return "[" + sp() + strings.Join(es, ","+sp()) + sp() + "]"
	}
	var members []string
	members = append(members, `"run_id":`+sp()+`"`+fmt.Sprintf("%032x", rng.Uint64())+`"`)
	if rng.IntN(8) != 0 {
		members = append(members, `"metrics":`+sp()+list(rng.IntN(12), func() string {
			m := []string{`"key": "` + key() + `"`, `"value": ` + num(), `"timestamp":` + sp() + integer()}
			if rng.IntN(4) != 0 {
				m = append(m, `"step": `+integer())
			}
			return obj(m)
		}))
	}
	kv := func() string {
		m := []string{`"key": "` + key() + `"`}
		if rng.IntN(4) != 0 {
			m = append(m, `"value": "`+key()+`"`)
		}
		return obj(m)
	}
	if rng.IntN(3) == 0 {
		members = append(members, `"params": `+list(rng.IntN(3), kv))
	}
	if rng.IntN(3) == 0 {
		members = append(members, `"tags": `+list(rng.IntN(3), kv))
	}
	return sp() + obj(members) + sp()
}

func FuzzParseLogBatch(f *testing.F) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 20 {
		f.Add(randomBatch(rng))
	}
	f.Add(`{"run_id": "r1", "metrics": [{"key": "m", "value": 1, "timestamp": 1}]}`)
	f.Fuzz(func(t *testing.T, body string) { agrees(t, body) })
}
