package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"os"
	"path"
	"strings"
	"syscall"
	"time"

	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/artifacts"
	"github.com/mlops-lab/housing/tracking/wire"
)

// artifactRoots finds the repository that holds an artifact URI.
type artifactRoots struct {
	proxied tracking.ArtifactRepository // --artifacts-destination; nil when not serving artifacts
	open    func(ctx context.Context, uri string) (tracking.ArtifactRepository, error)
}

// resolve returns the repository holding uri and the path of uri's root in it.
// mlflow-artifacts:/<path> (with or without a host) is <path> in the proxied
// repository; other URIs are opened with Options.OpenArtifactRepository.
func (a artifactRoots) resolve(ctx context.Context, uri string) (tracking.ArtifactRepository, string, error) {
	if rest, ok := strings.CutPrefix(uri, "mlflow-artifacts:"); ok {
		if a.proxied == nil {
			return nil, "", errNotServingArtifacts()
		}
		if host, ok := strings.CutPrefix(rest, "//"); ok {
			_, rest, _ = strings.Cut(host, "/")
		}
		root, err := cleanPath(rest, true)
		if err != nil {
			return nil, "", err
		}
		return a.proxied, root, nil
	}
	if a.open == nil {
		return nil, "", tracking.Errorf(tracking.ErrNotImplemented,
			"This server cannot read artifacts at %s: it serves only mlflow-artifacts:/ URIs", uri)
	}
	repo, err := a.open(ctx, uri)
	if err != nil {
		return nil, "", err
	}
	return repo, "", nil
}

func errNotServingArtifacts() error {
	return tracking.Errorf(tracking.ErrTemporarilyUnavailable,
		"This endpoint is disabled because the server runs with --no-serve-artifacts. To enable artifacts server functionality, run the server with --serve-artifacts")
}

// cleanPath checks an artifact path with artifacts.CleanPath (".." segments,
// absolute paths, drive letters, backslashes and NUL bytes, also behind
// percent-encoding, are MLflow's 400 "Invalid path"); allowAbsolute admits the
// leading slash of a URI's path.
func cleanPath(p string, allowAbsolute bool) (string, error) {
	if allowAbsolute {
		p = strings.TrimLeft(p, "/")
	}
	return artifacts.CleanPath(p)
}

// artifactPathError turns the file system's refusals of a path that the
// repository's layout makes impossible (a file where a directory is needed, a
// directory where a file is, a name too long) into INVALID_PARAMETER_VALUE
// naming the path: they are the caller's mistake, not the server's. A store
// that cannot be reached (S3 down) is TEMPORARILY_UNAVAILABLE, so that clients
// know to try again; the cause stays in the log. Other errors pass unchanged.
func artifactPathError(p string, err error) error {
	var reason string
	var opErr *net.OpError
	var dnsErr *net.DNSError
	switch {
	case tracking.ErrorCodeOf(err) != tracking.ErrInternal:
		return err
	case errors.As(err, &opErr), errors.As(err, &dnsErr):
		return &tracking.Error{Code: tracking.ErrTemporarilyUnavailable,
			Message: fmt.Sprintf("The artifact store could not be reached to access '%s'; try again later.", p), Err: err}
	case errors.Is(err, syscall.ENOTDIR):
		reason = "a part of it is a file, not a directory"
	case errors.Is(err, syscall.EISDIR), errors.Is(err, syscall.EEXIST), errors.Is(err, syscall.ENOTEMPTY):
		reason = "it is a directory"
	case errors.Is(err, syscall.ENAMETOOLONG):
		reason = "a name in it is too long"
	default:
		return err
	}
	return tracking.Errorf(tracking.ErrInvalidParameterValue, "Invalid path '%s': %s", p, reason)
}

// joinPath joins relative slash-separated paths, skipping empty ones.
func joinPath(elems ...string) string {
	var parts []string
	for _, e := range elems {
		if e != "" {
			parts = append(parts, e)
		}
	}
	return strings.Join(parts, "/")
}

