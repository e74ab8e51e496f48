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


class CellValue(StrictModel):
    """A per-row value of one cell of the business matrix: ``factor`` times a numeric column.

    Attributes:
        column: Column of the evaluation data holding a per-row amount (e.g. ``loan_amount``).
        factor: Multiplies the column (e.g. ``-0.45``: a missed default loses 45% of the loan).
        plus: A constant added to every row's value (e.g. a fixed handling cost).
    """

    column: str = Field(min_length=1)
    factor: float = 1.0
    plus: float = 0.0


Cell = float | CellValue
#: The one statistic a business threshold rule may name.
BusinessMetric = Literal["expected_value_per_1000"]


class BusinessRule(MinMaxBound, StrictModel):
    """An absolute bound on the candidate's expected value per 1 000 decisions (currency)."""

    metric: BusinessMetric = "expected_value_per_1000"
    min: float | None = None
    max: float | None = None
    judge_on: JudgeOn = "interval"
    on_inconclusive: OnInconclusive | None = None
    severity: Severity = "block"
    rationale: str | None = None

    @model_validator(mode="after")
    def _one_bound(self) -> BusinessRule:
        if (self.min is None) == (self.max is None):
            raise ValueError(
                f"business rule on '{self.metric}' needs exactly one of 'min' or 'max'"
            )
        return self


class BusinessChampionRule(StrictModel):
    """The candidate's expected value against the champion's on the same rows (paired).

    The paired-bootstrap CI of ``candidate EV - champion EV`` is held to ``-margin``, where the
    margin is ``max_drop`` (currency per 1 000 decisions) or ``max_drop_pct`` percent of the
    champion's EV. A percentage is only a tolerance of a positive EV: with a champion EV of 0 or
    below the check is an ``error`` that asks for ``max_drop`` (2% of a loss would let a
    candidate lose more the worse the champion is; 2% of 0 demands "no worse at all").
    """

    max_drop_pct: float | None = Field(default=None, ge=0.0, lt=100.0)
    max_drop: float | None = Field(default=None, ge=0.0)
    on_inconclusive: OnInconclusive | None = None
    severity: Severity = "block"
    rationale: str | None = None

    @model_validator(mode="after")
    def _one_margin(self) -> BusinessChampionRule:
        if (self.max_drop_pct is None) == (self.max_drop is None):
            raise ValueError(
                "business.vs_champion needs exactly one of max_drop_pct (percent of the "
                "champion's expected value) or max_drop (currency per 1000 decisions)"
            )
        return self


class BusinessSpec(StrictModel):
    """Business KPI rules of a binary classifier: a value per (decision, outcome) cell.

    The decision is taken at the section's ``decision_threshold`` on the probability of the
    positive class (``data.positive_label``, default the last class): at or above it the model
    takes ``positive_decision``, below it ``negative_decision``. The outcome is the row's label:
    ``positive_outcome`` names the positive class in ``matrix``, ``negative_outcome`` the other.

    Attributes:
        positive_decision: Name of the decision taken on a positive call (e.g. ``refuse``).
        negative_decision: Name of the decision taken on a negative call (e.g. ``approve``).
        positive_outcome: Name of the positive class in the matrix (e.g. ``default``).
        negative_outcome: Name of the negative class (e.g. ``repay``).
        matrix: ``decision -> outcome -> value``: all four cells, each a constant or
            ``{column, factor, plus}`` (a per-row amount of the evaluation data).
        currency: Unit of the values, for the report.
        rules: Absolute bounds on ``expected_value_per_1000``.
        vs_champion: The rule against the champion (needs ``gates.performance.champion``).
    """

    positive_decision: str = Field(min_length=1)
    negative_decision: str = Field(min_length=1)
    positive_outcome: str = "positive"
    negative_outcome: str = "negative"
    matrix: dict[str, dict[str, Cell]]
    currency: str = ""
    rules: list[BusinessRule] = Field(default_factory=list)
    vs_champion: BusinessChampionRule | None = None

    @model_validator(mode="after")
    def _unambiguous(self) -> BusinessSpec:
        if self.positive_decision == self.negative_decision:
            raise ValueError(
                f"business: positive_decision and negative_decision are both "
                f"'{self.positive_decision}'; name the two decisions differently"
            )
        if self.positive_outcome == self.negative_outcome:
            raise ValueError(
                f"business: positive_outcome and negative_outcome are both "
                f"'{self.positive_outcome}'; name the two outcomes differently"
            )
        decisions = {self.positive_decision, self.negative_decision}
        if set(self.matrix) != decisions:
            raise ValueError(
                f"business.matrix must have exactly the decisions {sorted(decisions)} as keys, "
                f"got {sorted(self.matrix)}"
            )
        outcomes = {self.positive_outcome, self.negative_outcome}
        for decision, row in self.matrix.items():
            if set(row) != outcomes:
                raise ValueError(
                    f"business.matrix.{decision} must have exactly the outcomes "
                    f"{sorted(outcomes)} as keys, got {sorted(row)}"
                )
        if not self.rules and self.vs_champion is None:
            raise ValueError(
                "business has no rules; add rules: [{min: 0}] on expected_value_per_1000 or "
                "vs_champion: {max_drop_pct: 2}"
            )
        return self

    def cell(self, *, positive_call: bool, positive_label: bool) -> Cell:
        """The value of the (decision, outcome) cell."""
        decision = self.positive_decision if positive_call else self.negative_decision
        outcome = self.positive_outcome if positive_label else self.negative_outcome
        return self.matrix[decision][outcome]

    @property
    def columns(self) -> list[str]:
        """The data columns the matrix reads, in first-use order."""
        cells = [c for row in self.matrix.values() for c in row.values()]
        return list(dict.fromkeys(c.column for c in cells if isinstance(c, CellValue)))


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
    business: BusinessSpec | None = None
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

    @model_validator(mode="after")
    def _business_fits(self) -> PerformancePolicy:
        if self.business is None:
            return self
        if self.task in ("multiclass", "regression"):
            raise ValueError(
                f"business rules need a binary classifier (two decisions at decision_threshold) "
                f"but task is {self.task}; remove the business block or use task: binary"
            )
        if self.business.vs_champion is not None and self.champion is None:
            raise ValueError(
                "business.vs_champion compares with the champion but there is no champion "
                "section; add champion: {alias: production} (rules may then be empty)"
            )
        if self.n_resamples == 0 and any(r.judge_on == "interval" for r in self.business.rules):
            raise ValueError(
                "n_resamples is 0, so there are no intervals, but a business rule is judged on "
                "one; set n_resamples (e.g. 1000) or judge_on: estimate"
            )
        return self

    @property
    def has_rules(self) -> bool:
        """Whether any metric, slice, champion or business rule is configured."""
        return (
            bool(self.rules or self.slices)
            or self.champion is not None
            or self.business is not None
        )
