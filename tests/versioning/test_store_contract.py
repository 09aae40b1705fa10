"""The version store contract: the same behaviour from every backend."""

from __future__ import annotations

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from sqlops.errors import CommitConflict, MergeConflict, RefNotFound, VersioningError
from sqlops.versioning.store import VersionStore

from .conftest import TableMaker

A = pl.DataFrame({"id": [1, 2, 3], "v": ["a", "b", "c"]})
B = pl.DataFrame({"id": [1, 2, 3, 4], "v": ["a", "b", "c", "d"]})
C = pl.DataFrame({"id": [9], "v": ["z"]})


def _read(store: VersionStore, ref: str, name: str) -> pl.DataFrame:
    version = store.get_commit(store.resolve(ref)).tree[name]
    return pl.concat([pl.read_parquet(store.part_path(p)) for p in version.parts])


def test_commit_then_read_back(store: VersionStore, table: TableMaker) -> None:
    commit = store.commit("main", {"s.t": table(A)}, "add t", {"run": "1"})
    assert store.resolve("main") == commit.id
    assert commit.metadata == {"run": "1"}
    assert_frame_equal(_read(store, "main", "s.t"), A)


def test_branches_are_isolated(store: VersionStore, table: TableMaker) -> None:
    store.commit("main", {"s.t": table(A)}, "add t", {})
    store.create_branch("dev", "main")
    store.commit("dev", {"s.t": table(B)}, "grow t", {})
    assert_frame_equal(_read(store, "main", "s.t"), A)
    assert_frame_equal(_read(store, "dev", "s.t"), B)
    assert set(store.branches()) == {"main", "dev"}


def test_refs_with_ancestry_tags_and_prefixes(store: VersionStore, table: TableMaker) -> None:
    first = store.commit("main", {"s.t": table(A)}, "one", {})
    second = store.commit("main", {"s.t": table(B)}, "two", {})
    assert store.resolve("main~1") == first.id
    assert store.resolve(second.id[:10]) == second.id
    store.tag("v1", "main~1")
    assert_frame_equal(_read(store, "v1", "s.t"), A)
    with pytest.raises(VersioningError, match="already exists"):
        store.tag("v1", "main")


def test_unknown_ref_suggests_close_names(store: VersionStore) -> None:
    store.create_branch("feature-x", "main")
    with pytest.raises(RefNotFound, match="did you mean feature-x"):
        store.resolve("feature-y")


def test_log_of_one_table(store: VersionStore, table: TableMaker) -> None:
    store.commit("main", {"s.t": table(A)}, "t1", {})
    store.commit("main", {"s.u": table(C)}, "u1", {})
    store.commit("main", {"s.t": table(B)}, "t2", {})
    assert [c.message for c in store.log("main")][:3] == ["t2", "u1", "t1"]
    assert [c.message for c in store.log("main", table="s.t")] == ["t2", "t1"]
    assert [c.message for c in store.log("main", table="s.u")] == ["u1"]


def test_identical_content_is_stored_once(store: VersionStore, table: TableMaker) -> None:
    assert table(A).parts == table(A).parts


def test_merge_takes_changes_from_both_sides(store: VersionStore, table: TableMaker) -> None:
    store.commit("main", {"s.t": table(A), "s.u": table(C)}, "base", {})
    store.create_branch("dev", "main")
    store.commit("dev", {"s.t": table(B)}, "dev changes t", {})
    store.commit("main", {"s.u": table(A)}, "main changes u", {})
    merged = store.merge("dev", "main")
    assert len(merged.parents) == 2
    assert_frame_equal(_read(store, "main", "s.t"), B)
    assert_frame_equal(_read(store, "main", "s.u"), A)


def test_merging_a_branch_with_nothing_new_leaves_dest_as_it_is(
    store: VersionStore, table: TableMaker
) -> None:
    """lakeFS refuses a merge that changes nothing ('no changes'); both backends answer as
    git does when the source is already contained in the destination."""
    store.commit("main", {"s.t": table(A)}, "add t", {})
    store.create_branch("dev", "main")
    store.commit("main", {"s.u": table(C)}, "add u", {})
    head = store.resolve("main")
    assert store.merge("dev", "main").id == head
    assert store.resolve("main") == head
    assert_frame_equal(_read(store, "main", "s.t"), A)


