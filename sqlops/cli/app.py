"""``sqlops``: each command parses options, calls one library function, renders the result.

The one error boundary is ``main``: a SqlopsError prints ``Error: ...`` and exits 1
(``--debug`` shows the traceback); anything else is a bug and propagates.
"""

from __future__ import annotations

import os
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

_project: dict[str, Any] = {"path": None}

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
    _project["path"] = project


def _open() -> Any:
    from sqlops.api import Project

    return Project(_project["path"])


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

    values = _open().config.to_dict()
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
        result = _open().build(
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

    result = _open().plan(select or (), exclude or (), full_refresh=full_refresh)
    render.as_json(result.to_dict()) if json else render.plan(result)


@app.command(name="ls")
def list_nodes(json: Json = False) -> None:
    """List the project's sources and models."""
    from sqlops.cli import render

    rows = _open().nodes()
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
) -> None:
    """Run one SQL file and show its last result (no project needed)."""
    from sqlops import api

    _show(api.run_file(file, _params(param), project=_project["path"]), out, limit, json)


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
) -> None:
    """Run SQL given on the command line and show the result."""
    from sqlops import api

    _show(api.query(sql, _params(param), project=_project["path"], ref=ref), out, limit, json)


@app.command()
def lineage(
    model: Annotated[str, typer.Argument(help="The model (or source) to trace.")],
    column: Annotated[str | None, typer.Option("--column", "-c", help="Trace one column.")] = None,
    json: Json = False,
) -> None:
    """Show a model's upstream and downstream; with --column, that column's whole path
    through intermediate models and every downstream column a change to it would reach."""
    from sqlops.cli import render

    info = _open().lineage(model, column)
    render.as_json(info.to_dict()) if json else render.lineage(info)


@app.command()
def runs(limit: Limit = 10, json: Json = False) -> None:
    """List recent builds from the catalog."""
    from sqlops.cli import render

    rows = _open().runs(limit)
    if json:
        render.as_json({"runs": rows})
    else:
        render.records(
            rows, ["run_id", "started_at", "status", "n_run", "n_skipped", "n_error", "seconds"]
        )


branch_app = typer.Typer(help="Create, list and delete branches of the data.", no_args_is_help=True)
app.add_typer(branch_app, name="branch")


@branch_app.command("list")
def branch_list(json: Json = False) -> None:
    """List branches and the commit each points to (* marks the checked-out one)."""
    from sqlops.cli import render

    project = _open()
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

    cid = _open().create_branch(name, from_ref)
    render.out().print(f"created branch {name} at {cid[:12]}")


@branch_app.command("delete")
def branch_delete(name: Annotated[str, typer.Argument(help="The branch to delete.")]) -> None:
    """Delete a branch (its commits stay reachable from other refs)."""
    from sqlops.cli import render

    _open().delete_branch(name)
    render.out().print(f"deleted branch {name}")


@app.command()
def commit(message: Annotated[str, typer.Option("--message", "-m", help="What changed.")]) -> None:
    """Commit the built tables (and snapshots of the file sources) to the current branch."""
    from sqlops.cli import render

    made = _open().commit(message)
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

    commits = [c.summary() for c in _open().log(table, ref, limit)]
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

    project = _open()
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

    made = _open().merge(source, into)
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

    render.out().print(f"tagged {_open().tag(name, ref)[:12]} as {name}")


@app.command()
def revert(ref: Annotated[str, typer.Argument(help="The commit to undo.")]) -> None:
    """Commit the inverse of a commit's table changes on the current branch."""
    from sqlops.cli import render

    render.out().print(f"reverted in {_open().revert(ref).id[:12]}")


@app.command()
def checkout(
    ref: Annotated[str, typer.Argument(help="Branch, tag, commit or main~N.")],
    force: Annotated[
        bool, typer.Option("--force", help="Discard built tables that no commit holds.")
    ] = False,
) -> None:
    """Point the warehouse at a version (views over stored objects; nothing is copied)."""
    from sqlops.cli import render

    names = _open().checkout(ref, force=force)
    render.out().print(f"checked out {ref}: {len(names)} tables")


