"""The rule engine: three-way decisions from an interval, multiplicity control, rows to conclude.

Every gate judges its threshold rules here, so that a rule means the same in every gate:

* ``judge_on: interval`` (the default): a rule is **shown to pass** when its confidence interval
  lies on the passing side of the threshold, **shown to fail** when it lies on the failing side,
  and **inconclusive** when the interval straddles the threshold: the data cannot tell. The
  policy's ``on_inconclusive`` decides whether that blocks (the default) or warns, and the check
  says how many rows would make it conclusive at the observed variance.
* ``judge_on: estimate``: the point estimate against the threshold, two outcomes (the interval is
  still reported). For rules whose statistic has no interval.
* **Families** (the slices of one slice rule, the pairwise group comparisons of a fairness rule)
  are judged together with Holm's step-down (family-wise error) or Benjamini-Hochberg (false
  discovery rate) on the two-sided p-values of "the statistic equals the threshold": a check is
  conclusive when its adjusted p-value is at most ``1 - confidence``, in the direction of its
  estimate (directional Holm/BH). With one member, or ``multiplicity: none``, this is exactly the
  interval rule above.

The p-values come from the same evidence as the interval: the bootstrap replicates (the p-value
that inverts the percentile interval, with the ``+1`` Monte-Carlo correction), a normal
approximation (estimate and standard error), or an exact binomial test (the test that the
Clopper-Pearson interval inverts, for proportions in small groups).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from quality_gates.shared.contracts.results import Status

Decision = Literal["pass", "fail", "inconclusive"]

#: Names shown on reports for the adjustments.
MULTIPLICITY_NAMES = {"holm": "Holm", "bh": "Benjamini-Hochberg", "none": "none"}
#: Bootstrap intervals with more undefined replicates than this share do not judge a rule: the
#: resamples that dropped out (e.g. one class only) are exactly the unfavourable ones.
MAX_UNDEFINED_SHARE = 0.05


@dataclass(frozen=True)
class Evidence:
    """What the data says about one statistic.

    Attributes:
        estimate: Point estimate on all rows.
        low: Lower bound of the interval at the gate's confidence (None without an interval).
        high: Upper bound.
        n: Rows behind the statistic (the smallest group for a comparison), for rows-needed.
        method: How the interval was computed, for the report.
        p_value: ``p(threshold)``: two-sided p-value of "the statistic equals ``threshold``",
            from the same evidence as the interval; needed to judge a family.
        note: Why the interval cannot judge the rule (e.g. too many undefined resamples).
    """

    estimate: float
    low: float | None = None
    high: float | None = None
    n: int | None = None
    method: str = ""
    p_value: Callable[[float], float] | None = field(default=None, compare=False)
    note: str | None = None

    @property
    def has_interval(self) -> bool:
        """Whether a finite interval is available."""
        return (
            self.low is not None
            and self.high is not None
            and math.isfinite(self.low)
            and math.isfinite(self.high)
        )


@dataclass(frozen=True)
class Verdict:
    """The outcome of one rule.

    Attributes:
        decision: ``pass``, ``fail`` or ``inconclusive``.
        status: The check status the policy gives that decision.
        judged_on: ``interval`` or ``estimate``.
        p_value: Two-sided p-value against the threshold (None without one).
        adjusted_p: The family-adjusted p-value (None outside a family).
        rows_needed: Rows that would make an inconclusive result conclusive at the observed
            variance and estimate (None when conclusive, or when the estimate sits on the
            threshold, where no sample size concludes).
    """

    decision: Decision
    status: Status
    judged_on: str
    p_value: float | None = None
    adjusted_p: float | None = None
    rows_needed: int | None = None

    def details(self) -> dict[str, object]:
        """The verdict's fields for a check's ``details`` (None values left out)."""
        out: dict[str, object] = {"decision": self.decision, "judged_on": self.judged_on}
        for key in ("p_value", "adjusted_p", "rows_needed"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out


def status_of(decision: Decision, *, severity: str, on_inconclusive: str) -> Status:
    """The check status of a decision under the rule's severity and the inconclusive policy."""
    if decision == "pass":
        return Status.PASSED
    if decision == "fail":
        return Status.FAILED if severity == "block" else Status.WARNED
    blocks = severity == "block" and on_inconclusive == "block"
    return Status.FAILED if blocks else Status.WARNED


