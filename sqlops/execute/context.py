"""What every node build shares (``BuildContext``), what it gives back (``Output``), and the
Polars results kept for later models of the same build (``Frames``): the records both
``nodes`` (storing and publishing) and ``strategies`` (computing) use.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlops.errors import ExecutionError
from sqlops.execute import materialize as m
from sqlops.execute.engine import Engine
from sqlops.execute.parts import Guess, SampleRequest
from sqlops.project.model import Model, Source
from sqlops.storage.objects import ObjectStore

if TYPE_CHECKING:
    import polars as pl

FRAME_BUDGET = 2 << 30  # bytes of Polars results a build keeps for the models that read them


class Frames:
    """Tables this build computed in Polars, kept in memory for the models of the same
    build that read them (they then skip reading the parts back), up to a byte budget.
    Only tables that a model still to run reads are kept (``readers(name)``)."""

    def __init__(
        self, readers: Callable[[str], bool] = lambda _: False, budget: int = FRAME_BUDGET
    ) -> None:
        self.readers = readers
        self.budget = budget
        self.frames: dict[str, pl.DataFrame] = {}
        self.lock = threading.Lock()

    def keep(self, name: str, frame: pl.DataFrame) -> None:
        size = int(frame.estimated_size())
        if size > self.budget or not self.readers(name):
            return
        with self.lock:
            if size <= self.budget:
                self.budget -= size
                self.frames[name] = frame

    def get(self, name: str) -> pl.DataFrame | None:
        return self.frames.get(name)


class KnownColumns:
    """Every table's columns as the warehouse has them when the build starts (one query,
    on first use): a table model's guess of its result's types, which the statement that
    writes it checks (``write_typed_parts``)."""

    def __init__(self) -> None:
        self.tables: dict[str, tuple[tuple[str, str], ...]] | None = None
        self.keywords: frozenset[str] = frozenset()
        self.lock = threading.Lock()

    def get(self, engine: Engine, name: str) -> Guess | None:
        with self.lock:
            if self.tables is None:
                self.tables = engine.all_columns()
                self.keywords = engine.keywords()
            columns = self.tables.get(name)
        return None if columns is None else Guess(columns, m.row_type(columns, self.keywords))


class Sniffs:
    """DuckDB's sniffer answer (``sniff_csv``'s row, every field) for each CSV file of this
    build, asked once per file version (its stats): the source's view and the Polars CSV
    scan both pin what it finds. None when the file cannot be sniffed (DuckDB's reader
    then reports the problem)."""

    def __init__(self) -> None:
        self.found: dict[tuple[str, int, int], dict[str, Any] | None] = {}
        self.locks: dict[tuple[str, int, int], threading.Lock] = {}
        self.lock = threading.Lock()

    @staticmethod
    def key(source: Source) -> tuple[str, int, int] | None:
        """The file version asked about: the sniff (its options) and the file's stats."""
        try:
            stat = os.stat(source.location)
        except OSError:
            return None
        return m.sniff_select(source, fields="*"), stat.st_size, stat.st_mtime_ns

    def get(self, engine: Engine, source: Source) -> dict[str, Any] | None:
        key = self.key(source)
        if key is None:
            return None
        with self.lock:  # one lock per file: other files are sniffed meanwhile
            lock = self.locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self.found:
                try:
                    self.found[key] = engine.fetch_record(key[0])
                except ExecutionError:
                    self.found[key] = None
            return self.found[key]


@dataclass(frozen=True)
class BuildContext:
    """What every node build needs besides its own engine cursor."""

    objects: ObjectStore
    run_id: str
    existing: Mapping[str, str]
    state: Mapping[str, Mapping[str, Any]]
    sources: Mapping[str, Source] = field(default_factory=dict)
    models: Mapping[str, Model] = field(default_factory=dict)
    csv_reader: str = "auto"
    executor: str = "auto"
    frames: Frames = field(default_factory=Frames)
    known: KnownColumns = field(default_factory=KnownColumns)
    sniffs: Sniffs = field(default_factory=Sniffs)
    samples: Mapping[str, SampleRequest] = field(default_factory=dict)
    # the contract gate: called with the node's name and the SELECT about to be published;
    # it raises to refuse publishing (the previous version stays), so the node fails
    gate: Callable[[Engine, str, str], None] | None = None


@dataclass(frozen=True)
class Output:
    """A node's published result."""

    rows: int | None
    objects: tuple[str, ...] = ()
    engine: str = "duckdb"
