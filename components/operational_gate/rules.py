"""From measured rounds to numbers, intervals and verdicts (the project's three-way rule engine).

Latency and throughput are measured in rounds. A rule is judged on the median round with a
distribution-free interval: the order statistics ``[x_(k), x_(n-k+1)]`` of the per-round values
cover the median with probability ``1 - 2 * BinomCDF(k - 1; n, 1/2)``, the largest ``k`` whose
coverage is at least the policy's confidence. No normality is assumed (latencies are skewed) and
one disturbed round moves neither end by more than one rank. A relative latency rule uses the
ratio of the candidate's and the champion's percentiles over every request (pairs sent back to
back, so the machine's slow moments hit both members), with a bootstrap over whole rounds of
pairs (a stretch of noise that hit one model widens the interval instead of failing the rule).
Size, memory and load time are measured once and judged on their value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import binom

from quality_gates.components.operational_gate.measure import Timings
from quality_gates.components.operational_gate.policy import (
    HIGHER_IS_BETTER,
    LATENCY_METRICS,
    OperationalPolicy,
    OperationalRule,
    RelativeRule,
)
from quality_gates.shared.contracts.results import CheckResult
from quality_gates.shared.gates.decisions import (
    Evidence,
    check_fields,
    describe,
    from_replicates,
    judge,
)

_PERCENTILES = {"p50": 50.0, "p95": 95.0, "p99": 99.0}


@dataclass(frozen=True)
class ModelNumbers:
    """What was measured of one model.

    Attributes:
        rounds: Per-round values of each round metric (latencies in ms, throughput in rows/s).
        pooled: Each round metric over every measured request of the run.
        once: ``size_mb``, ``memory_mb``, ``load_s`` (measured once).
        samples: Every single-row (``single``) and batch (``batch``) latency in ms, in the
            order sent; the candidate's i-th and the champion's i-th were sent back to back.
    """

    rounds: dict[str, np.ndarray]
    pooled: dict[str, float]
    once: dict[str, float]
    samples: dict[str, np.ndarray]

    def value(self, metric: str) -> float:
        """The reported number of a metric: for round metrics the median over rounds.

        That is the number the absolute rules judge (with its order-statistic interval), so
        the scorecard, the KFP metric and the check never disagree; the value pooled over
        every request is reported beside it as ``<metric>_pooled``.
        """
        if metric in self.rounds:
            return float(np.median(self.rounds[metric]))
        return self.pooled[metric] if metric in self.pooled else self.once[metric]


def _latency(arrays: list[np.ndarray], name: str) -> tuple[np.ndarray, float] | None:
    q = _PERCENTILES[name.removeprefix("batch_").removesuffix("_ms")]
    if not arrays or any(a.size == 0 for a in arrays):
        return None
    per_round = np.array([np.percentile(a, q) for a in arrays]) * 1000.0
    return per_round, float(np.percentile(np.concatenate(arrays), q) * 1000.0)


def numbers(timings: Timings, *, batch_size: int, once: dict[str, float]) -> ModelNumbers:
    """Summarise one model's timings.

    Args:
        timings: Its latencies, per round.
        batch_size: Rows per batch request (for throughput).
        once: Its size, peak memory and load time.

    Returns:
        The per-round and pooled numbers.
    """
    rounds: dict[str, np.ndarray] = {}
    pooled: dict[str, float] = {}
    for metric in LATENCY_METRICS:
        found = _latency(timings.batch if metric.startswith("batch_") else timings.single, metric)
        if found is not None:
            rounds[metric], pooled[metric] = found
    if timings.batch and all(b.size for b in timings.batch):
        rounds["throughput_rps"] = np.array([batch_size * b.size / b.sum() for b in timings.batch])
        total = sum(b.size for b in timings.batch)
        pooled["throughput_rps"] = batch_size * total / sum(b.sum() for b in timings.batch)
    samples = {
        kind: np.concatenate(arrays) * 1000.0 if arrays else np.empty(0)
        for kind, arrays in (("single", timings.single), ("batch", timings.batch))
    }
    return ModelNumbers(rounds=rounds, pooled=pooled, once=dict(once), samples=samples)


def paired_ratio(
    a: np.ndarray,
    b: np.ndarray,
    *,
    rounds: int,
    q: float,
    confidence: float,
    resamples: int = 1000,
) -> Evidence:
    """Ratio of the q-th percentiles of two paired latency samples, with a round-block bootstrap.

    Request ``i`` of the candidate and request ``i`` of the champion were sent back to back, so
    a pair shares the machine's state. Slow moments are not independent from request to
    request, though: a burst of the host's noise or a pause of one server's process lasts a
    while and can hit one model's requests in a whole stretch. Resampling single pairs would
    take such a stretch for 240 independent observations and call a same-cost candidate
    "shown to fail" (measured: a ratio of 1.41 [1.22, 1.52] for two equal models on a busy
    machine). So the bootstrap resamples whole rounds of pairs: a disturbance confined to one
    round widens the interval (inconclusive: the policy decides) instead of failing the rule.

    Args:
        a: Candidate latencies, round after round (equal-sized rounds).
        b: Champion latencies, paired with ``a``.
        rounds: Number of rounds in ``a`` and ``b`` (the blocks); when the sizes do not split
            into equal rounds, single pairs are resampled.
        q: Percentile (95 for p95).
        confidence: Coverage of the interval.
        resamples: Bootstrap resamples (seeded: the same run gives the same interval).

    Returns:
        The evidence on ``pct(a) / pct(b)``.
    """
    rng = np.random.default_rng(0)
    blocks = rounds if rounds >= 2 and a.size % rounds == 0 else a.size
    pa, pb = a.reshape(blocks, -1), b.reshape(blocks, -1)
    idx = rng.integers(0, blocks, size=(resamples, blocks))
    ra, rb = pa[idx].reshape(resamples, -1), pb[idx].reshape(resamples, -1)
    reps = np.percentile(ra, q, axis=1) / np.percentile(rb, q, axis=1)
    estimate = float(np.percentile(a, q) / np.percentile(b, q))
    unit = f"{blocks} rounds of request pairs" if blocks < a.size else f"{a.size} request pairs"
    return from_replicates(
        estimate,
        reps,
        confidence=confidence,
        n=int(a.size),
        method=f"block bootstrap over {unit} ({a.size} pairs)",
    )


def median_interval(values: np.ndarray, *, confidence: float) -> tuple[float, float, float, float]:
    """The median of per-round values and its order-statistic interval.

    Args:
        values: One value per round.
        confidence: Least coverage wanted.

    Returns:
        ``(median, low, high, coverage)``; with too few rounds for the confidence, the widest
        interval (smallest to largest round) and its lower coverage.
    """
    x = np.sort(np.asarray(values, dtype=float))
    n = x.size
    k = 1
    for candidate in range(1, n // 2 + 1):
        if 1.0 - 2.0 * binom.cdf(candidate - 1, n, 0.5) >= confidence:
            k = candidate
    coverage = float(1.0 - 2.0 * binom.cdf(k - 1, n, 0.5))
    return float(np.median(x)), float(x[k - 1]), float(x[n - k]), coverage


def _evidence(values: np.ndarray, *, confidence: float, what: str) -> Evidence:
    median, low, high, coverage = median_interval(values, confidence=confidence)
    method = f"median of {values.size} rounds, order-statistic interval (coverage {coverage:.0%})"
    return Evidence(median, low, high, n=int(values.size), method=f"{what}: {method}")


def _check(
    rule: OperationalRule | RelativeRule,
    ev: Evidence,
    *,
    name: str,
    threshold: float,
    policy: OperationalPolicy,
    family: str,
    details: dict,
) -> CheckResult:
    judge_on = "estimate" if not ev.has_interval else getattr(rule, "judge_on", "interval")
    on_inconclusive = policy.inconclusive_for(rule)
    verdict = judge(
        ev,
        threshold=threshold,
        operator=getattr(rule, "operator", "<="),
        judge_on=judge_on,
        severity=rule.severity,
        on_inconclusive=on_inconclusive,
    )
    message = describe(
        verdict,
        ev,
        what=name,
        threshold=threshold,
        operator=getattr(rule, "operator", "<="),
        confidence=policy.confidence,
        on_inconclusive=on_inconclusive,
        rows="rounds",
    )
    return CheckResult(
        name=name,
        threshold=threshold,
        operator=getattr(rule, "operator", "<="),
        severity=rule.severity,
        rationale=rule.rationale,
        family=family,
        message=message,
        details={**details, **verdict.details(), "method": ev.method},
        **check_fields(verdict, ev),
    )


def absolute_check(
    rule: OperationalRule, cand: ModelNumbers, *, policy: OperationalPolicy
) -> CheckResult:
    """Judge one absolute rule on the candidate's numbers."""
    if rule.metric in cand.rounds:
        values = cand.rounds[rule.metric]
        ev = _evidence(values, confidence=policy.confidence, what=rule.metric)
        details = {"rounds": [round(float(v), 4) for v in values], "pooled": cand.pooled}
    else:
        ev = Evidence(cand.once[rule.metric], method=f"{rule.metric}: measured once")
        details = {}
    return _check(
        rule,
        ev,
        name=rule.metric,
        threshold=rule.threshold,
        policy=policy,
        family="thresholds",
        details={k: v for k, v in details.items() if k == "rounds"},
    )


