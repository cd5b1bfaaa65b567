package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/mlops-lab/housing/tracking"
)

// fieldLimits are the lengths, in characters, of the columns that top-level
// request fields of these names are stored in (MLflow's schema, SCHEMA.md).
// PostgreSQL refuses longer values and SQLite stores them, so without this check
// the same request would succeed on one backend and fail on the other.
var fieldLimits = map[string]int{
	"name":              256,  // experiments.name, registered_models.name, aliases' and tags' model name
	"new_name":          256,  // registered_models.name
	"run_name":          250,  // runs.name
	"user_id":           256,  // runs.user_id
	"artifact_location": 256,  // experiments.artifact_location
	"source":            500,  // model_versions.source
	"run_link":          500,  // model_versions.run_link
	"description":       5000, // registered_models.description, model_versions.description
}

// checkFields refuses what no backend can store: NUL characters in any string
// (PostgreSQL's text types cannot hold them) and top-level fields longer than
// their column. body is the request's JSON, f its top-level fields.
func checkFields(body []byte, f fields) error {
	if bytes.Contains(body, []byte(`\u0000`)) {
		var v any
		if json.Unmarshal(body, &v) == nil {
			if at, ok := findNUL(v, ""); ok {
				return tracking.Errorf(tracking.ErrInvalidParameterValue,
					"Invalid value for parameter '%s' supplied: NUL characters (\\u0000) are not allowed.", at)
			}
		}
	}
	for name, limit := range fieldLimits {
		raw, ok := f[name]
		if !ok {
			continue
		}
		var s string
		if json.Unmarshal(raw, &s) != nil {
			continue // not a string: decoding reports the type
		}
		if n := utf8.RuneCountInString(s); n > limit {
			return tracking.Errorf(tracking.ErrInvalidParameterValue,
				"Invalid value for parameter '%s' supplied: it had length %d, which exceeded length limit of %d.", name, n, limit)
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
