-- sqlops built-in macro library. Stored in the warehouse (schema main), so its views bind in
-- any DuckDB client; registered as TEMP macros where the database cannot be written.
-- Column-name arguments (col, cols, keys) match case-insensitively, like SQL identifiers.
-- Table-name arguments (tbl) are strings resolved by query_table: 't', 'raw.orders',
-- 'db.raw.orders', '"my schema"."my table"', a view, or a CTE of the calling query.
-- Windowed scalar macros use one window over all rows: statistics are taken over the rows of
-- the SELECT they appear in (after WHERE), they cannot be nested in each other, in aggregates
-- or in WHERE. The window is written OVER (PARTITION BY true), the same single partition as
-- OVER (): DuckDB then rewrites it over tables and Parquet into an aggregate joined back to
-- the rows (its window_self_join optimizer), which takes about half the time and memory of
-- the Window operator (tests/bench/seed_etl_variants.py, duckdb_zscore_parquet_*); inputs it
-- must not read twice (CSV, Arrow/Polars scans, volatile functions) keep the Window operator.

-- Internal: TRUE if every name in the list cols is a column of tbl, else an error naming caller.
CREATE OR REPLACE MACRO _sqlops_require_columns(tbl, cols, caller) AS (
    SELECT CASE
        WHEN len(missing) > 0 THEN error(
            caller || ': column(s) ' || missing::VARCHAR || ' not found in table ' || tbl)
        ELSE TRUE
    END
    FROM (
        SELECT list_filter(cols, lambda n: NOT list_contains(names, lower(n))) AS missing
        FROM (SELECT list(lower(column_name)) AS names FROM (DESCRIBE FROM query_table(tbl)))
    )
);

-- Internal: v as DOUBLE if its type is numeric (integers, floats, DECIMAL, BIGNUM), else NULL.
CREATE OR REPLACE MACRO _sqlops_numeric(v) AS CASE
    WHEN typeof(v) IN ('TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT', 'HUGEINT', 'UTINYINT',
                       'USMALLINT', 'UINTEGER', 'UBIGINT', 'UHUGEINT', 'FLOAT', 'DOUBLE', 'BIGNUM')
        OR typeof(v) LIKE 'DECIMAL(%' THEN TRY_CAST(v AS DOUBLE)
END;

-- zscore(x): (x - mean) / population std (ddof=0, numpy/sklearn StandardScaler); DOUBLE; NULL stays NULL; constant column -> NULL.
CREATE OR REPLACE MACRO zscore(x) AS
    (x::DOUBLE - avg(x::DOUBLE) OVER (PARTITION BY true))
    / nullif(stddev_pop(x::DOUBLE) OVER (PARTITION BY true), 0);

-- zscore_samp(x): (x - mean) / sample std (ddof=1, pandas .std()); DOUBLE; NULL stays NULL; fewer than 2 values or constant -> NULL.
CREATE OR REPLACE MACRO zscore_samp(x) AS
    (x::DOUBLE - avg(x::DOUBLE) OVER (PARTITION BY true))
    / nullif(stddev_samp(x::DOUBLE) OVER (PARTITION BY true), 0);

-- minmax(x): rescale to [0, 1] as (x - min) / (max - min); DOUBLE; NULL stays NULL; constant column -> NULL.
CREATE OR REPLACE MACRO minmax(x) AS
    (x::DOUBLE - min(x::DOUBLE) OVER (PARTITION BY true))
    / nullif(max(x::DOUBLE) OVER (PARTITION BY true)
             - min(x::DOUBLE) OVER (PARTITION BY true), 0);

-- clip(x, lo, hi): x bounded to [lo, hi] (pandas .clip); NULL x stays NULL (unlike least/greatest, which skip NULLs).
CREATE OR REPLACE MACRO clip(x, lo, hi) AS
    CASE WHEN x IS NULL THEN NULL ELSE least(greatest(x, lo), hi) END;

-- clip_quantile(x, lo, hi): x bounded to its lo/hi quantiles (quantile_cont = pandas linear); DOUBLE; lo, hi constants in [0, 1].
CREATE OR REPLACE MACRO clip_quantile(x, lo, hi) AS
    CASE WHEN x IS NULL THEN NULL ELSE least(
        greatest(x::DOUBLE, quantile_cont(x::DOUBLE, lo) OVER (PARTITION BY true)),
        quantile_cont(x::DOUBLE, hi) OVER (PARTITION BY true))
    END;

-- fill_null_mean(x): NULL replaced by the mean of the non-NULL values (pandas fillna(mean)); DOUBLE.
CREATE OR REPLACE MACRO fill_null_mean(x) AS
    coalesce(x::DOUBLE, avg(x::DOUBLE) OVER (PARTITION BY true));

