package artifacts_test

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/artifacts"
)

func TestSubIsRootedAtPrefix(t *testing.T) {
	ctx := context.Background()
	root, err := artifacts.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := root.Put(ctx, "1/abc/artifacts/model/MLmodel", strings.NewReader("flavors: {}"), -1); err != nil {
		t.Fatal(err)
	}
	if err := root.Put(ctx, "1/other/artifacts/secret.txt", strings.NewReader("no"), -1); err != nil {
		t.Fatal(err)
	}
	run, err := artifacts.Sub(root, "1/abc/artifacts")
	if err != nil {
		t.Fatal(err)
	}
	files, err := run.List(ctx, "")
	if err != nil || len(files) != 1 || files[0].Path != "model" || !files[0].IsDir {
		t.Fatalf("List(\"\") = %+v, %v; want the model directory only", files, err)
	}
	files, err = run.List(ctx, "model")
	if err != nil || len(files) != 1 || files[0].Path != "model/MLmodel" {
		t.Fatalf("List(model) = %+v, %v", files, err)
	}
	rc, err := run.Get(ctx, "model/MLmodel")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if string(b) != "flavors: {}" {
		t.Errorf("Get = %q", b)
	}
	for _, p := range []string{"../other/artifacts/secret.txt", "%2e%2e/other", "/etc/passwd"} {
		if _, err := run.Get(ctx, p); tracking.ErrorCodeOf(err) != tracking.ErrInvalidParameterValue {
			t.Errorf("Get(%q) error = %v, want INVALID_PARAMETER_VALUE", p, err)
		}
	}
	if _, err := artifacts.Sub(root, "../x"); err == nil {
		t.Error("Sub with a .. prefix was accepted")
	}
}
