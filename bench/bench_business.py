"""Business KPI rules of the performance gate: decisions of the 2% rule, and speed at 1M rows.

Part 1 (simulation): data with a known truth go through the gate's own
``performance_gate.core.evaluate`` with a ``business`` block (credit matrix with per-row loan
amounts) and ``vs_champion: {max_drop_pct: 2}``. Counted per condition: how often the 2% rule is
shown to pass, inconclusive, shown to fail, and how often the paired 95% interval of
``EV(candidate) - EV(champion)`` per 1 000 decisions covers the true difference.

* Labels Bernoulli(0.2); loan amounts lognormal(9.3, 0.7), independent of the label.
* Scores: latent ``s = mu * y + 0.9 * common + 0.44 * own`` (noise shared by both models with
  80% of its variance), calibrated probability for the model's ``mu``, decision ``p >= 0.3``.
* Matrix: approve & repay ``+0.15 * loan``, approve & default ``-0.4 * loan``, refuse & repay
  ``-0.15 * loan`` (opportunity cost), refuse & default ``0``.
* "equal": candidate and champion have the same ``mu`` (exchangeable: true difference 0).
  "5% worse": the candidate's ``mu`` is solved (bisection on a common-random-number sample of
  4M rows) so that its true EV is 95% of the champion's; its true difference is that sample's.

Part 2 (speed): the business block (per-row values and the paired bootstrap of the EV
difference, 1000 resamples) at 1M rows, CPU time min/median over repeats, against the same
expected values in plain numpy (point values only) and a plain numpy paired row bootstrap
(what a user would write: resampled row indices, chunked), plus how far the gate's interval is
from that exact one.

Run: ``.venv/bin/python bench/bench_business.py`` (about 4 minutes on 2 cores);
``--quick`` for a smoke run.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.special import expit, logit

from quality_gates.components.performance_gate.business import Calls, business_checks, row_values
from quality_gates.components.performance_gate.core import Encoded, evaluate
from quality_gates.components.performance_gate.policy import PerformancePolicy

PREVALENCE = 0.2
THRESHOLD = 0.3
MU_CHAMPION = 1.4
MATRIX = {
    "approve": {
        "repay": {"column": "loan", "factor": 0.15},
        "default": {"column": "loan", "factor": -0.4},
    },
    "refuse": {"repay": {"column": "loan", "factor": -0.15}, "default": 0.0},
}
BUSINESS = {
    "positive_decision": "refuse",
    "negative_decision": "approve",
    "positive_outcome": "default",
    "negative_outcome": "repay",
    "matrix": MATRIX,
}


def draw(rng: np.random.Generator, n: int, mu_cand: float, mu_champ: float):
    """Labels, loans and both models' calibrated probabilities of default."""
    y = (rng.random(n) < PREVALENCE).astype(np.int64)
    loan = rng.lognormal(9.3, 0.7, n)
    common = rng.normal(size=n)

    def prob(mu: float) -> np.ndarray:
        s = mu * y + 0.9 * common + 0.4359 * rng.normal(size=n)  # unit noise variance
        return expit(logit(PREVALENCE) + mu * s - mu * mu / 2)

    return y, loan, prob(mu_cand), prob(mu_champ)


def ev_per_1000(y: np.ndarray, loan: np.ndarray, p: np.ndarray) -> float:
    """The expected value per 1 000 decisions in plain numpy (the reference)."""
    refuse = p >= THRESHOLD
    v = np.where(refuse, np.where(y == 1, 0.0, -0.15 * loan), np.where(y == 1, -0.4 * loan,
                 0.15 * loan))  # fmt: skip
    return float(v.mean() * 1000)


def truth(mu_cand: float, n: int = 4_000_000, seed: int = 99) -> tuple[float, float]:
    """True (MC, common random numbers) champion EV and candidate - champion difference."""
    y, loan, pc, ph = draw(np.random.default_rng(seed), n, mu_cand, MU_CHAMPION)
    champ = ev_per_1000(y, loan, ph)
    return champ, ev_per_1000(y, loan, pc) - champ


def mu_for_drop(drop: float) -> float:
    """The candidate's mu whose EV is ``(1 - drop)`` times the champion's."""
    lo, hi = 0.3, MU_CHAMPION
    champ, _ = truth(MU_CHAMPION, n=1_000_000)
    for _ in range(16):
        mid = (lo + hi) / 2
        if truth(mid, n=1_000_000)[1] < -drop * champ:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def _enc(y: np.ndarray, p: np.ndarray) -> Encoded:
    return Encoded("binary", y, (p >= THRESHOLD).astype(np.int64), p, [0, 1], 1)


def once(rng: np.random.Generator, n: int, mu_cand: float, seed: int) -> dict:
    """One replication through the gate's evaluate; the 2% rule's check."""
    y, loan, pc, ph = draw(rng, n, mu_cand, MU_CHAMPION)
    policy = PerformancePolicy.model_validate(
        {
            "task": "binary",
            "decision_threshold": THRESHOLD,
            "n_resamples": 0,
            "champion": {"alias": "production", "n_resamples": 400, "seed": seed},
            "business": {**BUSINESS, "vs_champion": {"max_drop_pct": 2}},
        }
    )
    checks, metrics, _ = evaluate(
        policy=policy,
        candidate=_enc(y, pc),
        champion=_enc(y, ph),
        frame=pd.DataFrame({"loan": loan}),
        source="sim",
    )
    (check,) = [c for c in checks if c.family == "business"]
    return {"decision": check.decision, "low": check.ci_low, "high": check.ci_high}


