"""Shadow gate: process CPU time at 1M logged requests, and the per-segment flip rule's error rates.

Usage: ``.venv/bin/python bench/bench_shadow.py [--rows 1000000] [--trials 400]``

1. Timing: a Parquet request log of ``--rows`` requests (5 numeric features, a region segment,
   production's score) and a logistic-regression candidate; the whole gate (read, digest,
   predict once, flips, segment family, PSI score shift) through ``check("shadow", ...)``,
   process CPU time, min and median of 3 runs, each in a new session.
2. Simulation: the segment rule ``segment_flip_rate: {max: 0.05}`` (Holm over 5 segments,
   Clopper-Pearson, 95%) on simulated flip counts: the share of trials in which a segment whose
   true flip rate is *at* the bound (0.05) or below is shown to fail (false fail), and the share
   in which a segment at 0.08 / 0.10 is shown to fail (power), per segment size. The gate's own
   functions judge each trial (``segment_checks``).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import yaml
from sklearn.linear_model import LogisticRegression

from quality_gates.components.shadow_gate.core import segment_checks
from quality_gates.components.shadow_gate.policy import ShadowPolicy
from quality_gates.shared.gates.runner import check

NUM = ["x0", "x1", "x2", "x3", "x4"]


def _log(n: int, seed: int) -> tuple[pd.DataFrame, LogisticRegression]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, len(NUM)))
    y = (x @ np.array([1.0, -0.5, 0.3, 0.0, 0.8]) + rng.normal(size=n) > 0.8).astype(int)
    frame = pd.DataFrame(x, columns=NUM)
    production = LogisticRegression().fit(frame.iloc[:20000], y[:20000])
    candidate = LogisticRegression(C=0.01).fit(frame.iloc[20000:40000], y[20000:40000])
    frame.insert(0, "request_id", np.char.add("r", np.arange(n).astype(str)))
    frame["region"] = rng.choice(["N", "S", "E", "W", "C"], n)
    frame["prod_score"] = production.predict_proba(frame[NUM])[:, 1]
    return frame, candidate


def bench_timing(rows: int) -> list[float]:
    """Process CPU seconds of three gate runs on ``rows`` logged requests."""
    root = Path(tempfile.mkdtemp(prefix="bench-shadow-"))
    frame, candidate = _log(rows, seed=5)
    frame.to_parquet(root / "log.parquet", index=False)
    joblib.dump(candidate, root / "model.joblib")
    section = {
        "columns": {"score": "prod_score", "segments": ["region"]},
        "max_flip_rate": {"max": 0.05},
        "segment_flip_rate": {"max": 0.05},
        "score_shift": {"metric": "psi", "max": 0.1},
    }
    policy = yaml.safe_dump({"gates": {"shadow": section}})
    times = []
    for _ in range(3):
        start = time.process_time()
        result = check("shadow", data_uri="", model_uri=str(root / "model.joblib"),
                       request_log_uri=str(root / "log.parquet"), policy_text=policy)  # fmt: skip
        times.append(time.process_time() - start)
        assert result.status.value != "error", result.error
    return times


def simulate(trials: int, sizes=(200, 1000, 5000), rates=(0.03, 0.05, 0.08, 0.10)) -> list:
    """Share of trials in which the tested segment is shown to fail, per size and true rate."""
    policy = ShadowPolicy(columns={"segments": ["seg"]}, segment_flip_rate={"max": 0.05})
    rng = np.random.default_rng(11)
    table = []
    for size in sizes:
        seg = np.repeat(np.arange(5), size)
        for rate in rates:
            truth = np.array([rate, 0.02, 0.02, 0.02, 0.02])
            failed = 0
            for _ in range(trials):
                flips = rng.random(seg.size) < truth[seg]
                ok = np.ones(seg.size, dtype=bool)
                checks, _ = segment_checks(policy, pd.DataFrame({"seg": seg}), flips=flips,
                                           agree=ok & ~flips, scored=ok)  # fmt: skip
                failed += checks[0].decision == "fail"
            table.append((size, rate, failed / trials))
    return table


def main() -> None:
    """Run both parts and print Markdown tables."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--trials", type=int, default=400)
    args = parser.parse_args()
    times = bench_timing(args.rows)
    print(f"| rows | CPU s min | CPU s median |\n|---|---|---|\n| {args.rows} | "
          f"{min(times):.2f} | {statistics.median(times):.2f} |\n")  # fmt: skip
    print("| segment size | true flip rate | shown to fail (bound 0.05) |\n|---|---|---|")
    for size, rate, share in simulate(args.trials):
        print(f"| {size} | {rate:.2f} | {share:.3f} |")


if __name__ == "__main__":
    main()
