-- materialized: table
-- contract: house_stats
-- owner: data-team
-- description: Seed ETL (numpy): means and population standard deviations of the clean columns.
-- tags: seed, daily
select
    avg(area_m2) as mean_area_m2,
    avg(age_years) as mean_age_z,
    avg(price) as mean_price,
    stddev_pop(area_m2) as std_area_m2,
    stddev_pop(age_years) as std_age_z,
    stddev_pop(price) as std_price,
    count(*) as n_rows
from clean.houses_zscored
