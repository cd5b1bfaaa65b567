package stepkit

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/mlops-lab/housing/learn"
	"github.com/mlops-lab/housing/learn/mlmodel"
)

// LoadModel downloads of the model directory that uri names (runs:/,
// models:/ or an artifact URI) the two files that loading it reads, MLmodel
// and the model file its housing flavor names, and loads it. The rest stays
// in the store: model.onnx alone is about seven times model.bin for a forest
// (79 MB beside 11.6 MB for the lab's rf-optimized).
func (t *Tracking) LoadModel(ctx context.Context, uri string) (*mlmodel.Model, learn.Regressor, error) {
	dir, err := os.MkdirTemp("", "housing-model-")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(dir)
	if err := t.Runs.DownloadArtifactsAt(ctx, uri, mlmodel.MLmodelFile, dir); err != nil {
		return nil, nil, fmt.Errorf("download model %s: %w", uri, err)
	}
	mm, err := mlmodel.ReadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("load model %s: %w", uri, err)
	}
	file, err := mm.HousingModelFile()
	if err != nil {
		return nil, nil, fmt.Errorf("load model %s: %w", uri, err)
	}
	if err := t.Runs.DownloadArtifactsAt(ctx, uri, file, filepath.Join(dir, filepath.Dir(file))); err != nil {
		return nil, nil, fmt.Errorf("download model %s: %w", uri, err)
	}
	m, reg, err := mlmodel.Load(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("load model %s: %w", uri, err)
	}
	return m, reg, nil
}
