"""Benchmark: performance-gate metrics and bootstrap intervals vs a scikit-learn loop.

What a user would otherwise write is a loop over resamples that draws row indices and calls
``sklearn.metrics.f1_score`` and ``roc_auc_score`` on each resample. That loop is timed for
``--naive-resamples`` resamples and extrapolated linearly to ``--resamples`` (its cost per
resample is constant), because running it in full takes minutes.

    python bench/bench_performance.py [--rows 1000000] [--resamples 1000] [--naive-resamples 20]
        [--check-approx 40]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import sklearn
from sklearn import metrics as skm

from quality_gates.components.performance_gate import bootstrap as bs
from quality_gates.components.performance_gate.bootstrap import (
    bootstrap_ci,
    paired_bootstrap_diff,
)
from quality_gates.components.performance_gate.metrics import point_metrics

METRICS = ["f1", "roc_auc"]


def make_predictions(n: int, seed: int):
    """Labels (~20% positives) and two models' probabilities: logistic of a noisy signal."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.2).astype(np.int64)
    signal = np.where(y == 1, 1.0, -1.0)
    shared = rng.normal(0.0, 1.2, n)  # what both models get wrong the same way
    cand = 1.0 / (1.0 + np.exp(-(signal + shared + rng.normal(0.0, 0.8, n) - 1.0)))
    champ = 1.0 / (1.0 + np.exp(-(signal + shared + rng.normal(0.0, 1.1, n) - 1.0)))
    return y, cand, champ


def timed(fn, repeat: int):
    """Return (best wall time in seconds, last result)."""
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def sklearn_point_metrics(y, pred, score):
    return {
        "accuracy": skm.accuracy_score(y, pred),
        "precision": skm.precision_score(y, pred, zero_division=0),
        "recall": skm.recall_score(y, pred, zero_division=0),
        "f1": skm.f1_score(y, pred, zero_division=0),
        "roc_auc": skm.roc_auc_score(y, score),
        "pr_auc": skm.average_precision_score(y, score),
        "log_loss": skm.log_loss(y, score, labels=[0, 1]),
        "brier": skm.brier_score_loss(y, score),
    }


def naive_bootstrap(y, models, n_resamples, seed):
    """The loop a user would write: resample indices, call sklearn per resample and model."""
    rng = np.random.default_rng(seed)
    n = y.size
    for _ in range(n_resamples):
        idx = rng.integers(0, n, n)
        for pred, score in models:
            skm.f1_score(y[idx], pred[idx])
            skm.roc_auc_score(y[idx], score[idx])


