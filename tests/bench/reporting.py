"""What the benchmark fixtures share: printing a report line past pytest's output capture,
and the lines of a side-by-side table of timed contenders."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

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


def ratio_lines(
    title: str, best: Mapping[str, tuple[float, float, float]], floor: str, width: int
) -> list[str]:
    """A report's head: the title, the load, then each contender's wall and CPU seconds
    (with their ratio to ``floor``'s) and peak RSS, fastest first."""
    wall_floor, cpu_floor = best[floor][:2]
    lines = [title, f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"]
    for name, (seconds, cpu, rss) in sorted(best.items(), key=lambda kv: kv[1][0]):
        lines.append(
            f"  {name:{width}} wall {seconds:6.2f} s {seconds / wall_floor:5.2f}x"
            f"  cpu {cpu:6.2f} s {cpu / cpu_floor:5.2f}x  peak {rss:6.0f} MiB"
        )
    return lines


def best_of(
    contenders: Mapping[str, Any], reps: int, timed: Callable[..., tuple[float, float, float]]
) -> dict[str, tuple[float, float, float]]:
    """Run each contender ``reps`` times, interleaved with a rotating start (so no one
    always runs first, on a warmer or colder machine): min wall and CPU, max peak memory."""
    best: dict[str, tuple[float, float, float]] = {}
    names = list(contenders)
    for rep in range(reps):
        for name in names[rep % len(names) :] + names[: rep % len(names)]:
            now = timed(*contenders[name])
            prev = best.get(name, now)
            best[name] = (min(now[0], prev[0]), min(now[1], prev[1]), max(now[2], prev[2]))
    return best
