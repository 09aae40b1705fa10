"""Load a project from disk: sources, SQL models and Python models, with dependencies resolved.

Parsing SQL is the slow part of loading, so results are cached by file content in
``.sqlops/cache/``; a no-op build of a large project never imports sqlglot.
"""

from __future__ import annotations

import dataclasses
import glob
import hashlib
import importlib.util
import json
import os
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from sqlops.config import Config
from sqlops.errors import DuplicateModelError, ModelParseError, UnknownTableError, did_you_mean
from sqlops.oserrors import read_text
from sqlops.project.filehash import FileHashes, contract_digest
from sqlops.project.header import parse_header, split_list
from sqlops.project.model import Model, ProjectSpec, Source, TableRef
from sqlops.project.pymodel import ATTRIBUTE, PythonModelSpec
from sqlops.project.sources import resolve_sources

SYSTEM_SCHEMAS = frozenset({"information_schema", "pg_catalog"})
# a model name is schema.name, each part an unquoted SQL identifier: the same string then
# works as a file name, a selector (where space, comma, + and glob characters mean something),
# a table reference in other models' SQL and a warehouse view name, with no quoting anywhere
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CACHE_FILE = "cache/parse-v4.json"
_HASHES_FILE = "cache/file-hashes.json"


def load_project(config: Config, frames: Mapping[str, Any] | None = None) -> ProjectSpec:
    """Read every source and model of the project and resolve what each model reads."""
    sources = resolve_sources(config, frames or {})
    cache = _ParseCache(config.state_path / _CACHE_FILE)
    models: dict[str, Model] = {}
    for model in _discover(config, cache):
        _add(models, sources, model, config.root)
    cache.save()
    hashes = FileHashes(config.state_path / _HASHES_FILE)
    sources = {name: _source_version(src, hashes, config.root) for name, src in sources.items()}
    known = {**{n: None for n in sources}, **{n: None for n in models}}
    resolved = {
        name: _resolve(_model_version(model, hashes, config.root), known)
        for name, model in models.items()
    }
    hashes.save()
    return ProjectSpec(root=config.root, sources=sources, models=resolved)


def _source_version(source: Source, hashes: FileHashes, root: Path) -> Source:
    if source.is_frame:
        return source
    return dataclasses.replace(source, data_version=hashes.digest(source.files, root))


def _model_version(model: Model, hashes: FileHashes, root: Path) -> Model:
    """The content version of the files a model reads directly (globs expanded, as DuckDB
    expands them relative to the project root)."""
    if not model.files_read:
        return model
    files: list[Path] = []
    for name in model.files_read:
        path = Path(name) if Path(name).is_absolute() else root / name
        if any(ch in name for ch in "*?["):
            files.extend(Path(p) for p in sorted(glob.glob(str(path), recursive=True)))
        else:
            files.append(path)
    return dataclasses.replace(model, data_version=hashes.digest(files, root))


def _add(models: dict[str, Model], sources: Mapping[str, Source], model: Model, root: Path) -> None:
    if model.name in models:
        other = models[model.name]
        raise DuplicateModelError(
            f"model {model.name} is defined twice (also in {other.path})",
            path=model.path,
            hint="rename one of the files or set a different `-- name:` header",
        )
    if model.name in sources:
        raise DuplicateModelError(
            f"model {model.name} has the same name as a source",
            path=model.path,
            hint="rename the model or the source",
        )
    models[model.name] = model


def _discover(config: Config, cache: _ParseCache) -> Iterable[Model]:
    base = config.models_path
    for parts in _walk(base, ".sql"):
        yield _sql_model(
            base.joinpath(*parts), Path(config.models, *parts), parts, cache, config.root
        )
    found: list[Model] = []
    for parts in _walk(base, ".py"):
        found.extend(_python_models(base.joinpath(*parts), _schema_of(parts), config.root))
    for extra in config.python_models:
        if extra.endswith(".py"):
            found.extend(_python_models(config.root / extra, "main", config.root))
        else:
            found.extend(_python_module(extra, config.root))
    for model in found:
        digest = contract_digest(config.root, model.contract)
        yield dataclasses.replace(model, contract_digest=digest) if digest else model


def _walk(base: Path, suffix: str) -> list[tuple[str, ...]]:
    """Model files under ``base`` as path parts, sorted; names starting with ``.`` or ``_``
    (files and folders) are skipped. os.walk, because pathlib costs ~10x more per file."""
    found: list[tuple[str, ...]] = []
    for folder, dirs, files in os.walk(base):
        dirs[:] = [d for d in dirs if not d.startswith((".", "_"))]
        rel = os.path.relpath(folder, base)
        prefix = () if rel == "." else tuple(rel.split(os.sep))
        found.extend(
            (*prefix, f) for f in files if f.endswith(suffix) and not f.startswith((".", "_"))
        )
    return sorted(found)


