-- materialized: table
-- contract: house_listing
-- description: The houses as listed for the price model: features and the price label, listed
--   on one date (the generated data has no sale dates), read by the house_listing feature view.
-- owner: data-team
-- tags: features
select
    house_id,
    area_m2,
    age_years,
    price,
    timestamp '2026-01-01 00:00:00' as listed_at
from staging.houses
