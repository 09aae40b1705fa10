"""``python -m sqlops``: the same command as the ``sqlops`` script."""

from __future__ import annotations

from sqlops.cli.app import entry

if __name__ == "__main__":
    entry()
