"""Everything the CLI shows; the only module that imports rich.

rich is imported on first use: a no-op build prints one plain line and should not pay for it.
"""

from __future__ import annotations

import decimal
import functools
import json
import math
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import polars as pl
    from rich.console import Console
    from rich.tree import Tree

    from sqlops.api import DataAdded, Lineage, Status
    from sqlops.execute.results import BuildResult, Event, NodeResult, OnEvent
    from sqlops.plan.planner import Plan
    from sqlops.versioning.datafiles import DataFile


# A pipe or a file has no width; rich would assume 80 columns and cut every table to it.
_UNLIMITED = 1_000_000


@functools.cache
def _console(stderr: bool) -> Console:
    from rich.console import Console

    console = Console(stderr=stderr, highlight=False, soft_wrap=True)
    if not console.is_terminal:
        console.width = _UNLIMITED  # tables as wide as their content: never wrapped or cut
    return console


def out() -> Console:
    return _console(False)


def err() -> Console:
    return _console(True)


def escape(text: str) -> str:
    from rich.markup import escape as rich_escape

    return rich_escape(text)


def _table(**options: Any) -> Any:
    from rich.table import Table

    return Table(**options)


_STATUS = {
    "success": "[green]ok[/]",
    "skipped": "[dim]skipped[/]",
    "error": "[bold red]error[/]",
    "upstream_failed": "[yellow]not run[/]",
}


def error(message: str) -> None:
    err().print(f"[bold red]Error:[/] {escape(message)}")


def as_json(value: Any) -> None:
    """Print JSON to stdout and nothing else (for scripts)."""
    sys.stdout.write(json_text(value) + "\n")


def json_text(value: Any, level: int = 0) -> str:
    """``value`` as indented JSON in which numbers stay exact: a DECIMAL is written with
    all its digits and a HUGEINT as the whole integer, both as JSON numbers (``json``
    would have to round a Decimal through a float). Times become ISO 8601 strings; NaN and
    infinities the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"``.

    >>> import decimal
    >>> print(json_text({"d": decimal.Decimal("55909065222.827692"), "h": 2**64, "l": []}))
    {
      "d": 55909065222.827692,
      "h": 18446744073709551616,
      "l": []
    }
    """
    if isinstance(value, Mapping):
        items = [f"{json.dumps(_key(k))}: {json_text(v, level + 1)}" for k, v in value.items()]
        return _block("{", items, "}", level)
    if isinstance(value, list | tuple):
        return _block("[", [json_text(v, level + 1) for v in value], "]", level)
    if isinstance(value, decimal.Decimal):
        return format(value, "f") if value.is_finite() else json_text(float(value))
    if isinstance(value, float) and not math.isfinite(value):
        # JSON has no NaN or infinities: written as strings, as protobuf's JSON mapping does
        return json.dumps("NaN" if math.isnan(value) else "Infinity" if value > 0 else "-Infinity")
    if value is None or isinstance(value, str | int | float):
        return json.dumps(value)
    if hasattr(value, "isoformat"):
        return json.dumps(value.isoformat())
    return json.dumps(str(value))


def _block(start: str, items: list[str], end: str, level: int) -> str:
    if not items:
        return start + end
    inner = "  " * (level + 1)
    return f"{start}\n{inner}" + f",\n{inner}".join(items) + f"\n{'  ' * level}{end}"


def _key(key: Any) -> str:
    """A mapping key as ``json`` writes it."""
    if isinstance(key, str):
        return key
    return json.dumps(key) if key is None or isinstance(key, bool) else str(key)


@contextmanager
def build_progress(enabled: bool) -> Iterator[Any]:
    """Build progress, fed by build events; yields the ``on_event`` callback.

    A terminal gets a progress bar on stderr; anything else (CI logs, a file) one line per
    finished node on stdout as it finishes (as dbt logs), since a bar there would show nothing
    until the end, and stderr stays for the one-line error.
    """
    if not enabled:
        yield None
    elif err().is_terminal:
        with _progress_bar() as on_event:
            yield on_event
    else:
        yield _progress_lines()