// relativeTo returns the entries of a listing of dir with paths relative to base
// (a prefix of dir).
func relativeTo(files []tracking.FileInfo, base string) []tracking.FileInfo {
	if base == "" {
		return files
	}
	out := make([]tracking.FileInfo, len(files))
	for i, f := range files {
		f.Path = strings.TrimPrefix(f.Path, base+"/")
		out[i] = f
	}
	return out
}

func handleListArtifacts(store tracking.RunStore, roots artifactRoots) endpoint {
	return func(w http.ResponseWriter, r *http.Request) error {
		var req wire.ListArtifactsRequest
		if _, err := decode(r, &req); err != nil {
			return err
		}
		id, err := runID(req.RunID, req.RunUUID)
		if err != nil {
			return err
		}
		rootURI, files, err := listRunArtifacts(r.Context(), store, roots, id, req.Path)
		if err != nil {
			return err
		}
		return encode(w, wire.ListArtifactsResponse{RootURI: rootURI, Files: wire.FileInfosFromDomain(files)})
	}
}

// listRunArtifacts lists the directory rel of a run's artifacts, wherever its
// artifact URI points (artifactRoots), with paths relative to the run's root;
// it returns that URI too. artifacts/list and GraphQL's mlflowListArtifacts
// answer with it.
func listRunArtifacts(ctx context.Context, store tracking.RunStore, roots artifactRoots, runID, rel string) (string, []tracking.FileInfo, error) {
	rel, err := cleanPath(rel, false)
	if err != nil {
		return "", nil, err
	}
	run, err := store.GetRun(ctx, runID)
	if err != nil {
		return "", nil, err
	}
	repo, root, err := roots.resolve(ctx, run.Info.ArtifactURI)
	if err != nil {
		return "", nil, err
	}
	files, err := repo.List(ctx, joinPath(root, rel))
	if err != nil {
		return "", nil, artifactPathError(rel, err)
	}
	return run.Info.ArtifactURI, relativeTo(files, root), nil
}

func handleListProxiedArtifacts(repo tracking.ArtifactRepository) endpoint {
	return func(w http.ResponseWriter, r *http.Request) error {
		if repo == nil {
			return errNotServingArtifacts()
		}
		dir, err := cleanPath(r.URL.Query().Get("path"), false)
		if err != nil {
			return err
		}
		files, err := repo.List(r.Context(), dir)
		if err != nil {
			return artifactPathError(dir, err)
		}
		return encode(w, wire.ListProxiedArtifactsResponse{Files: wire.FileInfosFromDomain(relativeTo(files, dir))})
	}
}

func handleDownloadProxiedArtifact(repo tracking.ArtifactRepository) endpoint {
	return func(w http.ResponseWriter, r *http.Request) error {
		if repo == nil {
			return errNotServingArtifacts()
		}
		p, err := cleanPath(r.PathValue("path"), false)
		if err != nil {
			return err
		}
		if p == "" {
			return missingParam("path")
		}
		return sendArtifact(w, r, repo, p)
	}
}

func handleUploadProxiedArtifact(repo tracking.ArtifactRepository) endpoint {
	return func(w http.ResponseWriter, r *http.Request) error {
		if repo == nil {
			return errNotServingArtifacts()
		}
		p, err := cleanPath(r.PathValue("path"), false)
		if err != nil {
			return err
		}
		size := r.ContentLength
		if size < 0 {
			size = -1
		}
		if err := repo.Put(r.Context(), p, r.Body, size); err != nil {
			return artifactPathError(p, err)
		}
		return encode(w, wire.Empty{})
	}
}

func handleDeleteProxiedArtifact(repo tracking.ArtifactRepository) endpoint {
	return func(w http.ResponseWriter, r *http.Request) error {
		if repo == nil {
			return errNotServingArtifacts()
		}
		p, err := cleanPath(r.PathValue("path"), false)
		if err != nil {
			return err
		}
		if err := repo.Delete(r.Context(), p); err != nil {
			return artifactPathError(p, err)
		}
		return encode(w, wire.Empty{})
	}
}

