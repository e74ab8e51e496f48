"""Simulation study of the drift gate's decisions: false alarms, power and interval coverage.

Data with a KNOWN truth are fed to the gate's own decision path (``drift_gate.core.measure`` then
``core.column_checks``: what ``evaluate_drift`` runs, without drawing the report's histograms).
The distances and their intervals do not depend on the thresholds, so every replication is
measured once and judged under each policy (numeric ``max`` × categorical ``max``, one
Benjamini-Hochberg family of all columns, ``n_resamples`` 500, confidence 0.95).

* **False alarms**: reference and current drawn from the same distribution (the 25 columns of
  ``bench_drift.make_table``); a column "fails" when its check is FAILED, the dataset fails when
  any column does (the gate's verdict with ``severity: block``).
* **Power**: the same table, the current side with ``normal_0`` (std 1) shifted by 0.1 (true
  ``wasserstein_norm`` exactly 0.1) and ``cat_10``'s top category share raised by 5 points (the
  other shares scaled down; true ``jensen_shannon`` from the population shares). Power = share
  of runs that flag that column. Coverage = share of runs whose 95% interval (``Evidence``, before
  the family adjustment) holds the true value.

Every replication has its own seeds (``SeedSequence([seed, cell, rep])``): the output depends on
``--seed`` only. Run: ``python bench/simulate_drift.py`` (``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import sys
import time
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_drift import make_table  # noqa: E402

NUMERIC_MAX = (0.05, 0.1)
CATEGORICAL_MAX = (0.03, 0.05, 0.1)
SHIFT_COLUMN, SHIFT = "normal_0", 0.1
CAT_COLUMN, CAT_POINTS = "cat_10", 0.05


def _cat10_shares(shifted: bool) -> np.ndarray:
    p = 1.0 / np.arange(1, 11) ** 0.8
    p /= p.sum()
    if shifted:
        top = p[0] + CAT_POINTS
        p = np.r_[top, p[1:] * (1.0 - top) / p[1:].sum()]
    return p


def true_jensen_shannon() -> float:
    """Population Jensen-Shannon distance of the ``cat_10`` shift (scipy, natural log)."""
    from scipy.spatial import distance

    return float(distance.jensenshannon(_cat10_shares(False), _cat10_shares(True)))


def _tables(rows: int, seq: np.random.SeedSequence, shifted: bool) -> tuple:
    s_ref, s_cur, s_cat = (int(s.generate_state(1)[0]) for s in seq.spawn(3))
    ref = make_table(rows, s_ref, drifted=False)
    cur = make_table(rows, s_cur, drifted=False)
    if shifted:
        cur[SHIFT_COLUMN] = cur[SHIFT_COLUMN] + SHIFT
        rng = np.random.default_rng(s_cat)
        labels = np.array([f"c{j:02d}" for j in range(10)], dtype=object)
        cur[CAT_COLUMN] = labels[rng.choice(10, rows, p=_cat10_shares(True))]
    return ref, cur


def _policy(num_max: float, cat_max: float):
    from quality_gates.components.drift_gate.policy import DriftPolicy

    return DriftPolicy.model_validate(
        {
            "numeric": {"metric": "wasserstein_norm", "max": num_max},
            "categorical": {"metric": "jensen_shannon", "max": cat_max},
            "n_resamples": 500,
            "seed": 0,
        }
    )


def replicate(task: tuple[int, int, bool, int, int]) -> dict:
    """One replication: measure once, judge under every policy.

    Args:
        task: ``(seed, cell, shifted, rows, rep)``.

    Returns:
        Per policy the failed columns; the shifted columns' estimates and intervals; CPU time.
    """
    from quality_gates.components.drift_gate import core

    seed, cell, shifted, rows, rep = task
    t0 = time.process_time()
    seq = np.random.SeedSequence([seed, cell, rep])
    ref, cur = _tables(rows, seq, shifted)
    base = _policy(0.1, 0.1).model_copy(update={"seed": int(seq.generate_state(1)[0])})
    drifts = core.measure(ref, cur, list(ref.columns), base)
    out: dict = {"failed": {}, "evidence": {}}
    for nm in NUMERIC_MAX:
        for cm in CATEGORICAL_MAX:
            policy = base.model_copy(
                update={
                    "numeric": _policy(nm, cm).numeric,
                    "categorical": _policy(nm, cm).categorical,
                }
            )
            checks = core.column_checks(drifts, policy)
            out["failed"][(nm, cm)] = [
                d.column for d, c in zip(drifts, checks, strict=True) if c.status.value == "failed"
            ]
    for d in drifts:
        if d.column in (SHIFT_COLUMN, CAT_COLUMN):
            out["evidence"][d.column] = (d.evidence.estimate, d.evidence.low, d.evidence.high)
    out["cpu"] = time.process_time() - t0
    return out


def _share(k: int, n: int) -> str:
    return f"{k / n:.3f} ({k}/{n})"


def false_alarm_table(results: dict[int, list[dict]]) -> None:
    """Print the false-alarm table: dataset and worst column, per policy and size."""
    print(
        "| rows | runs | numeric max | categorical max | dataset fails | worst column (share) |"
        " columns failed / column-runs |"
    )
    print("|---|---|---|---|---|---|---|")
    for rows, reps in results.items():
        for key in reps[0]["failed"]:
            failed = [r["failed"][key] for r in reps]
            per_col = pd.Series([c for f in failed for c in f], dtype=object).value_counts()
            worst = f"{per_col.index[0]} {per_col.iloc[0] / len(reps):.3f}" if len(per_col) else "—"
            n_cols = 25 * len(reps)
            print(
                f"| {rows:,} | {len(reps)} | {key[0]} | {key[1]} | "
                f"{_share(sum(bool(f) for f in failed), len(reps))} | {worst} | "
                f"{_share(int(per_col.sum()), n_cols)} |"
            )


def power_table(results: dict[int, list[dict]], truth_js: float) -> None:
    """Print power (share flagging the shifted column), other columns flagged, and coverage."""
    print(
        "| rows | runs | column (truth) | max | power | mean estimate | 95% CI coverage |"
        " other columns flagged / column-runs |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for rows, reps in results.items():
        for col, truth, maxes, idx in (
            (SHIFT_COLUMN, SHIFT, NUMERIC_MAX, 0),
            (CAT_COLUMN, truth_js, CATEGORICAL_MAX, 1),
        ):
            ev = np.array([r["evidence"][col] for r in reps], dtype=float)
            cover = int(np.sum((ev[:, 1] <= truth) & (truth <= ev[:, 2])))
            for mx in maxes:
                keys = [k for k in reps[0]["failed"] if k[idx] == mx]
                key = max(keys) if idx == 0 else (NUMERIC_MAX[-1], mx)
                hits = sum(col in r["failed"][key] for r in reps)
                others = sum(len(set(r["failed"][key]) - {SHIFT_COLUMN, CAT_COLUMN}) for r in reps)
                print(
                    f"| {rows:,} | {len(reps)} | {col} ({truth:.4f}) | {mx} | "
                    f"{_share(hits, len(reps))} | {ev[:, 0].mean():.4f} | "
                    f"{_share(cover, len(reps))} | {_share(others, 23 * len(reps))} |"
                )


def run_cells(cells: list[tuple[bool, int, int]], seed: int, jobs: int) -> dict:
    """Run every ``(shifted, rows, runs)`` cell; results in task order."""
    tasks = [
        (seed, i, s, rows, rep) for i, (s, rows, runs) in enumerate(cells) for rep in range(runs)
    ]
    if jobs > 1:
        with get_context("spawn").Pool(jobs) as pool:
            flat = pool.map(replicate, tasks, chunksize=1)
    else:
        flat = [replicate(t) for t in tasks]
    out: dict = {}
    for (s, rows), r in zip([(t[2], t[3]) for t in tasks], flat, strict=True):
        out.setdefault((s, rows), []).append(r)
    return out


def main(argv: list[str] | None = None) -> None:
    """Run the false-alarm and power studies and print Markdown tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument(
        "--runs",
        type=int,
        nargs=3,
        default=[200, 100, 20],
        help="false-alarm runs at 10k, 100k, 1M rows",
    )
    parser.add_argument(
        "--power-runs", type=int, nargs=2, default=[200, 100], help="power runs at 5k, 50k rows"
    )
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    runs, power = ([10, 5, 2], [10, 5]) if args.quick else (args.runs, args.power_runs)
    cells = [(False, n, r) for n, r in zip((10_000, 100_000, 1_000_000), runs, strict=True)]
    cells += [(True, n, r) for n, r in zip((5_000, 50_000), power, strict=True)]
    t0 = time.time()
    res = run_cells(cells, args.seed, args.jobs)
    cpu = sum(r["cpu"] for reps in res.values() for r in reps)
    print(f"<!-- {time.time() - t0:.0f} s wall, {cpu:.0f} s CPU in the replications -->")
    false_alarm_table({rows: reps for (s, rows), reps in res.items() if not s})
    print()
    power_table({rows: reps for (s, rows), reps in res.items() if s}, true_jensen_shannon())


if __name__ == "__main__":
    main()
