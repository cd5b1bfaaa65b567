package kfp

import (
	"fmt"
	"sort"

	"github.com/kubeflow/pipelines/api/v2alpha1/go/pipelinespec"
	"google.golang.org/protobuf/types/known/structpb"
)

// Defaults of the housing steps and pipeline.
const (
	Image               = "ghcr.io/mlops-lab/housing:latest"
	TrackingURI         = "http://mlflow-server-service.mlflow-system.svc.cluster.local:5000"
	S3EndpointURL       = "http://minio-service.kubeflow.svc:9000"
	S3Region            = "us-east-1"
	S3CredentialsSecret = "mlflow-s3-credentials"
	PipelineName        = "california-housing"
	DefaultExperiment   = "california-housing"
	DefaultModelName    = "california-housing"
	DefaultMetric       = "r2"
	DefaultDataURI      = "https://ndownloader.figshare.com/files/5976036"
	// SweepParallelism bounds how many sweep configs train at once.
	SweepParallelism = 3
)

// DefaultSweep is the default list of train configs the pipeline sweeps.
var defaultSweep = []string{"rf-baseline", "rf-tuned", "rf-optimized"}

// DefaultSweep returns the default list of train configs the pipeline sweeps.
func DefaultSweep() []string { return append([]string(nil), defaultSweep...) }

func str(s string) *structpb.Value  { return structpb.NewStringValue(s) }
func num(f float64) *structpb.Value { return structpb.NewNumberValue(f) }
func strList(s []string) *structpb.Value {
	vals := make([]*structpb.Value, len(s))
	for i, v := range s {
		vals[i] = str(v)
	}
	return structpb.NewListValue(&structpb.ListValue{Values: vals})
}

// mlflowEnv is the plain environment every step gets; the S3 credentials
// come from a Kubernetes secret (mlflowSecrets).
func mlflowEnv() []EnvVar {
	return []EnvVar{
		{Name: "MLFLOW_TRACKING_URI", Value: TrackingURI},
		{Name: "MLFLOW_S3_ENDPOINT_URL", Value: S3EndpointURL},
		{Name: "AWS_DEFAULT_REGION", Value: S3Region},
	}
}

func mlflowSecrets() []SecretEnv {
	return []SecretEnv{{
		SecretName: S3CredentialsSecret,
		KeyToEnv: []SecretKeyToEnv{
			{SecretKey: "AWS_ACCESS_KEY_ID", EnvVar: "AWS_ACCESS_KEY_ID"},
			{SecretKey: "AWS_SECRET_ACCESS_KEY", EnvVar: "AWS_SECRET_ACCESS_KEY"},
		},
	}}
}

func housingStep(name, desc string) Step {
	return Step{
		Name:        name,
		Description: desc,
		Image:       Image,
		Command:     []string{"/usr/local/bin/" + name},
		Env:         mlflowEnv(),
		Secrets:     mlflowSecrets(),
	}
}

// IngestStep loads, validates and splits the data.
func IngestStep() Step {
	s := housingStep("ingest", "Load and validate the California housing data and split it into train and test sets.")
	s.Inputs = []Param{
		{Name: "data_uri", Type: String, Description: "Where the data is: a path, an http(s):// or s3:// URL."},
		{Name: "test_fraction", Type: Double, Default: num(0.2), Description: "Fraction of rows held out for testing."},
		{Name: "seed", Type: Integer, Default: num(42), Description: "Seed of the split."},
	}
	s.OutputArtifacts = []Artifact{
		{Name: "train", Schema: Dataset, Description: "Training rows."},
		{Name: "test", Schema: Dataset, Description: "Test rows."},
		{Name: "summary", Schema: Generic, Description: "Summary of the data and the split, as JSON."},
	}
	s.Args = []string{
		"--data", InputParam("data_uri"),
		"--test-fraction", InputParam("test_fraction"),
		"--seed", InputParam("seed"),
		"--train-out", OutputArtifactPath("train"),
		"--test-out", OutputArtifactPath("test"),
		"--summary-out", OutputArtifactPath("summary"),
	}
	return s
}

