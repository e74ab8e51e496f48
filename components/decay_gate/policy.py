"""Policy section of the decay gate: the candidate against the champion on production data.

The section is the performance gate's section (the same metrics, intervals, slices and
non-inferiority rules, so one reading of the policy serves both gates) plus what is particular to
a production sample: how recent it must be. What differs is the data it is judged on: a recent,
labelled sample of production traffic instead of the held-out evaluation set, so a candidate that
wins offline but loses on today's traffic is caught before it ships.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, model_validator

from quality_gates.components.performance_gate.policy import PerformancePolicy
from quality_gates.shared.policy.base import Severity, StrictModel


class SampleRecency(StrictModel):
    """How recent the production sample must be.

    Attributes:
        time_column: Column of the sample holding each row's event time (parsed as UTC; a
            time without a zone is taken as UTC).
        max_age_days: The newest row must be at most this many days before the gate runs: a
            stale sample says nothing about today's traffic.
        min_span_days: The rows must cover at least this many days (0: no minimum), so one busy
            hour does not stand for a month of traffic.
        severity: ``block`` (default) or ``warn`` when the sample is too old or too short.
        rationale: Why, for the report.
    """

    time_column: str
    max_age_days: float = Field(gt=0)
    min_span_days: float = Field(default=0.0, ge=0)
    severity: Severity = "block"
    rationale: str | None = None


class DecayPolicy(PerformancePolicy):
    """Policy section of the decay gate (``gates.decay``).

    Everything of ``gates.performance`` applies, judged on the production sample: ``rules``
    (absolute thresholds on the candidate), ``slices`` and ``champion`` (non-inferiority rules
    with a margin, paired on the same rows). ``sample`` adds the recency rule.

    Attributes:
        sample: The recency rule of the production sample, or None to not check it.
    """

    rules_hint: ClassVar[str] = (
        "add a champion section with at least one rule (e.g. champion: {rules: [{metric: "
        "roc_auc, margin: 0.01}]}) or a threshold rule"
    )

    sample: SampleRecency | None = None

    @model_validator(mode="after")
    def _champion_has_rules(self) -> DecayPolicy:
        business_vs_champion = self.business is not None and self.business.vs_champion is not None
        if self.champion is not None and not self.champion.rules and not business_vs_champion:
            raise ValueError(
                "gates.decay.champion has no rules; add at least one {metric, margin} rule or a "
                "business.vs_champion rule (the decay gate compares the candidate with the "
                "champion on production data)"
            )
        return self