@contextmanager
def _progress_bar() -> Iterator[Any]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    progress = Progress(
        TextColumn("[bold]building"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
        console=err(),
        transient=True,
    )
    task = progress.add_task("", total=None)

    def on_event(event: Event) -> None:
        if event.kind == "plan":
            progress.update(task, total=event.total)
        elif event.kind == "start":
            progress.update(task, description=event.name)
        elif event.kind == "finish":
            progress.advance(task)

    with progress:
        yield on_event


def _progress_lines() -> OnEvent:
    """``on_event`` writing ``[2/5] ok       marts.revenue (table, 1,204 rows, 0.31s)``."""
    done = total = 0

    def on_event(event: Event) -> None:
        nonlocal done, total
        if event.kind == "plan":
            total = event.total
        elif event.kind == "finish" and event.result is not None:
            done += 1
            sys.stdout.write(f"[{done}/{total}] {_progress_line(event.result)}\n")
            sys.stdout.flush()

    return on_event


_WORD = {"success": "ok", "error": "error", "upstream_failed": "not run", "skipped": "skipped"}


def _progress_line(node: NodeResult) -> str:
    """One finished node, for logs: status, name, then what was built or why not."""
    if node.status == "upstream_failed":
        detail = node.reason
    else:
        rows = [f"{node.rows:,} rows"] if node.rows is not None else []
        detail = ", ".join([node.materialized or node.kind, *rows, f"{node.seconds:.2f}s"])
    return f"{_WORD[node.status]:<8} {node.name} ({detail})"


def build_summary(result: BuildResult, verbose: bool = False) -> None:
    shown = [n for n in result.nodes if n.kind == "model" and (verbose or n.status != "skipped")]
    if shown:
        table = _table(box=None, header_style="bold")
        for col, justify in (
            ("model", "left"),
            ("kind", "left"),
            ("rows", "right"),
            ("seconds", "right"),
            ("status", "left"),
        ):
            table.add_column(col, justify=justify)
        for n in shown:
            rows = f"{n.rows:,}" if n.rows is not None else ""
            kind = f"{n.materialized} (polars)" if n.engine == "polars" else n.materialized
            table.add_row(n.name, kind, rows, f"{n.seconds:.2f}", _STATUS[n.status])
        out().print(table)
    for n in result.nodes:
        if n.status == "error":
            err().print(f"[bold red]error[/] {escape(n.name)}: {escape(n.error or '')}")
    if result.checks:
        check_results({"results": [c.to_dict() for c in result.checks]}, problems_only=True)
    counts = {s: sum(1 for n in result.models if n.status == s) for s in _STATUS}
    sys.stdout.write(
        f"{counts['success']} built, {counts['skipped']} unchanged, "
        f"{counts['error']} failed, {counts['upstream_failed']} not run "
        f"in {result.seconds:.2f}s\n"
    )


def plan(p: Plan, verbose: bool = False) -> None:
    """The models that would run and why; unchanged ones only with ``verbose``."""
    shown = [n for n in p.models if verbose or n.action == "run"]
    if shown:
        table = _table(box=None, header_style="bold")
        for col in ("model", "kind", "action", "reason"):
            table.add_column(col)
        for node in shown:
            action = "[green]run[/]" if node.action == "run" else "[dim]skip[/]"
            table.add_row(node.name, node.materialized, action, escape(node.reason))
        out().print(table)
    n_run = sum(1 for n in p.models if n.action == "run")
    sys.stdout.write(f"{n_run} to run, {len(p.models) - n_run} unchanged\n")


def frame(df: pl.DataFrame | None, limit: int) -> None:
    if df is None:
        out().print("[dim]no result[/]")
        return
    table = _table(header_style="bold")
    for name, dtype in df.schema.items():
        numeric = dtype.is_numeric()
        table.add_column(f"{name}\n[dim]{dtype}[/]", justify="right" if numeric else "left")
    for row in df.head(limit).iter_rows():
        table.add_row(*("[dim]NULL[/]" if v is None else escape(str(v)) for v in row))
    out().print(table)
    more = f" (showing {limit})" if df.height > limit else ""
    out().print(f"[dim]{df.height:,} rows{more}[/]")


def records(rows: list[dict[str, Any]], columns: list[str], title: str = "") -> None:
    table = _table(box=None, header_style="bold", title=title or None)
    for col in columns:
        table.add_column(col)
    for row in rows:
        table.add_row(*(escape(_cell(row.get(c))) for c in columns))
    out().print(table)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.2f}"
    if hasattr(value, "strftime"):
        return str(value.strftime("%Y-%m-%d %H:%M:%S"))
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value))
    return str(value)


