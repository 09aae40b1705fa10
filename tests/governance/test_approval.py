"""What approval events mean (``governance/approval.py``), against oracles written here: hand
-written expected states for short sequences, a pointer-based reference simulation compared
with the fold over random event sequences, Python's own comparison operators for metric
rules, and each production requirement refused on its own and all together."""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sqlops.errors import ApprovalError
from sqlops.governance.approval import (
    ApprovalState,
    ModelEvent,
    approval_state,
    check_target,
    model_card,
    parse_metric_rule,
    render_card_markdown,
    requirements,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
APPROVERS = ["ana", "bruno", "carla"]


def events(*specs: tuple[Any, ...]) -> list[ModelEvent]:
    """``(model, version, kind, by[, to_stage])`` tuples as events a second apart."""
    out = []
    for i, spec in enumerate(specs):
        model, version, kind, by, *to = spec
        out.append(
            ModelEvent(model, version, kind, by, f"r{i}", T0 + timedelta(seconds=i), *to, id=str(i))
        )
    return out


@dataclass(frozen=True)
class Record:
    """A version record as ``requirements`` and ``model_card`` read it."""

    name: str = "churn"
    version: int = 1
    features: list[str] = field(default_factory=lambda: ["v:a", "v:email"])
    training_set: str | None = "drivers"
    data_version: str | None = "c0ffee" * 6
    metrics: dict[str, Any] = field(default_factory=lambda: {"accuracy": 0.9, "auc": 0.8})
    owner: str = "ana"
    saved_at: str = "2026-01-01T00:00:00+00:00"
    artifact: str = "ab" * 20


# -- the fold: hand-written expectations -------------------------------------------------


def test_a_version_without_events_is_a_candidate() -> None:
    state = approval_state([])
    assert state.stage("churn", 1) == "candidate"
    assert state.approvers("churn", 1) == [] and state.history == {}


def test_promoting_to_production_archives_the_previous_one_and_records_it() -> None:
    state = approval_state(
        events(
            ("churn", 1, "promote", "ana", "staging"),
            ("churn", 1, "promote", "ana", "production"),
            ("churn", 2, "promote", "bruno", "production"),
            ("fraud", 1, "promote", "ana", "production"),  # another model: untouched
        )
    )
    assert [state.stage("churn", v) for v in (1, 2, 3)] == ["archived", "production", "candidate"]
    assert state.holder("churn", "production") == 2 and state.holder("churn", "staging") is None
    assert state.stage("fraud", 1) == "production"
    moves = [(h.version, h.from_stage, h.to_stage, h.by, h.implied) for h in state.history["churn"]]
    assert moves == [
        (1, "candidate", "staging", "ana", False),
        (1, "staging", "production", "ana", False),
        (2, "candidate", "production", "bruno", False),
        (1, "production", "archived", "bruno", True),  # the displaced version, derived
    ]
    assert state.history["churn"][-1].reason == "replaced by version 2"


def test_staging_holds_one_version_too_and_archived_holds_many() -> None:
    state = approval_state(
        events(
            ("m", 1, "promote", "ana", "staging"),
            ("m", 2, "promote", "ana", "staging"),
            ("m", 3, "promote", "ana", "archived"),
            ("m", 1, "promote", "ana", "production"),  # back from archived: a rollback
        )
    )
    assert [state.stage("m", v) for v in (1, 2, 3)] == ["production", "staging", "archived"]


def test_same_approver_twice_counts_once_and_a_veto_lasts_until_they_approve() -> None:
    state = approval_state(
        events(
            ("m", 1, "approve", "ana"),
            ("m", 1, "approve", "ana"),
            ("m", 1, "reject", "carla"),
            ("m", 2, "approve", "bruno"),  # another version: counted there only
        )
    )
    assert state.approvers("m", 1) == ["ana"]
    assert [v.by for v in state.vetoes("m", 1)] == ["carla"]
    lifted = approval_state(
        [*events(("m", 1, "reject", "carla")), *later("m", 1, "approve", "carla")]
    )
    assert lifted.approvers("m", 1) == ["carla"] and lifted.vetoes("m", 1) == []
    # and an approver who changes their mind vetoes again
    again = approval_state(events(("m", 1, "approve", "ana"), ("m", 1, "reject", "ana")))
    assert again.approvers("m", 1) == [] and [v.by for v in again.vetoes("m", 1)] == ["ana"]


def later(model: str, version: int, kind: str, by: str) -> list[ModelEvent]:
    return [ModelEvent(model, version, kind, by, "", T0 + timedelta(days=1), id="later")]


def test_the_fold_orders_by_time_not_by_the_order_given() -> None:
    ordered = events(("m", 1, "promote", "a", "production"), ("m", 2, "promote", "a", "production"))
    assert approval_state(reversed(ordered)).stages == approval_state(ordered).stages


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "bless"}, "event kind 'bless'"),
        ({"kind": "promote"}, "needs to_stage"),
        ({"kind": "approve", "to_stage": "production"}, "has no to_stage"),
        ({"kind": "promote", "to_stage": "prod"}, "did you mean production"),
        ({"kind": "approve", "at": datetime(2026, 1, 1)}, "has no time zone"),
    ],
)
def test_a_malformed_event_is_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ApprovalError, match=message):
        ModelEvent(**{"model": "m", "version": 1, "by": "a", "reason": "", "at": T0, **kwargs})


