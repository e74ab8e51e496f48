"""Policy section of the performance gate: metric thresholds, slices and the champion comparison.

Thresholds are data with a direction (``min`` or ``max``), never code; a threshold outside the
metric's range is refused, because it is a typo (a percentage for a fraction), not a policy.
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
    """A threshold on one metric: ``min`` (at least) or ``max`` (at most), exactly one.

    Attributes:
        judge_on: ``interval`` (default): the bootstrap interval must lie on the passing side
            (shown to pass), on the failing side it fails, across the threshold it is
            inconclusive; ``estimate``: the point value alone.
        on_inconclusive: Overrides the section's ``on_inconclusive`` for this rule.
    """

    metric: MetricName
    min: float | None = None
    max: float | None = None
    judge_on: JudgeOn = "interval"
    on_inconclusive: OnInconclusive | None = None
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

    The slices of one rule are a family: judged together under the section's ``multiplicity``
    adjustment. Slices with fewer than ``min_size`` rows are judged with an exact binomial
    interval when the metric is a proportion (accuracy, precision, recall), else reported as
    "insufficient data" with the status given by ``on_small`` (never a silent pass).
    """

    column: str
    min_size: int = Field(default=100, ge=1)
    on_small: Literal["warn", "block", "skip"] = "warn"


class ChampionRule(StrictModel):
    """Non-inferiority against the champion on one metric.

    The paired-bootstrap CI of ``candidate - champion`` (sign-adjusted so that positive means the
    candidate is better) is held to ``-margin``: shown non-inferior when its lower bound is at or
    above it, shown worse when its upper bound is below it, inconclusive otherwise. The margin
    has no default: "no worse at all" (0) can almost never be shown, so a policy must say how
    much worse is still acceptable.
    """

    metric: MetricName
    margin: float | None = Field(default=None, ge=0.0)
    on_inconclusive: OnInconclusive | None = None
    severity: Severity = "block"
    rationale: str | None = None

    @model_validator(mode="after")
    def _explicit_margin(self) -> ChampionRule:
        if self.margin is None:
            raise ValueError(
                f"champion rule on '{self.metric}' needs an explicit margin: how much worse than "
                "the champion is still acceptable (e.g. margin: 0.01); with margin 0 an equally "
                "good candidate can almost never be shown non-inferior"
            )
        return self


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


class PerformancePolicy(JudgedSection):
    """Policy section of the performance gate.

    Attributes:
        min_rows: Fewer evaluation rows are an error: intervals from a handful of rows are not
            evidence (two rows give a bootstrap "interval" of ROC AUC [1, 1]).
        min_rows_per_class: Classification only: a class of the label (of the model's classes,
            or of the data when they are unknown) with fewer evaluation rows is an error; a
            class absent from the data has 0 rows. Recall on three positives is not evidence.
    """

    rules_hint: ClassVar[str] = "add at least one rule (e.g. {metric: roc_auc, min: 0.7})"

    task: Literal["auto", "binary", "multiclass", "regression"] = "auto"
    min_rows: int = Field(default=100, ge=1)
    min_rows_per_class: int = Field(default=10, ge=1)
    decision_threshold: float = Field(default=0.5, gt=0.0, lt=1.0)
    rules: list[MetricRule] = Field(default_factory=list)
    slices: list[SliceRule] = Field(default_factory=list)
    champion: ChampionSpec | None = None
    confidence: float = Field(default=0.95, gt=0.5, lt=1.0)
    n_resamples: int = Field(default=1000, ge=0, le=100_000)
    seed: int = 0

    @model_validator(mode="after")
    def _intervals_available(self) -> PerformancePolicy:
        if self.n_resamples == 0:
            on_interval = [
                r.metric for r in (*self.rules, *self.slices) if r.judge_on == "interval"
            ]
            if on_interval:
                raise ValueError(
                    f"n_resamples is 0, so there are no intervals, but the rules on "
                    f"{sorted(set(on_interval))} are judged on them; set n_resamples (e.g. 1000) "
                    "or judge_on: estimate"
                )
        return self

    @property
    def has_rules(self) -> bool:
        """Whether any metric, slice or champion rule is configured."""
        return bool(self.rules or self.slices) or self.champion is not None