def approximation_error(y, models, n_resamples, seed):
    """Largest replicate error of the binned bootstrap vs the exact one, on the same resamples.

    The exact bootstrap counts every row (per-row weights from resampled indices); the binned
    one only sees those weights summed per (label, prediction, score-bin) cell.
    """
    names = ["roc_auc", "pr_auc", "log_loss", "brier"]
    n = y.size
    rng = np.random.default_rng(seed)
    rows = np.stack([np.bincount(rng.integers(0, n, n), minlength=n) for _ in range(n_resamples)])
    out = []
    for kwargs in (dict(n_resamples=1, max_exact_cells=0), dict(n_resamples=10**9)):
        units = bs._binary_units(y, models, names, **kwargs)
        cells = np.stack([np.bincount(units.row_unit, weights=w) for w in rows]).T
        w = np.ascontiguousarray(cells)
        out.append([bs._evaluate("binary", v, w, n, 2, names) for v in units.views])
    (exact, binned), errors = out, {}
    for name in names:
        if len(models) == 1:
            truth, approx = exact[0][name], binned[0][name]
        else:
            truth = exact[0][name] - exact[1][name]
            approx = binned[0][name] - binned[1][name]
        errors[name] = (np.max(np.abs(approx - truth)), np.std(truth))
    return errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--naive-resamples", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3, help="best of N runs for ours")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--check-approx",
        type=int,
        default=0,
        metavar="R",
        help="also measure the score-bin approximation against the exact bootstrap on R shared "
        "resamples (slow: ~0.5 s per resample at 1M rows)",
    )
    args = parser.parse_args()

    y, cand, champ = make_predictions(args.rows, args.seed)
    cand_pred = (cand >= 0.5).astype(np.int64)
    champ_pred = (champ >= 0.5).astype(np.int64)
    n, r, nr = args.rows, args.resamples, args.naive_resamples

    t_point, ours = timed(
        lambda: point_metrics(task="binary", y_true=y, y_pred=cand_pred, y_score=cand), args.repeat
    )
    t_sk_point, ref = timed(lambda: sklearn_point_metrics(y, cand_pred, cand), 1)
    max_err = max(abs(ours[k] - ref[k]) for k in ref)

    def single():
        point_metrics(task="binary", y_true=y, y_pred=cand_pred, y_score=cand)
        return bootstrap_ci(
            task="binary",
            y_true=y,
            y_pred=cand_pred,
            y_score=cand,
            metrics=METRICS,
            n_resamples=r,
            seed=args.seed,
        )

    def paired():
        return paired_bootstrap_diff(
            task="binary",
            y_true=y,
            cand_pred=cand_pred,
            cand_score=cand,
            champ_pred=champ_pred,
            champ_score=champ,
            metrics=METRICS,
            n_resamples=r,
            seed=args.seed,
        )

    t_single, cis = timed(single, args.repeat)
    t_paired, diffs = timed(paired, args.repeat)
    t_naive, _ = timed(lambda: naive_bootstrap(y, [(cand_pred, cand)], nr, args.seed), 1)
    t_naive_paired, _ = timed(
        lambda: naive_bootstrap(y, [(cand_pred, cand), (champ_pred, champ)], nr, args.seed), 1
    )
    scale = r / nr
    naive_single, naive_paired = t_naive * scale, t_naive_paired * scale

    print(
        f"kfp-quality-gates performance bench | rows={n:,} positives={y.mean():.1%} "
        f"resamples={r} | numpy {np.__version__}, scikit-learn {sklearn.__version__}, "
        f"python {platform.python_version()}, {os.cpu_count()} CPUs"
    )
    print(
        f"naive = loop of sklearn f1_score + roc_auc_score per resample on resampled indices; "
        f"timed for {nr} resamples and extrapolated linearly x{scale:g} to {r}"
    )
    print()
    rows = [
        ("point metrics, all 8", t_point, t_sk_point, "sklearn, 8 calls"),
        (f"point + bootstrap_ci f1, roc_auc (R={r})", t_single, naive_single, "extrapolated"),
        (f"paired_bootstrap_diff f1, roc_auc (R={r})", t_paired, naive_paired, "extrapolated"),
    ]
    print(f"{'step':<44}{'ours [s]':>10}{'naive [s]':>12}{'speed-up':>10}  naive is")
    for name, ours_s, naive_s, note in rows:
        print(f"{name:<44}{ours_s:>10.2f}{naive_s:>12.1f}{naive_s / ours_s:>9.0f}x  {note}")
    print()
    print(f"exactness: max |ours - sklearn| over the 8 point metrics = {max_err:.1e}")
    for name in METRICS:
        low, high = cis[name]
        d = diffs[name]
        print(
            f"{name:>8}: {ours[name]:.4f} CI [{low:.4f}, {high:.4f}]; vs champion "
            f"{d.estimate:+.4f} [{d.ci_low:+.4f}, {d.ci_high:+.4f}]"
        )
        print(f"{'':>10}method: {d.method}")
    if args.check_approx:
        print()
        print(
            f"score-bin approximation vs exact bootstrap on the same {args.check_approx} "
            "resamples: max |error| (bootstrap sd)"
        )
        for label, models in [
            ("one model", [(cand_pred, cand)]),
            ("paired diff", [(cand_pred, cand), (champ_pred, champ)]),
        ]:
            errors = approximation_error(y, models, args.check_approx, args.seed + 1)
            cells = "  ".join(f"{k} {e:.1e} ({sd:.1e})" for k, (e, sd) in errors.items())
            print(f"{label:>12}: {cells}")


if __name__ == "__main__":
    main()
