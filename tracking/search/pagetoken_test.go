package search_test

import (
	"encoding/base64"
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
