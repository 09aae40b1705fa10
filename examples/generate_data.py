"""Deterministic, synthetic house-sales data set for the sqlops examples and benchmarks.

The seed document's running example is "predict the price of a house from its size, location
and age", so this generates a São Paulo-like house-sales table with 8 numeric columns:

    house_id            Int64    1..n, never missing (the key)
    area_m2             Float64  living area, 1 decimal; log-normal around ~65 m², grows
                                 slightly with distance from the centre
    bedrooms            Int64    1..6, driven by area
    age_years           Int64    0..~90, older buildings near the centre
    distance_center_km  Float64  2 decimals, gamma-distributed (mean ~9 km)
    lat, lon            Float64  5 decimals, derived from distance + a random bearing around
                                 Praça da Sé (-23.55052, -46.63331)
    price               Int64    BRL, rounded to 1,000; depends on area (+), age (-),
                                 distance (-, exponential decay of the price per m²) and
                                 bedrooms, with log-normal noise

Outliers (a few per thousand rows): area typed x10, luxury/mis-keyed prices (x4..10 or /10),
very old listed buildings (100..150 years).

Missing values: every non-id cell is independently missing with probability 2 % (empty CSV
field). So ~6 % of rows have a gap in any given 3 columns.

Determinism: rows are drawn in fixed chunks of 65,536, each from its own numpy
``PCG64(SeedSequence([seed, chunk_index]))`` stream with a fixed draw order, and written with
polars' CSV writer. The same (n_rows, seed) gives byte-identical output across runs, and row i
never depends on n_rows, so a small file is exactly the head of a big one (examples/data/
houses.csv == first 20,000 rows of the 10M benchmark file). numpy does not promise identical
streams across numpy *versions*: pin numpy (uv.lock does) to reproduce a file exactly.
Values are rounded before writing, so reading the CSV back gives exactly the generated values.
Chunks are generated on 2 threads while the previous ones are written; 10M rows (~490 MB)
take ~8-9 s wall / ~10 s CPU on the shared 2-core dev box (CPU-bound: ~4 s of numpy draws,
~3 s of polars CSV float formatting, ~1 s imports), ~0.2 GB peak RSS.

Reading it with numpy: ``np.loadtxt`` rejects empty fields, so the numpy seed example uses
``np.loadtxt(..., converters=lambda s: float(s or "nan"))`` (one extra argument);
``np.genfromtxt(path, delimiter=",", skip_header=1)`` also works (empty -> nan by default)
but is ~1.3-2x slower (pure-Python parsing).

Usage:
    python examples/generate_data.py OUT.csv --rows N [--seed 42]
    python examples/generate_data.py            # regenerates examples/data/houses.csv (20,000 rows)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

COLUMNS = (
    "house_id",
    "area_m2",
    "bedrooms",
    "age_years",
    "distance_center_km",
    "lat",
    "lon",
    "price",
)
INT_COLUMNS = frozenset({"house_id", "bedrooms", "age_years", "price"})
MISSING_RATE = 0.02
DEFAULT_ROWS = 20_000
CHUNK_ROWS = 1 << 16  # part of the format: changing it changes the generated values
DEFAULT_SEED = 42
DEFAULT_PATH = Path(__file__).resolve().parent / "data" / "houses.csv"

_CENTER_LAT, _CENTER_LON = -23.55052, -46.63331  # Praça da Sé, São Paulo
_KM_PER_DEG_LAT = 110.574
_KM_PER_DEG_LON = 111.320 * np.cos(np.radians(_CENTER_LAT))


def _chunk_bounds(n_rows: int) -> list[tuple[int, int, int]]:
    """(chunk_index, first_row, n) for each fixed-size chunk of the table."""
    if n_rows < 0:
        raise ValueError("n_rows must be >= 0")
    return [
        (i, start, min(CHUNK_ROWS, n_rows - start))
        for i, start in enumerate(range(0, n_rows, CHUNK_ROWS))
    ] or [(0, 0, 0)]


def _generate_chunk(
    seed: int, chunk: int, first_row: int, n: int
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Return (values, null_masks) for one chunk; the draw order is part of the format.

    Each chunk has its own PCG64 stream keyed by (seed, chunk index), so chunks can be
    generated in any order / in parallel and the output stays identical.
    """
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, chunk])))

    # location
    dist = np.clip(rng.gamma(2.0, 4.5, n), 0.2, 60.0)
    bearing = rng.uniform(0.0, 2.0 * np.pi, n)
    lat = _CENTER_LAT + dist * np.sin(bearing) / _KM_PER_DEG_LAT
    lon = _CENTER_LON + dist * np.cos(bearing) / _KM_PER_DEG_LON

    # size: bigger homes further out
    area = np.exp(np.log(55.0) + 0.015 * dist + 0.45 * rng.standard_normal(n))
    area = np.clip(area, 18.0, 1200.0)
    bedrooms = np.clip(np.rint(area / 28.0 + 0.6 * rng.standard_normal(n)), 1, 6)

    # age: older stock near the centre
    age = rng.gamma(2.0, 9.0 * (1.0 + 0.8 * np.exp(-dist / 5.0)), n)
    age = np.clip(np.rint(age), 0, 90)

    # price: price per m² decays with distance, drops with age, noise is multiplicative
    ppm2 = 2500.0 + 11000.0 * np.exp(-dist / 12.0)
    factor = (1.0 - 0.005 * np.minimum(age, 60.0)) * (1.0 + 0.03 * (bedrooms - 2.0))
    price = area * ppm2 * factor * np.exp(0.2 * rng.standard_normal(n))

    # a few outliers (decided on the clean values, so they stay consistent)
    u = rng.random(n)
    area_typo = u < 0.001  # area keyed x10
    lux = (u >= 0.001) & (u < 0.003)  # luxury / mis-keyed price x4..10
    cents = (u >= 0.003) & (u < 0.004)  # price keyed /10
    listed = (u >= 0.004) & (u < 0.0045)  # historic buildings
    mult = rng.uniform(4.0, 10.0, n)
    old = rng.integers(100, 151, n)
    area = np.where(area_typo, area * 10.0, area)
    price = np.where(lux, price * mult, price)
    price = np.where(cents, price / 10.0, price)
    age = np.where(listed, old, age)

    values = {
        "house_id": np.arange(first_row + 1, first_row + n + 1, dtype=np.int64),
        "area_m2": np.round(area, 1),
        "bedrooms": bedrooms.astype(np.int64),
        "age_years": age.astype(np.int64),
        "distance_center_km": np.round(dist, 2),
        "lat": np.round(lat, 5),
        "lon": np.round(lon, 5),
        "price": (np.rint(price / 1000.0) * 1000.0).astype(np.int64),
    }
    missing = rng.random((len(COLUMNS) - 1, n), dtype=np.float32) < MISSING_RATE
    masks = {name: missing[i] for i, name in enumerate(COLUMNS[1:])}
    return values, masks


