"""The feature-store commands: ``sqlops features ...``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sqlops.cli.base import (
    Json,
    Role,
    app,
    open_project,
    refs,
)

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

    rows = open_project().features.list_feature_views()
    render.as_json({"feature_views": rows}) if json else render.feature_views(rows)


@features_app.command("show")
def features_show(
    name: Annotated[str, typer.Argument(help="The feature view.")], json: Json = False
) -> None:
    """Show a feature view: definition, owner, lineage and its latest statistics."""
    from sqlops.cli import render

    info = open_project().features.get_feature_view(name)
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
    role: Role = None,
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
    store = open_project(role).features
    # the entity file is the caller's input, read in memory: under a role the sandbox
    # reads no file, so the rows go in as a frame
    rows = api.sql(f"SELECT * FROM {literal(str(entities.resolve()))}")
    frame = store.get_historical_features(
        rows,
        refs(features),
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
    done = open_project().features.materialize(until)
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
    role: Role = None,
) -> None:
    """Look up the online values of entities (Feast's to_dict() shape with --json)."""
    from sqlops.cli import render
    from sqlops.execute.script import parse_param

    rows = [dict(parse_param(pair) for pair in item.split(",") if pair) for item in entity]
    values = open_project(role).features.get_online_features(
        refs(features), rows, full_feature_names=full_feature_names
    )
    render.as_json(values) if json else render.columns(values)


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

    rows = open_project().features.synthesis_features(
        target, max_depth=max_depth, primitives=refs(primitives or []) or None, windows=windows
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

    store = open_project().features
    if name is None:
        listed = store.list_transforms()
        render.as_json({"transforms": listed}) if json else render.transform_fits(listed)
        return
    doc = store.get_transform(name, version)
    render.as_json(doc) if json else render.transform_fit(doc)
