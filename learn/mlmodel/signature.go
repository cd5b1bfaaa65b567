package mlmodel

import (
	"encoding/json"
	"fmt"
)

// ColSpec is one column of a signature: MLflow's ColSpec ({"type": "double",
// "name": "MedInc", "required": true}). Name is empty for an unnamed output.
type ColSpec struct {
	Type     string `json:"type"`
	Name     string `json:"name,omitempty"`
	Required bool   `json:"required"`
}

// Signature is a model's input and output schema.
type Signature struct {
	Inputs  []ColSpec
	Outputs []ColSpec
}

// RegressionSignature is the signature of a regressor over the named double
// columns that predicts one double.
func RegressionSignature(featureNames []string) *Signature {
	s := &Signature{Outputs: []ColSpec{{Type: "double", Required: true}}}
	for _, n := range featureNames {
		s.Inputs = append(s.Inputs, ColSpec{Type: "double", Name: n, Required: true})
	}
	return s
}

// InputNames returns the names of the input columns, in order.
func (s *Signature) InputNames() []string {
	names := make([]string, len(s.Inputs))
	for i, c := range s.Inputs {
		names[i] = c.Name
	}
	return names
}

// signatureFile is the YAML shape: each schema is a JSON string, params null.
type signatureFile struct {
	Inputs  string  `yaml:"inputs"`
	Outputs string  `yaml:"outputs"`
	Params  *string `yaml:"params"`
}

func (s *Signature) file() (*signatureFile, error) {
	in, err := jsonString(s.Inputs)
	if err != nil {
		return nil, fmt.Errorf("mlmodel: signature inputs: %w", err)
	}
	out, err := jsonString(s.Outputs)
	if err != nil {
		return nil, fmt.Errorf("mlmodel: signature outputs: %w", err)
	}
	return &signatureFile{Inputs: in, Outputs: out}, nil
}

func (f *signatureFile) signature() (*Signature, error) {
	var s Signature
	// MLflow writes inputs/outputs as JSON strings; a missing one stays empty.
	for _, part := range []struct {
		name string
		text string
		dst  *[]ColSpec
	}{{"inputs", f.Inputs, &s.Inputs}, {"outputs", f.Outputs, &s.Outputs}} {
		if part.text == "" {
			continue
		}
		if err := json.Unmarshal([]byte(part.text), part.dst); err != nil {
			return nil, fmt.Errorf("mlmodel: signature %s is not a JSON column list: %w", part.name, err)
		}
	}
	return &s, nil
}
