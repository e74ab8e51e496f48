"""The sampling plan: which rows are explained, and how many fit in the time budget.

Rows are put in one stratified order, so that *every prefix* keeps the label's class mix: the
gate explains a prefix whose length it only knows once it has measured how fast the explainer
is. Alternate rows of each class in that prefix form two disjoint, equally stratified halves
whose rankings give the stability figure. Slow explainers (an exact TreeExplainer on a deep
forest does a few rows per second per core) run in forked worker processes, one per core.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from quality_gates.shared.contracts.errors import GateInputError

PILOT_ROWS = 4
# Fraction of the measured rate that is planned with: timing noise on a shared machine.
_SAFETY = 0.85
# Parallelism pays for its fork only when the remaining work is longer than this.
_PARALLEL_MIN_SECONDS = 3.0
# A numeric label with more distinct values is a regression target, stratified by deciles.
_MAX_CLASSES = 20

# The explainers and rows of the running gate, inherited by forked workers (never pickled).
_STATE: dict[str, Any] = {}


def strata(labels: np.ndarray) -> np.ndarray:
    """Stratum code of every label: the class, or the decile of a continuous target.

    Args:
        labels: Label values.

    Returns:
        Integer codes (missing labels form a stratum of their own).
    """
    series = pd.Series(labels)
    if pd.api.types.is_numeric_dtype(series.dtype) and series.nunique(dropna=True) > _MAX_CLASSES:
        bins = pd.qcut(series.rank(method="first"), 10, labels=False)
        return bins.fillna(-1).to_numpy(dtype=np.int64) + 1
    codes, _ = pd.factorize(series, use_na_sentinel=False)
    return codes


def stratified_order(
    labels: np.ndarray | None, *, n_rows: int, seed: int, stratify: bool
) -> np.ndarray:
    """Return every row index once, ordered so that each prefix keeps the label mix.

    Args:
        labels: Label of every row, or None.
        n_rows: Number of rows.
        seed: Seed of the shuffle.
        stratify: Whether to interleave classes (else a plain shuffle).

    Returns:
        A permutation of ``range(n_rows)``.
    """
    rng = np.random.default_rng(seed)
    perm = rng.permutation(n_rows)
    if labels is None or not stratify:
        return perm
    codes = strata(np.asarray(labels)[perm])
    counts = np.bincount(codes)
    rank = pd.Series(codes).groupby(codes).cumcount().to_numpy()
    # Row r of a class with n_c rows sits at (r + 0.5) / n_c along the order: a prefix of any
    # length holds each class in proportion, to within one row.
    key = (rank + 0.5) / counts[codes]
    return perm[np.argsort(key, kind="stable")]


def halves(labels: np.ndarray | None, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions of two disjoint halves of an explained prefix, each with the prefix's label mix.

    Alternate rows of each class go to alternate halves (alternating positions would not do:
    in a stratified order a minority class recurs with a fixed period, often an even one).

    Args:
        labels: Labels of the explained rows (in order), or None.
        n: Number of explained rows.

    Returns:
        Positions of half A and half B.
    """
    if labels is None:
        side = np.arange(n) % 2
    else:
        codes = strata(np.asarray(labels)[:n])
        side = pd.Series(codes).groupby(codes).cumcount().to_numpy() % 2
    idx = np.arange(n)
    return idx[side == 0], idx[side == 1]


