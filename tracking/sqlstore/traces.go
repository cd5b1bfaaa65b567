package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/search"
)

var _ tracking.TraceStore = (*Store)(nil)

const traceColumns = `request_id, experiment_id, timestamp_ms, execution_time_ms, status`

// traceFolder and traceArtifactsFolder place a trace's data under its
// experiment's artifact location, as MLflow's SQL store does.
const (
	traceFolder          = "traces"
	traceArtifactsFolder = "artifacts"
)

func scanTraceInfo(r rowScanner) (*tracking.TraceInfo, error) {
	var (
		t      tracking.TraceInfo
		expID  int64
		exec   sql.NullInt64
		status string
	)
	if err := r.Scan(&t.RequestID, &expID, &t.TimestampMs, &exec, &status); err != nil {
		return nil, err
	}
	t.ExperimentID = strconv.FormatInt(expID, 10)
	t.ExecutionTimeMs, t.Status = exec.Int64, tracking.TraceStatus(status)
	return &t, nil
}

func traceNotFound(id string) error {
	return tracking.Errorf(tracking.ErrResourceDoesNotExist, "Trace with request_id '%s' not found.", id)
}

// traceKeyValues upserts metadata or tags of a trace: a key given again
// takes the new value.
func traceKeyValues(ctx context.Context, tx *txn, table, requestID string, kvs []tracking.Tag) error {
	rows := make([][]any, 0, len(kvs))
	for _, kv := range dedupeTags(kvs) {
		rows = append(rows, []any{kv.Key, kv.Value, requestID})
	}
	return tx.insertRows(ctx, table, []string{`"key"`, "value", "request_id"}, rows,
		`ON CONFLICT ("key", request_id) DO UPDATE SET value = excluded.value`)
}

// StartTrace creates an IN_PROGRESS trace; see tracking.TraceStore.
func (s *Store) StartTrace(ctx context.Context, in tracking.StartTrace) (*tracking.TraceInfo, error) {
	if err := tracking.ValidateTraceFields("Trace request metadata", in.RequestMetadata); err != nil {
		return nil, err
	}
	if err := tracking.ValidateTraceFields("Trace tag", in.Tags); err != nil {
		return nil, err
	}
	for _, t := range in.Tags {
		// MLflow fails on the duplicate key (400); the location is the store's to say.
		if t.Key == tracking.TagTraceArtifactLocation {
			return nil, tracking.Errorf(tracking.ErrInvalidParameterValue,
				"The tag '%s' is set by the tracking server; it cannot be given when a trace starts.", t.Key)
		}
	}
	expID, err := parseExperimentID(in.ExperimentID)
	if err != nil {
		return nil, err
	}
	var info *tracking.TraceInfo
	err = s.inTx(ctx, func(tx *txn) error {
		exp, err := getExperiment(ctx, tx, expID)
		if err != nil {
			return err
		}
		if err := checkExperimentActive(exp); err != nil {
			return err
		}
		id := newID()
		if _, err := tx.exec(ctx, `INSERT INTO trace_info (`+traceColumns+`) VALUES (?, ?, ?, NULL, ?)`,
			id, expID, in.TimestampMs, string(tracking.TraceInProgress)); err != nil {
			return dbError(err, "start trace")
		}
		tags := append(slices.Clone(in.Tags), tracking.Tag{Key: tracking.TagTraceArtifactLocation,
			Value: joinURI(exp.ArtifactLocation, traceFolder, id, traceArtifactsFolder)})
		if err := traceKeyValues(ctx, tx, "trace_tags", id, tags); err != nil {
			return err
		}
		if err := traceKeyValues(ctx, tx, "trace_request_metadata", id, in.RequestMetadata); err != nil {
			return err
		}
		info, err = getTraceInfo(ctx, tx, id)
		return err
	})
	return info, err
}

// EndTrace records how a trace ended; see tracking.TraceStore.
func (s *Store) EndTrace(ctx context.Context, requestID string, in tracking.EndTrace) (*tracking.TraceInfo, error) {
	if err := tracking.ValidateTraceFields("Trace request metadata", in.RequestMetadata); err != nil {
		return nil, err
	}
	if err := tracking.ValidateTraceFields("Trace tag", in.Tags); err != nil {
		return nil, err
	}
	status, err := tracking.ParseTraceStatus(string(in.Status))
	if err != nil {
		return nil, err
	}
	var info *tracking.TraceInfo
	err = s.inTx(ctx, func(tx *txn) error {
		// One statement reads the start and writes the duration: no read to race.
		res, err := tx.exec(ctx, `UPDATE trace_info SET execution_time_ms = ? - timestamp_ms, status = ? WHERE request_id = ?`,
			in.TimestampMs, string(status), requestID)
		if err != nil {
			return dbError(err, "end trace")
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return traceNotFound(requestID)
		}
		if err := traceKeyValues(ctx, tx, "trace_request_metadata", requestID, in.RequestMetadata); err != nil {
			return err
		}
		if err := traceKeyValues(ctx, tx, "trace_tags", requestID, in.Tags); err != nil {
			return err
		}
		info, err = getTraceInfo(ctx, tx, requestID)
		return err
	})
	return info, err
}

