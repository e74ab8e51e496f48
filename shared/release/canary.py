"""The canary rollout: step traffic through the stages, judge each on live metrics, decide.

For every stage of ``release.canary.stages`` the router sends that share of requests to the
canary; after ``bake_s`` the stage's requests (exact counter differences from Prometheus,
:mod:`~quality_gates.shared.release.analysis`) are judged with the rule engine:

- a blocking rule **shown to fail** rolls back at once: all traffic to stable, the metric named;
- an early stage moves on once ``min_requests`` canary requests showed no harm (it screens
  with a small blast radius); the **decision stage**, the last below 100%, where the two sides
  are compared with the most traffic, needs every blocking rule **shown to pass**; then all
  traffic goes to the canary and it is promoted;
- otherwise (inconclusive, or too few requests) the stage bakes again, its window growing, up
  to ``max_extensions`` times; then ``on_inconclusive`` decides (``rollback`` or ``hold``).

Each look's intervals are at ``1 - (1 - confidence) / looks`` (Bonferroni over every bake of
every judged stage), so the chance of rolling back a healthy canary stays below
``1 - confidence`` however many times the rollout looks.

Fail closed: Prometheus down, a query that returns nothing, a stage in which the canary got no
request, a router that refuses a change: the rollout stops with ``error`` and leaves the traffic
where it is (hold), never promotes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from quality_gates.shared.contracts.errors import GateInputError
from quality_gates.shared.contracts.results import CheckResult
from quality_gates.shared.policy.release import CanaryPolicy
from quality_gates.shared.release.analysis import judge_stage, read_side, stage_counts
from quality_gates.shared.release.prometheus import PrometheusClient
from quality_gates.shared.release.traffic import TrafficRouter


class Clock(Protocol):
    """Time as the rollout sees it (a test or a demo may drive traffic while it sleeps)."""

    def now(self) -> float:
        """Unix seconds."""

    def sleep(self, seconds: float) -> None:
        """Wait."""


class WallClock:
    """The real clock."""

    def now(self) -> float:
        """Unix seconds."""
        return time.time()

    def sleep(self, seconds: float) -> None:
        """Wait."""
        time.sleep(seconds)


@dataclass
class StageResult:
    """One stage as judged.

    Attributes:
        percent: The canary's share of traffic.
        bakes: How many bake periods the stage ran (1 + extensions).
        checks: The rules' checks on the stage's whole window.
        decision: ``next``, ``promote``, ``rollback`` or ``hold``.
        canary_requests: Canary inference requests in the window.
        stable_requests: Stable inference requests in the window.
    """

    percent: int
    bakes: int
    checks: list[CheckResult]
    decision: str
    canary_requests: int
    stable_requests: int

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, for the audit record and the report."""
        return {
            "percent": self.percent,
            "bakes": self.bakes,
            "decision": self.decision,
            "canary_requests": self.canary_requests,
            "stable_requests": self.stable_requests,
            "checks": [c.model_dump(mode="json") for c in self.checks],
        }


@dataclass
class RolloutResult:
    """What the rollout did.

    Attributes:
        outcome: ``promoted``, ``rolled_back`` or ``error``.
        message: One line: what decided, with the metric and its numbers.
        stages: The stages judged, in order.
        canary_percent: The canary's share when the rollout stopped.
        router: The router's one-line description.
    """

    outcome: str
    message: str
    stages: list[StageResult] = field(default_factory=list)
    canary_percent: int = 0
    router: str = ""

    @property
    def exit_code(self) -> int:
        """0 promoted, 1 rolled back, 2 error (hold)."""
        return {"promoted": 0, "rolled_back": 1}.get(self.outcome, 2)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"outcome": self.outcome, "message": self.message, "router": self.router,
                "canary_percent": self.canary_percent,
                "stages": [s.as_dict() for s in self.stages]}  # fmt: skip


def _blocking_failure(checks: list[CheckResult]) -> CheckResult | None:
    return next((c for c in checks if c.decision == "fail" and c.severity == "block"), None)


def _settled(
    checks: list[CheckResult], canary_requests: int, policy: CanaryPolicy, *, final: bool
) -> bool:
    """Whether a stage may move on: enough requests, and (at the decision stage) all shown."""
    if canary_requests < policy.min_requests:
        return False
    if not final:  # an early stage screens for harm with a small blast radius
        return True
    return all(c.decision == "pass" for c in checks if c.severity == "block")


