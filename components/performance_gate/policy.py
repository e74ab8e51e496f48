"""Policy section of the performance gate: metric thresholds, slices and the champion comparison.

Thresholds are data with a direction (``min`` or ``max``), never code; a threshold outside the
metric's range is refused, because it is a typo (a percentage for a fraction), not a policy.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from quality_gates.shared.policy.base import GateSection, MinMaxBound, Severity, StrictModel

CLASSIFICATION_METRICS = (
    "accuracy",
    "precision",
    "recall",
    "f1",
    "roc_auc",
    "pr_auc",
    "log_loss",
    "brier",
)
REGRESSION_METRICS = ("rmse", "mae", "r2", "mape")
# Direction of "better", used by champion comparisons and to sanity-check rules.
LOWER_IS_BETTER = frozenset({"log_loss", "brier", "rmse", "mae", "mape"})
# Values each metric can take; a threshold outside them makes a rule that can never pass (or
# never fail), which is a typo (a percentage for a fraction, a sign), not a policy.
METRIC_RANGES: dict[str, tuple[float | None, float | None]] = {
    **{m: (0.0, 1.0) for m in ("accuracy", "precision", "recall", "f1", "roc_auc", "pr_auc")},
    # Multiclass Brier sums over classes (sklearn 1.9): up to 2.
    "brier": (0.0, 2.0),
    **{m: (0.0, None) for m in ("log_loss", "rmse", "mae", "mape")},
    "r2": (None, 1.0),
}
MetricName = Literal[
    "accuracy",
    "precision",
    "recall",
    "f1",
    "roc_auc",
    "pr_auc",
    "log_loss",
    "brier",
    "rmse",
    "mae",
    "r2",
    "mape",
]


class MetricRule(MinMaxBound, StrictModel):
    """A threshold on one metric: ``min`` (at least) or ``max`` (at most), exactly one."""

    metric: MetricName
    min: float | None = None
    max: float | None = None
    severity: Severity = "block"
    rationale: str | None = None

    @model_validator(mode="after")
    def _one_bound(self) -> MetricRule:
        if (self.min is None) == (self.max is None):
            raise ValueError(f"rule on '{self.metric}' needs exactly one of 'min' or 'max'")
        low, high = METRIC_RANGES.get(self.metric, (None, None))
        value = self.threshold
        if (low is not None and value < low) or (high is not None and value > high):
            span = f"[{_num(low, '-inf')}, {_num(high, 'inf')}]"
            raise ValueError(
                f"{'min' if self.min is not None else 'max'} {value:g} of '{self.metric}' is "
                f"outside the metric's range {span}, so the rule could never be met or never "
                "fail; give a threshold inside that range"
            )
        return self


def _num(value: float | None, unbounded: str) -> str:
    return unbounded if value is None else f"{value:g}"


class SliceRule(MetricRule):
    """A threshold on one metric for every value of a segment column.

    Slices with fewer than ``min_size`` rows are reported as "insufficient data" with the status
    given by ``on_small`` (never a silent pass).
    """

    column: str
    min_size: int = Field(default=100, ge=1)
    on_small: Literal["warn", "block", "skip"] = "warn"


class ChampionRule(StrictModel):
    """Non-inferiority against the champion on one metric.

    The paired-bootstrap CI of ``candidate - champion`` (sign-adjusted so that positive means the
    candidate is better) must have its lower bound at or above ``-margin``.
    """

    metric: MetricName
    margin: float = Field(default=0.0, ge=0.0)
    severity: Severity = "block"
    rationale: str | None = None


class ChampionSpec(StrictModel):
    """How the candidate is compared with the model holding an alias."""

    alias: str = "production"
    model_name: str | None = None
    rules: list[ChampionRule] = Field(default_factory=list)
    confidence: float = Field(default=0.95, gt=0.5, lt=1.0)
    n_resamples: int = Field(default=1000, ge=100, le=100_000)
    seed: int = 0
    # No champion yet (the first model of a name) is normal; "skip" records that and passes on.
    if_missing: Literal["skip", "warn", "block"] = "skip"


class PerformancePolicy(GateSection):
    """Policy section of the performance gate."""

    rules_hint: ClassVar[str] = "add at least one rule (e.g. {metric: roc_auc, min: 0.7})"

    task: Literal["auto", "binary", "multiclass", "regression"] = "auto"
    decision_threshold: float = Field(default=0.5, gt=0.0, lt=1.0)
    rules: list[MetricRule] = Field(default_factory=list)
    slices: list[SliceRule] = Field(default_factory=list)
    champion: ChampionSpec | None = None
    confidence: float = Field(default=0.95, gt=0.5, lt=1.0)
    n_resamples: int = Field(default=1000, ge=0, le=100_000)
    seed: int = 0

    @property
    def has_rules(self) -> bool:
        """Whether any metric, slice or champion rule is configured."""
        return bool(self.rules or self.slices) or self.champion is not None
