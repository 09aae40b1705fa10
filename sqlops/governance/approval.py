"""Model approval before production: what the approval records of a model mean.

A registered version is write-once, so its stage cannot be a field of it: approvals,
rejections and stage moves are append-only ``ModelEvent`` records, and ``approval_state``
folds them into the current picture. Stages follow MLflow's (``candidate`` is its "None",
the stage of a version just saved), with MLflow's aliases' rule that a model has one version
in ``staging`` and one in ``production`` at a time: promoting a version displaces the one
there to ``archived`` (MLflow's ``archive_existing_versions``), and the fold derives that
move instead of relying on a second record, so one promotion is one atomic write on every
store and two racing promotions still leave one production version (the later one).

An approver's latest verdict on a version is the one that counts: approving twice counts
once, and a ``reject`` is a veto until the same person approves again.

``requirements`` lists what stands between a version and production, each in one line;
``model_card`` and ``render_card_markdown`` describe a version for people. Pure logic: the
records come in as values and nothing here reads or writes.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlops.errors import ApprovalError, did_you_mean

CANDIDATE = "candidate"
STAGING = "staging"
PRODUCTION = "production"
ARCHIVED = "archived"
STAGES = (CANDIDATE, STAGING, PRODUCTION, ARCHIVED)
# where a version can be moved (a saved version starts as a candidate and never returns)
TARGETS = (STAGING, PRODUCTION, ARCHIVED)
# stages holding at most one version of a model: the one displaced is archived
POINTERS = (STAGING, PRODUCTION)
APPROVE, REJECT, PROMOTE = "approve", "reject", "promote"
KINDS = (APPROVE, REJECT, PROMOTE)
_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    "==": operator.eq,
    ">": operator.gt,
    "<": operator.lt,
}
_RULE = re.compile(r"\s*(>=|<=|==|>|<)\s*(\S+)\s*")

ContractStatus = bool | None | Callable[[], bool | None]


class VersionRecord(Protocol):
    """What approval needs of a registered version (``RegisteredModel`` is one)."""

    @property
    def name(self) -> str: ...
    @property
    def version(self) -> int: ...
    @property
    def features(self) -> list[str]: ...
    @property
    def training_set(self) -> str | None: ...
    @property
    def data_version(self) -> str | None: ...
    @property
    def metrics(self) -> dict[str, Any]: ...
    @property
    def owner(self) -> str: ...
    @property
    def saved_at(self) -> str: ...
    @property
    def artifact(self) -> str: ...


@dataclass(frozen=True)
class ModelEvent:
    """One append-only record: an approval, a rejection (veto) or a stage move."""

    model: str
    version: int
    kind: str
    by: str
    reason: str
    at: datetime
    to_stage: str | None = None
    id: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ApprovalError(f"event kind {self.kind!r} is not one of {', '.join(KINDS)}")
        if (self.kind == PROMOTE) != (self.to_stage is not None):
            raise ApprovalError(
                f"a {self.kind} event {'needs' if self.kind == PROMOTE else 'has no'} to_stage"
            )
        if self.to_stage is not None:
            check_target(self.to_stage)
        if self.at.tzinfo is None:  # events from many machines are ordered by their time
            raise ApprovalError(f"event time {self.at} has no time zone; pass an aware datetime")

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "model": self.model,
            "version": self.version,
            "kind": self.kind,
            "by": self.by,
            "reason": self.reason,
            "to_stage": self.to_stage,
            "at": self.at.isoformat(),
        }


@dataclass(frozen=True)
class HistoryEntry:
    """One line of a model's history: an event, or a move the fold derived from one
    (``implied``: a version displaced from its stage by another's promotion)."""

    version: int
    kind: str
    by: str
    reason: str
    at: datetime
    from_stage: str | None = None
    to_stage: str | None = None
    implied: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "kind": self.kind,
            "by": self.by,
            "reason": self.reason,
            "at": self.at.isoformat(),
            "from_stage": self.from_stage,
            "to_stage": self.to_stage,
            "implied": self.implied,
        }


