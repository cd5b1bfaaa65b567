package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/mlops-lab/housing/tracking"
)

// deploymentsTimeout bounds one request forwarded to the deployments server:
// a chat completion may take minutes, a hung server must not hold the
// handler for ever.
const deploymentsTimeout = 5 * time.Minute

// handleGatewayProxy forwards the prompt lab's calls to the MLflow deployments
// server at target (MLFLOW_DEPLOYMENTS_TARGET), as MLflow's
// gateway_proxy_handler: without a target it answers an empty gateway,
// {"endpoints": []}, whatever was asked; else the request names gateway_path
// (query parameter for GET, JSON field for POST) and optionally json_data,
// which is sent as the JSON body of a request of the same method to
// target/gateway_path. A 200 answer is passed back as Flask writes the parsed
// JSON; another status is INTERNAL_ERROR naming the status and the body.
// maxAnswer bounds what is read of the deployments server's answer.
//
// Deliberate differences (MLflow answers these with an HTML 400 or 500): a
// POST body that is not a JSON object, a gateway_path that is neither a
// string nor a number, a 200 answer that is not JSON, and a deployments
// server that cannot be reached (TEMPORARILY_UNAVAILABLE) are JSON errors.
func handleGatewayProxy(target string, maxAnswer int64) endpoint {
	client := &http.Client{Timeout: deploymentsTimeout}
	target = strings.TrimRight(target, "/")
	return func(w http.ResponseWriter, r *http.Request) error {
		if target == "" {
			return encodeFlask(w, map[string]any{"endpoints": []any{}})
		}
		gatewayPath, data, err := gatewayArgs(r)
		if err != nil {
			return err
		}
		if gatewayPath == "" {
			return tracking.Errorf(tracking.ErrInvalidParameterValue, "Deployments proxy request must specify a gateway_path.")
		}
		var body io.Reader
		if data != nil {
			var buf bytes.Buffer
			writePython(&buf, data) // requests' json= is json.dumps
			body = &buf
		}
		// Python's requests collapses the "//" of a gateway_path with a leading slash.
		url := target + "/" + strings.TrimLeft(gatewayPath, "/")
		out, err := http.NewRequestWithContext(r.Context(), r.Method, url, body)
		if err != nil {
			return tracking.Errorf(tracking.ErrInvalidParameterValue, "Invalid gateway_path '%s'.", gatewayPath)
		}
		if body != nil {
			out.Header.Set("Content-Type", "application/json")
		}
		resp, err := client.Do(out)
		if err != nil {
			return &tracking.Error{Code: tracking.ErrTemporarilyUnavailable,
				Message: "Deployments proxy request failed: the deployments server could not be reached.", Err: err}
		}
		defer resp.Body.Close()
		answer, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
		if err != nil {
			return &tracking.Error{Code: tracking.ErrTemporarilyUnavailable,
				Message: "Deployments proxy request failed: the deployments server's answer was cut short.", Err: err}
		}
		if int64(len(answer)) > maxAnswer {
			return tracking.Errorf(tracking.ErrInternal, "Deployments proxy request failed: the answer is larger than %d bytes.", maxAnswer)
		}
		if resp.StatusCode != http.StatusOK {
			return tracking.Errorf(tracking.ErrInternal, "Deployments proxy request failed with error code %d. Error message: %s",
				resp.StatusCode, answer)
		}
		dec := json.NewDecoder(bytes.NewReader(answer))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return tracking.Errorf(tracking.ErrInternal, "Deployments proxy request failed: the deployments server's answer is not JSON.")
		}
		return encodeFlask(w, v)
	}
}

// gatewayArgs returns gateway_path and json_data (nil when absent) of a
// gateway-proxy request: the query string's for GET (json_data is then a
// string, sent as a JSON string as MLflow does), the JSON body's for POST.
func gatewayArgs(r *http.Request) (string, any, error) {
	if r.Method == http.MethodGet {
		q := r.URL.Query()
		var data any
		if q.Has("json_data") {
			data = q.Get("json_data")
		}
		return q.Get("gateway_path"), data, nil
	}
	if err := checkContentType(r); err != nil {
		return "", nil, err
	}
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		return "", nil, err // *http.MaxBytesError becomes 413 in writeError
	}
	v, err := decodeOrdered(raw)
	if err != nil {
		return "", nil, tracking.Errorf(tracking.ErrBadRequest, "Failed to decode JSON object: %v", err)
	}
	obj, ok := v.(orderedObject)
	if !ok {
		return "", nil, tracking.Errorf(tracking.ErrBadRequest, "Deployments proxy request must be a JSON object.")
	}
	var gatewayPath string
	var data any
	for _, kv := range obj {
		switch kv.key {
		case "gateway_path":
			switch p := kv.value.(type) {
			case string:
				gatewayPath = p
			case json.Number:
				if p.String() != "0" { // 0 is falsy in Python
					gatewayPath = p.String()
				}
			case nil:
			default:
				return "", nil, tracking.Errorf(tracking.ErrInvalidParameterValue, "Invalid value for gateway_path: %s", jsonKindName(p))
			}
		case "json_data":
			data = kv.value
		}
	}
	return gatewayPath, data, nil
}

func jsonKindName(v any) string {
	switch v.(type) {
	case orderedObject:
		return "an object"
	case []any:
		return "a list"
	case bool:
		return "a boolean"
	}
	return fmt.Sprintf("%T", v)
}
