package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/wire"
)

// endpoint is an API handler: it writes its answer, or returns the error to send.
// Errors are written in one place, writeError.
type endpoint func(w http.ResponseWriter, r *http.Request) error

// serve turns an endpoint into an http.Handler that writes its errors.
func serve(logger *slog.Logger, e endpoint) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := e(w, r); err != nil {
			writeError(w, r, logger, err)
		}
	})
}

// encode writes v as MLflow writes success bodies: 200, application/json, two-space
// indented, no trailing newline, {} when empty. It encodes into a buffer first, so
// that an encoding failure still becomes a proper error answer.
func encode(w http.ResponseWriter, v any) error {
	b, err := wire.Marshal(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b) // the client went away: nothing left to tell it
	return nil
}

// writeEmpty writes the empty success answer, as encode(w, wire.Empty{}) does.
func writeEmpty(w http.ResponseWriter) error {
	h := w.Header()
	h["Content-Type"] = contentTypeJSON
	h["Content-Length"] = contentLengthEmpty
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(emptyAnswer) // the client went away: nothing left to tell it
	return nil
}

var (
	emptyAnswer        = []byte("{}")
	contentTypeJSON    = []string{"application/json"}
	contentLengthEmpty = []string{"2"}
)

// answerBuffers recycles the buffers the large answers (runs/search, runs/get,
// metrics/get-history) are written into, so that a page of runs costs no fresh
// 200 KB buffer per request. Buffers that grew past maxPooledAnswer (a search of
// thousands of runs) are left to the collector rather than kept.
type answerBuffers struct{ pool sync.Pool }

const maxPooledAnswer = 1 << 20

func (p *answerBuffers) get() *[]byte {
	if b, ok := p.pool.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, 0, 64<<10)
	return &b
}

func (p *answerBuffers) put(b *[]byte) {
	if cap(*b) <= maxPooledAnswer {
		*b = (*b)[:0]
		p.pool.Put(b)
	}
}

// encodeWith writes a success answer as encode does, with the bytes appendTo
// writes (one of wire's direct encoders, which write exactly what wire.Marshal
// would) into a recycled buffer.
func encodeWith(w http.ResponseWriter, bufs *answerBuffers, appendTo func([]byte) []byte) error {
	buf := bufs.get()
	defer bufs.put(buf)
	*buf = appendTo(*buf)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(*buf)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(*buf) // the client went away: nothing left to tell it
	return nil
}

// writeError is the one place error answers are written. The status comes from
// the error's code (tracking.HTTPStatus); INTERNAL_ERROR and errors without a
// code are logged with their cause and answered with a generic message, unless
// the error is a *tracking.Error without a cause (its message is for the caller). A body
// over the size limit is 413.
func writeError(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error) {
	resp := wire.ErrorFromDomain(err)
	status := tracking.HTTPStatus(tracking.ErrorCode(resp.ErrorCode))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		status = http.StatusRequestEntityTooLarge
		resp = wire.ErrorResponse{
			ErrorCode: string(tracking.ErrBadRequest),
			Message:   fmt.Sprintf("Request body is larger than the limit of %d bytes.", tooBig.Limit),
		}
	case resp.ErrorCode == string(tracking.ErrInternal):
		logger.ErrorContext(r.Context(), "internal error", "method", r.Method, "path", r.URL.Path, "err", err)
		if hidesInternals(err) {
			resp.Message = "Internal server error"
		}
	case status >= 500:
		// 503 and 501: the client's fault is not the reason; operators need the cause.
		logger.WarnContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "status", status, "err", err)
	default:
		logger.DebugContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "status", status, "err", err)
	}
	var te *tracking.Error
	if errors.As(err, &te) && te.Message3 != "" && te.Message == resp.Message && mlflow3Client(r) {
		resp.Message = te.Message3
	}
	writeErrorBody(w, status, resp)
}

