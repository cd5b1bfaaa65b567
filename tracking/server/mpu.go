package server

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/artifacts"
	"github.com/mlops-lab/housing/tracking/wire"
)

// PathMultipartPart is where clients PUT the parts of a multipart upload when
// the artifacts destination is local: the URLs handed out by mpu/create point
// here, each signed for one upload and part.
const PathMultipartPart = wire.APIPrefix + "/mlflow-artifacts/mpu/part"

// DefaultMultipartURLExpiry is how long part URLs stay valid unless configured:
// an hour, as the presigned URLs of MLflow's S3 repository.
const DefaultMultipartURLExpiry = time.Hour

// MultipartOptions configures multipart uploads through the artifact proxy
// (mlflow-artifacts/mpu/...).
type MultipartOptions struct {
	// SigningKey signs the part URLs handed out for a local artifacts
	// destination. nil means a random key made by New: URLs then stop working
	// when the server restarts, and replicas behind one address need a shared key.
	SigningKey []byte
	// URLExpiry is how long part URLs (signed or S3-presigned) stay valid; 0
	// means DefaultMultipartURLExpiry.
	URLExpiry time.Duration
	// Now is the clock part URLs expire by; nil means time.Now.
	Now func() time.Time
}

// multipart serves the multipart upload endpoints over the proxied repository.
type multipart struct {
	repo   tracking.ArtifactRepository // nil when not serving artifacts
	logger *slog.Logger
	key    []byte
	expiry time.Duration
	now    func() time.Time
}

func newMultipart(repo tracking.ArtifactRepository, logger *slog.Logger, opts MultipartOptions) *multipart {
	m := &multipart{repo: repo, logger: logger, key: opts.SigningKey, expiry: opts.URLExpiry, now: opts.Now}
	if m.expiry <= 0 {
		m.expiry = DefaultMultipartURLExpiry
	}
	if m.now == nil {
		m.now = time.Now
	}
	if len(m.key) == 0 {
		m.key = make([]byte, 32)
		rand.Read(m.key) // never fails (crypto/rand since Go 1.24)
	}
	return m
}

// errMultipartUnsupported is MLflow's answer for repositories without multipart
// support; its client falls back to a single PUT on exactly this message.
func errMultipartUnsupported() error {
	return tracking.Errorf(tracking.ErrNotImplemented, "Multipart upload is not supported for the current artifact repository")
}

// multipartTarget returns the destination of a multipart request: the route's path (a
// directory) joined with the base name of the request's "path" field, which
// MLflow's client fills with the local file's path.
func multipartTarget(r *http.Request, localPath string) (string, error) {
	dir, err := cleanPath(r.PathValue("path"), false)
	if err != nil {
		return "", err
	}
	name := localPath
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:] // a Windows client sends C:\dir\file
	}
	if name == "" || name == "." || name == ".." || strings.ContainsRune(name, 0) {
		return "", tracking.Errorf(tracking.ErrInvalidParameterValue, "Invalid path: %q names no file", localPath)
	}
	return joinPath(dir, name), nil
}

func (m *multipart) handleCreate() endpoint {
	return func(w http.ResponseWriter, r *http.Request) error {
		if m.repo == nil {
			return errNotServingArtifacts()
		}
		var req wire.CreateMultipartUploadRequest
		if _, err := decode(r, &req, "path"); err != nil {
			return err
		}
		if _, ok := m.repo.(artifacts.MultipartFinisher); !ok {
			return errMultipartUnsupported() // before the checks MLflow does not make
		}
		dest, err := multipartTarget(r, req.Path)
		if err != nil {
			return err
		}
		n := req.NumParts
		if n < 1 || n > artifacts.MaxParts {
			return tracking.Errorf(tracking.ErrInvalidParameterValue, "Invalid value %d for parameter 'num_parts': must be between 1 and %d", n, artifacts.MaxParts)
		}
		var resp wire.CreateMultipartUploadResponse
		switch repo := m.repo.(type) {
		case artifacts.PresignedMultipart:
			id, urls, err := repo.CreatePresignedMultipartUpload(r.Context(), dest, int(n), m.expiry)
			if err != nil {
				return artifactPathError(dest, err)
			}
			resp.UploadID = id
			for i, u := range urls {
				resp.Credentials = append(resp.Credentials, wire.MultipartUploadCredential{URL: u, PartNumber: int64(i + 1)})
			}
		case artifacts.StagedMultipart:
			m.prune(r)
			id, err := repo.CreateMultipartUpload(r.Context(), dest)
			if err != nil {
				return artifactPathError(dest, err)
			}
			resp.UploadID = id
			base := requestBase(r)
			expires := m.now().Add(m.expiry).Unix()
			for i := 1; i <= int(n); i++ {
				resp.Credentials = append(resp.Credentials, wire.MultipartUploadCredential{
					URL: base + PathMultipartPart + "?" + m.partQuery(id, i, expires).Encode(), PartNumber: int64(i),
				})
			}
		default:
			return errMultipartUnsupported()
		}
		return encode(w, resp)
	}
}