// GetTraceInfo returns a trace's info; see tracking.TraceStore.
func (s *Store) GetTraceInfo(ctx context.Context, requestID string) (*tracking.TraceInfo, error) {
	var info *tracking.TraceInfo
	err := s.readTx(ctx, func(tx *txn) error {
		var err error
		info, err = getTraceInfo(ctx, tx, requestID)
		return err
	})
	return info, err
}

func getTraceInfo(ctx context.Context, tx *txn, requestID string) (*tracking.TraceInfo, error) {
	info, err := scanTraceInfo(tx.queryRow(ctx, `SELECT `+traceColumns+` FROM trace_info WHERE request_id = ?`, requestID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, traceNotFound(requestID)
	}
	if err != nil {
		return nil, dbError(err, "get trace")
	}
	return info, loadTraceKeyValues(ctx, tx, []*tracking.TraceInfo{info})
}

// loadTraceKeyValues reads the tags and metadata of traces, each sorted by key
// in Go (byte order on both databases, whatever PostgreSQL's collation).
func loadTraceKeyValues(ctx context.Context, tx *txn, traces []*tracking.TraceInfo) error {
	if len(traces) == 0 {
		return nil
	}
	byID := make(map[string]*tracking.TraceInfo, len(traces))
	ids := make([]any, 0, len(traces))
	for _, t := range traces {
		byID[t.RequestID] = t
		ids = append(ids, t.RequestID)
	}
	tables := []struct {
		name string
		kvs  func(*tracking.TraceInfo) *[]tracking.Tag
	}{
		{"trace_tags", func(t *tracking.TraceInfo) *[]tracking.Tag { return &t.Tags }},
		{"trace_request_metadata", func(t *tracking.TraceInfo) *[]tracking.Tag { return &t.RequestMetadata }},
	}
	for _, table := range tables {
		err := chunks(ids, maxVars, func(part []any) error {
			return eachRow(ctx, tx, `SELECT request_id, "key", value FROM `+table.name+` WHERE request_id IN (`+inList(len(part))+`)`,
				part, func(r *sql.Rows) error {
					var (
						id    string
						kv    tracking.Tag
						value sql.NullString
					)
					if err := r.Scan(&id, &kv.Key, &value); err != nil {
						return err
					}
					kv.Value = value.String
					if t := byID[id]; t != nil {
						kvs := table.kvs(t)
						*kvs = append(*kvs, kv)
					}
					return nil
				})
		})
		if err != nil {
			return dbError(err, "load "+table.name)
		}
	}
	byKey := func(a, b tracking.Tag) int { return strings.Compare(a.Key, b.Key) }
	for _, t := range traces {
		slices.SortFunc(t.Tags, byKey)
		slices.SortFunc(t.RequestMetadata, byKey)
	}
	return nil
}

// SearchTraces returns a page of the experiments' traces that match the
// filter, in the requested order; see tracking.TraceStore.
func (s *Store) SearchTraces(ctx context.Context, q tracking.TraceQuery) (tracking.Page[tracking.TraceInfo], error) {
	var page tracking.Page[tracking.TraceInfo]
	limit := q.MaxResults
	switch {
	case limit == 0:
		limit = tracking.DefaultTraceSearchResults
	case limit < 0:
		return page, tracking.Errorf(tracking.ErrInvalidParameterValue,
			"Invalid value %d for parameter 'max_results' supplied. It must be a positive integer", limit)
	case limit > tracking.MaxTraceSearchResults:
		return page, tracking.Errorf(tracking.ErrInvalidParameterValue,
			"Invalid value %d for parameter 'max_results' supplied. It must be at most %d", limit, tracking.MaxTraceSearchResults)
	}
	offset, err := search.DecodePageToken(q.PageToken)
	if err != nil {
		return page, err
	}
	filter, err := search.ParseTraceFilter(q.Filter)
	if err != nil {
		return page, err
	}
	order, err := search.ParseTraceOrderBy(q.OrderBy)
	if err != nil {
		return page, err
	}
	// An id that is not a number is refused, as runs/search refuses it here;
	// MLflow finds no traces for it.
	expIDs, err := experimentIDArgs(q.ExperimentIDs)
	if err != nil || len(expIDs) == 0 {
		return page, err
	}
	p := &params{d: s.dialect}
	prefix := `SELECT ` + prefixColumns("trace_info.", traceColumns) +
		` FROM trace_info WHERE trace_info.experiment_id IN (` + p.list(expIDs) + `) AND `
	compiled, err := search.CompileTraces(filter, order, s.searchDialect(), p.n+1)
	if err != nil {
		return page, tracking.Errorf(tracking.ErrInvalidParameterValue, "%v", err)
	}
	p.args = append(p.args, compiled.Args...)
	p.args = append(p.args, compiled.OrderArgs...)
	p.n = compiled.NextArg - 1
	query := prefix + compiled.Where + ` ORDER BY ` + compiled.OrderBy + ` LIMIT ` + p.add(limit) + ` OFFSET ` + p.add(offset)
	err = s.readTx(ctx, func(tx *txn) error {
		var traces []*tracking.TraceInfo
		if err := eachRowRaw(ctx, tx, query, p.args, func(r *sql.Rows) error {
			t, err := scanTraceInfo(r)
			if err == nil {
				traces = append(traces, t)
			}
			return err
		}); err != nil {
			return dbError(err, "search traces")
		}
		if err := loadTraceKeyValues(ctx, tx, traces); err != nil {
			return err
		}
		for _, t := range traces {
			page.Items = append(page.Items, *t)
		}
		return nil
	})
	if err != nil {
		return tracking.Page[tracking.TraceInfo]{}, err
	}
	if len(page.Items) == limit {
		page.NextPageToken = search.EncodePageToken(offset + limit)
	}
	return page, nil
}

// DeleteTraces deletes traces of an experiment; see tracking.TraceStore. Their
// tags and metadata go with them (ON DELETE CASCADE in MLflow's schema).
func (s *Store) DeleteTraces(ctx context.Context, in tracking.DeleteTraces) (int, error) {
	if err := in.Validate(); err != nil {
		return 0, err
	}
	expID, err := strconv.ParseInt(in.ExperimentID, 10, 64)
	if err != nil {
		return 0, nil // no experiment has that id, so it has no traces
	}
	cond, args := `experiment_id = ?`, []any{expID}
	if in.MaxTimestampMillis != nil {
		cond += ` AND timestamp_ms <= ?`
		args = append(args, *in.MaxTimestampMillis)
	}
	var deleted int64
	err = s.inTx(ctx, func(tx *txn) error {
		del := func(query string, args ...any) error {
			res, err := tx.exec(ctx, query, args...)
			if err != nil {
				return dbError(err, "delete traces")
			}
			n, _ := res.RowsAffected()
			deleted += n
			return nil
		}
		switch {
		case len(in.RequestIDs) > 0:
			return chunks(anySlice(in.RequestIDs), maxVars, func(part []any) error {
				return del(`DELETE FROM trace_info WHERE `+cond+` AND request_id IN (`+inList(len(part))+`)`,
					append(slices.Clone(args), part...)...)
			})
		case in.MaxTraces != nil:
			// The oldest first, as MLflow; the request id orders equal timestamps.
			return del(`DELETE FROM trace_info WHERE request_id IN (SELECT request_id FROM trace_info WHERE `+
				cond+` ORDER BY timestamp_ms, request_id LIMIT ?)`, append(args, *in.MaxTraces)...)
		}
		return del(`DELETE FROM trace_info WHERE `+cond, args...)
	})
	if err != nil {
		return 0, err
	}
	return int(deleted), nil
}

// SetTraceTag sets a tag on a trace; see tracking.TraceStore.
func (s *Store) SetTraceTag(ctx context.Context, requestID, key, value string) error {
	value, err := tracking.ValidateTraceTag(key, value)
	if err != nil {
		return err
	}
	return s.inTx(ctx, func(tx *txn) error {
		var one int
		err := tx.queryRow(ctx, `SELECT 1 FROM trace_info WHERE request_id = ?`, requestID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			// MLflow answers with its database's foreign key error (400).
			return traceNotFound(requestID)
		}
		if err != nil {
			return dbError(err, "set trace tag")
		}
		return traceKeyValues(ctx, tx, "trace_tags", requestID, []tracking.Tag{{Key: key, Value: value}})
	})
}

// DeleteTraceTag removes a tag from a trace; see tracking.TraceStore.
func (s *Store) DeleteTraceTag(ctx context.Context, requestID, key string) error {
	return s.inTx(ctx, func(tx *txn) error {
		res, err := tx.exec(ctx, `DELETE FROM trace_tags WHERE request_id = ? AND "key" = ?`, requestID, key)
		if err != nil {
			return dbError(err, "delete trace tag")
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return tracking.Errorf(tracking.ErrResourceDoesNotExist,
				"No trace tag with key '%s' for trace with request_id '%s'", key, requestID)
		}
		return nil
	})
}