def relative_check(
    rule: RelativeRule,
    cand: ModelNumbers,
    champ: ModelNumbers,
    *,
    policy: OperationalPolicy,
    alias: str,
) -> CheckResult:
    """Judge one relative rule: candidate / champion (champion / candidate for throughput)."""
    inverted = rule.metric in HIGHER_IS_BETTER
    name = f"{rule.metric} ratio vs champion@{alias}"
    if rule.metric in LATENCY_METRICS and rule.metric in cand.rounds:
        kind = "batch" if rule.metric.startswith("batch_") else "single"
        q = _PERCENTILES[rule.metric.removeprefix("batch_").removesuffix("_ms")]
        a, b = cand.samples[kind], champ.samples[kind]
        ev = paired_ratio(
            a, b, rounds=cand.rounds[rule.metric].size, q=q, confidence=policy.confidence
        )
        ratios = cand.rounds[rule.metric] / champ.rounds[rule.metric]
        details = {"ratio_rounds": [round(float(r), 4) for r in ratios]}
    elif rule.metric in cand.rounds and rule.metric in champ.rounds:
        a, b = cand.rounds[rule.metric], champ.rounds[rule.metric]
        ratios = b / a if inverted else a / b
        ev = _evidence(ratios, confidence=policy.confidence, what="ratio per round")
        details = {"ratio_rounds": [round(float(r), 4) for r in ratios]}
    else:
        a_once, b_once = cand.value(rule.metric), champ.value(rule.metric)
        ratio = (
            (b_once / a_once if inverted else a_once / b_once) if min(a_once, b_once) > 0 else 1.0
        )
        ev = Evidence(float(ratio), method=f"{rule.metric}: ratio of values measured once")
        details = {}
    details.update(candidate=cand.value(rule.metric), champion=champ.value(rule.metric))
    return _check(
        rule,
        ev,
        name=name,
        threshold=rule.max_ratio,
        policy=policy,
        family="champion",
        details=details,
    )


def noise(values: np.ndarray) -> dict[str, float]:
    """Round-to-round spread of one number: coefficient of variation and max/min ratio."""
    v = np.asarray(values, dtype=float)
    mean = float(v.mean()) if v.size else 0.0
    return {
        "cv": float(v.std(ddof=1) / mean) if v.size > 1 and mean > 0 else 0.0,
        "max_over_min": float(v.max() / v.min()) if v.size and v.min() > 0 else 1.0,
    }
