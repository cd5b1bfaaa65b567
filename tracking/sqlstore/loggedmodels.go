package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/search"
)

var _ tracking.LoggedModelStore = (*Store)(nil)

const loggedModelColumns = `model_id, experiment_id, name, artifact_location, creation_timestamp_ms, ` +
	`last_updated_timestamp_ms, status, lifecycle_stage, model_type, source_run_id, status_message`

// The inputs table links runs and logged models as MLflow 3 does: a run's
// outputs are RUN_OUTPUT -> MODEL_OUTPUT edges (with the step), the models it
// used RUN_INPUT -> MODEL_INPUT ones.
const (
	inputRunOutput   = "RUN_OUTPUT"
	inputModelOutput = "MODEL_OUTPUT"
	inputRunInput    = "RUN_INPUT"
	inputModelInput  = "MODEL_INPUT"
)

// requireLoggedModels refuses logged-model calls on a database without
// MLflow 3's tables (one at MLflow 2.17.2's revision), naming the upgrade.
func (s *Store) requireLoggedModels() error { return s.schema.RequireMLflow3("Logged models") }

func loggedModelNotFound(id string) error {
	return tracking.Errorf(tracking.ErrResourceDoesNotExist, "Logged model with ID '%s' not found.", id)
}

func scanLoggedModel(r rowScanner) (*tracking.LoggedModel, error) {
	var (
		m                                   tracking.LoggedModel
		expID, status                       int64
		stage, modelType, runID, statusText sql.NullString
	)
	if err := r.Scan(&m.ModelID, &expID, &m.Name, &m.ArtifactLocation, &m.CreationTimestamp,
		&m.LastUpdatedTimestamp, &status, &stage, &modelType, &runID, &statusText); err != nil {
		return nil, err
	}
	m.ExperimentID = strconv.FormatInt(expID, 10)
	m.Status, _ = tracking.LoggedModelStatusFromInt(status)
	m.LifecycleStage = tracking.LifecycleStage(stage.String)
	m.ModelType, m.SourceRunID, m.StatusMessage = modelType.String, runID.String, statusText.String
	return &m, nil
}

