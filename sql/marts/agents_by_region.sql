-- materialized: table
-- contract: agents_by_region
-- description: Agents and their mean commission per region: no personal data left.
-- owner: sales-ops
-- tags: governance, daily
select
    region,
    count(*) as agents,
    avg(commission) as mean_commission
from staging.agents
group by region