@pytest.mark.parametrize(
    ("stage", "message"),
    [
        ("Production", "did you mean production"),
        ("stagin", "did you mean staging"),
        ("candidate", "cannot return to it"),
        ("live", "stages are staging, production, archived"),
    ],
)
def test_unknown_stage_is_refused_with_a_suggestion(stage: str, message: str) -> None:
    with pytest.raises(ApprovalError, match=message) as info:
        check_target(stage)
    assert "\n" not in str(info.value)


# -- the fold: a reference simulation over random sequences ------------------------------


def reference(sequence: list[ModelEvent]) -> tuple[dict[tuple[str, int], str], dict[Any, Any]]:
    """Stage pointers and verdicts computed the plain way: a pointer per (model, stage) for
    staging and production, an archived set, and each person's verdict found by scanning
    back from the end."""
    pointers: dict[tuple[str, str], int] = {}
    archived: set[tuple[str, int]] = set()
    for e in sequence:
        if e.kind != "promote":
            continue
        for key, held in list(pointers.items()):
            if key[0] == e.model and held == e.version:
                del pointers[key]
        archived.discard((e.model, e.version))
        if e.to_stage == "archived":
            archived.add((e.model, e.version))
            continue
        displaced = pointers.get((e.model, str(e.to_stage)))
        if displaced is not None:
            archived.add((e.model, displaced))
        pointers[(e.model, str(e.to_stage))] = e.version
    stages = {(m, v): s for (m, s), v in pointers.items()}
    stages.update({key: "archived" for key in archived})
    verdicts: dict[tuple[str, int], dict[str, str]] = {}
    for e in sequence:
        if e.kind == "promote":
            continue
        key = (e.model, e.version)
        last = next(
            x
            for x in reversed(sequence)
            if (x.model, x.version, x.by) == (*key, e.by) and x.kind != "promote"
        )
        verdicts.setdefault(key, {})[e.by] = last.kind
    return stages, verdicts


EVENT = st.tuples(
    st.sampled_from(["churn", "fraud"]),
    st.integers(1, 4),
    st.sampled_from(["approve", "reject", "promote"]),
    st.sampled_from(APPROVERS),
    st.sampled_from(["staging", "production", "archived"]),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(EVENT, max_size=30))
def test_the_fold_agrees_with_a_reference_simulation(specs: list[tuple[Any, ...]]) -> None:
    sequence = events(
        *((m, v, k, by, *([to] if k == "promote" else [])) for m, v, k, by, to in specs)
    )
    state = approval_state(sequence)
    stages, verdicts = reference(sequence)
    for model in ("churn", "fraud"):
        for version in range(1, 5):
            assert state.stage(model, version) == stages.get((model, version), "candidate")
            mine = verdicts.get((model, version), {})
            assert set(state.approvers(model, version)) == {
                p for p, k in mine.items() if k == "approve"
            }
            assert {v.by for v in state.vetoes(model, version)} == {
                p for p, k in mine.items() if k == "reject"
            }
        for stage in ("staging", "production"):  # one version per pointer stage
            assert sum(state.stage(model, v) == stage for v in range(1, 5)) <= 1
        # the history keeps every event of the model, in order, plus the derived moves
        history = state.history.get(model, ())
        own = [h for h in history if not h.implied]
        assert [(h.version, h.kind, h.by, h.reason) for h in own] == [
            (e.version, e.kind, e.by, e.reason) for e in sequence if e.model == model
        ]
        assert all(
            h.to_stage == "archived" and h.from_stage in ("staging", "production")
            for h in history
            if h.implied
        )


# -- metric rules ------------------------------------------------------------------------