// CreateLoggedModel creates a PENDING model; see tracking.LoggedModelStore.
// An absent model type or source run is stored as "", as MLflow's REST
// handler passes them on.
func (s *Store) CreateLoggedModel(ctx context.Context, in tracking.CreateLoggedModel) (*tracking.LoggedModel, error) {
	if err := s.requireLoggedModels(); err != nil {
		return nil, err
	}
	if err := validateLoggedModelName(in.Name); err != nil {
		return nil, err
	}
	expID, err := parseExperimentID(in.ExperimentID)
	if err != nil {
		return nil, err
	}
	name := in.Name
	if name == "" {
		name = s.runName()
	}
	var m *tracking.LoggedModel
	err = s.inTx(ctx, func(tx *txn) error {
		exp, err := getExperiment(ctx, tx, expID)
		if err != nil {
			return err
		}
		if err := checkExperimentActive(exp); err != nil {
			return err
		}
		id := "m-" + strings.ReplaceAll(uuid.NewString(), "-", "")
		now := s.nowMillis()
		if _, err := tx.exec(ctx, `INSERT INTO logged_models (`+loggedModelColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, 'active', ?, ?, NULL)`,
			id, expID, name, joinURI(exp.ArtifactLocation, tracking.LoggedModelsFolder, id, tracking.LoggedModelArtifacts),
			now, now, tracking.LoggedModelPending.Int(), in.ModelType, in.SourceRunID); err != nil {
			return dbError(err, "create logged model")
		}
		if err := insertModelParams(ctx, tx, id, expID, in.Params); err != nil {
			return err
		}
		if err := upsertModelTags(ctx, tx, id, expID, in.Tags); err != nil {
			return err
		}
		m, err = getLoggedModel(ctx, tx, id, false)
		return err
	})
	return m, err
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// validateLoggedModelName applies MLflow's _validate_logged_model_name: no
// '/', ':', '.', '%', '"' or "'" (the name ends up in URIs and paths).
func validateLoggedModelName(name string) error {
	if strings.ContainsAny(name, `/:.%"'`) {
		return tracking.Errorf(tracking.ErrInvalidParameterValue,
			"Invalid model name ('%s') provided. Model name must be a non-empty string and cannot contain the following characters: ('/', ':', '.', '%%', '\"', \"'\")", name)
	}
	return tracking.ValidateFieldLength("name", tracking.MaxLoggedModelNameLength, name)
}

func insertModelParams(ctx context.Context, tx *txn, modelID string, expID int64, params []tracking.Param) error {
	rows := make([][]any, 0, len(params))
	seen := map[string]bool{}
	for _, p := range params {
		if !seen[p.Key] {
			seen[p.Key] = true
			rows = append(rows, []any{modelID, expID, p.Key, p.Value})
		}
	}
	// MLflow fails on a key logged twice (its primary key); the value first
	// logged stays here, as for run params logged again with the same value.
	return tx.insertRows(ctx, "logged_model_params", []string{"model_id", "experiment_id", "param_key", "param_value"}, rows,
		"ON CONFLICT (model_id, param_key) DO NOTHING")
}

func upsertModelTags(ctx context.Context, tx *txn, modelID string, expID int64, tags []tracking.Tag) error {
	tags = dedupeTags(tags)
	rows := make([][]any, len(tags))
	for i, t := range tags {
		rows[i] = []any{modelID, expID, t.Key, t.Value}
	}
	return tx.insertRows(ctx, "logged_model_tags", []string{"model_id", "experiment_id", "tag_key", "tag_value"}, rows,
		"ON CONFLICT (model_id, tag_key) DO UPDATE SET tag_value = excluded.tag_value")
}

// GetLoggedModel returns a model with its tags, params and metrics; see
// tracking.LoggedModelStore.
func (s *Store) GetLoggedModel(ctx context.Context, modelID string, allowDeleted bool) (*tracking.LoggedModel, error) {
	if err := s.requireLoggedModels(); err != nil {
		return nil, err
	}
	var m *tracking.LoggedModel
	err := s.readTx(ctx, func(tx *txn) error {
		var err error
		m, err = getLoggedModel(ctx, tx, modelID, allowDeleted)
		return err
	})
	return m, err
}

func getLoggedModel(ctx context.Context, tx *txn, modelID string, allowDeleted bool) (*tracking.LoggedModel, error) {
	m, err := scanLoggedModel(tx.queryRow(ctx, `SELECT `+loggedModelColumns+` FROM logged_models WHERE model_id = ?`, modelID))
	if errors.Is(err, sql.ErrNoRows) || (err == nil && !allowDeleted && m.LifecycleStage == tracking.LifecycleDeleted) {
		return nil, loggedModelNotFound(modelID)
	}
	if err != nil {
		return nil, dbError(err, "get logged model")
	}
	if err := loadLoggedModelData(ctx, tx, []*tracking.LoggedModel{m}); err != nil {
		return nil, err
	}
	return m, nil
}

// loggedModelRecord returns the experiment of a model, deleted or not, as
// MLflow's _get_logged_model_record finds models for writes.
func loggedModelRecord(ctx context.Context, tx *txn, modelID string) (int64, error) {
	var expID int64
	err := tx.queryRow(ctx, `SELECT experiment_id FROM logged_models WHERE model_id = ?`, modelID).Scan(&expID)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, loggedModelNotFound(modelID)
	}
	return expID, dbError(err, "get logged model")
}

