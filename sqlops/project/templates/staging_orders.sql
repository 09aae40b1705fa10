-- materialized: view
-- description: Orders with a known customer and amount.
-- owner: data-team
select
    order_id,
    customer_id,
    ordered_at,
    amount
from raw.orders
where customer_id is not null
  and amount is not null