OPS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt, "==": operator.eq}


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(sorted(OPS)),
    st.floats(-10, 10, allow_nan=False) | st.integers(-10, 10),
    st.floats(-10, 10, allow_nan=False) | st.integers(-10, 10),
)
def test_a_rule_holds_exactly_when_python_says_so(op: str, value: float, threshold: float) -> None:
    text = f"{op} {threshold!r}"
    rule = parse_metric_rule("accuracy", text)
    expected = OPS[op](value, float(repr(threshold)))
    assert (rule.unmet({"accuracy": value}) is None) == expected


@pytest.mark.parametrize("text", [">=0.8", "  >  0.7 ", "== 1", "<= -3.5e-2", "< 10"])
def test_well_formed_rules_parse(text: str) -> None:
    rule = parse_metric_rule("m", text)
    assert rule.op in OPS and math.isfinite(rule.threshold)


@pytest.mark.parametrize(
    "text", ["0.8", ">= ", "=> 0.8", "> nan", ">= inf", "~ 1", ">= 0.8 0.9", "> x", 0.8, None]
)
def test_malformed_rules_are_refused_naming_the_rule(text: Any) -> None:
    with pytest.raises(ApprovalError, match=r"metric rule accuracy = .* is not a rule") as info:
        parse_metric_rule("accuracy", text)
    assert repr(text) in str(info.value)


@pytest.mark.parametrize(
    ("metrics", "message"),
    [
        ({}, "metric accuracy is not recorded"),
        ({"accuracy": "nan"}, "metric accuracy is NaN"),
        ({"accuracy": math.nan}, "metric accuracy is NaN"),
        ({"accuracy": True}, "not a number"),
        ({"accuracy": "0.9"}, "not a number"),
        ({"accuracy": 0.79}, "metric accuracy is 0.79, the rule is accuracy >= 0.8"),
    ],
)
def test_missing_nan_or_low_metrics_are_unmet(metrics: dict[str, Any], message: str) -> None:
    assert message in str(parse_metric_rule("accuracy", ">= 0.8").unmet(metrics))


# -- requirements ------------------------------------------------------------------------


def unmet(record: Record, state: ApprovalState | None = None, **kwargs: Any) -> list[str]:
    """Requirements of a version that meets every one unless ``kwargs`` say otherwise."""
    approved = approval_state(
        events(("churn", 1, "approve", "ana"), ("churn", 1, "approve", "bruno"))
    )
    options: dict[str, Any] = {
        "approvers": APPROVERS,
        "min_approvers": 2,
        "metric_rules": {"accuracy": ">= 0.8", "auc": "> 0.7"},
        "contract_status": True,
        "pii_features": [],
        **kwargs,
    }
    return requirements(record, approved if state is None else state, **options)


def test_a_version_meeting_every_requirement_has_none_unmet() -> None:
    assert unmet(Record()) == []
    assert unmet(Record(), contract_status=lambda: True) == []


@pytest.mark.parametrize(
    ("record", "state", "kwargs", "expected"),
    [
        (Record(metrics={"accuracy": 0.5, "auc": 0.8}), None, {}, "metric accuracy is 0.5"),
        (Record(metrics={"accuracy": 0.9}), None, {}, "metric auc is not recorded"),
        (
            Record(),
            None,
            {"contract_status": False},
            "contracts of training set drivers at data version c0ffeec0ffee failed",
        ),
        (Record(), None, {"contract_status": None}, "were not checked"),
        (Record(), None, {"contract_status": lambda: None}, "were not checked"),
        (Record(training_set=None, data_version=None), None, {}, "no training set is recorded"),
        (
            Record(),
            None,
            {"pii_features": ["v:email"]},
            "feature v:email is tagged PII and not anonymized",
        ),
        (
            Record(),
            approval_state(events(("churn", 1, "approve", "ana"))),
            {},
            "1 of 2 required approvals (ana)",
        ),
        (
            Record(),
            approval_state(events(("churn", 1, "approve", "ana"), ("churn", 1, "approve", "ana"))),
            {},
            "1 of 2 required approvals (ana)",  # the same approver twice counts once
        ),
        (
            Record(),
            approval_state(
                events(
                    ("churn", 1, "approve", "ana"),
                    ("churn", 1, "approve", "bruno"),
                    ("churn", 1, "reject", "carla"),
                )
            ),
            {},
            "rejected by carla (r2); the veto stands until carla approves this version",
        ),
        (
            Record(),
            approval_state(events(("churn", 1, "approve", "ana"), ("churn", 1, "approve", "zoe"))),
            {},
            "1 of 2 required approvals (ana)",  # zoe is no (longer an) approver
        ),
    ],
)
def test_each_requirement_alone_is_one_unmet_line(
    record: Record, state: ApprovalState | None, kwargs: dict[str, Any], expected: str
) -> None:
    got = unmet(record, state, **kwargs)
    assert len(got) == 1 and expected in got[0], got
    assert "\n" not in got[0]


