"""What every command shares: the root Typer app and its options, the project it opens,
and the small parsers and printers command bodies call."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

app = typer.Typer(
    name="sqlops",
    help="SQL models on DuckDB, data versions, features and governance, embedded.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

selected: dict[str, Any] = {"path": None}

Select = Annotated[
    list[str] | None,
    typer.Option("--select", "-s", help="Models to act on: name, +name, name+, tag:x, path:dir."),
]
Exclude = Annotated[list[str] | None, typer.Option("--exclude", "-x", help="Models to leave out.")]
Json = Annotated[bool, typer.Option("--json", help="Print JSON to stdout, nothing else.")]
Params = Annotated[
    list[str] | None, typer.Option("--param", help="A $name parameter as name=value.")
]
Out = Annotated[
    Path | None, typer.Option("--out", "-o", help="Write the result to .parquet/.csv/.json.")
]
Limit = Annotated[int, typer.Option("--limit", help="Rows to show.")]
Role = Annotated[
    str | None,
    typer.Option("--role", help="Read as this role ([roles.NAME]; default SQLOPS_ROLE, or owner)."),
]


def _print_version(asked: bool) -> None:
    if asked:
        from sqlops._version import __version__

        sys.stdout.write(f"sqlops {__version__}\n")
        raise typer.Exit()


@app.callback()
def _root(
    project: Annotated[
        Path | None,
        typer.Option("--project", "-p", help="Project folder (default: found upwards)."),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Print the version and exit.", callback=_print_version, is_eager=True
        ),
    ] = False,
) -> None:
    """SQL models on DuckDB, data versions, features and governance, embedded."""
    selected["path"] = project


def open_project(role: str | None = None) -> Any:
    """The project of ``--project`` (or found upwards), read as ``role`` when given."""
    from sqlops.api import Project

    return Project(selected["path"], **({"role": role} if role else {}))


def refs(items: list[str]) -> list[str]:
    return [ref.strip() for item in items for ref in item.split(",") if ref.strip()]


def parse_params(items: list[str] | None) -> dict[str, Any]:
    from sqlops.execute.script import parse_param

    return dict(parse_param(item) for item in items or [])


def show(df: Any, out: Path | None, limit: int, json: bool) -> None:
    from sqlops import api
    from sqlops.cli import render

    if out is not None and df is not None:
        api.write_output(df, out)
    if json:
        render.as_json([] if df is None else df.to_dicts())
    elif out is None:
        render.frame(df, limit)
    else:
        render.out().print(f"wrote {0 if df is None else df.height:,} rows to {out}")