def lineage(info: Lineage) -> None:
    _tree(f"[bold]{info.model}[/] upstream", info.upstream)
    _tree(f"[bold]{info.model}[/] downstream", info.downstream)
    if info.column is not None:
        _tree(f"[bold]{info.model}.{info.column}[/] is computed from", info.column_upstream)
        reach = f"[bold]{info.model}.{info.column}[/] reaches (a change flows to)"
        _tree(reach, info.column_downstream)
        if not info.column_upstream:
            out().print("  (no upstream column: a source, a constant or count(*))")


def _tree(title: str, children: Mapping[str, Any]) -> None:
    """Print ``children`` (name -> its own children) as a tree under ``title``."""
    from rich.tree import Tree

    tree = Tree(title)
    _fill(tree, children)
    out().print(tree)


def _fill(node: Tree, children: Mapping[str, Any]) -> None:
    for name, grand in children.items():
        _fill(node.add(name), grand)


def mapping(value: Mapping[str, Any], indent: int = 0) -> None:
    for key, item in value.items():
        if isinstance(item, Mapping) and item:
            out().print(" " * indent + f"[bold]{key}[/]")
            mapping(item, indent + 2)
        else:
            out().print(" " * indent + f"{key} = {escape(json.dumps(item, default=str))}")


def written(paths: list[Any]) -> None:
    for path in paths:
        out().print(f"[green]created[/] {path}")


def data_added(added: DataAdded) -> None:
    """One line: the file, the source it feeds, the commit (or that nothing changed)."""
    info = added.file
    what = f"{info.path} ({info.size:,} bytes) as {info.source}"
    if added.commit is None:
        out().print(f"{escape(what)}: unchanged, nothing to commit")
        return
    declared = "; declared the source in the config" if added.new_source else ""
    out().print(f"added {escape(what)} in {added.commit.id[:12]}{declared}")


def data_restored(files: list[DataFile], ref: str) -> None:
    for info in files:
        out().print(f"restored {escape(info.path)} ({info.source}) from {escape(ref)}")


def feature_views(rows: list[dict[str, Any]]) -> None:
    """``sqlops features list``: one line per view."""
    shown = [
        {**r, "ttl": _ttl(r["ttl_seconds"]), "built": (r["built_at"] or "")[:19]} for r in rows
    ]
    records(shown, ["name", "source", "join_keys", "features", "ttl", "owner", "built"])


def feature_view(info: Mapping[str, Any]) -> None:
    """``sqlops features show``: the definition, then a table of per-feature statistics."""
    head = {
        k: info[k]
        for k in ("name", "source", "relation", "join_keys", "timestamp", "created_timestamp")
    }
    head["ttl"] = _ttl(info["ttl_seconds"])
    head.update({k: info[k] for k in ("owner", "description", "fingerprint", "built_at")})
    mapping(head)
    lineage_tree = info.get("lineage") or {}
    if lineage_tree:
        source = next(iter(lineage_tree))
        _tree(f"[bold]{escape(source)}[/] upstream", lineage_tree[source])
    stats = info.get("stats") or {}
    rows = [
        {"feature": f["name"], "type": f["type"] or stats.get(f["name"], {}).get("type")}
        | stats.get(f["name"], {})
        for f in info["features"]
    ]
    records(
        rows,
        ["feature", "type", "rows", "null_rate", "distinct", "mean", "std", "min", "p50", "max"],
        title="statistics (latest build)" if stats else "no statistics yet: run sqlops build",
    )


def columns(values: Mapping[str, list[Any]]) -> None:
    """A dict of equal-length lists (Feast's ``to_dict()``) as a table."""
    names = list(values)
    count = len(next(iter(values.values()), []))
    records([{n: values[n][i] for n in names} for i in range(count)], names)


def _ttl(seconds: float | None) -> str:
    if not seconds:
        return "none"
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


