package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/search"
)

// CreateModelVersion registers the next version of a model (max+1, counting
// deleted versions, so numbers are never reused), READY, in stage None, with the
// source kept verbatim. The model row is locked for the transaction (SQLite: the
// write lock; PostgreSQL: SELECT ... FOR UPDATE), so concurrent creations get
// distinct numbers.
func (s *Store) CreateModelVersion(ctx context.Context, in tracking.CreateModelVersion) (*tracking.ModelVersion, error) {
	if err := tracking.ValidateModelName(in.Name); err != nil {
		return nil, err
	}
	for _, f := range []struct {
		name, value string
		limit       int
	}{
		{"source", in.Source, tracking.MaxModelVersionSourceLength},
		{"run_link", in.RunLink, tracking.MaxRunLinkLength},
		{"description", in.Description, tracking.MaxDescriptionLength},
	} {
		if err := tracking.ValidateFieldLength(f.name, f.limit, f.value); err != nil {
			return nil, err
		}
	}
	for _, t := range in.Tags {
		if err := tracking.ValidateModelTag(t); err != nil {
			return nil, err
		}
	}
	var v *tracking.ModelVersion
	err := s.inTx(ctx, func(tx *txn) error {
		var err error
		v, err = createModelVersion(ctx, tx, in)
		return err
	})
	return v, err
}

func createModelVersion(ctx context.Context, tx *txn, in tracking.CreateModelVersion) (*tracking.ModelVersion, error) {
	storage := in.Source
	if tracking.ParseURI(in.Source).Scheme == "models" {
		var err error
		if id, ok := loggedModelURIID(in.Source); ok {
			var runID string
			if storage, runID, err = loggedModelSource(ctx, tx, in.Source, id); err != nil {
				return nil, err
			}
			if in.RunID == "" {
				in.RunID = runID
			}
		} else if storage, err = modelsSourceLocation(ctx, tx, in.Source); err != nil {
			return nil, err
		}
	}
	if in.RunID == "" && in.ModelID != "" && tx.s.schema.LoggedModels {
		// As MLflow 3's registry: the version's run is its model's.
		if m, err := getLoggedModel(ctx, tx, in.ModelID, false); err == nil {
			in.RunID = m.SourceRunID
		} else if tracking.ErrorCodeOf(err) != tracking.ErrResourceDoesNotExist {
			return nil, err
		}
	}
	if _, err := getModel(ctx, tx, in.Name, true); err != nil {
		return nil, err
	}
	var version int64
	if err := tx.queryRow(ctx, `SELECT COALESCE(MAX(version), 0) + 1 FROM model_versions WHERE name = ?`, in.Name).Scan(&version); err != nil {
		return nil, dbError(err, "next model version")
	}
	now := tx.s.nowMillis()
	_, err := tx.exec(ctx, `INSERT INTO model_versions (name, version, creation_time, last_updated_time, description, user_id,
		current_stage, source, run_id, status, status_message, run_link, storage_location)
		VALUES (?, ?, ?, ?, ?, NULL, ?, ?, ?, ?, NULL, ?, ?)`,
		in.Name, version, now, now, in.Description, string(tracking.StageNone), in.Source, in.RunID,
		string(tracking.VersionReady), in.RunLink, storage)
	if err != nil {
		return nil, dbError(err, fmt.Sprintf("create version %d of model %s", version, in.Name))
	}
	if _, err := tx.exec(ctx, `UPDATE registered_models SET last_updated_time = ? WHERE name = ?`, now, in.Name); err != nil {
		return nil, dbError(err, "update registered model")
	}
	tags := dedupeTags(in.Tags)
	rows := make([][]any, len(tags))
	for i, t := range tags {
		rows[i] = []any{t.Key, t.Value, in.Name, version}
	}
	if err := tx.insertRows(ctx, "model_version_tags", []string{`"key"`, "value", "name", "version"}, rows, ""); err != nil {
		return nil, err
	}
	return &tracking.ModelVersion{
		Name: in.Name, Version: strconv.FormatInt(version, 10), CreationTimestamp: now, LastUpdatedTimestamp: now,
		CurrentStage: tracking.StageNone, Description: in.Description, Source: in.Source, RunID: in.RunID,
		Status: tracking.VersionReady, Tags: tags, RunLink: in.RunLink,
	}, nil
}

