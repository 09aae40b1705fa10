"""Python models: a decorated function that turns upstream LazyFrames into a frame."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

ATTRIBUTE = "__sqlops_model__"


@dataclass(frozen=True)
class PythonModelSpec:
    """What the decorator records; the loader turns it into a Model."""

    name: str | None
    inputs: tuple[str, ...]
    materialized: str
    unique_key: tuple[str, ...]
    tags: tuple[str, ...]
    owner: str
    description: str
    contract: str
    contract_severity: str = "error"


def model(
    name: str | None = None,
    *,
    inputs: Sequence[str] = (),
    materialized: str = "table",
    unique_key: Sequence[str] | str = (),
    tags: Sequence[str] = (),
    owner: str = "",
    description: str = "",
    contract: str = "",
    contract_severity: str = "error",
) -> Callable[[F], F]:
    """Declare a Python model in a ``sql/**/*.py`` file.

    The function receives one Polars LazyFrame per name in ``inputs``, in order, and
    returns a Polars DataFrame or LazyFrame (pandas and Arrow are accepted too). The
    model name defaults to ``<folder>.<function name>``.

    Example::

        @sqlops.model(inputs=["stg.houses"])
        def price_per_m2(houses: pl.LazyFrame) -> pl.LazyFrame:
            return houses.with_columns(pl.col("price") / pl.col("area_m2"))
    """
    keys = (unique_key,) if isinstance(unique_key, str) else tuple(unique_key)

    def decorate(func: F) -> F:
        setattr(
            func,
            ATTRIBUTE,
            PythonModelSpec(
                name=name,
                inputs=tuple(i.lower() for i in inputs),
                materialized=materialized,
                unique_key=keys,
                tags=tuple(tags),
                owner=owner,
                description=description or (func.__doc__ or "").strip().split("\n")[0],
                contract=contract,
                contract_severity=contract_severity,
            ),
        )
        return func

    return decorate