@dataclass(frozen=True)
class ApprovalState:
    """The fold of a registry's events: each moved version's stage, each person's latest
    verdict per version (in the order given), and every model's history."""

    stages: Mapping[tuple[str, int], str] = field(default_factory=dict)
    verdicts: Mapping[tuple[str, int], Mapping[str, ModelEvent]] = field(default_factory=dict)
    history: Mapping[str, tuple[HistoryEntry, ...]] = field(default_factory=dict)

    def stage(self, model: str, version: int) -> str:
        return self.stages.get((model, version), CANDIDATE)

    def holder(self, model: str, stage: str) -> int | None:
        """The version of ``model`` in a one-version stage (staging, production), if any."""
        found = [v for (m, v), s in self.stages.items() if m == model and s == stage]
        return found[0] if found else None

    def approvers(self, model: str, version: int) -> list[str]:
        """Distinct people whose latest verdict on this version is an approval."""
        verdicts = self.verdicts.get((model, version), {})
        return [by for by, e in verdicts.items() if e.kind == APPROVE]

    def vetoes(self, model: str, version: int) -> list[ModelEvent]:
        """Rejections not yet lifted by a later approval of the same person."""
        verdicts = self.verdicts.get((model, version), {})
        return [e for e in verdicts.values() if e.kind == REJECT]

    def versions_history(self, model: str, version: int) -> list[HistoryEntry]:
        return [h for h in self.history.get(model, ()) if h.version == version]


def approval_state(records: Iterable[ModelEvent]) -> ApprovalState:
    """Fold events, oldest first (a stable sort by ``at``: ties keep the given order, which
    the stores make their append order).

    >>> from datetime import UTC
    >>> t = datetime(2026, 1, 1, tzinfo=UTC)
    >>> s = approval_state([ModelEvent("m", 1, "promote", "ana", "", t, "production"),
    ...                     ModelEvent("m", 2, "promote", "ana", "", t, "production")])
    >>> s.stage("m", 1), s.stage("m", 2), s.stage("m", 3)
    ('archived', 'production', 'candidate')
    """
    stages: dict[tuple[str, int], str] = {}
    verdicts: dict[tuple[str, int], dict[str, ModelEvent]] = {}
    history: dict[str, list[HistoryEntry]] = {}
    for event in sorted(records, key=lambda e: e.at):
        key = (event.model, event.version)
        log = history.setdefault(event.model, [])
        if event.kind != PROMOTE:
            person = verdicts.setdefault(key, {})
            person.pop(event.by, None)  # re-inserted: the order is of latest verdicts
            person[event.by] = event
            log.append(HistoryEntry(event.version, event.kind, event.by, event.reason, event.at))
            continue
        target = str(event.to_stage)
        before = stages.get(key, CANDIDATE)
        stages[key] = target
        log.append(_move(event, event.version, before, target, event.reason, implied=False))
        if target not in POINTERS:
            continue
        for other, stage in list(stages.items()):
            if other[0] == event.model and other != key and stage == target:
                stages[other] = ARCHIVED
                why = f"replaced by version {event.version}"
                log.append(_move(event, other[1], target, ARCHIVED, why, implied=True))
    return ApprovalState(
        stages=stages,
        verdicts=verdicts,
        history={model: tuple(entries) for model, entries in history.items()},
    )


def _move(
    event: ModelEvent, version: int, before: str, after: str, reason: str, *, implied: bool
) -> HistoryEntry:
    return HistoryEntry(version, PROMOTE, event.by, reason, event.at, before, after, implied)


def check_target(stage: str) -> str:
    """A stage a version may be moved to, or an ApprovalError with a suggestion."""
    if stage in TARGETS:
        return stage
    if stage == CANDIDATE:
        hint = "a saved version starts as a candidate and cannot return to it"
    else:
        text = str(stage).strip().lower()
        close = [t for t in TARGETS if text and t.startswith(text)]  # "prod", "Production"
        hint = (f"did you mean {close[0]}?" if len(close) == 1 else None) or (
            did_you_mean(text, TARGETS) or "stages are staging, production, archived"
        )
    raise ApprovalError(f"unknown stage {stage!r} to move a model to; {hint}")


# -- requirements ------------------------------------------------------------------------