// loadLoggedModelData reads the tags, params and metrics of models. Tags and
// params are sorted by key; metrics by key, timestamp, step and run.
func loadLoggedModelData(ctx context.Context, tx *txn, models []*tracking.LoggedModel) error {
	if len(models) == 0 {
		return nil
	}
	byID := make(map[string]*tracking.LoggedModel, len(models))
	ids := make([]any, 0, len(models))
	for _, m := range models {
		byID[m.ModelID] = m
		ids = append(ids, m.ModelID)
	}
	return chunks(ids, maxVars, func(part []any) error {
		in := ` WHERE model_id IN (` + inList(len(part)) + `)`
		if err := eachRow(ctx, tx, `SELECT model_id, tag_key, tag_value FROM logged_model_tags`+in, part, func(r *sql.Rows) error {
			var id string
			var t tracking.Tag
			if err := r.Scan(&id, &t.Key, &t.Value); err != nil {
				return err
			}
			byID[id].Tags = append(byID[id].Tags, t)
			return nil
		}); err != nil {
			return dbError(err, "load logged model tags")
		}
		if err := eachRow(ctx, tx, `SELECT model_id, param_key, param_value FROM logged_model_params`+in, part, func(r *sql.Rows) error {
			var id string
			var p tracking.Param
			if err := r.Scan(&id, &p.Key, &p.Value); err != nil {
				return err
			}
			byID[id].Params = append(byID[id].Params, p)
			return nil
		}); err != nil {
			return dbError(err, "load logged model params")
		}
		if err := eachRow(ctx, tx, `SELECT model_id, metric_name, metric_value, metric_timestamp_ms, metric_step, run_id, dataset_name, dataset_digest
			FROM logged_model_metrics`+in, part, func(r *sql.Rows) error {
			var (
				m            tracking.Metric
				value        sql.NullFloat64
				name, digest sql.NullString
			)
			if err := r.Scan(&m.ModelID, &m.Key, &value, &m.Timestamp, &m.Step, &m.RunID, &name, &digest); err != nil {
				return err
			}
			// MLflow keeps NaN as NULL here (metric_value is nullable).
			m.Value = value.Float64
			if !value.Valid {
				m.Value = math.NaN()
			}
			m.DatasetName, m.DatasetDigest = name.String, digest.String
			byID[m.ModelID].Metrics = append(byID[m.ModelID].Metrics, m)
			return nil
		}); err != nil {
			return dbError(err, "load logged model metrics")
		}
		for _, id := range part {
			m := byID[id.(string)]
			slices.SortFunc(m.Tags, func(a, b tracking.Tag) int { return strings.Compare(a.Key, b.Key) })
			slices.SortFunc(m.Params, func(a, b tracking.Param) int { return strings.Compare(a.Key, b.Key) })
			slices.SortStableFunc(m.Metrics, func(a, b tracking.Metric) int {
				if c := strings.Compare(a.Key, b.Key); c != 0 {
					return c
				}
				if a.Timestamp != b.Timestamp {
					return int(a.Timestamp - b.Timestamp)
				}
				if a.Step != b.Step {
					return int(a.Step - b.Step)
				}
				return strings.Compare(a.RunID, b.RunID)
			})
		}
		return nil
	})
}

// FinalizeLoggedModel sets a model's status; see tracking.LoggedModelStore.
func (s *Store) FinalizeLoggedModel(ctx context.Context, modelID string, status tracking.LoggedModelStatus) (*tracking.LoggedModel, error) {
	if err := s.requireLoggedModels(); err != nil {
		return nil, err
	}
	var m *tracking.LoggedModel
	err := s.inTx(ctx, func(tx *txn) error {
		if err := s.touchLoggedModel(ctx, tx, modelID, `status = ?`, status.Int()); err != nil {
			return err
		}
		var err error
		m, err = getLoggedModel(ctx, tx, modelID, true)
		return err
	})
	return m, err
}

// touchLoggedModel sets columns of a model (deleted or not) and its last
// update time.
func (s *Store) touchLoggedModel(ctx context.Context, tx *txn, modelID, set string, args ...any) error {
	args = append(args, s.nowMillis(), modelID)
	res, err := tx.exec(ctx, `UPDATE logged_models SET `+set+`, last_updated_timestamp_ms = ? WHERE model_id = ?`, args...)
	if err != nil {
		return dbError(err, "update logged model")
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return loggedModelNotFound(modelID)
	}
	return nil
}

