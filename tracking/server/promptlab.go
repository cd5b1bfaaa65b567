package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/wire"
)

// What a prompt lab run records (mlflow/utils/promptlab_utils.py and
// mlflow/promptlab, MLflow 2.17.2).
const (
	tagLoggedArtifacts   = "mlflow.loggedArtifacts"
	tagRunSourceType     = "mlflow.runSourceType"
	promptlabSourceType  = "PROMPT_ENGINEERING"
	promptlabEvalTable   = "eval_results_table.json"
	promptlabModelPath   = "model"
	promptlabLoader      = "mlflow.promptlab"
	promptlabPythonVer   = "3.11.2" // what MLflow records of its server's Python; Debian 12's, as in learn/mlmodel
	promptlabTimeLayout  = "2006-01-02 15:04:05.000000"
	promptlabRequirement = "mlflow[gateway]==" + wire.MLflowVersion
)

// The environment files MLflow writes beside a prompt lab model, as
// mlflow.promptlab.save_model writes them.
const (
	promptlabCondaYAML = "channels:\n- conda-forge\ndependencies:\n- python=" + promptlabPythonVer +
		"\n- pip<=23.0.1\n- pip:\n  - " + promptlabRequirement + "\nname: mlflow-env\n"
	promptlabPythonEnvYAML = "python: " + promptlabPythonVer +
		"\nbuild_dependencies:\n- pip==23.0.1\n- setuptools==66.1.1\n- wheel==0.38.4\ndependencies:\n- -r requirements.txt\n"
)

// promptlabRun is a create-promptlab-run request, values as Python's str()
// makes them.
type promptlabRun struct {
	experimentID, runName, userID     string
	promptTemplate, modelRoute        string
	modelInput, modelOutput           any // strings, or null for a missing model_output
	promptParams, modelParams, output []tracking.Param
	tags                              []tracking.Tag
	startTime                         int64
}

// handleCreatePromptlabRun records a prompt lab evaluation as MLflow's
// create_promptlab_run_handler: a run (run_name, user_id, default "unknown",
// start_time, default now, tags) with the model parameters, model_route and
// prompt_template as params, the tags mlflow.loggedArtifacts and
// mlflow.runSourceType, a logged model "model" (MLmodel of the
// mlflow.promptlab python_function flavor, parameters.yaml, input examples,
// environment files) and eval_results_table.json; then the run is FINISHED,
// or FAILED when any of that fails, and returned.
//
// Deliberate difference: tags given as [{"key": ..., "value": ...}] are set on
// the run (MLflow's handler passes them on as dicts and fails with a 500).
func handleCreatePromptlabRun(store tracking.RunStore, roots artifactRoots, now func() time.Time) endpoint {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := checkContentType(r); err != nil {
			return err
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return err // *http.MaxBytesError becomes 413 in writeError
		}
		in, err := parsePromptlabRun(body, now)
		if err != nil {
			return err
		}
		run, err := store.CreateRun(r.Context(), tracking.CreateRun{
			ExperimentID: in.experimentID,
			UserID:       in.userID,
			RunName:      in.runName,
			StartTime:    in.startTime,
			Tags:         in.tags,
		})
		if err != nil {
			return err
		}
		status := tracking.RunFinished
		if err := recordPromptlab(r.Context(), store, roots, run, in, now()); err != nil {
			status = tracking.RunFailed
		}
		end := now().UnixMilli()
		if _, err := store.UpdateRun(r.Context(), run.Info.RunID, tracking.UpdateRun{Status: &status, EndTime: &end}); err != nil {
			return err
		}
		run, err = store.GetRun(r.Context(), run.Info.RunID)
		if err != nil {
			return err
		}
		return encode(w, wire.CreateRunResponse{Run: wire.RunFromDomain(*run)})
	}
}

