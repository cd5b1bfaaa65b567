package artifacts_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/artifacts"
)

func TestLocal(t *testing.T) {
	repo, err := artifacts.NewLocal(filepath.Join(t.TempDir(), "root"))
	if err != nil {
		t.Fatal(err)
	}
	testRepository(t, repo)
}

func TestLocalFilesOnDisk(t *testing.T) {
	dir := t.TempDir()
	repo, err := artifacts.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	put(t, repo, "a/b/c.txt", "deep")
	b, err := os.ReadFile(filepath.Join(dir, "a", "b", "c.txt"))
	if err != nil || string(b) != "deep" {
		t.Fatalf("file on disk: %q, %v", b, err)
	}
	// A failed write leaves no temporary files behind either.
	_ = repo.Put(context.Background(), "a/b/broken.txt", errReader{}, -1)
	entries, _ := os.ReadDir(filepath.Join(dir, "a", "b"))
	if len(entries) != 1 || entries[0].Name() != "c.txt" {
		t.Fatalf("a/b holds %v, want only c.txt", entries)
	}
}

func TestLocalSymlinkEscape(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "root")
	outside := filepath.Join(base, "outside")
	for _, d := range []string{root, outside} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	secret := filepath.Join(outside, "secret.txt")
	if err := os.WriteFile(secret, []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustSymlink(t, outside, filepath.Join(root, "dirlink"))
	mustSymlink(t, secret, filepath.Join(root, "filelink"))
	mustSymlink(t, filepath.Join(base, "nowhere"), filepath.Join(root, "dangling"))
	if err := os.MkdirAll(filepath.Join(root, "inside"), 0o755); err != nil {
		t.Fatal(err)
	}
	// os.Root follows only relative links that stay inside.
	mustSymlink(t, "inside", filepath.Join(root, "goodlink"))

	repo, err := artifacts.NewLocal(root)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	invalid := func(op, p string, err error) {
		t.Helper()
		if tracking.ErrorCodeOf(err) != tracking.ErrInvalidParameterValue {
			t.Errorf("%s(%q) through a link out of the root: got %v, want INVALID_PARAMETER_VALUE", op, p, err)
		}
	}
	_, err = repo.Get(ctx, "dirlink/secret.txt")
	invalid("Get", "dirlink/secret.txt", err)
	_, err = repo.Get(ctx, "filelink")
	invalid("Get", "filelink", err)
	invalid("Put", "dirlink/new.txt", repo.Put(ctx, "dirlink/new.txt", strings.NewReader("x"), 1))
	invalid("Put", "dangling", repo.Put(ctx, "dangling", strings.NewReader("x"), 1))
	invalid("Put", "dangling/x", repo.Put(ctx, "dangling/x", strings.NewReader("x"), 1))
	_, err = repo.List(ctx, "dirlink")
	invalid("List", "dirlink", err)
	invalid("Delete", "dirlink/secret.txt", repo.Delete(ctx, "dirlink/secret.txt"))

	if _, err := os.Stat(filepath.Join(outside, "new.txt")); !os.IsNotExist(err) {
		t.Errorf("a file was written outside the root: %v", err)
	}
	if b, err := os.ReadFile(secret); err != nil || string(b) != "secret" {
		t.Errorf("the file outside was changed: %q, %v", b, err)
	}

	// A link that stays inside the root works, and listings show only what is inside.
	put(t, repo, "goodlink/ok.txt", "ok")
	if got := get(t, repo, "inside/ok.txt"); got != "ok" {
		t.Fatalf("through an inside link: %q", got)
	}
	var names []string
	for _, f := range list(t, repo, "") {
		names = append(names, f.Path)
	}
	if strings.Join(names, ",") != "goodlink,inside" {
		t.Fatalf("List root = %v, want the links out of the root hidden", names)
	}
}

func mustSymlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}
