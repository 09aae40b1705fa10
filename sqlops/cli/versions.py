"""The data-version commands: branch, commit, log, diff, merge, tag, revert, checkout,
status, data, versions."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sqlops.cli.base import (
    Json,
    Limit,
    app,
    open_project,
)

branch_app = typer.Typer(help="Create, list and delete branches of the data.", no_args_is_help=True)
app.add_typer(branch_app, name="branch")


@branch_app.command("list")
def branch_list(json: Json = False) -> None:
    """List branches and the commit each points to (* marks the checked-out one)."""
    from sqlops.cli import render

    project = open_project()
    rows = [
        {"branch": name, "commit": cid[:12], "current": name == project.branch}
        for name, cid in project.branches().items()
    ]
    render.as_json({"branches": rows}) if json else render.records(
        rows, ["branch", "commit", "current"]
    )


@branch_app.command("create")
def branch_create(
    name: Annotated[str, typer.Argument(help="The new branch.")],
    from_ref: Annotated[
        str | None, typer.Option("--from", help="Start point (default: current).")
    ] = None,
) -> None:
    """Create a branch; it shares all data with its start point (O(1) in data size)."""
    from sqlops.cli import render

    cid = open_project().create_branch(name, from_ref)
    render.out().print(f"created branch {name} at {cid[:12]}")


@branch_app.command("delete")
def branch_delete(name: Annotated[str, typer.Argument(help="The branch to delete.")]) -> None:
    """Delete a branch (its commits stay reachable from other refs)."""
    from sqlops.cli import render

    open_project().delete_branch(name)
    render.out().print(f"deleted branch {name}")


@app.command()
def commit(message: Annotated[str, typer.Option("--message", "-m", help="What changed.")]) -> None:
    """Commit the built tables (and snapshots of the file sources) to the current branch."""
    from sqlops.cli import render

    made = open_project().commit(message)
    render.out().print("nothing to commit" if made is None else f"committed {made.id[:12]}")


@app.command()
def log(
    table: Annotated[
        str | None, typer.Argument(help="Only commits that changed this table.")
    ] = None,
    ref: Annotated[str | None, typer.Option("--ref", help="Branch, tag or commit.")] = None,
    limit: Limit = 20,
    json: Json = False,
) -> None:
    """Show the history of a branch, or of one table in it."""
    from sqlops.cli import render

    commits = [c.summary() for c in open_project().log(table, ref, limit)]
    if json:
        render.as_json({"commits": commits})
    else:
        rows = [{**c, "id": c["id"][:12], "tables": len(c["tables"])} for c in commits]
        render.records(rows, ["id", "time", "author", "message", "tables"])


@app.command()
def diff(
    a: Annotated[str, typer.Argument(help="From this ref.")],
    b: Annotated[str | None, typer.Argument(help="To this ref (default: current branch).")] = None,
    table: Annotated[str | None, typer.Argument(help="With --rows: the table to compare.")] = None,
    rows: Annotated[bool, typer.Option("--rows", help="Row-level diff of TABLE by --key.")] = False,
    key: Annotated[
        list[str] | None, typer.Option("--key", "-k", help="Unique key column(s).")
    ] = None,
    limit: Limit = 20,
    json: Json = False,
) -> None:
    """Tables added, removed and changed between two versions; --rows for one table's rows."""
    from sqlops.cli import render

    project = open_project()
    if rows or table:
        frame = project.diff_rows(table or "", a, b, key or [])
        render.as_json(frame.to_dicts()) if json else render.row_diff(frame, key or [], limit)
        return
    result = project.diff(a, b).to_dict()
    render.as_json(result) if json else render.mapping(result)


@app.command()
def merge(
    source: Annotated[str, typer.Argument(help="The branch (or ref) to merge.")],
    into: Annotated[
        str | None, typer.Option("--into", help="Target branch (default: current).")
    ] = None,
) -> None:
    """Merge a branch: three-way at table level; both sides changing a table is a conflict."""
    from sqlops.cli import render

    made = open_project().merge(source, into)
    render.out().print(f"merged {source}: {made.id[:12]}")


@app.command()
def tag(
    name: Annotated[str, typer.Argument(help="The tag.")],
    ref: Annotated[
        str | None, typer.Argument(help="What to tag (default: current branch).")
    ] = None,
) -> None:
    """Name a version for good (tags never move)."""
    from sqlops.cli import render

    render.out().print(f"tagged {open_project().tag(name, ref)[:12]} as {name}")


@app.command()
def revert(ref: Annotated[str, typer.Argument(help="The commit to undo.")]) -> None:
    """Commit the inverse of a commit's table changes on the current branch."""
    from sqlops.cli import render

    render.out().print(f"reverted in {open_project().revert(ref).id[:12]}")


@app.command()
def checkout(
    ref: Annotated[str, typer.Argument(help="Branch, tag, commit or main~N.")],
    force: Annotated[
        bool, typer.Option("--force", help="Discard built tables that no commit holds.")
    ] = False,
) -> None:
    """Point the warehouse at a version (views over stored objects; nothing is copied)."""
    from sqlops.cli import render

    names = open_project().checkout(ref, force=force)
    render.out().print(f"checked out {ref}: {len(names)} tables")


@app.command()
def status(json: Json = False) -> None:
    """Show the checked-out ref, uncommitted tables and the models a build would run."""
    from sqlops.cli import render

    result = open_project().status()
    render.as_json(result.to_dict()) if json else render.status(result)


data_app = typer.Typer(
    help="Snapshot raw data files into the store and bring them back.", no_args_is_help=True
)
app.add_typer(data_app, name="data")


@data_app.command("add")
def data_add(
    path: Annotated[Path, typer.Argument(help="The data file (CSV, Parquet, JSON, NDJSON).")],
    name: Annotated[
        str | None, typer.Option("--name", help="Source name, schema.table (default: raw.<stem>).")
    ] = None,
    message: Annotated[str | None, typer.Option("--message", "-m", help="Commit message.")] = None,
) -> None:
    """Commit a file's exact bytes (and the table it parses to) to the current branch."""
    from sqlops.cli import render

    render.data_added(open_project().data_add(path.absolute(), name, message))


@data_app.command("checkout")
def data_checkout(
    ref: Annotated[str, typer.Argument(help="Branch, tag, commit or main~N.")],
    name: Annotated[str | None, typer.Option("--name", help="Only this source's file.")] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite files with changes stored in no version.")
    ] = False,
) -> None:
    """Write the data files recorded at REF back to their paths, byte for byte."""
    from sqlops.cli import render

    render.data_restored(open_project().data_checkout(ref, name, force), ref)


versions_app = typer.Typer(help="Maintain the version store.", no_args_is_help=True)
app.add_typer(versions_app, name="versions")


@versions_app.command("gc")
def versions_gc() -> None:
    """Delete stored objects that no commit and no warehouse table uses."""
    from sqlops.cli import render

    count, freed = open_project().gc()
    render.out().print(f"removed {count} objects, {freed / 2**20:.1f} MiB")


@versions_app.command("fsck")
def versions_fsck(json: Json = False) -> None:
    """Verify every ref, commit and object hash; exits 1 if anything is wrong."""
    from sqlops.cli import render

    problems = open_project().fsck()
    if json:
        render.as_json({"problems": problems})
    else:
        for problem in problems:
            render.err().print(problem)
        render.out().print("ok" if not problems else f"{len(problems)} problem(s)")
    raise typer.Exit(1 if problems else 0)
