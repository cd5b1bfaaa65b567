// Package fluent is a run API in the manner of MLflow's fluent Python API,
// over any tracking.Store (the SQL store, the REST client) and an opener of
// artifact repositories:
//
//	c := fluent.New(backend.Store, backend, fluent.Options{})
//	err := c.Do(ctx, fluent.RunOptions{ExperimentName: "california-housing", RunName: "rf-tuned"},
//		func(ctx context.Context, run *fluent.Run) error {
//			run.LogParams(map[string]any{"n_estimators": 100, "max_depth": 10})
//			run.LogMetric("r2", r2, 0)
//			return run.LogArtifacts(ctx, modelDir, "model")
//		})
//
// Metrics, params and tags are buffered and sent with LogBatch within MLflow's
// limits: when a batch is full, on a timer, and when the run ends. Nothing
// logged is dropped at the end, and errors of background sends come back from
// End. A run started while MLFLOW_RUN_ID is set resumes that run, as MLflow
// does (Kubeflow's MLflow integration sets it).
//
// Model URIs resolve as MLflow resolves them: runs:/<run_id>/<path>,
// models:/<name>/<version>, models:/<name>/<stage>, models:/<name>/latest and
// models:/<name>@<alias>.
package fluent
