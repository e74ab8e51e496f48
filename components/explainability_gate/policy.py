"""Policy section of the explainability gate: ``gates.explainability`` in ``policy.yaml``.

Every rule judges the candidate's SHAP attributions, mapped back to the model's input columns:
which features drive it (a sensitive attribute must not), how concentrated the attribution is (one
feature carrying most of it is a classic sign of target leakage or an ID column), whether the
ranking is stable between two disjoint samples, whether chosen features push the prediction in the
expected direction, and how far the drivers moved from the champion's.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from quality_gates.shared.policy.base import GateSection, Severity, StrictModel


class SamplingSpec(StrictModel):
    """Which rows are explained, against which background, within which time.

    Attributes:
        explain_rows: Most rows explained (stratified by label); the time budget may lower it.
        min_explain_rows: Fewest rows that make a ranking worth judging; when the budget cannot
            fit them the gate is an ``error`` rather than a verdict on noise.
        background_rows: Rows of the reference distribution (linear and model-agnostic
            explainers; exact tree explainers use the trees' own cover).
        stratify: Keep the label's class mix in every sample (and in both stability halves).
        time_budget_s: Wall time the whole gate may take, loading included; the number of
            explained rows is sized from a measured first batch to fit it.
        n_jobs: Worker processes for slow explainers; 0 means every core available to the task.
        permutations: Forward/backward permutations per row of the model-agnostic explainer.
        seed: Seed of the row sampling and of the model-agnostic explainer.
    """

    explain_rows: int = Field(default=1000, ge=20, le=100_000)
    min_explain_rows: int = Field(default=40, ge=10, le=100_000)
    background_rows: int = Field(default=100, ge=10, le=10_000)
    stratify: bool = True
    time_budget_s: float = Field(default=60.0, gt=0.0, le=86_400.0)
    n_jobs: int = Field(default=0, ge=0, le=256)
    permutations: int = Field(default=2, ge=1, le=100)
    seed: int = 0

    @model_validator(mode="after")
    def _min_below_max(self) -> SamplingSpec:
        if self.min_explain_rows > self.explain_rows:
            raise ValueError(
                f"min_explain_rows ({self.min_explain_rows}) exceeds explain_rows "
                f"({self.explain_rows})"
            )
        return self


class ForbiddenRule(StrictModel):
    """Features (sensitive attributes or their known proxies) that must not be top drivers.

    Attributes:
        features: Input columns that must not be among the ``top_k`` by mean ``|SHAP|``. A name
            that is neither a model input nor a column of the data is an ``error`` (a typo must
            not pass); a data column the model does not take passes, and is said so.
        top_k: How many of the strongest drivers are inspected.
    """

    features: list[str] = Field(min_length=1)
    top_k: int = Field(default=5, ge=1)
    severity: Severity = "block"
    rationale: str | None = None


class MaxShareRule(StrictModel):
    """No single feature may carry more than ``max`` of the total mean ``|SHAP|``."""

    max: float = Field(gt=0.0, le=1.0)
    severity: Severity = "block"
    rationale: str | None = None


class CoverageRule(StrictModel):
    """At least ``min_features`` features are needed to reach ``share`` of the attribution."""

    min_features: int = Field(ge=1)
    share: float = Field(default=0.8, gt=0.0, le=1.0)
    severity: Severity = "block"
    rationale: str | None = None


class StabilitySpec(StrictModel):
    """Top-k agreement of the rankings of two disjoint, equally stratified halves of the sample.

    Always evaluated (it says whether the other checks judged a ranking or sampling noise); an
    unstable ranking warns by default.
    """

    top_k: int = Field(default=5, ge=1)
    min_agreement: float = Field(default=0.6, ge=0.0, le=1.0)
    severity: Severity = "warn"
    rationale: str | None = None


class DirectionRule(StrictModel):
    """The expected effect of a numeric feature on the explained output.

    The Spearman correlation of the feature's value with its SHAP value over the explained rows
    must be at least ``min_rank_correlation`` (``increasing``) or at most ``-min_rank_correlation``
    (``decreasing``). For a classifier the output is the positive class's score, so "higher
    income must not raise predicted default risk" is ``{feature: income, effect: decreasing}``.
    """

    feature: str
    effect: Literal["increasing", "decreasing"]
    min_rank_correlation: float = Field(default=0.0, ge=0.0, le=1.0)
    severity: Severity = "block"
    rationale: str | None = None


class AttributionDriftSpec(StrictModel):
    """Compare the candidate's drivers with those of the model holding an alias.

    Both models are explained on the same rows; the Spearman correlation of their mean ``|SHAP|``
    per input column (the union of both models' inputs, 0 where a model does not take a column)
    must be at least ``min_rank_correlation``. The ``top_moved`` features whose share moved most
    are listed.
    """

    alias: str = "production"
    model_name: str | None = None
    min_rank_correlation: float = Field(default=0.5, ge=-1.0, le=1.0)
    top_moved: int = Field(default=5, ge=1, le=100)
    # No champion yet (the first model of a name) is normal; "skip" records that and passes on.
    if_missing: Literal["skip", "warn", "block"] = "skip"
    severity: Severity = "block"
    rationale: str | None = None


class ExplainabilityPolicy(GateSection):
    """Policy section of the explainability gate (``gates.explainability``).

    At least one of ``forbidden``, ``max_share``, ``min_features``, ``directions`` or
    ``champion`` must be set: the stability figure alone judges the sample, not the model.
    """

    rules_hint: ClassVar[str] = (
        "set at least one of forbidden, max_share, min_features, directions or champion"
    )

    sampling: SamplingSpec = Field(default_factory=SamplingSpec)
    forbidden: ForbiddenRule | None = None
    max_share: MaxShareRule | None = None
    min_features: CoverageRule | None = None
    directions: list[DirectionRule] = Field(default_factory=list)
    champion: AttributionDriftSpec | None = None
    stability: StabilitySpec = Field(default_factory=StabilitySpec)
    dependence_plots: int = Field(default=4, ge=0, le=12)

    @property
    def has_rules(self) -> bool:
        """Whether any rule on the model is configured (stability alone is not one)."""
        return bool(self.forbidden or self.max_share or self.min_features or self.directions) or (
            self.champion is not None
        )
