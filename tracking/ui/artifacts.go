package ui

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strings"
	"unicode/utf8"

	"github.com/mlops-lab/housing/tracking"
)

type artifactsView struct {
	Error     string
	Tree      []*artifactNode
	Truncated bool // the tree was cut at maxTreeEntries
	Selected  *artifactPreview
}

// artifactNode is one file or directory of a run's artifact tree.
type artifactNode struct {
	Name        string
	Path        string
	IsDir       bool
	Size        int64
	ViewURL     string // the run page with this artifact selected
	DownloadURL string
	Open        bool // a directory on the way to the selected artifact
	Selected    bool
	Children    []*artifactNode
}

type artifactPreview struct {
	Path        string
	Kind        string // "image", "text" or "binary"
	Size        int64  // from the listing; -1 when the file is not in the listed tree
	Text        string
	Truncated   bool // Text is the first maxInlineBytes of the file
	Limit       int64
	RawURL      string
	DownloadURL string
	Error       string
}

// imageTypes are the only artifacts served inline as what they are. SVG is
// among them (matplotlib's plots often are SVG) though it can carry script: the
// page shows it in an <img>, where no script runs, and the artifact route
// serves it sandboxed without scripts, so that opened on its own it runs none
// either.
var imageTypes = map[string]string{
	".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif", ".webp": "image/webp",
	".svg": "image/svg+xml",
}

// textExts and textNames are artifacts shown as text (served as text/plain).
var textExts = map[string]bool{
	".txt": true, ".json": true, ".yaml": true, ".yml": true, ".md": true, ".csv": true, ".tsv": true,
	".log": true, ".py": true, ".toml": true, ".ini": true, ".cfg": true, ".xml": true, ".html": true,
	".htm": true, ".sh": true, ".go": true, ".jsonl": true, ".r": true, ".sql": true,
}

var textNames = map[string]bool{"MLmodel": true, "LICENSE": true, "README": true, "Dockerfile": true, "Makefile": true}

// binaryExts are never read for a preview; any other file of unknown type is
// read and shown as text when it is text (UTF-8 without NUL bytes).
var binaryExts = map[string]bool{
	".bin": true, ".onnx": true, ".pkl": true, ".pickle": true, ".joblib": true, ".pt": true, ".pth": true,
	".h5": true, ".npy": true, ".npz": true, ".parquet": true, ".zip": true, ".gz": true, ".tgz": true,
	".tar": true, ".whl": true, ".so": true, ".ubj": true, ".cbm": true, ".safetensors": true,
}

func artifactKind(p string) string {
	base := path.Base(p)
	ext := strings.ToLower(path.Ext(base))
	switch {
	case imageTypes[ext] != "":
		return "image"
	case textExts[ext] || textNames[base]:
		return "text"
	}
	return "binary"
}

// artifactOwner is what an artifact tree belongs to: a run or a logged model,
// named in the artifact route's query by Param ("run" or "model").
type artifactOwner struct {
	Param   string
	ID      string
	URI     string // the root of its artifacts
	PageURL string // the page showing the tree
	Noun    string // for messages: "run", "model"
}

func runOwner(run *tracking.Run) artifactOwner {
	return artifactOwner{Param: "run", ID: run.Info.RunID, URI: run.Info.ArtifactURI, PageURL: runURL(run.Info.RunID), Noun: "run"}
}

func modelOwner(m *tracking.LoggedModel) artifactOwner {
	return artifactOwner{Param: "model", ID: m.ModelID, URI: m.ArtifactLocation, PageURL: loggedModelURL(m.ModelID), Noun: "model"}
}

func (o artifactOwner) artifactURL(p string, download bool) string {
	v := url.Values{o.Param: {o.ID}, "path": {p}}
	if download {
		v.Set("download", "1")
	}
	return "/ui/artifact?" + v.Encode()
}

// artifactsView lists the owner's artifact tree and previews the artifact named by
// the "artifact" query parameter.
func (u *UI) artifactsView(r *http.Request, o artifactOwner) artifactsView {
	ctx := r.Context()
	var v artifactsView
	if u.artifacts == nil {
		v.Error = "This server does not show artifacts."
		return v
	}
	repo, err := u.artifacts(ctx, o.URI)
	if err != nil {
		u.log.WarnContext(ctx, "ui: open artifact repository", o.Param, o.ID, "uri", o.URI, "err", err)
		v.Error = "The artifact store of this " + o.Noun + " could not be opened."
		return v
	}
	selected := r.URL.Query().Get("artifact")
	budget := maxTreeEntries
	v.Tree, err = u.listTree(ctx, repo, o, "", selected, &budget)
	if err != nil {
		u.log.WarnContext(ctx, "ui: list artifacts", o.Param, o.ID, "uri", o.URI, "err", err)
		v.Error = "The artifacts of this " + o.Noun + " could not be listed: " + tracking.ErrorMessage(err)
	}
	v.Truncated = budget < 0
	if selected != "" {
		v.Selected = u.preview(ctx, repo, o, selected)
		v.Selected.Size = sizeOf(v.Tree, selected)
	}
	return v
}

