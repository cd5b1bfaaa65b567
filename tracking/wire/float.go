package wire

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"strconv"
	"strings"
)

// Float is a float64 as MLflow's JSON carries it: finite values are JSON numbers
// written the way Python's json.dumps writes them (1.0, 0.81, 1e-05,
// 1.7976931348623157e+308), and NaN, +Inf and -Inf are the JSON strings "NaN",
// "Infinity" and "-Infinity" (protobuf's JSON mapping). On input it accepts a JSON
// number, those three strings, or a string holding a number.
type Float float64

// MarshalJSON implements json.Marshaler.
func (f Float) MarshalJSON() ([]byte, error) {
	v := float64(f)
	switch {
	case math.IsNaN(v):
		return []byte(`"NaN"`), nil
	case math.IsInf(v, 1):
		return []byte(`"Infinity"`), nil
	case math.IsInf(v, -1):
		return []byte(`"-Infinity"`), nil
	}
	return []byte(FormatFloat(v)), nil
}

// UnmarshalJSON implements json.Unmarshaler. A value of another JSON type, or a
// string that is no number, is an *json.UnmarshalTypeError, so that decoders can
// report which field was wrong.
func (f *Float) UnmarshalJSON(b []byte) error {
	s := string(b)
	if s == "null" {
		return nil
	}
	if strings.HasPrefix(s, `"`) {
		var str string
		if err := json.Unmarshal(b, &str); err != nil {
			return err
		}
		switch str {
		case "NaN":
			*f = Float(math.NaN())
			return nil
		case "Infinity":
			*f = Float(math.Inf(1))
			return nil
		case "-Infinity":
			*f = Float(math.Inf(-1))
			return nil
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(str), 64)
		if err != nil {
			return &json.UnmarshalTypeError{Value: "string", Type: reflect.TypeFor[Float]()}
		}
		*f = Float(v)
		return nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return &json.UnmarshalTypeError{Value: jsonKind(b), Type: reflect.TypeFor[Float]()}
	}
	*f = Float(v)
	return nil
}

// jsonKind names the JSON type of a raw value the way encoding/json's type errors do.
func jsonKind(b []byte) string {
	if len(b) == 0 {
		return "value"
	}
	switch b[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "bool"
	case '"':
		return "string"
	}
	return "number"
}

// FormatFloat writes a finite v as Python's repr (and so json.dumps) writes it: the
// shortest digits that round-trip, fixed notation with at least one decimal for
// exponents from -4 to 15, scientific notation with a signed two-digit-or-more
// exponent otherwise.
func FormatFloat(v float64) string {
	return string(appendFloat(nil, v))
}

// appendFloat appends FormatFloat(v) to b.
func appendFloat(b []byte, v float64) []byte {
	start := len(b)
	b = strconv.AppendFloat(b, v, 'e', -1, 64) // e.g. "-1.2345e+06"
	i := bytes.LastIndexByte(b[start:], 'e')
	exp, _ := strconv.Atoi(string(b[start+i+1:])) // no allocation: the conversion does not escape
	if exp < -4 || exp >= 16 {
		return b
	}
	b = strconv.AppendFloat(b[:start], v, 'f', -1, 64)
	if bytes.IndexByte(b[start:], '.') < 0 {
		b = append(b, '.', '0')
	}
	return b
}