// DeleteLoggedModel moves a model to the deleted stage; see
// tracking.LoggedModelStore.
func (s *Store) DeleteLoggedModel(ctx context.Context, modelID string) error {
	if err := s.requireLoggedModels(); err != nil {
		return err
	}
	return s.inTx(ctx, func(tx *txn) error {
		return s.touchLoggedModel(ctx, tx, modelID, `lifecycle_stage = ?`, string(tracking.LifecycleDeleted))
	})
}

// SetLoggedModelTags sets tags on a model; see tracking.LoggedModelStore.
func (s *Store) SetLoggedModelTags(ctx context.Context, modelID string, tags []tracking.Tag) error {
	if err := s.requireLoggedModels(); err != nil {
		return err
	}
	for _, t := range tags {
		if err := tracking.ValidateTag("", t); err != nil {
			return err
		}
	}
	return s.inTx(ctx, func(tx *txn) error {
		expID, err := loggedModelRecord(ctx, tx, modelID)
		if err != nil {
			return err
		}
		return upsertModelTags(ctx, tx, modelID, expID, tags)
	})
}

// DeleteLoggedModelTag removes a tag; see tracking.LoggedModelStore.
func (s *Store) DeleteLoggedModelTag(ctx context.Context, modelID, key string) error {
	if err := s.requireLoggedModels(); err != nil {
		return err
	}
	return s.inTx(ctx, func(tx *txn) error {
		if _, err := loggedModelRecord(ctx, tx, modelID); err != nil {
			return err
		}
		res, err := tx.exec(ctx, `DELETE FROM logged_model_tags WHERE model_id = ? AND tag_key = ?`, modelID, key)
		if err != nil {
			return dbError(err, "delete logged model tag")
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return tracking.Errorf(tracking.ErrResourceDoesNotExist, "No tag with key %s found for model with ID %s.",
				pyStr(key), pyStr(modelID))
		}
		return nil
	})
}

// pyStr quotes s as Python's repr of a str does, for MLflow's messages.
func pyStr(s string) string {
	if strings.Contains(s, "'") && !strings.Contains(s, `"`) {
		return `"` + s + `"`
	}
	return "'" + strings.ReplaceAll(s, "'", `\'`) + "'"
}

// LogLoggedModelParams adds params to a model; see tracking.LoggedModelStore.
func (s *Store) LogLoggedModelParams(ctx context.Context, modelID string, params []tracking.Param) error {
	if err := s.requireLoggedModels(); err != nil {
		return err
	}
	return s.inTx(ctx, func(tx *txn) error {
		expID, err := loggedModelRecord(ctx, tx, modelID)
		if err != nil {
			return err
		}
		return insertModelParams(ctx, tx, modelID, expID, params)
	})
}

