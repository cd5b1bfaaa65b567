package artifacts_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/mlops-lab/housing/tracking"
)

// traversals are paths every repository must refuse with INVALID_PARAMETER_VALUE.
var traversals = []string{
	"..",
	"../x",
	"a/../../x",
	"a/..",
	"/etc/passwd",
	"a\\..\\x",
	"a\x00b",
	"%2E%2E/x",
	"%2e%2e%2fx",
	"a/%2E%2E/%2E%2E/x",
	"%252E%252E/x",
	"C:/x",
	"c:x",
}

func put(t *testing.T, repo tracking.ArtifactRepository, p, content string) {
	t.Helper()
	if err := repo.Put(context.Background(), p, strings.NewReader(content), int64(len(content))); err != nil {
		t.Fatalf("Put(%q): %v", p, err)
	}
}

func get(t *testing.T, repo tracking.ArtifactRepository, p string) string {
	t.Helper()
	rc, err := repo.Get(context.Background(), p)
	if err != nil {
		t.Fatalf("Get(%q): %v", p, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %q: %v", p, err)
	}
	return string(b)
}

func list(t *testing.T, repo tracking.ArtifactRepository, p string) []tracking.FileInfo {
	t.Helper()
	files, err := repo.List(context.Background(), p)
	if err != nil {
		t.Fatalf("List(%q): %v", p, err)
	}
	return files
}

func sameFiles(t *testing.T, what string, got, want []tracking.FileInfo) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %+v, want %+v", what, got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s: entry %d is %+v, want %+v (all: %+v)", what, i, got[i], want[i], got)
		}
	}
}

// testRepository checks the tracking.ArtifactRepository contract on an empty repo.
func testRepository(t *testing.T, repo tracking.ArtifactRepository) {
	ctx := context.Background()

	t.Run("PutGetList", func(t *testing.T) {
		put(t, repo, "notes.txt", "hello from go\n")
		put(t, repo, "model/MLmodel", "flavors: {}\n")
		put(t, repo, "model/model.bin", "0123456789")
		put(t, repo, "model.txt", "sorts between model and model/")
		put(t, repo, "./extra//coef.json", `{"coef": [1.5]}`)
		if got := get(t, repo, "notes.txt"); got != "hello from go\n" {
			t.Fatalf("Get notes.txt = %q", got)
		}
		if got := get(t, repo, "extra/coef.json"); got != `{"coef": [1.5]}` {
			t.Fatalf("Get extra/coef.json = %q", got)
		}
		sameFiles(t, "List root", list(t, repo, ""), []tracking.FileInfo{
			{Path: "extra", IsDir: true},
			{Path: "model", IsDir: true},
			{Path: "model.txt", FileSize: int64(len("sorts between model and model/"))},
			{Path: "notes.txt", FileSize: 14},
		})
		sameFiles(t, "List model", list(t, repo, "model"), []tracking.FileInfo{
			{Path: "model/MLmodel", FileSize: 12},
			{Path: "model/model.bin", FileSize: 10},
		})
		sameFiles(t, "List model/ (trailing slash)", list(t, repo, "model/"), list(t, repo, "model"))
	})

	t.Run("Overwrite", func(t *testing.T) {
		put(t, repo, "over.txt", "first, longer content")
		put(t, repo, "over.txt", "second")
		if got := get(t, repo, "over.txt"); got != "second" {
			t.Fatalf("after overwrite Get = %q, want %q", got, "second")
		}
	})

	t.Run("UnknownSize", func(t *testing.T) {
		content := strings.Repeat("x", 100_000)
		if err := repo.Put(ctx, "unknown/size.txt", strings.NewReader(content), -1); err != nil {
			t.Fatalf("Put size -1: %v", err)
		}
		if got := get(t, repo, "unknown/size.txt"); got != content {
			t.Fatalf("size -1 round trip: got %d bytes, want %d", len(got), len(content))
		}
	})

	t.Run("EmptyFile", func(t *testing.T) {
		put(t, repo, "empty.txt", "")
		if got := get(t, repo, "empty.txt"); got != "" {
			t.Fatalf("empty file reads %q", got)
		}
	})

	t.Run("Missing", func(t *testing.T) {
		_, err := repo.Get(ctx, "no/such/file.txt")
		if !tracking.IsNotFound(err) {
			t.Fatalf("Get missing: got %v, want RESOURCE_DOES_NOT_EXIST", err)
		}
		if files := list(t, repo, "no/such/dir"); len(files) != 0 {
			t.Fatalf("List missing dir = %+v, want empty", files)
		}
		if err := repo.Delete(ctx, "no/such/dir"); err != nil {
			t.Fatalf("Delete missing: %v", err)
		}
	})

	t.Run("Delete", func(t *testing.T) {
		put(t, repo, "tmp/a.txt", "a")
		put(t, repo, "tmp/sub/b.txt", "b")
		put(t, repo, "tmpfile.txt", "keep me: shares a prefix with tmp")
		if err := repo.Delete(ctx, "tmp/a.txt"); err != nil {
			t.Fatalf("Delete file: %v", err)
		}
		if _, err := repo.Get(ctx, "tmp/a.txt"); !tracking.IsNotFound(err) {
			t.Fatalf("Get after Delete: %v, want not found", err)
		}
		if err := repo.Delete(ctx, "tmp"); err != nil {
			t.Fatalf("Delete tree: %v", err)
		}
		if _, err := repo.Get(ctx, "tmp/sub/b.txt"); !tracking.IsNotFound(err) {
			t.Fatalf("Get in deleted tree: %v, want not found", err)
		}
		if got := get(t, repo, "tmpfile.txt"); !strings.HasPrefix(got, "keep me") {
			t.Fatalf("Delete of tmp touched tmpfile.txt: %q", got)
		}
	})

	t.Run("Traversal", func(t *testing.T) {
		for _, p := range traversals {
			check := func(op string, err error) {
				t.Helper()
				if tracking.ErrorCodeOf(err) != tracking.ErrInvalidParameterValue {
					t.Errorf("%s(%q): got %v, want INVALID_PARAMETER_VALUE", op, p, err)
				}
			}
			check("Put", repo.Put(ctx, p, bytes.NewReader([]byte("x")), 1))
			_, err := repo.Get(ctx, p)
			check("Get", err)
			_, err = repo.List(ctx, p)
			check("List", err)
			check("Delete", repo.Delete(ctx, p))
		}
	})

	t.Run("FailedPutLeavesNothing", func(t *testing.T) {
		r := io.MultiReader(strings.NewReader("partial"), errReader{})
		if err := repo.Put(ctx, "fail/partial.txt", r, -1); err == nil {
			t.Fatal("Put from a failing reader succeeded")
		}
		if _, err := repo.Get(ctx, "fail/partial.txt"); !tracking.IsNotFound(err) {
			t.Fatalf("after failed Put, Get = %v, want not found", err)
		}
		for _, f := range list(t, repo, "fail") {
			t.Errorf("after failed Put, fail/ holds %+v", f)
		}
	})
}

var errBroken = errors.New("broken reader")

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errBroken }
