// Package onnx exports the learn regressors as ONNX models: forests and
// boosted ensembles as ai.onnx.ml TreeEnsembleRegressor, linear models as
// ai.onnx.ml LinearRegressor, in IR version 8 with opset 15 of the default
// domain and version 3 of ai.onnx.ml, built with the protobuf types of
// github.com/advancedclimatesystems/gonnx/onnx.
//
// # Input
//
// One input, "input" by default, of type double and shape [N, features],
// as skl2onnx names it, with the feature names in its doc string and in
// the model's metadata ("feature_names", comma-separated). One 2-D input
// is what both operators take, what onnxruntime and MLflow's onnx flavour
// feed from a data frame, and how the other learn code sees rows; eight
// [N, 1] inputs would need a Concat node in front for no gain.
//
// # Precision
//
// The input is double, not float, because the features are float64 and
// the trees' thresholds are midpoints between float64 values: cast to
// float, a value and a threshold a few float32 ulps apart would compare
// the other way, and the row would take another branch — an error of a
// whole leaf value, not of a rounding. So the tree ensembles carry their
// thresholds, leaf values and base value as double tensors
// (nodes_values_as_tensor, target_weights_as_tensor, base_values_as_tensor,
// which ai.onnx.ml 3 added for this), and every row takes exactly the
// branches it takes in Go. onnxruntime (1.16 and later) runs
// TreeEnsembleRegressor on double input with double thresholds and sums in
// double; the only loss is the operator's output, which ai.onnx.ml 3 types
// as float: each prediction is rounded once to float32, a relative error
// of at most 2^-24 (6e-8; under a cent on a house value).
//
// LinearRegressor has float coefficients only, and onnxruntime (1.30)
// implements it for float input only, so a linear model goes through a
// Cast to float first and loses more: the features, coefficients and
// intercept are each rounded to float32 and the sum is taken in float, an
// error of a few 2^-24 times the sum of |coefficient * feature| and
// |intercept| (about 1e-6 on this data's targets). A model that must be
// exact would use MatMul and Add in double instead; LinearRegressor is
// what ML runtimes expect of a linear model.
//
// # Serving with MLflow
//
// learn/mlmodel writes model.onnx beside the housing model file, with the
// flavors mlflow.onnx.save_model writes (onnx, and python_function with
// loader_module mlflow.onnx), so mlflow.pyfunc.load_model serves it. The
// MLmodel signature is eight named double columns while the graph takes
// one [N, 8] double tensor; that fits because of what MLflow 2.17 does on
// predict with a DataFrame: pyfunc first enforces the signature (each
// column converted to float64, the columns put in signature order, which is
// the order of the input's columns here), then _OnnxModelWrapper.predict,
// seeing a model with a single input, feeds the whole frame as one tensor,
// {"input": frame.values}: a float64 array of shape [N, 8]. Its only cast,
// float64 to float32, applies to inputs of type tensor(float), so a double
// input goes through untouched, as the graph expects (with eight [N, 1]
// inputs MLflow would feed one column per input instead, by name). The
// float output comes back as a float32 DataFrame column named "variable":
// the double prediction rounded once. The signature's output stays double,
// what the model predicts; MLflow checks inputs against a signature, not
// outputs.
//
// # Evaluation
//
// Load runs the exported graphs in Go, for scoring without an ONNX runtime
// and to check the files against the models. It implements Cast (to float
// or double), LinearRegressor and TreeEnsembleRegressor (aggregate SUM or
// AVERAGE, no post transform, one target, every branch mode and
// nodes_missing_value_tracks_true, float or *_as_tensor double values) as
// their definitions say, and refuses anything else by name. Tree ensembles
// compare and sum in double, adding the trees in tree order to the base
// value (SUM) or averaging them (AVERAGE) as the Go models do, and round
// each sum once to the float32 output: a tree model's prediction from Load
// is exactly the Go model's, rounded to float32. onnxruntime sums the same
// values in its own order, so the two may differ by one float32 step (on
// the housing test part they agree on every row). A linear model's float
// coefficients and float-cast inputs are multiplied and summed in double
// and rounded once, within the error bound above of both the Go model and
// onnxruntime's float arithmetic.
package onnx
