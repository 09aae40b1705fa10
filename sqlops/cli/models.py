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


Name = Annotated[str, typer.Argument(help="The model's name.")]
Version = Annotated[int, typer.Argument(help="The model version (sqlops models list shows them).")]
By = Annotated[str, typer.Option("--by", help="Who decides (listed in [approval] approvers).")]
Reason = Annotated[str, typer.Option("--reason", help="Why, kept in the model's history.")]


@models_app.command("show")
def models_show(
    name: Name,
    version: Annotated[
        int | None, typer.Option("--version", help="This version (default: the latest).")
    ] = None,
    json: Json = False,
) -> None:
    """Show one model version (artifact, features, training data, metrics, stage) and the
    model's history of approvals and stage moves."""
    from sqlops.cli import render

    models = open_project().models
    info = models.get(name, version).to_dict()
    history = [h.to_dict() for h in models.history(name)]
    if json:
        render.as_json({**info, "history": history})
        return
    render.mapping(info)
    render.model_history(history)


@models_app.command("approve")
def models_approve(
    name: Name, version: Version, by: By, reason: Reason = "", json: Json = False
) -> None:
    """Approve a model version for production (the same person counts once)."""
    from sqlops.cli import render

    event = open_project().models.approve(name, version, by, reason).to_dict()
    render.as_json(event) if json else render.model_event(event)


@models_app.command("reject")
def models_reject(
    name: Name, version: Version, by: By, reason: Reason = "", json: Json = False
) -> None:
    """Veto a model version: it cannot reach production until the same person approves it."""
    from sqlops.cli import render

    event = open_project().models.reject(name, version, by, reason).to_dict()
    render.as_json(event) if json else render.model_event(event)


@models_app.command("promote")
def models_promote(
    name: Name,
    version: Version,
    to: Annotated[str, typer.Option("--to", help="staging, production or archived.")],
    reason: Reason = "",
    json: Json = False,
) -> None:
    """Move a model version to a stage; to production only when every requirement holds
    (metrics, contracts at its data version, no raw PII features, enough approvers)."""
    from sqlops.cli import render

    moved = open_project().models.promote(name, version, to, reason=reason).to_dict()
    render.as_json(moved) if json else render.model_moved(moved)


@models_app.command("card")
def models_card(name: Name, version: Version, json: Json = False) -> None:
    """Print a model card (Markdown; --json for its data): use, owner, metrics, training data
    and its contracts, features, approvals and stage history."""
    from sqlops.cli import render
    from sqlops.governance.approval import render_card_markdown

    card = open_project().models.card(name, version)
    render.as_json(card) if json else render.markdown_text(render_card_markdown(card))