def _passes(value: float, threshold: float, operator: str) -> bool:
    return value >= threshold if operator == ">=" else value <= threshold


def _interval_decision(ev: Evidence, threshold: float, operator: str) -> Decision:
    low, high = float(ev.low), float(ev.high)  # type: ignore[arg-type]
    if operator == ">=":
        if low >= threshold:
            return "pass"
        return "fail" if high < threshold else "inconclusive"
    if high <= threshold:
        return "pass"
    return "fail" if low > threshold else "inconclusive"


def rows_needed(ev: Evidence, threshold: float, *, scale: float = 1.0) -> int | None:
    """Rows at which the interval would exclude the threshold, at the observed spread.

    An interval's half-width shrinks as ``1 / sqrt(n)``; the half facing the threshold must
    become shorter than the distance of the estimate to the threshold.

    Args:
        ev: The evidence (with an interval and ``n``).
        threshold: The rule's threshold.
        scale: Widening of the interval under a family adjustment (ratio of critical values).

    Returns:
        The rows needed, or None when unknown or when the estimate sits on the threshold.
    """
    if not ev.has_interval or not ev.n:
        return None
    gap = abs(ev.estimate - threshold)
    half = (ev.estimate - ev.low) if ev.estimate >= threshold else (ev.high - ev.estimate)  # type: ignore[operator]
    if gap <= 1e-12 or half <= 0 or not math.isfinite(half):
        return None
    return int(math.ceil(ev.n * (scale * half / gap) ** 2))


def judge(
    ev: Evidence,
    *,
    threshold: float,
    operator: str,
    judge_on: str,
    severity: str,
    on_inconclusive: str,
) -> Verdict:
    """Judge one rule on its evidence.

    Args:
        ev: The statistic's evidence.
        threshold: The rule's bound.
        operator: ``>=`` (a ``min`` rule) or ``<=`` (a ``max`` rule).
        judge_on: ``interval`` (three outcomes) or ``estimate`` (two).
        severity: ``block`` or ``warn``.
        on_inconclusive: ``block`` or ``warn``.

    Returns:
        The verdict. An interval rule without a usable interval is inconclusive (it never
        passes on an interval it does not have).
    """
    p = ev.p_value(threshold) if ev.p_value is not None else None
    if judge_on == "estimate":
        decision: Decision = "pass" if _passes(ev.estimate, threshold, operator) else "fail"
        return Verdict(
            decision,
            status_of(decision, severity=severity, on_inconclusive=on_inconclusive),
            "estimate",
            p_value=p,
        )
    if not ev.has_interval or ev.note:
        decision = "inconclusive"
    else:
        decision = _interval_decision(ev, threshold, operator)
    needed = rows_needed(ev, threshold) if decision == "inconclusive" else None
    return Verdict(
        decision,
        status_of(decision, severity=severity, on_inconclusive=on_inconclusive),
        "interval",
        p_value=p,
        rows_needed=needed,
    )


def adjust(p_values: Sequence[float], method: str) -> np.ndarray:
    """Family-adjusted p-values (vectorised).

    Args:
        p_values: Unadjusted p-values of one family.
        method: ``holm`` (step-down, family-wise error), ``bh`` (Benjamini-Hochberg step-up,
            false discovery rate) or ``none``.

    Returns:
        Adjusted p-values in the input order, capped at 1.
    """
    p = np.asarray(p_values, dtype=float)
    m = p.size
    if m == 0 or method == "none":
        return p.copy()
    order = np.argsort(p, kind="stable")
    ranked = p[order]
    if method == "holm":
        adj = np.maximum.accumulate((m - np.arange(m)) * ranked)
    elif method == "bh":
        adj = np.minimum.accumulate(m / np.arange(m, 0, -1) * ranked[::-1])[::-1]
    else:
        raise ValueError(f"unknown multiplicity method {method!r}; use holm, bh or none")
    out = np.empty(m)
    out[order] = np.minimum(adj, 1.0)
    return out


