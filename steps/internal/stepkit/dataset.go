package stepkit

import (
	"encoding/json"
	"path/filepath"
	"strings"

	"github.com/mlops-lab/housing/dataset"
	"github.com/mlops-lab/housing/tracking"
)

// DatasetSchema is the MLflow column schema of the data set: eight double
// features and the double target.
func DatasetSchema() string {
	cols := make([]map[string]string, 0, dataset.NumFeatures+1)
	for _, n := range dataset.FeatureNames {
		cols = append(cols, map[string]string{"type": "double", "name": n})
	}
	cols = append(cols, map[string]string{"type": "double", "name": dataset.TargetName})
	b, _ := json.Marshal(map[string]any{"mlflow_colspec": cols})
	return string(b)
}

// DatasetInput describes data as an MLflow dataset input. digest is shortened to
// the 36 characters MLflow's schema keeps; source is a path or URL; context is
// MLflow's mlflow.data.context tag ("training", "testing", ...).
func DatasetInput(name, digest, source, context, schema, profile string) tracking.DatasetInput {
	sourceType := "local"
	if i := strings.Index(source, "://"); i > 0 {
		sourceType = source[:i]
	} else if abs, err := filepath.Abs(source); err == nil {
		source = abs
	}
	src, _ := json.Marshal(map[string]string{"uri": source})
	return tracking.DatasetInput{
		Tags: []tracking.Tag{{Key: tracking.InputTagContext, Value: context}},
		Dataset: tracking.Dataset{
			Name: name, Digest: digest[:min(len(digest), 36)], SourceType: sourceType,
			Source: string(src), Schema: schema, Profile: profile,
		},
	}
}

// RowsProfile is the MLflow dataset profile of a part of rows rows.
func RowsProfile(rows int) string {
	b, _ := json.Marshal(map[string]int{"num_rows": rows, "num_elements": rows * (dataset.NumFeatures + 1)})
	return string(b)
}

// PartInput describes a train or test part read from path as an MLflow dataset
// input, named and digested as ingest names them, so that the ingest run and
// the training runs share one dataset record.
func PartInput(d *dataset.Dataset, path, context string) tracking.DatasetInput {
	name := "california-housing-" + map[string]string{"training": "train", "testing": "test"}[context]
	return DatasetInput(name, d.Digest(), path, context, DatasetSchema(), RowsProfile(d.Rows()))
}
