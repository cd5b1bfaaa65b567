package fluent

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/artifacts"
)

// Artifacts returns the repository of the run's artifacts, opened once.
func (r *Run) Artifacts(ctx context.Context) (tracking.ArtifactRepository, error) {
	r.repoMu.Lock()
	defer r.repoMu.Unlock()
	if r.repo != nil {
		return r.repo, nil
	}
	repo, err := r.c.opener.Artifacts(ctx, r.info.ArtifactURI)
	if err != nil {
		return nil, fmt.Errorf("fluent: open artifacts of run %s at %s: %w", r.info.RunID, r.info.ArtifactURI, err)
	}
	r.repo = repo
	return repo, nil
}

// put stores data at artifactFile in the run's artifacts.
func (r *Run) put(ctx context.Context, artifactFile string, data []byte) error {
	p, err := artifacts.CleanPath(artifactFile)
	if err != nil {
		return err
	}
	if p == "" {
		return tracking.Errorf(tracking.ErrInvalidParameterValue, "artifact file name is empty")
	}
	repo, err := r.Artifacts(ctx)
	if err != nil {
		return err
	}
	if err := repo.Put(ctx, p, bytes.NewReader(data), int64(len(data))); err != nil {
		return fmt.Errorf("fluent: log %s to run %s: %w", p, r.info.RunID, err)
	}
	return nil
}

// LogText stores text as the artifact file artifactFile ("notes/summary.md").
func (r *Run) LogText(ctx context.Context, artifactFile, text string) error {
	return r.put(ctx, artifactFile, []byte(text))
}

// LogDict stores v as the artifact file artifactFile: YAML when the name ends
// in .yaml or .yml, JSON (indented by two spaces) otherwise, as MLflow's log_dict.
func (r *Run) LogDict(ctx context.Context, artifactFile string, v any) error {
	var (
		data []byte
		err  error
	)
	switch strings.ToLower(path.Ext(artifactFile)) {
	case ".yaml", ".yml":
		data, err = yaml.Marshal(v)
	default:
		data, err = json.MarshalIndent(v, "", "  ")
	}
	if err != nil {
		return fmt.Errorf("fluent: log dict %s: %w", artifactFile, err)
	}
	return r.put(ctx, artifactFile, data)
}

// LogImage stores what render writes (a PNG from internal/plots, say) as the
// artifact file artifactFile ("plots/residuals.png"). Nothing is stored when
// render fails.
func (r *Run) LogImage(ctx context.Context, artifactFile string, render func(io.Writer) error) error {
	var buf bytes.Buffer
	if err := render(&buf); err != nil {
		return fmt.Errorf("fluent: render %s: %w", artifactFile, err)
	}
	return r.put(ctx, artifactFile, buf.Bytes())
}

// LogArtifact uploads the local file localFile into the artifact directory
// artifactDir ("" is the run's artifact root), keeping its base name.
func (r *Run) LogArtifact(ctx context.Context, localFile, artifactDir string) error {
	repo, err := r.Artifacts(ctx)
	if err != nil {
		return err
	}
	return artifacts.UploadFile(ctx, repo, localFile, path.Join(artifactDir, filepath.Base(localFile)))
}

// LogArtifacts uploads the tree under localDir into the artifact directory
// artifactDir ("" is the run's artifact root).
func (r *Run) LogArtifacts(ctx context.Context, localDir, artifactDir string) error {
	repo, err := r.Artifacts(ctx)
	if err != nil {
		return err
	}
	return artifacts.UploadDir(ctx, repo, localDir, artifactDir)
}

// LogModel uploads a model directory (see learn/mlmodel) to artifactPath and
// appends historyEntry (mlmodel.Model.HistoryEntry) to the run tag
// mlflow.log-model.history, which MLflow's UI reads to show the run's models.
// When the tag would outgrow MLflow's tag size limit the entry is left out
// with a warning: the model itself is stored either way.
func (r *Run) LogModel(ctx context.Context, localDir, artifactPath string, historyEntry any) error {
	if err := r.LogArtifacts(ctx, localDir, artifactPath); err != nil {
		return err
	}
	r.modelMu.Lock()
	defer r.modelMu.Unlock()
	run, err := r.c.store.GetRun(ctx, r.info.RunID)
	if err != nil {
		return fmt.Errorf("fluent: log model %s: %w", artifactPath, err)
	}
	var history []json.RawMessage
	if old, ok := run.Tag(tracking.TagLogModelHist); ok {
		if err := json.Unmarshal([]byte(old), &history); err != nil {
			r.c.log.Warn("replacing unreadable model history tag", "run_id", r.info.RunID, "err", err)
			history = nil
		}
	}
	entry, err := json.Marshal(historyEntry)
	if err != nil {
		return fmt.Errorf("fluent: log model %s: history entry: %w", artifactPath, err)
	}
	value, err := json.Marshal(append(history, entry))
	if err != nil {
		return fmt.Errorf("fluent: log model %s: %w", artifactPath, err)
	}
	if len([]rune(string(value))) > tracking.MaxTagValueLength {
		r.c.log.Warn("model history tag would exceed the tag size limit; not recorded",
			"run_id", r.info.RunID, "artifact_path", artifactPath, "length", len(value))
		return nil
	}
	err = r.c.store.LogBatch(ctx, r.info.RunID, nil, nil, []tracking.Tag{{Key: tracking.TagLogModelHist, Value: string(value)}})
	if err != nil {
		return fmt.Errorf("fluent: log model %s: record history: %w", artifactPath, err)
	}
	return nil
}

// LogInputs records the data sets the run used (MLflow's log_inputs), at once.
func (r *Run) LogInputs(ctx context.Context, inputs ...tracking.DatasetInput) error {
	if err := r.c.store.LogInputs(ctx, r.info.RunID, inputs); err != nil {
		return fmt.Errorf("fluent: log %d inputs to run %s: %w", len(inputs), r.info.RunID, err)
	}
	return nil
}
