"""What the benchmark fixtures share: printing a report line past pytest's output capture."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest


def child_env() -> dict[str, str]:
    """The environment benchmark subprocesses run in: a user's, so bytecode is cached.

    With PYTHONDONTWRITEBYTECODE set (some CI images and containers set it), every command
    would recompile the Python side of DuckDB, Polars and Rich, 0.15-0.45 s a start, which
    no installed tool pays; the first (untimed or discarded) run writes the cache.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("SQLOPS_")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def terminal_log(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """A function that writes one line to the terminal even under capture (or prints)."""
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")

    def log(text: str) -> None:
        if reporter is not None:
            reporter.write_line(text)
        else:
            print(text)

    return log