def judge_family(
    evidence: Sequence[Evidence],
    *,
    thresholds: Sequence[float],
    operator: str,
    judge_on: str,
    severity: str,
    on_inconclusive: str,
    confidence: float,
    method: str,
) -> list[Verdict]:
    """Judge a family of checks of one rule (slices, groups) with multiplicity control.

    Args:
        evidence: One evidence per member.
        thresholds: The bound of each member (usually the same for all).
        operator: ``>=`` or ``<=``.
        judge_on: ``interval`` or ``estimate`` (estimates are not adjusted: there is no error
            rate to control).
        severity: ``block`` or ``warn``.
        on_inconclusive: ``block`` or ``warn``.
        confidence: The family's confidence; ``1 - confidence`` is the error rate controlled.
        method: ``holm``, ``bh`` or ``none``.

    Returns:
        One verdict per member, in order. Members without an interval or a p-value are
        inconclusive under ``judge_on: interval``.
    """
    common = dict(operator=operator, severity=severity, on_inconclusive=on_inconclusive)
    single = [
        judge(e, threshold=t, judge_on=judge_on, **common)
        for e, t in zip(evidence, thresholds, strict=True)
    ]
    judged = [
        i
        for i, e in enumerate(evidence)
        if judge_on == "interval" and e.has_interval and not e.note and e.p_value is not None
    ]
    if method == "none" or len(judged) < 2:
        return single
    alpha = 1.0 - confidence
    raw = [evidence[i].p_value(thresholds[i]) for i in judged]  # type: ignore[misc]
    adj = adjust(raw, method)
    m = len(judged)
    # Rows needed under the adjustment: the interval widens by the Bonferroni critical value.
    scale = _z(alpha / (2 * m)) / _z(alpha / 2)
    out = list(single)
    for i, p, q in zip(judged, raw, adj, strict=True):
        ev, t = evidence[i], thresholds[i]
        if q <= alpha and abs(ev.estimate - t) > 0:
            decision: Decision = "pass" if _passes(ev.estimate, t, operator) else "fail"
        else:
            decision = "inconclusive"
        out[i] = Verdict(
            decision,
            status_of(decision, severity=severity, on_inconclusive=on_inconclusive),
            "interval",
            p_value=float(p),
            adjusted_p=float(q),
            rows_needed=rows_needed(ev, t, scale=scale) if decision == "inconclusive" else None,
        )
    return out


def _z(tail: float) -> float:
    from scipy.stats import norm

    return float(norm.isf(tail))


# --------------------------------------------------------------------------------------------
# Evidence builders


def from_replicates(
    estimate: float,
    replicates: np.ndarray,
    *,
    confidence: float,
    n: int | None,
    method: str = "percentile bootstrap",
) -> Evidence:
    """Evidence from bootstrap replicates: the percentile interval and its p-value.

    Args:
        estimate: Point estimate on all rows.
        replicates: The statistic on each resample (``nan`` where undefined).
        confidence: Coverage of the interval.
        n: Rows behind the statistic.
        method: Description for the report.

    Returns:
        The evidence; with more than 5% undefined resamples it carries a note and judges
        nothing (those resamples are the ones where the statistic breaks down).
    """
    reps = np.asarray(replicates, dtype=float)
    finite = np.sort(reps[np.isfinite(reps)])
    if finite.size == 0:
        return Evidence(estimate, n=n, method=method, note="no resample defines the statistic")
    alpha = 1.0 - confidence
    low, high = np.quantile(finite, [alpha / 2.0, 1.0 - alpha / 2.0])
    undefined = 1.0 - finite.size / reps.size
    note = None
    if undefined > MAX_UNDEFINED_SHARE:
        note = (
            f"{undefined:.0%} of the bootstrap resamples leave the statistic undefined, so the "
            "interval is not trustworthy"
        )

    def p_value(threshold: float) -> float:
        below = np.searchsorted(finite, threshold, side="left")
        above = finite.size - np.searchsorted(finite, threshold, side="right")
        tail = min(
            below + 0.5 * (finite.size - below - above), above + 0.5 * (finite.size - below - above)
        )
        return float(min(1.0, 2.0 * (tail + 1.0) / (finite.size + 1.0)))

    return Evidence(
        float(estimate), float(low), float(high), n=n, method=method, p_value=p_value, note=note
    )


