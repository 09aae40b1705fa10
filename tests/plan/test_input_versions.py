"""Input data is versioned by content: a touched or copied file with the same bytes rebuilds
nothing, a changed file rebuilds what reads it, for plain files, globs, hive folders and
files a model reads directly. Bytes are hashed only when a file's stats change."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest

from sqlops import Project
from sqlops.project import filehash

from conftest import ProjectFactory

OLD = 1_600_000_000 * 10**9  # an mtime far from "now", so hashes are remembered
LAYOUTS = {
    "file": (
        'path = "data/a.csv"',
        "select * from raw.t",
        ["data/a.csv"],
        "read_csv('data/a.csv')",
    ),
    "glob": (
        'path = "data/parts/*.csv"',
        "select * from raw.t",
        ["data/parts/1.csv", "data/parts/2.csv"],
        "read_csv('data/parts/*.csv')",
    ),
    "hive": (
        'path = "data/hive"',
        "select id, v from raw.t",
        ["data/hive/k=1/a.csv", "data/hive/k=2/a.csv"],
        "read_csv('data/hive/**/*.csv', hive_partitioning = true)",
    ),
    "model file": (
        'path = "data/unused.csv"',
        "select * from 'data/a.csv'",
        ["data/a.csv"],
        "read_csv('data/a.csv')",
    ),
    "model glob": (
        'path = "data/unused.csv"',
        "select * from read_csv('data/parts/*.csv')",
        ["data/parts/1.csv", "data/parts/2.csv"],
        "read_csv('data/parts/*.csv')",
    ),
}


def _project(make_project: ProjectFactory, layout: str) -> tuple[Path, list[Path]]:
    source, sql, files, _ = LAYOUTS[layout]
    tree = {
        "sqlops.toml": f'[sources."raw.t"]\n{source}\n',
        "data/unused.csv": "id,v\n0,0\n",
        "sql/m/copy.sql": f"-- materialized: table\n{sql}\n",
        "sql/m/total.sql": "-- materialized: table\nselect sum(v), count(*) from m.copy\n",
    }
    tree.update({name: f"id,v\n{i},1{i}\n{i + 10},2{i}\n" for i, name in enumerate(files)})
    root = make_project(tree)
    paths = [root / name for name in [*files, "data/unused.csv"]]
    for path in paths:
        os.utime(path, ns=(OLD, OLD))
    return root, paths


def _built(project: Project) -> set[str]:
    result = project.build()
    assert result.ok
    return {m.name for m in result.models if m.status == "success"}


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_identical_bytes_rebuild_nothing(make_project: ProjectFactory, layout: str) -> None:
    root, paths = _project(make_project, layout)
    project = Project(root)
    assert _built(project) == {"m.copy", "m.total"}
    for path in paths:  # `cp` / `git checkout` of the same bytes: new mtime, same content
        data = path.read_bytes()
        path.unlink()
        path.write_bytes(data)
    assert {n.action for n in project.plan().models} == {"skip"}
    assert _built(project) == set()


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_changed_bytes_rebuild_what_reads_them(make_project: ProjectFactory, layout: str) -> None:
    root, paths = _project(make_project, layout)
    project = Project(root)
    _built(project)
    changed = paths[-2]  # the last data file of the layout, same size, new bytes
    changed.write_text(changed.read_text().replace(",1", ",9"))
    assert _built(project) == {"m.copy", "m.total"}
    reader = LAYOUTS[layout][3]
    con = duckdb.connect()
    con.execute(f"set file_search_path = '{root}'")
    expected = con.execute(f"select sum(v), count(*) from {reader}").fetchone()
    assert project.table("m.total").rows() == [expected]


def test_a_new_file_in_a_glob_is_a_change(make_project: ProjectFactory) -> None:
    root, _ = _project(make_project, "glob")
    project = Project(root)
    _built(project)
    (root / "data/parts/3.csv").write_text("id,v\n99,1\n")
    assert _built(project) == {"m.copy", "m.total"}
    assert project.table("m.total").rows() == [(1 + 10 + 20 + 11 + 21, 5)]


def test_bytes_are_hashed_only_when_stats_change(
    make_project: ProjectFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, paths = _project(make_project, "glob")
    hashed: list[Path] = []
    real = filehash._hash

    def counting(path: Path) -> str:
        hashed.append(path)
        return real(path)

    monkeypatch.setattr(filehash, "_hash", counting)
    monkeypatch.setattr(filehash, "_RACY_NS", 0)  # the files were just written
    project = Project(root)
    project.plan()
    assert sorted(hashed) == sorted(paths[:-1])  # the unused file is no input here
    hashed.clear()
    project.plan()
    assert hashed == []
    os.utime(paths[0], ns=(OLD + 1, OLD + 1))
    project.plan()
    assert hashed == [paths[0]]


def test_a_file_just_written_is_hashed_again_until_it_settles(
    make_project: ProjectFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write within the clock's granularity after hashing could keep the stats: a file
    changed that recently is hashed every time (git's racy-clean rule)."""
    root, paths = _project(make_project, "file")
    hashed: list[Path] = []
    real = filehash._hash
    monkeypatch.setattr(filehash, "_hash", lambda path: hashed.append(path) or real(path))
    Project(root).plan()
    Project(root).plan()
    assert hashed == [paths[0], paths[0]]


def test_a_different_file_with_the_same_size_and_mtime_is_a_change(
    make_project: ProjectFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``cp -p`` of another version keeps size and mtime; the change time still differs."""
    monkeypatch.setattr(filehash, "_RACY_NS", 0)
    root, paths = _project(make_project, "file")
    project = Project(root)
    _built(project)
    paths[0].write_text(paths[0].read_text().replace(",1", ",9"))
    os.utime(paths[0], ns=(OLD, OLD))
    assert _built(project) == {"m.copy", "m.total"}
