"""The canary's statistics and decisions, without servers: histograms, intervals, the loop."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from quality_gates.shared.contracts.errors import GateInputError
from quality_gates.shared.policy.release import CanaryPolicy
from quality_gates.shared.release.analysis import (
    SideCounts,
    error_difference,
    judge_stage,
    quantile,
    stage_counts,
)
from quality_gates.shared.release.canary import look_confidence, rollout

LES = np.array([0.005, 0.01, 0.025, 0.05, 0.1, np.inf])


def _side(latencies_s: np.ndarray, failures: int = 0) -> SideCounts:
    counts = np.histogram(latencies_s, bins=np.concatenate([[0.0], LES[:-1], [1e9]]))[0]
    return SideCounts(len(latencies_s) - failures, failures, LES, counts)


def _policy(**kw) -> CanaryPolicy:
    spec = {"stages": [10, 50, 100], "bake_s": 1.0, "min_requests": 50, "max_extensions": 1,
            "rules": [{"metric": "error_rate", "max_increase": 0.02},
                      {"metric": "p95_ms", "max_ratio": 1.5}], **kw}  # fmt: skip
    return CanaryPolicy.model_validate(spec)


def test_quantile_interpolates_inside_the_bucket_like_histogram_quantile():
    # 100 requests: 50 in (0, 5ms], 50 in (5ms, 10ms]: the median is 5 ms, p95 is 9.5 ms.
    counts = np.array([50, 50, 0, 0, 0, 0])
    assert quantile(LES, counts, 0.5)[0] == pytest.approx(5.0)
    assert quantile(LES, counts, 0.95)[0] == pytest.approx(9.5)
    # A rank in the +Inf bucket answers the highest finite bound, as Prometheus does.
    assert quantile(LES, np.array([0, 0, 0, 0, 0, 10]), 0.95)[0] == pytest.approx(100.0)
    # Vectorised over rows (bootstrap replicates); an empty histogram is undefined.
    rows = quantile(LES, np.array([[50, 50, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0]]), 0.5)
    assert rows[0] == pytest.approx(5.0) and np.isnan(rows[1])


def test_newcombe_interval_covers_the_true_difference():
    # 400 simulated stages with equal true error rates of 1%: the 95% interval of the
    # difference must cover 0 in about 95% of them (it is built for rates near 0).
    rng = np.random.default_rng(3)
    covered = 0
    for _ in range(400):
        c, s = rng.binomial(300, 0.01), rng.binomial(3000, 0.01)
        stable = SideCounts(3000 - s, s, LES, np.zeros(6, int))
        canary = SideCounts(300 - c, c, LES, np.zeros(6, int))
        ev = error_difference(stable, canary, confidence=0.95)
        covered += ev.low <= 0.0 <= ev.high
    assert 0.92 <= covered / 400 <= 0.995


def test_a_stage_with_failing_canary_requests_is_shown_to_fail():
    rng = np.random.default_rng(0)
    stable = _side(rng.uniform(0.002, 0.008, 1000))
    canary = _side(rng.uniform(0.002, 0.008, 200), failures=30)
    checks = {c.name: c for c in judge_stage(_policy(), stable, canary)}
    err = checks["error_rate increase vs stable"]
    assert err.decision == "fail" and err.details["canary_errors"] == 30
    assert checks["p95_ms ratio vs stable"].decision in ("pass", "inconclusive")


def test_a_slow_canary_fails_the_latency_ratio():
    rng = np.random.default_rng(1)
    stable = _side(rng.uniform(0.002, 0.008, 1000))
    canary = _side(rng.uniform(0.03, 0.09, 300))
    latency = next(c for c in judge_stage(_policy(), stable, canary) if "p95" in c.name)
    assert latency.decision == "fail" and latency.value > 5


def test_counters_that_go_down_or_vanish_are_errors():
    before = {"success": 10.0, "failure": 0.0, "buckets": {0.005: 5.0, float("inf"): 10.0}}
    after = {"success": 4.0, "failure": 0.0, "buckets": {0.005: 2.0, float("inf"): 4.0}}
    with pytest.raises(GateInputError, match="restarted"):
        stage_counts(before, after, side="canary", url="u")
    with pytest.raises(GateInputError, match="returned nothing"):
        stage_counts(before, {"success": None, "failure": None, "buckets": None}, side="canary",
                     url="u")  # fmt: skip


def test_policy_refuses_stages_that_do_not_end_at_100_and_rules_without_one_bound():
    with pytest.raises(ValidationError, match="end at 100"):
        _policy(stages=[10, 50])
    with pytest.raises(ValidationError, match="exactly one"):
        _policy(rules=[{"metric": "p95_ms", "max_ratio": 1.2, "max": 50}])
    with pytest.raises(ValidationError, match="max_increase is for error_rate"):
        _policy(rules=[{"metric": "p95_ms", "max_increase": 0.1}])


def test_each_look_is_tested_at_a_bonferroni_share_of_the_error_budget():
    # 2 judged stages x (1 + 1 extension) = 4 looks at 95% overall.
    assert look_confidence(_policy()) == pytest.approx(1 - 0.05 / 4)


class _Router:
    def __init__(self):
        self.percent, self.history = 0, []

    def set_canary_percent(self, percent):
        self.percent = percent
        self.history.append(percent)

    def canary_percent(self):
        return self.percent

    def describe(self):
        return "fake"


class _Prometheus:
    """Counters that grow with the fake clock: each side's requests at its traffic share."""

    def __init__(self, router, rate=200.0, canary_error=0.0):
        self.router, self.rate, self.canary_error = router, rate, canary_error
        self.totals = {"stable": [0.0, 0.0], "canary": [0.0, 0.0]}

    def advance(self, seconds):
        share = self.router.percent / 100
        for side, frac, err in (("stable", 1 - share, 0.0), ("canary", share, self.canary_error)):
            n = self.rate * seconds * frac
            self.totals[side][0] += n * (1 - err)
            self.totals[side][1] += n * err

    def query(self, promql, *, at=None):
        side = "canary" if 'role="canary"' in promql else "stable"
        ok, bad = self.totals[side]
        if "_bucket" in promql:
            return [{"metric": {"le": le}, "value": [0, str((ok + bad) * f)]}
                    for le, f in (("0.005", 0.5), ("0.01", 1.0), ("+Inf", 1.0))]  # fmt: skip
        value = bad if "failure" in promql else ok
        return [{"metric": {}, "value": [0, str(value)]}]

    def scalar_sum(self, promql, *, at=None):
        return sum(float(r["value"][1]) for r in self.query(promql, at=at))

    def buckets(self, metric, selector, *, at):
        result = self.query(f"{metric}_bucket{selector}", at=at)
        return {float(r["metric"]["le"]): float(r["value"][1]) for r in result}