def look_confidence(policy: CanaryPolicy) -> float:
    """Confidence of each look: Bonferroni over every judged bake of every stage below 100%.

    A rollout looks at the same comparison again and again (each stage, each extension); at
    95% per look a healthy canary would be rolled back by chance far more than 5% of the time.
    """
    looks = (len(policy.stages) - 1) * (policy.max_extensions + 1)
    return 1.0 - (1.0 - policy.confidence) / max(looks, 1)


def _judge_window(client: PrometheusClient, policy: CanaryPolicy, before: dict, at: float):
    url = policy.metrics.prometheus_url
    after = {side: read_side(client, policy, side, at=at) for side in ("stable", "canary")}
    stable = stage_counts(before["stable"], after["stable"], side="stable", url=url)
    canary = stage_counts(before["canary"], after["canary"], side="canary", url=url)
    return stable, canary


def run_stage(
    percent: int, *, client: PrometheusClient, policy: CanaryPolicy, clock: Clock, final: bool
) -> StageResult:
    """Bake and judge one stage (the router already sends ``percent`` to the canary).

    Args:
        percent: The canary's share.
        client: Prometheus.
        policy: ``release.canary``.
        clock: Time.
        final: The decision stage (the last below 100%): every blocking rule must be shown to
            pass. Earlier stages move on once ``min_requests`` canary requests showed no harm.

    Returns:
        The stage with its checks and decision (``next``, ``rollback`` or ``hold``).

    Raises:
        GateInputError: Metrics missing or unreadable, or no canary request in the window.
    """
    judged = policy.model_copy(update={"confidence": look_confidence(policy)})
    start = clock.now()
    before = {side: read_side(client, policy, side, at=start) for side in ("stable", "canary")}
    for bake in range(1, policy.max_extensions + 2):
        clock.sleep(policy.bake_s)
        stable, canary = _judge_window(client, policy, before, clock.now())
        if canary.total == 0:
            raise GateInputError(
                f"the canary got no inference request during the {percent}% stage "
                f"({bake * policy.bake_s:g} s); is traffic flowing through the router?"
            )
        checks = judge_stage(judged, stable, canary)
        failed = _blocking_failure(checks)
        if failed is not None or _settled(checks, canary.total, policy, final=final):
            decision = "rollback" if failed is not None else "next"
            return StageResult(percent, bake, checks, decision, canary.total, stable.total)
    last = "rollback" if policy.on_inconclusive == "rollback" else "hold"
    return StageResult(percent, bake, checks, last, canary.total, stable.total)


def _why(stage: StageResult, policy: CanaryPolicy) -> str:
    failed = _blocking_failure(stage.checks)
    if failed is not None:
        return failed.message
    if stage.canary_requests < policy.min_requests:
        return (
            f"only {stage.canary_requests} canary requests after {stage.bakes} bake(s), "
            f"fewer than min_requests {policy.min_requests}"
        )
    open_ = next((c for c in stage.checks if c.decision != "pass"), None)
    return open_.message if open_ else "not settled"


def rollout(
    *,
    router: TrafficRouter,
    client: PrometheusClient,
    policy: CanaryPolicy,
    clock: Clock | None = None,
) -> RolloutResult:
    """Take the canary through every stage; roll back, hold or promote.

    Args:
        router: Splits traffic between stable and canary.
        client: Prometheus.
        policy: ``release.canary``.
        clock: Time (default the wall clock).

    Returns:
        The outcome; a rollback has already returned all traffic to stable.
    """
    clock = clock or WallClock()
    result = RolloutResult(outcome="error", message="", router=router.describe())
    try:
        judged_stages = policy.stages[:-1]
        for i, percent in enumerate(judged_stages):
            router.set_canary_percent(percent)
            result.canary_percent = router.canary_percent()
            final = i == len(judged_stages) - 1
            stage = run_stage(percent, client=client, policy=policy, clock=clock, final=final)
            result.stages.append(stage)
            if stage.decision == "rollback":
                router.set_canary_percent(0)
                result.canary_percent = router.canary_percent()
                result.outcome = "rolled_back"
                result.message = f"rolled back at {percent}%: {_why(stage, policy)}"
                return result
            if stage.decision == "hold":
                result.message = f"held at {percent}%: {_why(stage, policy)}"
                return result
        # The decision stage showed every blocking rule met: all traffic to the canary.
        router.set_canary_percent(100)
        result.canary_percent = router.canary_percent()
        result.outcome, result.message = "promoted", "promoted: every stage passed, 100% canary"
        if result.stages:
            result.stages[-1].decision = "promote"
    except GateInputError as exc:
        result.outcome, result.message = "error", f"held at {result.canary_percent}%: {exc}"
    return result
