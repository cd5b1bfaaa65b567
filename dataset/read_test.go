package dataset_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/mlops-lab/housing/dataset"
)

func TestReadSharedDataRowZero(t *testing.T) {
	d, _ := sharedData(t)
	if d.Rows() != 20640 {
		t.Fatalf("rows = %d, want 20640", d.Rows())
	}
	// Row 0 as the data README and scikit-learn's documentation give it (6 decimals).
	want := []float64{8.3252, 41, 6.984127, 1.023810, 322, 2.555556, 37.88, -122.23}
	for j, w := range want {
		if got := d.Row(0)[j]; math.Abs(got-w) > 5e-7 {
			t.Errorf("row 0 %s = %v, want %v", dataset.FeatureNames[j], got, w)
		}
	}
	if d.Y[0] != 4.526 {
		t.Errorf("row 0 target = %v, want 4.526", d.Y[0])
	}
}

// TestReadMatchesScikitLearn derives the features in Python exactly as
// fetch_california_housing does (on the shared file, since the archive is
// not downloaded in tests) and compares the digests of all values.
func TestReadMatchesScikitLearn(t *testing.T) {
	d, path := sharedData(t)
	py := sklearnPython(t)
	script := `
import hashlib, sys, numpy as np
c = np.loadtxt(sys.argv[1], delimiter=",")[:, [8, 7, 2, 3, 4, 5, 6, 1, 0]]
target, data = c[:, 0], c[:, 1:]
data[:, 2] /= data[:, 5]
data[:, 3] /= data[:, 5]
data[:, 5] = data[:, 4] / data[:, 5]
target = target / 100000.0
print(hashlib.sha256(np.column_stack([data, target]).astype("<f8").tobytes()).hexdigest())
`
	out := runPython(t, py, strings.Replace(script, "sys.argv[1]", "'"+path+"'", 1))
	if want := strings.TrimSpace(string(out)); d.Digest() != want {
		t.Errorf("digest = %s, scikit-learn's derivation gives %s", d.Digest(), want)
	}
}

func TestReadFormatsAgree(t *testing.T) {
	raw := rawRows(50)
	fromRaw, err := dataset.Read(strings.NewReader(raw), "raw")
	if err != nil {
		t.Fatal(err)
	}
	if fromRaw.Rows() != 50 {
		t.Fatalf("rows = %d, want 50", fromRaw.Rows())
	}
	// Row 3 derived by hand from rawRows' formula.
	hh := 100.0 + 21
	want := []float64{0.8, 4, (500 + 93) / hh, (90 + 15) / hh, 339, 339 / hh, 32.06, -123.97}
	for j, w := range want {
		if got := fromRaw.Row(3)[j]; math.Abs(got-w) > 1e-12 {
			t.Errorf("row 3 %s = %v, want %v", dataset.FeatureNames[j], got, w)
		}
	}
	if got := fromRaw.Y[3]; math.Abs(got-0.18) > 1e-15 {
		t.Errorf("row 3 target = %v, want 0.18", got)
	}

	tgz := makeTGZ(t, map[string]string{"CaliforniaHousing/cal_housing.domain": "x\n", dataset.ArchiveMember: raw})
	rawHeader := strings.Join(dataset.RawNames[:], ",") + "\n"
	var skCSV bytes.Buffer
	if err := dataset.WriteCSV(&skCSV, fromRaw); err != nil {
		t.Fatal(err)
	}
	var bin bytes.Buffer
	if err := dataset.WriteBinary(&bin, fromRaw); err != nil {
		t.Fatal(err)
	}
	inputs := map[string][]byte{
		"tgz":                     tgz,
		"raw CSV header":          []byte(rawHeader + raw),
		"sklearn CSV":             skCSV.Bytes(),
		"binary":                  bin.Bytes(),
		"raw LF no final newline": []byte(strings.TrimSuffix(strings.ReplaceAll(raw, "\r\n", "\n"), "\n")),
	}
	for name, in := range inputs {
		d, err := dataset.Read(bytes.NewReader(in), name)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if d.Digest() != fromRaw.Digest() {
			t.Errorf("%s: digest %s differs from the raw file's %s", name, d.Digest(), fromRaw.Digest())
		}
		if d.Source != name {
			t.Errorf("%s: Source = %q", name, d.Source)
		}
	}
}

func TestReadCSVColumnsInAnyOrder(t *testing.T) {
	in := "MedHouseVal,Longitude,Latitude,AveOccup,Population,AveBedrms,AveRooms,HouseAge,MedInc\n4.5,-122,37,2,300,1,6,41,8\n"
	d, err := dataset.Read(strings.NewReader(in), "x.csv")
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{8, 41, 6, 1, 300, 2, 37, -122}
	for j, w := range want {
		if d.Row(0)[j] != w {
			t.Errorf("%s = %v, want %v", dataset.FeatureNames[j], d.Row(0)[j], w)
		}
	}
	if d.Y[0] != 4.5 {
		t.Errorf("target = %v, want 4.5", d.Y[0])
	}
}