class _Clock:
    def __init__(self, prometheus):
        self.t, self.prometheus = 0.0, prometheus

    def now(self):
        return self.t

    def sleep(self, seconds):
        self.t += seconds
        self.prometheus.advance(seconds)


def test_the_loop_promotes_a_healthy_canary_and_rolls_back_a_failing_one():
    router = _Router()
    prom = _Prometheus(router, rate=2000.0)
    result = rollout(router=router, client=prom, policy=_policy(), clock=_Clock(prom))
    assert result.outcome == "promoted" and router.history == [10, 50, 100], result.message
    router = _Router()
    prom = _Prometheus(router, canary_error=0.2)
    result = rollout(router=router, client=prom, policy=_policy(), clock=_Clock(prom))
    assert result.outcome == "rolled_back" and router.history == [10, 0]
    assert "error_rate increase vs stable" in result.message


def test_too_little_traffic_ends_under_on_inconclusive():
    router = _Router()
    prom = _Prometheus(router, rate=20.0)  # 2 canary requests per bake at 10%
    result = rollout(router=router, client=prom, policy=_policy(on_inconclusive="hold"),
                     clock=_Clock(prom))  # fmt: skip
    assert result.outcome == "error" and router.percent == 10  # held where it was
    assert "fewer than min_requests 50" in result.message
