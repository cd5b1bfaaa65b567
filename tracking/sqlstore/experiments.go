package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"math"
	"strconv"

	"github.com/mlops-lab/housing/tracking"
)

// parseExperimentID turns a wire experiment id into the integer key; "" means the
// Default experiment, as in MLflow. Anything else that is not an integer the
// schema can hold is RESOURCE_DOES_NOT_EXIST, as MLflow answers.
func parseExperimentID(id string) (int64, error) {
	if id == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil || n < 0 || n > math.MaxInt32 {
		return 0, experimentNotFound(id)
	}
	return n, nil
}

func experimentNotFound(id string) error {
	return tracking.Errorf(tracking.ErrResourceDoesNotExist, "No Experiment with id=%s exists", id)
}

const experimentColumns = `experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time`

func scanExperiment(r rowScanner) (*tracking.Experiment, error) {
	var (
		e          tracking.Experiment
		id         int64
		loc, stage sql.NullString
		ct, ut     sql.NullInt64
	)
	if err := r.Scan(&id, &e.Name, &loc, &stage, &ct, &ut); err != nil {
		return nil, err
	}
	e.ID = strconv.FormatInt(id, 10)
	e.ArtifactLocation, e.LifecycleStage = loc.String, tracking.LifecycleStage(stage.String)
	e.CreationTime, e.LastUpdateTime = ct.Int64, ut.Int64
	return &e, nil
}

// CreateExperiment creates an experiment; see tracking.ExperimentStore.
func (s *Store) CreateExperiment(ctx context.Context, name, artifactLocation string, tags []tracking.Tag) (string, error) {
	if err := tracking.ValidateExperimentName(name); err != nil {
		return "", err
	}
	// As MLflow's store: a relative path is taken from the working directory
	// ("" means the default location, <root>/<id>).
	var err error
	if artifactLocation != "" {
		if artifactLocation, err = tracking.ResolveURIIfLocal(artifactLocation); err != nil {
			return "", err
		}
	}
	if err := tracking.ValidateFieldLength("artifact_location", tracking.MaxArtifactLocationLength, artifactLocation); err != nil {
		return "", err
	}
	for _, t := range tags {
		if err := tracking.ValidateExperimentTag(t); err != nil {
			return "", err
		}
	}
	var id int64
	err = s.inTx(ctx, func(tx *txn) error {
		var err error
		id, err = createExperiment(ctx, tx, name, artifactLocation, tags)
		return err
	})
	return strconv.FormatInt(id, 10), err
}

func createExperiment(ctx context.Context, tx *txn, name, artifactLocation string, tags []tracking.Tag) (int64, error) {
	if err := refuseNUL([]any{name, artifactLocation}); err != nil {
		return 0, err
	}
	now := tx.s.nowMillis()
	var id int64
	err := tx.queryRow(ctx, `INSERT INTO experiments (name, artifact_location, lifecycle_stage, creation_time, last_update_time)
		VALUES (?, ?, 'active', ?, ?) RETURNING experiment_id`, name, artifactLocation, now, now).Scan(&id)
	if isUnique(err) {
		return 0, tracking.Errorf(tracking.ErrResourceAlreadyExists, "Experiment(name=%s) already exists.", name)
	}
	if err != nil {
		return 0, dbError(err, "create experiment "+strconv.Quote(name))
	}
	if artifactLocation == "" {
		if _, err := tx.exec(ctx, `UPDATE experiments SET artifact_location = ? WHERE experiment_id = ?`,
			tx.s.artifactLocation(id), id); err != nil {
			return 0, dbError(err, "set artifact location")
		}
	}
	rows := make([][]any, 0, len(tags))
	for _, t := range dedupeTags(tags) {
		rows = append(rows, []any{t.Key, t.Value, id})
	}
	return id, tx.insertRows(ctx, "experiment_tags", []string{`"key"`, "value", "experiment_id"}, rows, "")
}

