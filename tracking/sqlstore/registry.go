package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"sort"
	"strconv"

	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/search"
)

// stageDeletedInternal marks a deleted model version: MLflow keeps the row so that
// its version number is never handed out again, and hides it everywhere.
const stageDeletedInternal = "Deleted_Internal"

// Search limits of the registry (MLflow 2.17's defaults and maxima).
const (
	defaultModelResults   = 100
	maxModelResults       = 1000
	defaultVersionResults = 10000
	maxVersionResults     = 200000
)

func modelNotFound(name string) error {
	return tracking.Errorf(tracking.ErrResourceDoesNotExist, "Registered Model with name=%s not found", name)
}

func versionNotFound(name, version string) error {
	return tracking.Errorf(tracking.ErrResourceDoesNotExist, "Model Version (name=%s, version=%s) not found", name, version)
}

// parseVersion turns a wire version ("3") into the integer key.
func parseVersion(version string) (int64, error) {
	n, err := strconv.ParseInt(version, 10, 32)
	if err != nil {
		return 0, tracking.Errorf(tracking.ErrInvalidParameterValue, "Model version must be an integer, got '%s'", version).
			In3("Parameter 'version' must be an integer, got '%s'.", version)
	}
	return n, nil
}

const modelColumns = `name, creation_time, last_updated_time, description`

func scanModel(r rowScanner) (*tracking.RegisteredModel, error) {
	var (
		m      tracking.RegisteredModel
		ct, ut sql.NullInt64
		desc   sql.NullString
	)
	if err := r.Scan(&m.Name, &ct, &ut, &desc); err != nil {
		return nil, err
	}
	m.CreationTimestamp, m.LastUpdatedTimestamp, m.Description = ct.Int64, ut.Int64, desc.String
	return &m, nil
}

const versionColumns = `name, version, creation_time, last_updated_time, description, user_id, current_stage, source,
	run_id, status, status_message, run_link`

func scanVersion(r rowScanner) (*tracking.ModelVersion, error) {
	var (
		v                                                   tracking.ModelVersion
		version                                             int64
		ct, ut                                              sql.NullInt64
		desc, user, stage, source, runID, status, msg, link sql.NullString
	)
	if err := r.Scan(&v.Name, &version, &ct, &ut, &desc, &user, &stage, &source, &runID, &status, &msg, &link); err != nil {
		return nil, err
	}
	v.Version = strconv.FormatInt(version, 10)
	v.CreationTimestamp, v.LastUpdatedTimestamp = ct.Int64, ut.Int64
	v.Description, v.UserID, v.CurrentStage, v.Source = desc.String, user.String, tracking.Stage(stage.String), source.String
	v.RunID, v.Status, v.StatusMessage, v.RunLink = runID.String, tracking.ModelVersionStatus(status.String), msg.String, link.String
	return &v, nil
}

// getModel returns the registered model row; forUpdate locks it (PostgreSQL) so
// that concurrent version creations for one model take turns.
func getModel(ctx context.Context, tx *txn, name string, forUpdate bool) (*tracking.RegisteredModel, error) {
	q := `SELECT ` + modelColumns + ` FROM registered_models WHERE name = ?`
	if forUpdate && tx.s.dialect == dialectPostgres {
		q += ` FOR UPDATE`
	}
	m, err := scanModel(tx.queryRow(ctx, q, name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, modelNotFound(name)
	}
	return m, dbError(err, "get registered model")
}

func getVersion(ctx context.Context, tx *txn, name, version string) (*tracking.ModelVersion, error) {
	n, err := parseVersion(version)
	if err != nil {
		return nil, err
	}
	v, err := scanVersion(tx.queryRow(ctx, `SELECT `+versionColumns+` FROM model_versions
		WHERE name = ? AND version = ? AND current_stage <> '`+stageDeletedInternal+`'`, name, n))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, versionNotFound(name, version)
	}
	return v, dbError(err, "get model version")
}

