package learn

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"

	"github.com/mlops-lab/housing/learn/boost"
	"github.com/mlops-lab/housing/learn/forest"
	"github.com/mlops-lab/housing/learn/internal/modelfile"
	"github.com/mlops-lab/housing/learn/linear"
)

// ReadModel reads a model file of any format in this module, chosen by the
// magic its first eight bytes hold.
func ReadModel(r io.Reader) (Regressor, error) {
	br := bufio.NewReader(r)
	magic, err := br.Peek(len(forest.Magic))
	if err != nil {
		return nil, fmt.Errorf("learn: read model file: cannot read the %d-byte magic: %w", len(forest.Magic), err)
	}
	switch {
	case bytes.Equal(magic, forest.Magic[:]):
		f, err := forest.Read(br)
		if err != nil {
			return nil, err // not a typed nil in the interface
		}
		return f, nil
	case bytes.Equal(magic, boost.Magic[:]):
		m, err := boost.Read(br)
		if err != nil {
			return nil, err
		}
		return m, nil
	case bytes.Equal(magic, linear.Magic[:]):
		m, err := linear.Read(br)
		if err != nil {
			return nil, err
		}
		return m, nil
	}
	return nil, fmt.Errorf("learn: read model file: unknown magic %q (want %q, %q or %q)", magic, forest.Magic[:], boost.Magic[:], linear.Magic[:])
}

// LoadModelFile reads the model file at path with ReadModel.
func LoadModelFile(path string) (Regressor, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("learn: %w", err)
	}
	defer f.Close()
	m, err := ReadModel(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// ErrCorruptModel is wrapped by the errors of ReadModel, forest.Read and
// linear.Read (and boost.Read) for a truncated or damaged model file.
var ErrCorruptModel = modelfile.ErrCorrupt
