package search_test

import (
	"encoding/base64"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/mlops-lab/housing/tracking/search"
)

func TestEncodePageTokenMatchesCaptures(t *testing.T) {
	// next_page_token values from the MLflow 2.17.2 captures in mlflow-wire/README.md.
	for offset, want := range map[int]string{1: "eyJvZmZzZXQiOiAxfQ==", 2: "eyJvZmZzZXQiOiAyfQ=="} {
		if got := search.EncodePageToken(offset); got != want {
			t.Errorf("EncodePageToken(%d) = %q, want %q", offset, got, want)
		}
	}
}

func TestPageTokenRoundTrip(t *testing.T) {
	for _, offset := range []int{1, 2, 10, 1000, 50000, 1 << 40} {
		got, err := search.DecodePageToken(search.EncodePageToken(offset))
		if err != nil || got != offset {
			t.Errorf("round trip of %d = %d, %v", offset, got, err)
		}
	}
	if got, err := search.DecodePageToken(""); got != 0 || err != nil {
		t.Errorf(`DecodePageToken("") = %d, %v; want 0, nil`, got, err)
	}
}

func TestDecodePageTokenErrors(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	tests := []struct{ token, msg string }{
		{"garbage", "Invalid page token, could not base64-decode"},
		{"eyJvZmZzZXQiOiAyfQ", "Invalid page token, could not base64-decode"}, // padding missing
		{b64("not json"), "Invalid page token, decoded value=b'not json'"},
		{b64(`{"offset": 0}`), `Invalid page token, parsed value={"offset": 0}`},
		{b64(`{"x": 1}`), `Invalid page token, parsed value={"x": 1}`},
		{b64(`{"offset": null}`), `Invalid page token, parsed value={"offset": null}`},
		{b64(`[1]`), `Invalid page token, parsed value=[1]`},
		{b64(`{"offset": -3}`), `Invalid page token, parsed value={"offset": -3}`},
		{b64(`{"offset": "abc"}`), "Invalid page token, not stringable abc"},
		{b64(`{"offset": 2.5}`), "Invalid page token, not stringable 2.5"},
	}
	for _, tt := range tests {
		got, err := search.DecodePageToken(tt.token)
		if err == nil {
			t.Errorf("DecodePageToken(%q) = %d, want error %q", tt.token, got, tt.msg)
			continue
		}
		wantInvalid(t, err, tt.msg)
	}
	// Python's int() takes a numeric string, so MLflow does too.
	if got, err := search.DecodePageToken(b64(`{"offset": "5"}`)); got != 5 || err != nil {
		t.Errorf(`offset "5" = %d, %v`, got, err)
	}
}

func TestRunPageTokenKeepsMLflowsOffset(t *testing.T) {
	pos := search.RunPosition{Offset: 300, Search: "x1", After: []any{int64(2), nil, 0.25, "a b", "f0e1"}}
	token := search.EncodeRunPageToken(pos)
	// MLflow's servers read "offset" alone (parse_start_offset_from_page_token).
	raw, err := base64.StdEncoding.DecodeString(token)
	if err != nil {
		t.Fatal(err)
	}
	var parsed map[string]any
	if err := json.Unmarshal(raw, &parsed); err != nil || parsed["offset"] != 300.0 {
		t.Fatalf("token %s: offset %v, %v", raw, parsed["offset"], err)
	}
	if off, err := search.DecodePageToken(token); off != 300 || err != nil {
		t.Errorf("DecodePageToken = %d, %v", off, err)
	}
	if got, err := search.DecodeRunPageToken(token); err != nil || !reflect.DeepEqual(got, pos) {
		t.Errorf("DecodeRunPageToken = %+v, %v; want %+v", got, err, pos)
	}
	// MLflow's own tokens and garbled positions page by the offset.
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	for _, tok := range []string{search.EncodePageToken(7), b64(`{"offset": 7, "after": ["x1"], "search": "s"}`),
		b64(`{"offset": 7, "after": 3, "search": "s"}`), b64(`{"offset": 7, "after": ["i1"]}`)} {
		if got, err := search.DecodeRunPageToken(tok); err != nil || got.Offset != 7 || got.After != nil {
			t.Errorf("DecodeRunPageToken(%q) = %+v, %v; want offset 7 alone", tok, got, err)
		}
	}
	// Values JSON cannot hold leave the token an offset one.
	if got := search.EncodeRunPageToken(search.RunPosition{Offset: 7, Search: "s", After: []any{"\xff"}}); got != search.EncodePageToken(7) {
		t.Errorf("token of an invalid UTF-8 value = %q", got)
	}
}
