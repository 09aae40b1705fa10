"""``data add`` / ``data checkout``: raw files snapshotted byte for byte into the store,
queryable as sources, restored exactly — on the embedded store and on a real lakeFS server."""

from __future__ import annotations

import hashlib
import tomllib
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from sqlops import Project
from sqlops.errors import RefNotFound, SourceError, UnknownTableError, VersioningError

pytestmark = pytest.mark.usefixtures("backend")

# bytes a CSV re-export would not reproduce: a BOM, CRLF line ends, quoting, no final newline
ODD_CSV = b'\xef\xbb\xbfid,label,score\r\n1,"a, b",1.50\r\n2,plain,2.0\r\n3,"q""uote",-0.25'


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _sources(root: Path) -> dict[str, dict[str, str]]:
    return tomllib.loads((root / "sqlops.toml").read_text())["sources"]


def test_add_declares_the_source_and_commits_exact_bytes(orders_project: Path) -> None:
    project = Project(orders_project)
    target = orders_project / "data/scores.csv"
    target.write_bytes(ODD_CSV)
    added = project.data_add("data/scores.csv", message="scores v1")
    assert added.new_source and added.commit is not None
    assert added.file.source == "raw.scores" and added.file.size == len(ODD_CSV)
    assert _sources(orders_project)["raw.scores"] == {"path": "data/scores.csv"}
    assert project.log(limit=1)[0].message == "scores v1"
    # the source is queryable now and at the commit, as DuckDB/Polars parse the file
    expected = pl.read_csv(ODD_CSV).sort("id")
    assert_frame_equal(project.table("raw.scores").sort("id"), expected, check_dtypes=False)
    assert_frame_equal(
        project.table("raw.scores", ref=added.commit.id).sort("id"), expected, check_dtypes=False
    )
    # overwrite with other bytes, commit them, then bring the first version back exactly
    target.write_bytes(b"id,label,score\n9,z,0\n")
    second = project.data_add(target)
    assert second.commit is not None and not second.new_source
    restored = project.data_checkout(added.commit.id[:10])
    assert [r.path for r in restored] == ["data/scores.csv"]
    assert target.read_bytes() == ODD_CSV
    assert project.fsck() == []


def test_adding_an_unchanged_file_commits_nothing(orders_project: Path) -> None:
    project = Project(orders_project)
    first = project.data_add("data/orders.csv")
    assert first.file.source == "raw.orders" and not first.new_source
    assert first.commit is not None
    config = (orders_project / "sqlops.toml").read_text()
    again = project.data_add("data/orders.csv")
    assert again.commit is None
    assert (orders_project / "sqlops.toml").read_text() == config
    assert len(project.log()) == 2  # init + the one data add


def test_parquet_files_round_trip_byte_for_byte(orders_project: Path) -> None:
    project = Project(orders_project)
    frame = pl.DataFrame({"k": list(range(1000)), "v": [i * 0.5 for i in range(1000)]})
    path = orders_project / "data/events.parquet"
    frame.write_parquet(path, compression="snappy")
    digest = _sha(path)
    project.data_add(path, name="raw.events")
    project.tag("events-v1")
    frame.head(10).write_parquet(path)
    project.data_add(path, name="raw.events")
    assert project.table("raw.events").height == 10
    assert_frame_equal(project.table("raw.events", ref="events-v1").sort("k"), frame)
    project.data_checkout("events-v1", name="raw.events")
    assert _sha(path) == digest


def test_checkout_refuses_to_overwrite_unstored_changes(orders_project: Path) -> None:
    project = Project(orders_project)
    path = orders_project / "data/orders.csv"
    original = path.read_bytes()
    made = project.data_add(path).commit
    assert made is not None
    path.write_bytes(original + b"6,40,1.0,2026-02-01\n")
    edited = path.read_bytes()
    with pytest.raises(VersioningError, match=r"data/orders.csv has changes .* data add"):
        project.data_checkout(made.id)
    assert path.read_bytes() == edited  # nothing lost
    project.data_checkout(made.id, force=True)
    assert path.read_bytes() == original


def test_files_survive_commits_checkouts_and_merges(orders_project: Path) -> None:
    project = Project(orders_project)
    project.build()
    project.commit("base")
    project.create_branch("dev")
    project.checkout("dev")
    (orders_project / "data/extra.csv").write_text("x\n1\n2\n")
    project.data_add("data/extra.csv", name="raw.extra")
    project.build()
    project.commit("dev build")
    project.checkout("main")  # the warehouse state now lists no raw file
    project.checkout("dev")  # ... and now lists it: neither may drop it from a commit
    project.build()
    project.commit("after checkouts")
    project.merge("dev", into="main")
    (orders_project / "data/extra.csv").unlink()
    assert [f.source for f in project.data_checkout("main")] == ["raw.extra"]
    assert (orders_project / "data/extra.csv").read_text() == "x\n1\n2\n"
    assert project.diff("main~1", "main").added == ("_sqlops_files.raw__extra", "raw.extra")


