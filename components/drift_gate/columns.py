"""Drift of one column: every distance, and the evidence (an interval) of the judged one.

Numeric columns are counted on 100 bins at the reference's quantiles (PSI on its deciles);
categorical ones per category, the reference's ``max_categories`` most frequent kept and the rest
pooled. The interval of the judged distance is the basic bootstrap interval of
:mod:`.stats`; Jensen-Shannon is resampled on the divergence scale (its small-sample bias is
additive there) and reported as a distance.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from quality_gates.components.drift_gate import cdf_grid, stats
from quality_gates.shared.gates.decisions import Evidence, from_replicates

#: Evidently's floor of the reference standard deviation when normalising the Wasserstein distance.
MIN_STD = 1e-3
OTHER = "(other)"


@dataclass(frozen=True)
class ColumnDrift:
    """What the gate measured on one column.

    Attributes:
        column: Column name.
        kind: ``numeric`` or ``categorical``.
        n_reference: Reference rows with a value.
        n_current: Current rows with a value.
        missing_reference: Share of reference rows without a value.
        missing_current: Share of current rows without a value.
        statistics: Every distance and test statistic by name.
        metric: The judged distance.
        evidence: Its point estimate and interval; None when the column cannot be compared.
        problem: Why the column cannot be compared (e.g. no value in the current data).
        histogram: ``{"labels", "reference", "current"}`` shares per coarse bin, for the report.
    """

    column: str
    kind: str
    n_reference: int
    n_current: int
    missing_reference: float
    missing_current: float
    statistics: dict[str, float]
    metric: str
    evidence: Evidence | None
    problem: str | None = None
    histogram: dict = field(default_factory=dict)


def _missing_share(missing: int, n: int) -> float:
    total = missing + n
    return missing / total if total else 0.0


def _header(column: str, kind: str, metric: str, rs, cs) -> dict:
    """The fields of a :class:`ColumnDrift` that both kinds fill from their two states."""
    return dict(
        column=column,
        kind=kind,
        n_reference=rs.n,
        n_current=cs.n,
        missing_reference=_missing_share(rs.missing, rs.n),
        missing_current=_missing_share(cs.missing, cs.n),
        metric=metric,
    )


def _incomparable(base: dict, cs) -> ColumnDrift:
    """A column with no value on one side: nothing to measure, the reason instead."""
    side = "current" if cs.n == 0 else "reference"
    return ColumnDrift(**base, statistics={}, evidence=None, problem=f"no value in the {side} data")


def _coarse(counts: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Sum fine-bin counts (``[..., fine]``) into their PSI groups (``[..., groups]``)."""
    starts = np.flatnonzero(np.r_[True, np.diff(groups) > 0])
    return np.add.reduceat(counts, starts, axis=-1)


def numeric_drift(
    column: str,
    reference: pd.Series,
    current: pd.Series,
    *,
    metric: str,
    resamples: int,
    confidence: float,
    rng: np.random.Generator,
) -> ColumnDrift:
    """Compare a numeric column of the current data with the reference.

    Args:
        column: Column name.
        reference: Reference values.
        current: Current values.
        metric: ``wasserstein_norm``, ``psi`` or ``ks``.
        resamples: Bootstrap resamples.
        confidence: Coverage of the interval.
        rng: Seeded generator.

    Returns:
        The column's drift.
    """
    r = _finite_sorted(reference)
    rv = r[0]
    edges = stats.reference_edges(rv)
    rs = stats.count_sorted(rv, edges, r[1])
    return _numeric_from_states(
        column,
        rs,
        current,
        lambda cv: (*stats.exact_distances(rv, cv), 0.0, 0.0),
        metric=metric,
        resamples=resamples,
        confidence=confidence,
        rng=rng,
        reference_note="",
    )


def numeric_drift_profiled(
    column: str,
    reference: stats.NumericState,
    grid: cdf_grid.CdfGrid,
    current: pd.Series,
    **options: Any,
) -> ColumnDrift:
    """:func:`numeric_drift` against a stored profile of the reference column.

    The bins, counts and moments are the reference's own, so PSI, the mean shift and the
    bootstrap are those of the full table; Wasserstein and KS come from the profile's grid, exact
    when it holds every distinct reference value and otherwise within its stated bound, by which
    the judged distance's interval is widened (an honest "inconclusive" near the threshold).

    Args:
        column: Column name.
        reference: The profile's bin state of the column.
        grid: The profile's CDF grid of the column.
        current: Current values.
        options: ``metric``, ``resamples``, ``confidence``, ``rng`` as for :func:`numeric_drift`.

    Returns:
        The column's drift; ``wasserstein_norm_bound`` and ``ks_bound`` in its statistics.
    """
    low, high = reference.low, reference.high

    def distances(cv: np.ndarray) -> tuple[float, float, float, float]:
        w, ks = cdf_grid.distances(grid, cv, low, high)
        return w, ks, grid.wasserstein_bound(low, high), grid.ks_bound()

    note = (
        f"reference from its profile: exact ({grid.points.size} distinct values)"
        if grid.exact
        else f"reference from its profile ({grid.points.size}-point CDF grid)"
    )
    return _numeric_from_states(
        column, reference, current, distances, **options, reference_note=note
    )


