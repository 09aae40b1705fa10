"""Validating one table against its contract: the SQL path, the Polars path, and the refusals.

Each check goes where it runs exactly: the types are compared once, every compiled check
runs in one aggregate query (``compile.py``), and each check left (custom Python, lambdas
over several columns) runs through pandera-polars on an eager frame of the columns it needs.
Counts always come from each check's own element-wise output, never from pandera's failure
cases frame (which ``n_failure_cases`` caps). A check that cannot run is ``error`` or
``not_evaluated``, never ``passed``: a check never passes by being skipped.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlops.errors import ContractError, SqlopsError, did_you_mean
from sqlops.execute.engine import Engine
from sqlops.execute.materialize import qualified, quote
from sqlops.governance.compile import (
    Item,
    Plan,
    PythonCheck,
    Query,
    Static,
    check_label,
    other_tables,
    plan_contract,
    table_columns,
)
from sqlops.governance.contracts import Contract
from sqlops.governance.results import CheckResult, Severity, result

CHECK_OUTPUT = "check_output"  # the column pandera's check output carries


def validate(
    engine: Engine,
    relation: str,
    table: str,
    contract: Contract,
    *,
    now: str | None = None,
    polars: bool = False,
) -> list[CheckResult]:
    """Every check of ``contract`` on ``relation`` (a table or view in ``engine``), reported
    as ``table``. ``now`` (ISO time) pins the clock of freshness checks; ``polars`` runs
    every check that can in pandera-polars instead of SQL (to compare the paths).

    Raises ``ContractError`` for a contract that cannot apply to the table (a missing
    column, an unknown check, ``Check(groupby=...)``).
    """
    from pandera.config import get_config_context

    from sqlops.governance import checks  # noqa: F401  (registered before the schema is read)

    schema = contract.schema
    duck_types = dict(engine.output_columns(f"SELECT * FROM {qualified(relation)}"))
    _refuse(schema, table, duck_types)
    others = {t: dict(engine.output_columns(f"SELECT * FROM {qualified(t)}"))
              for t in other_tables(schema) if t in engine.relations()}  # fmt: skip
    plan = plan_contract(schema, relation, duck_types, others, now, polars)
    severity: Severity = "warn" if contract.severity == "warn" else "error"
    warned = _warned(schema)

    def sev(label: str) -> Severity:
        return "warn" if label in warned else severity

    if not get_config_context().validation_enabled:
        return _not_evaluated(plan, schema, table, sev)
    rows = int(engine.fetch_value(f"SELECT count(*) FROM {qualified(relation)}") or 0)
    out = _types(engine, relation, table, schema, duck_types, rows, sev)
    out += [_static(s, table, rows, sev(s.check)) for s in plan.static]
    out += _run_sql(engine, plan, table, rows, sev)
    out += _run_python(engine, relation, table, plan.python, schema, duck_types, sev)
    return out


def _static(s: Static, table: str, rows: int, severity: Severity) -> CheckResult:
    """An absent optional column's checks are not evaluated; a missing other table errors."""
    if s.passed is None and s.reason == "column_missing":
        return CheckResult(table, s.check, s.column, severity, "not_evaluated", None, rows,
                           reason=s.reason, message=s.message)  # fmt: skip
    failed = None if s.passed is None else not s.passed
    return result(table, s.check, s.column, severity, failed=failed, rows=rows,
                  reason=s.reason, message=s.message)  # fmt: skip


