"""Feature definitions: ttl parsing, references, and the one-line errors for bad ones."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sqlops import SqlopsError
from sqlops.features import (
    Entity,
    FeatureDefinitionError,
    FeatureRegistry,
    FeatureView,
    UnknownFeatureError,
    parse_ttl,
)

DRIVER = Entity("driver", ("driver_id",))


def view(name: str = "driver_hourly_stats", **kwargs: object) -> FeatureView:
    args: dict[str, object] = {
        "source": "raw.driver_stats",
        "entities": ("driver",),
        "timestamp": "event_timestamp",
        "features": ("conv_rate", "acc_rate"),
    }
    args.update(kwargs)
    return FeatureView(name, **args)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("15m", 900),
        ("1h", 3600),
        ("1d", 86400),
        ("2w", 1209600),
        ("1d12h", 129600),
        (" 1h 30m ", 5400),
        (3600, 3600),
    ],
)
def test_ttl_units(text: object, seconds: int) -> None:
    assert parse_ttl(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("zero", [0, "0", "0s", "0d", None, timedelta(0)])
def test_zero_ttl_means_no_ttl(zero: object) -> None:
    assert parse_ttl(zero) is None


@pytest.mark.parametrize("bad", ["1 day", "1y", "h", "", "-1h", "1.5h", True, 1.5])
def test_bad_ttl_names_view_and_value(bad: object) -> None:
    with pytest.raises(FeatureDefinitionError) as exc:
        view(ttl=bad)
    message = str(exc.value)
    assert message.startswith("feature view driver_hourly_stats: ttl ")
    assert repr(bad) in message
    assert "\n" not in message
    assert isinstance(exc.value, SqlopsError)


def test_references_resolve_in_request_order_and_star_expands() -> None:
    reg = FeatureRegistry.of([DRIVER], [view(), view("trips", features=("trips",))])
    selections = reg.select(
        ["trips:trips", "driver_hourly_stats:*", "driver_hourly_stats:acc_rate"]
    )
    assert [(s.name, s.join_keys, s.outputs) for s in selections] == [
        ("trips", ("driver_id",), (("trips", "trips"),)),
        (
            "driver_hourly_stats",
            ("driver_id",),
            (("conv_rate", "conv_rate"), ("acc_rate", "acc_rate")),
        ),
    ]
    assert selections[0].relation == "raw.driver_stats"
    assert reg.select(["trips:trips"], relations={"trips": "v1.trips"})[0].relation == "v1.trips"


@pytest.mark.parametrize(
    ("ref", "text"),
    [
        (
            "driver_hourly_stat:conv_rate",
            "unknown feature view driver_hourly_stat; did you mean driver_hourly_stats?",
        ),
        (
            "driver_hourly_stats:conv_rat",
            "feature view driver_hourly_stats has no feature conv_rat; did you mean conv_rate?",
        ),
        ("driver_hourly_stats", "is not view:feature"),
        ("a:b:c", "is not view:feature"),
    ],
)
def test_bad_references_are_one_line(ref: str, text: str) -> None:
    reg = FeatureRegistry.of([DRIVER], [view()])
    with pytest.raises(UnknownFeatureError) as exc:
        reg.select([ref])
    assert text in str(exc.value)
    assert "\n" not in str(exc.value)


def test_same_feature_name_in_two_views_needs_full_names() -> None:
    reg = FeatureRegistry.of([DRIVER], [view("a"), view("b")])
    with pytest.raises(
        UnknownFeatureError, match="comes from both a and b; pass full_feature_names=True"
    ):
        reg.select(["a:conv_rate", "b:conv_rate"])
    outputs = [
        s.outputs for s in reg.select(["a:conv_rate", "b:conv_rate"], full_feature_names=True)
    ]
    assert outputs == [(("conv_rate", "a__conv_rate"),), (("conv_rate", "b__conv_rate"),)]


def test_composite_and_multiple_entities_give_ordered_unique_keys() -> None:
    pair = Entity("trip", ("driver_id", "rider_id"))
    reg = FeatureRegistry.of([DRIVER, pair], [view(entities=("driver", "trip"))])
    assert reg.join_keys(reg.view("driver_hourly_stats")) == ("driver_id", "rider_id")


def test_view_with_unknown_entity_is_refused() -> None:
    with pytest.raises(
        FeatureDefinitionError, match=r"names unknown entity drivr; did you mean driver\?"
    ):
        FeatureRegistry.of([DRIVER], [view(entities=("drivr",))])


def test_duplicate_feature_in_one_view_and_keyless_entity_are_refused() -> None:
    with pytest.raises(FeatureDefinitionError, match="lists feature conv_rate twice"):
        view(features=("conv_rate", "conv_rate"))
    with pytest.raises(FeatureDefinitionError, match="has no join_keys"):
        Entity("driver", ())
