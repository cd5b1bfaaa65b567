package image_test

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/mlops-lab/housing/internal/image"
)

// buildBinaries builds the real binaries the image holds, statically.
func buildBinaries(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds every binary; skipped in -short")
	}
	dir := t.TempDir()
	args := []string{"build", "-trimpath", "-o", dir + "/"}
	for _, b := range image.Binaries {
		if b == "tracking-server" || b == "pipeline" {
			args = append(args, "github.com/mlops-lab/housing/cmd/"+b)
		} else {
			args = append(args, "github.com/mlops-lab/housing/steps/"+b)
		}
	}
	cmd := exec.Command("go", args...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return dir
}

func TestImageTarball(t *testing.T) {
	bin := buildBinaries(t)
	img, err := image.Build(image.Options{BinDir: bin, Created: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Source: "https://github.com/mlops-lab/housing"})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "image.tar")
	if err := image.WriteTarball(path, "ghcr.io/mlops-lab/housing:test", img); err != nil {
		t.Fatal(err)
	}

	// Read it back as a consumer would.
	loaded, err := tarball.ImageFromPath(path, nil)
	if err != nil {
		t.Fatalf("read tarball: %v", err)
	}
	m, err := loaded.Manifest()
	if err != nil {
		t.Fatalf("manifest: %v", err)
	}
	if m.SchemaVersion != 2 || len(m.Layers) != 2 {
		t.Errorf("manifest: schema %d, %d layers; want 2 and 2", m.SchemaVersion, len(m.Layers))
	}
	cfg, err := loaded.ConfigFile()
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	if cfg.Config.User != "65532:65532" {
		t.Errorf("user %q, want the non-root 65532:65532", cfg.Config.User)
	}
	if cfg.OS != "linux" || len(cfg.RootFS.DiffIDs) != 2 {
		t.Errorf("config: os %q, %d diff ids", cfg.OS, len(cfg.RootFS.DiffIDs))
	}
	if len(cfg.Config.Entrypoint) == 0 || cfg.Config.Entrypoint[0] != "/usr/local/bin/tracking-server" {
		t.Errorf("entrypoint %v", cfg.Config.Entrypoint)
	}

	// Every binary is in the file system, executable, and statically linked (no
	// interpreter: the image has no libc and no shell).
	files := map[string]*tar.Header{}
	var size int64
	layers, err := loaded.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			files[h.Name] = h
			if h.Name == "usr/local/bin/train" {
				head := make([]byte, 4096)
				n, _ := io.ReadFull(tr, head)
				if !bytes.HasPrefix(head[:n], []byte("\x7fELF")) || hasInterpreter(head[:n]) {
					t.Errorf("train is not a static ELF binary")
				}
			}
		}
		rc.Close()
		s, err := l.Size()
		if err != nil {
			t.Fatal(err)
		}
		size += s
	}
	for _, b := range image.Binaries {
		h, ok := files["usr/local/bin/"+b]
		if !ok {
			t.Errorf("image lacks /usr/local/bin/%s", b)
			continue
		}
		if h.Mode&0o111 == 0 {
			t.Errorf("/usr/local/bin/%s is not executable (mode %o)", b, h.Mode)
		}
	}
	for _, f := range []string{"etc/ssl/certs/ca-certificates.crt", "etc/passwd"} {
		if _, ok := files[f]; !ok {
			t.Errorf("image lacks /%s", f)
		}
	}
	if _, ok := files["bin/sh"]; ok {
		t.Error("image has a shell; it should need none")
	}
	const maxSize = 150 << 20
	if size > maxSize {
		t.Errorf("compressed image is %d MiB, want at most %d MiB", size>>20, maxSize>>20)
	}
	t.Logf("image: %d layers, %.1f MiB compressed", len(layers), float64(size)/(1<<20))
}

// hasInterpreter reports whether an ELF header region names a dynamic loader.
func hasInterpreter(b []byte) bool {
	for _, s := range []string{"/lib64/ld-linux", "/lib/ld-linux", "ld-musl"} {
		if bytes.Contains(b, []byte(s)) {
			return true
		}
	}
	return false
}
