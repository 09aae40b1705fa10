"""Loading a contract: pandera's boundary for the files in ``contracts/``.

A model's ``-- contract: NAME`` binds ``contracts/NAME.py``; the file must define (not
import) either exactly one pandera ``DataFrameModel`` subclass or ``DataFrameSchema``, or one
named like NAME in CamelCase (``stg_orders`` -> ``StgOrders``; a schema object may also be
named ``stg_orders``). ``module:Class`` names one importable with the project root on
``sys.path`` (which is restored afterwards). A file that does not import is a
``ContractError`` naming the file and line of the error.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from sqlops.errors import ContractError, did_you_mean

SEVERITIES = ("error", "warn")


@dataclass(frozen=True)
class Contract:
    """A pandera schema bound to a table, with the severity its failures carry."""

    name: str
    schema: Any  # a pandera.polars DataFrameSchema (a model's ``to_schema()``)
    severity: str = "error"
    path: Path | None = None


def camel(name: str) -> str:
    """``stg_orders`` -> ``StgOrders``, the class a contract file is expected to define.

    >>> camel("stg_orders")
    'StgOrders'
    """
    return "".join(part[:1].upper() + part[1:] for part in name.replace("-", "_").split("_"))


def load_contract(root: Path, ref: str, severity: str = "error") -> Contract:
    """Load ``ref`` (``NAME`` or ``module:Class``) relative to the project ``root``."""
    if severity not in SEVERITIES:
        raise ContractError(
            f"contract {ref}: unknown severity {severity!r}", hint="use error or warn"
        )
    from sqlops.governance import checks  # noqa: F401  (sqlops' checks registered first)

    if ":" in ref:
        module_name, _, attr = ref.partition(":")
        module, path = _import_module(root, module_name, ref)
        target = getattr(module, attr, None)
        if target is None:
            hint = did_you_mean(attr, [n for n in vars(module) if not n.startswith("_")])
            raise ContractError(f"{module_name} defines no {attr}", path=path, hint=hint)
        return Contract(ref, _schema(target, path, ref), severity, path)
    path = root / "contracts" / f"{ref}.py"
    if not path.is_file():
        known = [p.stem for p in (root / "contracts").glob("*.py")]
        raise ContractError(
            f"contract {ref}: no file contracts/{ref}.py",
            hint=did_you_mean(ref, known) or "write it (sqlops contract infer TABLE)",
        )
    module = _exec_file(path, ref)
    return Contract(ref, _schema(_pick(module, ref, path), path, ref), severity, path)


def _import_module(root: Path, name: str, ref: str) -> tuple[ModuleType, Path | None]:
    added = str(root) not in sys.path
    if added:
        sys.path.insert(0, str(root))
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and name.startswith(exc.name):
            raise ContractError(f"contract {ref}: no module {name} under {root}") from exc
        raise _import_error(exc, None, ref) from exc
    except Exception as exc:
        raise _import_error(exc, None, ref) from exc
    finally:
        if added:
            sys.path.remove(str(root))
    file = getattr(module, "__file__", None)
    return module, Path(file) if file else None


def _exec_file(path: Path, ref: str) -> ModuleType:
    """Run a contract file as a private module. It stays in ``sys.modules`` only while its
    schema is built (pandera resolves the annotations through it), then is removed."""
    name = f"_sqlops_contract_{ref}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(name, None)
        raise _import_error(exc, path, ref) from exc
    return module


def _import_error(exc: BaseException, path: Path | None, ref: str) -> ContractError:
    """The file and line where importing a contract failed, from the error itself."""
    line: int | None = None
    where = path
    if isinstance(exc, SyntaxError) and exc.filename:
        where, line = Path(exc.filename), exc.lineno
    else:
        frames = traceback.extract_tb(exc.__traceback__)
        ours = [f for f in frames if path is None or Path(f.filename) == path]
        ours = [f for f in ours if "site-packages" not in f.filename] or ours
        if ours:
            where, line = Path(ours[-1].filename), ours[-1].lineno
    name = getattr(exc, "name", None)
    if line is None and path is not None and isinstance(exc, AttributeError) and name:
        line = _line_of(path, name)
    detail = str(exc).splitlines()[0] if str(exc) else ""
    message = f"contract {ref} does not import: {type(exc).__name__}: {detail}".rstrip(": ")
    hint = _unknown_check_hint(exc)
    return ContractError(message, path=where, line=line, hint=hint or "fix the file and retry")


def _line_of(path: Path, word: str) -> int | None:
    """The first line of ``path`` naming ``word``: where an unknown check is declared."""
    for number, text in enumerate(path.read_text().splitlines(), 1):
        if word in text:
            return number
    return None


def _unknown_check_hint(exc: BaseException) -> str | None:
    """``Check.fresness`` -> did you mean freshness? (pandera raises AttributeError)."""
    name = getattr(exc, "name", None)
    if not isinstance(exc, AttributeError) or not name:
        return None
    from pandera.api.checks import Check

    from sqlops.governance.checks import MISSING_PANDAS, REGISTERED

    if name in REGISTERED:
        return MISSING_PANDAS
    known = [n for n in dir(Check) if not n.startswith("_")]
    return did_you_mean(name, known) or "no such check in pandera or sqlops.checks"


def _candidates(module: ModuleType) -> dict[str, Any]:
    from pandera.api.dataframe.container import DataFrameSchema
    from pandera.api.dataframe.model import DataFrameModel

    found: dict[str, Any] = {}
    for attr, value in vars(module).items():
        if isinstance(value, type) and issubclass(value, DataFrameModel):
            if value.__module__ == module.__name__:
                found[attr] = value
        elif isinstance(value, DataFrameSchema) and not attr.startswith("_"):
            found[attr] = value
    return found


def _pick(module: ModuleType, ref: str, path: Path) -> Any:
    found = _candidates(module)
    if len(found) == 1:
        return next(iter(found.values()))
    for name in (camel(ref), ref):
        if name in found:
            return found[name]
    sys.modules.pop(module.__name__, None)
    if not found:
        raise ContractError(
            f"contract {ref} defines no DataFrameModel or DataFrameSchema", path=path
        )
    raise ContractError(
        f"contract {ref} defines {len(found)} schemas ({', '.join(sorted(found))})",
        path=path,
        hint=f"name the one to use {camel(ref)}, or bind {path.stem}:CLASS",
    )


def _schema(target: Any, path: Path | None, ref: str) -> Any:
    """A ``DataFrameSchema`` from a model class or a schema, with pandera's errors (an
    unknown check name in ``Config`` or ``Field``) as ``ContractError``."""
    from pandera.api.dataframe.container import DataFrameSchema

    try:
        if isinstance(target, DataFrameSchema):
            return target
        if isinstance(target, type) and hasattr(target, "to_schema"):
            return target.to_schema()
    except Exception as exc:
        raise _import_error(exc, path, ref) from exc
    finally:
        if path is not None and ":" not in ref:
            sys.modules.pop(f"_sqlops_contract_{ref}", None)
    raise ContractError(
        f"contract {ref} is not a pandera DataFrameModel or DataFrameSchema", path=path
    )


def unportable(schema: Any) -> list[str]:
    """Checks pandera cannot write to YAML (custom functions that are not registered):
    ``to_yaml`` drops them silently, so an exporter must refuse or warn, naming each."""
    from pandera.api.checks import Check

    def portable(check: Any) -> bool:
        return check.statistics is not None and hasattr(Check, check.name)

    named = [(None, c) for c in schema.checks]
    named += [(n, c) for n, col in schema.columns.items() for c in col.checks]
    return [f"{n}: {c.name}" if n else str(c.name) for n, c in named if not portable(c)]