func handleGetRunArtifact(store tracking.RunStore, roots artifactRoots) endpoint {
	return func(w http.ResponseWriter, r *http.Request) error {
		q := r.URL.Query()
		id, err := runID(q.Get("run_id"), q.Get("run_uuid"))
		if err != nil {
			return err
		}
		p, err := cleanPath(q.Get("path"), false)
		if err != nil {
			return err
		}
		if p == "" {
			return missingParam("path")
		}
		run, err := store.GetRun(r.Context(), id)
		if err != nil {
			return err
		}
		repo, root, err := roots.resolve(r.Context(), run.Info.ArtifactURI)
		if err != nil {
			return err
		}
		return sendArtifact(w, r, repo, joinPath(root, p))
	}
}

func handleGetModelVersionArtifact(store tracking.Store, roots artifactRoots) endpoint {
	return func(w http.ResponseWriter, r *http.Request) error {
		q := r.URL.Query()
		for _, name := range []string{"name", "version", "path"} {
			if q.Get(name) == "" {
				return missingParam(name)
			}
		}
		p, err := cleanPath(q.Get("path"), false)
		if err != nil {
			return err
		}
		uri, err := modelVersionArtifactURI(r, store, q.Get("name"), q.Get("version"))
		if err != nil {
			return err
		}
		repo, root, err := roots.resolve(r.Context(), uri)
		if err != nil {
			return err
		}
		return sendArtifact(w, r, repo, joinPath(root, p))
	}
}

// sendArtifact streams one file as an attachment, with MLflow's content type
// guess. Files on local disk go through http.ServeContent (Content-Length,
// Last-Modified, ranges); others are streamed as they come.
func sendArtifact(w http.ResponseWriter, r *http.Request, repo tracking.ArtifactRepository, p string) error {
	rc, err := repo.Get(r.Context(), p)
	if err != nil {
		return artifactPathError(p, err)
	}
	defer rc.Close()
	name := path.Base(p)
	h := w.Header()
	h.Set("Content-Type", guessMIMEType(name))
	h.Set("Content-Disposition", "attachment; filename="+name)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-cache")
	if f, ok := rc.(*os.File); ok {
		if fi, err := f.Stat(); err == nil {
			http.ServeContent(w, r, name, fi.ModTime(), f)
			return nil
		}
	}
	w.WriteHeader(http.StatusOK)
	_, _ = io.Copy(w, rc) // headers are out: a failure now can only cut the body short
	return nil
}

// textExtensions are the extensions MLflow serves as text/plain
// (mlflow/server/handlers.py, TEXT_EXTENSIONS).
var textExtensions = map[string]bool{
	"txt": true, "log": true, "err": true, "cfg": true, "conf": true, "cnf": true, "cf": true,
	"ini": true, "properties": true, "prop": true, "hocon": true, "toml": true, "yaml": true,
	"yml": true, "xml": true, "json": true, "js": true, "py": true, "py3": true, "csv": true,
	"tsv": true, "md": true, "rst": true, "MLmodel": true, "MLproject": true,
}

// guessMIMEType follows MLflow's _guess_mime_type: text extensions (and the
// extension-less MLmodel and MLproject) are text/plain, then the usual table,
// then application/octet-stream.
func guessMIMEType(name string) string {
	ext := strings.TrimPrefix(path.Ext(name), ".")
	if ext == "" {
		ext = name
	}
	if textExtensions[ext] {
		return "text/plain"
	}
	if t := mimeByExtension(path.Ext(name)); t != "" {
		return t
	}
	return "application/octet-stream"
}

// healthTimeout bounds the store check behind /health.
const healthTimeout = 5 * time.Second

func handleHealth(logger *slog.Logger, store tracking.Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), healthTimeout)
		defer cancel()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if err := store.Ping(ctx); err != nil {
			logger.ErrorContext(r.Context(), "health check: store unreachable", "err", err)
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, "Store unavailable")
			return
		}
		_, _ = io.WriteString(w, "OK")
	})
}

func handleVersion() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, wire.MLflowVersion)
	})
}

func mimeByExtension(ext string) string {
	if ext == "" {
		return ""
	}
	t := mime.TypeByExtension(ext)
	if i := strings.IndexByte(t, ';'); i >= 0 {
		t = t[:i] // Python's mimetypes gives no charset parameter
	}
	return t
}
