package artifacts_test

import (
	"context"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/artifacts"
)

// pathSeeds are the traversal tricks the resolver must see through.
var pathSeeds = []string{
	"", ".", "a/b", "a//b/./c/", "..", "../x", "a/../../x", "/etc/passwd", "C:/x", "c:x", `a\..\x`,
	"a\x00b", "%2e%2e/x", "%252e%252e/x", "%25252e%25252e/x", "a/%2E%2E/%2e%2E/x", "%2f%2fetc", "%5c..%5cx",
	"%00", "a%", "100%/x", "..%2f..%2fx", ".%2e/x", "link/passwd", "link/../x", "dir/./../../x", "…/x",
}

// FuzzCleanPath checks CleanPath's invariants: a path it accepts is relative,
// has no "..", "." or empty segments, no backslash or NUL, stays so through up
// to three more percent-decodings, is its own cleaned form, and joined to a root
// stays inside it.
func FuzzCleanPath(f *testing.F) {
	for _, s := range pathSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		clean, err := artifacts.CleanPath(p)
		if err != nil {
			if tracking.ErrorCodeOf(err) != tracking.ErrInvalidParameterValue {
				t.Fatalf("CleanPath(%q): error %v is not INVALID_PARAMETER_VALUE", p, err)
			}
			return
		}
		s := clean
		for i := 0; i < 4; i++ {
			if strings.HasPrefix(s, "/") || strings.ContainsAny(s, "\\\x00") {
				t.Fatalf("CleanPath(%q) = %q, which decodes (%d times) to %q", p, clean, i, s)
			}
			for _, seg := range strings.Split(s, "/") {
				if seg == ".." || (i == 0 && clean != "" && (seg == "" || seg == ".")) {
					t.Fatalf("CleanPath(%q) = %q has segment %q after %d decodings (%q)", p, clean, seg, i, s)
				}
			}
			u, err := url.PathUnescape(s)
			if err != nil || u == s {
				break
			}
			s = u
		}
		if again, err := artifacts.CleanPath(clean); err != nil || again != clean {
			t.Fatalf("CleanPath(%q) = %q, but CleanPath(%q) = %q, %v", p, clean, clean, again, err)
		}
		root := filepath.FromSlash("/srv/artifacts")
		if j := filepath.Join(root, filepath.FromSlash(clean)); j != root && !strings.HasPrefix(j, root+string(filepath.Separator)) {
			t.Fatalf("CleanPath(%q) = %q escapes the root: %s", p, clean, j)
		}
	})
}

// FuzzLocalConfinement reads, lists and writes fuzzed paths in a Local
// repository whose directory holds a symbolic link to a directory outside it,
// and checks that no operation ever reaches the outside: the secret file there
// is never read, the linked directory never listed into, and nothing there is
// overwritten or created.
func FuzzLocalConfinement(f *testing.F) {
	for _, s := range pathSeeds {
		f.Add(s)
	}
	base := f.TempDir()
	outside := filepath.Join(base, "outside")
	if err := os.MkdirAll(outside, 0o755); err != nil {
		f.Fatal(err)
	}
	const secret = "SECRET-OUTSIDE-THE-ROOT"
	if err := os.WriteFile(filepath.Join(outside, "passwd"), []byte(secret), 0o644); err != nil {
		f.Fatal(err)
	}
	rootDir := filepath.Join(base, "root")
	repo, err := artifacts.NewLocal(rootDir)
	if err != nil {
		f.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(rootDir, "link")); err != nil {
		f.Fatal(err)
	}
	if err := os.Symlink("../outside/passwd", filepath.Join(rootDir, "rel")); err != nil {
		f.Fatal(err)
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, p string) {
		if rc, err := repo.Get(ctx, p); err == nil {
			b, _ := io.ReadAll(rc)
			rc.Close()
			if strings.Contains(string(b), secret) {
				t.Fatalf("Get(%q) read the file outside the root", p)
			}
		}
		if files, err := repo.List(ctx, p); err == nil {
			for _, fi := range files {
				if strings.HasPrefix(fi.Path, "link/") {
					t.Fatalf("List(%q) lists %q, a file outside the root", p, fi.Path)
				}
			}
		}
		_ = repo.Put(ctx, p, strings.NewReader("x"), 1)
		entries, err := os.ReadDir(outside)
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(outside, "passwd"))
		if len(entries) != 1 || err != nil || string(b) != secret {
			t.Fatalf("Put(%q) changed the directory outside the root: %d entries, passwd %q, %v", p, len(entries), b, err)
		}
		// Remove what Put wrote inside the root: left to pile up (a file or
		// directory tree per input) it made every List slower until the
		// fuzzer stalled.
		inside, err := os.ReadDir(rootDir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range inside {
			if name := e.Name(); name != "link" && name != "rel" {
				if err := os.RemoveAll(filepath.Join(rootDir, name)); err != nil {
					t.Fatal(err)
				}
			}
		}
	})
}