def from_normal(
    estimate: float, se: float, *, confidence: float, n: int | None, method: str = "normal"
) -> Evidence:
    """Evidence from an estimate and its standard error (normal approximation)."""
    from scipy.stats import norm

    if not (math.isfinite(estimate) and math.isfinite(se)) or se < 0:
        return Evidence(estimate, n=n, method=method, note="the standard error is undefined")
    z = float(norm.isf((1.0 - confidence) / 2.0))

    def p_value(threshold: float) -> float:
        if se == 0:
            return 0.0 if estimate != threshold else 1.0
        return float(min(1.0, 2.0 * norm.sf(abs(estimate - threshold) / se)))

    return Evidence(
        float(estimate), estimate - z * se, estimate + z * se, n=n, method=method, p_value=p_value
    )


def from_binomial(successes: int, trials: int, *, confidence: float) -> Evidence:
    """Evidence on a proportion from its counts: the exact (Clopper-Pearson) interval.

    Fit for small counts, where resampling a few rows says little: the interval is the
    inversion of the exact two-sided binomial test, whose p-value it carries.
    """
    from scipy.stats import beta, binom

    x, n = int(successes), int(trials)
    if n <= 0:
        return Evidence(float("nan"), n=0, method="exact binomial", note="no rows")
    alpha = 1.0 - confidence
    low = 0.0 if x == 0 else float(beta.ppf(alpha / 2.0, x, n - x + 1))
    high = 1.0 if x == n else float(beta.ppf(1.0 - alpha / 2.0, x + 1, n - x))

    def p_value(threshold: float) -> float:
        t = min(max(threshold, 0.0), 1.0)
        return float(min(1.0, 2.0 * min(binom.cdf(x, n, t), binom.sf(x - 1, n, t))))

    return Evidence(
        x / n, low, high, n=n, method="exact binomial (Clopper-Pearson)", p_value=p_value
    )


# --------------------------------------------------------------------------------------------
# Messages


def describe(
    verdict: Verdict,
    ev: Evidence,
    *,
    what: str,
    threshold: float,
    operator: str,
    confidence: float,
    on_inconclusive: str,
    rows: str = "rows",
) -> str:
    """One sentence saying what the evidence showed, for a check's message.

    Args:
        verdict: The verdict.
        ev: Its evidence.
        what: The statistic's name as the reader knows it (``roc_auc``, ``DPD over sex``).
        threshold: The bound.
        operator: ``>=`` or ``<=``.
        confidence: Coverage of the interval shown.
        on_inconclusive: The inconclusive policy in force, named when it applies.
        rows: What ``rows_needed`` counts (``rows``, ``rows per group``).

    Returns:
        E.g. ``roc_auc = 0.705, 95% CI [0.69, 0.72]: inconclusive, cannot tell it from >= 0.7
        (blocks under on_inconclusive: block); about 8300 rows would decide at this spread``.
    """
    ci = f", {confidence:.0%} CI [{ev.low:.4g}, {ev.high:.4g}]" if ev.has_interval else ""
    bar = f"{operator} {threshold:g}"
    adj = f", adjusted p {verdict.adjusted_p:.3g}" if verdict.adjusted_p is not None else ""
    head = f"{what} = {ev.estimate:.4g}{ci}{adj}"
    by = f" by {abs(ev.estimate - threshold):.3g}"
    if verdict.judged_on == "estimate":
        verb = "meets" if verdict.decision == "pass" else "violates"
        gap = "" if verdict.decision == "pass" else by
        return f"{head} {verb} {bar}{gap} (judged on the estimate)"
    if verdict.decision == "pass":
        return f"{head}: shown to meet {bar}"
    if verdict.decision == "fail":
        return f"{head}: shown to violate {bar}{by}"
    why = ev.note or ("no interval" if not ev.has_interval else f"cannot tell it from {bar}")
    effect = (
        f"blocks under on_inconclusive: {on_inconclusive}"
        if verdict.status == Status.FAILED
        else "warns"
    )
    text = f"{head}: inconclusive, {why} ({effect})"
    if verdict.rows_needed is not None:
        text += f"; about {verdict.rows_needed} {rows} would decide at this spread"
    return text


def check_fields(verdict: Verdict, ev: Evidence) -> dict[str, object]:
    """Keyword arguments of a ``CheckResult`` that carry a verdict and its interval."""
    return {
        "status": verdict.status,
        "decision": verdict.decision if verdict.judged_on == "interval" else None,
        "value": ev.estimate,
        "ci_low": ev.low,
        "ci_high": ev.high,
    }