def _chunk_table(seed: int, chunk: int, first_row: int, n: int):  # -> pyarrow.Table
    import pyarrow as pa

    # always draw a full chunk and cut it: row i is the same whatever n_rows is, so a small
    # file is exactly the first rows of a big one (houses.csv == head of the 10M bench file)
    values, masks = _generate_chunk(seed, chunk, first_row, CHUNK_ROWS)
    arrays = [
        pa.array(values[c][:n], mask=None if c not in masks else masks[c][:n]) for c in COLUMNS
    ]
    return pa.Table.from_arrays(arrays, names=list(COLUMNS))


def _iter_chunks(n_rows: int, seed: int):  # -> Iterator[pyarrow.Table], in order
    """Generate the chunks on a 2-thread pool (numpy releases the GIL), yielding in order."""
    from concurrent.futures import ThreadPoolExecutor

    bounds = _chunk_bounds(n_rows)
    if len(bounds) == 1:
        yield _chunk_table(seed, *bounds[0])
        return
    with ThreadPoolExecutor(max_workers=2) as pool:
        pending = []
        for b in bounds:
            pending.append(pool.submit(_chunk_table, seed, *b))
            if len(pending) > 2:  # bound memory: at most ~3 chunks in flight
                yield pending.pop(0).result()
        for fut in pending:
            yield fut.result()


def generate_houses_arrow(n_rows: int, seed: int = DEFAULT_SEED):  # -> pyarrow.Table
    """The houses table as a ``pyarrow.Table`` (nulls for missing values)."""
    import pyarrow as pa

    return pa.concat_tables(list(_iter_chunks(n_rows, seed)))


def generate_houses(n_rows: int, seed: int = DEFAULT_SEED):  # -> polars.DataFrame
    """The houses table as a ``polars.DataFrame`` (nulls for missing values).

    Same (n_rows, seed) -> same frame; reading ``write_houses_csv``'s output back gives
    the same values (integers as Int64, the rest as Float64).
    """
    import polars as pl

    return pl.from_arrow(generate_houses_arrow(n_rows, seed))


def write_houses_csv(path: str | Path, n_rows: int, seed: int = DEFAULT_SEED) -> Path:
    """Write the houses table as CSV (header, ``,``, empty field = missing, ``\\n`` endings).

    Streams chunk by chunk (memory stays ~constant); 10M rows take a few seconds.
    """
    import polars as pl

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        for i, table in enumerate(_iter_chunks(n_rows, seed)):
            pl.from_arrow(table).write_csv(f, include_header=(i == 0), null_value="")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default=str(DEFAULT_PATH), help="output CSV path")
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args(argv)
    out = write_houses_csv(args.out, args.rows, args.seed)
    print(f"wrote {args.rows:,} rows to {out} ({out.stat().st_size:,} bytes)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
