package artifacts

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/mlops-lab/housing/tracking"
)

// stagingDir holds the parts of multipart uploads under a Local root, one
// directory per upload. Its name starts with tmpPrefix, so listings hide it and
// Local refuses it in paths: only this file's methods reach it.
const stagingDir = tmpPrefix + "mpu"

// targetFile, in an upload's directory, holds the path the upload assembles into.
const targetFile = "target"

// uploadIDLen is the length of rand.Text's output, the form of upload ids.
const uploadIDLen = 26

// checkUploadID accepts only ids of the form CreateMultipartUpload makes, so an
// id can never name anything outside the staging directory.
func checkUploadID(id string) error {
	if len(id) != uploadIDLen {
		return tracking.Errorf(tracking.ErrInvalidParameterValue, "Invalid upload id %q", id)
	}
	for _, c := range []byte(id) {
		if (c < 'A' || c > 'Z') && (c < '2' || c > '7') {
			return tracking.Errorf(tracking.ErrInvalidParameterValue, "Invalid upload id %q", id)
		}
	}
	return nil
}

func uploadDir(id string) string { return path.Join(stagingDir, id) }

// partPrefix starts the file names of part n: "<n, 5 digits>.", followed by the
// part's ETag, so the ETag needs no file of its own.
func partPrefix(n int) string { return fmt.Sprintf("%05d.", n) }

// CreateMultipartUpload starts an upload to p; its parts are kept in a staging
// directory under the root until the upload is completed or aborted.
func (l *Local) CreateMultipartUpload(ctx context.Context, p string) (string, error) {
	root, clean, err := l.open(p)
	if err != nil {
		return "", err
	}
	defer root.Close()
	if clean == "" {
		return "", tracking.Errorf(tracking.ErrInvalidParameterValue, "Invalid path: a file needs a name")
	}
	id := rand.Text()
	dir := uploadDir(id)
	if err := root.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("artifacts: create multipart upload to %s: %w", clean, err)
	}
	if err := root.WriteFile(path.Join(dir, targetFile), []byte(clean), 0o644); err != nil {
		root.RemoveAll(dir)
		return "", fmt.Errorf("artifacts: create multipart upload to %s: %w", clean, err)
	}
	return id, nil
}

// PutPart streams part partNumber of the upload into the staging directory,
// through a temporary file, and returns its ETag: the quoted hex MD5 of the
// part, as S3 makes it.
func (l *Local) PutPart(ctx context.Context, uploadID string, partNumber int, r io.Reader) (string, error) {
	if err := checkUploadID(uploadID); err != nil {
		return "", err
	}
	if err := checkPartNumber(partNumber); err != nil {
		return "", err
	}
	root, err := os.OpenRoot(l.root)
	if err != nil {
		return "", fmt.Errorf("artifacts: open root %s: %w", l.root, err)
	}
	defer root.Close()
	dir := uploadDir(uploadID)
	if _, err := root.Stat(path.Join(dir, targetFile)); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", errNoUpload(uploadID)
		}
		return "", fmt.Errorf("artifacts: multipart upload %s: %w", uploadID, err)
	}
	tmp := path.Join(dir, tmpPrefix+rand.Text())
	f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return "", fmt.Errorf("artifacts: multipart upload %s part %d: %w", uploadID, partNumber, err)
	}
	sum := md5.New() // S3's ETag of a part; not a security measure
	_, err = io.Copy(io.MultiWriter(f, sum), ctxReader{ctx, r})
	err = errors.Join(err, f.Close())
	etag := hex.EncodeToString(sum.Sum(nil))
	name := path.Join(dir, partPrefix(partNumber)+etag)
	if err == nil {
		err = root.Rename(tmp, name)
	}
	if err != nil {
		root.Remove(tmp)
		if errors.Is(err, fs.ErrNotExist) {
			return "", errNoUpload(uploadID) // aborted while the part was coming in
		}
		return "", fmt.Errorf("artifacts: multipart upload %s part %d: %w", uploadID, partNumber, err)
	}
	// A part uploaded again replaces the earlier upload, whatever its content.
	entries, err := fs.ReadDir(root.FS(), dir)
	if err != nil {
		return "", fmt.Errorf("artifacts: multipart upload %s part %d: %w", uploadID, partNumber, err)
	}
	for _, e := range entries {
		if other := path.Join(dir, e.Name()); strings.HasPrefix(e.Name(), partPrefix(partNumber)) && other != name {
			root.Remove(other)
		}
	}
	return `"` + etag + `"`, nil
}

