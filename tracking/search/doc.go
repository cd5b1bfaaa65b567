// Package search parses MLflow's search filter and order_by grammar once, into a
// small AST, and compiles it to SQL fragments with bound arguments for SQLite and
// PostgreSQL, on MLflow 2.17.2's own schema.
//
// # Grammar
//
// A filter is comparisons joined by AND (any case); there is no OR, NOT or
// parenthesized grouping, as in MLflow:
//
//	metrics.r2 > 0.5 and params.max_depth = '10' and tags.`mlflow.runName` LIKE 'rf-%'
//
// An identifier is an optional entity type, a dot and a key. Keys with spaces or
// other characters are quoted with backticks or double quotes (metrics."my metric",
// params.`a b`); everything after the first dot is the key (tags.mlflow.runName).
// String values are in single or double quotes (a quote inside is doubled or
// backslash-escaped); numbers are -?digits[.digits][e±digits]; lists are ('a', 'b').
//
// Runs (ParseRunFilter): metric/metrics take numbers and = != > >= < <=;
// parameter/parameters/param/params and tag/tags take strings and = != LIKE ILIKE;
// attribute/attributes/attr/run (or no prefix) take run_id, run_name (also "run name",
// "Run name", "Run Name"), status, user_id, artifact_uri with = != LIKE ILIKE IN
// NOT IN (lists only for run_id), and start_time (also created, Created) and
// end_time with numbers; dataset/datasets take name, digest, context with = != LIKE
// ILIKE IN NOT IN. MLflow 2.17 has no lifecycle_stage attribute (the run view type
// selects it). Params and tags also take IS NULL and IS NOT NULL (no value), as
// MLflow 3.11.1 has them for runs: whether the run has the key at all. One
// deliberate difference: tags also take IN and NOT IN with a list, which MLflow
// refuses ("Expected a quoted string value for tag"), so that one search finds the
// nested runs of many parents (tags.mlflow.parentRunId IN ('p1', 'p2')); as with
// != and NOT IN elsewhere, a run without the tag matches neither.
//
// Experiments: name (strings), creation_time and last_update_time (numbers),
// tags. Registered models: name, tags. Model versions: name, run_id (also IN),
// source_path (strings, IN but not NOT IN), version_number (numbers), tags. For
// these the only prefixes are attribute, tag and tags, as in MLflow.
//
// Traces (ParseTraceFilter): attribute/attributes/trace (or no prefix) take
// request_id and status (= != IN NOT IN), timestamp_ms (also timestamp) and
// execution_time_ms (also execution_time) with numbers, name (the
// mlflow.traceName tag) and run_id (the mlflow.sourceRun request metadata);
// tag/tags and request_metadata/metadata take strings with = and != only
// (MLflow has no LIKE for traces).
//
// LIKE and ILIKE patterns use % and _, and a backslash makes the next character
// literal (PostgreSQL's default); LIKE is case-sensitive on both databases, ILIKE
// is not (on SQLite only ASCII letters fold, as SQLite's LOWER folds).
//
// Metric comparisons read latest_metrics. A NaN metric (stored as 0 with is_nan
// set) compares false with every number and unequal to every number, as IEEE 754
// and MLflow's file store have it (MLflow's SQL store compares the stored 0).
//
// # Errors
//
// Every parse error is a *tracking.Error with code INVALID_PARAMETER_VALUE and
// MLflow 2.17's message where MLflow has one ("Invalid comparator '>>' not one of
// ...", "Invalid entity type 'foo'. Valid values are [...]", "Expected a quoted
// string value for parameter ...", "Invalid clause(s) in filter string: 'OR ...'",
// "Invalid ordering key in order_by clause '...'.", "Invalid page token, could not
// base64-decode"). MLflow answers a few of these with INTERNAL_ERROR (bad tag
// comparators, duplicate order_by fields); here they are all
// INVALID_PARAMETER_VALUE. Compile errors happen only for ASTs that no Parse
// function returns (built by hand), and are plain errors.
//
// # Using the compiled SQL
//
// Compile* return an SQL whose fragments refer to the searched table by its real,
// unaliased name — runs, experiments, registered_models, model_versions,
// trace_info — and reach every other table (latest_metrics, params, tags, inputs,
// datasets, input_tags, experiment_tags, registered_model_tags,
// model_version_tags, trace_tags, trace_request_metadata) through correlated
// subqueries, so the caller writes no joins and must not alias the searched table:
//
//	s, err := search.CompileRuns(filter, order, search.PostgreSQL, 3)
//	q := "SELECT runs.run_uuid, ... FROM runs" +
//		" WHERE runs.experiment_id IN ($1) AND runs.lifecycle_stage IN ($2)" +
//		" AND " + s.Where +
//		" ORDER BY " + s.OrderBy +
//		fmt.Sprintf(" LIMIT $%d OFFSET $%d", s.NextArg, s.NextArg+1)
//	args := append([]any{expID, "active"}, s.Args...)
//	args = append(args, s.OrderArgs...)
//	args = append(args, limit, offset)
//
// firstArg is the number of the first placeholder the fragments use: Where's
// placeholders are numbered firstArg, firstArg+1, ..., then OrderBy's, and NextArg
// is the next free number. On PostgreSQL placeholders are $n; on SQLite they are ?
// and only their order matters, so the arguments go in the order the fragments
// appear in the text: the caller's arguments before Where, then Args, then
// OrderArgs, then whatever follows ORDER BY. A query without ORDER BY (a count)
// uses Where and Args alone. Where is "1 = 1" for an empty filter. OrderBy always
// ends with a unique tie-break (runs: start_time DESC unless ordered by, then
// run_uuid ASC), so OFFSET paging is stable.
//
// CompileRunSegments compiles the same runs search into segments read one after
// the other (their From replaces "runs" in the query above). When the first
// ordering is a metric, the first segment joins latest_metrics and orders by its
// value first, so that the database can walk an index on latest_metrics (key,
// is_nan, value) and stop at the LIMIT instead of evaluating the ordering for
// every run; the NaN runs and the runs without the metric follow in their own
// segments. A page at OFFSET n reads each segment with the rows still wanted; an
// offset beyond a segment's rows is reduced by its COUNT(*) (FROM From WHERE
// caller's conditions AND Where, with Args).
//
// NULLs sort last in both directions (NULLS LAST, SQLite 3.30 or later); for
// metrics, numbers come first, then NaN, then runs without the metric, as in
// MLflow. Filters on run_name read the mlflow.runName tag, as MLflow's SQL store
// does (the store must keep that tag in step with runs.name); ordering by run_name
// reads runs.name. Model-version search in MLflow hides versions whose
// current_stage is 'Deleted_Internal': the caller adds that condition.
//
// # Page tokens
//
// EncodePageToken and DecodePageToken make and read MLflow's tokens: base64 of
// {"offset": N}. Runs pages get tokens that also resume where the page before
// ended (EncodeRunPageToken, DecodeRunPageToken): {"offset": N, "after":
// [...], "search": "..."} holds the sort key values of the page's last run
// (RunKeyValues) and a fingerprint of the search (SearchFingerprint), and
// SQL.After keeps the runs after those values, so that a walk seeks its index
// instead of reading the N runs before. MLflow's servers read the offset alone,
// and a token of another search, or of MLflow, pages by its offset. On
// unchanged data both give the same pages; where runs were created or deleted
// between pages the keyset repeats and skips none, where MLflow's offset does
// (a deliberate difference).
package search