def status(result: Status) -> None:
    """Where the warehouse stands, what a commit would record, what a build would run."""
    where = f"on branch {result.branch}" if result.branch else f"at commit {result.ref[:12]}"
    out().print(f"{escape(where)}, warehouse at {result.commit[:12]}")
    if result.behind and result.head:
        out().print(
            f"[yellow]{escape(result.branch or '')} has moved to {result.head[:12]}[/]: "
            "commit to take its changes, or check it out to discard yours"
        )
    if result.uncommitted:
        out().print("uncommitted:")
        for change in result.uncommitted:
            out().print(f"  {change.change:8} {escape(change.name)} ({change.kind})")
    else:
        out().print("nothing to commit")
    if result.stale:
        out().print("a build would run:")
        for name, reason in result.stale:
            out().print(f"  {escape(name)}: {escape(reason)}")


def row_diff(df: pl.DataFrame, key: list[str], limit: int) -> None:
    """One line per differing row: the change, its key, and the values: ``old -> new`` for
    the columns that changed, the row's values when it was added or removed."""
    table = _table(header_style="bold")
    for col in ("change", *key, "values"):
        table.add_column(col)
    for row in df.head(limit).iter_rows(named=True):
        old, new = row["old"] or {}, row["new"] or {}
        if row["change"] == "changed":
            shown = [f"{c}: {_value(old.get(c))} -> {_value(new.get(c))}" for c in row["changed"]]
        else:
            shown = [f"{c}={_value(v)}" for c, v in (new or old).items()]
        style = {"added": "green", "removed": "red"}.get(row["change"], "yellow")
        cells = (_value(row[k]) for k in key)
        table.add_row(f"[{style}]{row['change']}[/]", *map(escape, cells), escape(", ".join(shown)))
    out().print(table)
    more = f" (showing {limit})" if df.height > limit else ""
    out().print(f"[dim]{df.height:,} rows differ{more}[/]")


def _value(value: Any) -> str:
    return "NULL" if value is None else str(value)


def registered_models(rows: list[dict[str, Any]]) -> None:
    """``sqlops models list``: one line per model version."""
    shown = [{**r, "saved": r["saved_at"][:19], "artifact": r["artifact"][:12]} for r in rows]
    records(
        shown, ["name", "version", "stage", "owner", "training_set", "metrics", "artifact", "saved"]
    )


def transform_fits(listed: dict[str, list[int]]) -> None:
    """``sqlops features transforms``: each fitted transform with its versions."""
    for name, versions in listed.items():
        out().print(escape(f"{name}  versions {', '.join(map(str, versions))}"))


def transform_fit(doc: dict[str, Any]) -> None:
    """``sqlops features transforms NAME``: one line per column with its fitted numbers
    (a vocabulary by its size); names are escaped, a ``[`` in one is not markup."""
    out().print(escape(f"{doc['name']} v{doc['version']}  ({doc['digest'][:12]})"))
    for column, fitted in doc["columns"].items():
        stats = {k: v for k, v in fitted.items() if k != "kind"}
        if "values" in stats:
            stats["values"] = f"{len(stats['values'])} values"
        shown = ", ".join(f"{k}={v}" for k, v in stats.items())
        out().print(escape(f"  {column}: {fitted['kind']}  {shown}"))


def synthesized_features(rows: list[dict[str, Any]]) -> None:
    """``sqlops features synthesize``: one line per generated feature with its SQL."""
    shown = [{**r, "path": " <- ".join(r["path"])} for r in rows]
    records(shown, ["name", "primitive", "depth", "path", "sql"])


def unowned(rows: list[dict[str, Any]]) -> None:
    if rows:
        out().print(f"{len(rows)} without an owner: " + ", ".join(r["name"] for r in rows))
    else:
        out().print("every source, model, feature view and saved model has an owner")


def model_event(event: Mapping[str, Any]) -> None:
    verb = "approved" if event["kind"] == "approve" else "rejected"
    why = f": {event['reason']}" if event["reason"] else ""
    out().print(escape(f"{event['by']} {verb} {event['model']} version {event['version']}{why}"))


def model_moved(model: Mapping[str, Any]) -> None:
    out().print(escape(f"{model['name']} version {model['version']} is in {model['stage']}"))


