package sqlstore

import (
	"context"
	"database/sql"
	"strconv"

	"github.com/mlops-lab/housing/tracking"
)

// LogInputs records the data sets an active run used. Data sets are kept once per
// (experiment, name, digest); an input already logged on the run is not repeated.
func (s *Store) LogInputs(ctx context.Context, runID string, inputs []tracking.DatasetInput) error {
	if err := tracking.ValidateRunID(runID); err != nil {
		return err
	}
	if err := tracking.ValidateDatasetInputs(inputs); err != nil {
		return err
	}
	return s.inTx(ctx, func(tx *txn) error { return logInputs(ctx, tx, runID, inputs) })
}

type nameDigest struct{ name, digest string }

func logInputs(ctx context.Context, tx *txn, runID string, inputs []tracking.DatasetInput) error {
	info, err := activeRun(ctx, tx, runID)
	if err != nil {
		return err
	}
	if len(inputs) == 0 {
		return nil
	}
	// The first input of each (name, digest) wins, as in MLflow.
	var unique []tracking.DatasetInput
	seen := map[nameDigest]bool{}
	for _, in := range inputs {
		k := nameDigest{in.Dataset.Name, in.Dataset.Digest}
		if !seen[k] {
			seen[k] = true
			unique = append(unique, in)
		}
	}
	expID, _ := parseExperimentID(info.ExperimentID)
	uuids := map[nameDigest]string{}
	names := make([]any, len(unique))
	for i, in := range unique {
		names[i] = in.Dataset.Name
	}
	err = eachRow(ctx, tx, `SELECT name, digest, dataset_uuid FROM datasets WHERE experiment_id = ? AND name IN (`+
		inList(len(names))+`)`, append([]any{expID}, names...), func(r *sql.Rows) error {
		var k nameDigest
		var id string
		if err := r.Scan(&k.name, &k.digest, &id); err != nil {
			return err
		}
		uuids[k] = id
		return nil
	})
	if err != nil {
		return dbError(err, "find datasets")
	}
	var datasetRows [][]any
	for _, in := range unique {
		k := nameDigest{in.Dataset.Name, in.Dataset.Digest}
		if _, ok := uuids[k]; ok {
			continue
		}
		id := newID()
		uuids[k] = id
		d := in.Dataset
		datasetRows = append(datasetRows, []any{id, expID, d.Name, d.Digest, d.SourceType, d.Source, nullString(d.Schema), nullString(d.Profile)})
	}
	if err := tx.insertRows(ctx, "datasets", []string{"dataset_uuid", "experiment_id", "name", "digest",
		"dataset_source_type", "dataset_source", "dataset_schema", "dataset_profile"}, datasetRows, ""); err != nil {
		return err
	}
	linked := map[string]bool{}
	if err := eachRow(ctx, tx, `SELECT source_id FROM inputs WHERE destination_type = 'RUN' AND destination_id = ? AND source_type = 'DATASET'`,
		[]any{runID}, func(r *sql.Rows) error {
			var id string
			if err := r.Scan(&id); err != nil {
				return err
			}
			linked[id] = true
			return nil
		}); err != nil {
		return dbError(err, "find inputs")
	}
	var inputRows, tagRows [][]any
	for _, in := range unique {
		datasetID := uuids[nameDigest{in.Dataset.Name, in.Dataset.Digest}]
		if linked[datasetID] {
			continue
		}
		inputID := newID()
		inputRows = append(inputRows, []any{inputID, "DATASET", datasetID, "RUN", runID})
		for _, t := range dedupeTags(in.Tags) {
			tagRows = append(tagRows, []any{inputID, t.Key, t.Value})
		}
	}
	if err := tx.insertRows(ctx, "inputs", []string{"input_uuid", "source_type", "source_id", "destination_type", "destination_id"}, inputRows, ""); err != nil {
		return err
	}
	return tx.insertRows(ctx, "input_tags", []string{"input_uuid", "name", "value"}, tagRows, "")
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// inputsQuery reads the data set inputs of the runs of a part (see
// eachRunPart) into runs, whose places index gives by run id.
func inputsQuery(d dialect, ids []any, runs []tracking.Run, index map[string]int) rowQuery {
	in := `IN (` + inList(len(ids)) + `)`
	if d == dialectPostgres {
		in = `= ANY($1::text[])`
	}
	type key struct{ run, input string }
	seen := map[key]int{} // input's place in its run's Inputs
	query := `SELECT i.destination_id, i.input_uuid, d.name, d.digest, d.dataset_source_type, d.dataset_source,
			d.dataset_schema, d.dataset_profile, t.name, t.value
		FROM inputs i JOIN datasets d ON d.dataset_uuid = i.source_id
		LEFT JOIN input_tags t ON t.input_uuid = i.input_uuid
		WHERE i.destination_type = 'RUN' AND i.source_type = 'DATASET' AND i.destination_id ` + in + `
		ORDER BY i.destination_id, d.name, d.digest, i.input_uuid, t.name`
	return rowQuery{"load inputs", query, ids, func(r rowScanner) error {
		var (
			runID, inputID    string
			d                 tracking.Dataset
			schema, profile   sql.NullString
			tagName, tagValue sql.NullString
		)
		if err := r.Scan(&runID, &inputID, &d.Name, &d.Digest, &d.SourceType, &d.Source, &schema, &profile, &tagName, &tagValue); err != nil {
			return err
		}
		at, ok := index[runID]
		if !ok {
			return nil
		}
		run := &runs[at]
		k := key{runID, inputID}
		i, ok := seen[k]
		if !ok {
			d.Schema, d.Profile = schema.String, profile.String
			i = len(run.Inputs)
			seen[k] = i
			run.Inputs = append(run.Inputs, tracking.DatasetInput{Dataset: d})
		}
		if tagName.Valid {
			run.Inputs[i].Tags = append(run.Inputs[i].Tags, tracking.Tag{Key: tagName.String, Value: tagValue.String})
		}
		return nil
	}}
}

// SearchDatasets lists the distinct (experiment, name, digest, context) of the
// data sets that runs of the experiments used, as MLflow's _search_datasets: the
// context is the input's InputTagContext tag, "" without one. Ordered by
// experiment, name, digest and context so that the answer is stable.
func (s *Store) SearchDatasets(ctx context.Context, experimentIDs []string) ([]tracking.DatasetSummary, error) {
	if len(experimentIDs) > tracking.MaxSearchDatasetsExperiments {
		return nil, tracking.Errorf(tracking.ErrInvalidParameterValue,
			"SearchDatasets request cannot specify more than %d experiment_ids. Received %d experiment_ids.",
			tracking.MaxSearchDatasetsExperiments, len(experimentIDs))
	}
	if len(experimentIDs) == 0 {
		return nil, nil
	}
	ids, err := experimentIDArgs(experimentIDs)
	if err != nil {
		return nil, err
	}
	var out []tracking.DatasetSummary
	err = s.readTx(ctx, func(tx *txn) error {
		return eachRow(ctx, tx, `SELECT DISTINCT d.experiment_id, d.name, d.digest, COALESCE(t.value, '') AS context
			FROM datasets d JOIN inputs i ON i.source_id = d.dataset_uuid
			LEFT JOIN input_tags t ON t.input_uuid = i.input_uuid AND t.name = ?
			WHERE d.experiment_id IN (`+inList(len(ids))+`)
			ORDER BY d.experiment_id, d.name, d.digest, context
			LIMIT `+strconv.Itoa(tracking.MaxDatasetSummaries), append([]any{tracking.InputTagContext}, ids...), func(r *sql.Rows) error {
			var d tracking.DatasetSummary
			var expID int64
			if err := r.Scan(&expID, &d.Name, &d.Digest, &d.Context); err != nil {
				return err
			}
			d.ExperimentID = strconv.FormatInt(expID, 10)
			out = append(out, d)
			return nil
		})
	})
	if err != nil {
		return nil, dbError(err, "search datasets")
	}
	return out, nil
}
