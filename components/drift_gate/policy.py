"""Policy section of the drift gate: which columns, which distance, how far they may move.

A column drifts when its distance from the reference is *shown* (by its interval) to exceed the
rule's ``max``: a trivial shift measured precisely on a million rows stays below the bound and
passes, a real one on a few thousand rows lies above it and fails, and a sample too small to tell
is inconclusive. Columns are one family: Benjamini-Hochberg by default, so that among 25 columns
the share of wrongly flagged ones stays at ``1 - confidence``.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from quality_gates.shared.policy.base import (
    JudgedSection,
    Multiplicity,
    OnInconclusive,
    Severity,
    StrictModel,
)

NumericMetric = Literal["wasserstein_norm", "psi", "ks"]
CategoricalMetric = Literal["jensen_shannon", "psi"]


class ColumnRule(StrictModel):
    """The bound on one distance, for every column of a kind.

    Attributes:
        metric: The distance judged. Numeric: ``wasserstein_norm`` (Wasserstein distance over
            the reference's standard deviation: "how many standard deviations the mass moved"),
            ``psi`` (on reference deciles) or ``ks``. Categorical: ``jensen_shannon`` (distance,
            natural log) or ``psi``. Every distance is reported; only this one decides.
        max: The distance may be at most this.
        severity: ``block`` fails the gate on a drifted column, ``warn`` only warns.
        rationale: Why the bound exists.
    """

    metric: str
    max: float = Field(gt=0.0)
    severity: Severity = "block"
    rationale: str | None = None


class NumericRule(ColumnRule):
    """:class:`ColumnRule` for numeric columns."""

    metric: NumericMetric = "wasserstein_norm"


class CategoricalRule(ColumnRule):
    """:class:`ColumnRule` for categorical columns (text, booleans, categories)."""

    metric: CategoricalMetric = "jensen_shannon"


class DatasetRule(StrictModel):
    """The share of drifted columns the dataset may have.

    Attributes:
        max_drifted_share: Largest share of columns (weighted) shown to drift.
        weights: ``uniform`` (every column counts 1), or a weight per column (for example the
            explainability gate's mean |SHAP| share of each feature, so that a drifted feature the
            model leans on counts more than a drifted one it ignores). Compared columns left out
            of the mapping weigh 0; a weighted column that is not compared is an error.
        severity: ``block`` or ``warn``.
        rationale: Why.
    """

    max_drifted_share: float = Field(ge=0.0, lt=1.0)
    weights: Literal["uniform"] | dict[str, float] = "uniform"
    severity: Severity = "block"
    rationale: str | None = None

    @field_validator("weights", mode="before")
    @classmethod
    def _no_implicit_attribution(cls, value: Any) -> Any:
        # The drift gate runs beside the explainability gate, not after it, so it has no
        # attributions to read; accepting the word and counting uniformly would be a silent lie.
        if value == "attribution":
            raise ValueError(
                "weights: attribution is not available (the drift gate runs beside the "
                "explainability gate and has no attributions); give a weight per column instead, "
                "e.g. weights: {income: 0.4, age: 0.1}, such as the explainability gate's shares"
            )
        return value

    @field_validator("weights")
    @classmethod
    def _positive_weights(cls, value: Any) -> Any:
        if isinstance(value, dict):
            bad = sorted(k for k, w in value.items() if not (w >= 0.0 and w < float("inf")))
            if bad:
                raise ValueError(f"drift weights must be finite and >= 0; fix {bad[:5]}")
            if not any(w > 0 for w in value.values()):
                raise ValueError("drift weights are all 0: give at least one column a weight")
        return value


class DriftPolicy(JudgedSection):
    """Policy section ``gates.drift``.

    Attributes:
        columns: Columns compared; default every column of the reference except the label and
            ``data.exclude``.
        ignore: Columns left out of the default list.
        numeric: Rule of the numeric columns.
        categorical: Rule of the categorical columns.
        dataset: Optional rule on the share of drifted columns.
        max_categories: A categorical column with more distinct reference values is compared on
            its most frequent ones, the rest pooled as "other".
        confidence: Coverage of the intervals, and ``1 -`` the error rate controlled over columns.
        n_resamples: Bootstrap resamples per column (multinomial over bins: cheap at any size).
        multiplicity: ``bh`` (default), ``holm`` or ``none`` over the columns.
        on_inconclusive: What an inconclusive column does (``warn`` by default: drift is a
            signal to look, a sample too small to tell should not stop a release on its own).
        seed: Seed of the bootstrap.
    """

    rules_hint: ClassVar[str] = "add a column rule (e.g. numeric: {max: 0.1})"

    columns: list[str] | None = None
    ignore: list[str] = Field(default_factory=list)
    numeric: NumericRule | None = None
    categorical: CategoricalRule | None = None
    dataset: DatasetRule | None = None
    max_categories: int = Field(default=200, ge=2, le=10_000)
    confidence: float = Field(default=0.95, gt=0.5, lt=1.0)
    n_resamples: int = Field(default=500, ge=50, le=100_000)
    multiplicity: Multiplicity = "bh"
    on_inconclusive: OnInconclusive = "warn"
    seed: int = 0

    @property
    def has_rules(self) -> bool:
        """A drift section must bound at least one kind of column."""
        return self.numeric is not None or self.categorical is not None

    @model_validator(mode="after")
    def _known_columns(self) -> DriftPolicy:
        if self.columns is not None and len(set(self.columns)) != len(self.columns):
            raise ValueError("list each drift column once")
        return self
