"""Benchmark: fairness-gate group metrics and disparities vs fairlearn's MetricFrame.

Same data for both: ``--rows`` binary labels and decisions, two sensitive columns (``sex``: 2
values, ``region``: 5 values) whose intersection has 10 groups. Both compute, per intersectional
group, selection rate, TPR, FPR and precision, plus demographic parity difference and equalized
odds difference over the intersection, starting from the raw columns.

* fairlearn: one ``MetricFrame`` with the 4 metrics (fairlearn's and scikit-learn's functions),
  then ``demographic_parity_difference`` and ``equalized_odds_difference``, as a user would.
* ours: ``build_grouping`` (factorize the columns), ``confusion_by_group`` (one bincount),
  ``binary_rates`` and ``disparity`` -- what ``evaluate`` runs per grouping. Timed without and
  with the 1000-resample bootstrap of every per-group rate and both disparities.

    python bench/bench_fairness.py [--rows 1000000] [--resamples 1000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import warnings

import fairlearn
import numpy as np
import pandas as pd
import sklearn
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    equalized_odds_difference,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from sklearn.metrics import precision_score

from quality_gates.components.fairness_gate import disparities as dp
from quality_gates.components.fairness_gate.groups import build_grouping

METRICS = ("selection_rate", "true_positive_rate", "false_positive_rate", "precision")
COLUMNS = ("sex", "region")


def make_data(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Two sensitive columns (10 intersectional groups) and group-dependent labels/decisions."""
    rng = np.random.default_rng(seed)
    sf = pd.DataFrame(
        {
            "sex": rng.choice(np.array(["F", "M"]), n),
            "region": rng.choice(np.array(["North", "South", "East", "West", "Central"]), n),
        }
    )
    shift = 0.05 * (sf["sex"] == "F").to_numpy() + 0.02 * pd.factorize(sf["region"])[0]
    y = (rng.random(n) < 0.2 + shift).astype(np.int64)
    p = (rng.random(n) < 0.1 + 0.6 * y + shift).astype(np.int64)
    return sf, y, p


def ours(sf, y, p, n_resamples: int = 0):
    g = build_grouping(sf, COLUMNS, missing="error", source="bench")
    counts = dp.confusion_by_group(codes=g.codes, n_groups=len(g.labels), y_true=y, y_pred=p)
    rates = dp.binary_rates(counts)
    everyone = np.ones(len(g.labels), bool)
    out = {
        "labels": g.labels,
        "by_group": {m: rates[m] for m in METRICS},
        "dpd": float(dp.disparity("demographic_parity_difference", rates, everyone)[0]),
        "eod": float(dp.disparity("equalized_odds_difference", rates, everyone)[0]),
    }
    if n_resamples:
        res = dp.bootstrap_binary(counts, n_resamples=n_resamples, rng=np.random.default_rng(0))
        out["ci"] = {
            name: dp.percentile_ci(dp.disparity(name, res.rates, everyone)[0], 0.95)
            for name in ("demographic_parity_difference", "equalized_odds_difference")
        }
        out["group_ci"] = {m: dp.group_cis(res.rates[m], 0.95) for m in METRICS}
    return out


def with_fairlearn(sf, y, p):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mf = MetricFrame(
            metrics={
                "selection_rate": selection_rate,
                "true_positive_rate": true_positive_rate,
                "false_positive_rate": false_positive_rate,
                "precision": precision_score,
            },
            y_true=y,
            y_pred=p,
            sensitive_features=sf[list(COLUMNS)],
        )
        dpd = demographic_parity_difference(y, p, sensitive_features=sf[list(COLUMNS)])
        eod = equalized_odds_difference(y, p, sensitive_features=sf[list(COLUMNS)])
    return mf.by_group, float(dpd), float(eod)


def timed(fn, repeat: int):
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3, help="best of N for our timings")
    parser.add_argument("--fairlearn-repeat", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    sf, y, p = make_data(args.rows, args.seed)
    print(
        f"rows={args.rows:,} groups={sf.groupby(list(COLUMNS)).ngroups} "
        f"python={platform.python_version()} numpy={np.__version__} pandas={pd.__version__} "
        f"scikit-learn={sklearn.__version__} fairlearn={fairlearn.__version__} "
        f"cpus={os.cpu_count()}"
    )
    t_ours, mine = timed(lambda: ours(sf, y, p), args.repeat)
    t_boot, _ = timed(lambda: ours(sf, y, p, n_resamples=args.resamples), args.repeat)
    t_fl, (by_group, dpd, eod) = timed(lambda: with_fairlearn(sf, y, p), args.fairlearn_repeat)

    keys = [" × ".join(map(str, k)) for k in by_group.index]
    theirs = by_group.set_axis(keys).loc[mine["labels"]]
    diffs = [np.max(np.abs(mine["by_group"][m] - theirs[m].to_numpy(float))) for m in METRICS]
    diffs += [abs(mine["dpd"] - dpd), abs(mine["eod"] - eod)]
    max_diff = float(max(diffs))

    print(f"fairlearn MetricFrame + DPD + EOD     : {t_fl:9.3f} s")
    print(f"ours (factorize + bincount)           : {t_ours:9.4f} s")
    print(f"ours + {args.resamples}-resample bootstrap CIs   : {t_boot:9.4f} s")
    print(f"speed-up (point values)               : {t_fl / t_ours:9.0f}x")
    print(f"speed-up (ours with CIs vs fairlearn without): {t_fl / t_boot:6.0f}x")
    print(f"max |ours - fairlearn| over 40 group values + DPD + EOD: {max_diff:.3g}")
    print(f"DPD={mine['dpd']:.6f} EOD={mine['eod']:.6f}")
    ok = max_diff <= 1e-9 and t_fl / t_ours >= 100
    print("target (>=100x, <=1e-9):", "met" if ok else "NOT met")


if __name__ == "__main__":
    main()