def _refuse(schema: Any, table: str, duck_types: Mapping[str, str]) -> None:
    """The contract errors that no result can express: the contract does not fit."""
    for name, column in schema.columns.items():
        if getattr(column, "regex", False):
            raise ContractError(
                f"{table}.{name}: regex columns are not supported by sqlops",
                hint="name each column in the contract",
            )
        if name not in duck_types and column.required:
            hint = did_you_mean(name, duck_types) or "add the column or mark it required=False"
            raise ContractError(f"{table}.{name}: the contract's column is missing", hint=hint)
    for name, check_name in table_columns(schema).items():
        if name not in duck_types:
            close = did_you_mean(name, duck_types)
            raise ContractError(f"{table}.{name}: {check_name} names a missing column", hint=close)
    checks = [(None, c) for c in schema.checks] + [
        (n, c) for n, col in schema.columns.items() for c in col.checks
    ]
    for name, check in checks:
        if check.groupby is not None:
            where = f"{table}.{name}" if name else table
            raise ContractError(
                f"{where}: Check(groupby=...) is not supported (pandera-polars runs it ungrouped)",
                hint="write a table-level check that groups with Polars' group_by",
            )


def _warned(schema: Any) -> set[str]:
    """The labels of checks declared ``raise_warning=True``: pandera's own warn severity."""
    checks = [*schema.checks, *(c for col in schema.columns.values() for c in col.checks)]
    return {check_label(c) for c in checks if c.raise_warning}


def _not_evaluated(plan: Plan, schema: Any, table: str, sev: Any) -> list[CheckResult]:
    """pandera's validation is switched off (PANDERA_VALIDATION_ENABLED=False): nothing is
    checked, and the report says so rather than passing."""
    labels = [("dtype", n) for n, c in schema.columns.items() if c.dtype is not None]
    labels += [(s.check, s.column) for s in plan.static]
    labels += [(i.check, i.column) for i in plan.query.items]
    labels += [(check_label(p.check), p.column) for p in plan.python]
    message = "pandera validation is disabled (PANDERA_VALIDATION_ENABLED=False)"
    return [
        CheckResult(table, check, column, sev(check), "not_evaluated", None, 0,
                    reason="disabled", message=message)
        for check, column in labels
    ]  # fmt: skip


def _types(
    engine: Engine,
    relation: str,
    table: str,
    schema: Any,
    duck_types: Mapping[str, str],
    rows: int,
    sev: Any,
) -> list[CheckResult]:
    """pandera's dtype rule on the Polars types the relation reads as (``Engine.polars``, the
    Arrow export the Polars path sees too): ``Int64`` matches BIGINT, ``String`` VARCHAR."""
    from pandera.engines.polars_engine import Engine as PanderaEngine

    polars = engine.polars(f"SELECT * FROM {qualified(relation)} LIMIT 0").schema
    out = []
    for name, column in schema.columns.items():
        if column.dtype is None or name not in polars:
            continue
        try:
            ok = bool(column.dtype.check(PanderaEngine.dtype(polars[name])))
        except TypeError:
            ok = False
        message = (
            "" if ok else f"expected {column.dtype}, found {polars[name]} ({duck_types[name]})"
        )
        failed = not ok
        if failed and (column.coerce or schema.coerce):
            message += "; sqlops validates stored types: cast in the model's SQL instead of coerce"
        label = f"dtype('{column.dtype}')"
        found = [] if ok else [str(polars[name])]
        out.append(result(table, label, name, sev(label), failed=failed, rows=rows,
                          reason="dtype", message=message, samples=found))  # fmt: skip
    if schema.strict is True:
        extra = [c for c in duck_types if c not in schema.columns]
        out.append(result(table, "column_in_schema", None, sev("column_in_schema"),
                          failed=bool(extra), rows=rows, failures=len(extra), samples=extra,
                          reason="column_not_in_schema"))  # fmt: skip
    return out


def _run_sql(engine: Engine, plan: Plan, table: str, rows: int, sev: Any) -> list[CheckResult]:
    """The compiled checks, in one aggregate query (and one for the failures' samples)."""
    items = plan.query.items
    try:
        record = _record(engine, plan.query.sql(), plan.query)
    except SqlopsError:
        return _isolated(engine, plan, table, rows, sev)
    failing = [i for i in items if i.fails and record[f"f{i.index}"]]
    if failing:
        record |= _record(engine, plan.query.samples_sql(failing), plan.query)
    return [_read(item, record, rows, table, sev(item.check)) for item in items]


