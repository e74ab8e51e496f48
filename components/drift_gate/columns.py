"""Drift of one column: every distance, and the evidence (an interval) of the judged one.

Numeric columns are counted on 100 bins at the reference's quantiles (PSI on its deciles);
categorical ones per category, the reference's ``max_categories`` most frequent kept and the rest
pooled. The interval of the judged distance is the basic bootstrap interval of
:mod:`.stats`; Jensen-Shannon is resampled on the divergence scale (its small-sample bias is
additive there) and reported as a distance.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from quality_gates.components.drift_gate import stats
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
    r = pd.to_numeric(reference, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    c = pd.to_numeric(current, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    rv, cv = np.sort(r[np.isfinite(r)]), np.sort(c[np.isfinite(c)])
    edges = stats.reference_edges(rv)
    rs = stats.count_sorted(rv, edges, r.size - rv.size)
    cs = stats.count_sorted(cv, edges, c.size - cv.size)
    base = _header(column, "numeric", metric, rs, cs)
    if cs.n == 0 or rs.n == 0:
        return _incomparable(base, cs)
    norm = max(rs.std, MIN_STD)
    wasserstein, ks = stats.exact_distances(rv, cv)
    groups = stats.psi_groups(rs.counts)
    points = stats.bin_points(rs, cs)
    exact = {
        "wasserstein_norm": wasserstein / norm,
        "psi": float(stats.psi(_coarse(rs.counts, groups), _coarse(cs.counts, groups))),
        "ks": ks,
    }
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
    evidence = from_replicates(
        exact[metric],
        reps,
        confidence=confidence,
        n=min(rs.n, cs.n),
        method=f"basic bootstrap over {rs.counts.size} reference-quantile bins",
    )
    exact["mean_shift_std"] = (cs.total / cs.n - rs.total / rs.n) / norm
    histogram = _numeric_histogram(rs, cs, groups)
    return ColumnDrift(**base, statistics=exact, evidence=evidence, histogram=histogram)


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
    rs: stats.CategoricalState, cs: stats.CategoricalState, max_categories: int
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Reference and current counts on the reference's top categories, the rest pooled."""
    cats = np.union1d(rs.categories, cs.categories)
    ref, cur = rs.aligned(cats), cs.aligned(cats)
    order = np.lexsort((cats, -ref))  # most frequent in the reference first, then by name
    keep, rest = order[:max_categories], order[max_categories:]
    labels = cats[keep].tolist()
    ref_v, cur_v = ref[keep], cur[keep]
    if rest.size:
        labels.append(OTHER)
        ref_v = np.append(ref_v, ref[rest].sum())
        cur_v = np.append(cur_v, cur[rest].sum())
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
) -> ColumnDrift:
    """Compare a categorical column of the current data with the reference.

    Args:
        column: Column name.
        reference: Reference values.
        current: Current values.
        metric: ``jensen_shannon`` or ``psi``.
        resamples: Bootstrap resamples.
        confidence: Coverage of the interval.
        max_categories: Categories kept apart; the rest are pooled.
        rng: Seeded generator.

    Returns:
        The column's drift; ``unseen_share`` is the share of current rows in categories the
        reference never had.
    """
    rs, cs = stats.count_categorical(reference), stats.count_categorical(current)
    base = _header(column, "categorical", metric, rs, cs)
    if cs.n == 0 or rs.n == 0:
        return _incomparable(base, cs)
    labels, ref, cur = _category_vectors(rs, cs, max_categories)
    unseen = ~np.isin(cs.categories, rs.categories)
    chi2, chi2_p, _dof = stats.chi_square(ref, cur)
    js = float(stats.jensen_shannon(ref, cur))
    exact = {
        "jensen_shannon": js,
        "psi": float(stats.psi(ref, cur)),
        "chi2": chi2,
        "chi2_p": chi2_p,
        "unseen_share": float(cs.counts[unseen].sum() / cs.n),
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
        n=min(rs.n, cs.n),
        method=f"basic bootstrap over {len(labels)} categories",
    )
    histogram = {
        "labels": labels,
        "reference": (ref / ref.sum()).tolist(),
        "current": (cur / cur.sum()).tolist(),
    }
    return ColumnDrift(**base, statistics=exact, evidence=evidence, histogram=histogram)