// TrainStep fits one regressor config and logs the run to MLflow.
func TrainStep() Step {
	s := housingStep("train", "Fit one regressor config, evaluate it on the test set and log the run to MLflow.")
	s.Inputs = []Param{
		{Name: "config", Type: String, Description: "Regressor config, e.g. rf-baseline, rf-tuned, rf-optimized, linear."},
		{Name: "experiment_name", Type: String, Default: str(DefaultExperiment), Description: "MLflow experiment of the run."},
		{Name: "seed", Type: Integer, Default: num(42), Description: "Seed of the regressor."},
		{Name: "metric", Type: String, Default: str(DefaultMetric), Description: "Metric reported as metric_value."},
	}
	s.InputArtifacts = []Artifact{
		{Name: "train", Schema: Dataset, Description: "Training rows."},
		{Name: "test", Schema: Dataset, Description: "Test rows."},
	}
	s.Outputs = []Param{
		{Name: "run_id", Type: String, Description: "MLflow run id."},
		{Name: "metric_value", Type: Double, Description: "Test value of the metric."},
		{Name: "model_uri", Type: String, Description: "URI of the logged model (models:/<model_id> against MLflow 3, runs:/<run_id>/model against 2.x)."},
	}
	s.Args = []string{
		"--train", InputArtifactPath("train"),
		"--test", InputArtifactPath("test"),
		"--config", InputParam("config"),
		"--experiment-name", InputParam("experiment_name"),
		"--seed", InputParam("seed"),
		"--metric", InputParam("metric"),
		"--run-id-out", OutputParamFile("run_id"),
		"--metric-out", OutputParamFile("metric_value"),
		"--model-uri-out", OutputParamFile("model_uri"),
	}
	return s
}

// CompareStep ranks the runs of the experiment and names the best.
func CompareStep() Step {
	s := housingStep("compare", "Rank the runs of an experiment by a metric; write a table and a chart; name the best run.")
	s.Inputs = []Param{
		{Name: "experiment_name", Type: String, Default: str(DefaultExperiment), Description: "MLflow experiment whose runs are compared."},
		{Name: "metric", Type: String, Default: str(DefaultMetric), Description: "Metric to rank by."},
		{Name: "direction", Type: String, Default: str("max"), Description: "max or min: which end of the metric is best."},
		{Name: "filter", Type: String, Default: str(""), Description: "MLflow search filter on the runs; empty for all."},
	}
	s.Outputs = []Param{
		{Name: "best_run_id", Type: String, Description: "Run id of the best run."},
		{Name: "best_metric", Type: Double, Description: "Metric value of the best run."},
	}
	s.OutputArtifacts = []Artifact{
		{Name: "table_md", Schema: Markdown, Description: "Ranking of the runs as a Markdown table."},
		{Name: "table_csv", Schema: Dataset, Description: "Ranking of the runs as CSV."},
		{Name: "chart", Schema: Generic, Description: "Chart of the metric by run, as a PNG image."},
	}
	s.Args = []string{
		"--experiment-name", InputParam("experiment_name"),
		"--metric", InputParam("metric"),
		"--direction", InputParam("direction"),
		"--filter", InputParam("filter"),
		"--table-md-out", OutputArtifactPath("table_md"),
		"--table-csv-out", OutputArtifactPath("table_csv"),
		"--chart-out", OutputArtifactPath("chart"),
		"--best-run-id-out", OutputParamFile("best_run_id"),
		"--best-metric-out", OutputParamFile("best_metric"),
	}
	return s
}

