-- Indexes this store adds to MLflow's schema (3.11.1's or 2.17.2's), on SQLite and PostgreSQL,
-- on a new database and each time it opens an existing one at a revision it
-- serves. They are additive only: MLflow ignores indexes it does not know, and
-- its own migrations never touch these names (prefix housing_). Drop them with
-- DROP INDEX to get MLflow's exact schema back.

-- Searches ordered by a metric walk latest_metrics in value order (see
-- search.CompileRunSegments); run_uuid makes the index cover the join.
CREATE INDEX IF NOT EXISTS housing_latest_metrics_key_value ON latest_metrics ("key", is_nan, value, run_uuid);

-- Filters on a metric probe each candidate run's value, and orderings by a
-- metric read it, through this one (search's metric subqueries; SQLite is told
-- to by INDEXED BY): it covers the probe, where MLflow's primary key ("key",
-- run_uuid) leaves a seek of the table row for value and is_nan.
CREATE INDEX IF NOT EXISTS housing_latest_metrics_run ON latest_metrics (run_uuid, "key", is_nan, value);

-- runs.experiment_id has no index in MLflow's schema: every search scanned all runs.
-- With start_time, searches in the default order (start_time DESC) walk it.
CREATE INDEX IF NOT EXISTS housing_runs_experiment_id ON runs (experiment_id, lifecycle_stage, start_time);

-- Searches filtered on a param or tag (and run_name, a tag) read the runs it
-- matches through these, and searches ordered by one walk them in value order
-- (search.CompileRunsDriven, search.CompileRunSegments). A prefix of the value:
-- PostgreSQL's B-tree refuses entries over ~2.7 kB, and values go to 8,000
-- characters (search.ValuePrefix).
CREATE INDEX IF NOT EXISTS housing_params_key_value ON params ("key", substr(value, 1, 200), run_uuid);
CREATE INDEX IF NOT EXISTS housing_tags_key_value ON tags ("key", substr(value, 1, 200), run_uuid);

-- Searches ordered by end_time or run_name walk these (search.CompileRunSegments).
CREATE INDEX IF NOT EXISTS housing_runs_end_time ON runs (experiment_id, lifecycle_stage, end_time);
CREATE INDEX IF NOT EXISTS housing_runs_name ON runs (experiment_id, lifecycle_stage, name);
