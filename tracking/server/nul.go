package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/mlops-lab/housing/tracking"
)

// checkFields refuses NUL characters anywhere in a request's JSON body,
// naming the field that holds one ("tags[2].value"). The store refuses them
// too (and text longer than its column), but can only quote the value.
func checkFields(body []byte) error {
	if !bytes.Contains(body, []byte(`\u0000`)) {
		return nil
	}
	var v any
	if json.Unmarshal(body, &v) == nil {
		if at, ok := findNUL(v, ""); ok {
			return tracking.Errorf(tracking.ErrInvalidParameterValue,
				"Invalid value for parameter '%s' supplied: NUL characters (\\u0000) are not allowed.", at)
		}
	}
	return nil
}

// findNUL returns the path (as in "tags[2].value") of the first object key or
// string in v that holds a NUL character.
func findNUL(v any, at string) (string, bool) {
	switch v := v.(type) {
	case string:
		return at, strings.IndexByte(v, 0) >= 0
	case []any:
		for i, e := range v {
			if p, ok := findNUL(e, fmt.Sprintf("%s[%d]", at, i)); ok {
				return p, true
			}
		}
	case map[string]any:
		for k, e := range v {
			p := k
			if at != "" {
				p = at + "." + k
			}
			if strings.IndexByte(k, 0) >= 0 {
				return p, true
			}
			if p, ok := findNUL(e, p); ok {
				return p, true
			}
		}
	}
	return "", false
}
