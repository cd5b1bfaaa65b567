package tracking

import (
	"encoding/json"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits on data set inputs (mlflow/utils/validation.py, 2.17).
const (
	MaxDatasetNameLength    = 500
	MaxDatasetDigestLength  = 36
	MaxDatasetSourceLength  = 65535
	MaxDatasetSchemaLength  = 1048575
	MaxDatasetProfileLength = 16777215
	MaxInputTagKeyLength    = 255
	MaxInputTagValueLength  = 500
	MaxModelTagValueLength  = 5000
	MaxModelAliasLength     = 255
	MaxExperimentNameLength = 256
)

// Lengths of the columns of MLflow's schema (SCHEMA.md) that free-text request
// fields are stored in, in characters. PostgreSQL refuses longer values and
// SQLite would keep them, so the store checks them before either sees them.
const (
	MaxModelNameLength          = 256  // registered_models.name
	MaxRunNameLength            = 250  // runs.name
	MaxUserIDLength             = 256  // runs.user_id
	MaxArtifactLocationLength   = 256  // experiments.artifact_location
	MaxModelVersionSourceLength = 500  // model_versions.source
	MaxRunLinkLength            = 500  // model_versions.run_link
	MaxDescriptionLength        = 5000 // registered_models.description, model_versions.description
)

// entityNameChars is MLflow's rule for metric, param and tag keys on POSIX
// systems, Python's ^[/\w.\- :]*$: \w is a Unicode letter or number (Python's
// str.isalnum) or '_', and $ also matches before one final newline, so the
// real server takes "ü", "日本" and "loss\n" and refuses "a\nb" and a
// combining accent. A loop over the bytes, as every key of every log-batch is
// checked; only a non-ASCII byte decodes a rune.
func entityNameChars(name string) bool {
	name = strings.TrimSuffix(name, "\n")
	for i := 0; i < len(name); {
		c := name[i]
		if c < utf8.RuneSelf {
			switch {
			case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
			case c == '_', c == '/', c == '.', c == '-', c == ' ', c == ':':
			default:
				return false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(name[i:])
		if !unicode.IsLetter(r) && !unicode.IsNumber(r) {
			return false // also utf8.RuneError: not a character at all
		}
		i += size
	}
	return true
}

// runIDRE is MLflow's _RUN_ID_REGEX.
var runIDRE = regexp.MustCompile(`^[a-zA-Z0-9][\w\-]{0,255}$`)

// aliasRE is the set of characters MLflow allows in model aliases.
var aliasRE = regexp.MustCompile(`^[\w\-]*$`)

// versionAliasRE matches aliases that would read as a version ("v3").
var versionAliasRE = regexp.MustCompile(`^[vV]\d+$`)

const badCharactersMessage = "Names may only contain alphanumerics, underscores (_), dashes (-), " +
	"periods (.), spaces ( ), colon(:) and slashes (/)."

// invalidValue formats MLflow's invalid_value message: the value as compact JSON,
// the parameter path, and an optional explanation.
func invalidValue(param string, value any, msg string) string {
	b, _ := json.Marshal(value)
	if msg == "" {
		return fmt.Sprintf("Invalid value %s for parameter '%s' supplied.", b, param)
	}
	return fmt.Sprintf("Invalid value %s for parameter '%s' supplied: %s", b, param, msg)
}

// pathNotUnique reports whether name would name another file when used as a path
// ("a/../b", "./x", "/abs", "..").
func pathNotUnique(name string) bool {
	norm := path.Clean(name)
	return norm != name || norm == "." || strings.HasPrefix(norm, "..") || strings.HasPrefix(norm, "/")
}

// validateEntityName checks a metric, param or tag key as MLflow does; param is the
// request path of the key for the message (e.g. "params[0].key").
func validateEntityName(param, name string) error {
	if !entityNameChars(name) {
		return Errorf(ErrInvalidParameterValue, "%s", invalidValue(param, name, badCharactersMessage))
	}
	if pathNotUnique(name) {
		return Errorf(ErrInvalidParameterValue, "%s", invalidValue(param, name,
			"Names may be treated as files in certain cases, and must not resolve to other names when "+
				"treated as such. This name would resolve to '"+path.Clean(name)+"'"))
	}
	return nil
}

// plainKey reports whether ValidateMetric, ValidateParam and ValidateTag
// pass key: allowed characters, not over the limit in bytes (so not in
// characters either), a path to itself.
func plainKey(key string) bool {
	return len(key) <= MaxEntityKeyLength && entityNameChars(key) && !pathNotUnique(key)
}

// validateLength returns MLflow's length-limit error when value has more than limit
// characters (code points, as Python counts them).
func validateLength(entity string, limit int, value string) error {
	n := utf8.RuneCountInString(value)
	if n <= limit {
		return nil
	}
	head := value
	if n > 250 {
		head = string([]rune(value)[:250])
	}
	return Errorf(ErrInvalidParameterValue, "%s '%s' had length %d, which exceeded length limit of %d",
		entity, head, n, limit)
}

// ValidateRunID checks that id looks like a run id.
func ValidateRunID(id string) error {
	if !runIDRE.MatchString(id) {
		return Errorf(ErrInvalidParameterValue, "%s", invalidValue("run_id", id, ""))
	}
	return nil
}

// ValidateMetric checks a metric key; at is its place in the request ("" for a
// single metric, "metrics[3]" in a batch). MLflow names a metric's key "name" in
// its messages ("metrics[3].name"), a param's and a tag's "key".
func ValidateMetric(at string, m Metric) error {
	if err := validateEntityName(joinPath(at, "name"), m.Key); err != nil {
		return err
	}
	return validateLength("Metric name", MaxEntityKeyLength, m.Key)
}

// ValidateParam checks a param's key. Its value is not refused for its length:
// StoredParams cuts it, as MLflow does.
func ValidateParam(at string, p Param) error {
	if err := validateEntityName(joinPath(at, "key"), p.Key); err != nil {
		return err
	}
	return validateLength("Param key", MaxEntityKeyLength, p.Key)
}

// ValidateTag checks a run tag's key. Its value is not refused for its length:
// StoredTags cuts it, as MLflow does.
func ValidateTag(at string, t Tag) error {
	if err := validateEntityName(joinPath(at, "key"), t.Key); err != nil {
		return err
	}
	return validateLength("Tag key", MaxEntityKeyLength, t.Key)
}

// StoredParams returns params as MLflow stores them: a value longer than
// MaxParamValueLength characters is cut to that length, not refused, as the real
// MLflow server does by default (MLFLOW_TRUNCATE_LONG_VALUES, 2.17.2 and 3.11.1).
func StoredParams(params []Param) []Param {
	return cutValues(params, MaxParamValueLength, func(p *Param) *string { return &p.Value })
}

// StoredTags returns run tags as MLflow stores them: a value longer than
// MaxTagValueLength characters is cut to that length, as StoredParams does.
// Experiment and model tags are refused instead, as MLflow refuses them.
func StoredTags(tags []Tag) []Tag {
	return cutValues(tags, MaxTagValueLength, func(t *Tag) *string { return &t.Value })
}

// cutValues returns xs with each value (a field of an element) longer than limit
// characters cut to that length; xs itself is not changed, and returned when
// nothing is cut.
func cutValues[T any](xs []T, limit int, value func(*T) *string) []T {
	var cut []T
	for i := range xs {
		v := *value(&xs[i])
		if utf8.RuneCountInString(v) <= limit {
			continue
		}
		if cut == nil {
			cut = slices.Clone(xs)
		}
		*value(&cut[i]) = string([]rune(v)[:limit])
	}
	if cut == nil {
		return xs
	}
	return cut
}

// ValidateExperimentTag checks an experiment tag (values up to 5000 characters).
func ValidateExperimentTag(t Tag) error {
	return validateTag(t, MaxExperimentTagValueLength)
}

// ValidateModelTag checks a registered model or model version tag.
func ValidateModelTag(t Tag) error {
	return validateTag(t, MaxModelTagValueLength)
}

// validateTag checks a tag whose value MLflow refuses when longer than maxValue.
func validateTag(t Tag, maxValue int) error {
	if err := ValidateTag("", t); err != nil {
		return err
	}
	return validateLength("Tag value", maxValue, t.Value)
}

func joinPath(prefix, field string) string {
	if prefix == "" {
		return field
	}
	return prefix + "." + field
}

// ValidateBatch checks a log-batch request as MLflow's store does: every metric,
// param and tag, then the per-kind and total limits, then duplicate param keys.
func ValidateBatch(metrics []Metric, params []Param, tags []Tag) error {
	// A key that passes is checked without building its place in the
	// request ("metrics[3]"), which only an error names.
	for i, m := range metrics {
		if !plainKey(m.Key) {
			if err := ValidateMetric(fmt.Sprintf("metrics[%d]", i), m); err != nil {
				return err
			}
		}
	}
	for i, p := range params {
		if !plainKey(p.Key) {
			if err := ValidateParam(fmt.Sprintf("params[%d]", i), p); err != nil {
				return err
			}
		}
	}
	for i, t := range tags {
		if !plainKey(t.Key) {
			if err := ValidateTag(fmt.Sprintf("tags[%d]", i), t); err != nil {
				return err
			}
		}
	}
	if err := batchLimit("metrics", MaxMetricsPerBatch, len(metrics)); err != nil {
		return err
	}
	if err := batchLimit("params", MaxParamsPerBatch, len(params)); err != nil {
		return err
	}
	if err := batchLimit("tags", MaxTagsPerBatch, len(tags)); err != nil {
		return err
	}
	if err := batchLimit("metrics, params, and tags", MaxEntitiesPerBatch, len(metrics)+len(params)+len(tags)); err != nil {
		return err
	}
	seen := make(map[string]bool, len(params))
	var dupes []string
	for _, p := range params {
		if seen[p.Key] {
			dupes = append(dupes, p.Key)
		}
		seen[p.Key] = true
	}
	if len(dupes) > 0 {
		return Errorf(ErrInvalidParameterValue, "Duplicate parameter keys have been submitted: %s. Please ensure "+
			"the request contains only one param value per param key.", PyList(dupes))
	}
	return nil
}

func batchLimit(entity string, limit, n int) error {
	if n <= limit {
		return nil
	}
	return Errorf(ErrInvalidParameterValue, "A batch logging request can contain at most %d %s. Got %d %s. "+
		"Please split up %s across multiple requests and try again.", limit, entity, n, entity, entity)
}

// PyList renders strings the way Python prints a list of str: ['a', 'b'].
func PyList(items []string) string {
	quoted := make([]string, len(items))
	for i, s := range items {
		quoted[i] = "'" + s + "'"
	}
	return "[" + strings.Join(quoted, ", ") + "]"
}

// ValidateExperimentName refuses empty and over-long experiment names.
func ValidateExperimentName(name string) error {
	if name == "" {
		return Errorf(ErrInvalidParameterValue, "Invalid experiment name: '%s'", name)
	}
	return validateLength("Experiment name", MaxExperimentNameLength, name)
}

// ValidateDatasetInputs checks data set inputs against MLflow's size limits.
func ValidateDatasetInputs(inputs []DatasetInput) error {
	for _, in := range inputs {
		d := in.Dataset
		if d.Name == "" || d.Digest == "" || d.SourceType == "" || d.Source == "" {
			return Errorf(ErrInvalidParameterValue, "Dataset must have name, digest, source_type, and source")
		}
		for _, c := range []struct {
			what  string
			limit int
			value string
		}{
			{"name", MaxDatasetNameLength, d.Name},
			{"digest", MaxDatasetDigestLength, d.Digest},
			{"source", MaxDatasetSourceLength, d.Source},
			{"schema", MaxDatasetSchemaLength, d.Schema},
			{"profile", MaxDatasetProfileLength, d.Profile},
		} {
			if len(c.value) > c.limit {
				return Errorf(ErrInvalidParameterValue, "Dataset %s exceeds the maximum length of %d", c.what, c.limit)
			}
		}
		if len(d.SourceType) > MaxDatasetDigestLength {
			return Errorf(ErrInvalidParameterValue, "Dataset source_type exceeds the maximum length of %d", MaxDatasetDigestLength)
		}
		for _, t := range in.Tags {
			if t.Key == "" {
				return Errorf(ErrInvalidParameterValue, "Input tag must have key and value")
			}
			if len(t.Key) > MaxInputTagKeyLength {
				return Errorf(ErrInvalidParameterValue, "Input tag key exceeds the maximum length of %d", MaxInputTagKeyLength)
			}
			if len(t.Value) > MaxInputTagValueLength {
				return Errorf(ErrInvalidParameterValue, "Input tag value exceeds the maximum length of %d", MaxInputTagValueLength)
			}
		}
	}
	return nil
}

// ValidateModelName refuses an empty or over-long registered model name.
func ValidateModelName(name string) error {
	if name == "" {
		return Errorf(ErrInvalidParameterValue, "Registered model name cannot be empty.")
	}
	return ValidateFieldLength("name", MaxModelNameLength, name)
}

// ValidateNewModelName applies MLflow 3.11.1's rules to a name given to a
// registered model (field "name" on creation, "new_name" on rename): not blank,
// no '/' or ':' (they would break models:/ URIs), and not a name a path
// normalisation would change ("." or one starting with ".."). MLflow 2.17.2
// took any non-empty name; MLflow 3.11.1 also refuses such names when looking a
// model up, which, deliberately, is not done here: a database written before
// may hold them, and they stay readable.
func ValidateNewModelName(field, name string) error {
	if strings.TrimSpace(name) == "" {
		return Errorf(ErrInvalidParameterValue, "Missing value for required parameter '%s'.", field)
	}
	if strings.ContainsAny(name, "/:") {
		return Errorf(ErrInvalidParameterValue, "Invalid model name '%s'. Names cannot contain '/' or ':'.", name)
	}
	if name == "." || strings.HasPrefix(name, "..") {
		// MLflow names the parameter 'name' here, on rename too.
		return Errorf(ErrInvalidParameterValue, "%s", invalidValue("name", name,
			"Names may be treated as files in certain cases, and must not resolve to other names when treated as such. This name would resolve to '"+name+"'"))
	}
	return nil
}

// ValidateFieldLength refuses a request field of more than limit characters
// (code points, as PostgreSQL counts them for varchar(limit)).
func ValidateFieldLength(field string, limit int, value string) error {
	if n := utf8.RuneCountInString(value); n > limit {
		return Errorf(ErrInvalidParameterValue,
			"Invalid value for parameter '%s' supplied: it had length %d, which exceeded length limit of %d.", field, n, limit)
	}
	return nil
}

// ValidateModelAlias checks an alias name as MLflow does: word characters and
// dashes, at most 255 characters, not "latest" and not a version like "v3".
func ValidateModelAlias(alias string) error {
	if alias == "" {
		return Errorf(ErrInvalidParameterValue, "Registered model alias name cannot be empty.")
	}
	if !aliasRE.MatchString(alias) {
		return Errorf(ErrInvalidParameterValue, "Invalid alias name: '%s'. Names may only contain "+
			"alphanumerics, underscores (_), and dashes (-).", alias)
	}
	if err := validateLength("Registered model alias name", MaxModelAliasLength, alias); err != nil {
		return err
	}
	if strings.EqualFold(alias, ReservedAliasLatest) {
		return Errorf(ErrInvalidParameterValue, "'latest' alias name (case insensitive) is reserved.")
	}
	if versionAliasRE.MatchString(alias) {
		return Errorf(ErrInvalidParameterValue, "Version alias name '%s' is reserved.", alias)
	}
	return nil
}
