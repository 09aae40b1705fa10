"""The governance commands: owners, check, contract, pii, export, audit, monitor and the
governance report."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from sqlops.cli.base import Json, app, open_project

audit_app = typer.Typer(
    help="The tamper-evident audit log: list, verify, checkpoint.", invoke_without_command=True
)
app.add_typer(audit_app, name="audit")
contract_app = typer.Typer(
    help="Contracts: infer one from data, export or import ODCS.", no_args_is_help=True
)
app.add_typer(contract_app, name="contract")
governance_app = typer.Typer(help="Governance at a glance.", no_args_is_help=True)
app.add_typer(governance_app, name="governance")
pii_app = typer.Typer(help="Personal data: find it, tag it.", no_args_is_help=True)
app.add_typer(pii_app, name="pii")


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


@audit_app.callback()
def audit(
    ctx: typer.Context,
    since: Annotated[
        datetime | None, typer.Option("--since", help="Only records at or after (UTC).")
    ] = None,
    json: Json = False,
) -> None:
    """List the audit log's records (who, what, when, outcome), oldest first."""
    if ctx.invoked_subcommand is not None:
        return
    from sqlops.cli import render

    rows = [r.to_dict() for r in open_project().audit(since)]
    if json:
        render.as_json({"records": rows})
    else:
        render.records(rows, ["seq", "time", "who", "action", "target", "outcome"])


@audit_app.command("verify")
def audit_verify(
    checkpoint: Annotated[
        Path | None, typer.Option("--checkpoint", help="A checkpoint file to check against.")
    ] = None,
    json: Json = False,
) -> None:
    """Verify the hash chain; exits 1 naming the first edited, removed, reordered or inserted
    line, or a truncation the checkpoint shows."""
    from sqlops.cli import render

    result = open_project().audit_verify(checkpoint)
    render.as_json(result.to_dict()) if json else render.audit_verified(result.to_dict())
    if not result.ok:
        raise typer.Exit(1)


@audit_app.command("checkpoint")
def audit_checkpoint(
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the checkpoint.")],
) -> None:
    """Write the log's head (count and hash, HMAC-keyed when the secret is set) to a file
    kept where the log's writers cannot reach it."""
    from sqlops.cli import render

    made = open_project().audit_checkpoint(out)
    render.out().print(f"checkpoint of {made.count} record(s) written to {out}")


@app.command()
def monitor(
    table: Annotated[str, typer.Argument(help="The built table to monitor.")],
    reference: Annotated[
        str,
        typer.Option(
            "--reference", "-r", help="A version (branch, tag, commit) or a saved training set."
        ),
    ],
    json: Json = False,
) -> None:
    """Drift of each column against a reference (PSI, KS, Wasserstein, chi-square,
    Jensen-Shannon, null rate, row count); exits 1 when any column drifted."""
    from sqlops.cli import render

    report = open_project().monitor(table, reference)
    render.as_json(report.to_dict()) if json else render.drift(report.to_dict())
    if report.drifted:
        raise typer.Exit(1)


@pii_app.command("scan")
def pii_scan(
    tables: Annotated[
        list[str] | None, typer.Argument(help="Tables to scan (default: all).")
    ] = None,
    apply: Annotated[
        bool, typer.Option("--apply", help="Write the proposed tags into the config file.")
    ] = False,
    json: Json = False,
) -> None:
    """Find columns holding personal data (e-mail, phone, card, IP, IBAN, CPF, CNPJ, SSN,
    birth date, names) by name and by validated values, whatever their tags say; and the
    k-anonymity of declared quasi-identifiers."""
    from sqlops.cli import render

    report = open_project().pii_scan(tables or (), apply=apply)
    render.as_json(report.to_dict()) if json else render.pii_report(report.to_dict())


@app.command()
def check(
    tables: Annotated[
        list[str] | None, typer.Argument(help="Tables to check (default: every bound one).")
    ] = None,
    every: Annotated[bool, typer.Option("--all", help="Show passed checks too.")] = False,
    json: Json = False,
) -> None:
    """Validate the built tables against their contracts without rebuilding; exits 1 when an
    error-severity check fails (warnings are shown and pass)."""
    from sqlops.cli import render

    report = open_project().check(tables or ())
    if json:
        render.as_json(report.to_dict())
    else:
        render.check_results(report.to_dict(), problems_only=not every)
    if not report.ok:
        raise typer.Exit(1)


@contract_app.command("infer")
def contract_infer(
    table: Annotated[str, typer.Argument(help="The built table to infer a contract from.")],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write it here (e.g. contracts/NAME.py).")
    ] = None,
) -> None:
    """Write a starter pandera DataFrameModel inferred from the whole table (types,
    nullability, ranges, small sets, uniqueness); it validates the table it came from."""
    from sqlops.cli import render

    source = open_project().infer_contract(table, out)
    if out is None:
        render.markdown_text(source)
    else:
        render.out().print(f"wrote {out}; bind it with `-- contract: {out.stem}`")


@contract_app.command("export")
def contract_export(
    table: Annotated[str, typer.Argument(help="A table bound to a contract.")],
    format: Annotated[str, typer.Option("--format", help="The interchange format.")] = "odcs",
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write it to a file.")] = None,
) -> None:
    """Print a table's contract as Open Data Contract Standard 3.1 YAML (schema, quality,
    classification from the column tags, owner)."""
    from sqlops.cli import render

    text = open_project().export_contract(table, format)
    if out is None:
        render.markdown_text(text)
    else:
        out.write_text(text)
        render.out().print(f"wrote {out}")


@contract_app.command("import")
def contract_import(
    file: Annotated[Path, typer.Argument(help="An ODCS 3.x YAML file.")],
) -> None:
    """Turn an ODCS contract into contracts/NAME.py (a pandera DataFrameModel)."""
    from sqlops.cli import render

    made = open_project().import_contract(file)
    render.out().print(f"wrote {made.name}; bind it with `-- contract: {made.stem}`")


@governance_app.command("report")
def governance_report(json: Json = False) -> None:
    """One page of what needs attention: tables without an owner or a contract, untagged
    PII, failing and warning checks, models in production and their approvals, drift
    alerts, and whether the audit log verifies."""
    from sqlops.cli import render

    report = open_project().governance_report().to_dict()
    render.as_json(report) if json else render.governance_report(report)