@app.command()
def status(json: Json = False) -> None:
    """Show the checked-out ref, uncommitted tables and the models a build would run."""
    from sqlops.cli import render

    result = _open().status()
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

    render.data_added(_open().data_add(path.absolute(), name, message))


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

    render.data_restored(_open().data_checkout(ref, name, force), ref)


versions_app = typer.Typer(help="Maintain the version store.", no_args_is_help=True)
app.add_typer(versions_app, name="versions")


@versions_app.command("gc")
def versions_gc() -> None:
    """Delete stored objects that no commit and no warehouse table uses."""
    from sqlops.cli import render

    count, freed = _open().gc()
    render.out().print(f"removed {count} objects, {freed / 2**20:.1f} MiB")


@versions_app.command("fsck")
def versions_fsck(json: Json = False) -> None:
    """Verify every ref, commit and object hash; exits 1 if anything is wrong."""
    from sqlops.cli import render

    problems = _open().fsck()
    if json:
        render.as_json({"problems": problems})
    else:
        for problem in problems:
            render.err().print(problem)
        render.out().print("ok" if not problems else f"{len(problems)} problem(s)")
    raise typer.Exit(1 if problems else 0)


features_app = typer.Typer(
    help="Feature views, training sets and the online store.", no_args_is_help=True
)
app.add_typer(features_app, name="features")
FeatureRefs = Annotated[
    list[str],
    typer.Option("--features", "-f", help="view:feature or view:* (repeat, or comma-separate)."),
]


@features_app.command("list")
def features_list(json: Json = False) -> None:
    """List the feature views: source, keys, features, ttl, owner and last build."""
    from sqlops.cli import render

    rows = _open().features.list_feature_views()
    render.as_json({"feature_views": rows}) if json else render.feature_views(rows)


@features_app.command("show")
def features_show(
    name: Annotated[str, typer.Argument(help="The feature view.")], json: Json = False
) -> None:
    """Show a feature view: definition, owner, lineage and its latest statistics."""
    from sqlops.cli import render

    info = _open().features.get_feature_view(name)
    render.as_json(info) if json else render.feature_view(info)


@features_app.command("train")
def features_train(
    entities: Annotated[
        Path, typer.Option("--entities", help="Entity rows: a .csv/.parquet/.json file.")
    ],
    features: FeatureRefs,
    out: Annotated[Path, typer.Option("--out", "-o", help="Write the training set here.")],
    timestamp_column: Annotated[
        str, typer.Option("--timestamp-column", help="The entity rows' time column.")
    ] = "event_timestamp",
    full_feature_names: Annotated[
        bool, typer.Option("--full-feature-names", help="Name features view__feature.")
    ] = False,
    ref: Annotated[
        str | None, typer.Option("--ref", help="Read feature data at this branch/tag/commit.")
    ] = None,
    save: Annotated[
        str | None, typer.Option("--save", help="Also save it as a named training set.")
    ] = None,
) -> None:
    """Compute a point-in-time training set for the entity rows in a file."""
    from sqlops import api
    from sqlops.cli import render
    from sqlops.errors import FileAccessError
    from sqlops.execute.materialize import literal

    if not entities.is_file():
        raise FileAccessError(
            "entity file not found", path=entities, hint="pass --entities a .csv or .parquet file"
        )
    store = _open().features
    frame = store.get_historical_features(
        f"SELECT * FROM {literal(str(entities.resolve()))}",
        _refs(features),
        full_feature_names=full_feature_names,
        timestamp_column=timestamp_column,
        ref=ref,
    )
    api.write_output(frame, out)
    if save is not None:
        store.save_training_set(save, frame)
    render.out().print(f"wrote {frame.height:,} rows to {out}")


@features_app.command("materialize")
def features_materialize(
    end: Annotated[
        str | None, typer.Option("--end", help="Values as of this time (ISO 8601; default now).")
    ] = None,
    json: Json = False,
) -> None:
    """Publish each view's latest values per entity to the online store."""
    from datetime import datetime

    from sqlops.cli import render
    from sqlops.errors import FeatureError

    try:
        until = datetime.fromisoformat(end) if end else None
    except ValueError as exc:
        raise FeatureError(f"--end {end!r} is not an ISO 8601 time, e.g. 2024-01-31T12:00") from exc
    done = _open().features.materialize(until)
    rows = [
        {
            "view": m.view,
            "entities": m.entities,
            "written": m.written,
            "deleted": m.deleted,
            "watermark": m.watermark,
            "full": m.full,
        }
        for m in done
    ]
    render.as_json({"materialized": rows}) if json else render.records(
        rows, ["view", "entities", "written", "deleted", "watermark"]
    )