// RegisterStep registers the best run's model and promotes it when it beats
// the current production version by the margin.
func RegisterStep() Step {
	s := housingStep("register", "Register the run's model, move it to Staging, and promote it to Production when it beats the current one by the margin.")
	s.Inputs = []Param{
		{Name: "run_id", Type: String, Description: "MLflow run whose model is registered."},
		{Name: "model_name", Type: String, Default: str(DefaultModelName), Description: "Registered model name."},
		{Name: "metric", Type: String, Default: str(DefaultMetric), Description: "Metric of the promotion gate."},
		{Name: "direction", Type: String, Default: str("max"), Description: "max or min: which end of the metric is best."},
		{Name: "margin", Type: Double, Default: num(0), Description: "How much the new model must beat production by."},
	}
	s.InputArtifacts = []Artifact{
		{Name: "test", Schema: Dataset, Description: "Test rows the gate evaluates on."},
	}
	s.Outputs = []Param{
		{Name: "version", Type: String, Description: "Registered model version."},
		{Name: "decision", Type: String, Description: "What the gate decided (promoted or kept in Staging, and why)."},
	}
	s.Args = []string{
		"--run-id", InputParam("run_id"),
		"--model-name", InputParam("model_name"),
		"--metric", InputParam("metric"),
		"--direction", InputParam("direction"),
		"--margin", InputParam("margin"),
		"--test", InputArtifactPath("test"),
		"--version-out", OutputParamFile("version"),
		"--decision-out", OutputParamFile("decision"),
	}
	return s
}

// PredictStep batch-scores a dataset with a model.
func PredictStep() Step {
	s := housingStep("predict", "Batch-score a dataset with a model (models:/name@alias, models:/name/stage, runs:/id/model).")
	s.Inputs = []Param{
		{Name: "model_uri", Type: String, Default: str("models:/" + DefaultModelName + "/Production"), Description: "Model to score with."},
		{Name: "engine", Type: String, Default: str("native"), Description: "How to score: native (the housing flavor's model file), onnx (the onnx flavor's model.onnx, evaluated in Go) or auto (native when the housing flavor is there, else onnx)."},
	}
	s.InputArtifacts = []Artifact{
		{Name: "input", Schema: Dataset, Description: "Rows to score."},
	}
	s.OutputArtifacts = []Artifact{
		{Name: "predictions", Schema: Dataset, Description: "The rows with their predictions."},
		{Name: "metrics", Schema: Metrics, Description: "Metrics of the predictions when the input has the target."},
	}
	s.Args = []string{
		"--model-uri", InputParam("model_uri"),
		"--engine", InputParam("engine"),
		"--input", InputArtifactPath("input"),
		"--output", OutputArtifactPath("predictions"),
		"--metrics-out", OutputArtifactPath("metrics"),
	}
	return s
}

// Steps returns every housing step, in pipeline order.
func Steps() []Step {
	return []Step{IngestStep(), TrainStep(), CompareStep(), RegisterStep(), PredictStep()}
}

// pipelineBuilder collects the components, executors and Kubernetes
// configs of a pipeline as its tasks are added.
type pipelineBuilder struct {
	components map[string]*pipelinespec.ComponentSpec
	executors  map[string]*pipelinespec.PipelineDeploymentConfig_ExecutorSpec
	k8s        map[string]*structpb.Struct
}

// addStep registers step s as the component of task (comp-<task>, exec-<task>).
func (b *pipelineBuilder) addStep(task string, s Step) error {
	label := ExecutorLabel(task)
	b.components[ComponentName(task)] = s.component(label)
	b.executors[label] = s.executor()
	cfg, err := s.kubernetesExecutorConfig()
	if err != nil {
		return err
	}
	if cfg != nil {
		b.k8s[label] = cfg
	}
	return nil
}

func newTask(name, component string, deps ...string) *pipelinespec.PipelineTaskSpec {
	sort.Strings(deps)
	return &pipelinespec.PipelineTaskSpec{
		TaskInfo:     &pipelinespec.PipelineTaskInfo{Name: name},
		ComponentRef: &pipelinespec.ComponentRef{Name: component},
		// Steps log to MLflow and the registry: a cached step would skip that.
		CachingOptions: &pipelinespec.PipelineTaskSpec_CachingOptions{},
		DependentTasks: deps,
		Inputs:         &pipelinespec.TaskInputsSpec{},
	}
}