// modelsSourceLocation is the storage location of a version copied from
// models:/name/version: that version's download URI, as MLflow's store keeps
// it. Other models:/ forms (stage, latest, alias) name no version here and fail,
// as in MLflow, with its INTERNAL_ERROR and wording.
func modelsSourceLocation(ctx context.Context, tx *txn, source string) (string, error) {
	name, version, err := modelsURIVersion(source)
	if err == nil {
		var loc string
		if loc, err = downloadURI(ctx, tx, name, version); err == nil {
			return loc, nil
		}
	}
	if tracking.ErrorCodeOf(err) == tracking.ErrInternal {
		return "", err // a database failure: not the caller's to read
	}
	return "", tracking.Errorf(tracking.ErrInternal, "Unable to fetch model from model URI source artifact location '%s'.Error: %s",
		source, tracking.ErrorMessage(err))
}

// modelsURIVersion parses models:/name/version as MLflow's _parse_model_uri;
// the forms without a version number give version "None", as MLflow's lookup
// receives them.
func modelsURIVersion(uri string) (name, version string, err error) {
	improper := tracking.Errorf(tracking.ErrInternal, "Not a proper models:/ URI: %s. Models URIs must be of the form 'models:/model_name/suffix' or 'models:/model_name@alias' where suffix is a model version, stage, or the string 'latest' and where alias is a registered model alias. Only one of suffix or alias can be defined at a time.", uri)
	p := tracking.ParseURI(uri).Path
	if !strings.HasPrefix(p, "/") || len(p) <= 1 {
		return "", "", improper
	}
	parts := strings.Split(strings.TrimLeft(p, "/"), "/")
	if len(parts) > 2 || strings.TrimSpace(parts[0]) == "" {
		return "", "", improper
	}
	if len(parts) == 1 {
		base, alias, ok := cutLast(parts[0], "@")
		if !ok || strings.TrimSpace(alias) == "" {
			return "", "", improper
		}
		return base, "None", nil
	}
	if strings.TrimSpace(parts[1]) == "" {
		return "", "", improper
	}
	if strings.Trim(parts[1], "0123456789") == "" {
		return parts[0], parts[1], nil
	}
	return parts[0], "None", nil
}

func cutLast(s, sep string) (before, after string, found bool) {
	if i := strings.LastIndex(s, sep); i >= 0 {
		return s[:i], s[i+len(sep):], true
	}
	return s, "", false
}

// GetModelVersionDownloadURI returns where a version's files are; see
// tracking.RegistryStore.
func (s *Store) GetModelVersionDownloadURI(ctx context.Context, name, version string) (string, error) {
	var uri string
	err := s.readTx(ctx, func(tx *txn) error {
		var err error
		uri, err = downloadURI(ctx, tx, name, version)
		return err
	})
	return uri, err
}

// downloadURI is MLflow's storage_location or source of a version.
func downloadURI(ctx context.Context, tx *txn, name, version string) (string, error) {
	n, err := parseVersion(version)
	if err != nil {
		return "", err
	}
	var loc, src sql.NullString
	err = tx.queryRow(ctx, `SELECT storage_location, source FROM model_versions
		WHERE name = ? AND version = ? AND current_stage <> '`+stageDeletedInternal+`'`, name, n).Scan(&loc, &src)
	if errors.Is(err, sql.ErrNoRows) {
		return "", versionNotFound(name, version)
	}
	if err != nil {
		return "", dbError(err, "get model version download uri")
	}
	if loc.String != "" {
		return loc.String, nil
	}
	return src.String, nil
}

// GetModelVersion returns a version with its tags and aliases.
func (s *Store) GetModelVersion(ctx context.Context, name, version string) (*tracking.ModelVersion, error) {
	var v *tracking.ModelVersion
	err := s.readTx(ctx, func(tx *txn) error {
		var err error
		v, err = getFullVersion(ctx, tx, name, version)
		return err
	})
	return v, err
}

// UpdateModelVersion sets a version's description.
func (s *Store) UpdateModelVersion(ctx context.Context, name, version, description string) (*tracking.ModelVersion, error) {
	if err := tracking.ValidateFieldLength("description", tracking.MaxDescriptionLength, description); err != nil {
		return nil, err
	}
	var v *tracking.ModelVersion
	err := s.inTx(ctx, func(tx *txn) error {
		cur, err := getVersion(ctx, tx, name, version)
		if err != nil {
			return err
		}
		if _, err := tx.exec(ctx, `UPDATE model_versions SET description = ?, last_updated_time = ? WHERE name = ? AND version = ?`,
			description, s.nowMillis(), name, mustInt(cur.Version)); err != nil {
			return dbError(err, "update model version")
		}
		v, err = getFullVersion(ctx, tx, name, version)
		return err
	})
	return v, err
}

