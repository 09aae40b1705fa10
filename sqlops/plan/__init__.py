"""Decide what runs: the DAG, selection, fingerprints and the plan. Touches no data."""
