"""Policy section of the fairness gate: sensitive groups, disparity rules and their evidence.

A rule bounds one *disparity* (how differently a model treats the groups of a sensitive feature
or of an intersection of features) with ``min`` or ``max``. Disparities are named like fairlearn's
functions: ``demographic_parity_difference``, ``equalized_odds_ratio`` ..., or
``<group metric>_difference`` / ``<group metric>_ratio`` for any per-group metric (the fast,
vectorised ones, or any ``sklearn.metrics``/``fairlearn.metrics`` function, computed through
fairlearn's ``MetricFrame``).
"""

from __future__ import annotations

import re
from typing import ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from quality_gates.shared.policy.base import (
    JudgedSection,
    JudgeOn,
    MinMaxBound,
    OnInconclusive,
    Severity,
    StrictModel,
)

#: Disparities with a name of their own: (group metric(s), aggregation).
NAMED_DISPARITIES: dict[str, tuple[tuple[str, ...], str]] = {
    "demographic_parity_difference": (("selection_rate",), "difference"),
    "demographic_parity_ratio": (("selection_rate",), "ratio"),
    "equalized_odds_difference": (("true_positive_rate", "false_positive_rate"), "difference"),
    "equalized_odds_ratio": (("true_positive_rate", "false_positive_rate"), "ratio"),
    "equal_opportunity_difference": (("true_positive_rate",), "difference"),
    "equal_opportunity_ratio": (("true_positive_rate",), "ratio"),
    "predictive_parity_difference": (("precision",), "difference"),
    "predictive_parity_ratio": (("precision",), "ratio"),
}
#: Per-group metrics of the vectorised fast path, by task.
BINARY_GROUP_METRICS: tuple[str, ...] = (
    "selection_rate",
    "true_positive_rate",
    "false_positive_rate",
    "false_negative_rate",
    "precision",
    "accuracy",
)
REGRESSION_GROUP_METRICS: tuple[str, ...] = (
    "mean_prediction",
    "mean_error",
    "mean_absolute_error",
    "root_mean_squared_error",
)
_DISPARITY_RE = re.compile(r"^[a-z][a-z0-9_]*_(difference|ratio)$")


class FairnessRule(MinMaxBound, StrictModel):
    """A bound on one disparity, over some or all of the policy's groupings.

    Attributes:
        metric: Disparity name, e.g. ``demographic_parity_difference`` or
            ``false_negative_rate_difference`` or ``balanced_accuracy_score_ratio``.
        min: The disparity must be at least this (for ratios).
        max: The disparity must be at most this (for differences).
        over: Groupings the rule applies to: a sensitive feature name, or a list of names for a
            declared intersection; default every declared grouping.
        judge_on: ``interval`` (default): shown to pass when the disparity's interval lies
            within the bound, shown to fail when it lies beyond it, else inconclusive
            ("insufficient evidence", with what the group sizes can detect); ``estimate``: the
            point value alone (for metrics computed by fairlearn, which have no interval).
        on_inconclusive: Overrides the section's ``on_inconclusive`` for this rule.
        severity: ``block`` fails the gate, ``warn`` only warns.
        rationale: Why the rule exists; a rule without one is flagged as a warning.
    """

    metric: str
    min: float | None = None
    max: float | None = None
    over: list[str | list[str]] | None = None
    judge_on: JudgeOn = "interval"
    on_inconclusive: OnInconclusive | None = None
    severity: Severity = "block"
    rationale: str | None = None

    @field_validator("judge_on", mode="before")
    @classmethod
    def _former_bounds(cls, v: object) -> object:
        if v in ("ci_low", "ci_high"):
            raise ValueError(
                f"judge_on: {v} is replaced by judge_on: interval (the default), which shows a "
                "rule passed, failed or inconclusive; choose what inconclusive does with "
                "on_inconclusive: block (as ci_high did) or warn (close to ci_low)"
            )
        return v

    @field_validator("metric")
    @classmethod
    def _known_shape(cls, v: str) -> str:
        if v not in NAMED_DISPARITIES and not _DISPARITY_RE.match(v):
            raise ValueError(
                f"unknown disparity '{v}'; use one of {', '.join(NAMED_DISPARITIES)} or "
                "<group metric>_difference / <group metric>_ratio"
            )
        return v

    @model_validator(mode="after")
    def _one_bound(self) -> FairnessRule:
        if (self.min is None) == (self.max is None):
            raise ValueError(f"rule on '{self.metric}' needs exactly one of 'min' or 'max'")
        # Ratios and the named disparities (of rates) lie in [0, 1]; a bound outside is a typo
        # (a percentage, a sign) that would make the rule never pass or never fail.
        if self.metric in NAMED_DISPARITIES or self.metric.endswith("_ratio"):
            if not 0.0 <= self.threshold <= 1.0:
                raise ValueError(
                    f"{'min' if self.min is not None else 'max'} {self.threshold:g} of "
                    f"'{self.metric}' is outside the disparity's range [0, 1]; give a threshold "
                    "inside that range"
                )
        return self


