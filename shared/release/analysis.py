"""A canary stage judged on live metrics: exact per-stage counts, intervals, the rule engine.

Each side (stable, canary) is read from Prometheus at the stage's start and end; the
differences are the stage's requests exactly. The error rate of each side is a binomial
proportion; ``max_increase`` rules are judged on Newcombe's hybrid score interval of the
difference canary - stable (good coverage at rates near 0, where the Wald interval fails).
Latency percentiles come from the request-duration histogram's bucket counts, interpolated
within the bucket as PromQL's ``histogram_quantile`` does; their intervals come from a
multinomial bootstrap over the buckets (the counts *are* the data, so resampling cells is the
exact bootstrap of the requests at the histogram's resolution). The two sides are independent
requests, so the ratio's bootstrap resamples each side on its own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.stats import norm

from quality_gates.shared.contracts.errors import GateInputError
from quality_gates.shared.contracts.results import CheckResult
from quality_gates.shared.gates.decisions import (
    Evidence,
    check_fields,
    describe,
    from_binomial,
    from_replicates,
    judge,
)
from quality_gates.shared.policy.release import CanaryPolicy, CanaryRule
from quality_gates.shared.release.prometheus import PrometheusClient

_Q = {"p50_ms": 0.50, "p95_ms": 0.95, "p99_ms": 0.99}
_RESAMPLES = 2000


@dataclass(frozen=True)
class SideCounts:
    """What one side served during a stage.

    Attributes:
        success: Answered inference requests.
        failure: Failed inference requests.
        les: Upper bounds of the duration buckets, seconds, increasing (``inf`` last).
        counts: Requests per bucket (not cumulative), aligned with ``les``.
        rows: Rows answered (``positive_rate`` rules only; the counting runtime's counter).
        positives: Rows predicted positive.
    """

    success: int
    failure: int
    les: np.ndarray
    counts: np.ndarray
    rows: int = 0
    positives: int = 0

    @property
    def total(self) -> int:
        """Inference requests of the stage."""
        return self.success + self.failure


def _with(selector: str, extra: str) -> str:
    inner = selector.strip().removeprefix("{").removesuffix("}").strip()
    return "{" + ", ".join(x for x in (inner, extra) if x) + "}"


def read_side(client: PrometheusClient, policy: CanaryPolicy, side: str, *, at: float) -> dict:
    """Cumulative counters and buckets of one side at a time (raw Prometheus values)."""
    m = policy.metrics
    selector = m.canary_selector if side == "canary" else m.stable_selector
    success = client.scalar_sum(f"sum({m.success_metric}{selector})", at=at)
    failure = client.scalar_sum(f"sum({m.failure_metric}{selector})", at=at)
    buckets = client.buckets(m.latency_metric, _with(selector, m.latency_filter), at=at)
    out = {"success": success, "failure": failure, "buckets": buckets}
    if any(r.metric == "positive_rate" for r in policy.rules):
        out["rows"] = client.scalar_sum(f"sum({m.rows_metric}{selector})", at=at)
        out["positives"] = client.scalar_sum(f"sum({m.positive_metric}{selector})", at=at)
    return out


def stage_counts(before: dict, after: dict, *, side: str, url: str) -> SideCounts:
    """The stage's requests of one side: the end's counters minus the start's.

    Raises:
        GateInputError: No series at the stage's end (a query that returns nothing), or a
            counter that went down (the server restarted during the stage).
    """
    if after["success"] is None and after["failure"] is None:
        raise GateInputError(
            f"Prometheus at {url} has no inference-request counters for the {side} model "
            "(query returned nothing); check release.canary.metrics selectors and scraping"
        )
    ok = (after["success"] or 0.0) - (before["success"] or 0.0)
    bad = (after["failure"] or 0.0) - (before["failure"] or 0.0)
    end, start = after["buckets"] or {}, before["buckets"] or {}
    les = np.array(sorted(end), dtype=float)
    cum = np.array([end[le] - start.get(le, 0.0) for le in les], dtype=float)
    if ok < 0 or bad < 0 or (cum.size and np.any(np.diff(cum) < -1e-9)) or np.any(cum < 0):
        raise GateInputError(
            f"the {side} model's counters went down during the stage (its server restarted); "
            "the stage cannot be judged: hold, and rerun the stage"
        )
    counts = np.diff(np.concatenate([[0.0], cum])) if cum.size else cum
    rows, positives = _decisions(before, after, side=side, url=url)
    return SideCounts(int(round(ok)), int(round(bad)), les, np.rint(counts).astype(np.int64),
                      rows, positives)  # fmt: skip


def _decisions(before: dict, after: dict, *, side: str, url: str) -> tuple[int, int]:
    """Rows and positive decisions of the stage, when the policy asked for them."""
    if "rows" not in after:
        return 0, 0
    if after["rows"] is None:
        raise GateInputError(
            f"Prometheus at {url} has no decision counters for the {side} model (query returned "
            "nothing): positive_rate rules need servers that count their decisions "
            "(shared/serving/runtimes, qg_decision_rows_total)"
        )
    rows = after["rows"] - (before.get("rows") or 0.0)
    positives = (after["positives"] or 0.0) - (before.get("positives") or 0.0)
    if rows < 0 or positives < 0:
        raise GateInputError(f"the {side} model's decision counters went down during the stage")
    return int(round(rows)), int(round(positives))


def quantile(les: np.ndarray, counts: np.ndarray, q: float) -> np.ndarray:
    """``histogram_quantile``: the q-th quantile of bucket counts (rows of ``counts``), in ms.

    Linear interpolation inside the bucket holding the rank; the lowest bucket starts at 0;
    a rank in the ``+Inf`` bucket returns the highest finite bound (as Prometheus does).
    """
    counts = np.atleast_2d(counts).astype(float)
    cum = np.cumsum(counts, axis=1)
    total = cum[:, -1]
    rank = q * total
    idx = np.minimum((cum < rank[:, None]).sum(axis=1), les.size - 1)
    lower = np.where(idx > 0, les[np.maximum(idx - 1, 0)], 0.0)
    upper = les[idx]
    below = np.where(idx > 0, cum[np.arange(cum.shape[0]), np.maximum(idx - 1, 0)], 0.0)
    inside = counts[np.arange(cum.shape[0]), idx]
    frac = np.divide(rank - below, inside, out=np.zeros_like(rank), where=inside > 0)
    finite_top = les[np.isfinite(les)].max() if np.isfinite(les).any() else np.nan
    value = np.where(np.isinf(upper), finite_top, lower + (upper - lower) * frac)
    return np.where(total > 0, value * 1000.0, np.nan)


def _resampled(side: SideCounts, rng: np.random.Generator) -> np.ndarray:
    n = int(side.counts.sum())
    return rng.multinomial(n, side.counts / n, size=_RESAMPLES)


def latency_evidence(rule: CanaryRule, stable: SideCounts, canary: SideCounts, *,
                     confidence: float) -> Evidence:  # fmt: skip
    """Evidence on the canary's percentile (``max``) or its ratio to stable's."""
    q = _Q[rule.metric]
    rng = np.random.default_rng(0)
    if canary.counts.sum() == 0 or (rule.max_ratio is not None and stable.counts.sum() == 0):
        side = "canary" if canary.counts.sum() == 0 else "stable"
        return Evidence(float("nan"), method="histogram", note=f"no {side} requests timed")
    c_est = float(quantile(canary.les, canary.counts, q)[0])
    c_reps = quantile(canary.les, _resampled(canary, rng), q)
    method = "multinomial bootstrap over histogram buckets"
    if rule.max_ratio is None:
        return from_replicates(c_est, c_reps, confidence=confidence, n=canary.total,
                               method=method)  # fmt: skip
    s_est = float(quantile(stable.les, stable.counts, q)[0])
    s_reps = quantile(stable.les, _resampled(stable, rng), q)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = c_est / s_est if s_est > 0 else float("nan")
        reps = np.where(s_reps > 0, c_reps / s_reps, np.nan)
    return from_replicates(ratio, reps, confidence=confidence,
                           n=min(canary.total, stable.total), method=method)  # fmt: skip


def _wilson(x: int, n: int, z: float) -> tuple[float, float]:
    p = x / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def error_difference(stable: SideCounts, canary: SideCounts, *, confidence: float) -> Evidence:
    """Canary minus stable error rate, Newcombe's hybrid score interval (method 10)."""
    return proportion_difference(
        (canary.failure, canary.total), (stable.failure, stable.total), confidence=confidence
    )


def proportion_difference(
    canary: tuple[int, int], stable: tuple[int, int], *, confidence: float
) -> Evidence:
    """``x1/n1 - x2/n2`` with Newcombe's hybrid score interval (method 10)."""
    (xc, nc), (xs, ns) = canary, stable
    if nc == 0 or ns == 0:
        return Evidence(float("nan"), method="Newcombe", note="a side served no requests")
    z = float(norm.isf((1 - confidence) / 2))
    pc, ps = xc / nc, xs / ns
    lc, uc = _wilson(xc, nc, z)
    ls, us = _wilson(xs, ns, z)
    d = pc - ps
    low = d - math.sqrt((pc - lc) ** 2 + (us - ps) ** 2)
    high = d + math.sqrt((uc - pc) ** 2 + (ps - ls) ** 2)
    return Evidence(d, low, high, n=min(nc, ns),
                    method="Newcombe hybrid score interval of the difference")  # fmt: skip


def _evidence(rule: CanaryRule, stable: SideCounts, canary: SideCounts, conf: float) -> Evidence:
    if rule.metric == "positive_rate":
        return proportion_difference((canary.positives, canary.rows),
                                     (stable.positives, stable.rows), confidence=conf)  # fmt: skip
    if rule.metric != "error_rate":
        return latency_evidence(rule, stable, canary, confidence=conf)
    if rule.max_increase is not None:
        return error_difference(stable, canary, confidence=conf)
    return from_binomial(canary.failure, canary.total, confidence=conf)


def _name(rule: CanaryRule) -> str:
    if rule.max_difference is not None:
        return "positive_rate difference vs stable"
    if rule.max_increase is not None:
        return "error_rate increase vs stable"
    return f"{rule.metric} ratio vs stable" if rule.max_ratio is not None else rule.metric


def _absolute(ev: Evidence) -> Evidence:
    """Evidence on ``|d|`` from evidence on ``d``: the interval of the absolute value.

    ``|d| <= b`` is shown when the whole interval of ``d`` lies in ``[-b, b]``, refuted when it
    lies wholly outside; the interval of ``|d|`` (``[0, max]`` when ``d``'s straddles 0) gives
    exactly those two outcomes against ``b``.
    """
    if not ev.has_interval or ev.note:
        return Evidence(abs(ev.estimate), n=ev.n, method=ev.method, note=ev.note)
    low, high = float(ev.low), float(ev.high)  # type: ignore[arg-type]
    lo = 0.0 if low <= 0.0 <= high else min(abs(low), abs(high))
    return Evidence(abs(ev.estimate), lo, max(abs(low), abs(high)), n=ev.n, method=ev.method)


def judge_stage(policy: CanaryPolicy, stable: SideCounts, canary: SideCounts) -> list[CheckResult]:
    """Every rule of the policy on one stage's counts, as checks (inconclusive is a warning).

    The rollout reads the decisions: any blocking rule shown to fail rolls back; an
    inconclusive one extends the stage.
    """
    checks = []
    for rule in policy.rules:
        ev = _evidence(rule, stable, canary, policy.confidence)
        if rule.max_difference is not None:  # two-sided: |difference| <= bound
            ev, bound = _absolute(ev), rule.max_difference
        else:
            bound = next(v for v in (rule.max_increase, rule.max_ratio, rule.max) if v is not None)
        verdict = judge(ev, threshold=bound, operator="<=", judge_on="interval",
                        severity=rule.severity, on_inconclusive="warn")  # fmt: skip
        name = _name(rule)
        message = describe(verdict, ev, what=name, threshold=bound, operator="<=",
                           confidence=policy.confidence, on_inconclusive="warn",
                           rows="requests")  # fmt: skip
        checks.append(
            CheckResult(
                name=name,
                threshold=bound,
                operator="<=",
                severity=rule.severity,
                rationale=rule.rationale,
                family="canary",
                message=message,
                details={**verdict.details(), "method": ev.method,
                         "canary_requests": canary.total, "stable_requests": stable.total,
                         "canary_errors": canary.failure, "stable_errors": stable.failure},
                **check_fields(verdict, ev),
            )
        )  # fmt: skip
    return checks