// dedupeTags keeps the last value of each key, in first-seen key order.
func dedupeTags(tags []tracking.Tag) []tracking.Tag {
	idx := make(map[string]int, len(tags))
	out := make([]tracking.Tag, 0, len(tags))
	for _, t := range tags {
		if i, ok := idx[t.Key]; ok {
			out[i].Value = t.Value
			continue
		}
		idx[t.Key] = len(out)
		out = append(out, t)
	}
	return out
}

// GetExperiment returns an experiment with its tags; see tracking.ExperimentStore.
func (s *Store) GetExperiment(ctx context.Context, id string) (*tracking.Experiment, error) {
	n, err := parseExperimentID(id)
	if err != nil {
		return nil, err
	}
	var e *tracking.Experiment
	err = s.readTx(ctx, func(tx *txn) error {
		var err error
		if e, err = getExperiment(ctx, tx, n); err != nil {
			return err
		}
		return loadExperimentTags(ctx, tx, []*tracking.Experiment{e})
	})
	return e, err
}

// GetExperimentByName returns RESOURCE_DOES_NOT_EXIST for an unknown name.
func (s *Store) GetExperimentByName(ctx context.Context, name string) (*tracking.Experiment, error) {
	var e *tracking.Experiment
	err := s.readTx(ctx, func(tx *txn) error {
		var err error
		e, err = scanExperiment(tx.queryRow(ctx, `SELECT `+experimentColumns+` FROM experiments WHERE name = ?`, name))
		if errors.Is(err, sql.ErrNoRows) {
			return tracking.Errorf(tracking.ErrResourceDoesNotExist, "Could not find experiment with name '%s'", name)
		}
		if err != nil {
			return dbError(err, "get experiment by name")
		}
		return loadExperimentTags(ctx, tx, []*tracking.Experiment{e})
	})
	return e, err
}

