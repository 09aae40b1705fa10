"""``sqlops``: each command parses options, calls one library function, renders the result.

The commands live in one module per group (``build``, ``versions``, ``features``, ``models``,
``governance``), registered on the root app of ``base`` when this module imports them.

The one error boundary is ``main``: a SqlopsError prints ``Error: ...`` and exits 1
(``--debug`` shows the traceback); anything else is a bug and propagates.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import typer

from sqlops.cli import build, features, governance, models, versions
from sqlops.cli.base import app
from sqlops.cli.features import features_app
from sqlops.cli.models import models_app
from sqlops.cli.versions import branch_app, data_app, versions_app

__all__ = [
    "app",
    "branch_app",
    "data_app",
    "entry",
    "features_app",
    "main",
    "models_app",
    "versions_app",
]
_GROUPS = (build, features, governance, models, versions)  # imported for their commands


def main() -> None:
    """Entry point: run the app behind the one error boundary.

    A SqlopsError (a user mistake) and bad command-line usage each print one line to stderr
    and exit 1 and 2; ``--debug`` re-raises the error with its chained causes. Anything else
    is a bug and keeps its traceback.
    """
    from sqlops.errors import SqlopsError

    try:
        code = app(standalone_mode=False)
    except SqlopsError as exc:
        if "--debug" in sys.argv:
            raise
        _error(str(exc))
        sys.exit(1)
    except typer.TyperException as exc:  # click's usage errors, under Typer's public name
        sys.exit(_usage_error(exc))
    except typer.Abort:
        _error("aborted")
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)


def _error(message: str) -> None:
    from sqlops.cli import render  # rich is imported only when there is something to render

    render.error(message)


def _usage_error(exc: Any) -> int:
    """Print a usage error as one line (help itself, asked for with no arguments, stays)."""
    if type(exc).__name__ == "NoArgsIsHelpError":
        exc.show()
    else:
        ctx = getattr(exc, "ctx", None)
        command = ctx.command_path if ctx is not None else "sqlops"
        message = " ".join(str(exc.format_message()).split())
        _error(f"{message.rstrip('.')}. see `{command} --help`")
    return int(getattr(exc, "exit_code", 2))


def entry() -> None:
    """The ``sqlops`` command: ``main``, then leave without the interpreter's teardown.

    Tearing down frees every object of a large build one by one (about 0.2 s after a
    10M-row build). The command has nothing left to do by then: sqlops closes, fsyncs and
    renames every file it writes before it returns, so only the output streams need a flush.
    """
    code: int | str | None = 0
    try:
        main()
    except SystemExit as exc:
        code = exc.code
    if isinstance(code, str):
        print(code, file=sys.stderr)
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code or 0)
