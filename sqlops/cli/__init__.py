"""The command line: a thin Typer shell over ``sqlops.api``."""
