-- materialized: table
-- contract: prices_trimmed
-- owner: data-team
-- description: Houses priced below the 90th percentile (the seed's remove_outliers on a
--   single column), with price normalized to 0..1.
-- tags: features
select
    house_id,
    area_m2,
    age_years,
    minmax(price) as price_scaled
from remove_outliers('staging.houses', 'price', 0.9)
