package tracking

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"

	"github.com/mlops-lab/housing/internal/testenv"
)

// TestEntityNameCharsIsThePattern holds entityNameChars to MLflow's pattern
// as Python reads it (\w Unicode, $ before a final newline too), on every
// byte and on random keys.
func TestEntityNameCharsIsThePattern(t *testing.T) {
	re := regexp.MustCompile(`^[/\p{L}\p{N}_.\- :]*\n?$`)
	check := func(s string) {
		if got, want := entityNameChars(s), re.MatchString(s); got != want {
			t.Fatalf("entityNameChars(%q) = %v, the pattern says %v", s, got, want)
		}
	}
	for c := range 256 {
		check(string([]byte{byte(c)}))
		check("a" + string([]byte{byte(c)}) + "b")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	const alphabet = "aZ09_/.- :ü日٣\u0301\u00a0\n\t\x00$*\xff"
	chars := []rune(alphabet)
	for range 5000 {
		var b strings.Builder
		for range rng.IntN(10) {
			b.WriteRune(chars[rng.IntN(len(chars))])
		}
		check(b.String())
	}
}

// TestValidateBatchPlainKeys checks that the keys ValidateBatch lets through
// without a closer look are the keys the closer look passes.
func TestValidateBatchPlainKeys(t *testing.T) {
	keys := []string{"", "m0", "a/b", "/a", "a/", "a//b", "./a", "a/./b", "..", "../a", "a/..", ".", "a b:c",
		"ü", "a\nb", strings.Repeat("k", MaxEntityKeyLength), strings.Repeat("k", MaxEntityKeyLength+1), "a-b.c_d"}
	for _, k := range keys {
		for i, check := range []func() error{
			func() error { return ValidateMetric("metrics[0]", Metric{Key: k}) },
			func() error { return ValidateParam("params[0]", Param{Key: k}) },
			func() error { return ValidateTag("tags[0]", Tag{Key: k}) },
		} {
			if plainKey(k) && check() != nil {
				t.Errorf("key %q (check %d): plain, but refused: %v", k, i, check())
			}
		}
		err := ValidateBatch([]Metric{{Key: "ok"}, {Key: k}}, nil, nil)
		want := ValidateMetric(fmt.Sprintf("metrics[%d]", 1), Metric{Key: k})
		if fmt.Sprint(err) != fmt.Sprint(want) {
			t.Errorf("ValidateBatch of key %q: %v, want %v", k, err, want)
		}
	}
}

// TestEntityNamesAsRealMLflow asks the real MLflow's own
// _validate_metric_name about every assigned character (in "a?b", and the
// ASCII ones also followed by a newline) and holds validateEntityName to its
// answers. Characters Python's Unicode tables do not
// know are left out: Go's may be newer.
func TestEntityNamesAsRealMLflow(t *testing.T) {
	const script = `
import sys, unicodedata
from mlflow.utils.validation import _validate_metric_name
def ok(k):
    try:
        _validate_metric_name(k)
        return "1"
    except Exception:
        return "0"
for cp in range(0x110000):
    c = chr(cp)
    if unicodedata.category(c) in ("Cn", "Cs"):
        continue
    print(cp, ok("a" + c + "b"), ok(c + "\n") if cp < 128 else "-")
`
	for _, version := range []string{"2.17.2", "3.11.1"} {
		t.Run(version, func(t *testing.T) {
			testenv.RequireMLflow(t, version)
			out, err := testenv.RunMLflowPython(t.Context(), version, script)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for line := range strings.Lines(string(out)) {
				var cp int
				var inWord, withNewline string
				if _, err := fmt.Sscan(line, &cp, &inWord, &withNewline); err != nil {
					t.Fatalf("line %q: %v", line, err)
				}
				c := string(rune(cp))
				check := func(key, verdict string) {
					if err := validateEntityName("key", key); (err == nil) != (verdict == "1") {
						t.Errorf("validateEntityName(%q) = %v, but MLflow %s %s it", key, err, version, map[string]string{"0": "refuses", "1": "accepts"}[verdict])
					}
				}
				check("a"+c+"b", inWord)
				if withNewline != "-" {
					check(c+"\n", withNewline)
				}
				n++
			}
			if n < 100000 {
				t.Fatalf("MLflow %s judged %d characters, want every assigned one", version, n)
			}
		})
	}
}
