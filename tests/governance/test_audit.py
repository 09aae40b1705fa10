from __future__ import annotations

import hashlib
import json
import multiprocessing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sqlops.errors import AuditError
from sqlops.governance.audit import GENESIS, AuditLog, checkpoint, read, verify


def _log(tmp_path: Path, n: int = 10) -> Path:
    path = tmp_path / ".sqlops" / "audit.jsonl"
    log = AuditLog(path)
    for i in range(n):
        log.append(
            "build",
            who="ana",
            target=f"marts.t{i}",
            outcome="ok",
            details={"rows": i, "tables": ["a", "b"]},
        )
    return path


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def _write(path: Path, lines: list[bytes]) -> None:
    path.write_bytes(b"".join(lines))


def test_chain_verifies_and_links_each_line_to_the_one_before(tmp_path: Path) -> None:
    path = _log(tmp_path)
    result = verify(path)
    assert result.ok and result.count == 10 and result.bad_line is None
    raw = _lines(path)
    records = [json.loads(line) for line in raw]
    assert records[0]["prev"] == GENESIS == hashlib.sha256(b"").hexdigest()
    for before, record in zip(raw, records[1:], strict=False):
        assert record["prev"] == hashlib.sha256(before.rstrip(b"\n")).hexdigest()
    assert [r["seq"] for r in records] == list(range(1, 11))
    assert result.head == hashlib.sha256(raw[-1].rstrip(b"\n")).hexdigest()
    # compact, sorted keys
    assert raw[0].decode() == json.dumps(records[0], sort_keys=True, separators=(",", ":")) + "\n"


def test_missing_log_is_an_empty_chain(tmp_path: Path) -> None:
    result = verify(tmp_path / "audit.jsonl")
    assert result.ok and result.count == 0 and result.head == GENESIS
    assert read(tmp_path / "audit.jsonl") == []


def test_edited_byte_is_named(tmp_path: Path) -> None:
    path = _log(tmp_path)
    lines = _lines(path)
    lines[3] = lines[3].replace(b"marts.t3", b"marts.t9")
    _write(path, lines)
    result = verify(path)
    assert not result.ok and result.bad_line == 4 and "edited" in (result.reason or "")


def test_edited_second_to_last_line_is_named(tmp_path: Path) -> None:
    path = _log(tmp_path)
    lines = _lines(path)
    lines[8] = lines[8].replace(b'"ok"', b'"no"')
    _write(path, lines)
    assert verify(path).bad_line == 9


def test_edited_link_is_named(tmp_path: Path) -> None:
    path = _log(tmp_path)
    lines = _lines(path)
    record = json.loads(lines[5])
    record["prev"] = "0" * 64
    lines[5] = json.dumps(record, sort_keys=True, separators=(",", ":")).encode() + b"\n"
    _write(path, lines)
    assert verify(path).bad_line == 6


@pytest.mark.parametrize("removed", [0, 4, 8])
def test_removed_line_is_named(tmp_path: Path, removed: int) -> None:
    path = _log(tmp_path)
    lines = _lines(path)
    del lines[removed]
    _write(path, lines)
    result = verify(path)
    assert not result.ok and result.bad_line == removed + 1
    assert "missing" in (result.reason or "")


def test_swapped_lines_are_named(tmp_path: Path) -> None:
    path = _log(tmp_path)
    lines = _lines(path)
    lines[2], lines[3] = lines[3], lines[2]
    _write(path, lines)
    result = verify(path)
    assert not result.ok and result.bad_line == 3 and "out of order" in (result.reason or "")


def _forged(prev: str, seq: int) -> bytes:
    record = {
        "action": "approve",
        "details": {},
        "outcome": "ok",
        "prev": prev,
        "seq": seq,
        "target": "model churn v3",
        "time": "2026-01-01T00:00:00.000000Z",
        "who": "mallory",
    }
    return json.dumps(record, sort_keys=True, separators=(",", ":")).encode() + b"\n"


@pytest.mark.parametrize("careful", [True, False])
def test_inserted_line_is_named(tmp_path: Path, careful: bool) -> None:
    """A careful forger links the line to the one before it and gives it the right seq."""
    path = _log(tmp_path)
    lines = _lines(path)
    prev = hashlib.sha256(lines[4].rstrip(b"\n")).hexdigest() if careful else "f" * 64
    lines.insert(5, _forged(prev, 6 if careful else 77))
    _write(path, lines)
    result = verify(path)
    assert not result.ok and result.bad_line == 6 and "inserted" in (result.reason or "")


