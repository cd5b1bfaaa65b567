package wire_test

import (
	"encoding/json"
	"errors"
	"math"
	"testing"

	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/wire"
)

func TestFormatFloatMatchesPython(t *testing.T) {
	// Expected strings are what Python's repr (json.dumps) gives.
	cases := map[float64]string{
		1:                  "1.0",
		0.81:               "0.81",
		-2:                 "-2.0",
		0.3333333333333333: "0.3333333333333333",
		1e-05:              "1e-05",
		0.0001:             "0.0001",
		1e16:               "1e+16",
		1e15:               "1000000000000000.0",
		math.MaxFloat64:    "1.7976931348623157e+308",
		-math.MaxFloat64:   "-1.7976931348623157e+308",
		123456789.125:      "123456789.125",
		0:                  "0.0",
		2.5e-310:           "2.5e-310",
		0.9985428230533159: "0.9985428230533159",
		1795953071498:      "1795953071498.0",
	}
	for v, want := range cases {
		if got := wire.FormatFloat(v); got != want {
			t.Errorf("FormatFloat(%v) = %q, want %q", v, got, want)
		}
	}
}

func TestFloatJSON(t *testing.T) {
	in := `[0.5, "NaN", "Infinity", "-Infinity", "2.5", 3]`
	var fs []wire.Float
	if err := json.Unmarshal([]byte(in), &fs); err != nil {
		t.Fatal(err)
	}
	if !math.IsNaN(float64(fs[1])) || !math.IsInf(float64(fs[2]), 1) || !math.IsInf(float64(fs[3]), -1) || fs[0] != 0.5 || fs[4] != 2.5 || fs[5] != 3 {
		t.Fatalf("decoded %v", fs)
	}
	out, err := json.Marshal(fs)
	if err != nil {
		t.Fatal(err)
	}
	if want := `[0.5,"NaN","Infinity","-Infinity",2.5,3.0]`; string(out) != want {
		t.Fatalf("encoded %s, want %s", out, want)
	}
}

func TestFloatRejectsOtherTypesWithField(t *testing.T) {
	for _, body := range []string{`{"key":"k","value":"notanumber"}`, `{"key":"k","value":true}`, `{"key":"k","value":{}}`} {
		var m wire.Metric
		err := json.Unmarshal([]byte(body), &m)
		var te *json.UnmarshalTypeError
		if !errors.As(err, &te) {
			t.Fatalf("%s: error %v is not an UnmarshalTypeError", body, err)
		}
		if te.Field != "value" {
			t.Errorf("%s: field %q, want value", body, te.Field)
		}
	}
}

// The runs/create answer from the captures, byte for byte.
const capturedCreateRun = `{
  "run": {
    "info": {
      "run_uuid": "854fbf310f994a67bcdb94e91ef30bdc",
      "experiment_id": "2",
      "run_name": "curl-run-1",
      "user_id": "",
      "status": "RUNNING",
      "start_time": 1795953075826,
      "artifact_uri": "mlflow-artifacts:/2/854fbf310f994a67bcdb94e91ef30bdc/artifacts",
      "lifecycle_stage": "active",
      "run_id": "854fbf310f994a67bcdb94e91ef30bdc"
    },
    "data": {
      "tags": [
        {
          "key": "team",
          "value": "oracle"
        },
        {
          "key": "mlflow.runName",
          "value": "curl-run-1"
        }
      ]
    }
  }
}`