def _finite_sorted(values: pd.Series) -> tuple[np.ndarray, int]:
    """The sorted finite values of a column, and its count of missing ones (null, NaN, inf)."""
    v = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    finite = np.sort(v[np.isfinite(v)])
    return finite, v.size - finite.size


def _numeric_from_states(
    column: str,
    rs: stats.NumericState,
    current: pd.Series,
    distances: Callable[[np.ndarray], tuple[float, float, float, float]],
    *,
    metric: str,
    resamples: int,
    confidence: float,
    rng: np.random.Generator,
    reference_note: str,
) -> ColumnDrift:
    """Everything after the reference's state: the current's counts, the distances, the interval.

    ``distances(sorted current)`` returns ``(W1, KS, bound of W1, bound of KS)``; the bounds
    are 0 on the full table.
    """
    cv, missing = _finite_sorted(current)
    cs = stats.count_sorted(cv, rs.edges, missing)
    base = _header(column, "numeric", metric, rs, cs)
    if cs.n == 0 or rs.n == 0:
        return _incomparable(base, cs)
    norm = max(rs.std, MIN_STD)
    wasserstein, ks, w_bound, ks_bound = distances(cv)
    groups = stats.psi_groups(rs.counts)
    points = stats.bin_points(rs, cs)
    exact = {
        "wasserstein_norm": wasserstein / norm,
        "psi": float(stats.psi(_coarse(rs.counts, groups), _coarse(cs.counts, groups))),
        "ks": ks,
    }
    bound = {"wasserstein_norm": w_bound / norm, "psi": 0.0, "ks": ks_bound}
    stat_fn = {
        "wasserstein_norm": lambda a, b: stats.binned_wasserstein(a, b, points) / norm,
        "psi": lambda a, b: stats.psi(_coarse(a, groups), _coarse(b, groups)),
        "ks": stats.binned_ks,
    }[metric]
    rb = stats.bootstrap_counts(rs.counts, resamples=resamples, rng=rng)
    cb = stats.bootstrap_counts(cs.counts, resamples=resamples, rng=rng)
    reps = stats.basic_replicates(
        exact[metric], float(stat_fn(rs.counts, cs.counts)), stat_fn(rb, cb)
    )
    method = f"basic bootstrap over {rs.counts.size} reference-quantile bins"
    evidence = widened(
        from_replicates(
            exact[metric], reps, confidence=confidence, n=min(rs.n, cs.n), method=method
        ),
        reps,
        bound[metric],
        note=reference_note,
        what=metric,
    )
    exact["mean_shift_std"] = (cs.total / cs.n - rs.total / rs.n) / norm
    if reference_note:  # from a profile: say how close the distances are to the full table's
        exact |= {"wasserstein_norm_bound": bound["wasserstein_norm"], "ks_bound": ks_bound}
    histogram = _numeric_histogram(rs, cs, groups)
    return ColumnDrift(**base, statistics=exact, evidence=evidence, histogram=histogram)


def widened(
    evidence: Evidence, replicates: np.ndarray, bound: float, *, note: str, what: str
) -> Evidence:
    """The evidence of a statistic known only to within ``±bound``: its interval widened by it.

    The true statistic is the computed one shifted by at most ``bound``, so its replicates are
    shifted alike; the p-value of a threshold ``t`` is the largest over shifts in
    ``[−bound, bound]`` (the bootstrap p-value peaks at the replicates' median), and the interval
    it inverts is the original one widened by ``bound`` on each side.

    Args:
        evidence: The evidence of the computed statistic.
        replicates: Its replicates.
        bound: The largest error of the computed statistic (0: exact, nothing changes).
        note: How the reference was read, appended to the method ("" for the full table).
        what: The statistic's name, for the method.

    Returns:
        The widened evidence.
    """
    if note:
        suffix = f"; {note}" + (f", {what} within ±{bound:.2g} (interval widened)" if bound else "")
        evidence = dataclasses.replace(evidence, method=evidence.method + suffix)
    if bound <= 0 or not evidence.has_interval or evidence.p_value is None:
        return evidence
    reps = np.asarray(replicates, dtype=float)
    median = float(np.median(reps[np.isfinite(reps)]))
    inner = evidence.p_value

    def p_value(threshold: float) -> float:
        return inner(min(max(median, threshold - bound), threshold + bound))

    return dataclasses.replace(
        evidence,
        low=max(evidence.low - bound, 0.0),  # type: ignore[operator]
        high=evidence.high + bound,  # type: ignore[operator]
        p_value=p_value,
    )


