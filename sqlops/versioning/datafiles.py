"""Raw data files in the version store: ``sqlops data add`` and ``sqlops data checkout``.

A file is stored byte for byte, wrapped in a Parquet container so that it is an ordinary
table part to every backend: one row per chunk of the file (``source``, ``path``, ``size``,
``blake3``, ``chunk``, ``data``), zstd-compressed, written deterministically so the same
file at the same path is the same object. Because it is a normal part, the object store
dedupes it, ``gc`` keeps it while a commit references it, ``fsck`` verifies its hash, lakeFS
stores it under ``tables/`` and merges, reverts and checkouts carry it along, with no change
to the store protocol. The container lives in the commit tree as ``_sqlops_files.<schema>__
<table>`` (the ``_sqlops`` prefix keeps it out of the warehouse's tables), next to the parsed
snapshot of the source itself, which is what time travel and ``build --at`` read.

Restoring writes the chunks to a temporary file beside the target, checks the blake3 of the
result against the hash recorded at ``data add``, then renames it into place.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlops.errors import CorruptObject
from sqlops.storage.objects import ObjectStore, file_hash, fsync_dir
from sqlops.versioning.store import TableVersion

if TYPE_CHECKING:
    import pyarrow as pa

# pyarrow is imported where it is used: the API imports this module, and a no-op build
# should not pay pyarrow's import time.
SCHEMA = "_sqlops_files"
CHUNK = 16 << 20
# compressing an already compressed format costs time and saves nothing
_STORED = {".parquet", ".pq", ".gz", ".zst", ".zip", ".bz2", ".xz"}
_COLUMNS = (
    ("source", "VARCHAR"),
    ("path", "VARCHAR"),
    ("size", "BIGINT"),
    ("blake3", "VARCHAR"),
    ("chunk", "INTEGER"),
    ("data", "BLOB"),
)


@dataclass(frozen=True)
class DataFile:
    """One raw file as recorded in a version: the source it feeds, where it lives (relative
    to the project root), its size and the blake3 hash of its bytes."""

    source: str
    path: str
    size: int
    blake3: str

    def to_dict(self) -> dict[str, object]:
        return {"source": self.source, "path": self.path, "size": self.size, "blake3": self.blake3}


def _container() -> pa.Schema:
    import pyarrow as pa

    return pa.schema(
        [
            ("source", pa.string()),
            ("path", pa.string()),
            ("size", pa.int64()),
            ("blake3", pa.string()),
            ("chunk", pa.int32()),
            ("data", pa.large_binary()),
        ]
    )


def entry_name(source: str) -> str:
    """The tree entry holding a source's raw file.

    >>> entry_name("raw.orders")
    '_sqlops_files.raw__orders'
    """
    return f"{SCHEMA}.{source.replace('.', '__', 1)}"


def is_entry(name: str) -> bool:
    """Whether a tree entry is a raw file container rather than a table.

    >>> is_entry("_sqlops_files.raw__orders"), is_entry("raw.orders")
    (True, False)
    """
    return name.startswith(SCHEMA + ".")


def source_of(name: str) -> str:
    """The source name of a container entry.

    >>> source_of("_sqlops_files.raw__orders")
    'raw.orders'
    """
    return name.split(".", 1)[1].replace("__", ".", 1)


def entries(tree: Mapping[str, TableVersion]) -> dict[str, TableVersion]:
    """The raw-file containers of a commit tree, by source name."""
    return {source_of(n): v for n, v in sorted(tree.items()) if is_entry(n)}


def pack(file: Path, rel: str, source: str, objects: ObjectStore) -> TableVersion:
    """Store ``file``'s bytes as one container object; the version's fingerprint is the
    blake3 hash of the raw file (so a restore can be checked without reading the container).

    The file is hashed first and again while it is copied, so a file that changes while it
    is being added is refused instead of stored half old, half new.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = _container()
    digest = file_hash(file)
    size = file.stat().st_size
    tmp = objects.temp_path()
    chunks = 0
    compression = "none" if file.suffix.lower() in _STORED else "zstd"
    try:
        with (
            file.open("rb") as handle,
            pq.ParquetWriter(
                tmp,
                schema,
                compression=compression,
                use_dictionary=False,
                write_statistics=["source", "path", "size", "blake3", "chunk"],
            ) as writer,
        ):
            while True:
                data = handle.read(CHUNK)
                if not data and chunks:
                    break
                row = [source, rel, size, digest, chunks, data]
                writer.write_table(pa.Table.from_arrays(_arrays(row), schema=schema))
                chunks += 1
                if not data:
                    break
        if file_hash(file) != digest or file.stat().st_size != size:
            raise CorruptObject(
                f"{rel} changed while it was being added", hint="add it again once it is written"
            )
        oid = objects.put(tmp)
    finally:
        tmp.unlink(missing_ok=True)
    return TableVersion((oid,), _COLUMNS, chunks, digest)


