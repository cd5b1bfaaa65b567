package dataset_test

import (
	"bytes"
	"os"
	"testing"

	"github.com/mlops-lab/housing/dataset"
)

func BenchmarkReadRaw(b *testing.B) {
	p, ok := dataset.SharedDataPath()
	if !ok {
		b.Skip("shared data not found")
	}
	raw, err := os.ReadFile(p)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if _, err := dataset.Read(bytes.NewReader(raw), p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadBinary(b *testing.B) {
	d, err := dataset.Read(bytes.NewReader([]byte(rawRows(20640))), "raw")
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	if err := dataset.WriteBinary(&buf, d); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(buf.Len()))
	for b.Loop() {
		if _, err := dataset.ReadBinary(bytes.NewReader(buf.Bytes()), "bin"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTrainTestSplit(b *testing.B) {
	for b.Loop() {
		if _, _, err := dataset.TrainTestSplit(20640, 0.2, 42); err != nil {
			b.Fatal(err)
		}
	}
}
