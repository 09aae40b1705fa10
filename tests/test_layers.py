"""Imports flow one way: errors -> config -> project -> plan -> storage -> execute -> {catalog,
...} -> api -> cli. A lower layer never imports an upper one, sibling domains don't import each
other, and nothing inside the package imports the facade (``sqlops/__init__.py`` re-exports
every layer, so ``from sqlops import X`` there is an import from the top).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "sqlops"
RANK = {
    "_version": 0,
    "errors": 0,
    "oserrors": 1,
    "config": 2,
    "macros": 2,
    "project": 3,
    "plan": 4,
    "storage": 5,
    "execute": 6,
    "catalog": 7,
    "versioning": 7,
    "features": 7,
    "governance": 7,
    "api": 8,
    "checks": 8,  # sqlops.checks: the public re-export of governance's pandera checks
    "cli": 9,
    "__main__": 10,
}
FACADE = "sqlops"
# Third-party libraries wrapped by exactly one module each.
BOUNDARIES = {
    "sqlglot": {"project/parse.py", "project/sqlcheck.py"},
    "rich": {"cli/render.py"},
    "lakefs": {"versioning/lakefs.py"},
    "tomllib": {"config/toml.py"},
    # pandera only inside governance/: loading, compiling, running, inferring, interchange
    "pandera": {
        "governance/checks.py",
        "governance/compile.py",
        "governance/contracts.py",
        "governance/validate.py",
        "governance/infer.py",
        "governance/modelsource.py",
        "governance/odcs.py",
        "governance/odcsread.py",
    },
}


def _layer(path: Path) -> str:
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def _imports(path: Path) -> list[str]:
    """Every module ``path`` imports, absolute; ``from pkg import name`` gives ``pkg.name``
    when that is a module of this package and ``pkg`` when it is a name ``pkg`` defines."""
    tree = ast.parse(path.read_text())
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            module = _absolute(path, node.module or "", node.level)
            names.extend(_imported_module(module, alias.name) for alias in node.names)
        elif isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
    return names


def _absolute(path: Path, module: str, level: int) -> str:
    if level == 0:
        return module
    package = path.relative_to(PACKAGE.parent).with_suffix("").parts
    if path.name != "__init__.py":
        package = package[:-1]
    base = package[: len(package) - (level - 1)]
    return ".".join([*base, module] if module else base)


def _imported_module(module: str, name: str) -> str:
    """``module.name`` if that is a module or package in the source tree, else ``module``."""
    if module.split(".")[0] != FACADE:
        return module
    target = PACKAGE.parent.joinpath(*module.split("."), name)
    return f"{module}.{name}" if target.is_dir() or target.with_suffix(".py").is_file() else module


MODULES = [
    p for p in sorted(PACKAGE.rglob("*.py")) if p.name != "__init__.py" or p.parent != PACKAGE
]
MODULES = [p for p in MODULES if "templates" not in p.parts]


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_only_flow_downwards(path: Path) -> None:
    here = _layer(path)
    for name in _imports(path):
        parts = name.split(".")
        if parts[0] != FACADE:
            continue
        assert len(parts) > 1, (
            f"{path.name} imports the package facade ({name}); import from the module that "
            "defines the name (e.g. sqlops._version, sqlops.errors)"
        )
        target = parts[1]
        assert target in RANK, f"{name} is not in a known layer"
        if target == here:
            continue
        assert RANK[target] < RANK[here], f"{path.name} ({here}) imports {name} ({target})"


@pytest.mark.parametrize("library", sorted(BOUNDARIES))
def test_third_party_libraries_stay_behind_their_boundary(library: str) -> None:
    users = {
        str(p.relative_to(PACKAGE))
        for p in MODULES
        if any(n.split(".")[0] == library for n in _imports(p))
    }
    assert users <= BOUNDARIES[library], f"{library} imported outside its boundary: {users}"


def test_duckdb_is_imported_only_by_the_engine() -> None:
    users = {
        str(p.relative_to(PACKAGE))
        for p in MODULES
        if any(n.split(".")[0] == "duckdb" for n in _imports(p))
    }
    assert users == {"execute/engine.py", "execute/scansource.py"}  # duckdb._sources


# Users run sqlops on macOS and Windows too; locks go through ``filelock``.
PLATFORM_ONLY = {"fcntl", "pwd", "grp", "termios", "resource", "msvcrt", "winreg"}


def test_no_platform_specific_modules() -> None:
    users = {
        f"{p.relative_to(PACKAGE)}: {n}" for p in MODULES for n in _imports(p) if n in PLATFORM_ONLY
    }
    assert not users, f"platform-specific imports: {sorted(users)}"


def _source(path: Path) -> ast.Module:
    return ast.parse(path.read_text())


def test_errors_keep_their_cause() -> None:
    """``raise X from None`` hides the cause even under ``--debug``: always ``from exc``."""
    hiding = [
        f"{p.relative_to(PACKAGE)}:{node.lineno}"
        for p in MODULES
        for node in ast.walk(_source(p))
        if isinstance(node, ast.Raise)
        and isinstance(node.cause, ast.Constant)
        and node.cause.value is None
    ]
    assert not hiding, f"raise ... from None at {hiding}"


def test_environment_is_read_only_by_config() -> None:
    """SQLOPS_* and the other variables sqlops honours (the HMAC secret's included) are all
    read in the config package."""
    readers = {
        str(p.relative_to(PACKAGE))
        for p in MODULES
        for node in ast.walk(_source(p))
        if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv", "environb")
    }
    assert all(r.startswith("config/") for r in readers), readers


def test_every_error_class_lives_in_errors_py() -> None:
    import sqlops
    from sqlops.errors import SqlopsError

    exported = [getattr(sqlops, name) for name in sqlops.__all__]
    errors = [e for e in exported if isinstance(e, type) and issubclass(e, SqlopsError)]
    assert errors and all(e.__module__ == "sqlops.errors" for e in errors), [
        f"{e.__module__}.{e.__name__}" for e in errors if e.__module__ != "sqlops.errors"
    ]


# Reading files is the storage layer's job: the planner decides from values it is given.
FILE_MODULES = {"os", "io", "glob", "shutil", "tempfile", "mmap"}
FILE_METHODS = {
    "open", "stat", "lstat", "exists", "is_file", "is_dir", "read_text", "read_bytes",
    "write_text", "write_bytes", "glob", "rglob", "iterdir", "mkdir", "unlink", "touch",
}  # fmt: skip


def test_plan_touches_no_files() -> None:
    found = []
    for path in sorted((PACKAGE / "plan").rglob("*.py")):
        where = path.relative_to(PACKAGE)
        found += [f"{where}: import {n}" for n in _imports(path) if n.split(".")[0] in FILE_MODULES]
        for node in ast.walk(_source(path)):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else None
            if isinstance(node.func, ast.Name) and node.func.id == "open":
                name = "open"
            if name in FILE_METHODS:
                found.append(f"{where}:{node.lineno}: {name}()")
    assert not found, f"plan/ reads or writes files: {found}"


def test_versioning_stands_on_storage_not_execute() -> None:
    """The version stores and data files need the object store, not DuckDB; only the
    workspace (which points warehouse views at versions) and the merge checks (which run
    SQL) use the engine."""
    users = {
        str(p.relative_to(PACKAGE))
        for p in sorted((PACKAGE / "versioning").rglob("*.py"))
        if any(n.startswith("sqlops.execute") for n in _imports(p))
    }
    assert users <= {"versioning/workspace.py", "versioning/checks.py"}, users
