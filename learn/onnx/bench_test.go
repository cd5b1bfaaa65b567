package onnx_test

import (
	"bytes"
	"crypto/sha256"
	"io"
	"testing"

	"github.com/mlops-lab/housing/internal/benchtest"
	"github.com/mlops-lab/housing/learn/onnx"
)

// BenchmarkExport exports a forest shaped like the lab's rf-optimized winner
// (300 trees, full depth, max_features 0.33, min_samples_split 5) as ONNX,
// logging the file's SHA-256 so that a change to the writer can show it
// writes the same bytes, and the CPU time of an export (cpu-ns/op).
func BenchmarkExport(b *testing.B) {
	f := benchtest.WinnerForest(b)
	var once bytes.Buffer
	if err := onnx.Export(&once, f, onnx.Options{}); err != nil {
		b.Fatal(err)
	}
	b.Logf("%d bytes, sha256 %x", once.Len(), sha256.Sum256(once.Bytes()))
	benchtest.Loop(b, func() {
		if err := onnx.Export(io.Discard, f, onnx.Options{}); err != nil {
			b.Fatal(err)
		}
	})
}