func getExperiment(ctx context.Context, tx *txn, id int64) (*tracking.Experiment, error) {
	e, err := scanExperiment(tx.queryRow(ctx, `SELECT `+experimentColumns+` FROM experiments WHERE experiment_id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, experimentNotFound(strconv.FormatInt(id, 10))
	}
	return e, dbError(err, "get experiment")
}

func loadExperimentTags(ctx context.Context, tx *txn, exps []*tracking.Experiment) error {
	if len(exps) == 0 {
		return nil
	}
	byID := make(map[string]*tracking.Experiment, len(exps))
	ids := make([]any, 0, len(exps))
	for _, e := range exps {
		byID[e.ID] = e
		n, _ := strconv.ParseInt(e.ID, 10, 64)
		ids = append(ids, n)
	}
	return chunks(ids, maxVars, func(part []any) error {
		rows, err := tx.query(ctx, `SELECT experiment_id, "key", value FROM experiment_tags WHERE experiment_id IN (`+
			inList(len(part))+`) ORDER BY experiment_id, "key"`, part...)
		if err != nil {
			return dbError(err, "load experiment tags")
		}
		defer rows.Close()
		for rows.Next() {
			var (
				id    int64
				t     tracking.Tag
				value sql.NullString
			)
			if err := rows.Scan(&id, &t.Key, &value); err != nil {
				return dbError(err, "load experiment tags")
			}
			t.Value = value.String
			if e := byID[strconv.FormatInt(id, 10)]; e != nil {
				e.Tags = append(e.Tags, t)
			}
		}
		return dbError(rows.Err(), "load experiment tags")
	})
}

// RenameExperiment renames an active experiment.
func (s *Store) RenameExperiment(ctx context.Context, id, newName string) error {
	if err := tracking.ValidateExperimentName(newName); err != nil {
		return err
	}
	n, err := parseExperimentID(id)
	if err != nil {
		return err
	}
	return s.inTx(ctx, func(tx *txn) error {
		e, err := getExperiment(ctx, tx, n)
		if err != nil {
			return err
		}
		if e.LifecycleStage != tracking.LifecycleActive {
			return tracking.Errorf(tracking.ErrInvalidState, "Cannot rename a non-active experiment.")
		}
		_, err = tx.exec(ctx, `UPDATE experiments SET name = ?, last_update_time = ? WHERE experiment_id = ?`,
			newName, s.nowMillis(), n)
		if isUnique(err) {
			return tracking.Errorf(tracking.ErrResourceAlreadyExists, "Experiment(name=%s) already exists.", newName)
		}
		return dbError(err, "rename experiment")
	})
}

// DeleteExperiment moves an active experiment and all its runs to the deleted stage.
func (s *Store) DeleteExperiment(ctx context.Context, id string) error {
	return s.setExperimentStage(ctx, id, tracking.LifecycleActive, tracking.LifecycleDeleted)
}

// RestoreExperiment moves a deleted experiment and all its runs back to active.
func (s *Store) RestoreExperiment(ctx context.Context, id string) error {
	return s.setExperimentStage(ctx, id, tracking.LifecycleDeleted, tracking.LifecycleActive)
}

func (s *Store) setExperimentStage(ctx context.Context, id string, from, to tracking.LifecycleStage) error {
	n, err := parseExperimentID(id)
	if err != nil {
		return err
	}
	return s.inTx(ctx, func(tx *txn) error {
		e, err := getExperiment(ctx, tx, n)
		if err != nil {
			return err
		}
		if e.LifecycleStage != from {
			return experimentNotFound(id)
		}
		now := s.nowMillis()
		if _, err := tx.exec(ctx, `UPDATE experiments SET lifecycle_stage = ?, last_update_time = ? WHERE experiment_id = ?`,
			string(to), now, n); err != nil {
			return dbError(err, "update experiment")
		}
		var deletedTime any
		if to == tracking.LifecycleDeleted {
			deletedTime = now
		}
		_, err = tx.exec(ctx, `UPDATE runs SET lifecycle_stage = ?, deleted_time = ? WHERE experiment_id = ?`,
			string(to), deletedTime, n)
		return dbError(err, "update the experiment's runs")
	})
}

// SetExperimentTag sets a tag on an active experiment.
func (s *Store) SetExperimentTag(ctx context.Context, id, key, value string) error {
	if err := tracking.ValidateExperimentTag(tracking.Tag{Key: key, Value: value}); err != nil {
		return err
	}
	n, err := parseExperimentID(id)
	if err != nil {
		return err
	}
	return s.inTx(ctx, func(tx *txn) error {
		if err := activeExperiment(ctx, tx, n); err != nil {
			return err
		}
		_, err := tx.exec(ctx, `INSERT INTO experiment_tags ("key", value, experiment_id) VALUES (?, ?, ?)
			ON CONFLICT ("key", experiment_id) DO UPDATE SET value = excluded.value`, key, value, n)
		return dbError(err, "set experiment tag")
	})
}

// DeleteExperimentTag removes a tag; RESOURCE_DOES_NOT_EXIST when it is not set.
func (s *Store) DeleteExperimentTag(ctx context.Context, id, key string) error {
	n, err := parseExperimentID(id)
	if err != nil {
		return err
	}
	return s.inTx(ctx, func(tx *txn) error {
		if err := activeExperiment(ctx, tx, n); err != nil {
			return err
		}
		res, err := tx.exec(ctx, `DELETE FROM experiment_tags WHERE experiment_id = ? AND "key" = ?`, n, key)
		if err != nil {
			return dbError(err, "delete experiment tag")
		}
		if k, _ := res.RowsAffected(); k == 0 {
			return tracking.Errorf(tracking.ErrResourceDoesNotExist, "No tag with name: %s in experiment with id %s", key, id)
		}
		return nil
	})
}

func activeExperiment(ctx context.Context, tx *txn, id int64) error {
	e, err := getExperiment(ctx, tx, id)
	if err != nil {
		return err
	}
	return checkExperimentActive(e)
}

func checkExperimentActive(e *tracking.Experiment) error {
	if e.LifecycleStage != tracking.LifecycleActive {
		return tracking.Errorf(tracking.ErrInvalidParameterValue,
			"The experiment %s must be in the 'active' state. Current state is %s.", e.ID, e.LifecycleStage)
	}
	return nil
}
