package dataset_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/mlops-lab/housing/dataset"
)

func TestBinaryRoundTrip(t *testing.T) {
	d, err := dataset.Read(strings.NewReader(rawRows(100)), "raw")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := dataset.WriteBinary(&buf, d); err != nil {
		t.Fatal(err)
	}
	// magic 8 + version 2 + count 2 + names + rows 8 + data + checksum 32
	names := 0
	for _, n := range dataset.FeatureNames {
		names += 2 + len(n)
	}
	names += 2 + len(dataset.TargetName)
	if want := 8 + 2 + 2 + names + 8 + 100*9*8 + 32; buf.Len() != want {
		t.Errorf("binary size %d, want %d", buf.Len(), want)
	}
	back, err := dataset.ReadBinary(bytes.NewReader(buf.Bytes()), "d.bin")
	if err != nil {
		t.Fatal(err)
	}
	if back.Digest() != d.Digest() || back.Source != "d.bin" {
		t.Errorf("round trip changed the data (source %q)", back.Source)
	}
}

func TestCSVRoundTripIsExact(t *testing.T) {
	d := &dataset.Dataset{
		X: []float64{0.1, 1e-300, 1.0 / 3, -0, 5e20, math.Nextafter(2, 3), 37.88, -122.23},
		Y: []float64{4.526},
	}
	if sd, ok := dataset.SharedDataPath(); ok {
		full, err := dataset.Load(t.Context(), sd, dataset.LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		d = full
	}
	var buf bytes.Buffer
	if err := dataset.WriteCSV(&buf, d); err != nil {
		t.Fatal(err)
	}
	header, _, _ := strings.Cut(buf.String(), "\n")
	if want := "MedInc,HouseAge,AveRooms,AveBedrms,Population,AveOccup,Latitude,Longitude,MedHouseVal"; header != want {
		t.Errorf("header %q, want %q", header, want)
	}
	back, err := dataset.Read(&buf, "d.csv")
	if err != nil {
		t.Fatal(err)
	}
	if back.Rows() != d.Rows() || back.Digest() != d.Digest() {
		t.Errorf("CSV round trip changed the values: %d rows vs %d", back.Rows(), d.Rows())
	}
}

func TestWritersRefuseNonFiniteValues(t *testing.T) {
	d := &dataset.Dataset{X: []float64{1, 2, 3, 4, 5, 6, math.NaN(), 8}, Y: []float64{1}, Source: "mem"}
	if err := dataset.WriteBinary(&bytes.Buffer{}, d); err == nil || !strings.Contains(err.Error(), "Latitude") {
		t.Errorf("WriteBinary of NaN: error %v, want one naming Latitude", err)
	}
	if err := dataset.WriteCSV(&bytes.Buffer{}, d); err == nil {
		t.Error("WriteCSV of NaN: no error")
	}
	short := &dataset.Dataset{X: []float64{1, 2, 3}, Y: []float64{1}}
	if err := dataset.WriteBinary(&bytes.Buffer{}, short); err == nil {
		t.Error("WriteBinary of a ragged dataset: no error")
	}
}

func TestReadBinaryRefusesDamage(t *testing.T) {
	d, err := dataset.Read(strings.NewReader(rawRows(10)), "raw")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := dataset.WriteBinary(&buf, d); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	headerLen := len(good) - 10*9*8 - 32
	edit := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	cases := []struct {
		name   string
		in     []byte
		msg    string
		reason error
	}{
		{"wrong magic", edit(func(b []byte) []byte { b[1] = 'X'; return b }), "not a housing dataset binary file", nil},
		{"newer version", edit(func(b []byte) []byte { b[8] = 2; return b }), "version 2", nil},
		{"wrong column", edit(func(b []byte) []byte { copy(b[14:], "MedOut"); return b }), `column named "MedOut"`, nil},
		{"absurd row count", edit(func(b []byte) []byte {
			binary.LittleEndian.PutUint64(b[headerLen-8:], 1<<62)
			return b
		}), "more than", nil},
		{"empty", nil, "ends in its magic", dataset.ErrTruncated},
		{"cut in header", good[:9], "ends in its version", dataset.ErrTruncated},
		{"cut in data", good[:headerLen+100], "ends in its data", dataset.ErrTruncated},
		{"cut in checksum", good[:len(good)-5], "ends in its checksum", dataset.ErrTruncated},
		{"flipped bit", edit(func(b []byte) []byte { b[headerLen+17] ^= 1; return b }), "stored SHA-256", dataset.ErrChecksum},
		{"trailing data", append(bytes.Clone(good), 0), "data follows the checksum", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := dataset.ReadBinary(bytes.NewReader(c.in), "d.bin")
			var de *dataset.Error
			if !errors.As(err, &de) || de.File != "d.bin" {
				t.Fatalf("error %v: want a *dataset.Error naming d.bin", err)
			}
			if !strings.Contains(err.Error(), c.msg) {
				t.Errorf("error %q does not say %q", err, c.msg)
			}
			if c.reason != nil && !errors.Is(err, c.reason) {
				t.Errorf("error %v does not wrap %v", err, c.reason)
			}
		})
	}
}
