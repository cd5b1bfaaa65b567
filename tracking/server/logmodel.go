package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/wire"
)

// handleLogModel records a logged model the way MLflow's SQL store does: the
// model's summary (run_id, artifact_path, utc_time_created, model_uuid and the
// flavors without their "config") is appended to the JSON list in the run tag
// mlflow.log-model.history.
//
// The read of the old tag and the write of the new one are two store calls, so
// two log-model calls racing on one run may lose an entry; clients log a run's
// models one after the other.
func handleLogModel(store tracking.RunStore) endpoint {
	return func(w http.ResponseWriter, r *http.Request) error {
		var req wire.LogModelRequest
		if _, err := decode(r, &req, "run_id", "model_json"); err != nil {
			return err
		}
		entry, err := modelHistoryEntry(req.ModelJSON)
		if err != nil {
			return err
		}
		run, err := store.GetRun(r.Context(), req.RunID)
		if err != nil {
			return err
		}
		if run.Info.LifecycleStage != tracking.LifecycleActive {
			return tracking.Errorf(tracking.ErrInvalidParameterValue,
				"The run %s must be in the 'active' state. Current state is %s.", req.RunID, run.Info.LifecycleStage)
		}
		value := "[" + entry + "]"
		if old, ok := run.Tag(tracking.TagLogModelHist); ok {
			var prev []json.RawMessage
			if json.Unmarshal([]byte(old), &prev) == nil && len(prev) > 0 {
				parts := make([]string, 0, len(prev)+1)
				for _, p := range prev {
					s, err := pythonJSON(p)
					if err != nil {
						return fmt.Errorf("re-encode %s of run %s: %w", tracking.TagLogModelHist, req.RunID, err)
					}
					parts = append(parts, s)
				}
				value = "[" + strings.Join(append(parts, entry), ", ") + "]"
			}
		}
		tag := tracking.Tag{Key: tracking.TagLogModelHist, Value: value}
		if err := store.LogBatch(r.Context(), req.RunID, nil, nil, []tracking.Tag{tag}); err != nil {
			return err
		}
		return encode(w, wire.Empty{})
	}
}

// modelHistoryEntry checks model_json as MLflow does and returns the entry it
// keeps in the history tag, as Python's json.dumps writes it.
func modelHistoryEntry(modelJSON string) (string, error) {
	malformed := tracking.Errorf(tracking.ErrInvalidParameterValue,
		"Malformed model info. \n %s \n is not a valid JSON.", modelJSON)
	model, err := decodeOrdered([]byte(modelJSON))
	if err != nil {
		return "", malformed
	}
	obj, ok := model.(orderedObject)
	if !ok {
		return "", malformed
	}
	var missing []string
	for _, k := range []string{"artifact_path", "flavors", "utc_time_created", "run_id"} {
		if _, ok := obj.get(k); !ok {
			missing = append(missing, "'"+k+"'")
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return "", tracking.Errorf(tracking.ErrInvalidParameterValue,
			"Model json is missing mandatory fields: {%s}", strings.Join(missing, ", "))
	}
	var entry orderedObject
	for _, kv := range obj {
		if slices.Contains([]string{"run_id", "utc_time_created", "artifact_path", "model_uuid"}, kv.key) {
			entry = append(entry, kv)
		}
	}
	flavors, _ := obj.get("flavors")
	if fl, ok := flavors.(orderedObject); ok {
		var trimmed orderedObject
		for _, kv := range fl {
			if conf, ok := kv.value.(orderedObject); ok {
				var c orderedObject
				for _, ckv := range conf {
					if ckv.key != "config" {
						c = append(c, ckv)
					}
				}
				kv.value = c
			}
			trimmed = append(trimmed, kv)
		}
		flavors = trimmed
	}
	entry = append(entry, keyValue{"flavors", flavors})
	var buf bytes.Buffer
	writePython(&buf, entry)
	return buf.String(), nil
}

// orderedObject is a JSON object that keeps its keys' order, as Python dicts do.
type orderedObject []keyValue

type keyValue struct {
	key   string
	value any
}

func (o orderedObject) get(key string) (any, bool) {
	for _, kv := range o {
		if kv.key == key {
			return kv.value, true
		}
	}
	return nil, false
}

// decodeOrdered decodes JSON into orderedObject, []any, json.Number, string,
// bool and nil.
func decodeOrdered(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	v, err := decodeValue(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("trailing data after JSON value")
	}
	return v, nil
}

func decodeValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			obj := orderedObject{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				v, err := decodeValue(dec)
				if err != nil {
					return nil, err
				}
				obj = append(obj, keyValue{kt.(string), v})
			}
			_, err := dec.Token()
			return obj, err
		case '[':
			arr := []any{}
			for dec.More() {
				v, err := decodeValue(dec)
				if err != nil {
					return nil, err
				}
				arr = append(arr, v)
			}
			_, err := dec.Token()
			return arr, err
		}
		return nil, fmt.Errorf("unexpected %v", t)
	default:
		return t, nil
	}
}

// pythonJSON re-encodes raw JSON as Python's json.dumps writes it.
func pythonJSON(raw json.RawMessage) (string, error) {
	v, err := decodeOrdered(raw)
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	writePython(&buf, v)
	return buf.String(), nil
}

// writePython writes v with json.dumps's default separators (", " and ": ").
func writePython(buf *bytes.Buffer, v any) {
	switch t := v.(type) {
	case orderedObject:
		buf.WriteByte('{')
		for i, kv := range t {
			if i > 0 {
				buf.WriteString(", ")
			}
			writeJSONString(buf, kv.key)
			buf.WriteString(": ")
			writePython(buf, kv.value)
		}
		buf.WriteByte('}')
	case []any:
		buf.WriteByte('[')
		for i, e := range t {
			if i > 0 {
				buf.WriteString(", ")
			}
			writePython(buf, e)
		}
		buf.WriteByte(']')
	case string:
		writeJSONString(buf, t)
	case json.Number:
		buf.WriteString(t.String())
	case bool:
		if t {
			buf.WriteString("true")
		} else {
			buf.WriteString("false")
		}
	default:
		buf.WriteString("null")
	}
}

func writeJSONString(buf *bytes.Buffer, s string) {
	b, _ := wire.Marshal(s) // a string always encodes
	buf.Write(b)
}