def test_inserted_first_line_is_named(tmp_path: Path) -> None:
    path = _log(tmp_path)
    _write(path, [_forged(GENESIS, 1), *_lines(path)])
    assert verify(path).bad_line == 1


def test_truncation_is_seen_only_with_a_checkpoint(tmp_path: Path) -> None:
    path = _log(tmp_path)
    mark = tmp_path / "elsewhere" / "audit.checkpoint"
    head = checkpoint(path, mark)
    assert head.count == 10 and head.hmac is None
    assert verify(path, checkpoint=mark).ok
    _write(path, _lines(path)[:7])
    assert verify(path).ok  # a chain cannot see its own tail cut off
    result = verify(path, checkpoint=mark)
    assert not result.ok and result.bad_line == 8 and "truncated" in (result.reason or "")
    assert result.checkpoint_count == 10


def test_appends_after_a_checkpoint_still_verify(tmp_path: Path) -> None:
    path = _log(tmp_path)
    mark = tmp_path / "cp.json"
    checkpoint(path, mark)
    AuditLog(path).append("commit", who="bruno", target="main", outcome="ok")
    result = verify(path, checkpoint=mark)
    assert result.ok and result.count == 11 and result.checkpoint_count == 10


def test_truncated_and_rewritten_log_is_seen_with_a_checkpoint(tmp_path: Path) -> None:
    path = _log(tmp_path)
    mark = tmp_path / "cp.json"
    checkpoint(path, mark)
    _write(path, _lines(path)[:6])
    log = AuditLog(path)
    for i in range(6):  # a consistent new chain, as long as the old one
        log.append("build", who="mallory", target=f"x{i}", outcome="ok")
    assert verify(path).ok
    result = verify(path, checkpoint=mark)
    assert not result.ok and result.bad_line == 10 and "rewritten" in (result.reason or "")


def test_keyed_checkpoint_cannot_be_forged(tmp_path: Path) -> None:
    path = _log(tmp_path)
    mark = tmp_path / "cp.json"
    key = b"secret key"
    assert checkpoint(path, mark, hmac_key=key).hmac
    assert verify(path, checkpoint=mark, hmac_key=key).ok
    _write(path, _lines(path)[:5])
    data = json.loads(mark.read_text())
    forged = {**data, "count": 5, "head": verify(path).head}
    mark.write_text(json.dumps(forged))
    with pytest.raises(AuditError, match="HMAC does not match"):
        verify(path, checkpoint=mark, hmac_key=key)
    with pytest.raises(AuditError, match="HMAC does not match"):
        verify(path, checkpoint=mark, hmac_key=b"other")
    with pytest.raises(AuditError, match="no HMAC secret"):
        verify(path, checkpoint=mark)
    del forged["hmac"]
    mark.write_text(json.dumps(forged))  # an unsigned checkpoint where a key is set
    with pytest.raises(AuditError, match="HMAC does not match"):
        verify(path, checkpoint=mark, hmac_key=key)


def test_checkpoint_of_a_broken_chain_is_refused(tmp_path: Path) -> None:
    path = _log(tmp_path)
    lines = _lines(path)
    del lines[2]
    _write(path, lines)
    with pytest.raises(AuditError, match=r"audit.jsonl:3: the audit log does not verify"):
        checkpoint(path, tmp_path / "cp.json")
    assert not (tmp_path / "cp.json").exists()


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b"not json\n", "is not JSON"),
        (b'{"action":"build"}\n', "lacks details, outcome, prev, seq, target, time, who"),
        (b"[1,2]\n", "lacks action"),
    ],
)
def test_corrupt_line_is_an_audit_error_naming_it(
    tmp_path: Path, line: bytes, message: str
) -> None:
    path = _log(tmp_path, 5)
    lines = _lines(path)
    lines[2] = line
    _write(path, lines)
    for call in (verify, read):
        with pytest.raises(AuditError, match=message) as info:
            call(path)
        assert info.value.line == 3 and "audit.jsonl:3" in str(info.value)


def test_corrupt_last_line_stops_appends(tmp_path: Path) -> None:
    path = _log(tmp_path, 3)
    _write(path, [*_lines(path)[:2], b"garbage\n"])
    with pytest.raises(AuditError, match=r"audit.jsonl:3: audit line is not JSON"):
        AuditLog(path).append("build", who="ana", target="t", outcome="ok")


