"""The governance commands: owners, check, contract, pii, export, audit, monitor and the
governance report."""

from __future__ import annotations

from sqlops.cli.base import Json, app, open_project


@app.command()
def owners(json: Json = False) -> None:
    """List the owner of every source, model, feature view and saved model, and what has none."""
    from sqlops.cli import render

    rows = [o.to_dict() for o in open_project().owners()]
    if json:
        render.as_json({"owners": rows})
        return
    render.records(rows, ["kind", "name", "owner", "where"])
    render.unowned([r for r in rows if not r["owner"]])
