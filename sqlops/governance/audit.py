"""The tamper-evident audit log: ``.sqlops/audit.jsonl``, one hash-chained JSON record a line.

Each line is a compact JSON object with sorted keys::

    {"action":"build","details":{"rows":3},"outcome":"ok","prev":"e3b0...b855","seq":1,
     "target":"marts.orders","time":"2026-12-08T00:22:13.123456Z","who":"ana"}

``prev`` is the SHA-256 (hex) of the previous line's bytes, without its newline; the first
line's ``prev`` is ``GENESIS``, the SHA-256 of the empty string. ``seq`` counts lines from 1.
So an edited, removed, reordered or inserted line breaks the chain where it is, and ``verify``
names it. A chain cannot see its own tail cut off (or the whole file rewritten): a checkpoint
(the count and head hash, HMAC-keyed when a secret is given) kept elsewhere closes that gap.

Appends are serialized across processes by an OS lock (``audit.jsonl.lock``): under it, the
last line is read from the end of the file (never the whole file), the new line is written
with one ``O_APPEND`` write and fsynced. Two processes therefore never interleave or fork.

``details`` is for names and counts (``{"table": "marts.customers", "failures": 3}``), never
a data value: callers must not put a raw value of a tagged column here, since the log is
kept forever and read by people who may not see the data.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlops.errors import AuditError
from sqlops.oserrors import os_errors, translate_os_error
from sqlops.storage.objects import atomic_write, fsync_dir

__all__ = [
    "ACTIONS",
    "GENESIS",
    "AuditLog",
    "AuditRecord",
    "Checkpoint",
    "VerifyResult",
    "checkpoint",
    "read",
    "verify",
]

GENESIS = hashlib.sha256(b"").hexdigest()
# the actions sqlops itself records; callers may add their own (lower-case words)
ACTIONS = frozenset(
    {"build", "commit", "merge", "check", "pii_scan", "approve", "reject", "promote", "export"}
    | {"denied_read", "checkout", "monitor"}
)
FIELDS = ("action", "details", "outcome", "prev", "seq", "target", "time", "who")
_ACTION = re.compile(r"[a-z][a-z0-9_]*")
_MAX_LINE = 8 << 10  # a record is a few hundred bytes; a bigger one carries data, not names
_TAIL = 4096  # bytes read from the end per step when looking for the last line
_SCALARS = (str, int, float, bool, type(None))


@dataclass(frozen=True)
class AuditRecord:
    """One line of the log, as written."""

    seq: int
    time: str
    who: str
    action: str
    target: str
    outcome: str
    details: Mapping[str, Any] = field(default_factory=dict)
    prev: str = GENESIS

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in FIELDS}

    @property
    def when(self) -> datetime:
        return datetime.fromisoformat(self.time)


@dataclass(frozen=True)
class VerifyResult:
    """What ``verify`` found: ``ok``, or the first bad line (1-based) and why."""

    ok: bool
    count: int
    head: str
    bad_line: int | None = None
    reason: str | None = None
    checkpoint_count: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "count": self.count,
            "head": self.head,
            "bad_line": self.bad_line,
            "reason": self.reason,
            "checkpoint_count": self.checkpoint_count,
        }


@dataclass(frozen=True)
class Checkpoint:
    """The head of the log at some moment: ``count`` lines, the last one hashing to ``head``."""

    count: int
    head: str
    time: str
    hmac: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"count": self.count, "head": self.head, "time": self.time}
        if self.hmac is not None:
            data["hmac"] = self.hmac
        return data


class AuditLog:
    """Appends to one audit log file; safe across threads and processes."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock: Any = None  # filelock's, made on the first append (its import is 25 ms)

    def append(
        self,
        action: str,
        *,
        who: str,
        target: str,
        outcome: str,
        details: Mapping[str, Any] | None = None,
    ) -> AuditRecord:
        """Write one record at the end of the chain and fsync it; the record written."""
        fields = _checked(action, who=who, target=target, outcome=outcome, details=details)
        if self._lock is None:
            self._lock = _lock(self.path)
        with _held(self._lock, self.path), os_errors(self.path, "append to the audit log"):
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                size = os.fstat(fd).st_size
                seq, prev = _tail(fd, size, self.path)
                record = AuditRecord(seq=seq + 1, time=_now(), prev=prev, **fields)
                line = _dump(record.to_dict())
                if len(line) > _MAX_LINE:
                    raise AuditError(
                        f"{self.path}: an audit record of {len(line)} bytes is too big",
                        hint="put names and counts in details, not data",
                    )
                view = memoryview(line + b"\n")
                while view:  # one write in practice; a full disk may cut it short
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            finally:
                os.close(fd)
            if size == 0:
                fsync_dir(self.path.parent)  # the new file's name is durable too
        return record


