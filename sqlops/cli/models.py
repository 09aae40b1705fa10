"""The model-registry commands: ``sqlops models ...``."""

from __future__ import annotations

from typing import Annotated

import typer

from sqlops.cli.base import (
    Json,
    app,
    open_project,
)

models_app = typer.Typer(
    help="The model registry: saved models and their versions.", no_args_is_help=True
)
app.add_typer(models_app, name="models")


@models_app.command("list")
def models_list(json: Json = False) -> None:
    """List every saved model version: owner, stage, metrics and when it was saved."""
    from sqlops.cli import render

    rows = [m.to_dict() for m in open_project().features.list_models()]
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

    info = open_project().features.get_model(name, version).to_dict()
    render.as_json(info) if json else render.mapping(info)
