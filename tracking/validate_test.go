package tracking

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

// TestEntityNameCharsIsThePattern holds entityNameChars to the regular
// expression it replaced, on every byte and on random keys.
func TestEntityNameCharsIsThePattern(t *testing.T) {
	re := regexp.MustCompile(`^[/\w.\- :]*$`)
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
	const alphabet = "aZ09_/.- :ü\n\t\x00$*"
	for range 5000 {
		var b strings.Builder
		for range rng.IntN(10) {
			b.WriteByte(alphabet[rng.IntN(len(alphabet))])
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
