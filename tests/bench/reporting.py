"""What the benchmark fixtures share: printing a report line past pytest's output capture."""

from __future__ import annotations

from collections.abc import Callable

import pytest


def terminal_log(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """A function that writes one line to the terminal even under capture (or prints)."""
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")

    def log(text: str) -> None:
        if reporter is not None:
            reporter.write_line(text)
        else:
            print(text)

    return log
