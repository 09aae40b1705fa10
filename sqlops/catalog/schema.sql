-- The catalog's tables. Later modules add theirs with CREATE TABLE IF NOT EXISTS.
CREATE TABLE IF NOT EXISTS runs (
    run_id VARCHAR PRIMARY KEY,
    command VARCHAR NOT NULL,
    started_at TIMESTAMPTZ NOT NULL,
    seconds DOUBLE NOT NULL,
    status VARCHAR NOT NULL,          -- success | error
    n_run INTEGER NOT NULL,
    n_skipped INTEGER NOT NULL,
    n_error INTEGER NOT NULL,
    sqlops_version VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS model_runs (
    run_id VARCHAR NOT NULL,
    name VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,            -- source | model
    materialized VARCHAR NOT NULL,
    status VARCHAR NOT NULL,          -- success | error | skipped | upstream_failed
    reason VARCHAR NOT NULL,
    rows BIGINT,
    seconds DOUBLE NOT NULL,
    fingerprint VARCHAR NOT NULL,
    error VARCHAR,
    path VARCHAR,
    engine VARCHAR                    -- duckdb | polars (what computed the rows)
);
-- catalogs from before the engine column
ALTER TABLE model_runs ADD COLUMN IF NOT EXISTS engine VARCHAR;
CREATE TABLE IF NOT EXISTS lineage (
    model VARCHAR NOT NULL,
    upstream VARCHAR NOT NULL,
    run_id VARCHAR NOT NULL
);