// parsePromptlabRun reads and checks a request in MLflow's order.
func parsePromptlabRun(body []byte, now func() time.Time) (*promptlabRun, error) {
	var args map[string]json.RawMessage
	if json.Unmarshal(body, &args) != nil {
		args = map[string]json.RawMessage{} // MLflow reads an unparseable body as {}
	}
	var err error
	text := func(name string, required bool) string {
		raw, ok := args[name]
		if err != nil || (!ok && !required) {
			return ""
		}
		if required && !truthy(raw) {
			err = tracking.Errorf(tracking.ErrInvalidParameterValue, "CreatePromptlabRun request must specify %s.", name)
			return ""
		}
		if string(bytes.TrimSpace(raw)) == "null" {
			return "" // None: no run name, no user
		}
		s, ok := pythonStr(raw)
		if !ok {
			err = invalidValue(name, raw)
		}
		return s
	}
	params := func(name string, required bool) []tracking.Param {
		raw, ok := args[name]
		if err != nil || (!ok && !required) {
			return nil
		}
		if required && !truthy(raw) {
			err = tracking.Errorf(tracking.ErrInvalidParameterValue, "CreatePromptlabRun request must specify %s.", name)
			return nil
		}
		var kvs []map[string]json.RawMessage
		if json.Unmarshal(raw, &kvs) != nil {
			err = invalidValue(name, raw)
			return nil
		}
		out := make([]tracking.Param, len(kvs))
		for i, kv := range kvs {
			k, okK := pythonStr(kv["key"])
			v, okV := pythonStr(kv["value"])
			if !okK || !okV {
				err = invalidValue(name, raw)
				return nil
			}
			out[i] = tracking.Param{Key: k, Value: v}
		}
		return out
	}
	in := &promptlabRun{userID: "unknown", startTime: now().UnixMilli()}
	in.experimentID = text("experiment_id", true)
	in.runName = text("run_name", false)
	tags := params("tags", false)
	in.promptTemplate = text("prompt_template", true)
	in.promptParams = params("prompt_parameters", true)
	in.modelRoute = text("model_route", true)
	in.modelParams = params("model_parameters", false)
	in.modelInput = text("model_input", true)
	if raw, ok := args["model_output"]; ok && string(bytes.TrimSpace(raw)) != "null" {
		in.modelOutput = text("model_output", false)
	}
	in.output = params("model_output_parameters", false)
	text("mlflow_version", true)
	if _, ok := args["user_id"]; ok {
		in.userID = text("user_id", false)
	}
	if err != nil {
		return nil, err
	}
	if raw, ok := args["start_time"]; ok && string(bytes.TrimSpace(raw)) != "null" {
		if json.Unmarshal(raw, &in.startTime) != nil {
			return nil, invalidValue("start_time", raw)
		}
	}
	for _, t := range tags {
		in.tags = append(in.tags, tracking.Tag{Key: t.Key, Value: t.Value})
	}
	return in, nil
}

// truthy reports whether a JSON value is true in Python: not absent, null, "",
// 0, false, [] or {}.
func truthy(raw json.RawMessage) bool {
	switch s := string(bytes.TrimSpace(raw)); s {
	case "", "null", `""`, "0", "false", "[]", "{}":
		return false
	default:
		return !strings.HasPrefix(s, "[") || strings.Trim(s[1:len(s)-1], " \t\r\n") != ""
	}
}

// pythonStr returns str() of a scalar JSON value as Python has it: strings as
// they are, numbers as written, True, False and None; ok is false for lists
// and objects.
func pythonStr(raw json.RawMessage) (string, bool) {
	s := string(bytes.TrimSpace(raw))
	switch {
	case s == "" || s == "null":
		return "None", true
	case s == "true":
		return "True", true
	case s == "false":
		return "False", true
	case s[0] == '"':
		var str string
		return str, json.Unmarshal(raw, &str) == nil
	case s[0] == '[' || s[0] == '{':
		return "", false
	}
	return s, true
}

// recordPromptlab logs what a prompt lab run holds besides its creation.
func recordPromptlab(ctx context.Context, store tracking.RunStore, roots artifactRoots, run *tracking.Run, in *promptlabRun, created time.Time) error {
	id := run.Info.RunID
	params := append(append([]tracking.Param{}, in.modelParams...),
		tracking.Param{Key: "model_route", Value: in.modelRoute},
		tracking.Param{Key: "prompt_template", Value: in.promptTemplate})
	uuid := make([]byte, 16)
	rand.Read(uuid) // never fails (crypto/rand since Go 1.24)
	modelUUID := hex.EncodeToString(uuid)
	stamp := created.UTC().Format(promptlabTimeLayout)
	var history bytes.Buffer
	writePython(&history, []any{orderedObject{
		{"run_id", id}, {"artifact_path", promptlabModelPath}, {"utc_time_created", stamp},
		{"model_uuid", modelUUID}, {"flavors", orderedObject{}},
	}})
	tags := []tracking.Tag{
		{Key: tagLoggedArtifacts, Value: `[{"path": "` + promptlabEvalTable + `", "type": "table"}]`},
		{Key: tagRunSourceType, Value: promptlabSourceType},
	}
	if err := store.LogBatch(ctx, id, nil, params, tags); err != nil {
		return err
	}
	// MLflow records the model before save_model adds its flavors: the history
	// entry has none.
	hist := tracking.Tag{Key: tracking.TagLogModelHist, Value: history.String()}
	if err := store.LogBatch(ctx, id, nil, nil, []tracking.Tag{hist}); err != nil {
		return err
	}
	files, err := promptlabFiles(id, modelUUID, stamp, in)
	if err != nil {
		return err
	}
	repo, root, err := roots.resolve(ctx, run.Info.ArtifactURI)
	if err != nil {
		return err
	}
	for _, f := range files {
		if err := repo.Put(ctx, joinPath(root, f.path), bytes.NewReader(f.data), int64(len(f.data))); err != nil {
			return err
		}
	}
	return nil
}

