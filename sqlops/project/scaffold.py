"""``sqlops init``: write a small project that builds as it is."""

from __future__ import annotations

import importlib.resources
from pathlib import Path

from sqlops.errors import ProjectError

_FILES = {
    "sqlops.toml": "sqlops.toml",
    "data/orders.csv": "orders.csv",
    "sql/staging/orders.sql": "staging_orders.sql",
    "sql/marts/customer_revenue.sql": "customer_revenue.sql",
}


def scaffold(root: Path) -> list[Path]:
    """Write the template files under ``root``; refuses to overwrite any existing file."""
    templates = importlib.resources.files("sqlops.project").joinpath("templates")
    clashes = [name for name in _FILES if (root / name).exists()]
    if clashes:
        raise ProjectError(
            f"{root / clashes[0]} already exists",
            hint="run `sqlops init` in an empty folder, or pass a new folder name",
        )
    written = []
    for name, template in _FILES.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(templates.joinpath(template).read_text(encoding="utf-8"))
        written.append(target)
    return written
