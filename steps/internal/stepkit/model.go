package stepkit

import (
	"context"
	"fmt"
	"os"

	"github.com/mlops-lab/housing/learn"
	"github.com/mlops-lab/housing/learn/mlmodel"
)

// LoadModel downloads the model directory that uri names (runs:/, models:/ or an
// artifact URI) and loads it.
func (t *Tracking) LoadModel(ctx context.Context, uri string) (*mlmodel.Model, learn.Regressor, error) {
	dir, err := os.MkdirTemp("", "housing-model-")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(dir)
	if err := t.Runs.DownloadArtifacts(ctx, uri, dir); err != nil {
		return nil, nil, fmt.Errorf("download model %s: %w", uri, err)
	}
	m, reg, err := mlmodel.Load(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("load model %s: %w", uri, err)
	}
	return m, reg, nil
}
