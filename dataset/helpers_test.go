package dataset_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/mlops-lab/housing/dataset"
	"github.com/mlops-lab/housing/internal/testenv"
)

// rawRows returns n lines in the StatLib layout with varied, valid values.
func rawRows(n int) string {
	var b strings.Builder
	for i := range n {
		households := 100 + 7*i
		fmt.Fprintf(&b, "%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f\r\n",
			-124+0.01*float64(i), 32+0.02*float64(i), float64(1+i%52), float64(500+31*i), float64(90+5*i),
			float64(300+13*i), float64(households), 0.5+0.1*float64(i%90), float64(15000+1000*i))
	}
	return b.String()
}

// makeTGZ builds a gzip-compressed tar archive holding the given members.
func makeTGZ(t testing.TB, members map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for name, body := range members {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// sklearnPython returns /usr/bin/python3 if it can import scikit-learn,
// and otherwise skips (or fails, see testenv.Unavailable).
func sklearnPython(t *testing.T) string {
	t.Helper()
	const py = "/usr/bin/python3"
	if out, err := exec.Command(py, "-c", "import sklearn, numpy").CombinedOutput(); err != nil {
		testenv.Unavailable(t, "%s with scikit-learn not available: %v %s", py, err, out)
	}
	return py
}

// runPython runs a script with /usr/bin/python3 and returns its standard output.
func runPython(t *testing.T, py, script string) []byte {
	t.Helper()
	cmd := exec.Command(py, "-c", script)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, stderr.String())
	}
	return out
}

// sharedData loads the development copy of the data, skipping if absent.
func sharedData(t *testing.T) (*dataset.Dataset, string) {
	t.Helper()
	p, ok := dataset.SharedDataPath()
	if !ok {
		t.Skip("shared/data/cal_housing.data not found (set HOUSING_DATA to its path)")
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d, err := dataset.Read(f, p)
	if err != nil {
		t.Fatalf("read %s: %v", p, err)
	}
	return d, p
}

// sumHex returns the SHA-256 of b in hex.
func sumHex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