def _isolated(engine: Engine, plan: Plan, table: str, rows: int, sev: Any) -> list[CheckResult]:
    """The aggregate failed (a check DuckDB cannot run, such as a text bound on a number
    column): each check alone, so only the broken ones are ``error``."""
    out = []
    for item in plan.query.items:
        alone = Plan(Query(plan.query.relation, [item], plan.query.params))
        try:
            record = _record(engine, alone.query.sql(), alone.query)
            if item.fails and record[f"f{item.index}"]:
                record |= _record(engine, alone.query.samples_sql([item]), alone.query)
        except SqlopsError as exc:
            out.append(result(table, item.check, item.column, sev(item.check), failed=None,
                              rows=rows, reason="check_error", message=exc.message))  # fmt: skip
            continue
        out.append(_read(item, record, rows, table, sev(item.check)))
    return out


def _record(engine: Engine, sql: str, query: Any) -> dict[str, Any]:
    cursor = engine.execute(sql, query.bind(sql))
    row = cursor.fetchall()[0]
    return dict(zip([d[0] for d in cursor.description or ()], row, strict=True))


def _read(
    item: Item, record: Mapping[str, Any], rows: int, table: str, severity: Severity
) -> CheckResult:
    from sqlops.governance.checks import mostly_passes

    i = item.index
    failures: int | None = None
    samples: list[Any] = []
    if item.kind == "row":
        failures, samples = int(record[f"f{i}"]), list(record.get(f"s{i}") or [])
        passed = (
            mostly_passes(failures, rows, item.fraction)
            if item.fraction is not None
            else failures == 0
        )
    elif item.kind == "group":
        group = record[f"u{i}"]
        failures, samples = int(group["n"]), list(group["s"] or [])
        passed = failures == 0
    elif item.kind == "rows":
        passed = bool(item.decide(rows))
    else:
        passed = bool(item.decide(record[f"p{i}"]))
    return result(table, item.check, item.column, severity, failed=not passed, rows=rows,
                  failures=failures, samples=samples, reason=item.reason)  # fmt: skip


def _run_python(
    engine: Engine,
    relation: str,
    table: str,
    checks: list[PythonCheck],
    schema: Any,
    duck_types: Mapping[str, str],
    sev: Any,
) -> list[CheckResult]:
    """Checks sqlops cannot compile, run by pandera on an eager frame of their columns.

    The frame is eager, so pandera-polars' validation depth (schema-only for a LazyFrame
    by default) cannot skip the data; each check's own element-wise output is counted.
    """
    if not checks:
        return []
    wanted: set[str] = set()
    for check in checks:
        present = [c for c in schema.columns if c in duck_types]
        wanted.update(check.columns if check.columns is not None else present)
    cols = [c for c in duck_types if c in wanted]
    listed = ", ".join(quote(c) for c in cols) or "NULL AS _none"
    frame = engine.polars(f"SELECT {listed} FROM {qualified(relation)}")
    return [_run_one(p, frame, table, sev) for p in checks]


def _run_one(p: PythonCheck, frame: Any, table: str, sev: Any) -> CheckResult:
    label = check_label(p.check)
    rows = frame.height
    try:
        output = p.check(frame.lazy(), p.column)
        values = output.check_output.collect()
        passed = bool(output.check_passed.collect().item())
    except Exception as exc:  # a user's check function raised: that check errors, not the run
        message = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        return result(table, label, p.column, sev(label), failed=None, rows=rows,
                      reason="check_error", message=message)  # fmt: skip
    failures: int | None = None
    samples: list[Any] = []
    if values.height == rows and CHECK_OUTPUT in values.columns:
        bad = ~values.get_column(CHECK_OUTPUT).fill_null(not p.check.ignore_na)
        failures = int(bad.sum())
        if p.column is not None:
            samples = frame.get_column(p.column).filter(bad).head(5).to_list()
        passed = passed and failures == 0
    return result(table, label, p.column, sev(label), failed=not passed, rows=rows,
                  failures=failures, samples=samples)  # fmt: skip
