"""Policy of the release: the canary rollout's stages, bake time, live-metric rules (``release:``).

Thresholds are data with a direction, as in the gates: ``{metric: error_rate, max_increase:
0.01}`` holds the canary's error rate to at most one point above the stable model's (a paired
two-proportion interval over the stage's requests), ``{metric: p95_ms, max_ratio: 1.2}`` its
latency to 1.2x the stable model's, ``{metric: p95_ms, max: 100}`` to an absolute bound.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from quality_gates.shared.policy.base import Severity, StrictModel

CanaryMetric = Literal["error_rate", "positive_rate", "p50_ms", "p95_ms", "p99_ms"]


class CanaryRule(StrictModel):
    """One live-metric rule judged at every stage, canary against stable.

    Attributes:
        metric: ``error_rate`` (failed / all inference requests), ``positive_rate`` (rows
            predicted positive / rows answered; needs servers that count their decisions,
            ``shared/serving/runtimes``) or a latency percentile of the inference requests
            (``p50_ms``, ``p95_ms``, ``p99_ms``).
        max_increase: ``error_rate`` only: the canary's rate may exceed stable's by at most
            this (0.01 = one point), judged on the interval of the difference.
        max_ratio: Latencies: canary / stable at most this (>= 1).
        max_difference: ``positive_rate`` only: the canary's rate may differ from stable's by
            at most this either way (0.05 = five points), judged on the interval of the
            difference.
        max: An absolute bound on the canary's value (ms for latencies, a share for errors).
        severity: ``block`` (rolls back) or ``warn`` (recorded only).
        rationale: Why, for the report and the audit log.
    """

    metric: CanaryMetric
    max_increase: float | None = Field(default=None, ge=0.0, le=1.0)
    max_ratio: float | None = Field(default=None, ge=1.0)
    max_difference: float | None = Field(default=None, gt=0.0, le=1.0)
    max: float | None = Field(default=None, ge=0.0)
    severity: Severity = "block"
    rationale: str | None = None

    @model_validator(mode="after")
    def _one_bound(self) -> CanaryRule:
        keys = ("max_increase", "max_ratio", "max_difference", "max")
        given = [k for k in keys if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                f"canary rule on '{self.metric}' needs exactly one of max_increase, max_ratio, "
                f"max_difference or max, got {given or 'none'}"
            )
        if (self.max_difference is not None) != (self.metric == "positive_rate"):
            raise ValueError("positive_rate takes max_difference (a two-sided bound), only it")
        if self.max_increase is not None and self.metric != "error_rate":
            raise ValueError(f"max_increase is for error_rate; use max_ratio for {self.metric}")
        if self.max_ratio is not None and self.metric == "error_rate":
            raise ValueError("error_rate takes max_increase (a difference of rates), not a ratio")
        return self


class CanaryMetrics(StrictModel):
    """Where the live metrics come from and how each side is selected.

    Attributes:
        prometheus_url: Prometheus's HTTP API.
        stable_selector: PromQL label selector of the stable model's series.
        canary_selector: Selector of the canary's series.
        success_metric: Counter of answered inference requests (MLServer's name).
        failure_metric: Counter of failed inference requests.
        latency_metric: Histogram of request durations in seconds (``_bucket`` series).
        latency_filter: Extra label matchers of the latency histogram (the inference path).
        rows_metric: Counter of rows answered (the counting runtime's).
        positive_metric: Counter of rows predicted positive.
    """

    prometheus_url: str = "http://prometheus.monitoring:9090"
    stable_selector: str = '{role="stable"}'
    canary_selector: str = '{role="canary"}'
    success_metric: str = "model_infer_request_success_total"
    failure_metric: str = "model_infer_request_failure_total"
    latency_metric: str = "rest_server_request_duration_seconds"
    latency_filter: str = 'path=~".*/infer"'
    rows_metric: str = "qg_decision_rows_total"
    positive_metric: str = "qg_positive_decisions_total"


class CanaryPolicy(StrictModel):
    """The canary rollout (``release.canary``).

    Attributes:
        stages: Canary traffic shares, increasing, ending at 100.
        bake_s: Seconds each stage runs before it is judged.
        min_requests: Fewest canary requests a stage needs to be judged; fewer after
            ``max_extensions`` extra bakes is an ``error`` (hold: traffic unchanged).
        max_extensions: Extra bakes of a stage whose evidence is inconclusive or thin.
        on_inconclusive: After the extensions: ``rollback`` (default; a canary that cannot be
            shown safe does not ship) or ``hold`` (stop with an error, traffic unchanged).
        confidence: Coverage of the intervals.
        rules: The live-metric rules; at least one.
        metrics: Where the metrics come from.
    """

    stages: list[int] = Field(default_factory=lambda: [5, 10, 50, 100])
    bake_s: float = Field(default=300.0, gt=0)
    min_requests: int = Field(default=100, ge=1)
    max_extensions: int = Field(default=2, ge=0, le=20)
    on_inconclusive: Literal["rollback", "hold"] = "rollback"
    confidence: float = Field(default=0.95, gt=0.5, lt=1.0)
    rules: list[CanaryRule] = Field(default_factory=list)
    metrics: CanaryMetrics = Field(default_factory=CanaryMetrics)

    @model_validator(mode="after")
    def _valid(self) -> CanaryPolicy:
        s = self.stages
        if not s or s[-1] != 100 or any(b <= a for a, b in zip(s, s[1:], strict=False)):
            raise ValueError(f"release.canary.stages must increase and end at 100, got {s}")
        if s[0] <= 0:
            raise ValueError("release.canary.stages must start above 0%")
        if not self.rules:
            raise ValueError(
                "release.canary has no rules; add e.g. {metric: error_rate, max_increase: 0.01}"
                " and {metric: p95_ms, max_ratio: 1.2}"
            )
        return self


class ReleasePolicy(StrictModel):
    """The ``release:`` section."""

    canary: CanaryPolicy | None = None
