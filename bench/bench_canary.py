"""Canary rollout decisions by simulation: false rollbacks, power, and the cost of looking often.

Each simulated rollout runs the real loop (:func:`quality_gates.shared.release.canary.rollout`)
against simulated Prometheus counters: requests arrive at ``rate`` per second, split by the
router's share; each side fails requests with its own probability and answers with latencies
drawn from a log-normal, bucketed like MLServer's histogram. Reported per scenario: the share
of rollouts promoted, rolled back and held, with the Bonferroni split over looks (as shipped)
and without it (every look at 95%), so the table shows what the correction buys.

    .venv/bin/python bench/bench_canary.py --rollouts 300
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from quality_gates.shared.policy.release import CanaryPolicy
from quality_gates.shared.release import canary as canary_module
from quality_gates.shared.release.canary import rollout

LES = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, float("inf"))


class Router:
    """Remembers the share."""

    def __init__(self) -> None:
        self.percent = 0

    def set_canary_percent(self, percent: int) -> None:
        self.percent = percent

    def canary_percent(self) -> int:
        return self.percent

    def describe(self) -> str:
        return "simulated"


class Metrics:
    """Cumulative counters and buckets of both sides, grown by :meth:`advance`."""

    def __init__(self, router: Router, rng, *, rate, errors, latency_ms) -> None:
        self.router, self.rng, self.rate = router, rng, rate
        self.errors, self.latency_ms = errors, latency_ms
        self.ok = {"stable": 0, "canary": 0}
        self.bad = {"stable": 0, "canary": 0}
        self.cum = {"stable": np.zeros(len(LES)), "canary": np.zeros(len(LES))}

    def advance(self, seconds: float) -> None:
        n = self.rng.poisson(self.rate * seconds)
        to_canary = self.rng.binomial(n, self.router.percent / 100)
        for side, count in (("stable", n - to_canary), ("canary", to_canary)):
            bad = self.rng.binomial(count, self.errors[side])
            self.ok[side] += count - bad
            self.bad[side] += bad
            lat = self.rng.lognormal(np.log(self.latency_ms[side] / 1000), 0.35, count)
            self.cum[side] += (lat[:, None] <= np.array(LES)[None, :]).sum(axis=0)

    def _side(self, selector: str) -> str:
        return "canary" if "canary" in selector else "stable"

    def scalar_sum(self, promql: str, *, at=None):
        side = self._side(promql)
        return float(self.bad[side] if "failure" in promql else self.ok[side])

    def buckets(self, metric: str, selector: str, *, at):
        side = self._side(selector)
        return {le: float(c) for le, c in zip(LES, self.cum[side], strict=True)}


class Clock:
    """Simulated time: sleeping advances the traffic."""

    def __init__(self, metrics: Metrics) -> None:
        self.t, self.metrics = 0.0, metrics

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += seconds
        self.metrics.advance(seconds)


POLICY = {
    "stages": [5, 10, 50, 100],
    "bake_s": 60.0,
    "min_requests": 100,
    "max_extensions": 2,
    "rules": [
        {"metric": "error_rate", "max_increase": 0.01},
        {"metric": "p95_ms", "max_ratio": 1.3},
    ],
}
SCENARIOS = {
    "healthy (same errors 0.5%, same latency)": ({"stable": 0.005, "canary": 0.005}, 20.0),
    "errors +0.5 points (within the 1-point bound)": ({"stable": 0.005, "canary": 0.010}, 20.0),
    "errors +2 points": ({"stable": 0.005, "canary": 0.025}, 20.0),
    "errors +5 points": ({"stable": 0.005, "canary": 0.055}, 20.0),
    "p95 x1.6": ({"stable": 0.005, "canary": 0.005}, 32.0),
}


def _run(errors, canary_ms, *, rollouts: int, bonferroni: bool, seed: int) -> dict[str, float]:
    policy = CanaryPolicy.model_validate(POLICY)
    real = canary_module.look_confidence
    if not bonferroni:
        canary_module.look_confidence = lambda p: p.confidence
    outcomes = {"promoted": 0, "rolled_back": 0, "error": 0}
    first_stage = 0
    try:
        for i in range(rollouts):
            rng = np.random.default_rng(seed + i)
            router = Router()
            metrics = Metrics(router, rng, rate=40.0, errors=errors,
                              latency_ms={"stable": 20.0, "canary": canary_ms})  # fmt: skip
            result = rollout(router=router, client=metrics, policy=policy, clock=Clock(metrics))
            outcomes[result.outcome] += 1
            first_stage += result.outcome == "rolled_back" and len(result.stages) == 1
    finally:
        canary_module.look_confidence = real
    out = {k: v / rollouts for k, v in outcomes.items()}
    out["rolled back at 5%"] = first_stage / rollouts
    return out


def main() -> None:
    """Print the table (Markdown)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--rollouts", type=int, default=300)
    args = parser.parse_args()
    print("| scenario | looks corrected | promoted | rolled back | of which at 5% | held |")
    print("|---|---|---|---|---|---|")
    cpu = time.process_time()
    for name, (errors, canary_ms) in SCENARIOS.items():
        for bonferroni in (True, False):
            r = _run(errors, canary_ms, rollouts=args.rollouts, bonferroni=bonferroni, seed=7)
            print(f"| {name} | {'Bonferroni' if bonferroni else 'none (95% each)'} | "
                  f"{r['promoted']:.3f} | {r['rolled_back']:.3f} | {r['rolled back at 5%']:.3f} "
                  f"| {r['error']:.3f} |")  # fmt: skip
    print(f"\n{args.rollouts} rollouts per row; {time.process_time() - cpu:.1f} CPU-s in all")


if __name__ == "__main__":
    main()
