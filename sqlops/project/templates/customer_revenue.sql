-- materialized: table
-- description: Revenue per customer, with each customer's z-score among all customers.
-- tags: daily
select
    customer_id,
    count(*) as orders,
    round(sum(amount), 2) as revenue,
    round(zscore(sum(amount)), 3) as revenue_z
from staging.orders
group by customer_id
order by customer_id