func TestRunRoundTripsCapture(t *testing.T) {
	var resp wire.CreateRunResponse
	if err := json.Unmarshal([]byte(capturedCreateRun), &resp); err != nil {
		t.Fatal(err)
	}
	run := wire.RunToDomain(resp.Run)
	if run.Info.RunID != "854fbf310f994a67bcdb94e91ef30bdc" || run.Info.Status != tracking.RunRunning || len(run.Data.Tags) != 2 {
		t.Fatalf("domain run %+v", run)
	}
	back := wire.CreateRunResponse{Run: wire.RunFromDomain(run)}
	back.Run.Inputs = nil // runs/create sends no inputs
	out, err := wire.Marshal(back)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != capturedCreateRun {
		t.Fatalf("got\n%s\nwant\n%s", out, capturedCreateRun)
	}
	full, _ := wire.Marshal(wire.GetRunResponse{Run: wire.RunFromDomain(run)})
	var generic map[string]map[string]json.RawMessage
	if err := json.Unmarshal(full, &generic); err != nil {
		t.Fatal(err)
	}
	if got := string(generic["run"]["inputs"]); got != "{}" {
		t.Errorf("runs/get inputs = %s, want {}", got)
	}
}

const capturedModelVersion = `{
  "model_version": {
    "name": "curl-housing-model",
    "version": "2",
    "creation_timestamp": 1795953088750,
    "last_updated_timestamp": 1795953090549,
    "current_stage": "Production",
    "description": "",
    "source": "runs:/8930719ed8c44727aefaa8f19043b484/model",
    "run_id": "8930719ed8c44727aefaa8f19043b484",
    "status": "READY",
    "run_link": "",
    "aliases": [
      "champion"
    ]
  }
}`

func TestModelVersionRoundTripsCapture(t *testing.T) {
	var resp wire.ModelVersionResponse
	if err := json.Unmarshal([]byte(capturedModelVersion), &resp); err != nil {
		t.Fatal(err)
	}
	mv := wire.ModelVersionToDomain(resp.ModelVersion)
	if mv.CurrentStage != tracking.StageProduction || len(mv.Aliases) != 1 {
		t.Fatalf("domain version %+v", mv)
	}
	out, err := wire.Marshal(wire.ModelVersionResponse{ModelVersion: wire.ModelVersionFromDomain(mv)})
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != capturedModelVersion {
		t.Fatalf("got\n%s\nwant\n%s", out, capturedModelVersion)
	}
}

func TestMarshalEmptyAndNaN(t *testing.T) {
	out, err := wire.Marshal(wire.Empty{})
	if err != nil || string(out) != "{}" {
		t.Fatalf("empty = %q, %v", out, err)
	}
	out, _ = wire.Marshal(wire.SearchRunsResponse{})
	if string(out) != "{}" {
		t.Fatalf("empty search = %q", out)
	}
	out, _ = wire.Marshal(wire.MetricFromDomain(tracking.Metric{Key: "w", Value: math.NaN()}))
	want := "{\n  \"key\": \"w\",\n  \"value\": \"NaN\",\n  \"timestamp\": 0,\n  \"step\": 0\n}"
	if string(out) != want {
		t.Fatalf("got %s", out)
	}
}

func TestMarshalErrorIsCompactPythonStyle(t *testing.T) {
	got := string(wire.MarshalError(wire.ErrorResponse{ErrorCode: "INVALID_PARAMETER_VALUE", Message: "Invalid value \"x\" <é> 🏃"}))
	want := `{"error_code": "INVALID_PARAMETER_VALUE", "message": "Invalid value \"x\" <\u00e9> \ud83c\udfc3"}`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	e := wire.ErrorResponse{ErrorCode: "RESOURCE_DOES_NOT_EXIST", Message: "gone"}.Err()
	if !tracking.IsNotFound(e) {
		t.Fatalf("Err() = %v", e)
	}
}

func TestFileInfoDirectoryHasNoSize(t *testing.T) {
	out, _ := json.Marshal(wire.FileInfosFromDomain([]tracking.FileInfo{{Path: "a.txt", FileSize: 0}, {Path: "model", IsDir: true}}))
	if want := `[{"path":"a.txt","is_dir":false,"file_size":0},{"path":"model","is_dir":true}]`; string(out) != want {
		t.Fatalf("got %s", out)
	}
}
