-- materialized: table
-- contract: houses_normalized
-- owner: data-team
-- description: Seed feature prep (DVC example): blank values at or above each column's 90th
--   percentile, then normalize with the sample std, as pandas does on a DataFrame.
-- tags: seed, features
with trimmed as (
    select
        house_id,
        case when area_m2 < quantile_cont(area_m2, 0.9) over () then area_m2 end as area_m2,
        case when age_years < quantile_cont(age_years, 0.9) over () then age_years end
            as age_years,
        case when price < quantile_cont(price, 0.9) over () then price end as price
    from staging.houses
)
select
    house_id,
    zscore_samp(area_m2) as area_m2,
    zscore_samp(age_years) as age_years,
    zscore_samp(price) as price
from trimmed