// SearchLoggedModels returns a page of the experiments' active models; see
// tracking.LoggedModelStore.
func (s *Store) SearchLoggedModels(ctx context.Context, q tracking.LoggedModelQuery) (tracking.Page[tracking.LoggedModel], error) {
	var page tracking.Page[tracking.LoggedModel]
	if err := s.requireLoggedModels(); err != nil {
		return page, err
	}
	for _, d := range q.Datasets {
		if d.Name == "" {
			return page, tracking.Errorf(tracking.ErrInvalidParameterValue, "`dataset_name` in the `datasets` clause must be specified.")
		}
	}
	offset, err := search.DecodeLoggedModelPageToken(q)
	if err != nil {
		return page, err
	}
	limit := q.MaxResults
	if limit <= 0 {
		limit = tracking.DefaultLoggedModelSearchResults
	}
	filter, err := search.ParseLoggedModelFilter(q.Filter)
	if err != nil {
		return page, err
	}
	order, err := search.ParseLoggedModelOrder(q.OrderBy)
	if err != nil {
		return page, err
	}
	expIDs, err := experimentIDArgs(q.ExperimentIDs)
	if err != nil || len(expIDs) == 0 {
		return page, err
	}
	p := &params{d: s.dialect}
	prefix := `SELECT ` + prefixColumns("logged_models.", loggedModelColumns) +
		` FROM logged_models WHERE logged_models.lifecycle_stage <> 'deleted' AND logged_models.experiment_id IN (` + p.list(expIDs) + `) AND `
	compiled, err := search.CompileLoggedModels(filter, q.Datasets, order, s.searchDialect(), p.n+1)
	if err != nil {
		return page, tracking.Errorf(tracking.ErrInvalidParameterValue, "%v", err)
	}
	p.args = append(p.args, compiled.Args...)
	p.args = append(p.args, compiled.OrderArgs...)
	p.n = compiled.NextArg - 1
	// One more than a page tells whether there is a next one, as MLflow asks.
	query := prefix + compiled.Where + ` ORDER BY ` + compiled.OrderBy + ` LIMIT ` + p.add(limit+1) + ` OFFSET ` + p.add(offset)
	err = s.readTx(ctx, func(tx *txn) error {
		var models []*tracking.LoggedModel
		if err := eachRowRaw(ctx, tx, query, p.args, func(r *sql.Rows) error {
			m, err := scanLoggedModel(r)
			if err == nil {
				models = append(models, m)
			}
			return err
		}); err != nil {
			return dbError(err, "search logged models")
		}
		if len(models) > limit {
			models = models[:limit]
			page.NextPageToken = search.EncodeLoggedModelPageToken(q, offset+limit)
		}
		if err := loadLoggedModelData(ctx, tx, models); err != nil {
			return err
		}
		for _, m := range models {
			page.Items = append(page.Items, *m)
		}
		return nil
	})
	if err != nil {
		return tracking.Page[tracking.LoggedModel]{}, err
	}
	return page, nil
}

// LogOutputs links a run to the models it produced; see
// tracking.LoggedModelStore.
func (s *Store) LogOutputs(ctx context.Context, runID string, outputs []tracking.ModelOutput) error {
	if err := s.requireLoggedModels(); err != nil {
		return err
	}
	return s.inTx(ctx, func(tx *txn) error {
		if _, err := activeRun(ctx, tx, runID); err != nil {
			return err
		}
		rows := make([][]any, len(outputs))
		for i, o := range outputs {
			rows[i] = []any{uuid.NewString(), inputRunOutput, runID, inputModelOutput, o.ModelID, o.Step}
		}
		return tx.insertRows(ctx, "inputs", []string{"input_uuid", "source_type", "source_id", "destination_type", "destination_id", "step"}, rows,
			"ON CONFLICT (source_type, source_id, destination_type, destination_id) DO UPDATE SET step = excluded.step")
	})
}

// LogModelInputs links a run to the models it used; see
// tracking.LoggedModelStore.
func (s *Store) LogModelInputs(ctx context.Context, runID string, inputs []tracking.ModelInput) error {
	if err := s.requireLoggedModels(); err != nil {
		return err
	}
	return s.inTx(ctx, func(tx *txn) error {
		if _, err := activeRun(ctx, tx, runID); err != nil {
			return err
		}
		rows := make([][]any, len(inputs))
		for i, in := range inputs {
			rows[i] = []any{uuid.NewString(), inputRunInput, runID, inputModelInput, in.ModelID}
		}
		return tx.insertRows(ctx, "inputs", []string{"input_uuid", "source_type", "source_id", "destination_type", "destination_id"}, rows,
			"ON CONFLICT DO NOTHING")
	})
}