// fillModels adds tags, aliases and latest versions (per stage, by version) to
// models, with one query per table.
func fillModels(ctx context.Context, tx *txn, models []*tracking.RegisteredModel) error {
	if len(models) == 0 {
		return nil
	}
	byName := make(map[string]*tracking.RegisteredModel, len(models))
	names := make([]any, len(models))
	for i, m := range models {
		byName[m.Name] = m
		names[i] = m.Name
	}
	return chunks(names, maxVars, func(part []any) error {
		in := inList(len(part))
		if err := eachRow(ctx, tx, `SELECT name, "key", value FROM registered_model_tags WHERE name IN (`+in+`) ORDER BY name, "key"`, part,
			func(r *sql.Rows) error {
				var name string
				var t tracking.Tag
				var v sql.NullString
				if err := r.Scan(&name, &t.Key, &v); err != nil {
					return err
				}
				t.Value = v.String
				byName[name].Tags = append(byName[name].Tags, t)
				return nil
			}); err != nil {
			return dbError(err, "load registered model tags")
		}
		if err := eachRow(ctx, tx, `SELECT name, alias, version FROM registered_model_aliases WHERE name IN (`+in+`) ORDER BY name, alias`, part,
			func(r *sql.Rows) error {
				var name string
				var a tracking.Alias
				var v int64
				if err := r.Scan(&name, &a.Alias, &v); err != nil {
					return err
				}
				a.Version = strconv.FormatInt(v, 10)
				byName[name].Aliases = append(byName[name].Aliases, a)
				return nil
			}); err != nil {
			return dbError(err, "load registered model aliases")
		}
		var latest []*tracking.ModelVersion
		if err := eachRow(ctx, tx, `SELECT `+versionColumns+` FROM model_versions mv WHERE name IN (`+in+`)
			AND current_stage <> '`+stageDeletedInternal+`'
			AND version = (SELECT MAX(m2.version) FROM model_versions m2 WHERE m2.name = mv.name AND m2.current_stage = mv.current_stage)
			ORDER BY name, version`, part,
			func(r *sql.Rows) error {
				v, err := scanVersion(r)
				if err == nil {
					latest = append(latest, v)
				}
				return err
			}); err != nil {
			return dbError(err, "load latest versions")
		}
		if err := fillVersions(ctx, tx, latest); err != nil {
			return err
		}
		for _, v := range latest {
			byName[v.Name].LatestVersions = append(byName[v.Name].LatestVersions, *v)
		}
		return nil
	})
}

// fillVersions adds tags and aliases to versions, with one query per table.
//
// Deliberate difference: every answer gives a version its aliases, lists too
// (search-model-versions, get-latest-versions, a model's latest_versions);
// MLflow 2.17.2's SQL store builds its lists without them and gives them only
// in answers about one version. Named in TestRealMLflowOpensOurDatabase.
func fillVersions(ctx context.Context, tx *txn, versions []*tracking.ModelVersion) error {
	if len(versions) == 0 {
		return nil
	}
	type key struct{ name, version string }
	byKey := make(map[key]*tracking.ModelVersion, len(versions))
	var names []any
	for _, v := range versions {
		if _, seen := byKey[key{v.Name, ""}]; !seen {
			byKey[key{v.Name, ""}] = nil
			names = append(names, v.Name)
		}
		byKey[key{v.Name, v.Version}] = v
	}
	return chunks(names, maxVars, func(part []any) error {
		in := inList(len(part))
		if err := eachRow(ctx, tx, `SELECT name, version, "key", value FROM model_version_tags WHERE name IN (`+in+`) ORDER BY name, version, "key"`, part,
			func(r *sql.Rows) error {
				var name string
				var version int64
				var t tracking.Tag
				var val sql.NullString
				if err := r.Scan(&name, &version, &t.Key, &val); err != nil {
					return err
				}
				t.Value = val.String
				if v := byKey[key{name, strconv.FormatInt(version, 10)}]; v != nil {
					v.Tags = append(v.Tags, t)
				}
				return nil
			}); err != nil {
			return dbError(err, "load model version tags")
		}
		return dbError(eachRow(ctx, tx, `SELECT name, version, alias FROM registered_model_aliases WHERE name IN (`+in+`) ORDER BY name, alias`, part,
			func(r *sql.Rows) error {
				var name, alias string
				var version int64
				if err := r.Scan(&name, &version, &alias); err != nil {
					return err
				}
				if v := byKey[key{name, strconv.FormatInt(version, 10)}]; v != nil {
					v.Aliases = append(v.Aliases, alias)
				}
				return nil
			}), "load model version aliases")
	})
}

func getFullModel(ctx context.Context, tx *txn, name string) (*tracking.RegisteredModel, error) {
	m, err := getModel(ctx, tx, name, false)
	if err != nil {
		return nil, err
	}
	return m, fillModels(ctx, tx, []*tracking.RegisteredModel{m})
}

func getFullVersion(ctx context.Context, tx *txn, name, version string) (*tracking.ModelVersion, error) {
	v, err := getVersion(ctx, tx, name, version)
	if err != nil {
		return nil, err
	}
	return v, fillVersions(ctx, tx, []*tracking.ModelVersion{v})
}