def model_history(history: list[dict[str, Any]]) -> None:
    rows = [
        {
            **h,
            "at": str(h["at"])[:19],
            "what": f"{h['from_stage']} -> {h['to_stage']}" + (" (derived)" if h["implied"] else "")
            if h["kind"] == "promote"
            else h["kind"],
        }
        for h in history
    ]
    records(rows, ["at", "version", "what", "by", "reason"], title="history")


def markdown_text(text: str) -> None:
    """Raw Markdown on stdout, so ``> card.md`` writes a file."""
    sys.stdout.write(text if text.endswith("\n") else f"{text}\n")


def audit_verified(result: Mapping[str, Any]) -> None:
    if result["ok"]:
        out().print(f"audit log verified: {result['count']} record(s), head {result['head'][:16]}")
    else:
        err().print(
            escape(f"audit log NOT verified: line {result['bad_line']}: {result['reason']}")
        )


def drift(report: Mapping[str, Any]) -> None:
    rows = report["columns"]
    records(rows, ["column", "metric", "value", "threshold", "level"],
            title=f"{report['table']} against {report['reference']}")  # fmt: skip
    drifted = sorted({str(r["column"]) for r in rows if r["level"] == "drift"})
    out().print(f"drift in: {', '.join(drifted)}" if drifted else "no drift")


def pii_report(report: Mapping[str, Any]) -> None:
    rows = [{**c, "declared": "yes" if c["declared"] else "NO"} for c in report["columns"]]
    records(rows, ["table", "column", "kind", "match_rate", "confidence", "declared"])
    for k in report["k_anonymity"]:
        out().print(
            escape(
                f"{k['table']}: k-anonymity over {', '.join(k['quasi_identifiers'])}: smallest "
                f"class {k['smallest_class']}, {k['share_under_k']:.1%} of rows in classes "
                f"under k={k['k']}"
            )
        )
    untagged = [c for c in report["columns"] if not c["declared"]]
    if report["applied"]:
        out().print(f"tags written for {sum(len(c) for c in report['applied'].values())} column(s)")
    elif untagged:
        out().print(f"{len(untagged)} column(s) look like PII but carry no tag (--apply tags them)")


def check_results(report: Mapping[str, Any], problems_only: bool = False) -> None:
    """The contract results as a table (table, check, column, failures, % of rows, samples);
    ``problems_only`` keeps what did not pass (a build's summary)."""
    rows = [r for r in report["results"] if not problems_only or r["outcome"] != "passed"]
    if rows:
        shown = [
            {
                **r,
                "failures": "" if r["failures"] is None else f"{r['failures']:,}",
                "%": "" if r["failure_percent"] is None else f"{r['failure_percent']:.2f}",
                "samples": ", ".join(map(str, r["samples"][:3])) or r.get("message", "")[:40],
            }
            for r in rows
        ]
        records(shown, ["table", "check", "column", "outcome", "failures", "%", "samples"])
    counts = {o: sum(r["outcome"] == o for r in report["results"]) for o in _OUTCOMES}
    if report["results"]:
        out().print(", ".join(f"{n} {o}" for o, n in counts.items() if n))


_OUTCOMES = ("passed", "warn", "failed", "error", "not_evaluated")


def governance_report(report: Mapping[str, Any]) -> None:
    sections = (
        ("without an owner", report["unowned"], ["kind", "name", "where"]),
        ("table models without a contract", [{"table": t} for t in report["uncontracted"]],
         ["table"]),
        ("columns that look like PII but carry no tag", report["untagged_pii"],
         ["table", "column", "kind", "match_rate"]),
        ("checks that did not pass (latest)", report["checks"],
         ["table", "check", "column", "outcome", "failures"]),
        ("drift alerts (latest monitor run)", report["drift"],
         ["table", "reference", "column", "metric", "level"]),
        ("models in production", report["production"], ["model", "version", "approvers"]),
    )  # fmt: skip
    for title, rows, columns in sections:
        out().print(f"[bold]{title}[/]: {len(rows) or 'none'}")
        if rows:
            records(rows, columns)
    audit = report["audit"]
    verdict = "verifies" if audit.get("ok") else f"does NOT verify: {audit.get('reason')}"
    out().print(f"[bold]audit log[/]: {audit.get('count', 0)} record(s), {verdict}")
    out().print(f"{report['attention']} thing(s) need attention")
