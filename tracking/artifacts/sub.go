package artifacts

import (
	"context"
	"io"
	"strings"

	"github.com/mlops-lab/housing/tracking"
)

// Sub returns the part of repo under prefix as a repository of its own: paths
// given to it are taken relative to prefix, and listings come back relative to
// prefix. The server uses it to open a run's artifacts inside the proxied store
// (mlflow-artifacts:/<experiment>/<run>/artifacts).
func Sub(repo tracking.ArtifactRepository, prefix string) (tracking.ArtifactRepository, error) {
	p, err := CleanPath(prefix)
	if err != nil {
		return nil, err
	}
	if p == "" {
		return repo, nil
	}
	return &sub{repo: repo, prefix: p}, nil
}

type sub struct {
	repo   tracking.ArtifactRepository
	prefix string
}

func (s *sub) full(p string) (string, error) {
	c, err := CleanPath(p)
	if err != nil {
		return "", err
	}
	if c == "" {
		return s.prefix, nil
	}
	return s.prefix + "/" + c, nil
}

func (s *sub) Put(ctx context.Context, p string, r io.Reader, size int64) error {
	f, err := s.full(p)
	if err != nil {
		return err
	}
	return s.repo.Put(ctx, f, r, size)
}

func (s *sub) Get(ctx context.Context, p string) (io.ReadCloser, error) {
	f, err := s.full(p)
	if err != nil {
		return nil, err
	}
	return s.repo.Get(ctx, f)
}

func (s *sub) List(ctx context.Context, p string) ([]tracking.FileInfo, error) {
	f, err := s.full(p)
	if err != nil {
		return nil, err
	}
	files, err := s.repo.List(ctx, f)
	if err != nil {
		return nil, err
	}
	out := make([]tracking.FileInfo, 0, len(files))
	for _, fi := range files {
		fi.Path = strings.TrimPrefix(fi.Path, s.prefix+"/")
		out = append(out, fi)
	}
	return out, nil
}

func (s *sub) Delete(ctx context.Context, p string) error {
	f, err := s.full(p)
	if err != nil {
		return err
	}
	return s.repo.Delete(ctx, f)
}