// CreateRegisteredModel registers a model name; RESOURCE_ALREADY_EXISTS when taken.
func (s *Store) CreateRegisteredModel(ctx context.Context, name, description string, tags []tracking.Tag) (*tracking.RegisteredModel, error) {
	if err := tracking.ValidateModelName(name); err != nil {
		return nil, err
	}
	if err := tracking.ValidateFieldLength("description", tracking.MaxDescriptionLength, description); err != nil {
		return nil, err
	}
	for _, t := range tags {
		if err := tracking.ValidateModelTag(t); err != nil {
			return nil, err
		}
	}
	var m *tracking.RegisteredModel
	err := s.inTx(ctx, func(tx *txn) error {
		now := s.nowMillis()
		_, err := tx.exec(ctx, `INSERT INTO registered_models (name, creation_time, last_updated_time, description) VALUES (?, ?, ?, ?)`,
			name, now, now, description)
		if isUnique(err) {
			return tracking.Errorf(tracking.ErrResourceAlreadyExists, "Registered Model (name=%s) already exists.", name)
		}
		if err != nil {
			return dbError(err, "create registered model")
		}
		rows := make([][]any, 0, len(tags))
		for _, t := range dedupeTags(tags) {
			rows = append(rows, []any{t.Key, t.Value, name})
		}
		if err := tx.insertRows(ctx, "registered_model_tags", []string{`"key"`, "value", "name"}, rows, ""); err != nil {
			return err
		}
		m, err = getFullModel(ctx, tx, name)
		return err
	})
	return m, err
}

// GetRegisteredModel returns a model with its tags, aliases and latest versions.
func (s *Store) GetRegisteredModel(ctx context.Context, name string) (*tracking.RegisteredModel, error) {
	var m *tracking.RegisteredModel
	err := s.readTx(ctx, func(tx *txn) error {
		var err error
		m, err = getFullModel(ctx, tx, name)
		return err
	})
	return m, err
}

// RenameRegisteredModel renames a model; its versions, tags and aliases follow
// (the schema's ON UPDATE CASCADE), and its versions' last update time is set.
func (s *Store) RenameRegisteredModel(ctx context.Context, name, newName string) (*tracking.RegisteredModel, error) {
	if newName == "" {
		return nil, tracking.Errorf(tracking.ErrInvalidParameterValue, "New registered model name cannot be empty.")
	}
	if err := tracking.ValidateFieldLength("new_name", tracking.MaxModelNameLength, newName); err != nil {
		return nil, err
	}
	var m *tracking.RegisteredModel
	err := s.inTx(ctx, func(tx *txn) error {
		if _, err := getModel(ctx, tx, name, true); err != nil {
			return err
		}
		now := s.nowMillis()
		_, err := tx.exec(ctx, `UPDATE registered_models SET name = ?, last_updated_time = ? WHERE name = ?`, newName, now, name)
		if isUnique(err) {
			return tracking.Errorf(tracking.ErrResourceAlreadyExists, "Registered Model (name=%s) already exists.", newName)
		}
		if err != nil {
			return dbError(err, "rename registered model")
		}
		if _, err := tx.exec(ctx, `UPDATE model_versions SET last_updated_time = ? WHERE name = ?`, now, newName); err != nil {
			return dbError(err, "rename model versions")
		}
		m, err = getFullModel(ctx, tx, newName)
		return err
	})
	return m, err
}

// UpdateRegisteredModel sets a model's description.
func (s *Store) UpdateRegisteredModel(ctx context.Context, name, description string) (*tracking.RegisteredModel, error) {
	if err := tracking.ValidateFieldLength("description", tracking.MaxDescriptionLength, description); err != nil {
		return nil, err
	}
	var m *tracking.RegisteredModel
	err := s.inTx(ctx, func(tx *txn) error {
		if _, err := getModel(ctx, tx, name, true); err != nil {
			return err
		}
		if _, err := tx.exec(ctx, `UPDATE registered_models SET description = ?, last_updated_time = ? WHERE name = ?`,
			description, s.nowMillis(), name); err != nil {
			return dbError(err, "update registered model")
		}
		var err error
		m, err = getFullModel(ctx, tx, name)
		return err
	})
	return m, err
}

// DeleteRegisteredModel deletes a model with its versions, tags and aliases.
func (s *Store) DeleteRegisteredModel(ctx context.Context, name string) error {
	return s.inTx(ctx, func(tx *txn) error {
		if _, err := getModel(ctx, tx, name, true); err != nil {
			return err
		}
		for _, table := range []string{"model_version_tags", "model_versions", "registered_model_tags", "registered_model_aliases", "registered_models"} {
			if _, err := tx.exec(ctx, `DELETE FROM `+table+` WHERE name = ?`, name); err != nil {
				return dbError(err, "delete from "+table)
			}
		}
		return nil
	})
}

