"""Policy section of the operational gate: latency, size, memory and load-time rules.

Thresholds are data with a direction: absolute rules (``{metric: p95_ms, max: 50}``) on the
candidate as the model server serves it, and relative rules against the champion
(``{metric: p95_ms, max_ratio: 1.2}``). How much is measured (warm-up, rounds, requests per
round, batch size) is part of the policy too, so a team trades measurement time for a tighter
interval in one place.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from quality_gates.shared.policy.base import (
    JudgedSection,
    JudgeOn,
    MinMaxBound,
    OnInconclusive,
    Severity,
    StrictModel,
)

#: Latencies (client-side wall clock per request, milliseconds): single-row requests
#: (``p50_ms``...) and batch requests (``batch_p50_ms``...), over every measured round.
LATENCY_METRICS = (
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "batch_p50_ms",
    "batch_p95_ms",
    "batch_p99_ms",
)
#: Measured once per model: artifact size on disk, peak RSS of its server process, the time the
#: server took to load it, and rows per second of the batch requests.
SINGLE_METRICS = ("size_mb", "memory_mb", "load_s", "throughput_rps")
OperationalMetric = Literal[
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "batch_p50_ms",
    "batch_p95_ms",
    "batch_p99_ms",
    "size_mb",
    "memory_mb",
    "load_s",
    "throughput_rps",
]
#: Metrics where a larger value is better (the others: smaller is better).
HIGHER_IS_BETTER = frozenset({"throughput_rps"})


class OperationalRule(MinMaxBound, StrictModel):
    """An absolute bound on one measured number of the candidate: ``min`` or ``max``.

    Latency rules are judged on the interval over rounds (``judge_on: interval``, three
    outcomes); size, memory, load time and throughput are measured once and judged on the value.

    Attributes:
        metric: What is bounded (see :data:`LATENCY_METRICS` and :data:`SINGLE_METRICS`).
        min: At least this (e.g. ``throughput_rps``).
        max: At most this (e.g. ``p95_ms``, ``size_mb``).
        judge_on: ``interval`` (latencies only; default for them) or ``estimate``.
        on_inconclusive: Overrides the section's ``on_inconclusive``.
        severity: ``block`` or ``warn``.
        rationale: Why, for the report.
    """

    metric: OperationalMetric
    min: float | None = Field(default=None, ge=0)
    max: float | None = Field(default=None, ge=0)
    judge_on: JudgeOn = "interval"
    on_inconclusive: OnInconclusive | None = None
    severity: Severity = "block"
    rationale: str | None = None

    @model_validator(mode="after")
    def _one_bound(self) -> OperationalRule:
        if (self.min is None) == (self.max is None):
            raise ValueError(f"rule on '{self.metric}' needs exactly one of 'min' or 'max'")
        return self


class RelativeRule(StrictModel):
    """The candidate's number relative to the champion's, measured interleaved in one run.

    Latency ratios get an interval from a block bootstrap over rounds of request pairs (a
    pair is sent back to back), throughput from the per-round ratios; the rule is shown to
    pass when the interval lies at or below ``max_ratio``, shown to fail above it and
    inconclusive across it. For ``throughput_rps`` the ratio is champion / candidate, so
    ``max_ratio: 1.2`` always means "at most 20% worse".

    Attributes:
        metric: A latency metric, ``throughput_rps``, ``size_mb``, ``memory_mb`` or
            ``load_s`` (the last three measured once: judged on the ratio of the values).
        max_ratio: The largest acceptable ratio (>= 1; 1.2 = at most 20% worse).
        on_inconclusive: Overrides the section's ``on_inconclusive``.
        severity: ``block`` or ``warn``.
        rationale: Why, for the report.
    """

    metric: OperationalMetric
    max_ratio: float = Field(ge=1.0)
    on_inconclusive: OnInconclusive | None = None
    severity: Severity = "block"
    rationale: str | None = None


class OperationalChampion(StrictModel):
    """Which model the candidate is compared with, and the relative rules.

    Attributes:
        alias: Registry alias holding the champion.
        model_name: Registered model of the alias (default: the pipeline's).
        rules: Relative rules; at least one.
        if_missing: No version holds the alias yet (the first model of a name): ``skip`` (the
            relative rules are recorded as skipped), ``warn`` or ``block``.
    """

    alias: str = "production"
    model_name: str | None = None
    rules: list[RelativeRule] = Field(default_factory=list)
    if_missing: Literal["skip", "warn", "block"] = "skip"

    @model_validator(mode="after")
    def _has_rules(self) -> OperationalChampion:
        if not self.rules:
            raise ValueError(
                "gates.operational.champion has no rules; add e.g. {metric: p95_ms, max_ratio: 1.2}"
            )
        return self


class Measurement(StrictModel):
    """How much the gate measures; the defaults take a few seconds per small model.

    Attributes:
        warmup_requests: Requests per model (single-row and batch) before anything is
            recorded: the first requests pay for lazy imports, caches and connection set-up.
        rounds: Measured rounds; each round sends candidate and champion requests alternately,
            so a slow moment of the machine hits both. The interval is over rounds.
        requests_per_round: Single-row requests per model per round.
        batch_requests_per_round: Batch requests per model per round (0: no batch requests).
        batch_size: Rows per batch request.
        request_timeout_s: A request slower than this is an error naming it.
        startup_timeout_s: Time the server has to start and to load one model.
        cpus: CPUs the gate assumes its task has (the KFP task's CPU request and limit,
            pipelines/resources.py); the server's math libraries get this many threads, and
            the report states it next to what the machine offers.
    """

    warmup_requests: int = Field(default=10, ge=1, le=10_000)
    rounds: int = Field(default=8, ge=3, le=200)
    requests_per_round: int = Field(default=30, ge=5, le=100_000)
    batch_requests_per_round: int = Field(default=4, ge=0, le=10_000)
    batch_size: int = Field(default=64, ge=2, le=100_000)
    request_timeout_s: float = Field(default=30.0, gt=0)
    startup_timeout_s: float = Field(default=90.0, gt=0)
    cpus: int = Field(default=1, ge=1, le=256)


class OperationalPolicy(JudgedSection):
    """Policy section of the operational gate (``gates.operational``).

    Attributes:
        rules: Absolute rules on the candidate.
        champion: Relative rules against the champion, or None.
        measurement: How much is measured.
        confidence: Least coverage of the interval over rounds (distribution-free order
            statistics around the median round): with 8 rounds and 0.9 it spans the 2nd
            smallest to the 2nd largest round (coverage 93%), so one disturbed round can
            neither pass nor fail a rule.
    """

    rules_hint: ClassVar[str] = (
        "add a rule (e.g. {metric: p95_ms, max: 50}) or a champion section with a relative "
        "rule (e.g. champion: {rules: [{metric: p95_ms, max_ratio: 1.2}]})"
    )

    rules: list[OperationalRule] = Field(default_factory=list)
    champion: OperationalChampion | None = None
    measurement: Measurement = Field(default_factory=Measurement)
    confidence: float = Field(default=0.9, gt=0.5, lt=1.0)

    @model_validator(mode="after")
    def _batch_metrics_measured(self) -> OperationalPolicy:
        wanted = [r.metric for r in self.rules] + [
            r.metric for r in (self.champion.rules if self.champion else [])
        ]
        batch = sorted({m for m in wanted if m.startswith("batch_") or m == "throughput_rps"})
        if batch and self.measurement.batch_requests_per_round == 0:
            raise ValueError(
                f"rules on {batch} need batch requests, but measurement.batch_requests_per_round "
                "is 0; set it (e.g. 4) or drop those rules"
            )
        return self

    @property
    def has_rules(self) -> bool:
        """Whether any absolute or relative rule is configured."""
        return bool(self.rules) or self.champion is not None