def test_torn_last_line_is_named(tmp_path: Path) -> None:
    path = _log(tmp_path, 3)
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(AuditError, match=r"audit.jsonl:3: the last audit line is incomplete"):
        verify(path)
    with pytest.raises(AuditError, match="incomplete"):
        AuditLog(path).append("build", who="ana", target="t", outcome="ok")


def test_unreadable_checkpoint_is_named(tmp_path: Path) -> None:
    path = _log(tmp_path, 2)
    (tmp_path / "cp.json").write_text("{}")
    with pytest.raises(AuditError, match=r"cp.json: not an audit checkpoint"):
        verify(path, checkpoint=tmp_path / "cp.json")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"action": "Build Now"}, "not a lower-case word"),
        ({"who": ""}, "who must be a non-empty string"),
        ({"details": {"sample": {"nested": 1}}}, "is not a name, number or list"),
        ({"details": {"rate": float("nan")}}, "non-finite"),
        ({"details": {"names": ["x" * 9000]}}, "too big"),
    ],
)
def test_bad_records_are_refused_and_nothing_written(
    tmp_path: Path, kwargs: dict[str, object], message: str
) -> None:
    path = _log(tmp_path, 1)
    before = path.read_bytes()
    call: dict[str, object] = {"action": "build", "who": "ana", "target": "t", "outcome": "ok"}
    call.update(kwargs)
    with pytest.raises(AuditError, match=message):
        AuditLog(path).append(**call)  # type: ignore[arg-type]
    assert path.read_bytes() == before


def test_read_since_filters_by_time(tmp_path: Path) -> None:
    path = _log(tmp_path, 3)
    records = read(path)
    assert [r.target for r in records] == ["marts.t0", "marts.t1", "marts.t2"]
    assert records[0].details == {"rows": 0, "tables": ["a", "b"]} and records[0].who == "ana"
    later = datetime.now(UTC) + timedelta(seconds=1)
    assert read(path, since=later) == []
    assert len(read(path, since=datetime(2000, 1, 1))) == 3  # naive: UTC


def test_append_returns_the_record_written(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    record = AuditLog(path).append(
        "denied_read", who="analyst", target="marts.customers.cpf", outcome="denied"
    )
    assert record.seq == 1 and record.prev == GENESIS and record.time.endswith("Z")
    assert read(path) == [record]


def _append_many(path: str, who: str, n: int, start: Any) -> None:
    log = AuditLog(Path(path))
    start.wait(60)  # both processes append at the same time
    for i in range(n):
        log.append("check", who=who, target=f"t{i}", outcome="passed", details={"i": i})


def test_two_processes_appending_at_once_keep_one_chain(tmp_path: Path) -> None:
    path = tmp_path / ".sqlops" / "audit.jsonl"
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(2)
    workers = [
        context.Process(target=_append_many, args=(str(path), who, 500, start))
        for who in ("p1", "p2")
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
        assert worker.exitcode == 0
    result = verify(path)
    assert result.ok and result.count == 1000
    records = read(path)
    assert [r.seq for r in records] == list(range(1, 1001))
    whos = [r.who for r in records]
    assert whos.count("p1") == whos.count("p2") == 500
    assert len(set(whos[:600])) == 2, "the appends did not overlap: the test proves nothing"


def test_append_reads_only_the_tail(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An append reads the last line from the end, not the whole log."""
    import sqlops.governance.audit as audit

    path = _log(tmp_path, 3)
    path.write_bytes(b"{}\n" * 200_000 + path.read_bytes())  # 600 KiB before the tail
    read_sizes: list[int] = []
    real = audit.os.read

    def counting(fd: int, n: int) -> bytes:
        read_sizes.append(n)
        return real(fd, n)

    monkeypatch.setattr(audit.os, "read", counting)
    record = AuditLog(path).append("build", who="ana", target="t", outcome="ok")
    assert 0 < sum(read_sizes) <= 4096 and record.seq == 4


def test_threads_sharing_one_log_keep_one_chain(tmp_path: Path) -> None:
    import threading

    path = tmp_path / "audit.jsonl"
    log = AuditLog(path)

    def work(who: str) -> None:
        for i in range(40):
            log.append("export", who=who, target=f"t{i}", outcome="ok")

    threads = [threading.Thread(target=work, args=(f"w{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result = verify(path)
    assert result.ok and result.count == 160
