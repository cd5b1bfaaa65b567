// Package mlmodel writes and reads a model in MLflow's model directory layout:
//
//	MLmodel                     YAML: flavors, signature, run_id, artifact_path,
//	                            utc_time_created, model_uuid, mlflow_version, ...
//	model.bin                   the learn model file (forest or linear)
//	input_example.json          a few input rows, pandas "split" orient
//	serving_input_example.json  the same rows as a scoring-server request
//
// The MLmodel file is what MLflow 2.17 writes (keys sorted, the signature's
// inputs and outputs as JSON strings inside the YAML), so MLflow's UI and
// tools show the signature and input example. The model itself is described
// by this project's own flavor, "housing"; a directory without it is refused
// by Load with a message naming the flavors it does have. Other flavors
// (python_function, onnx) can sit beside it in Model.Flavors.
package mlmodel