def _schema_of(parts: tuple[str, ...]) -> str:
    return parts[0].lower() if len(parts) > 1 else "main"


def _sql_model(
    path: Path, rel: Path, parts: tuple[str, ...], cache: _ParseCache, root: Path
) -> Model:
    text = read_text(path, rel)
    header = parse_header(text, rel)
    values = header.values
    name = values.get("name") or f"{_schema_of(parts)}.{parts[-1][:-4].lower()}"
    check_name(name, rel, header.lines.get("name"))
    body = "\n".join(text.splitlines()[header.body_line - 1 :])
    tables, files, sql_hash, end = cache.analyze(text, body, rel, header.body_line)
    body = body[:end]  # without a trailing ';' and the comments after the statement
    materialized = values.get("materialized", "view")
    unique_key = split_list(values.get("unique_key", ""))
    if materialized == "incremental" and not unique_key and not values.get("cursor"):
        raise ModelParseError(
            "an incremental model needs a unique_key or a cursor column",
            path=rel,
            line=1,
            hint="add `-- unique_key: id` (upsert) and/or `-- cursor: updated_at` (new rows only)",
        )
    return Model(
        name=name.lower(),
        path=rel,
        kind="sql",
        materialized=materialized,  # type: ignore[arg-type]
        sql=body,
        body_line=header.body_line,
        sql_hash=sql_hash,
        reads=tuple(tables),
        files_read=tuple(files),
        unique_key=unique_key,
        cursor=values.get("cursor") or None,
        tags=split_list(values.get("tags", "")),
        owner=values.get("owner", ""),
        description=values.get("description", ""),
        contract=values.get("contract", ""),
        contract_severity=values.get("contract_severity", "error"),
        contract_digest=contract_digest(root, values.get("contract", "")),
        meta=dict(values),
        header_lines=dict(header.lines),
    )


def check_name(name: str, path: Path, line: int | None = None) -> None:
    """Refuse a model name that is not ``schema.name`` made of SQL identifiers.

    >>> check_name("stg.orders", Path("sql/stg/orders.sql"))
    >>> check_name("stg.my model", Path("sql/stg/my model.sql"))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    sqlops.errors.ModelParseError: sql/stg/my model.sql: model name 'stg.my model' is not ...
    """
    parts = name.split(".")
    if len(parts) != 2 or not all(_IDENTIFIER.fullmatch(p) for p in parts):
        raise ModelParseError(
            f"model name {name!r} is not schema.name made of letters, digits and _ "
            "(not starting with a digit)",
            path=path,
            line=line,
            hint="rename the file (or its folder), or set a `-- name: schema.name` header",
        )


def _python_models(path: Path, schema: str, root: Path) -> Iterable[Model]:
    """Import a ``.py`` file under the models folder and collect its decorated functions."""
    rel = path.relative_to(root) if path.is_relative_to(root) else path
    if not path.is_file():
        raise ModelParseError(
            "python model file not found", path=rel, hint="check python_models in the config"
        )
    module_name = "sqlops_models." + "_".join(rel.with_suffix("").parts)
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ModelParseError("cannot import python model file", path=rel)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # user code: any failure is the user's to fix
        raise ModelParseError(
            f"importing the python model file failed: {type(exc).__name__}: {exc}",
            path=rel,
            line=_traceback_line(exc, path),
        ) from exc
    return _collect(module, schema, rel, path.read_bytes())


def _python_module(name: str, root: Path) -> Iterable[Model]:
    """Import a configured module by its dotted name (the project root is importable)."""
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    try:
        module = importlib.import_module(name)
    except Exception as exc:  # user code: any failure is the user's to fix
        raise ModelParseError(
            f"importing python model module {name!r} failed: {type(exc).__name__}: {exc}",
            hint="check python_models in the config",
        ) from exc
    file = Path(module.__file__ or name)
    rel = file.relative_to(root) if file.is_relative_to(root) else file
    return _collect(module, "main", rel, file.read_bytes() if file.is_file() else name.encode())