func TestReadRejectsBadInput(t *testing.T) {
	good := rawRows(3)
	lines := strings.SplitAfter(good, "\r\n")
	replaceCell := func(line string, col int, v string) string {
		cells := strings.Split(strings.TrimRight(line, "\r\n"), ",")
		cells[col-1] = v
		return strings.Join(cells, ",") + "\n"
	}
	skHeader := strings.Join(dataset.FeatureNames[:], ",") + "," + dataset.TargetName + "\n"
	cases := []struct {
		name       string
		in         string
		line, col  int
		msg        string
		wantReason error
	}{
		{"empty file", "", 0, 0, "empty file", nil},
		{"blank lines only", "\n \r\n\n", 0, 0, "no data rows", nil},
		{"too few columns", lines[0] + "1,2,3\n", 2, 4, "3 columns, want 9", nil},
		{"too many columns", lines[0] + lines[1] + strings.TrimRight(lines[2], "\r\n") + ",7\n", 3, 10, "10 columns, want 9", nil},
		{"non-numeric", lines[0] + replaceCell(lines[1], 3, "abc"), 2, 3, `not a number: "abc"`, nil},
		{"empty cell", replaceCell(lines[0], 8, ""), 1, 8, `not a number: ""`, nil},
		{"NaN", lines[0] + replaceCell(lines[1], 5, "nan"), 2, 5, "not a finite number", nil},
		{"Inf", replaceCell(lines[0], 9, "Inf"), 1, 9, "not a finite number", nil},
		{"overflow", replaceCell(lines[0], 4, "1e999"), 1, 4, "not a finite number", nil},
		{"zero households", lines[0] + lines[1] + replaceCell(lines[2], 7, "0"), 3, 7, "households is 0", nil},
		{"CSV header only", skHeader, 1, 0, "header but no data rows", nil},
		{"CSV unknown column", strings.Replace(skHeader, "AveOccup", "AvgOccup", 1) + "1,2,3,4,5,6,7,8,9\n", 1, 6, `unknown column "AvgOccup"`, nil},
		{"CSV duplicate column", strings.Replace(skHeader, "AveOccup", "MedInc", 1), 1, 6, `"MedInc" appears twice`, nil},
		{"CSV missing column", "MedInc,HouseAge\n1,2\n", 1, 0, "lacks column(s) AveRooms", nil},
		{"CSV short row", skHeader + "1,2,3,4,5,6,7,8,9\n1,2,3\n", 3, 4, "3 columns, want 9", nil},
		{"CSV NaN", skHeader + "1,2,3,4,5,6,NaN,8,9\n", 2, 7, "not a finite number", nil},
		{"archive without member", string(makeTGZ(t, map[string]string{"other.txt": good})), 0, 0, "no member " + dataset.ArchiveMember, nil},
		{"truncated archive", string(truncate(makeTGZ(t, map[string]string{dataset.ArchiveMember: rawRows(2000)}), 0.5)), 0, 0, "archive ends early", dataset.ErrTruncated},
		{"archive cut before its end", string(truncate(makeTGZ(t, map[string]string{dataset.ArchiveMember: rawRows(2000)}), 0.9999)), 0, 0, "archive ends early", dataset.ErrTruncated},
		{"gzip header only", "\x1f\x8b", 0, 0, "archive ends early", dataset.ErrTruncated},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := dataset.Read(strings.NewReader(c.in), "in.data")
			if err == nil {
				t.Fatalf("read %d rows, want an error", d.Rows())
			}
			var de *dataset.Error
			if !errors.As(err, &de) {
				t.Fatalf("error %T %v is not a *dataset.Error", err, err)
			}
			if de.File != "in.data" || de.Line != c.line || de.Column != c.col {
				t.Errorf("error at %s line %d column %d, want in.data line %d column %d (%v)", de.File, de.Line, de.Column, c.line, c.col, err)
			}
			if !strings.Contains(err.Error(), c.msg) {
				t.Errorf("error %q does not say %q", err, c.msg)
			}
			if c.wantReason != nil && !errors.Is(err, c.wantReason) {
				t.Errorf("error %v does not wrap %v", err, c.wantReason)
			}
		})
	}
}

func truncate(b []byte, frac float64) []byte { return b[:int(float64(len(b))*frac)] }