// HousingPipeline returns the lab's pipeline: ingest, then train for each
// config of the sweep in parallel (ParallelFor), then compare once all have
// finished, then register the best run's model.
//
// Pipeline parameters: data_uri, experiment_name, registered_model_name,
// sweep, metric, promotion_margin.
func HousingPipeline() (Document, error) {
	b := &pipelineBuilder{
		components: map[string]*pipelinespec.ComponentSpec{},
		executors:  map[string]*pipelinespec.PipelineDeploymentConfig_ExecutorSpec{},
		k8s:        map[string]*structpb.Struct{},
	}
	for _, s := range []struct {
		task string
		step Step
	}{{"ingest", IngestStep()}, {"train", TrainStep()}, {"compare", CompareStep()}, {"register", RegisterStep()}} {
		if err := b.addStep(s.task, s.step); err != nil {
			return Document{}, err
		}
	}

	rootParams := []Param{
		{Name: "data_uri", Type: String, Default: str(DefaultDataURI), Description: "Where the data is: a path, an http(s):// or s3:// URL."},
		{Name: "experiment_name", Type: String, Default: str(DefaultExperiment), Description: "MLflow experiment of the runs."},
		{Name: "registered_model_name", Type: String, Default: str(DefaultModelName), Description: "Registered model the best run's model becomes a version of."},
		{Name: "sweep", Type: List, Default: strList(defaultSweep), Description: "Train configs, one parallel train task each."},
		{Name: "metric", Type: String, Default: str(DefaultMetric), Description: "Metric that ranks the runs and gates promotion (higher is better)."},
		{Name: "promotion_margin", Type: Double, Default: num(0), Description: "How much the new model must beat production by to be promoted."},
	}

	ingest := newTask("ingest", ComponentName("ingest"))
	setParam(ingest.Inputs, "data_uri", fromInput("data_uri"))

	// The ParallelFor body: one train task per sweep item. Everything it uses
	// from outside comes in as a pipelinechannel input, as the SDK does it.
	sweepCh := channel("sweep")
	trainCh, testCh := channel("ingest-train"), channel("ingest-test")
	expCh, metricCh := channel("experiment_name"), channel("metric")
	train := newTask("train", ComponentName("train"))
	setArtifact(train.Inputs, "train", fromInputArtifact(trainCh))
	setArtifact(train.Inputs, "test", fromInputArtifact(testCh))
	setParam(train.Inputs, "config", fromInput(loopItem(sweepCh)))
	setParam(train.Inputs, "experiment_name", fromInput(expCh))
	setParam(train.Inputs, "metric", fromInput(metricCh))
	const loopName = "for-loop-1"
	b.components[ComponentName(loopName)] = &pipelinespec.ComponentSpec{
		InputDefinitions: inputDefinitions(
			[]Param{{Name: expCh, Type: String}, {Name: metricCh, Type: String}, {Name: sweepCh, Type: List}, {Name: loopItem(sweepCh), Type: String}},
			[]Artifact{{Name: trainCh, Schema: Dataset}, {Name: testCh, Schema: Dataset}},
		),
		Implementation: &pipelinespec.ComponentSpec_Dag{Dag: &pipelinespec.DagSpec{
			Tasks: map[string]*pipelinespec.PipelineTaskSpec{"train": train},
		}},
	}
	loop := &pipelinespec.PipelineTaskSpec{
		TaskInfo:       &pipelinespec.PipelineTaskInfo{Name: loopName},
		ComponentRef:   &pipelinespec.ComponentRef{Name: ComponentName(loopName)},
		DependentTasks: []string{"ingest"},
		Inputs:         &pipelinespec.TaskInputsSpec{},
		Iterator: &pipelinespec.PipelineTaskSpec_ParameterIterator{ParameterIterator: &pipelinespec.ParameterIteratorSpec{
			Items:     &pipelinespec.ParameterIteratorSpec_ItemsSpec{Kind: &pipelinespec.ParameterIteratorSpec_ItemsSpec_InputParameter{InputParameter: sweepCh}},
			ItemInput: loopItem(sweepCh),
		}},
		IteratorPolicy: &pipelinespec.PipelineTaskSpec_IteratorPolicy{ParallelismLimit: SweepParallelism},
	}
	setArtifact(loop.Inputs, trainCh, fromTaskArtifact("ingest", "train"))
	setArtifact(loop.Inputs, testCh, fromTaskArtifact("ingest", "test"))
	setParam(loop.Inputs, expCh, fromInput("experiment_name"))
	setParam(loop.Inputs, metricCh, fromInput("metric"))
	setParam(loop.Inputs, sweepCh, fromInput("sweep"))

	compare := newTask("compare", ComponentName("compare"), loopName)
	setParam(compare.Inputs, "experiment_name", fromInput("experiment_name"))
	setParam(compare.Inputs, "metric", fromInput("metric"))

	register := newTask("register", ComponentName("register"), "compare", "ingest")
	setParam(register.Inputs, "run_id", fromTask("compare", "best_run_id"))
	setParam(register.Inputs, "model_name", fromInput("registered_model_name"))
	setParam(register.Inputs, "metric", fromInput("metric"))
	setParam(register.Inputs, "margin", fromInput("promotion_margin"))
	setArtifact(register.Inputs, "test", fromTaskArtifact("ingest", "test"))

	rootOutputs := []Param{
		{Name: "best_run_id", Type: String},
		{Name: "best_metric", Type: Double},
		{Name: "model_version", Type: String},
		{Name: "decision", Type: String},
	}
	dagOut := &pipelinespec.DagOutputsSpec{}
	setDagOutputParam(dagOut, "best_run_id", "compare", "best_run_id")
	setDagOutputParam(dagOut, "best_metric", "compare", "best_metric")
	setDagOutputParam(dagOut, "model_version", "register", "version")
	setDagOutputParam(dagOut, "decision", "register", "decision")

	deploy, err := deploymentSpec(b.executors)
	if err != nil {
		return Document{}, err
	}
	spec := &pipelinespec.PipelineSpec{
		PipelineInfo: &pipelinespec.PipelineInfo{
			Name:        PipelineName,
			Description: "California housing: ingest, train a sweep of regressors in parallel, compare the runs, register and promote the best model.",
		},
		DeploymentSpec: deploy,
		SdkVersion:     SDKVersion,
		SchemaVersion:  SchemaVersion,
		Components:     b.components,
		Root: &pipelinespec.ComponentSpec{
			InputDefinitions:  inputDefinitions(rootParams, nil),
			OutputDefinitions: outputDefinitions(rootOutputs, nil),
			Implementation: &pipelinespec.ComponentSpec_Dag{Dag: &pipelinespec.DagSpec{
				Tasks: map[string]*pipelinespec.PipelineTaskSpec{
					"ingest": ingest, loopName: loop, "compare": compare, "register": register,
				},
				Outputs: dagOut,
			}},
		},
	}
	return Document{Spec: spec, Platform: platformSpec(b.k8s)}, nil
}

// GeneratedFiles returns every generated file by its path relative to the
// repository root: components/<step>.yaml and pipelines/california-housing.yaml.
func GeneratedFiles() (map[string][]byte, error) {
	files := map[string][]byte{}
	for _, s := range Steps() {
		doc, err := ComponentFile(s)
		if err != nil {
			return nil, err
		}
		b, err := Marshal(doc)
		if err != nil {
			return nil, fmt.Errorf("kfp: component %s: %w", s.Name, err)
		}
		files["components/"+s.Name+".yaml"] = b
	}
	doc, err := HousingPipeline()
	if err != nil {
		return nil, err
	}
	b, err := Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("kfp: pipeline %s: %w", PipelineName, err)
	}
	files["pipelines/"+PipelineName+".yaml"] = b
	return files, nil
}