def available_cores() -> int:
    """CPU cores this process may use (the task's CPU limit on Linux)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


@dataclass
class RunStats:
    """How the explanation run went, for the report.

    Attributes:
        rows: Rows explained (each by every explainer).
        seconds: Wall time spent explaining.
        workers: Worker processes used (1 = in process).
        rounds: Batches run, the pilot included.
        stopped_by: ``all rows`` (``explain_rows`` reached) or ``time budget``.
        pilot_rows_per_second: Rate measured on the pilot batch (all explainers together).
    """

    rows: int
    seconds: float
    workers: int
    rounds: int
    stopped_by: str
    pilot_rows_per_second: float


def _work(start: int, stop: int) -> list[np.ndarray]:
    rows = _STATE["rows"].iloc[start:stop]
    return [e.explain(rows) for e in _STATE["explainers"]]


def explain_within_budget(
    explainers: Sequence[Any],
    rows: pd.DataFrame,
    *,
    deadline: float,
    min_rows: int,
    n_jobs: int,
    budget_s: float,
) -> tuple[list[np.ndarray], RunStats]:
    """Explain the longest prefix of ``rows`` that fits before ``deadline``, with every explainer.

    A pilot batch measures the rate; each further batch is sized from the latest measurement
    to fit the time left, so a slow explainer explains fewer rows instead of overrunning.

    Args:
        explainers: Objects with ``explain(frame) -> (n, p, K)`` and a ``kind``.
        rows: The candidate rows, in stratified order.
        deadline: ``time.monotonic()`` by which explaining must end.
        min_rows: Fewest rows worth judging.
        n_jobs: Worker processes; 0 for every available core.
        budget_s: The policy's budget, for messages.

    Returns:
        Attributions per explainer for the first ``rows`` explained, and the run's statistics.

    Raises:
        GateInputError: When not even ``min_rows`` rows fit in the budget.
    """
    n_max = len(rows)
    t0 = time.monotonic()
    parts: list[list[np.ndarray]] = [[] for _ in explainers]
    pilot = min(PILOT_ROWS, n_max)
    _append(parts, [e.explain(rows.iloc[:pilot]) for e in explainers])
    per_row = max((time.monotonic() - t0) / pilot, 1e-6)
    pilot_rate = 1.0 / per_row
    cores = n_jobs or available_cores()
    # Forked workers never call the model's own predict (which may use OpenMP, not fork-safe):
    # only exact explainers over already-loaded trees and coefficients run there.
    can_fork = (
        cores > 1
        and "fork" in mp.get_all_start_methods()
        and all(getattr(e, "kind", "") in ("tree", "linear") for e in explainers)
    )
    left = deadline - time.monotonic()
    speedup = cores if can_fork else 1
    if pilot < min_rows and (min_rows - pilot) * per_row / speedup > left:
        raise GateInputError(
            f"explaining the minimum {min_rows} rows would take about "
            f"{(min_rows - pilot) * per_row / speedup:.0f} s at the measured "
            f"{pilot_rate:.2g} rows/s, beyond the {budget_s:g} s time budget "
            f"({max(left, 0):.0f} s left); raise gates.explainability.sampling.time_budget_s or "
            "lower min_explain_rows"
        )
    done, rounds, workers = _explain_rest(
        explainers,
        rows,
        parts,
        done=pilot,
        per_row=per_row,
        deadline=deadline,
        min_rows=min_rows,
        cores=cores,
        can_fork=can_fork,
    )
    stopped_by = "all rows" if done >= n_max else "time budget"
    out = [np.concatenate(p, axis=0) for p in parts]
    return out, RunStats(
        rows=done,
        seconds=time.monotonic() - t0,
        workers=workers,
        rounds=rounds,
        stopped_by=stopped_by,
        pilot_rows_per_second=pilot_rate,
    )


def _explain_rest(
    explainers: Sequence[Any],
    rows: pd.DataFrame,
    parts: list[list[np.ndarray]],
    *,
    done: int,
    per_row: float,
    deadline: float,
    min_rows: int,
    cores: int,
    can_fork: bool,
) -> tuple[int, int, int]:
    """Explain batches after the pilot until every row is done or the time left is too short.

    Each batch's attributions are appended to ``parts``. Returns the rows explained, the
    rounds run (the pilot counts as the first) and the workers used.
    """
    n_max = len(rows)
    rounds, workers = 1, 1
    pool = None
    try:
        while done < n_max:
            left = deadline - time.monotonic()
            remaining = n_max - done
            if pool is None and can_fork and remaining * per_row > _PARALLEL_MIN_SECONDS:
                _STATE.update(explainers=list(explainers), rows=rows)
                pool = mp.get_context("fork").Pool(cores)
                workers = cores
                # Planned rate with `cores` workers until a parallel round is measured.
                per_row = per_row / (cores * 0.9)
            batch = _next_batch(
                left=left,
                per_row=per_row,
                done=done,
                remaining=remaining,
                min_rows=min_rows,
                workers=workers,
                first=rounds == 1,
            )
            if batch is None:
                break
            t = time.monotonic()
            if pool is not None and batch >= 2 * workers:
                results = _parallel(pool, done, done + batch, workers, timeout=left + 30.0)
            else:
                results = [e.explain(rows.iloc[done : done + batch]) for e in explainers]
            per_row = max((time.monotonic() - t) / batch, 1e-6)
            _append(parts, results)
            done += batch
            rounds += 1
    finally:
        if pool is not None:
            pool.terminate()
            pool.join()
        _STATE.clear()
    return done, rounds, workers


def _next_batch(
    *,
    left: float,
    per_row: float,
    done: int,
    remaining: int,
    min_rows: int,
    workers: int,
    first: bool,
) -> int | None:
    """Rows of the next batch, sized to the time left; None when none is worth starting."""
    fit = int(left * _SAFETY / per_row)
    if done >= min_rows and fit < (2 * workers if workers > 1 else 1):
        return None
    batch = min(remaining, max(fit, min_rows - done, 1))
    if first:
        # Re-measure on a real batch before committing most of the time left.
        batch = min(batch, max(min_rows - done, int(0.3 * left / per_row), 1))
    return batch


def _append(parts: list[list[np.ndarray]], results: list[np.ndarray]) -> None:
    for store, r in zip(parts, results, strict=True):
        store.append(r)


def _parallel(pool: Any, start: int, stop: int, workers: int, *, timeout: float) -> list:
    bounds = np.linspace(start, stop, workers + 1).astype(int)
    jobs = [
        pool.apply_async(_work, (int(a), int(b)))
        for a, b in zip(bounds[:-1], bounds[1:], strict=True)
        if b > a
    ]
    try:
        chunks = [job.get(timeout=max(timeout, 5.0)) for job in jobs]
    except mp.TimeoutError:
        raise GateInputError(
            "explainer workers did not finish within the time budget; raise "
            "gates.explainability.sampling.time_budget_s or set sampling.n_jobs: 1"
        ) from None
    return [np.concatenate([c[i] for c in chunks], axis=0) for i in range(len(chunks[0]))]