type promptlabFile struct {
	path string
	data []byte
}

// promptlabFiles returns the run's artifacts as mlflow.promptlab.save_model
// and create_eval_results_json write them.
func promptlabFiles(runID, modelUUID, stamp string, in *promptlabRun) ([]promptlabFile, error) {
	var columns, values, inputs, specs []any
	promptParams, modelParams := map[string]any{}, map[string]any{}
	for _, p := range in.promptParams {
		columns, values, inputs = append(columns, p.Key), append(values, p.Value), append(inputs, p.Value)
		promptParams[p.Key] = p.Value
		specs = append(specs, orderedObject{{"type", "string"}, {"name", p.Key}, {"required", true}})
	}
	for _, p := range in.modelParams {
		modelParams[p.Key] = p.Value
	}
	columns = append(columns, "prompt", "output")
	values = append(values, in.modelInput, in.modelOutput)
	for _, p := range in.output {
		columns, values = append(columns, p.Key), append(values, p.Value)
	}
	python := func(v any) []byte {
		var b bytes.Buffer
		writePython(&b, v)
		return b.Bytes()
	}
	inputSpec, outputSpec := python(append([]any{}, specs...)), python([]any{
		orderedObject{{"type", "string"}, {"name", "output"}, {"required", true}},
	})
	if inputs == nil {
		inputs = []any{}
	}
	mlmodel, err := yamlDoc(map[string]any{
		"artifact_path": promptlabModelPath,
		"flavors": map[string]any{"python_function": map[string]any{
			"env":             map[string]any{"conda": "conda.yaml", "virtualenv": "python_env.yaml"},
			"loader_module":   promptlabLoader,
			"parameters_path": "parameters.yaml",
			"python_version":  promptlabPythonVer,
		}},
		"mlflow_version": wire.MLflowVersion,
		"model_uuid":     modelUUID,
		"run_id":         runID,
		"saved_input_example_info": map[string]any{
			"artifact_path": "input_example.json", "serving_input_path": "serving_input_example.json", "type": "json_object",
		},
		"signature": map[string]any{"inputs": string(inputSpec), "outputs": string(outputSpec), "params": nil},
		// PyYAML quotes what reads as a timestamp; Python would load it as a datetime otherwise.
		"utc_time_created": &yaml.Node{Kind: yaml.ScalarNode, Style: yaml.SingleQuotedStyle, Tag: "!!str", Value: stamp},
	})
	if err != nil {
		return nil, err
	}
	parameters, err := yamlDoc(map[string]any{
		"prompt_template":   in.promptTemplate,
		"prompt_parameters": promptParams,
		"model_parameters":  modelParams,
		"model_route":       in.modelRoute,
	})
	if err != nil {
		return nil, err
	}
	serving, err := json.MarshalIndent(map[string]any{"inputs": map[string]any{"inputs": inputs}}, "", "  ")
	if err != nil {
		return nil, err
	}
	model := func(name string) string { return promptlabModelPath + "/" + name }
	return []promptlabFile{
		{promptlabEvalTable, python(orderedObject{{"columns", columns}, {"data", []any{values}}})},
		{model("MLmodel"), mlmodel},
		{model("parameters.yaml"), parameters},
		{model("input_example.json"), python(orderedObject{{"inputs", inputs}})},
		{model("serving_input_example.json"), serving},
		{model("requirements.txt"), []byte(promptlabRequirement)},
		{model("conda.yaml"), []byte(promptlabCondaYAML)},
		{model("python_env.yaml"), []byte(promptlabPythonEnvYAML)},
	}, nil
}

// yamlDoc writes v as YAML with sorted keys and two-space indents, as
// yaml.safe_dump does (up to the indentation of lists).
func yamlDoc(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("promptlab: encode YAML: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("promptlab: encode YAML: %w", err)
	}
	return buf.Bytes(), nil
}