def test_merge_conflict_names_every_table(store: VersionStore, table: TableMaker) -> None:
    store.commit("main", {"s.t": table(A), "s.u": table(A)}, "base", {})
    store.create_branch("dev", "main")
    store.commit("dev", {"s.t": table(B), "s.u": table(B)}, "dev", {})
    head = store.commit("main", {"s.t": table(C), "s.u": table(C)}, "main", {}).id
    with pytest.raises(MergeConflict, match=r"conflicts on 2 table\(s\): s.t, s.u"):
        store.merge("dev", "main")
    assert store.resolve("main") == head


def test_revert_undoes_one_commit(store: VersionStore, table: TableMaker) -> None:
    store.commit("main", {"s.t": table(A)}, "t", {})
    bad = store.commit("main", {"s.t": table(B), "s.u": table(C)}, "bad", {})
    store.revert(bad.id, "main")
    tree = store.get_commit(store.resolve("main")).tree
    assert set(tree) == {"s.t"}
    assert_frame_equal(_read(store, "main", "s.t"), A)


def test_delete_branch(store: VersionStore) -> None:
    store.create_branch("tmp", "main")
    store.delete_branch("tmp")
    assert "tmp" not in store.branches()
    with pytest.raises(RefNotFound):
        store.delete_branch("tmp")


@pytest.mark.parametrize("name", ["", "a~1", "../x", "x..y", "-x"])
def test_bad_branch_names_are_refused(store: VersionStore, name: str) -> None:
    with pytest.raises(VersioningError, match="invalid branch name"):
        store.create_branch(name, "main")


def test_a_commit_on_a_moved_head_lands_on_top_when_it_touches_other_tables(
    store: VersionStore, table: TableMaker
) -> None:
    base = store.commit("main", {"s.t": table(A), "s.u": table(A)}, "base", {})
    moved = store.commit("main", {"s.t": table(B)}, "someone else", {})
    made = store.commit("main", {"s.u": table(C)}, "mine", {}, base=base.id)
    assert made.parents == (moved.id,)
    assert_frame_equal(_read(store, "main", "s.t"), B)  # the other writer's work is kept
    assert_frame_equal(_read(store, "main", "s.u"), C)


def test_a_commit_on_a_moved_head_that_changes_the_same_table_is_refused(
    store: VersionStore, table: TableMaker
) -> None:
    base = store.commit("main", {"s.t": table(A)}, "base", {})
    moved = store.commit("main", {"s.t": table(B)}, "someone else", {})
    with pytest.raises(CommitConflict, match=r"main moved since .* changed s\.t"):
        store.commit("main", {"s.t": table(C)}, "mine", {}, base=base.id)
    assert store.resolve("main") == moved.id
    assert_frame_equal(_read(store, "main", "s.t"), B)


def test_log_follows_every_parent_of_a_merge_newest_first(
    store: VersionStore, table: TableMaker
) -> None:
    store.commit("main", {"s.t": table(A)}, "base", {})
    store.create_branch("dev", "main")
    store.commit("dev", {"s.u": table(A)}, "dev 1", {})
    store.commit("main", {"s.v": table(C)}, "main 1", {})
    store.commit("dev", {"s.u": table(B)}, "dev 2", {})
    store.merge("dev", "main")
    log = store.log("main")
    messages = [c.message for c in log]
    assert messages[0] == "merge dev into main"
    assert {"dev 1", "dev 2", "main 1", "base"} <= set(messages)
    assert messages.index("dev 2") < messages.index("dev 1") < messages.index("base")
    assert len(messages) == len(set(c.id for c in log))  # each commit once
    times = [c.time for c in log]
    assert times == sorted(times, reverse=True)
    assert [c.message for c in store.log("main", table="s.u")] == [
        "merge dev into main",
        "dev 2",
        "dev 1",
    ]


def test_the_author_given_is_recorded(store: VersionStore, table: TableMaker) -> None:
    made = store.commit("main", {"s.t": table(A)}, "t", {}, author="Ana <ana@example.org>")
    store.create_branch("dev", "main")
    store.commit("dev", {"s.t": table(B)}, "dev", {})
    merged = store.merge("dev", "main", author="Bo <bo@example.org>")
    log = {c.id: c.author for c in store.log("main")}
    assert log[made.id] == "Ana <ana@example.org>"
    assert log[merged.id] == "Bo <bo@example.org>"
