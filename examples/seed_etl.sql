-- The seed's numpy ETL as one SQL file for the laptop path, no project needed:
--   sqlops run examples/seed_etl.sql --param csv=examples/data/houses.csv --out dados_limpos.csv
-- Read the CSV, keep three columns, drop rows with missing values.
create temp table data as
select area_m2, age_years, price
from read_csv($csv)
where area_m2 is not null and age_years is not null and price is not null;

-- Z-score column 1 (age_years) with the population std, as numpy's ndarray.std() does.
create temp table normalized as
select area_m2, zscore(age_years) as age_years, price from data;

-- The aggregates: the means and standard deviations of the three columns.
select
    avg(area_m2) as media_1,
    avg(age_years) as media_2,
    avg(price) as media_3,
    stddev_pop(area_m2) as desvio_1,
    stddev_pop(age_years) as desvio_2,
    stddev_pop(price) as desvio_3
from normalized;