func TestErrorMessageNamesFileLineColumn(t *testing.T) {
	err := &dataset.Error{File: "a.csv", Line: 3, Column: 2, Msg: "not a number: \"x\""}
	if got, want := err.Error(), `a.csv:3: column 2: not a number: "x"`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestProfile(t *testing.T) {
	d := &dataset.Dataset{
		X: []float64{1, 2, 3, 4, 5, 6, 7, 8, 3, 2, 3, 4, 5, 6, 7, 8, 5, 2, 3, 4, 5, 6, 7, 8},
		Y: []float64{1, 2, 6},
	}
	p := d.Profile()
	if p.Rows != 3 || len(p.Columns) != dataset.NumFeatures+1 || p.Digest != d.Digest() {
		t.Fatalf("profile %+v", p)
	}
	medInc := p.Columns[0]
	if medInc.Name != "MedInc" || medInc.Count != 3 || medInc.Min != 1 || medInc.Max != 5 || medInc.Mean != 3 || medInc.Std != 2 {
		t.Errorf("MedInc profile %+v, want min 1 max 5 mean 3 std 2", medInc)
	}
	if c := p.Columns[1]; c.Std != 0 || c.Mean != 2 {
		t.Errorf("constant column profile %+v, want mean 2 std 0", c)
	}
	target := p.Columns[dataset.NumFeatures]
	if target.Name != dataset.TargetName || target.Mean != 3 || math.Abs(target.Std-math.Sqrt(7)) > 1e-12 {
		t.Errorf("target profile %+v, want mean 3 std sqrt(7)", target)
	}
	if _, err := json.Marshal(p); err != nil {
		t.Errorf("profile does not marshal: %v", err)
	}
}

func TestSubsetAndDigest(t *testing.T) {
	d, err := dataset.Read(strings.NewReader(rawRows(10)), "raw")
	if err != nil {
		t.Fatal(err)
	}
	s := d.Subset([]int{4, 1, 4})
	if s.Rows() != 3 || s.Y[0] != d.Y[4] || s.Y[1] != d.Y[1] || s.Row(2)[0] != d.Row(4)[0] {
		t.Fatalf("subset rows wrong: %v", s.Y)
	}
	s.Row(0)[0] = -1
	if d.Row(4)[0] == -1 {
		t.Error("Subset shares memory with the original")
	}
	if d.Digest() == d.Subset([]int{1, 0, 2, 3, 4, 5, 6, 7, 8, 9}).Digest() {
		t.Error("digest does not depend on row order")
	}
	if got := d.Subset([]int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}).Digest(); got != d.Digest() {
		t.Errorf("digest of an identical copy differs: %s vs %s", got, d.Digest())
	}
}

// TestProfileMatchesNumPy compares the shared data's profile with NumPy's
// min, max, mean and std(ddof=1) of the same derived columns.
func TestProfileMatchesNumPy(t *testing.T) {
	d, path := sharedData(t)
	py := sklearnPython(t)
	script := `
import json, numpy as np
c = np.loadtxt(` + "'" + path + "'" + `, delimiter=",")[:, [8, 7, 2, 3, 4, 5, 6, 1, 0]]
target, data = c[:, 0], c[:, 1:]
data[:, 2] /= data[:, 5]
data[:, 3] /= data[:, 5]
data[:, 5] = data[:, 4] / data[:, 5]
m = np.column_stack([data, target / 100000.0])
print(json.dumps([[float(m[:, j].min()), float(m[:, j].max()), float(m[:, j].mean()), float(m[:, j].std(ddof=1))] for j in range(9)]))
`
	var want [][4]float64
	if err := json.Unmarshal(runPython(t, py, script), &want); err != nil {
		t.Fatal(err)
	}
	p := d.Profile()
	for j, c := range p.Columns {
		got := [4]float64{c.Min, c.Max, c.Mean, c.Std}
		for k, name := range []string{"min", "max", "mean", "std"} {
			if math.Abs(got[k]-want[j][k]) > 1e-9*math.Max(1, math.Abs(want[j][k])) {
				t.Errorf("%s %s = %v, numpy gives %v", c.Name, name, got[k], want[j][k])
			}
		}
		if c.Count != d.Rows() {
			t.Errorf("%s count %d, want %d", c.Name, c.Count, d.Rows())
		}
	}
}

func TestReadFeaturesWithoutTarget(t *testing.T) {
	in := "MedInc,HouseAge,AveRooms,AveBedrms,Population,AveOccup,Latitude,Longitude\n8.3252,41,6.98,1.02,322,2.55,37.88,-122.23\n"
	d, hasTarget, err := dataset.ReadFeatures(strings.NewReader(in), "score.csv")
	if err != nil {
		t.Fatal(err)
	}
	if hasTarget || d.Rows() != 1 || d.X[0] != 8.3252 || d.X[7] != -122.23 || !math.IsNaN(d.Y[0]) {
		t.Errorf("ReadFeatures = rows %d, hasTarget %v, X %v, Y %v", d.Rows(), hasTarget, d.X, d.Y)
	}
	if _, err := dataset.Read(strings.NewReader(in), "score.csv"); err == nil || !strings.Contains(err.Error(), "lacks column(s) MedHouseVal") {
		t.Errorf("Read of a features-only CSV: err = %v, want one saying the target is missing", err)
	}
	withTarget := strings.Replace(in, "Longitude\n", "Longitude,MedHouseVal\n", 1)
	withTarget = strings.Replace(withTarget, "-122.23\n", "-122.23,4.526\n", 1)
	d, hasTarget, err = dataset.ReadFeatures(strings.NewReader(withTarget), "t.csv")
	if err != nil || !hasTarget || d.Y[0] != 4.526 {
		t.Errorf("ReadFeatures with the target: err %v, hasTarget %v, Y %v", err, hasTarget, d.Y)
	}
}