def _collect(module: Any, schema: str, rel: Path, source: bytes) -> Iterable[Model]:
    digest = hashlib.sha256(source).hexdigest()
    for attr in vars(module).values():
        model_spec: PythonModelSpec | None = getattr(attr, ATTRIBUTE, None)
        if model_spec is None or getattr(attr, "__module__", None) != module.__name__:
            continue
        line = attr.__code__.co_firstlineno
        if model_spec.materialized not in ("table", "incremental"):
            raise ModelParseError(
                f"python model {attr.__name__} cannot be materialized as "
                f"{model_spec.materialized!r}",
                path=rel,
                line=line,
                hint="use materialized='table' or 'incremental'",
            )
        name = (model_spec.name or f"{schema}.{attr.__name__}").lower()
        check_name(name, rel, line)
        yield Model(
            name=name,
            path=rel,
            kind="python",
            materialized=model_spec.materialized,  # type: ignore[arg-type]
            body_line=line,
            sql_hash=hashlib.sha256(f"{digest}:{attr.__name__}".encode()).hexdigest(),
            reads=tuple(TableRef(name, line, None) for name in model_spec.inputs),
            unique_key=model_spec.unique_key,
            tags=model_spec.tags,
            owner=model_spec.owner,
            description=model_spec.description,
            contract=model_spec.contract,
            contract_severity=model_spec.contract_severity,
            func=attr,
            header_lines={"unique_key": line},
        )


def _traceback_line(exc: BaseException, path: Path) -> int | None:
    tb = exc.__traceback__
    line = None
    while tb is not None:
        if Path(tb.tb_frame.f_code.co_filename) == path:
            line = tb.tb_lineno
        tb = tb.tb_next
    return getattr(exc, "lineno", None) if line is None else line


def _resolve(model: Model, known: Mapping[str, None]) -> Model:
    """Map each table reference to a known model or source, or fail with a suggestion."""
    deps: list[str] = []
    resolved: list[TableRef] = []
    for ref in model.reads:
        name = _match(ref.name, known)
        if name is None:
            if ref.name.split(".")[0] in SYSTEM_SCHEMAS:
                continue
            raise UnknownTableError(
                ref.name,
                path=model.path,
                line=ref.line,
                col=ref.col,
                hint=did_you_mean(ref.name, known)
                or "declare it under [sources] in the config, or add a model that builds it",
            )
        resolved.append(dataclasses.replace(ref, target=name))
        if name not in deps:
            deps.append(name)
    return dataclasses.replace(model, depends_on=tuple(deps), reads=tuple(resolved))


def _match(ref: str, known: Mapping[str, None]) -> str | None:
    parts = ref.split(".")
    if len(parts) == 3:  # catalog.schema.table: the warehouse is the only catalog we build
        parts = parts[1:]
    name = ".".join(parts) if len(parts) == 2 else f"main.{parts[0]}"
    return name if name in known else None


def _sqlglot_version() -> str:
    """Identify the installed sqlglot without importing it (the no-op path never parses):
    its package file's location and modification time change with every install."""
    spec = importlib.util.find_spec("sqlglot")
    origin = spec.origin if spec is not None and spec.origin else "sqlglot"
    try:
        return f"{origin}:{os.stat(origin).st_mtime_ns}"
    except OSError:
        return origin


class _ParseCache:
    """Content-addressed cache of parse results, so unchanged files are never re-parsed."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.version = _sqlglot_version()
        self.entries: dict[str, Any] = {}
        self.dirty = False
        try:
            data = json.loads(path.read_text())
            if data.get("version") == self.version:
                self.entries = data["entries"]
        except (OSError, ValueError, KeyError):
            pass

    def analyze(
        self, text: str, body: str, path: Path, body_line: int
    ) -> tuple[list[TableRef], list[str], str, int]:
        key = hashlib.sha256(text.encode()).hexdigest()
        entry = self.entries.get(key)
        if entry is None:
            from sqlops.macros import TABLE_MACROS
            from sqlops.project.parse import analyze

            info = analyze(body, path=path, body_line=body_line, table_macros=TABLE_MACROS)
            entry = {
                "tables": [[t.name, t.line, t.col, t.spans, t.aliased] for t in info.tables],
                "files": list(info.files),
                "hash": info.fingerprint,
                "end": info.end,
            }
            self.entries[key] = entry
            self.dirty = True
        tables = [
            TableRef(n, line, col, tuple((a, b) for a, b in spans), aliased)
            for n, line, col, spans, aliased in entry["tables"]
        ]
        return tables, entry["files"], entry["hash"], entry["end"]

    def save(self) -> None:
        if not self.dirty:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"version": self.version, "entries": self.entries}))
        os.replace(tmp, self.path)
