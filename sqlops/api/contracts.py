"""Contracts on a project: the build's gate (each bound output validated before it is
published), ``sqlops check`` (what is built, without rebuilding), the merge gate (merges into
a protected branch validate the tables they change), and ``contract infer|export|import``.

A model binds a contract with ``-- contract: NAME`` (``contract_severity: warn`` to report
without blocking), a source with ``contract = "NAME"``. pandera says what each check means;
``governance/validate.py`` runs them (one DuckDB aggregate per table, custom checks in
pandera-polars). Samples of tagged columns are withheld before a result leaves this module,
so no raw tagged value reaches the terminal, the catalog, the audit log or JSON.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlops.api.audit import record
from sqlops.api.query import QueryMixin
from sqlops.errors import ContractError, ContractFailed, UnknownTableError, did_you_mean

if TYPE_CHECKING:
    from sqlops.config import Config
    from sqlops.config.governance import ColumnPolicy
    from sqlops.execute.engine import Engine
    from sqlops.governance.contracts import Contract
    from sqlops.governance.results import CheckReport, CheckResult
    from sqlops.project.model import ProjectSpec
    from sqlops.versioning.checks import MergeCandidate

WITHHELD = "samples withheld: the column is tagged"


@dataclass(frozen=True)
class Binding:
    """A table bound to a contract, and where the binding is written."""

    table: str
    ref: str
    severity: str
    where: str


def bindings(spec: ProjectSpec) -> dict[str, Binding]:
    """Every model and source that names a contract."""
    out = {
        name: Binding(name, s.contract, s.contract_severity, "sqlops.toml")
        for name, s in spec.sources.items()
        if s.contract
    }
    for name, m in spec.models.items():
        if m.contract:
            line = m.header_lines.get("contract")
            where = f"{m.path.as_posix()}:{line}" if line else m.path.as_posix()
            out[name] = Binding(name, m.contract, m.contract_severity, where)
    return out


class Contracts:
    """The project's contracts, each loaded once (thread-safe: a build validates
    independent models at once) and validated with tagged samples withheld."""

    def __init__(self, config: Config, bound: Mapping[str, Binding]) -> None:
        self.config = config
        self.bound = dict(bound)
        self.loaded: dict[str, Contract] = {}
        self.lock = threading.Lock()
        self.results: list[CheckResult] = []

    def contract(self, table: str) -> Contract:
        from sqlops.governance.contracts import load_contract

        binding = self.bound[table]
        with self.lock:
            if table not in self.loaded:
                try:
                    self.loaded[table] = load_contract(
                        self.config.root, binding.ref, binding.severity
                    )
                except ContractError as exc:
                    said = exc.message.replace(f"{self.config.root}{os.sep}", "")
                    raise ContractError(
                        f"{binding.where}: contract {binding.ref} of {table}: {said}",
                        hint=exc.hint,
                    ) from exc
            return self.loaded[table]

    def validate(self, engine: Engine, relation: str, table: str) -> list[CheckResult]:
        from sqlops.governance.validate import validate

        found = validate(engine, relation, table, self.contract(table))
        results = withhold(found, self.config.columns.get(table, {}))
        with self.lock:
            self.results.extend(results)
        return results

    def gate(self, engine: Engine, name: str, select: str) -> None:
        """The build's gate: validate what ``name`` is about to publish; refuse it (the
        previous version stays) when an error-severity check failed."""
        if name not in self.bound:
            return
        from sqlops.execute.materialize import quote

        view = f"__sqlops_check_{name.replace('.', '_')}"
        engine.execute(f"CREATE OR REPLACE TEMP VIEW {quote(view)} AS {select}")
        try:
            results = self.validate(engine, view, name)
        finally:
            engine.execute(f"DROP VIEW IF EXISTS {quote(view)}")
        if any(r.bad for r in results):
            raise ContractFailed(name, results)


def withhold(
    results: Iterable[CheckResult], tagged: Mapping[str, ColumnPolicy]
) -> list[CheckResult]:
    """Results with the samples (and message) of tagged columns withheld; a table-level
    check's samples too when the table has any tagged column, since they may hold rows."""
    marked = {c for c, p in tagged.items() if p.tagged}
    if not marked:
        return list(results)
    return [
        dataclasses.replace(r, samples=[], message=WITHHELD)
        if (r.column in marked or r.column is None) and (r.samples or r.message)
        else r
        for r in results
    ]