def _numeric_histogram(rs: stats.NumericState, cs: stats.NumericState, groups: np.ndarray) -> dict:
    ref, cur = _coarse(rs.counts, groups), _coarse(cs.counts, groups)
    starts = np.flatnonzero(np.r_[True, np.diff(groups) > 0])
    lows = [rs.low] + [float(rs.edges[s - 1]) for s in starts[1:]]
    labels = [f"≥ {low:.4g}" for low in lows]
    return {
        "labels": labels,
        "reference": (ref / max(ref.sum(), 1)).tolist(),
        "current": (cur / max(cur.sum(), 1)).tolist(),
    }


def _category_vectors(
    rs: stats.CategoricalState, cs: stats.CategoricalState, max_categories: int, rest: int = 0
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Reference and current counts on the reference's top categories, the rest pooled.

    ``rest`` is the reference rows a truncated profile did not keep per category (it keeps the
    top ``max_categories``, exactly the ones kept here, so the pooled counts are the same).
    """
    cats = np.union1d(rs.categories, cs.categories)
    ref, cur = rs.aligned(cats), cs.aligned(cats)
    order = np.lexsort((cats, -ref))  # most frequent in the reference first, then by name
    keep, pooled = order[:max_categories], order[max_categories:]
    labels = cats[keep].tolist()
    ref_v, cur_v = ref[keep], cur[keep]
    if pooled.size or rest:
        labels.append(OTHER)
        ref_v = np.append(ref_v, ref[pooled].sum() + rest)
        cur_v = np.append(cur_v, cur[pooled].sum())
    return labels, ref_v, cur_v


def categorical_drift(
    column: str,
    reference: pd.Series,
    current: pd.Series,
    *,
    metric: str,
    resamples: int,
    confidence: float,
    max_categories: int,
    rng: np.random.Generator,
    rest: int = 0,
) -> ColumnDrift:
    """Compare a categorical column of the current data with the reference.

    Args:
        column: Column name.
        reference: Reference values, or a profile's :class:`~.stats.CategoricalState` of them.
        current: Current values.
        metric: ``jensen_shannon`` or ``psi``.
        resamples: Bootstrap resamples.
        confidence: Coverage of the interval.
        max_categories: Categories kept apart; the rest are pooled.
        rng: Seeded generator.
        rest: Reference rows a truncated profile pooled (its categories are then only the top
            ``max_categories``, so ``unseen_share`` becomes ``unseen_share_at_most``).

    Returns:
        The column's drift; ``unseen_share`` is the share of current rows in categories the
        reference never had.
    """
    if isinstance(reference, stats.CategoricalState):
        rs = reference
    else:
        rs = stats.count_categorical(reference)
    cs = stats.count_categorical(current)
    base = _header(column, "categorical", metric, rs, cs)
    base["n_reference"] = rs.n + rest
    base["missing_reference"] = _missing_share(rs.missing, rs.n + rest)
    if cs.n == 0 or rs.n + rest == 0:
        return _incomparable(base, cs)
    labels, ref, cur = _category_vectors(rs, cs, max_categories, rest)
    unseen = ~np.isin(cs.categories, rs.categories)
    chi2, chi2_p, _dof = stats.chi_square(ref, cur)
    js = float(stats.jensen_shannon(ref, cur))
    exact = {
        "jensen_shannon": js,
        "psi": float(stats.psi(ref, cur)),
        "chi2": chi2,
        "chi2_p": chi2_p,
        "unseen_share_at_most" if rest else "unseen_share": float(cs.counts[unseen].sum() / cs.n),
    }
    rb = stats.bootstrap_counts(ref, resamples=resamples, rng=rng)
    cb = stats.bootstrap_counts(cur, resamples=resamples, rng=rng)
    if metric == "jensen_shannon":
        # On the divergence scale, where sampling noise adds a bias the basic interval removes.
        reps = np.sqrt(stats.basic_replicates(js**2, js**2, stats.jensen_shannon(rb, cb) ** 2))
    else:
        reps = stats.basic_replicates(exact["psi"], exact["psi"], stats.psi(rb, cb))
    evidence = from_replicates(
        exact[metric],
        reps,
        confidence=confidence,
        n=min(rs.n + rest, cs.n),
        method=f"basic bootstrap over {len(labels)} categories",
    )
    histogram = {
        "labels": labels,
        "reference": (ref / ref.sum()).tolist(),
        "current": (cur / cur.sum()).tolist(),
    }
    return ColumnDrift(**base, statistics=exact, evidence=evidence, histogram=histogram)
