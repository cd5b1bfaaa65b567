-- Indexes this store adds to MLflow's schema (3.11.1's or 2.17.2's), on SQLite and PostgreSQL,
-- on a new database and each time it opens an existing one at a revision it
-- serves. They are additive only: MLflow ignores indexes it does not know, and
-- its own migrations never touch these names (prefix housing_). Drop them with
-- DROP INDEX to get MLflow's exact schema back.

-- Searches ordered by a metric walk latest_metrics in value order (see
-- search.CompileRunSegments); run_uuid makes the index cover the join.
CREATE INDEX IF NOT EXISTS housing_latest_metrics_key_value ON latest_metrics ("key", is_nan, value, run_uuid);

-- runs.experiment_id has no index in MLflow's schema: every search scanned all runs.
-- With start_time, searches in the default order (start_time DESC) walk it.
CREATE INDEX IF NOT EXISTS housing_runs_experiment_id ON runs (experiment_id, lifecycle_stage, start_time);