// writeErrorBody writes an error answer: status and MLflow's error JSON.
func writeErrorBody(w http.ResponseWriter, status int, resp wire.ErrorResponse) {
	b := wire.MarshalError(resp)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// hidesInternals reports whether the text of an INTERNAL_ERROR may hold
// internals and is not shown: anything but a domain error raised on purpose
// with INTERNAL_ERROR and no cause, whose message is meant for the caller
// (MLflow answers some refusals with a 500).
func hidesInternals(err error) bool {
	var te *tracking.Error
	return !errors.As(err, &te) || te.Err != nil
}

// mlflow3Client reports whether the request comes from MLflow 3's Python
// client (its User-Agent is mlflow-python-client/<version>), which expects
// MLflow 3's wording of the errors the two versions word differently.
func mlflow3Client(r *http.Request) bool {
	v, ok := strings.CutPrefix(r.UserAgent(), "mlflow-python-client/")
	major, _, _ := strings.Cut(v, ".")
	n, err := strconv.Atoi(major)
	return ok && err == nil && n >= 3
}

// fields is a request's JSON object as sent, to tell absent fields from zero ones.
type fields map[string]json.RawMessage

// has reports whether the request set name to something other than null or "".
func (f fields) has(name string) bool {
	raw, ok := f[name]
	if !ok {
		return false
	}
	s := string(bytes.TrimSpace(raw))
	return s != "null" && s != `""`
}

// require returns MLflow's missing-parameter error for the first of names the
// request did not set.
func (f fields) require(names ...string) error {
	for _, n := range names {
		if !f.has(n) {
			return missingParam(n)
		}
	}
	return nil
}

// requireInEach returns MLflow's missing-parameter error ("metrics[0].timestamp")
// for the first element of the list field list that does not set one of names.
// A list field that is absent or not a list of objects has nothing to check
// (decode reports the wrong type).
func (f fields) requireInEach(list string, names ...string) error {
	var elems []fields
	if raw, ok := f[list]; !ok || json.Unmarshal(raw, &elems) != nil {
		return nil
	}
	for i, e := range elems {
		for _, n := range names {
			if !e.has(n) {
				return missingParam(fmt.Sprintf("%s[%d].%s", list, i, n))
			}
		}
	}
	return nil
}

func missingParam(name string) error {
	return tracking.Errorf(tracking.ErrInvalidParameterValue,
		"Missing value for required parameter '%s'. See the API docs for more information about request parameters.", name)
}

// invalidValue is MLflow's wrong-value error; raw is the value as JSON.
func invalidValue(name string, raw json.RawMessage) error {
	return tracking.Errorf(tracking.ErrInvalidParameterValue,
		"Invalid value %s for parameter '%s' supplied:  Hint: Value was of type '%s'. See the API docs for more information about request parameters.",
		bytes.TrimSpace(raw), name, pythonType(raw))
}

// pythonType names the type Python's json module gives a raw JSON value, as
// MLflow's messages do.
func pythonType(raw json.RawMessage) string {
	s := bytes.TrimSpace(raw)
	if len(s) == 0 {
		return "NoneType"
	}
	switch s[0] {
	case '"':
		return "str"
	case '{':
		return "dict"
	case '[':
		return "list"
	case 't', 'f':
		return "bool"
	case 'n':
		return "NoneType"
	}
	if bytes.ContainsAny(s, ".eE") {
		return "float"
	}
	return "int"
}

// decode reads a request into dst, MLflow's way, and checks that the fields
// named in required are set. GET requests take their fields from the query
// string (lists as repeated parameters). POST and PUT bodies must be
// application/json; PATCH and DELETE bodies are read whatever their type. An
// empty body (or JSON null) counts as {}, as MLflow reads it; a JSON string is
// decoded once more (MLflow accepts older clients' double-encoded bodies);
// unknown fields are ignored.
//
// Errors come in MLflow's order, which is its schema's: the required fields in
// the order given, each either missing ("Missing value for required parameter")
// or of the wrong type ("Invalid value"), then a wrong type anywhere else.
//
// Deliberately unlike MLflow, a body that is not JSON, or JSON that is not an
// object, is refused (INVALID_PARAMETER_VALUE, naming the parse error): MLflow
// reads it as {}, so that a truncated runs/create body creates a run in the
// Default experiment.
func decode(r *http.Request, dst any, required ...string) (fields, error) {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		body, err := queryJSON(r.URL.Query(), reflect.TypeOf(dst).Elem())
		if err != nil {
			return nil, err
		}
		return decodeObject(body, dst, required...)
	}
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	return decodeBody(body, dst, required...)
}

// readBody checks a POST or PUT request's content type and reads its body.
func readBody(r *http.Request) ([]byte, error) {
	if r.Method == http.MethodPost || r.Method == http.MethodPut {
		if err := checkContentType(r); err != nil {
			return nil, err
		}
	}
	body, err := readAll(r.Body, r.ContentLength)
	if err != nil {
		return nil, err // *http.MaxBytesError becomes 413 in writeError
	}
	return body, nil
}

// readAll is io.ReadAll into a buffer of the size the request announced
// (io.ReadAll starts at 512 bytes and grows), when it announced one.
func readAll(r io.Reader, size int64) ([]byte, error) {
	if size <= 0 || size > 1<<20 {
		return io.ReadAll(r)
	}
	b := make([]byte, 0, size+1) // +1: room for the read that sees EOF
	for {
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
	}
}

// decodeBody is decode of a body read with readBody.
func decodeBody(body []byte, dst any, required ...string) (fields, error) {
	body, err := bodyObject(body)
	if err != nil {
		return nil, err
	}
	return decodeObject(body, dst, required...)
}

