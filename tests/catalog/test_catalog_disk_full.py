"""A disk that fills up while the catalog records a run: one line, exit 1, nothing lost.

The full disk is real: a 2 MiB tmpfs mounted for the test (root only; skipped elsewhere)
holds the catalog, and is filled to the last byte before the build that must record.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import sqlops


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True
    )
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def fill(disk: Path) -> Path:
    """Write until the device is full; the filler is what to delete to free space."""
    filler = disk / "filler"
    with filler.open("wb", buffering=0) as handle:
        try:
            while True:
                handle.write(b"\0" * 4096)
        except OSError:
            pass
    return filler


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).parent / "sqlops"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SQLOPS_")}
    return subprocess.run(
        [str(exe), *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=120
    )


def assert_disk_full_line(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout, result.stderr[-2000:]
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "catalog" in lines[0] and "no space left on device" in lines[0], lines[0]


def test_a_full_disk_while_recording_a_run_is_one_line(tmp_path: Path, tiny_disk: Path) -> None:
    root = tmp_path / "shop"
    sqlops.init(root)
    config = root / "sqlops.toml"
    config.write_text(f'catalog = "{tiny_disk / "catalog.duckdb"}"\n' + config.read_text())
    assert cli("build", cwd=root).returncode == 0
    filler = fill(tiny_disk)

    # a build that runs models: the catalog's commit fails
    model = root / "sql/staging/orders.sql"
    model.write_text(model.read_text() + "\n-- changed\n")
    assert_disk_full_line(cli("build", cwd=root))
    # the models were built all the same: the warehouse answers
    query = cli("query", "select count(*) as n from marts.customer_revenue", "--json", cwd=root)
    assert query.returncode == 0 and '"n": 8' in query.stdout

    # a no-op build queues its run row in a file on the same full disk
    assert_disk_full_line(cli("build", cwd=root))

    filler.unlink()
    assert cli("build", cwd=root).returncode == 0
    runs = cli("runs", "--json", cwd=root)
    assert runs.returncode == 0, runs.stderr
    assert runs.stdout.count('"run_id"') >= 2  # the first build and the last, readable
