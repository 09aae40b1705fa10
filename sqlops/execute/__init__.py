"""Run the plan: the DuckDB engine, SQL builders for each materialization, the runner."""
