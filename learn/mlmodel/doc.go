// Package mlmodel writes and reads a model in MLflow's model directory layout:
//
//	MLmodel                     YAML: flavors, signature, run_id, artifact_path,
//	                            utc_time_created, model_uuid, mlflow_version, ...
//	model.bin                   the learn model file (forest, boosted ensemble or linear)
//	model.onnx                  the same model as ONNX (learn/onnx)
//	conda.yaml, python_env.yaml, requirements.txt
//	                            the Python environment MLflow builds to serve model.onnx
//	input_example.json          a few input rows, pandas "split" orient
//	serving_input_example.json  the same rows as a scoring-server request
//
// The MLmodel file is what MLflow 2.17 writes (keys sorted, the signature's
// inputs and outputs as JSON strings inside the YAML), so MLflow's UI and
// tools show the signature and input example. The model itself is described
// by this project's own flavor, "housing"; a directory without it is refused
// by Load with a message naming the flavors it does have. Beside it sit the
// flavors mlflow.onnx.save_model writes, onnx and python_function (loader
// module mlflow.onnx, with the environment files), so that
// mlflow.pyfunc.load_model and any ONNX runtime serve the same model;
// LoadONNX scores that form in Go, and LoadEngine picks one of the two.
package mlmodel