// stagedUpload opens the root and checks that uploadID exists and assembles into p.
func (l *Local) stagedUpload(p, uploadID string) (*os.Root, string, error) {
	if err := checkUploadID(uploadID); err != nil {
		return nil, "", err
	}
	root, clean, err := l.open(p)
	if err != nil {
		return nil, "", err
	}
	if clean == "" {
		root.Close()
		return nil, "", tracking.Errorf(tracking.ErrInvalidParameterValue, "Invalid path: a file needs a name")
	}
	target, err := root.ReadFile(path.Join(uploadDir(uploadID), targetFile))
	if err != nil {
		root.Close()
		if errors.Is(err, fs.ErrNotExist) {
			return nil, "", errNoUpload(uploadID)
		}
		return nil, "", fmt.Errorf("artifacts: multipart upload %s: %w", uploadID, err)
	}
	if string(target) != clean {
		root.Close()
		return nil, "", errWrongTarget(uploadID, string(target), clean)
	}
	return root, clean, nil
}

// CompleteMultipartUpload concatenates the listed parts, streaming them in
// order into a temporary file beside p, renames it into place and removes the
// upload's staging directory. Every part is checked against its ETag before
// anything is written.
func (l *Local) CompleteMultipartUpload(ctx context.Context, p, uploadID string, parts []Part) error {
	if err := checkParts(parts); err != nil {
		return err
	}
	root, clean, err := l.stagedUpload(p, uploadID)
	if err != nil {
		return err
	}
	defer root.Close()
	dir := uploadDir(uploadID)
	entries, err := fs.ReadDir(root.FS(), dir)
	if err != nil {
		return fmt.Errorf("artifacts: complete multipart upload %s: %w", uploadID, err)
	}
	stored := map[int]string{} // part number -> ETag
	for _, e := range entries {
		num, etag, ok := strings.Cut(e.Name(), ".")
		n, err := strconv.Atoi(num)
		if ok && err == nil && len(num) == 5 {
			stored[n] = etag
		}
	}
	files := make([]string, len(parts))
	for i, pt := range parts {
		etag, ok := stored[pt.PartNumber]
		if !ok {
			return tracking.Errorf(tracking.ErrInvalidParameterValue,
				"Cannot complete multipart upload %s: part %d was not uploaded", uploadID, pt.PartNumber)
		}
		if !sameETag(etag, pt.ETag) {
			return tracking.Errorf(tracking.ErrInvalidParameterValue,
				"Cannot complete multipart upload %s: the ETag %q given for part %d does not match the uploaded part's \"%s\"",
				uploadID, pt.ETag, pt.PartNumber, etag)
		}
		files[i] = path.Join(dir, partPrefix(pt.PartNumber)+etag)
	}

	if d := path.Dir(clean); d != "." {
		if err := root.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("artifacts: create directory %s: %w", d, err)
		}
	}
	tmp := path.Join(path.Dir(clean), tmpPrefix+rand.Text())
	out, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("artifacts: complete multipart upload to %s: %w", clean, err)
	}
	for _, name := range files {
		if err = appendFile(ctx, root, out, name); err != nil {
			break
		}
	}
	err = errors.Join(err, out.Close())
	if err == nil {
		err = root.Rename(tmp, clean)
	}
	if err != nil {
		root.Remove(tmp)
		return fmt.Errorf("artifacts: complete multipart upload to %s: %w", clean, err)
	}
	if err := root.RemoveAll(dir); err != nil {
		return fmt.Errorf("artifacts: completed %s but could not remove the parts of upload %s: %w", clean, uploadID, err)
	}
	return nil
}

// appendFile copies the file name under root to the end of out.
func appendFile(ctx context.Context, root *os.Root, out io.Writer, name string) error {
	f, err := root.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(out, ctxReader{ctx, f})
	return err
}

// AbortMultipartUpload removes the upload's staging directory and its parts.
func (l *Local) AbortMultipartUpload(ctx context.Context, p, uploadID string) error {
	root, _, err := l.stagedUpload(p, uploadID)
	if err != nil {
		return err
	}
	defer root.Close()
	if err := root.RemoveAll(uploadDir(uploadID)); err != nil {
		return fmt.Errorf("artifacts: abort multipart upload %s: %w", uploadID, err)
	}
	return nil
}

// PruneMultipartUploads removes the staged parts of uploads created before
// before: uploads that were neither completed nor aborted (a client that died
// mid-upload). It returns how many it removed.
func (l *Local) PruneMultipartUploads(ctx context.Context, before time.Time) (int, error) {
	root, err := os.OpenRoot(l.root)
	if err != nil {
		return 0, fmt.Errorf("artifacts: open root %s: %w", l.root, err)
	}
	defer root.Close()
	entries, err := fs.ReadDir(root.FS(), stagingDir)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("artifacts: list multipart uploads: %w", err)
	}
	n := 0
	for _, e := range entries {
		if ctx.Err() != nil {
			return n, ctx.Err()
		}
		if checkUploadID(e.Name()) != nil {
			continue
		}
		dir := uploadDir(e.Name())
		fi, err := root.Stat(path.Join(dir, targetFile))
		if err != nil || !fi.ModTime().Before(before) {
			continue // being created or aborted right now, or still young
		}
		if err := root.RemoveAll(dir); err != nil {
			return n, fmt.Errorf("artifacts: prune multipart upload %s: %w", e.Name(), err)
		}
		n++
	}
	return n, nil
}
