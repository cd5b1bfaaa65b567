package dataset_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/mlops-lab/housing/dataset"
)

// sourcesJSON is the part of data/sources.json that the code must agree with.
type sourcesJSON struct {
	Rows    int `json:"rows"`
	Sources []struct {
		Name   string   `json:"name"`
		Member string   `json:"member"`
		SHA256 string   `json:"sha256"`
		URLs   []string `json:"urls"`
	} `json:"sources"`
	RawColumns []struct{ Name string } `json:"raw_columns"`
	Features   []struct{ Name string } `json:"features"`
	Target     struct{ Name string }   `json:"target"`
	Digest     struct {
		SHA256 string `json:"sha256"`
	} `json:"digest"`
	Split struct {
		TrainRows int `json:"train_rows"`
		TestRows  int `json:"test_rows"`
	} `json:"split"`
}

func TestSourcesJSONAgreesWithCode(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "data", "sources.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s sourcesJSON
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("data/sources.json: %v", err)
	}
	if len(s.Sources) != 2 || s.Sources[0].SHA256 != dataset.RawSHA256 || s.Sources[1].SHA256 != dataset.ArchiveSHA256 ||
		s.Sources[1].Member != dataset.ArchiveMember ||
		!slices.Equal(s.Sources[1].URLs, []string{dataset.ArchiveURL, dataset.ArchiveOriginURL}) {
		t.Errorf("sources in data/sources.json differ from the package's constants: %+v", s.Sources)
	}
	var names []string
	for _, f := range s.Features {
		names = append(names, f.Name)
	}
	if !slices.Equal(names, dataset.FeatureNames[:]) || s.Target.Name != dataset.TargetName {
		t.Errorf("features %v target %s, package has %v %s", names, s.Target.Name, dataset.FeatureNames, dataset.TargetName)
	}
	names = names[:0]
	for _, c := range s.RawColumns {
		names = append(names, c.Name)
	}
	if !slices.Equal(names, dataset.RawNames[:]) {
		t.Errorf("raw columns %v, package has %v", names, dataset.RawNames)
	}
	train, test, err := dataset.TrainTestSplit(s.Rows, 0.2, 42)
	if err != nil || len(train) != s.Split.TrainRows || len(test) != s.Split.TestRows {
		t.Errorf("split of %d rows: %d/%d (%v), sources.json says %d/%d", s.Rows, len(train), len(test), err, s.Split.TrainRows, s.Split.TestRows)
	}
	if p, ok := dataset.SharedDataPath(); ok {
		d, err := dataset.Load(t.Context(), p, dataset.LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if d.Rows() != s.Rows || d.Digest() != s.Digest.SHA256 {
			t.Errorf("shared data: %d rows digest %s; sources.json says %d rows digest %s", d.Rows(), d.Digest(), s.Rows, s.Digest.SHA256)
		}
	}
}
