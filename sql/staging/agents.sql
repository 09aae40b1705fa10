-- materialized: table
-- contract: agents
-- description: The agents who list the houses (examples/generate_agents.py): personal data,
--   tagged and anonymized by the [tool.sqlops.columns."staging.agents"] rules.
-- owner: sales-ops
-- tags: governance
select
    agent_id,
    full_name,
    email,
    cpf,
    phone,
    birth_date,
    region,
    commission
from raw.agents
