-- What this store adds to MLflow's schema on PostgreSQL only (after housing.sql),
-- on a new database and each time it opens an existing one: a number per run
-- that every write to the run's metric points changes, whoever writes them
-- (this server, another replica, MLflow's own server, psql), so that a
-- get-history answer kept in a server process can be checked with one index
-- seek (see Store.MetricHistoryStamp). SQLite has the rowid for it.
--
-- The table, its sequence and the function live in a schema of their own,
-- housing: MLflow 2.17.2 takes a database whose schema holds any table it does
-- not know for a new one (mlflow.store.db.utils._all_tables_exist compares the
-- sets) and creates its tables again at every start. On MLflow's metrics
-- table there are only the triggers (prefix housing_), which name no column:
-- MLflow's migrations after 2.17.2's revision do not alter metrics, and the
-- function's body is read when it runs. DROP SCHEMA housing CASCADE (which
-- drops the triggers with the function) gives MLflow's exact schema back.

-- Replicas opening the database at once create these one after the other:
-- CREATE OR REPLACE of one function at once fails ("tuple concurrently updated").
SELECT pg_advisory_xact_lock(7361526348211);

CREATE SCHEMA IF NOT EXISTS housing;

-- Each statement that changes metrics takes one number; numbers are never
-- given twice, so a run's stamp never comes back to a value it had.
CREATE SEQUENCE IF NOT EXISTS housing.metric_stamp_seq;

-- The stamp of each run whose points were written since the triggers exist;
-- a run with none here reads 0, which the sequence never gives.
CREATE TABLE IF NOT EXISTS housing.metric_stamps (
    run_uuid varchar(32) PRIMARY KEY,
    stamp bigint NOT NULL
);

-- One upsert per statement for all the runs it touched, in run order: the
-- store's combined writes sort their rows by run, so concurrent writers lock
-- these rows in one order. A statement that changed no row (a retried batch,
-- ON CONFLICT DO NOTHING) writes nothing. SECURITY DEFINER: a writer of
-- metrics that may not write housing's table (MLflow's server under a role of
-- its own) still moves the stamps; the search_path is fixed, as such a
-- function's must be, and every name in it is qualified.
CREATE OR REPLACE FUNCTION housing.bump_metric_stamps() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    s bigint;
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM 1 FROM housing_new_metrics LIMIT 1;
    ELSIF TG_OP <> 'TRUNCATE' THEN
        PERFORM 1 FROM housing_old_metrics LIMIT 1;
    END IF;
    IF TG_OP <> 'TRUNCATE' AND NOT FOUND THEN
        RETURN NULL;
    END IF;
    s := nextval('housing.metric_stamp_seq');
    IF TG_OP = 'INSERT' THEN
        INSERT INTO housing.metric_stamps (run_uuid, stamp)
            SELECT DISTINCT run_uuid, s FROM housing_new_metrics ORDER BY run_uuid
            ON CONFLICT (run_uuid) DO UPDATE SET stamp = excluded.stamp;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO housing.metric_stamps (run_uuid, stamp)
            SELECT DISTINCT run_uuid, s FROM housing_old_metrics ORDER BY run_uuid
            ON CONFLICT (run_uuid) DO UPDATE SET stamp = excluded.stamp;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO housing.metric_stamps (run_uuid, stamp)
            SELECT run_uuid, s FROM (SELECT run_uuid FROM housing_old_metrics
                UNION SELECT run_uuid FROM housing_new_metrics) r ORDER BY run_uuid
            ON CONFLICT (run_uuid) DO UPDATE SET stamp = excluded.stamp;
    ELSE
        -- TRUNCATE: every run's points are gone, every run's stamp moves.
        EXECUTE format('INSERT INTO housing.metric_stamps (run_uuid, stamp)
            SELECT run_uuid, $1 FROM %I.runs ORDER BY run_uuid
            ON CONFLICT (run_uuid) DO UPDATE SET stamp = excluded.stamp', TG_TABLE_SCHEMA) USING s;
    END IF;
    RETURN NULL;
END
$$;

-- Statement-level, with transition tables (PostgreSQL 10 and later): one run
-- of the function per statement, not per row. One trigger per event, since a
-- trigger with transition tables fires on one event only.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = 'metrics'::regclass AND tgname = 'housing_metric_stamps_insert') THEN
        CREATE TRIGGER housing_metric_stamps_insert AFTER INSERT ON metrics
            REFERENCING NEW TABLE AS housing_new_metrics
            FOR EACH STATEMENT EXECUTE FUNCTION housing.bump_metric_stamps();
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = 'metrics'::regclass AND tgname = 'housing_metric_stamps_update') THEN
        CREATE TRIGGER housing_metric_stamps_update AFTER UPDATE ON metrics
            REFERENCING OLD TABLE AS housing_old_metrics NEW TABLE AS housing_new_metrics
            FOR EACH STATEMENT EXECUTE FUNCTION housing.bump_metric_stamps();
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = 'metrics'::regclass AND tgname = 'housing_metric_stamps_delete') THEN
        CREATE TRIGGER housing_metric_stamps_delete AFTER DELETE ON metrics
            REFERENCING OLD TABLE AS housing_old_metrics
            FOR EACH STATEMENT EXECUTE FUNCTION housing.bump_metric_stamps();
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = 'metrics'::regclass AND tgname = 'housing_metric_stamps_truncate') THEN
        CREATE TRIGGER housing_metric_stamps_truncate AFTER TRUNCATE ON metrics
            FOR EACH STATEMENT EXECUTE FUNCTION housing.bump_metric_stamps();
    END IF;
END
$$;