class ContractsMixin(QueryMixin):
    """``check``, ``infer_contract``, ``export_contract``, ``import_contract``."""

    def check(self, tables: Sequence[str] = ()) -> CheckReport:
        """Validate the built tables bound to a contract (all, or ``tables``) without
        rebuilding; every result is returned (``report.ok``), stored and audited."""
        from sqlops.catalog.governance import GovernanceCatalog
        from sqlops.catalog.store import now
        from sqlops.governance.results import CheckReport

        spec = self.load()
        bound = bindings(spec)
        chosen = [t.lower() for t in tables] or sorted(bound)
        for name in chosen:
            if name not in bound:
                known = sorted({*spec.models, *spec.sources})
                raise ContractError(
                    f"{name} has no contract",
                    hint=did_you_mean(name, known)
                    or "bind one with `-- contract: NAME` in the model's header",
                )
        contracts = Contracts(self.config, bound)
        engine = self._open_warehouse(read_only=True)
        try:
            for name in chosen:
                contracts.validate(engine, _built(engine, name), name)
        finally:
            engine.close()
        report = CheckReport.of(contracts.results)
        run_id = now().strftime("%Y%m%dT%H%M%S") + "_check"
        rows = report.to_dict()["results"]
        GovernanceCatalog(self.config.catalog_path).record_checks(run_id, "check", rows)
        audit_checks(self, report.results, "check")
        return report

    def infer_contract(self, table: str, out: Path | str | None = None) -> str:
        """A starter pandera ``DataFrameModel`` inferred from the whole built table (it
        validates the table it came from); written to ``out`` when given, never over an
        existing file."""
        from sqlops.execute.materialize import qualified
        from sqlops.governance.infer import infer_contract

        engine = self._open_warehouse(read_only=True)
        try:
            name = _built(engine, table)
            source = infer_contract(engine, qualified(name), name)
        finally:
            engine.close()
        if out is not None:
            _write_new(self.root / out, source)
        return source

    def export_contract(self, table: str, format: str = "odcs") -> str:
        """The Open Data Contract Standard 3.1 YAML of a table's contract: schema, quality,
        classification from the column tags, owner."""
        from sqlops.governance.odcs import export_odcs

        if format != "odcs":
            raise ContractError(f"unknown contract format {format!r}", hint="use --format odcs")
        spec = self.load()
        name = table.lower()
        bound = bindings(spec)
        if name not in bound:
            raise ContractError(
                f"{name} has no contract", hint=did_you_mean(name, bound) or "bind one first"
            )
        contract = Contracts(self.config, bound).contract(name)
        node = spec.models.get(name) or spec.sources.get(name)
        tags = {
            column: {
                k: v
                for k, v in dataclasses.asdict(p).items()
                if k in ("pii", "anonymize", "to") and v
            }
            for column, p in self.config.columns.get(name, {}).items()
        }
        return export_odcs(
            name,
            contract.schema,
            contract_name=bound[name].ref,
            owner=getattr(node, "owner", "") or None,
            column_tags=tags,
            description=getattr(node, "description", "") or None,
        )

    def import_contract(self, path: Path | str, out: Path | str | None = None) -> Path:
        """Turn an ODCS YAML file into ``contracts/NAME.py`` (never over an existing file);
        returns the file written. Bind it with ``-- contract: NAME`` in the table's model."""
        from sqlops.governance.odcs import import_odcs
        from sqlops.oserrors import read_text

        file = Path(path)
        imported = import_odcs(read_text(file), str(path))
        target = self.root / (out or Path("contracts") / f"{imported.name}.py")
        _write_new(target, imported.source)
        return target


def merge_gate(
    config: Config, spec: ProjectSpec
) -> Callable[[MergeCandidate], list[tuple[str, str]]]:
    """The pre-merge check of a protected branch: the contracts of the tables the merge
    changes, run on the exact commit merged; error-severity failures refuse the merge."""
    bound = bindings(spec)

    def contracts(candidate: MergeCandidate) -> list[tuple[str, str]]:

        changed = [t for t in candidate.changed if t in bound]
        if not changed:
            return []
        checker = Contracts(config, bound)
        engine = candidate.open_engine()
        try:
            for table in changed:
                checker.validate(engine, table, table)
        finally:
            engine.close()
        return [(r.table, str(r)) for r in checker.results if r.bad]

    return contracts


def _built(engine: Engine, table: str) -> str:
    name = table.lower() if "." in table else f"main.{table.lower()}"
    built = engine.relations()
    if name not in built:
        raise UnknownTableError(table, hint=did_you_mean(name, built) or "run `sqlops build`")
    return name


def audit_checks(project: Any, results: Sequence[CheckResult], action: str) -> None:
    for table in sorted({r.table for r in results}):
        mine = [r for r in results if r.table == table]
        bad = sum(r.bad for r in mine)
        warned = sum(r.outcome in ("warn", "failed") and not r.bad for r in mine)
        outcome = "failed" if bad else "warn" if warned else "passed"
        record(project, action, table, outcome, {"checks": len(mine), "failed": bad})


def _write_new(path: Path, text: str) -> None:
    if path.exists():
        raise ContractError(
            f"{path.name} exists; nothing was written", hint="remove it or pass another --out"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