func (m *multipart) handleComplete() endpoint {
	return func(w http.ResponseWriter, r *http.Request) error {
		if m.repo == nil {
			return errNotServingArtifacts()
		}
		var req wire.CompleteMultipartUploadRequest
		if _, err := decode(r, &req, "path", "upload_id", "parts"); err != nil {
			return err
		}
		dest, err := multipartTarget(r, req.Path)
		if err != nil {
			return err
		}
		repo, ok := m.repo.(artifacts.MultipartFinisher)
		if !ok {
			return errMultipartUnsupported()
		}
		parts := make([]artifacts.Part, len(req.Parts))
		for i, p := range req.Parts {
			parts[i] = artifacts.Part{PartNumber: int(p.PartNumber), ETag: p.ETag}
		}
		if err := repo.CompleteMultipartUpload(r.Context(), dest, req.UploadID, parts); err != nil {
			return artifactPathError(dest, err)
		}
		return encode(w, wire.Empty{})
	}
}

func (m *multipart) handleAbort() endpoint {
	return func(w http.ResponseWriter, r *http.Request) error {
		if m.repo == nil {
			return errNotServingArtifacts()
		}
		var req wire.AbortMultipartUploadRequest
		if _, err := decode(r, &req, "path", "upload_id"); err != nil {
			return err
		}
		dest, err := multipartTarget(r, req.Path)
		if err != nil {
			return err
		}
		repo, ok := m.repo.(artifacts.MultipartFinisher)
		if !ok {
			return errMultipartUnsupported()
		}
		if err := repo.AbortMultipartUpload(r.Context(), dest, req.UploadID); err != nil {
			return artifactPathError(dest, err)
		}
		return encode(w, wire.Empty{})
	}
}

// handlePart takes one part of an upload to a local destination. The URL's
// signature is the authorization: only URLs this server handed out, unexpired
// and unchanged, are accepted. The answer carries the part's ETag, as S3's does.
func (m *multipart) handlePart() endpoint {
	return func(w http.ResponseWriter, r *http.Request) error {
		repo, ok := m.repo.(artifacts.StagedMultipart)
		if !ok {
			if m.repo == nil {
				return errNotServingArtifacts()
			}
			return errMultipartUnsupported()
		}
		id, part, err := m.verifyPart(r.URL.Query())
		if err != nil {
			return err
		}
		etag, err := repo.PutPart(r.Context(), id, part, r.Body)
		if err != nil {
			return err
		}
		w.Header().Set("ETag", etag)
		return encode(w, wire.Empty{})
	}
}

// pruneAfter is how many URL lifetimes a staged upload is kept: its URLs have
// expired after one, and a client completes right after its last part.
const pruneAfter = 2

// prune removes the staged parts of uploads abandoned long ago, when the
// repository can. A failure costs only disk space: it is logged, not answered.
func (m *multipart) prune(r *http.Request) {
	p, ok := m.repo.(interface {
		PruneMultipartUploads(ctx context.Context, before time.Time) (int, error)
	})
	if !ok {
		return
	}
	if n, err := p.PruneMultipartUploads(r.Context(), m.now().Add(-pruneAfter*m.expiry)); err != nil {
		m.logger.WarnContext(r.Context(), "pruning abandoned multipart uploads", "err", err)
	} else if n > 0 {
		m.logger.InfoContext(r.Context(), "pruned abandoned multipart uploads", "count", n)
	}
}

// partQuery is the signed query of one part's URL.
func (m *multipart) partQuery(uploadID string, part int, expires int64) url.Values {
	return url.Values{
		"upload_id":   {uploadID},
		"part_number": {strconv.Itoa(part)},
		"expires":     {strconv.FormatInt(expires, 10)},
		"signature":   {base64.RawURLEncoding.EncodeToString(m.sign(uploadID, strconv.Itoa(part), strconv.FormatInt(expires, 10)))},
	}
}

// sign is the HMAC of one part's URL: the upload, the part and the expiry, as
// they appear in its query.
func (m *multipart) sign(uploadID, part, expires string) []byte {
	mac := hmac.New(sha256.New, m.key)
	fmt.Fprintf(mac, "mpu-part\n%s\n%s\n%s", uploadID, part, expires)
	return mac.Sum(nil)
}

// verifyPart checks a part URL's signature and expiry and returns its upload
// id and part number.
func (m *multipart) verifyPart(q url.Values) (string, int, error) {
	id, part, expires := q.Get("upload_id"), q.Get("part_number"), q.Get("expires")
	sig, err := base64.RawURLEncoding.DecodeString(q.Get("signature"))
	if err != nil || !hmac.Equal(sig, m.sign(id, part, expires)) {
		return "", 0, tracking.Errorf(tracking.ErrPermissionDenied, "Invalid part URL: its signature does not match; use the URLs that mpu/create answered")
	}
	exp, err := strconv.ParseInt(expires, 10, 64)
	if err != nil {
		return "", 0, tracking.Errorf(tracking.ErrPermissionDenied, "Invalid part URL: bad expiry %q", expires)
	}
	if now := m.now(); now.Unix() > exp {
		return "", 0, tracking.Errorf(tracking.ErrPermissionDenied, "Part URL expired at %s; start a new multipart upload",
			time.Unix(exp, 0).UTC().Format(time.RFC3339))
	}
	n, err := strconv.Atoi(part)
	if err != nil {
		return "", 0, tracking.Errorf(tracking.ErrInvalidParameterValue, "Invalid part number %q", part)
	}
	return id, n, nil
}

// requestBase is scheme://host of the server as the client reached it, so that
// part URLs work through the same address (a reverse proxy's, when it sets
// X-Forwarded-Proto and keeps Host).
func requestBase(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p := r.Header.Get("X-Forwarded-Proto"); p == "https" || p == "http" {
		scheme = p
	}
	return scheme + "://" + r.Host
}
