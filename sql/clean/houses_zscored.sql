-- materialized: table
-- contract: houses_zscored
-- owner: data-team
-- description: Seed ETL (numpy): age_years as a z-score (population std, like ndarray.std()).
-- tags: seed
select
    house_id,
    area_m2,
    zscore(age_years) as age_years,
    price
from staging.houses