class FairnessPolicy(JudgedSection):
    """Policy section ``gates.fairness``.

    Attributes:
        task: ``auto`` (from the model and the labels), ``binary`` or ``regression``.
        sensitive_features: Columns whose groups are compared one feature at a time.
        intersections: Lists of columns whose combined groups are compared (``sex × age_band``).
        decision_threshold: Score at or above which a binary decision is positive.
        min_group_size: Groups with fewer rows are "insufficient data": left out of every
            disparity and reported with the status ``on_small`` says.
        on_small: ``warn`` or ``block`` for an insufficient group (never a silent pass).
        missing: Missing values in a sensitive column form their own group (``group``) or are an
            ``error``.
        join_key: Key column joining the evaluation data with a separate sensitive-attribute
            file (``sensitive_data_uri``).
        sensitive_inputs: What to do when the model itself takes a sensitive column as input:
            ``allow``, ``warn`` or ``block``.
        confidence: Coverage of the intervals.
        on_inconclusive: What an inconclusive rule does (``block`` or ``warn``).
        multiplicity: ``holm`` or ``bh``: the lower bound of a disparity is simultaneous over
            the group pairs (a single-step family-wise adjustment, which unlike Holm's and
            Benjamini-Hochberg's step-wise ones also gives an interval); ``none``: marginal.
        n_resamples: Bootstrap resamples (0 = no intervals).
        seed: Seed of the bootstrap.
        rules: Disparity rules; at least one is needed.
    """

    rules_hint: ClassVar[str] = (
        "add at least one (e.g. {metric: demographic_parity_difference, max: 0.1})"
    )

    task: Literal["auto", "binary", "regression"] = "auto"
    sensitive_features: list[str] = Field(min_length=1)
    intersections: list[list[str]] = Field(default_factory=list)
    decision_threshold: float = Field(default=0.5, gt=0.0, lt=1.0)
    min_group_size: int = Field(default=30, ge=1)
    on_small: Literal["warn", "block"] = "warn"
    missing: Literal["group", "error"] = "error"
    join_key: str | None = None
    sensitive_inputs: Literal["allow", "warn", "block"] = "warn"
    confidence: float = Field(default=0.95, gt=0.5, lt=1.0)
    n_resamples: int = Field(default=1000, ge=0, le=100_000)
    seed: int = 0
    rules: list[FairnessRule] = Field(default_factory=list)

    @field_validator("sensitive_features")
    @classmethod
    def _unique_features(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError("list each sensitive feature once")
        return v

    @field_validator("intersections")
    @classmethod
    def _real_intersections(cls, v: list[list[str]]) -> list[list[str]]:
        for cols in v:
            if len(cols) < 2 or len(set(cols)) != len(cols):
                raise ValueError(
                    f"intersection {cols} needs at least two different columns; list a single "
                    "column under sensitive_features"
                )
        return v

    @model_validator(mode="after")
    def _rules_name_declared_groupings(self) -> FairnessPolicy:
        declared = {(c,) for c in self.sensitive_features} | {tuple(c) for c in self.intersections}
        for i, rule in enumerate(self.rules):
            for item in rule.over or []:
                key = (item,) if isinstance(item, str) else tuple(item)
                if key not in declared:
                    raise ValueError(
                        f"rules[{i}].over names {item!r}, which is neither a sensitive feature "
                        "nor a declared intersection; add it to sensitive_features or "
                        "intersections"
                    )
        return self

    @property
    def has_rules(self) -> bool:
        """Whether any disparity rule is configured."""
        return bool(self.rules)

    def groupings(self) -> list[tuple[str, ...]]:
        """Return every declared grouping: each feature alone, then each intersection."""
        return [(c,) for c in self.sensitive_features] + [tuple(c) for c in self.intersections]

    def sensitive_columns(self) -> list[str]:
        """Return every column named in a grouping, once, in order."""
        return list(dict.fromkeys(c for g in self.groupings() for c in g))