def verify(
    path: Path, checkpoint: Path | None = None, hmac_key: bytes | None = None
) -> VerifyResult:
    """Check the whole chain (and, given a checkpoint, that the log still reaches it).

    Only the hashes and the ``prev``/``seq`` links are read from each line (no JSON parse),
    so 100,000 records verify in a fraction of a second. A line that is not a record is an
    ``AuditError`` naming it; a broken link is ``ok=False`` with the first bad line.
    """
    mark = _read_checkpoint(checkpoint, hmac_key) if checkpoint is not None else None
    lines = _lines(path)
    hashes = [hashlib.sha256(line).hexdigest() for line in lines]
    head = hashes[-1] if hashes else GENESIS
    result = VerifyResult(ok=True, count=len(lines), head=head)
    broken = None
    if lines:
        _parse(lines[-1], len(lines), path)  # no later line vouches for the last one
    if not _linked(lines, hashes):
        links = [_link(line, number, path) for number, line in enumerate(lines, 1)]
        broken = _first_break(links, hashes)
    if broken is not None:
        line, reason = broken
        result = VerifyResult(False, len(lines), head, line, reason)
    if mark is not None:
        result = _against(result, mark, hashes)
    return result


def checkpoint(path: Path, out: Path, hmac_key: bytes | None = None) -> Checkpoint:
    """Write the log's head to ``out`` (atomically); keyed, it cannot be forged without the key.

    The log is verified first: a checkpoint of a broken chain would vouch for it.
    """
    state = verify(path)
    if not state.ok:
        raise AuditError(
            f"{path}:{state.bad_line}: the audit log does not verify ({state.reason})",
            line=state.bad_line,
            hint="investigate with `sqlops audit verify` before writing a checkpoint",
        )
    signature = _sign(hmac_key, state.count, state.head) if hmac_key is not None else None
    mark = Checkpoint(count=state.count, head=state.head, time=_now(), hmac=signature)
    atomic_write(Path(out), _dump(mark.to_dict()) + b"\n")
    return mark


def read(path: Path, since: datetime | None = None) -> list[AuditRecord]:
    """Every record (those at or after ``since``, a naive time read as UTC), oldest first."""
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    records = [_parse(line, number, path) for number, line in enumerate(_lines(path), 1)]
    return records if since is None else [r for r in records if r.when >= since]