// SearchRegisteredModels returns a page of models (default order name ASC, 100 a page).
func (s *Store) SearchRegisteredModels(ctx context.Context, q tracking.ModelQuery) (tracking.Page[tracking.RegisteredModel], error) {
	var page tracking.Page[tracking.RegisteredModel]
	limit, err := maxResults(q.MaxResults, defaultModelResults, maxModelResults)
	if err != nil {
		return page, err
	}
	offset, err := search.DecodePageToken(q.PageToken)
	if err != nil {
		return page, err
	}
	filter, err := search.ParseRegisteredModelFilter(q.Filter)
	if err != nil {
		return page, err
	}
	order, err := search.ParseRegisteredModelOrderBy(q.OrderBy)
	if err != nil {
		return page, err
	}
	compiled, err := search.CompileRegisteredModels(filter, order, s.searchDialect(), 1)
	if err != nil {
		return page, tracking.Errorf(tracking.ErrInvalidParameterValue, "%v", err)
	}
	p := &params{d: s.dialect, n: compiled.NextArg - 1, args: append(append([]any{}, compiled.Args...), compiled.OrderArgs...)}
	query := `SELECT ` + prefixColumns("registered_models.", modelColumns) + ` FROM registered_models WHERE ` + compiled.Where +
		` ORDER BY ` + compiled.OrderBy + ` LIMIT ` + p.add(limit+1) + ` OFFSET ` + p.add(offset)
	more := false
	err = s.readTx(ctx, func(tx *txn) error {
		var models []*tracking.RegisteredModel
		if err := eachRowRaw(ctx, tx, query, p.args, func(r *sql.Rows) error {
			m, err := scanModel(r)
			if err == nil {
				models = append(models, m)
			}
			return err
		}); err != nil {
			return dbError(err, "search registered models")
		}
		models, more = onePage(models, limit)
		if err := fillModels(ctx, tx, models); err != nil {
			return err
		}
		for _, m := range models {
			page.Items = append(page.Items, *m)
		}
		return nil
	})
	if err != nil {
		return tracking.Page[tracking.RegisteredModel]{}, err
	}
	if more {
		page.NextPageToken = search.EncodePageToken(offset + limit)
	}
	return page, nil
}

// SetRegisteredModelTag sets a tag on a model.
func (s *Store) SetRegisteredModelTag(ctx context.Context, name, key, value string) error {
	if err := tracking.ValidateModelTag(tracking.Tag{Key: key, Value: value}); err != nil {
		return err
	}
	return s.inTx(ctx, func(tx *txn) error {
		if _, err := getModel(ctx, tx, name, false); err != nil {
			return err
		}
		_, err := tx.exec(ctx, `INSERT INTO registered_model_tags ("key", value, name) VALUES (?, ?, ?)
			ON CONFLICT `+s.registryKey(`"key", name`)+` DO UPDATE SET value = excluded.value`, key, value, name)
		return dbError(err, "set registered model tag")
	})
}

// DeleteRegisteredModelTag removes a tag from a model (no error when unset, as in MLflow).
func (s *Store) DeleteRegisteredModelTag(ctx context.Context, name, key string) error {
	return s.inTx(ctx, func(tx *txn) error {
		if _, err := getModel(ctx, tx, name, false); err != nil {
			return err
		}
		_, err := tx.exec(ctx, `DELETE FROM registered_model_tags WHERE name = ? AND "key" = ?`, name, key)
		return dbError(err, "delete registered model tag")
	})
}

// GetLatestVersions returns the latest version in each of stages (every stage when
// empty), ordered by version.
func (s *Store) GetLatestVersions(ctx context.Context, name string, stages []tracking.Stage) ([]tracking.ModelVersion, error) {
	want := map[tracking.Stage]bool{}
	for _, st := range stages {
		canonical, err := tracking.ParseStage(string(st))
		if err != nil {
			return nil, err
		}
		want[canonical] = true
	}
	var out []tracking.ModelVersion
	err := s.readTx(ctx, func(tx *txn) error {
		m, err := getFullModel(ctx, tx, name)
		if err != nil {
			return err
		}
		for _, v := range m.LatestVersions {
			if len(want) == 0 || want[v.CurrentStage] {
				out = append(out, v)
			}
		}
		return nil
	})
	sort.Slice(out, func(i, j int) bool {
		a, _ := strconv.Atoi(out[i].Version)
		b, _ := strconv.Atoi(out[j].Version)
		return a < b
	})
	return out, err
}