-- fill_null_median(x): NULL replaced by the median of the non-NULL values (interpolated, pandas fillna(median)); DOUBLE.
CREATE OR REPLACE MACRO fill_null_median(x) AS
    coalesce(x::DOUBLE, quantile_cont(x::DOUBLE, 0.5) OVER (PARTITION BY true));

-- deduplicate(tbl): distinct rows (NULLs equal); deduplicate(tbl, keys): one row per distinct keys, keeping the row first in ORDER BY ALL ASC NULLS LAST (deterministic), output sorted that way.
CREATE OR REPLACE MACRO deduplicate(tbl) AS TABLE (
    SELECT DISTINCT * FROM query_table(tbl)
), (tbl, keys) AS TABLE (
    SELECT DISTINCT ON (COLUMNS(lambda c: list_contains(list_transform(keys, lambda k: lower(k)), lower(c)))) *
    FROM query_table(tbl)
    WHERE _sqlops_require_columns(tbl, keys, 'deduplicate')
    ORDER BY ALL ASC NULLS LAST
);

-- drop_nulls(tbl): rows with a NULL in any column removed; drop_nulls(tbl, cols): rows with a NULL in any listed column removed ([] removes nothing; NaN is not NULL, as in Polars).
CREATE OR REPLACE MACRO drop_nulls(tbl) AS TABLE (
    SELECT * FROM query_table(tbl) WHERE COLUMNS(*) IS NOT NULL
), (tbl, cols) AS TABLE (
    SELECT * FROM query_table(tbl)
    WHERE (COLUMNS(lambda c: len(cols) = 0
                   OR list_contains(list_transform(cols, lambda k: lower(k)), lower(c))) IS NOT NULL
           OR len(cols) = 0)
      AND _sqlops_require_columns(tbl, cols, 'drop_nulls')
);

-- remove_outliers(tbl, col, q): rows with col < its q-quantile (quantile_cont), i.e. pandas df[df[col] < df[col].quantile(q)]; NULL col rows are dropped.
CREATE OR REPLACE MACRO remove_outliers(tbl, col, q) AS TABLE
    SELECT * FROM query_table(tbl)
    WHERE COLUMNS(lambda c: lower(c) = lower(col)) < (
        SELECT quantile_cont(COLUMNS(lambda c: lower(c) = lower(col))::DOUBLE, q)
        FROM query_table(tbl));

-- trim_quantiles(tbl, col, lo, hi): rows with lo-quantile <= col <= hi-quantile (inclusive, pandas .between); NULL col rows are dropped.
CREATE OR REPLACE MACRO trim_quantiles(tbl, col, lo, hi) AS TABLE
    SELECT * FROM query_table(tbl)
    WHERE COLUMNS(lambda c: lower(c) = lower(col)) BETWEEN (
        SELECT quantile_cont(COLUMNS(lambda c: lower(c) = lower(col))::DOUBLE, lo)
        FROM query_table(tbl)
    ) AND (
        SELECT quantile_cont(COLUMNS(lambda c: lower(c) = lower(col))::DOUBLE, hi)
        FROM query_table(tbl));

-- summary_stats(tbl): one row per column, in table order (like pandas describe): column_name, column_type, count (non-NULL), null_count, and as DOUBLE for numeric columns only (else NULL) mean, std (sample), min, q25, median, q75 (quantile_cont), max.
CREATE OR REPLACE MACRO summary_stats(tbl) AS TABLE
    WITH per_column AS (
        SELECT {
            column_type: typeof(any_value(COLUMNS(*))),
            count: count(COLUMNS(*)),
            null_count: count(*) - count(COLUMNS(*)),
            mean: avg(_sqlops_numeric(COLUMNS(*))),
            std: stddev_samp(_sqlops_numeric(COLUMNS(*))),
            min: min(_sqlops_numeric(COLUMNS(*))),
            quartiles: quantile_cont(_sqlops_numeric(COLUMNS(*)), [0.25, 0.5, 0.75]),
            max: max(_sqlops_numeric(COLUMNS(*)))
        }
        FROM query_table(tbl)
    )
    SELECT
        column_name,
        s.column_type,
        s.count,
        s.null_count,
        s.mean,
        s.std,
        s.min,
        s.quartiles[1] AS q25,
        s.quartiles[2] AS median,
        s.quartiles[3] AS q75,
        s.max
    FROM (UNPIVOT per_column ON COLUMNS(*) INTO NAME column_name VALUE s);