@dataclass(frozen=True)
class MetricRule:
    """``accuracy >= 0.8``: a threshold a recorded metric must meet."""

    metric: str
    op: str
    threshold: float

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.threshold:g}"

    def unmet(self, metrics: Mapping[str, Any]) -> str | None:
        """Why ``metrics`` fail this rule (missing, NaN, not a number, too low), or None."""
        if self.metric not in metrics:
            return f"metric {self.metric} is not recorded (the rule is {self})"
        value = metrics[self.metric]
        if isinstance(value, str) and value.strip().lower() == "nan":
            value = math.nan
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"metric {self.metric} is {value!r}, not a number (the rule is {self})"
        if math.isnan(value):
            return f"metric {self.metric} is NaN (the rule is {self})"
        if not _OPERATORS[self.op](value, self.threshold):
            return f"metric {self.metric} is {value:g}, the rule is {self}"
        return None


def parse_metric_rule(metric: str, rule: Any) -> MetricRule:
    """``("accuracy", ">= 0.8")`` as a rule; anything else is an ApprovalError naming it.

    >>> str(parse_metric_rule("auc", "> 0.7"))
    'auc > 0.7'
    """
    match = _RULE.fullmatch(rule) if isinstance(rule, str) else None
    threshold = _finite(match.group(2)) if match else None
    if match is None or threshold is None:
        raise ApprovalError(
            f"metric rule {metric} = {rule!r} is not a rule; write an operator "
            '(>=, >, <=, <, ==) and a finite number, e.g. ">= 0.8"'
        )
    return MetricRule(str(metric), match.group(1), threshold)


def parse_metric_rules(rules: Mapping[str, Any]) -> list[MetricRule]:
    return [parse_metric_rule(metric, rule) for metric, rule in rules.items()]


