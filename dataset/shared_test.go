package dataset_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/mlops-lab/housing/dataset"
)

func TestSharedDataPath(t *testing.T) {
	root := t.TempDir()
	data := filepath.Join(root, "shared", "data", "cal_housing.data")
	deep := filepath.Join(root, "main", "steps", "ingest")
	for _, d := range []string{filepath.Dir(data), deep} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(data, []byte(rawRows(1)), 0o644); err != nil {
		t.Fatal(err)
	}

	t.Setenv("HOUSING_DATA", "")
	t.Chdir(deep)
	if p, ok := dataset.SharedDataPath(); !ok || p != data {
		t.Errorf("from %s: SharedDataPath() = %q, %v; want %q, true", deep, p, ok, data)
	}

	elsewhere := filepath.Join(root, "x", "y")
	if err := os.MkdirAll(elsewhere, 0o755); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(elsewhere, "mine.data")
	if err := os.WriteFile(other, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOUSING_DATA", other)
	if p, ok := dataset.SharedDataPath(); !ok || p != other {
		t.Errorf("with HOUSING_DATA: SharedDataPath() = %q, %v; want %q, true", p, ok, other)
	}
	t.Setenv("HOUSING_DATA", filepath.Join(root, "absent"))
	if _, ok := dataset.SharedDataPath(); ok {
		t.Error("HOUSING_DATA naming a missing file reported as found")
	}
}