def _checked(
    action: str, *, who: str, target: str, outcome: str, details: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The caller's fields, refused with a one-line error unless they are names and counts."""
    if not isinstance(action, str) or not _ACTION.fullmatch(action):
        raise AuditError(
            f"audit action {action!r} is not a lower-case word",
            hint=f"use one of {', '.join(sorted(ACTIONS))}",
        )
    for name, value in (("who", who), ("target", target), ("outcome", outcome)):
        if not isinstance(value, str) or not value:
            raise AuditError(f"audit {action}: {name} must be a non-empty string, not {value!r}")
    details = dict(details or {})
    for key, value in details.items():
        flat = value if isinstance(value, list | tuple) else [value]
        if not isinstance(key, str) or not all(isinstance(v, _SCALARS) for v in flat):
            raise AuditError(
                f"audit {action}: details[{key!r}] is not a name, number or list of them",
                hint="pass names and counts in details",
            )
    return {"action": action, "who": who, "target": target, "outcome": outcome, "details": details}


def _dump(data: Mapping[str, Any]) -> bytes:
    try:
        text = json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except ValueError as exc:  # NaN or infinity: not JSON
        raise AuditError(f"audit record holds a non-finite number: {exc}") from exc
    return text.encode()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _lock(path: Path) -> Any:
    """The log's inter-process lock (the OS's, so a killed writer never leaves it held)."""
    from filelock import FileLock

    with os_errors(path, "lock the audit log"):
        path.parent.mkdir(parents=True, exist_ok=True)
    return FileLock(path.with_name(path.name + ".lock"))


@contextmanager
def _held(lock: Any, path: Path) -> Iterator[None]:
    with os_errors(path, "lock the audit log"):
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


def _tail(fd: int, size: int, path: Path) -> tuple[int, str]:
    """``(seq, hash)`` of the last line, read backwards from the end: O(1) in the file's size."""
    if size == 0:
        return 0, GENESIS
    step = _TAIL
    while True:
        start = max(size - step, 0)
        os.lseek(fd, start, os.SEEK_SET)
        chunk = os.read(fd, size - start)
        if not chunk.endswith(b"\n"):
            raise AuditError(
                f"{path}: the last audit line is incomplete (a write was interrupted)",
                hint="run `sqlops audit verify`; keep a copy, then remove the partial line",
            )
        cut = chunk.rfind(b"\n", 0, len(chunk) - 1)
        if cut >= 0 or start == 0:
            last = chunk[cut + 1 : -1]
            line = chunk.count(b"\n") if start == 0 else None
            seq = _parse(last, line, path).seq
            return seq, hashlib.sha256(last).hexdigest()
        step *= 4


def _lines(path: Path) -> list[bytes]:
    """The log's lines without their newlines; a missing log has none."""
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise translate_os_error(exc, path, "read the audit log") from exc
    if not raw:
        return []
    lines = raw.split(b"\n")
    if lines[-1]:
        raise AuditError(
            f"{path}:{len(lines)}: the last audit line is incomplete (a write was interrupted)",
            line=len(lines),
            hint="keep a copy, then remove the partial line",
        )
    return lines[:-1]


def _linked(lines: list[bytes], hashes: list[str]) -> bool:
    """Whether each line holds the link ``_dump`` writes after the line before: one
    substring test a line, the fast path of a log nobody touched."""
    expected = [GENESIS, *hashes][: len(lines)]
    return all(
        b'"prev":"%s","seq":%d,"target":"' % (prev.encode(), number) in line
        for number, (prev, line) in enumerate(zip(expected, lines, strict=True), 1)
    )


def _link(line: bytes, number: int, path: Path) -> tuple[str, int]:
    """``(prev, seq)`` of a line, sliced at the offsets ``_dump``'s layout puts them (a
    regex costs twice the hashing). A line of another layout is parsed fully, for the
    message naming what is wrong, and its fields are taken from the parse."""
    at = line.rfind(b'"prev":"')
    end = line.find(b",", at + 80)
    if (
        at > 0
        and line.startswith(b'{"action":"')
        and line.endswith(b'"}')
        and line[at + 72 : at + 80] == b'","seq":'
        and line[end : end + 11] == b',"target":"'
        and line[at + 80 : end].isdigit()
    ):
        return line[at + 8 : at + 72].decode("ascii", "replace"), int(line[at + 80 : end])
    record = _parse(line, number, path)
    return record.prev, record.seq


def _parse(line: bytes, number: int | None, path: Path) -> AuditRecord:
    where = f"{path}:{number}" if number is not None else f"{path} (last line)"
    try:
        data = json.loads(line)
    except ValueError as exc:
        raise AuditError(
            f"{where}: audit line is not JSON ({exc})",
            line=number,
            hint="the log was edited or damaged; restore it from a copy",
        ) from exc
    missing = [f for f in FIELDS if not isinstance(data, dict) or f not in data]
    if missing:
        raise AuditError(
            f"{where}: audit line lacks {', '.join(missing)}",
            line=number,
            hint="the log was edited or damaged; restore it from a copy",
        )
    typed = (
        isinstance(data["seq"], int)
        and isinstance(data["details"], dict)
        and all(isinstance(data[f], str) for f in FIELDS if f not in ("seq", "details"))
    )
    if not typed:
        raise AuditError(f"{where}: audit line has a field of the wrong type", line=number)
    return AuditRecord(**{f: data[f] for f in FIELDS})


def _first_break(links: list[tuple[str, int]], hashes: list[str]) -> tuple[int, str] | None:
    """The first line (1-based) where the chain breaks, and the likeliest reason.

    A line whose successor links *past* it was inserted; a line whose successor does not
    link to it although that successor links to what follows was edited; a sequence gap
    means lines are missing or out of order before the line that shows it.
    """
    for index, (prev, seq) in enumerate(links):
        expected = hashes[index - 1] if index else GENESIS
        if prev == expected and seq == index + 1:
            continue
        number = index + 1
        before = hashes[index - 2] if index >= 2 else GENESIS
        following = links[index + 1] if index + 1 < len(links) else None
        after = following[0] if following is not None else None
        if following is not None and prev == hashes[index + 1] and after == expected:
            return number, f"out of order: swapped with line {number + 1}"
        if after is not None and after == expected:
            return number, "inserted: the next line links to the line before it"
        if index >= 1 and prev == before:
            return number - 1, f"inserted: line {number} links to the line before it"
        if seq != index + 1:
            return number, (
                f"sequence {seq} where {number} was expected: "
                "lines before it are missing or out of order"
            )
        if index >= 1 and (after is None or after == hashes[index]):
            return number - 1, f"edited: its hash differs from what line {number} records"
        return number, "edited: it does not link to the line before it"
    return None


def _against(result: VerifyResult, mark: Checkpoint, hashes: list[str]) -> VerifyResult:
    """The chain's result, failed if the log no longer reaches the checkpoint's head."""
    if not result.ok:
        return replace(result, checkpoint_count=mark.count)
    if result.count < mark.count:
        reason = f"truncated: {result.count} lines, the checkpoint records {mark.count}"
        return VerifyResult(False, result.count, result.head, result.count + 1, reason, mark.count)
    if mark.count and hashes[mark.count - 1] != mark.head:
        reason = "rewritten: its hash differs from the checkpoint's head"
        return VerifyResult(False, result.count, result.head, mark.count, reason, mark.count)
    return VerifyResult(True, result.count, result.head, checkpoint_count=mark.count)


def _sign(key: bytes, count: int, head: str) -> str:
    return hmac.new(key, f"{count}:{head}".encode(), hashlib.sha256).hexdigest()


def _read_checkpoint(path: Path, key: bytes | None) -> Checkpoint:
    """A checkpoint file, its HMAC checked when a key is given (and required when signed)."""
    with os_errors(path, "read the audit checkpoint"):
        raw = Path(path).read_bytes()
    try:
        data = json.loads(raw)
        mark = Checkpoint(
            count=int(data["count"]),
            head=str(data["head"]),
            time=str(data["time"]),
            hmac=None if data.get("hmac") is None else str(data["hmac"]),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise AuditError(
            f"{path}: not an audit checkpoint ({exc})",
            hint="write one with `sqlops audit checkpoint --out FILE`",
        ) from exc
    if mark.hmac is not None and key is None:
        raise AuditError(
            f"{path}: the checkpoint is keyed but no HMAC secret is set",
            hint="set the variable named by [governance] hmac_key_env",
        )
    expected = _sign(key, mark.count, mark.head) if key is not None else None
    if expected is not None and not hmac.compare_digest(mark.hmac or "", expected):
        raise AuditError(
            f"{path}: the checkpoint's HMAC does not match (forged, or another key)",
            hint="use the checkpoint written with this project's secret",
        )
    return mark