// decodeObject is decode of the JSON object body.
func decodeObject(body []byte, dst any, required ...string) (fields, error) {
	var f fields
	if err := json.Unmarshal(body, &f); err != nil {
		return nil, malformedBody(err)
	}
	if f == nil {
		f = fields{}
	}
	if err := checkFields(body); err != nil {
		return nil, err
	}
	var typeErr error
	typeField := ""
	if err := json.Unmarshal(body, dst); err != nil {
		var te *json.UnmarshalTypeError
		if !errors.As(err, &te) || te.Field == "" {
			return nil, malformedBody(err)
		}
		path := strings.Split(te.Field, ".")
		typeErr, typeField = invalidValue(te.Field, findValue(f, path, te.Value)), path[0]
	}
	for _, name := range required {
		if typeErr != nil && name == typeField {
			return nil, typeErr
		}
		if !f.has(name) {
			return nil, missingParam(name)
		}
	}
	if typeErr != nil {
		return nil, typeErr
	}
	return f, nil
}

// bodyObject returns the JSON object a request body holds: "{}" for an empty
// body or null, the inner document of a double-encoded one. Anything else that
// is not an object is refused.
func bodyObject(body []byte) ([]byte, error) {
	s := bytes.TrimSpace(body)
	if len(s) > 0 && s[0] == '"' {
		var inner string
		if err := json.Unmarshal(s, &inner); err != nil {
			return nil, malformedBody(err)
		}
		s = bytes.TrimSpace([]byte(inner))
	}
	if len(s) == 0 || string(s) == "null" {
		return []byte("{}"), nil
	}
	if s[0] != '{' {
		if !json.Valid(s) {
			var v any
			return nil, malformedBody(json.Unmarshal(s, &v))
		}
		return nil, tracking.Errorf(tracking.ErrInvalidParameterValue,
			"Malformed request body: expected a JSON object, got a JSON %s.", jsonKind(s))
	}
	return s, nil
}

func malformedBody(err error) error {
	return tracking.Errorf(tracking.ErrInvalidParameterValue, "Malformed request body: invalid JSON: %s.", strings.TrimPrefix(err.Error(), "json: "))
}

// findValue finds the raw value a type error was about: the first value at path
// (through arrays) whose JSON kind is kind.
func findValue(f fields, path []string, kind string) json.RawMessage {
	raw, ok := f[path[0]]
	if !ok {
		return nil
	}
	if v := walkValue(raw, path[1:], kind); v != nil {
		return v
	}
	return raw
}

func walkValue(raw json.RawMessage, path []string, kind string) json.RawMessage {
	s := bytes.TrimSpace(raw)
	if len(path) == 0 && jsonKind(s) == kind {
		return s
	}
	if len(s) > 0 && s[0] == '[' {
		var elems []json.RawMessage
		if json.Unmarshal(s, &elems) == nil {
			for _, e := range elems {
				if v := walkValue(e, path, kind); v != nil {
					return v
				}
			}
		}
		return nil
	}
	if len(path) == 0 {
		return nil
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(s, &obj) != nil {
		return nil
	}
	v, ok := obj[path[0]]
	if !ok {
		return nil
	}
	return walkValue(v, path[1:], kind)
}

func jsonKind(s []byte) string {
	if len(s) == 0 {
		return ""
	}
	switch s[0] {
	case '"':
		return "string"
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "bool"
	case 'n':
		return "null"
	}
	return "number"
}

// checkContentType applies MLflow's rule for POST and PUT JSON endpoints.
func checkContentType(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return tracking.Errorf(tracking.ErrInvalidParameterValue, "Bad Request. Content-Type header is missing.")
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return tracking.Errorf(tracking.ErrInvalidParameterValue, "Bad Request. Content-Type must be one of ['application/json'].")
	}
	return nil
}

// queryJSON turns query parameters into the JSON object a request struct of type
// t decodes: repeated parameters for list fields, numbers for integer fields,
// booleans for bool fields, the first value for the rest. Values that are not of
// the field's type stay strings, so that decoding reports them.
func queryJSON(q url.Values, t reflect.Type) ([]byte, error) {
	obj := make(map[string]any, len(q))
	for i := range t.NumField() {
		sf := t.Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		vals, ok := q[name]
		if name == "" || name == "-" || !ok || len(vals) == 0 {
			continue
		}
		ft := sf.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		switch ft.Kind() {
		case reflect.Slice:
			obj[name] = vals
		case reflect.Int, reflect.Int32, reflect.Int64:
			if n, err := strconv.ParseInt(vals[0], 10, 64); err == nil {
				obj[name] = n
			} else {
				obj[name] = vals[0]
			}
		case reflect.Bool:
			if b, err := strconv.ParseBool(vals[0]); err == nil {
				obj[name] = b
			} else {
				obj[name] = vals[0]
			}
		default:
			obj[name] = vals[0]
		}
	}
	return json.Marshal(obj)
}

// runID returns the run id a request names as run_id or run_uuid.
func runID(id, uuid string) (string, error) {
	if id != "" {
		return id, nil
	}
	if uuid != "" {
		return uuid, nil
	}
	return "", missingParam("run_id")
}