def _finite(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def check_approvers(min_approvers: int) -> None:
    """The approval count itself must be a count (an unreachable one is an unmet line)."""
    if isinstance(min_approvers, bool) or not isinstance(min_approvers, int) or min_approvers < 0:
        raise ApprovalError(
            f"min_approvers = {min_approvers!r} is not a count; set [approval] min_approvers "
            "to a whole number >= 0"
        )


def requirements(
    version_record: VersionRecord,
    state: ApprovalState,
    *,
    approvers: Sequence[str],
    min_approvers: int,
    metric_rules: Mapping[str, Any],
    contract_status: ContractStatus,
    pii_features: Sequence[str] = (),
) -> list[str]:
    """Every requirement for production this version does not meet, one line each (empty:
    it may be promoted). Only people listed in ``approvers`` count, for approvals and
    vetoes alike. ``contract_status`` says whether the training set's contracts passed at
    its recorded data version (True, False, None: not checked), or is a function that
    tells; it is asked only when a data version is recorded."""
    rules = parse_metric_rules(metric_rules)
    check_approvers(min_approvers)
    record = version_record
    unmet = [problem for rule in rules if (problem := rule.unmet(record.metrics))]
    unmet += _contract_unmet(record, contract_status)
    unmet += [
        f"feature {f} is tagged PII and not anonymized; anonymize its column or train without it"
        for f in pii_features
    ]
    listed = set(approvers)
    for veto in state.vetoes(record.name, record.version):
        if veto.by in listed:
            unmet.append(
                f"rejected by {veto.by} ({veto.reason or 'no reason given'}); the veto "
                f"stands until {veto.by} approves this version"
            )
    approved = [p for p in state.approvers(record.name, record.version) if p in listed]
    if len(approved) < min_approvers:
        fix = (
            "ask another approver to approve"
            if len(listed) >= min_approvers
            else f"[approval] approvers lists {len(listed)}, so list who may approve"
        )
        unmet.append(
            f"{len(approved)} of {min_approvers} required approvals"
            f" ({', '.join(approved) or 'none yet'}); {fix}"
        )
    return unmet


def _contract_unmet(record: VersionRecord, status: ContractStatus) -> list[str]:
    if record.data_version is None:
        return [
            "no training set is recorded, so its contracts cannot be checked; save the model "
            "with training_set="
        ]
    where = f"training set {record.training_set} at data version {record.data_version[:12]}"
    passed = status() if callable(status) else status
    if passed is None:
        return [f"the contracts of {where} were not checked; run sqlops check at that version"]
    if not passed:
        return [f"the contracts of {where} failed; fix the data or the contract and retrain"]
    return []


def _contract_word(record: VersionRecord, status: ContractStatus) -> str:
    if record.data_version is None:
        return "no training set"
    passed = status() if callable(status) else status
    return "not checked" if passed is None else "passed" if passed else "failed"


# -- the model card ----------------------------------------------------------------------


def model_card(
    version_record: VersionRecord,
    state: ApprovalState,
    *,
    intended_use: str | None = None,
    contract_status: ContractStatus = None,
    pii_features: Sequence[str] = (),
    unmet: Sequence[str] | None = None,
) -> dict[str, Any]:
    """A version's model card as JSON values: intended use and owner, metrics, training
    data and its contracts, features, approvals and stage history (and, when given, what
    stands between it and production)."""
    record = version_record
    pii = set(pii_features)
    verdicts = state.verdicts.get((record.name, record.version), {})
    card: dict[str, Any] = {
        "model": record.name,
        "version": record.version,
        "stage": state.stage(record.name, record.version),
        "owner": record.owner,
        "intended_use": intended_use,
        "saved_at": record.saved_at,
        "artifact": record.artifact,
        "metrics": dict(record.metrics),
        "training_data": {
            "training_set": record.training_set,
            "data_version": record.data_version,
            "contracts": _contract_word(record, contract_status),
        },
        "features": [{"name": f, "pii": f in pii} for f in record.features],
        "approvals": [
            {"by": e.by, "verdict": e.kind, "reason": e.reason, "at": e.at.isoformat()}
            for e in verdicts.values()
        ],
        "history": [h.to_dict() for h in state.versions_history(record.name, record.version)],
    }
    if unmet is not None:
        card["production_ready"] = not unmet
        card["unmet"] = list(unmet)
    return card


def render_card_markdown(card: Mapping[str, Any]) -> str:
    """The card as Markdown (one page, sections in the card's order)."""
    data = card["training_data"]
    lines = [
        f"# Model card: {card['model']} version {card['version']}",
        "",
        f"- **Stage:** {card['stage']}",
        f"- **Owner:** {card['owner'] or 'none recorded'}",
        f"- **Intended use:** {card['intended_use'] or 'not stated'}",
        f"- **Saved:** {card['saved_at']}",
        f"- **Artifact:** `{card['artifact']}`",
        "",
        "## Metrics",
        "",
        *_table(["metric", "value"], [[k, v] for k, v in sorted(card["metrics"].items())]),
        "## Training data",
        "",
        f"- **Training set:** {data['training_set'] or 'none recorded'}",
        f"- **Data version:** {data['data_version'] or 'none recorded'}",
        f"- **Contracts:** {data['contracts']}",
        "",
        "## Features",
        "",
        *_table(
            ["feature", "PII"], [[f["name"], "yes" if f["pii"] else ""] for f in card["features"]]
        ),
        "## Approvals",
        "",
        *_table(
            ["by", "verdict", "reason", "at"],
            [[a["by"], a["verdict"], a["reason"], a["at"]] for a in card["approvals"]],
        ),
        "## Stage history",
        "",
        *_table(
            ["at", "from", "to", "by", "reason"],
            [
                [h["at"], h["from_stage"], h["to_stage"], h["by"], h["reason"]]
                for h in card["history"]
                if h["kind"] == PROMOTE
            ],
        ),
    ]
    if "unmet" in card:
        lines += ["## Production readiness", ""]
        lines += [f"- {u}" for u in card["unmet"]] or ["- every requirement holds"]
        lines.append("")
    return "\n".join(lines)


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    """A Markdown table (``|`` and newlines in cells escaped), or a line saying it is empty."""
    if not rows:
        return ["none", ""]

    def cell(value: Any) -> str:
        text = "" if value is None else str(value)
        return text.replace("|", "\\|").replace("\n", " ")

    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return [*out, ""]