def test_every_unmet_requirement_is_listed_at_once() -> None:
    state = approval_state(events(("churn", 1, "approve", "ana"), ("churn", 1, "reject", "carla")))
    record = Record(metrics={"accuracy": math.nan}, training_set=None, data_version=None)
    got = unmet(record, state, pii_features=["v:email"])
    assert [line.split(" ")[:3] for line in got] == [
        ["metric", "accuracy", "is"],
        ["metric", "auc", "is"],
        ["no", "training", "set"],
        ["feature", "v:email", "is"],
        ["rejected", "by", "carla"],
        ["1", "of", "2"],
    ]


def test_the_contract_callable_is_not_asked_without_a_data_version() -> None:
    def boom() -> bool:
        raise AssertionError("asked")

    assert (
        "no training set"
        in unmet(Record(training_set=None, data_version=None), contract_status=boom)[0]
    )


@pytest.mark.parametrize("count", [-1, True, 1.5])
def test_an_approval_count_that_is_not_a_count_is_an_error(count: Any) -> None:
    with pytest.raises(ApprovalError, match="is not a count"):
        unmet(Record(), min_approvers=count)


@pytest.mark.parametrize(("approvers", "listed"), [(APPROVERS, 3), ([], 0)])
def test_too_few_approvers_listed_is_an_unmet_line_saying_so(
    approvers: list[str], listed: int
) -> None:
    got = unmet(Record(), approvers=approvers, min_approvers=4)
    assert got[-1].endswith(f"[approval] approvers lists {listed}, so list who may approve")


def test_a_bad_rule_is_an_error_not_an_unmet_line() -> None:
    with pytest.raises(ApprovalError, match=r"metric rule auc = '>> 0\.7'"):
        unmet(Record(), metric_rules={"auc": ">> 0.7"})


# -- the model card ----------------------------------------------------------------------


def test_the_card_holds_owner_use_metrics_data_features_approvals_and_history() -> None:
    state = approval_state(
        events(
            ("churn", 1, "approve", "ana"),
            ("churn", 1, "reject", "carla"),
            ("churn", 1, "approve", "carla"),
            ("churn", 1, "promote", "ana", "staging"),
            ("churn", 2, "promote", "ana", "staging"),
        )
    )
    card = model_card(
        Record(),
        state,
        intended_use="churn | retention",
        contract_status=True,
        pii_features=["v:email"],
        unmet=["x"],
    )
    assert card["model"] == "churn" and card["version"] == 1 and card["stage"] == "archived"
    assert (card["owner"], card["intended_use"]) == ("ana", "churn | retention")
    assert card["metrics"] == {"accuracy": 0.9, "auc": 0.8}
    assert card["training_data"] == {
        "training_set": "drivers",
        "data_version": "c0ffee" * 6,
        "contracts": "passed",
    }
    assert card["features"] == [{"name": "v:a", "pii": False}, {"name": "v:email", "pii": True}]
    assert [(a["by"], a["verdict"]) for a in card["approvals"]] == [
        ("ana", "approve"),
        ("carla", "approve"),
    ]
    assert [
        (h["from_stage"], h["to_stage"], h["implied"])
        for h in card["history"]
        if h["kind"] == "promote"
    ] == [
        ("candidate", "staging", False),
        ("staging", "archived", True),
    ]
    assert card["production_ready"] is False and card["unmet"] == ["x"]
    text = render_card_markdown(card)
    for heading in (
        "# Model card: churn version 1",
        "## Metrics",
        "## Training data",
        "## Features",
        "## Approvals",
        "## Stage history",
        "## Production readiness",
    ):
        assert f"\n{heading}\n" in f"\n{text}"
    assert "**Intended use:** churn | retention" in text
    assert "| v:email | yes |" in text and "| accuracy | 0.9 |" in text
    assert "| staging | archived | ana | replaced by version 2 |" in text


def test_an_empty_card_says_so() -> None:
    record = Record(features=[], metrics={}, training_set=None, data_version=None, owner="")
    card = model_card(record, approval_state([]))
    assert card["training_data"]["contracts"] == "no training set" and "unmet" not in card
    text = render_card_markdown(card)
    assert "**Owner:** none recorded" in text and "**Intended use:** not stated" in text
    assert text.count("\nnone\n") == 4  # metrics, features, approvals, history
