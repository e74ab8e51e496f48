"""Policy section of the shadow gate (``gates.shadow``): the candidate against production.

Every rule is data with a direction (``max`` or ``min``), a severity and a rationale, judged by the
one rule engine (``shared/gates/decisions.py``): proportions on their exact (Clopper-Pearson)
interval, the score shift on its bootstrap interval. A rule whose interval straddles its bound is
inconclusive and ``on_inconclusive`` decides what that does.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from quality_gates.shared.policy.base import (
    JudgedSection,
    OnInconclusive,
    Severity,
    StrictModel,
)

#: Distances of the candidate's scores from production's (the drift gate's numeric distances).
ShiftMetric = Literal["psi", "wasserstein_norm", "ks"]


class LogColumns(StrictModel):
    """Which column of a tabular request log plays which role.

    Attributes:
        request_id: One id per logged request (unique).
        score: Production's probability of the positive class, or None.
        decision: Production's decision (a class of the model: 0/1, a label, a boolean), or
            None to take ``score >= decision_threshold`` as production's decision.
        segments: Columns whose values split the traffic (region, channel, ...): each value is
            a segment with its own flip-rate check.
        latency_ms: Production's latency per request, summarised when present.
        error: Production's error flag per request (true / 1 / a non-empty text), summarised.
        features: The model's input columns for a model that does not name them; by default
            every column not named above (and not in ``data.exclude``).
    """

    request_id: str = "request_id"
    score: str | None = None
    decision: str | None = None
    segments: list[str] = Field(default_factory=list)
    latency_ms: str | None = "latency_ms"
    error: str | None = "error"
    features: list[str] | None = None


class KServeOutputs(StrictModel):
    """Where production's answer is in a KServe response event.

    Attributes:
        decision_output: Name of the Open Inference Protocol (v2) output holding the decision;
            None: an output named ``predict``, ``label`` or ``output-0``, or the only 1-d one.
        score_output: Name of the v2 output holding probabilities (``[n, classes]`` or the
            positive class's ``[n]``); None: an output named ``predict_proba`` or
            ``probabilities`` when there is one.
        v1_predictions: What a v1 ``predictions`` list of scalars holds: ``decision`` (class
            values) or ``score`` (positive-class probabilities); lists of lists are always
            probabilities.
    """

    decision_output: str | None = None
    score_output: str | None = None
    v1_predictions: Literal["decision", "score"] = "decision"


class RateRule(StrictModel):
    """A bound on a proportion: ``max`` (at most) or ``min`` (at least), exactly one.

    Judged on the exact binomial (Clopper-Pearson) interval of the proportion.
    """

    max: float | None = Field(default=None, ge=0.0, le=1.0)
    min: float | None = Field(default=None, ge=0.0, le=1.0)
    on_inconclusive: OnInconclusive | None = None
    severity: Severity = "block"
    rationale: str | None = None

    @model_validator(mode="after")
    def _one_bound(self) -> RateRule:
        if (self.min is None) == (self.max is None):
            raise ValueError("a rate rule needs exactly one of 'min' or 'max'")
        return self

    @property
    def operator(self) -> str:
        """``>=`` for a ``min`` rule, ``<=`` for a ``max`` rule."""
        return ">=" if self.min is not None else "<="

    @property
    def threshold(self) -> float:
        """The bound of the rule."""
        return self.min if self.min is not None else self.max  # type: ignore[return-value]


class MaxRate(RateRule):
    """A ``max`` bound on a proportion (flip rate, error rate, unanswered requests)."""

    @model_validator(mode="after")
    def _max_only(self) -> MaxRate:
        if self.max is None:
            raise ValueError("this rule takes 'max' (the share may be at most this), not 'min'")
        return self


class MinRate(RateRule):
    """A ``min`` bound on a proportion (agreement)."""

    @model_validator(mode="after")
    def _min_only(self) -> MinRate:
        if self.min is None:
            raise ValueError("this rule takes 'min' (the share must be at least this), not 'max'")
        return self


class SegmentFlipRule(MaxRate):
    """The flip-rate bound in every segment of the ``columns.segments`` columns.

    The segments of one column are a family judged with the section's ``multiplicity``
    (Holm or Benjamini-Hochberg). A segment with fewer than ``min_size`` requests is left out of
    the family and gets ``on_small`` (never a silent pass) unless its own exact interval already
    shows it over the bound, which fails it whatever its size.
    """

    min_size: int = Field(default=100, ge=1)
    on_small: Literal["warn", "block", "skip"] = "warn"


class ScoreShiftRule(StrictModel):
    """A bound on the distance of the candidate's score distribution from production's.

    Attributes:
        metric: ``psi`` (on production's score deciles), ``wasserstein_norm`` (Wasserstein over
            production's score standard deviation) or ``ks``.
        max: The distance may be at most this.
    """

    metric: ShiftMetric = "psi"
    max: float = Field(gt=0.0)
    on_inconclusive: OnInconclusive | None = None
    severity: Severity = "block"
    rationale: str | None = None


class ShadowPolicy(JudgedSection):
    """Policy section ``gates.shadow``.

    Attributes:
        columns: Column roles of a tabular log (Parquet / CSV).
        kserve: Where production's answer is in KServe payload-logger events (JSON Lines).
        decision_threshold: The candidate's (and production's, without a decision column)
            positive-class probability at or above which the decision is positive.
        max_flip_rate: Bound on the share of requests whose decision the candidate changes.
        segment_flip_rate: The same bound in every segment of ``columns.segments``.
        min_agreement: Bound on the share of answered requests on which the candidate returns
            production's decision (a request the candidate cannot score does not agree).
        score_shift: Bound on the candidate's score distribution against production's.
        max_candidate_error_rate: Bound on the share of requests the candidate cannot score.
        max_unanswered_rate: Bound on the share of logged requests without production's answer.
        min_requests: Fewer answered requests are an error: no evidence.
        confidence: Coverage of every interval.
        n_resamples: Bootstrap resamples of the score shift's interval.
        seed: Seed of that bootstrap.
        chunk_rows: When scoring the whole log at once fails, the candidate is scored in chunks
            of this many rows and the rows of chunks that still fail are counted as errors.
    """

    rules_hint: ClassVar[str] = "add a rule (e.g. max_flip_rate: {max: 0.05})"

    columns: LogColumns = Field(default_factory=LogColumns)
    kserve: KServeOutputs = Field(default_factory=KServeOutputs)
    decision_threshold: float = Field(default=0.5, gt=0.0, lt=1.0)
    max_flip_rate: MaxRate | None = None
    segment_flip_rate: SegmentFlipRule | None = None
    min_agreement: MinRate | None = None
    score_shift: ScoreShiftRule | None = None
    max_candidate_error_rate: MaxRate | None = None
    max_unanswered_rate: MaxRate | None = None
    min_requests: int = Field(default=100, ge=1)
    confidence: float = Field(default=0.95, gt=0.5, lt=1.0)
    n_resamples: int = Field(default=500, ge=100, le=100_000)
    seed: int = 0
    chunk_rows: int = Field(default=50_000, ge=1)

    @model_validator(mode="after")
    def _segments_have_columns(self) -> ShadowPolicy:
        if self.segment_flip_rate is not None and not self.columns.segments:
            raise ValueError(
                "segment_flip_rate needs columns.segments (e.g. segments: [region]): the columns "
                "whose values are the segments"
            )
        return self

    @property
    def rules(self) -> dict[str, Any]:
        """The configured rules by name (the section's keys)."""
        names = (
            "max_flip_rate",
            "segment_flip_rate",
            "min_agreement",
            "score_shift",
            "max_candidate_error_rate",
            "max_unanswered_rate",
        )
        return {n: getattr(self, n) for n in names if getattr(self, n) is not None}

    @property
    def has_rules(self) -> bool:
        """Whether any rule is configured."""
        return bool(self.rules)