@features_app.command("online")
def features_online(
    features: FeatureRefs,
    entity: Annotated[
        list[str],
        typer.Option("--entity", "-e", help="One entity row: key=value[,key=value] (repeat)."),
    ],
    full_feature_names: Annotated[
        bool, typer.Option("--full-feature-names", help="Name features view__feature.")
    ] = False,
    json: Json = False,
) -> None:
    """Look up the online values of entities (Feast's to_dict() shape with --json)."""
    from sqlops.cli import render
    from sqlops.execute.script import parse_param

    rows = [dict(parse_param(pair) for pair in item.split(",") if pair) for item in entity]
    values = _open().features.get_online_features(
        _refs(features), rows, full_feature_names=full_feature_names
    )
    render.as_json(values) if json else render.columns(values)


def _refs(items: list[str]) -> list[str]:
    return [ref.strip() for item in items for ref in item.split(",") if ref.strip()]


def _params(items: list[str] | None) -> dict[str, Any]:
    from sqlops.execute.script import parse_param

    return dict(parse_param(item) for item in items or [])


def _show(df: Any, out: Path | None, limit: int, json: bool) -> None:
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


# -- the model registry (issue 13) ---------------------------------------------------------

models_app = typer.Typer(
    help="The model registry: saved models and their versions.", no_args_is_help=True
)
app.add_typer(models_app, name="models")


@models_app.command("list")
def models_list(json: Json = False) -> None:
    """List every saved model version: owner, stage, metrics and when it was saved."""
    from sqlops.cli import render

    rows = [m.to_dict() for m in _open().features.list_models()]
    render.as_json({"models": rows}) if json else render.registered_models(rows)


@models_app.command("show")
def models_show(
    name: Annotated[str, typer.Argument(help="The model's name.")],
    version: Annotated[
        int | None, typer.Option("--version", help="This version (default: the latest).")
    ] = None,
    json: Json = False,
) -> None:
    """Show one model version: artifact, features, training set and data version, metrics."""
    from sqlops.cli import render

    info = _open().features.get_model(name, version).to_dict()
    render.as_json(info) if json else render.mapping(info)


@features_app.command("synthesize")
def features_synthesize(
    target: Annotated[str, typer.Option("--target", help="The target source, e.g. raw.customers.")],
    max_depth: Annotated[int, typer.Option("--max-depth", help="How deep features stack.")] = 2,
    primitives: Annotated[
        list[str] | None,
        typer.Option("--primitive", "-p", help="An aggregation primitive (repeat); all if none."),
    ] = None,
    windows: Annotated[
        list[str] | None, typer.Option("--window", "-w", help="A time window like 7d (repeat).")
    ] = None,
    json: Json = False,
) -> None:
    """List the aggregate features (featuretools' DFS) of a target, with their SQL."""
    from sqlops.cli import render

    rows = _open().features.synthesis_features(
        target, max_depth=max_depth, primitives=_refs(primitives or []) or None, windows=windows
    )
    render.as_json(rows) if json else render.synthesized_features(rows)


@features_app.command("transforms")
def features_transforms(
    name: Annotated[str | None, typer.Argument(help="A fitted transform (omit to list).")] = None,
    version: Annotated[int | None, typer.Option("--version", help="Default: the latest.")] = None,
    json: Json = False,
) -> None:
    """List fitted transforms and their versions, or show one: spec and fitted statistics."""
    from sqlops.cli import render

    store = _open().features
    if name is None:
        listed = store.list_transforms()
        render.as_json({"transforms": listed}) if json else render.transform_fits(listed)
        return
    doc = store.get_transform(name, version)
    render.as_json(doc) if json else render.transform_fit(doc)
