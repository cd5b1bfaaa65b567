package fluent

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/artifacts"
)

// LoggedModel is a model being logged to an MLflow 3 backend as MLflow 3's
// log_model does it: created PENDING with its source run and params, linked to
// the run as an output, its files uploaded to its own artifact location, its
// metrics logged with its id, and finalized READY or FAILED.
type LoggedModel struct {
	run   *Run
	store tracking.LoggedModelStore
	info  tracking.LoggedModel
	step  int64
}

// The tags MLflow's context registry puts on a new logged model, taken from
// the run's system tags.
var loggedModelTags = []string{tracking.TagUser, tracking.TagSourceName, tracking.TagSourceType, tracking.TagGitCommit}

// CreateLoggedModel creates a logged model called name ("model") from this run,
// with params and every param of the run (the run's win, as in MLflow's
// log_model), and records it as the run's output at step; it returns nil and
// no error when the backend keeps no logged models (MLflow 2.x), and the
// caller then logs the model into the run's artifacts as before.
func (r *Run) CreateLoggedModel(ctx context.Context, name string, params map[string]string, step int64) (*LoggedModel, error) {
	store, err := tracking.LoggedModels(ctx, r.c.store)
	if err != nil {
		return nil, fmt.Errorf("fluent: does the backend keep logged models: %w", err)
	}
	if store == nil {
		return nil, nil
	}
	var tags []tracking.Tag
	for _, t := range r.c.systemTags(ctx, r.c.userName(), "", "") {
		if slices.Contains(loggedModelTags, t.Key) {
			tags = append(tags, t)
		}
	}
	all := maps.Clone(params)
	if all == nil {
		all = map[string]string{}
	}
	r.mu.Lock()
	maps.Copy(all, r.params)
	r.mu.Unlock()
	var ps []tracking.Param
	for _, k := range slices.Sorted(maps.Keys(all)) {
		ps = append(ps, tracking.Param{Key: k, Value: all[k]})
	}
	info, err := store.CreateLoggedModel(ctx, tracking.CreateLoggedModel{
		ExperimentID: r.info.ExperimentID, Name: name, SourceRunID: r.info.RunID, Params: ps, Tags: tags,
	})
	if err != nil {
		return nil, fmt.Errorf("fluent: create logged model %s of run %s: %w", name, r.info.RunID, err)
	}
	m := &LoggedModel{run: r, store: store, info: *info, step: step}
	if err := store.LogOutputs(ctx, r.info.RunID, []tracking.ModelOutput{{ModelID: info.ModelID, Step: step}}); err != nil {
		return m, errors.Join(fmt.Errorf("fluent: link model %s to run %s: %w", info.ModelID, r.info.RunID, err), m.Finalize(ctx, err))
	}
	r.c.log.Info("created logged model", "model_id", info.ModelID, "run_id", r.info.RunID, "artifact_uri", info.ArtifactLocation)
	return m, nil
}

// ID returns the model's id (m-...).
func (m *LoggedModel) ID() string { return m.info.ModelID }

// ArtifactURI returns the model's own artifact location.
func (m *LoggedModel) ArtifactURI() string { return m.info.ArtifactLocation }

// URI returns models:/<model_id>.
func (m *LoggedModel) URI() string { return "models:/" + m.info.ModelID }

// Upload uploads the model directory localDir to the model's artifact location.
func (m *LoggedModel) Upload(ctx context.Context, localDir string) error {
	repo, err := m.run.c.opener.Artifacts(ctx, m.info.ArtifactLocation)
	if err != nil {
		return fmt.Errorf("fluent: open artifacts of model %s at %s: %w", m.info.ModelID, m.info.ArtifactLocation, err)
	}
	if err := artifacts.UploadDir(ctx, repo, localDir, ""); err != nil {
		return fmt.Errorf("fluent: upload model %s: %w", m.info.ModelID, err)
	}
	return nil
}

// LogMetrics logs metrics of the model, measured on the data set dataset
// (nil: none), on its run at the model's step, with the model's id, at once.
func (m *LoggedModel) LogMetrics(ctx context.Context, metrics map[string]float64, dataset *tracking.Dataset) error {
	now := m.run.c.millis()
	var ms []tracking.Metric
	for _, k := range slices.Sorted(maps.Keys(metrics)) {
		mt := tracking.Metric{Key: k, Value: metrics[k], Timestamp: now, Step: m.step, ModelID: m.info.ModelID}
		if dataset != nil {
			mt.DatasetName, mt.DatasetDigest = dataset.Name, dataset.Digest
		}
		ms = append(ms, mt)
	}
	for len(ms) > 0 {
		n := min(len(ms), tracking.MaxMetricsPerBatch)
		if err := m.run.c.store.LogBatch(ctx, m.run.info.RunID, ms[:n], nil, nil); err != nil {
			return fmt.Errorf("fluent: log metrics of model %s: %w", m.info.ModelID, err)
		}
		ms = ms[n:]
	}
	return nil
}

// Finalize ends the model READY when cause is nil, FAILED otherwise, as MLflow
// 3's log_model does. It works when ctx is already cancelled.
func (m *LoggedModel) Finalize(ctx context.Context, cause error) error {
	status := tracking.LoggedModelReady
	if cause != nil {
		status = tracking.LoggedModelUploadFailed
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	info, err := m.store.FinalizeLoggedModel(ctx, m.info.ModelID, status)
	if err != nil {
		return fmt.Errorf("fluent: finalize model %s as %s: %w", m.info.ModelID, status, err)
	}
	m.info = *info
	return nil
}
