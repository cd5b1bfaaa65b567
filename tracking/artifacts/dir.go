package artifacts

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"

	"github.com/mlops-lab/housing/tracking"
)

// UploadDir uploads every regular file under localDir (following links to files)
// to destPath in repo, keeping the tree's shape.
func UploadDir(ctx context.Context, repo tracking.ArtifactRepository, localDir, destPath string) error {
	dest, err := CleanPath(destPath)
	if err != nil {
		return err
	}
	return filepath.WalkDir(localDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("artifacts: upload %s: %w", localDir, err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		fi, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("artifacts: upload %s: %w", p, err)
		}
		if !fi.Mode().IsRegular() {
			return nil // sockets, devices, links to directories
		}
		rel, err := filepath.Rel(localDir, p)
		if err != nil {
			return fmt.Errorf("artifacts: upload %s: %w", p, err)
		}
		return uploadFile(ctx, repo, p, joinPath(dest, filepath.ToSlash(rel)), fi.Size())
	})
}

// UploadFile uploads the local file at localPath to destPath in repo.
func UploadFile(ctx context.Context, repo tracking.ArtifactRepository, localPath, destPath string) error {
	fi, err := os.Stat(localPath)
	if err != nil {
		return fmt.Errorf("artifacts: upload %s: %w", localPath, err)
	}
	return uploadFile(ctx, repo, localPath, destPath, fi.Size())
}

func uploadFile(ctx context.Context, repo tracking.ArtifactRepository, localPath, destPath string, size int64) error {
	f, err := os.Open(localPath)
	if err != nil {
		return fmt.Errorf("artifacts: upload %s: %w", localPath, err)
	}
	defer f.Close()
	if err := repo.Put(ctx, destPath, f, size); err != nil {
		return fmt.Errorf("artifacts: upload %s to %s: %w", localPath, destPath, err)
	}
	return nil
}

// DownloadDir downloads the tree at p in repo into localDir: a file at p/x/y lands
// in localDir/x/y. When p is a file, it lands in localDir under its base name.
// Paths are written through os.Root, so a repository's listing cannot place
// files outside localDir.
func DownloadDir(ctx context.Context, repo tracking.ArtifactRepository, p, localDir string) error {
	src, err := CleanPath(p)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(localDir, 0o755); err != nil {
		return fmt.Errorf("artifacts: download to %s: %w", localDir, err)
	}
	root, err := os.OpenRoot(localDir)
	if err != nil {
		return fmt.Errorf("artifacts: download to %s: %w", localDir, err)
	}
	defer root.Close()
	files, err := repo.List(ctx, src)
	if err != nil {
		return err
	}
	if len(files) == 0 && src != "" {
		// Not a directory (or an empty one): try it as a file.
		err := downloadFile(ctx, repo, root, src, path.Base(src))
		if tracking.IsNotFound(err) {
			return nil // an empty or missing directory downloads as nothing
		}
		return err
	}
	return downloadTree(ctx, repo, root, src, files)
}

func downloadTree(ctx context.Context, repo tracking.ArtifactRepository, root *os.Root, src string, files []tracking.FileInfo) error {
	for _, f := range files {
		rel, err := relTo(src, f.Path)
		if err != nil {
			return err
		}
		if f.IsDir {
			if err := root.MkdirAll(rel, 0o755); err != nil {
				return fmt.Errorf("artifacts: download %s: %w", f.Path, err)
			}
			children, err := repo.List(ctx, f.Path)
			if err != nil {
				return err
			}
			if err := downloadTree(ctx, repo, root, src, children); err != nil {
				return err
			}
			continue
		}
		if err := downloadFile(ctx, repo, root, f.Path, rel); err != nil {
			return err
		}
	}
	return nil
}

// relTo returns p relative to dir, refusing entries outside dir.
func relTo(dir, p string) (string, error) {
	clean, err := CleanPath(p)
	if err != nil {
		return "", err
	}
	if dir == "" {
		return clean, nil
	}
	if len(clean) <= len(dir) || clean[:len(dir)] != dir || clean[len(dir)] != '/' {
		return "", tracking.Errorf(tracking.ErrInvalidParameterValue, "listing of %s holds %s, which is outside it", dir, p)
	}
	return clean[len(dir)+1:], nil
}

// downloadFile copies the artifact at p to name under root, via a temporary file.
func downloadFile(ctx context.Context, repo tracking.ArtifactRepository, root *os.Root, p, name string) error {
	rc, err := repo.Get(ctx, p)
	if err != nil {
		return err
	}
	defer rc.Close()
	if dir := path.Dir(name); dir != "." {
		if err := root.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("artifacts: download %s: %w", p, err)
		}
	}
	tmp := path.Join(path.Dir(name), tmpPrefix+rand.Text())
	out, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("artifacts: download %s: %w", p, err)
	}
	_, err = io.Copy(out, ctxReader{ctx, rc})
	err = errors.Join(err, out.Close())
	if err == nil {
		err = root.Rename(tmp, name)
	}
	if err != nil {
		root.Remove(tmp)
		return fmt.Errorf("artifacts: download %s: %w", p, err)
	}
	return nil
}
