"""What the wheel ships: the typing marker, the version module, ``python -m sqlops``, and the
files sqlops reads at run time."""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(shutil.which("uv") is None, reason="builds the wheel with uv (not on PATH)")
def test_the_wheel_ships_py_typed_and_the_package_data(tmp_path: Path) -> None:
    built = subprocess.run(
        ["uv", "build", "--wheel", "--offline", "--out-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("sqlops-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in (
        "sqlops/py.typed",
        "sqlops/_version.py",
        "sqlops/__main__.py",
        "sqlops/macros.sql",
        "sqlops/catalog/schema.sql",
    ):
        assert required in names
    templates = {p.name for p in (ROOT / "sqlops/project/templates").iterdir() if p.is_file()}
    assert {f"sqlops/project/templates/{t}" for t in templates} <= names