// listTree lists dir and its subdirectories, depth first, while budget lasts.
func (u *UI) listTree(ctx context.Context, repo tracking.ArtifactRepository, o artifactOwner, dir, selected string, budget *int) ([]*artifactNode, error) {
	files, err := repo.List(ctx, dir)
	if err != nil {
		return nil, err
	}
	var nodes []*artifactNode
	for _, f := range files {
		if *budget--; *budget < 0 {
			break
		}
		n := &artifactNode{
			Name: path.Base(f.Path), Path: f.Path, IsDir: f.IsDir, Size: f.FileSize,
			ViewURL:  o.PageURL + "?" + url.Values{"artifact": {f.Path}}.Encode() + "#artifacts",
			Selected: f.Path == selected,
		}
		if f.IsDir {
			n.Open = dir == "" || strings.HasPrefix(selected, f.Path+"/") // top-level directories start open
			if n.Children, err = u.listTree(ctx, repo, o, f.Path, selected, budget); err != nil {
				return nodes, err
			}
		} else {
			n.DownloadURL = o.artifactURL(f.Path, true)
		}
		nodes = append(nodes, n)
	}
	return nodes, nil
}

// preview reads the artifact at p for showing on the owner's page: images by URL,
// text inline up to maxInlineBytes (JSON indented), anything else as a download.
func (u *UI) preview(ctx context.Context, repo tracking.ArtifactRepository, o artifactOwner, p string) *artifactPreview {
	pv := &artifactPreview{Path: p, Kind: artifactKind(p), Limit: maxInlineBytes, RawURL: o.artifactURL(p, false), DownloadURL: o.artifactURL(p, true)}
	if pv.Kind == "image" || pv.Kind == "binary" && binaryExts[strings.ToLower(path.Ext(p))] {
		return pv
	}
	rc, err := repo.Get(ctx, p)
	if err != nil {
		pv.Error = tracking.ErrorMessage(err)
		return pv
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxInlineBytes+1))
	if err != nil {
		pv.Error = "Reading the artifact failed: " + err.Error()
		return pv
	}
	if len(b) > maxInlineBytes {
		b, pv.Truncated = b[:maxInlineBytes], true
	}
	if !isText(b, pv.Truncated) {
		pv.Kind = "binary"
		return pv
	}
	pv.Kind = "text"
	if strings.EqualFold(path.Ext(p), ".json") && !pv.Truncated {
		var out bytes.Buffer
		if json.Indent(&out, b, "", "  ") == nil {
			b = out.Bytes()
		}
	}
	pv.Text = strings.ToValidUTF8(string(b), "\uFFFD")
	return pv
}

// isText tells whether b, the start of a file when truncated, is text: UTF-8
// (but for a rune the cut split) without NUL bytes.
func isText(b []byte, truncated bool) bool {
	if bytes.IndexByte(b, 0) >= 0 {
		return false
	}
	if truncated {
		// Drop a last rune the cut left incomplete (at most UTFMax-1 bytes).
		for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax+1; i-- {
			if utf8.RuneStart(b[i]) {
				if !utf8.FullRune(b[i:]) {
					b = b[:i]
				}
				break
			}
		}
	}
	return utf8.Valid(b)
}

// sizeOf is the size of the file at p in the listed tree, or -1.
func sizeOf(nodes []*artifactNode, p string) int64 {
	for _, n := range nodes {
		switch {
		case n.Path == p && !n.IsDir:
			return n.Size
		case n.IsDir && strings.HasPrefix(p, n.Path+"/"):
			return sizeOf(n.Children, p)
		}
	}
	return -1
}

// handleArtifact serves one artifact file of a run or a logged model: raster images inline, text as
// text/plain, and everything else (or anything with download=1) as an attachment.
// Nothing is ever served as HTML, and the response is sandboxed without scripts
// (an SVG opened on its own runs none).
func (u *UI) handleArtifact(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	runID, modelID, p := q.Get("run"), q.Get("model"), q.Get("path")
	if runID == "" && modelID == "" || p == "" {
		u.renderError(w, r, tracking.Errorf(tracking.ErrInvalidParameterValue, "An artifact needs both run (or model) and path"))
		return
	}
	if u.artifacts == nil {
		u.renderError(w, r, tracking.Errorf(tracking.ErrNotImplemented, "This server does not serve artifacts"))
		return
	}
	var o artifactOwner
	if runID != "" {
		run, err := u.store.GetRun(ctx, runID)
		if err != nil {
			u.renderError(w, r, err)
			return
		}
		o = runOwner(run)
	} else {
		m, _, err := u.readLoggedModel(ctx, modelID)
		if err != nil {
			u.renderError(w, r, err)
			return
		}
		o = modelOwner(m)
	}
	repo, err := u.artifacts(ctx, o.URI)
	if err != nil {
		u.renderError(w, r, tracking.Errorf(tracking.ErrInternal, "open artifact repository %s of %s %s: %w", o.URI, o.Noun, o.ID, err))
		return
	}
	rc, err := repo.Get(ctx, p)
	if err != nil {
		u.renderError(w, r, err)
		return
	}
	defer rc.Close()

	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; img-src 'self'; sandbox")
	h.Set("Cache-Control", "no-store")
	download := q.Get("download") == "1"
	switch kind := artifactKind(p); {
	case !download && kind == "image":
		h.Set("Content-Type", imageTypes[strings.ToLower(path.Ext(p))])
	case !download && kind == "text":
		h.Set("Content-Type", "text/plain; charset=utf-8")
	default:
		h.Set("Content-Type", "application/octet-stream")
		h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": path.Base(p)}))
	}
	if _, err := io.Copy(w, rc); err != nil {
		u.log.WarnContext(ctx, "ui: send artifact", o.Param, o.ID, "path", p, "err", err)
	}
}
