-- materialized: table
-- contract: houses
-- contract_severity: warn
-- description: Seed ETL (pandas): keep the relevant columns, drop rows with missing values.
-- owner: data-team
-- tags: seed
select
    house_id,
    area_m2,
    age_years,
    price
from raw.houses
where area_m2 is not null
  and age_years is not null
  and price is not null
