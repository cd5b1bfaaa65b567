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
	"sort"
	"strings"

	"github.com/mlops-lab/housing/tracking"
)

// tmpPrefix starts the names of files being written; listings hide them.
const tmpPrefix = ".housing-tmp-"

// Local is an artifact repository in a directory on local disk. All access goes
// through os.Root, so neither a path nor a symbolic link inside the directory can
// reach files outside it. Links are followed only when they are relative and
// stay inside the directory (os.Root's rule).
type Local struct {
	root string // absolute, symlinks resolved
}

var _ tracking.ArtifactRepository = (*Local)(nil)

// NewLocal returns the repository rooted at the directory root, creating it if needed.
func NewLocal(root string) (*Local, error) {
	if root == "" {
		return nil, fmt.Errorf("artifacts: local root directory is empty")
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("artifacts: create root %s: %w", root, err)
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("artifacts: root %s: %w", root, err)
	}
	resolved, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, fmt.Errorf("artifacts: root %s: %w", root, err)
	}
	return &Local{root: resolved}, nil
}

// Root returns the repository's directory.
func (l *Local) Root() string { return l.root }

// open checks p and opens the root for one operation. It returns the cleaned
// path; the caller closes the root (files opened from it stay usable).
func (l *Local) open(p string) (*os.Root, string, error) {
	clean, err := CleanPath(p)
	if err != nil {
		return nil, "", err
	}
	for _, seg := range strings.Split(clean, "/") {
		if strings.HasPrefix(seg, tmpPrefix) {
			// Files being written and multipart staging: not reachable by path.
			return nil, "", tracking.Errorf(tracking.ErrInvalidParameterValue, "Invalid path")
		}
	}
	if err := l.checkInside(clean); err != nil {
		return nil, "", err
	}
	r, err := os.OpenRoot(l.root)
	if err != nil {
		return nil, "", fmt.Errorf("artifacts: open root %s: %w", l.root, err)
	}
	return r, clean, nil
}

// checkInside resolves the longest existing prefix of clean and refuses it when a
// symbolic link takes it outside the root. os.Root refuses such paths too, but
// with an error that cannot be told apart from others; this names the problem.
func (l *Local) checkInside(clean string) error {
	if clean == "" {
		return nil
	}
	cur := filepath.Join(l.root, filepath.FromSlash(clean))
	for cur != l.root {
		resolved, err := filepath.EvalSymlinks(cur)
		if err == nil {
			if resolved != l.root && !strings.HasPrefix(resolved, l.root+string(filepath.Separator)) {
				return tracking.Errorf(tracking.ErrInvalidParameterValue, "Invalid path")
			}
			return nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("artifacts: resolve %s: %w", clean, err)
		}
		if fi, lerr := os.Lstat(cur); lerr == nil && fi.Mode()&fs.ModeSymlink != 0 {
			// A dangling link: whatever it names is not a file of this repository.
			return tracking.Errorf(tracking.ErrInvalidParameterValue, "Invalid path")
		}
		cur = filepath.Dir(cur)
	}
	return nil
}

// Put writes r to a temporary file beside path and renames it into place, so a
// failed or cancelled write leaves no partial file.
func (l *Local) Put(ctx context.Context, p string, r io.Reader, size int64) error {
	root, clean, err := l.open(p)
	if err != nil {
		return err
	}
	defer root.Close()
	if clean == "" {
		return tracking.Errorf(tracking.ErrInvalidParameterValue, "Invalid path: a file needs a name")
	}
	dir := path.Dir(clean)
	if dir != "." {
		if err := root.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("artifacts: create directory %s: %w", dir, err)
		}
	}
	tmp := path.Join(dir, tmpPrefix+rand.Text())
	f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("artifacts: create %s: %w", clean, err)
	}
	_, err = io.Copy(f, ctxReader{ctx, r})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = root.Rename(tmp, clean)
	}
	if err != nil {
		root.Remove(tmp)
		return fmt.Errorf("artifacts: write %s: %w", clean, err)
	}
	return nil
}

// Get opens the file at p.
func (l *Local) Get(ctx context.Context, p string) (io.ReadCloser, error) {
	root, clean, err := l.open(p)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	f, err := root.Open(clean)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, tracking.Errorf(tracking.ErrResourceDoesNotExist, "Artifact %s not found", clean)
	}
	if err != nil {
		return nil, fmt.Errorf("artifacts: open %s: %w", clean, err)
	}
	if fi, err := f.Stat(); err != nil || fi.IsDir() {
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("artifacts: stat %s: %w", clean, err)
		}
		return nil, tracking.Errorf(tracking.ErrInvalidParameterValue, "Artifact %s is a directory", clean)
	}
	return f, nil
}

// List lists the direct children of the directory p; a missing path or a file
// lists as empty, as MLflow's local repository does.
func (l *Local) List(ctx context.Context, p string) ([]tracking.FileInfo, error) {
	root, clean, err := l.open(p)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	name := clean
	if name == "" {
		name = "."
	}
	d, err := root.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return []tracking.FileInfo{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("artifacts: list %s: %w", clean, err)
	}
	defer d.Close()
	if fi, err := d.Stat(); err != nil || !fi.IsDir() {
		return []tracking.FileInfo{}, err
	}
	entries, err := d.ReadDir(-1)
	if err != nil {
		return nil, fmt.Errorf("artifacts: list %s: %w", clean, err)
	}
	out := make([]tracking.FileInfo, 0, len(entries))
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), tmpPrefix) {
			continue
		}
		child := joinPath(clean, e.Name())
		fi, err := root.Stat(child) // follows links that stay inside the root
		if err != nil {
			continue // a link out of the root or a dangling one: not ours to show
		}
		info := tracking.FileInfo{Path: child, IsDir: fi.IsDir()}
		if !fi.IsDir() {
			info.FileSize = fi.Size()
		}
		out = append(out, info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// Delete removes the file or tree at p; a missing path is not an error. Deleting
// the root ("") empties the repository but keeps its directory.
func (l *Local) Delete(ctx context.Context, p string) error {
	root, clean, err := l.open(p)
	if err != nil {
		return err
	}
	defer root.Close()
	if clean != "" {
		if err := root.RemoveAll(clean); err != nil {
			return fmt.Errorf("artifacts: delete %s: %w", clean, err)
		}
		return nil
	}
	entries, err := os.ReadDir(l.root)
	if err != nil {
		return fmt.Errorf("artifacts: delete all in %s: %w", l.root, err)
	}
	for _, e := range entries {
		if err := root.RemoveAll(e.Name()); err != nil {
			return fmt.Errorf("artifacts: delete %s: %w", e.Name(), err)
		}
	}
	return nil
}

// ctxReader stops a long copy when its context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