// loadRunModels fills in the models runs used and produced, on a database
// that has them.
func loadRunModels(ctx context.Context, tx *txn, runs []tracking.Run, index map[string]int, ids []any) error {
	if !tx.s.schema.LoggedModels || len(ids) == 0 {
		return nil
	}
	return chunks(ids, maxVars-2, func(part []any) error {
		args := append([]any{inputRunOutput, inputRunInput}, part...)
		err := eachRow(ctx, tx, `SELECT source_type, source_id, destination_id, step FROM inputs
			WHERE source_type IN (?, ?) AND source_id IN (`+inList(len(part))+`) ORDER BY destination_id`, args,
			func(r *sql.Rows) error {
				var (
					typ, runID, modelID string
					step                sql.NullInt64
				)
				if err := r.Scan(&typ, &runID, &modelID, &step); err != nil {
					return err
				}
				i, ok := index[runID]
				switch {
				case !ok:
				case typ == inputRunOutput:
					runs[i].ModelOutputs = append(runs[i].ModelOutputs, tracking.ModelOutput{ModelID: modelID, Step: step.Int64})
				default:
					runs[i].ModelInputs = append(runs[i].ModelInputs, tracking.ModelInput{ModelID: modelID})
				}
				return nil
			})
		return dbError(err, "load run models")
	})
}

// logModelMetrics writes the metrics that name a logged model to the
// model's metrics too (logged_model_metrics), as MLflow 3's log_batch does.
// Values already logged (same key, timestamp, step and run) are kept.
func logModelMetrics(ctx context.Context, tx *txn, run tracking.RunInfo, metrics []tracking.Metric) error {
	var rows [][]any
	expID, _ := strconv.ParseInt(run.ExperimentID, 10, 64)
	for _, m := range metrics {
		if m.ModelID == "" {
			continue
		}
		if !tx.s.schema.LoggedModels {
			return tx.s.requireLoggedModels()
		}
		var value any = m.Value
		switch {
		case math.IsNaN(m.Value):
			value = nil
		case math.IsInf(m.Value, 1):
			value = math.MaxFloat64
		case math.IsInf(m.Value, -1):
			value = -math.MaxFloat64
		}
		rows = append(rows, []any{m.ModelID, m.Key, m.Timestamp, m.Step, value, expID, run.RunID,
			nullIfEmpty(m.DatasetName), nullIfEmpty(m.DatasetDigest)})
	}
	return tx.insertRows(ctx, "logged_model_metrics", []string{"model_id", "metric_name", "metric_timestamp_ms", "metric_step",
		"metric_value", "experiment_id", "run_id", "dataset_name", "dataset_digest"}, rows, "ON CONFLICT DO NOTHING")
}

// loggedModelURIID returns the model id of a models:/<model id> URI: one
// path part without an alias, as MLflow 3's _parse_model_uri reads it.
func loggedModelURIID(uri string) (string, bool) {
	p := tracking.ParseURI(uri).Path
	if !strings.HasPrefix(p, "/") {
		return "", false
	}
	id := strings.TrimLeft(p, "/")
	if id == "" || strings.TrimSpace(id) == "" || strings.ContainsAny(id, "/@") {
		return "", false
	}
	return id, true
}

// loggedModelSource is where a version registered from models:/<model id>
// keeps its files (the model's artifact location) and the run it comes
// from, as MLflow 3's registry finds them.
func loggedModelSource(ctx context.Context, tx *txn, source, modelID string) (location, runID string, err error) {
	if !tx.s.schema.LoggedModels {
		err = tx.s.requireLoggedModels()
	} else {
		var m *tracking.LoggedModel
		if m, err = getLoggedModel(ctx, tx, modelID, false); err == nil {
			return m.ArtifactLocation, m.SourceRunID, nil
		}
	}
	if tracking.ErrorCodeOf(err) == tracking.ErrInternal {
		return "", "", err
	}
	return "", "", tracking.Errorf(tracking.ErrInternal, "Unable to fetch model from model URI source artifact location '%s'.Error: %s",
		source, tracking.ErrorMessage(err))
}