def simulate(sizes: Sequence[int], reps: int, seed: int) -> str:
    """The Markdown table of part 1."""
    champ_ev, _ = truth(MU_CHAMPION)
    mu_worse = mu_for_drop(0.05)
    conditions = {"equal": (MU_CHAMPION, 0.0), "5% worse": (mu_worse, truth(mu_worse)[1])}
    rows = []
    for name, (mu, diff) in conditions.items():
        for n in sizes:
            rng = np.random.default_rng([seed, n, int(mu * 1000)])
            out = [once(rng, n, mu, seed + k) for k in range(reps)]
            dec = [o["decision"] for o in out]
            cover = np.mean([o["low"] <= diff <= o["high"] for o in out])
            rows.append(
                f"| {name} | {n} | {diff:.0f} | {np.mean([d == 'pass' for d in dec]):.3f} | "
                f"{np.mean([d == 'inconclusive' for d in dec]):.3f} | "
                f"{np.mean([d == 'fail' for d in dec]):.3f} | {cover:.3f} |"
            )
    head = (
        f"True champion EV {champ_ev:.0f} per 1000 decisions; 2% bar = {-0.02 * champ_ev:.0f}; "
        f"{reps} replications per row, 400 paired resamples, 95% intervals.\n\n"
        "| candidate | rows | true diff | shown ok | inconclusive | shown worse | CI coverage |\n"
        "|---|---|---|---|---|---|---|"
    )
    return "\n".join([head, *rows])


def _cpu(fn, repeats: int) -> tuple[float, float, object]:
    times, out = [], None
    for _ in range(repeats):
        t = time.process_time()
        out = fn()
        times.append(time.process_time() - t)
    return min(times), float(np.median(times)), out


def numpy_paired_bootstrap(d: np.ndarray, n_resamples: int, seed: int) -> tuple[float, float]:
    """A plain numpy paired row bootstrap of the mean difference (chunks of 20 resamples)."""
    rng = np.random.default_rng(seed)
    n, means = d.size, []
    for start in range(0, n_resamples, 20):
        idx = rng.integers(0, n, size=(min(20, n_resamples - start), n))
        means.append(d[idx].mean(axis=1))
    low, high = np.quantile(np.concatenate(means), [0.025, 0.975])
    return float(low), float(high)


def speed(n: int, repeats: int) -> str:
    """The Markdown table of part 2."""
    y, loan, pc, ph = draw(np.random.default_rng(5), n, mu_for_drop(0.02), MU_CHAMPION)
    policy = PerformancePolicy.model_validate(
        {
            "task": "binary",
            "decision_threshold": THRESHOLD,
            "n_resamples": 0,
            "champion": {"alias": "production", "n_resamples": 1000},
            "business": {**BUSINESS, "vs_champion": {"max_drop_pct": 2}},
        }
    )
    spec = policy.business
    cand, champ = (Calls(y, (p >= THRESHOLD).astype(np.int64), True) for p in (pc, ph))
    cols = {"loan": loan}

    frame = pd.DataFrame(cols)

    def gate():
        return business_checks(policy=policy, task="binary", candidate=cand, champion=champ,
                               champion_ref={}, frame=frame, source="bench").metrics  # fmt: skip

    g_min, g_med, metrics = _cpu(gate, repeats)
    p_min, p_med, _ = _cpu(lambda: (ev_per_1000(y, loan, pc), ev_per_1000(y, loan, ph)), repeats)
    d = (row_values(spec, cand, cols) - row_values(spec, champ, cols)) * 1000
    b_min, b_med, (low, high) = _cpu(lambda: numpy_paired_bootstrap(d, 1000, 1), 1)
    low2, high2 = numpy_paired_bootstrap(d, 1000, 2)
    sd = d.std() / np.sqrt(n)
    g_low = metrics["expected_value_diff_per_1000_ci_low"]
    g_high = metrics["expected_value_diff_per_1000_ci_high"]
    return "\n".join(
        [
            f"{n} rows, 1000 paired resamples; CPU seconds (min / median of {repeats}; the "
            "numpy bootstrap once).\n",
            "| what | CPU min | CPU median |",
            "|---|---|---|",
            f"| gate business block (values + paired bootstrap CI) | {g_min:.2f} | {g_med:.2f} |",
            f"| plain numpy EV of both models, point values only | {p_min:.3f} | {p_med:.3f} |",
            f"| plain numpy paired row bootstrap, 1000 resamples | {b_min:.1f} | {b_med:.1f} |",
            "",
            f"Gate CI [{g_low:.1f}, {g_high:.1f}] vs numpy exact bootstrap CI [{low:.1f}, "
            f"{high:.1f}]: endpoints differ by {abs(g_low - low) / sd:.2f} and "
            f"{abs(g_high - high) / sd:.2f} standard errors; two numpy runs with different "
            f"seeds differ by {abs(low2 - low) / sd:.2f} and {abs(high2 - high) / sd:.2f} "
            "(the Monte-Carlo noise of 1000 resamples).",
        ]
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Run both parts and print Markdown."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=150)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--rows", type=int, default=1_000_000, help="rows of the speed part")
    ap.add_argument("--quick", action="store_true", help="smoke run")
    args = ap.parse_args(argv)
    reps = 10 if args.quick else args.reps
    sizes = [2000] if args.quick else [20_000, 100_000]
    print("### The 2% rule on simulated credit decisions\n")
    print(simulate(sizes, reps, args.seed))
    print("\n### Speed at scale\n")
    print(speed(100_000 if args.quick else args.rows, 2 if args.quick else 5))


if __name__ == "__main__":
    main()
