"""The ETL commands: init, config, build, plan, ls, run, query, export, lineage, runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sqlops.cli.base import (
    Exclude,
    Json,
    Limit,
    Out,
    Params,
    Role,
    Select,
    app,
    open_project,
    parse_params,
    selected,
    show,
)


@app.command()
def init(
    path: Annotated[Path, typer.Argument(help="Folder to create the project in.")] = Path("."),
) -> None:
    """Scaffold a project (config, a source, two models) that builds as it is."""
    from sqlops import api
    from sqlops.cli import render

    render.written(api.init(path))


@app.command()
def config(json: Json = False) -> None:
    """Print the effective configuration (defaults < file < SQLOPS_* env < flags)."""
    from sqlops.cli import render

    values = open_project().config.to_dict()
    render.as_json(values) if json else render.mapping(values)


@app.command()
def build(
    select: Select = None,
    exclude: Exclude = None,
    full_refresh: Annotated[
        bool, typer.Option("--full-refresh", help="Rebuild everything.")
    ] = False,
    wait: Annotated[float, typer.Option("--wait", help="Seconds to wait for a running build.")] = 0,
    branch: Annotated[
        str | None, typer.Option("--branch", help="Build on this branch and commit the result.")
    ] = None,
    at: Annotated[
        str | None,
        typer.Option("--at", help="Read file sources as committed at this ref (reproduce it)."),
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="List unchanged models too.")
    ] = False,
    json: Json = False,
) -> None:
    """Build the models in dependency order, skipping the unchanged ones."""
    from sqlops.cli import render

    with render.build_progress(enabled=not json) as on_event:
        result = open_project().build(
            select or (),
            exclude or (),
            full_refresh=full_refresh,
            on_event=on_event,
            wait=wait,
            branch=branch,
            at=at,
        )
    render.as_json(result.to_dict()) if json else render.build_summary(result, verbose)
    raise typer.Exit(0 if result.ok else 1)


@app.command()
def plan(
    select: Select = None,
    exclude: Exclude = None,
    full_refresh: Annotated[
        bool, typer.Option("--full-refresh", help="Plan a full rebuild.")
    ] = False,
    json: Json = False,
) -> None:
    """Show what a build would run and why, without running anything."""
    from sqlops.cli import render

    result = open_project().plan(select or (), exclude or (), full_refresh=full_refresh)
    render.as_json(result.to_dict()) if json else render.plan(result)


@app.command(name="ls")
def list_nodes(json: Json = False) -> None:
    """List the project's sources and models."""
    from sqlops.cli import render

    rows = open_project().nodes()
    if json:
        render.as_json({"nodes": rows})
    else:
        render.records(rows, ["name", "kind", "materialized", "depends_on", "tags", "path"])


@app.command()
def run(
    file: Annotated[Path, typer.Argument(help="A .sql file; several statements allowed.")],
    param: Params = None,
    out: Out = None,
    limit: Limit = 20,
    json: Json = False,
    role: Role = None,
) -> None:
    """Run one SQL file and show its last result (no project needed; one SELECT under a role)."""
    from sqlops import api

    result = api.run_file(file, parse_params(param), project=selected["path"], role=role)
    show(result, out, limit, json)


@app.command()
def query(
    sql: Annotated[str, typer.Argument(help="SQL to run (against the warehouse if one exists).")],
    param: Params = None,
    ref: Annotated[
        str | None, typer.Option("--ref", help="Query the tables as committed at this ref.")
    ] = None,
    out: Out = None,
    limit: Limit = 20,
    json: Json = False,
    role: Role = None,
) -> None:
    """Run SQL given on the command line and show the result (as --role R: its views only)."""
    from sqlops import api

    result = api.query(sql, parse_params(param), project=selected["path"], ref=ref, role=role)
    show(result, out, limit, json)


@app.command()
def export(
    table: Annotated[str, typer.Argument(help="The table to export (schema.table).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Write it to .parquet/.csv/.json.")],
    role: Role = None,
    json: Json = False,
) -> None:
    """Write a table to a file as the role sees it (or the owner's, without a role); audited."""
    from sqlops.cli import render

    result = open_project().export(table, out, role=role)
    if json:
        render.as_json(result.to_dict())
    else:
        render.out().print(f"wrote {result.rows:,} rows of {result.table} to {result.path}")


@app.command()
def lineage(
    model: Annotated[str, typer.Argument(help="The model (or source) to trace.")],
    column: Annotated[str | None, typer.Option("--column", "-c", help="Trace one column.")] = None,
    json: Json = False,
) -> None:
    """Show a model's upstream and downstream; with --column, that column's whole path
    through intermediate models and every downstream column a change to it would reach."""
    from sqlops.cli import render

    info = open_project().lineage(model, column)
    render.as_json(info.to_dict()) if json else render.lineage(info)


@app.command()
def runs(limit: Limit = 10, json: Json = False) -> None:
    """List recent builds from the catalog."""
    from sqlops.cli import render

    rows = open_project().runs(limit)
    if json:
        render.as_json({"runs": rows})
    else:
        render.records(
            rows, ["run_id", "started_at", "status", "n_run", "n_skipped", "n_error", "seconds"]
        )