func mustInt(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

// DeleteModelVersion deletes a version as MLflow does: its aliases go, and the
// row stays, hidden and redacted, so that its number is not reused.
func (s *Store) DeleteModelVersion(ctx context.Context, name, version string) error {
	return s.inTx(ctx, func(tx *txn) error {
		v, err := getVersion(ctx, tx, name, version)
		if err != nil {
			return err
		}
		n, now := mustInt(v.Version), s.nowMillis()
		if _, err := tx.exec(ctx, `DELETE FROM registered_model_aliases WHERE name = ? AND version = ?`, name, n); err != nil {
			return dbError(err, "delete aliases of model version")
		}
		if _, err := tx.exec(ctx, `UPDATE model_versions SET current_stage = '`+stageDeletedInternal+`', last_updated_time = ?,
			description = NULL, user_id = NULL, source = 'REDACTED-SOURCE-PATH', run_id = 'REDACTED-RUN-ID',
			run_link = 'REDACTED-RUN-LINK', status_message = NULL WHERE name = ? AND version = ?`, now, name, n); err != nil {
			return dbError(err, "delete model version")
		}
		_, err = tx.exec(ctx, `UPDATE registered_models SET last_updated_time = ? WHERE name = ?`, now, name)
		return dbError(err, "update registered model")
	})
}

// SearchModelVersions returns a page of versions (default order
// last_updated_timestamp DESC, 10000 a page), with tags and aliases.
func (s *Store) SearchModelVersions(ctx context.Context, q tracking.ModelQuery) (tracking.Page[tracking.ModelVersion], error) {
	var page tracking.Page[tracking.ModelVersion]
	limit, err := maxResults(q.MaxResults, defaultVersionResults, maxVersionResults)
	if err != nil {
		return page, err
	}
	offset, err := search.DecodePageToken(q.PageToken)
	if err != nil {
		return page, err
	}
	filter, err := search.ParseModelVersionFilter(q.Filter)
	if err != nil {
		return page, err
	}
	order, err := search.ParseModelVersionOrderBy(q.OrderBy)
	if err != nil {
		return page, err
	}
	compiled, err := search.CompileModelVersions(filter, order, s.searchDialect(), 1)
	if err != nil {
		return page, tracking.Errorf(tracking.ErrInvalidParameterValue, "%v", err)
	}
	p := &params{d: s.dialect, n: compiled.NextArg - 1, args: append(append([]any{}, compiled.Args...), compiled.OrderArgs...)}
	query := `SELECT ` + prefixColumns("model_versions.", versionColumns) + ` FROM model_versions WHERE ` + compiled.Where +
		` AND model_versions.current_stage <> '` + stageDeletedInternal + `' ORDER BY ` + compiled.OrderBy +
		` LIMIT ` + p.add(limit+1) + ` OFFSET ` + p.add(offset)
	more := false
	err = s.readTx(ctx, func(tx *txn) error {
		var versions []*tracking.ModelVersion
		if err := eachRowRaw(ctx, tx, query, p.args, func(r *sql.Rows) error {
			v, err := scanVersion(r)
			if err == nil {
				versions = append(versions, v)
			}
			return err
		}); err != nil {
			return dbError(err, "search model versions")
		}
		versions, more = onePage(versions, limit)
		if err := fillVersions(ctx, tx, versions); err != nil {
			return err
		}
		for _, v := range versions {
			page.Items = append(page.Items, *v)
		}
		return nil
	})
	if err != nil {
		return tracking.Page[tracking.ModelVersion]{}, err
	}
	if more {
		page.NextPageToken = search.EncodePageToken(offset + limit)
	}
	return page, nil
}

// TransitionModelVersionStage moves a version to stage; with archiveExisting the
// other versions in that stage become Archived with the same timestamp, in the
// same transaction. archiveExisting with a stage other than Staging or Production
// is INTERNAL_ERROR with MLflow's message.
func (s *Store) TransitionModelVersionStage(ctx context.Context, name, version string, stage tracking.Stage, archiveExisting bool) (*tracking.ModelVersion, error) {
	canonical, err := tracking.ParseStage(string(stage))
	if err != nil {
		return nil, err
	}
	if archiveExisting && !canonical.Active() {
		return nil, tracking.Errorf(tracking.ErrInternal, "Model version transition cannot archive existing model versions "+
			"because '%s' is not an Active stage. Valid stages are ['Staging', 'Production']", stage)
	}
	var v *tracking.ModelVersion
	err = s.inTx(ctx, func(tx *txn) error {
		if _, err := getModel(ctx, tx, name, true); err != nil {
			return err
		}
		cur, err := getVersion(ctx, tx, name, version)
		if err != nil {
			return err
		}
		n, now := mustInt(cur.Version), s.nowMillis()
		if archiveExisting {
			if _, err := tx.exec(ctx, `UPDATE model_versions SET current_stage = ?, last_updated_time = ?
				WHERE name = ? AND version <> ? AND current_stage = ?`,
				string(tracking.StageArchived), now, name, n, string(canonical)); err != nil {
				return dbError(err, "archive existing versions")
			}
		}
		if _, err := tx.exec(ctx, `UPDATE model_versions SET current_stage = ?, last_updated_time = ? WHERE name = ? AND version = ?`,
			string(canonical), now, name, n); err != nil {
			return dbError(err, "transition model version")
		}
		if _, err := tx.exec(ctx, `UPDATE registered_models SET last_updated_time = ? WHERE name = ?`, now, name); err != nil {
			return dbError(err, "update registered model")
		}
		v, err = getFullVersion(ctx, tx, name, version)
		return err
	})
	return v, err
}

// SetModelVersionTag sets a tag on a version.
func (s *Store) SetModelVersionTag(ctx context.Context, name, version, key, value string) error {
	if err := tracking.ValidateModelTag(tracking.Tag{Key: key, Value: value}); err != nil {
		return err
	}
	return s.inTx(ctx, func(tx *txn) error {
		v, err := getVersion(ctx, tx, name, version)
		if err != nil {
			return err
		}
		_, err = tx.exec(ctx, `INSERT INTO model_version_tags ("key", value, name, version) VALUES (?, ?, ?, ?)
			ON CONFLICT `+s.registryKey(`"key", name, version`)+` DO UPDATE SET value = excluded.value`, key, value, name, mustInt(v.Version))
		return dbError(err, "set model version tag")
	})
}

// DeleteModelVersionTag removes a tag from a version (no error when unset).
func (s *Store) DeleteModelVersionTag(ctx context.Context, name, version, key string) error {
	return s.inTx(ctx, func(tx *txn) error {
		v, err := getVersion(ctx, tx, name, version)
		if err != nil {
			return err
		}
		_, err = tx.exec(ctx, `DELETE FROM model_version_tags WHERE name = ? AND version = ? AND "key" = ?`, name, mustInt(v.Version), key)
		return dbError(err, "delete model version tag")
	})
}

// SetRegisteredModelAlias points alias at an existing version; "latest" and
// version-like names are reserved (INVALID_PARAMETER_VALUE).
func (s *Store) SetRegisteredModelAlias(ctx context.Context, name, alias, version string) error {
	if err := tracking.ValidateModelAlias(alias); err != nil {
		return err
	}
	return s.inTx(ctx, func(tx *txn) error {
		v, err := getVersion(ctx, tx, name, version)
		if err != nil {
			return err
		}
		_, err = tx.exec(ctx, `INSERT INTO registered_model_aliases (alias, version, name) VALUES (?, ?, ?)
			ON CONFLICT `+s.registryKey(`name, alias`)+` DO UPDATE SET version = excluded.version`, alias, mustInt(v.Version), name)
		return dbError(err, "set alias")
	})
}

// DeleteRegisteredModelAlias removes an alias (no error when unset, as in MLflow).
func (s *Store) DeleteRegisteredModelAlias(ctx context.Context, name, alias string) error {
	if err := tracking.ValidateModelAlias(alias); err != nil {
		return err
	}
	return s.inTx(ctx, func(tx *txn) error {
		if _, err := getModel(ctx, tx, name, false); err != nil {
			return err
		}
		_, err := tx.exec(ctx, `DELETE FROM registered_model_aliases WHERE name = ? AND alias = ?`, name, alias)
		return dbError(err, "delete alias")
	})
}

// GetModelVersionByAlias returns the version alias points at;
// INVALID_PARAMETER_VALUE "Registered model alias X not found." when unset.
func (s *Store) GetModelVersionByAlias(ctx context.Context, name, alias string) (*tracking.ModelVersion, error) {
	var v *tracking.ModelVersion
	err := s.readTx(ctx, func(tx *txn) error {
		if _, err := getModel(ctx, tx, name, false); err != nil {
			return err
		}
		var version int64
		err := tx.queryRow(ctx, `SELECT version FROM registered_model_aliases WHERE name = ? AND alias = ?`, name, alias).Scan(&version)
		if err == sql.ErrNoRows {
			return tracking.Errorf(tracking.ErrInvalidParameterValue, "Registered model alias %s not found.", alias)
		}
		if err != nil {
			return dbError(err, "get alias")
		}
		v, err = getFullVersion(ctx, tx, name, strconv.FormatInt(version, 10))
		return err
	})
	return v, err
}