def describe(objects: ObjectStore, version: TableVersion) -> DataFile:
    """What a container holds (read from its first row group only)."""
    import pyarrow.parquet as pq

    with pq.ParquetFile(_path(objects, version)) as reader:
        first = reader.read_row_group(0, columns=["source", "path", "size", "blake3"])
    row = {name: first.column(name).chunk(0)[0].as_py() for name in first.column_names}
    return DataFile(row["source"], row["path"], int(row["size"]), row["blake3"])


def unpack(objects: ObjectStore, version: TableVersion, root: Path) -> DataFile:
    """Write a container's file back to its recorded path under ``root``, byte for byte.

    The bytes go to a temporary file beside the target and are checked against the recorded
    blake3 before the rename, so the target is either untouched or exactly restored.
    """
    import pyarrow.parquet as pq

    info = describe(objects, version)
    target = root / info.path
    if not target.resolve().is_relative_to(root.resolve()):
        raise CorruptObject(
            f"a stored file of source {info.source} points outside the project: {info.path}",
            hint="run `sqlops versions fsck`; data add only records paths inside the project",
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.sqlops-tmp")
    try:
        with pq.ParquetFile(_path(objects, version)) as reader, tmp.open("wb") as out:
            for group in range(reader.num_row_groups):
                table = reader.read_row_group(group, columns=["data"])
                for chunk in table.column("data").chunks:
                    for value in chunk:
                        out.write(value.as_buffer() or b"")
            out.flush()
            os.fsync(out.fileno())
        restored = file_hash(tmp)
        if restored != info.blake3 or (version.fingerprint and restored != version.fingerprint):
            raise CorruptObject(
                f"the stored copy of {info.path} (source {info.source}) does not match its "
                f"hash {info.blake3[:12]}",
                hint="run `sqlops versions fsck`",
            )
        os.replace(tmp, target)
        fsync_dir(target.parent)
    finally:
        tmp.unlink(missing_ok=True)
    return info


def _arrays(row: list[Any]) -> list[Any]:
    """One container row as Arrow arrays, built from buffers: converting Python objects
    would make pyarrow import pandas (a second of start-up) to check for pandas inputs."""
    import pyarrow as pa

    source, rel, size, digest, chunk, data = row

    def blob(value: bytes, kind: Any, fmt: str) -> Any:
        offsets = pa.py_buffer(struct.pack(f"<2{fmt}", 0, len(value)))
        return pa.Array.from_buffers(kind, 1, [None, offsets, pa.py_buffer(value)])

    def number(value: int, kind: Any, fmt: str) -> Any:
        return pa.Array.from_buffers(kind, 1, [None, pa.py_buffer(struct.pack(f"<{fmt}", value))])

    return [
        blob(source.encode(), pa.string(), "i"),
        blob(rel.encode(), pa.string(), "i"),
        number(size, pa.int64(), "q"),
        blob(digest.encode(), pa.string(), "i"),
        number(chunk, pa.int32(), "i"),
        blob(data, pa.large_binary(), "q"),
    ]


def _path(objects: ObjectStore, version: TableVersion) -> Path:
    if len(version.parts) != 1:
        raise CorruptObject(f"a raw file container has {len(version.parts)} parts, not 1")
    return objects.path(version.parts[0])