def test_gc_keeps_raw_files_that_commits_reference(orders_project: Path) -> None:
    project = Project(orders_project)
    made = project.data_add("data/orders.csv").commit
    assert made is not None
    project.gc()
    original = (orders_project / "data/orders.csv").read_bytes()
    (orders_project / "data/orders.csv").unlink()
    project.data_checkout(made.id)
    assert (orders_project / "data/orders.csv").read_bytes() == original


def test_another_clone_restores_files_from_lakefs(
    orders_project: Path, backend: str, tmp_path: Path
) -> None:
    if backend != "lakefs":
        pytest.skip("a second clone shares data only through a remote store")
    project = Project(orders_project)
    original = (orders_project / "data/orders.csv").read_bytes()
    project.data_add("data/orders.csv")
    clone = tmp_path / "clone"
    clone.mkdir()
    (clone / "sqlops.toml").write_text((orders_project / "sqlops.toml").read_text())
    restored = Project(clone).data_checkout("main")
    assert [r.path for r in restored] == ["data/orders.csv"]
    assert (clone / "data/orders.csv").read_bytes() == original


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        (("data/nope.csv",), SourceError, r"data/nope.csv does not exist.*relative paths"),
        (("data",), SourceError, "is a folder"),
        (("data/orders.csv", "orders"), SourceError, r"must be schema.table.*--name raw.orders"),
        (("data/orders.csv", "a.b.c"), SourceError, "must be schema.table"),
        (("data/notes.bin",), SourceError, "cannot tell the format"),
        (("data/other.csv", "raw.orders"), SourceError, r"source raw.orders reads 'data/orders"),
        (("data/orders.csv", "raw.other"), SourceError, "already source raw.orders"),
        (("data/other.csv", "marts.top"), SourceError, "is a model"),
    ],
)
def test_bad_data_add_is_refused_and_changes_nothing(
    orders_project: Path, args: tuple[str, ...], error: type[Exception], match: str
) -> None:
    (orders_project / "data/notes.bin").write_bytes(b"\x00\x01")
    (orders_project / "data/other.csv").write_text("a\n1\n")
    config = (orders_project / "sqlops.toml").read_text()
    project = Project(orders_project)
    with pytest.raises(error, match=match) as caught:
        project.data_add(*args)
    assert "\n" not in str(caught.value)
    assert (orders_project / "sqlops.toml").read_text() == config
    assert len(project.log()) == 1


def test_a_file_outside_the_project_is_refused(orders_project: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.csv"
    outside.write_text("a\n1\n")
    with pytest.raises(SourceError, match="outside the project folder"):
        Project(orders_project).data_add(outside)


def test_an_unreadable_file_leaves_config_and_history_alone(orders_project: Path) -> None:
    (orders_project / "data/broken.json").write_text("{not json")
    config = (orders_project / "sqlops.toml").read_text()
    project = Project(orders_project)
    with pytest.raises(SourceError, match=r"cannot read data/broken\.json as source raw\.broken"):
        project.data_add("data/broken.json")
    assert (orders_project / "sqlops.toml").read_text() == config
    assert len(project.log()) == 1


def test_bad_data_checkout_refs_and_names(orders_project: Path) -> None:
    project = Project(orders_project)
    project.build()
    project.commit("no files yet")
    with pytest.raises(VersioningError, match=r"holds no data files.*data add"):
        project.data_checkout("main")
    project.data_add("data/orders.csv")
    with pytest.raises(RefNotFound, match="did you mean main"):
        project.data_checkout("mian")
    with pytest.raises(UnknownTableError, match=r"did you mean raw\.orders"):
        project.data_checkout("main", name="raw.order")


def test_a_recorded_path_outside_the_project_is_never_written(
    orders_project: Path, tmp_path: Path
) -> None:
    from sqlops.errors import CorruptObject
    from sqlops.versioning import datafiles

    project = Project(orders_project)
    forged = datafiles.pack(
        orders_project / "data/orders.csv", "../escaped.csv", "raw.evil", project.objects
    )
    project.versions.commit("main", {datafiles.entry_name("raw.evil"): forged}, "forged", {})
    with pytest.raises(CorruptObject, match="points outside the project"):
        project.data_checkout("main")
    assert not (orders_project.parent / "escaped.csv").exists()


@pytest.mark.parametrize("size", [0, 1, 4096, 4096 * 3 + 17])
def test_containers_restore_any_size_across_chunk_boundaries(
    tmp_path: Path, size: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlops.storage.objects import ObjectStore
    from sqlops.versioning import datafiles

    monkeypatch.setattr(datafiles, "CHUNK", 4096)
    payload = bytes((i * 7919) % 251 for i in range(size))
    (tmp_path / "blob.csv").write_bytes(payload)
    objects = ObjectStore(tmp_path / "objects", tmp_path)
    version = datafiles.pack(tmp_path / "blob.csv", "blob.csv", "raw.blob", objects)
    assert version.rows == max(1, -(-size // 4096))
    (tmp_path / "blob.csv").unlink()
    info = datafiles.unpack(objects, version, tmp_path)
    assert (tmp_path / "blob.csv").read_bytes() == payload
    assert (info.size, info.path, info.source) == (size, "blob.csv", "raw.blob")
