// Package image builds the project's container image — every step binary and the
// tracking server, static, on an empty base with CA certificates and a non-root
// user — without a Docker daemon or a registry, with go-containerregistry. The
// Dockerfile builds the same image for people who have Docker.
package image

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Binaries are the programs the image holds, each at /usr/local/bin/<name>.
var Binaries = []string{"ingest", "train", "compare", "register", "predict", "tracking-server", "pipeline"}

// NonRootUID is the user the image runs as (distroless's "nonroot").
const NonRootUID = 65532

// Options says what goes into the image.
type Options struct {
	BinDir      string // where the static binaries are
	CACerts     string // a PEM bundle; default /etc/ssl/certs/ca-certificates.crt
	Created     time.Time
	Source      string // org.opencontainers.image.source
	Version     string // org.opencontainers.image.version
	Platform    v1.Platform
	ExtraLabels map[string]string
}

// Build returns the image. Files get fixed timestamps (Created), so the same
// binaries give the same image digest.
func Build(opt Options) (v1.Image, error) {
	if opt.CACerts == "" {
		opt.CACerts = "/etc/ssl/certs/ca-certificates.crt"
	}
	if opt.Platform.OS == "" {
		opt.Platform = v1.Platform{OS: "linux", Architecture: "amd64"}
	}
	certs, err := os.ReadFile(opt.CACerts)
	if err != nil {
		return nil, fmt.Errorf("read CA certificates: %w", err)
	}
	base := []file{
		{name: "etc/", mode: 0o755, dir: true},
		{name: "etc/passwd", mode: 0o644, data: []byte(fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:%d:%d:nonroot:/home/nonroot:/sbin/nologin\n", NonRootUID, NonRootUID))},
		{name: "etc/group", mode: 0o644, data: []byte(fmt.Sprintf("root:x:0:\nnonroot:x:%d:\n", NonRootUID))},
		{name: "etc/ssl/", mode: 0o755, dir: true},
		{name: "etc/ssl/certs/", mode: 0o755, dir: true},
		{name: "etc/ssl/certs/ca-certificates.crt", mode: 0o644, data: certs},
		{name: "home/", mode: 0o755, dir: true},
		{name: "home/nonroot/", mode: 0o700, dir: true, uid: NonRootUID},
		{name: "tmp/", mode: 0o1777, dir: true},
		{name: "data/", mode: 0o755, dir: true, uid: NonRootUID},
	}
	bins := []file{{name: "usr/", mode: 0o755, dir: true}, {name: "usr/local/", mode: 0o755, dir: true}, {name: "usr/local/bin/", mode: 0o755, dir: true}}
	for _, b := range Binaries {
		data, err := os.ReadFile(filepath.Join(opt.BinDir, b))
		if err != nil {
			return nil, fmt.Errorf("binary %s: %w (run make build first)", b, err)
		}
		bins = append(bins, file{name: "usr/local/bin/" + b, mode: 0o755, data: data})
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	for _, files := range [][]file{base, bins} {
		layer, err := tarLayer(files, opt.Created)
		if err != nil {
			return nil, err
		}
		if img, err = mutate.AppendLayers(img, layer); err != nil {
			return nil, err
		}
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = opt.Platform.OS, opt.Platform.Architecture
	cfg.Created = v1.Time{Time: opt.Created}
	cfg.Config.User = fmt.Sprintf("%d:%d", NonRootUID, NonRootUID)
	cfg.Config.WorkingDir = "/data"
	cfg.Config.Env = []string{"PATH=/usr/local/bin", "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt", "HOME=/home/nonroot"}
	cfg.Config.Entrypoint = []string{"/usr/local/bin/tracking-server"}
	cfg.Config.Cmd = []string{"--host", "0.0.0.0", "--port", "5000"}
	cfg.Config.ExposedPorts = map[string]struct{}{"5000/tcp": {}}
	cfg.Config.Labels = map[string]string{
		"org.opencontainers.image.title":       "housing",
		"org.opencontainers.image.description": "California housing MLflow lab: Kubeflow step binaries and an MLflow-compatible tracking server",
		"org.opencontainers.image.licenses":    "Apache-2.0",
	}
	if opt.Source != "" {
		cfg.Config.Labels["org.opencontainers.image.source"] = opt.Source
	}
	if opt.Version != "" {
		cfg.Config.Labels["org.opencontainers.image.version"] = opt.Version
	}
	for k, v := range opt.ExtraLabels {
		cfg.Config.Labels[k] = v
	}
	return mutate.ConfigFile(img, cfg)
}

// WriteTarball writes img as a tarball that `docker load` and `podman load` take,
// tagged ref (e.g. ghcr.io/mlops-lab/housing:latest).
func WriteTarball(path, ref string, img v1.Image) error {
	tag, err := name.NewTag(ref)
	if err != nil {
		return fmt.Errorf("image reference %q: %w", ref, err)
	}
	return tarball.WriteToFile(path, tag, img)
}

type file struct {
	name string
	mode int64
	dir  bool
	uid  int
	data []byte
}

func tarLayer(files []file, mtime time.Time) (v1.Layer, error) {
	sort.Slice(files, func(i, j int) bool { return files[i].name < files[j].name })
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{Name: f.name, Mode: f.mode, ModTime: mtime, Uid: f.uid, Gid: f.uid, Format: tar.FormatPAX}
		if f.dir {
			h.Typeflag = tar.TypeDir
		} else {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(f.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil },
		tarball.WithMediaType(types.OCILayer))
}
