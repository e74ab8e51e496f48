"""Intervals for between-group disparities that cover, from the signed pairwise differences.

A disparity is ``max - min`` (or ``min / max``) of per-group values. Its plug-in estimate is
biased upward in small groups (noise alone spreads the groups apart) and the percentile
bootstrap of a non-negative statistic never covers 0, so a truly fair model could never be
*shown* fair. Here the disparity is read from the signed differences between every pair of
groups, each with its own interval:

* Per group, a proportion (selection rate, TPR, FPR, precision ...) uses Agresti-Caffo's
  adjustment (one success and one failure added: good coverage down to small counts) for
  differences, and the Katz log scale (0.5 added) for ratios; a regression metric uses the
  bootstrap standard error of its group value.
* Each pair ``i, j`` of a component gets ``d_ij = v_i - v_j`` and ``se_ij``.
* **Upper bound** of the disparity: the largest marginal upper bound of ``|d_ij|`` at the gate's
  confidence. Showing *every* pair within the bound is an intersection-union test, valid
  without adjustment: the pair that makes the true disparity is one fixed pair.
* **Lower bound**: the largest distance from 0 of the *simultaneous* intervals
  ``d_ij +- q se_ij``, ``q`` the ``confidence`` quantile of ``max |Z_i s_i - Z_j s_j| / se_ij``
  over all pairs and components (independent normal groups, Monte Carlo): showing *some* pair
  apart is a family of comparisons, and this single-step (Tukey-type) adjustment controls its
  family-wise error while still giving an interval. ``multiplicity: none`` uses marginal
  intervals here too.
* A ratio is ``exp(-max |log v_i - log v_j|)``: the same bounds on the log scale, mapped back.

The bias-aware estimate subtracts the parametric bootstrap bias of the plug-in disparity (same
normal draws); the smallest detectable disparity is ``(q + z_0.8) * max se_ij``, what the data
can tell from "no disparity" with 80% power at the observed group sizes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: Monte Carlo draws of the simultaneous critical value (and the bias correction).
_DRAWS = 20_000
#: Bound on draws x pairs kept in memory at once.
_MAX_CELLS = 40_000_000
_Z80 = 0.8416212335729143

#: Numerator and denominator cells (TN, FP, FN, TP) of each proportion.
PROPORTIONS: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    "selection_rate": ((1, 3), (0, 1, 2, 3)),
    "true_positive_rate": ((3,), (2, 3)),
    "false_positive_rate": ((1,), (0, 1)),
    "false_negative_rate": ((2,), (2, 3)),
    "precision": ((3,), (1, 3)),
    "accuracy": ((0, 3), (0, 1, 2, 3)),
}


@dataclass(frozen=True)
class Component:
    """One per-group metric behind a disparity, on the scale it is compared on.

    Attributes:
        metric: Group metric name.
        value: ``(groups,)`` plug-in values on the comparison scale (log for ratios).
        centre: ``(groups,)`` adjusted values the intervals are centred on.
        var: ``(groups,)`` variance of ``centre``.
        n: ``(groups,)`` rows behind each value (the denominator of a proportion).
        usable: ``(groups,)`` eligible groups with a defined value.
    """

    metric: str
    value: np.ndarray
    centre: np.ndarray
    var: np.ndarray
    n: np.ndarray
    usable: np.ndarray


@dataclass(frozen=True)
class DisparityInterval:
    """The interval of one disparity and what the data can resolve.

    Attributes:
        low: Lower bound (on the disparity's own scale).
        high: Upper bound.
        bias_corrected: Plug-in estimate minus its parametric bootstrap bias.
        detectable: Smallest disparity detectable with 80% power at these group sizes (for a
            ratio: the largest ratio that can be told from 1).
        smallest_n: Rows behind the smallest compared group value.
        critical: The simultaneous critical value ``q`` used for the lower bound.
        method: Description for the report.
    """

    low: float
    high: float
    bias_corrected: float
    detectable: float
    smallest_n: int
    critical: float
    method: str


def binary_component(metric: str, counts: np.ndarray, eligible: np.ndarray, how: str) -> Component:
    """A proportion per group from its confusion counts ``(groups, 4)`` (TN, FP, FN, TP)."""
    num_cells, den_cells = PROPORTIONS[metric]
    x = counts[:, list(num_cells)].sum(axis=1).astype(float)
    n = counts[:, list(den_cells)].sum(axis=1).astype(float)
    usable = eligible & (n > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        raw = np.where(n > 0, x / np.maximum(n, 1), np.nan)
        if how == "difference":
            centre = (x + 1.0) / (n + 2.0)
            var = centre * (1.0 - centre) / (n + 2.0)
            value = raw
        else:
            centre = np.log((x + 0.5) / (n + 0.5))
            var = 1.0 / (x + 0.5) - 1.0 / (n + 0.5)
            value = np.log(raw)
    usable &= np.isfinite(value) if how == "difference" else (raw > 0)
    return Component(metric, value, centre, var, n, usable)


def replicate_component(
    metric: str,
    values: np.ndarray,
    replicates: np.ndarray,
    n: np.ndarray,
    eligible: np.ndarray,
    how: str,
) -> Component:
    """A group metric with its bootstrap replicates ``(R, groups)`` (regression metrics)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        sd = np.nanstd(replicates, axis=0, ddof=1)
        if how == "difference":
            value, var = values, sd**2
        else:
            value = np.log(values)
            var = (sd / values) ** 2
    usable = eligible & np.isfinite(value) & np.isfinite(var)
    return Component(metric, value, value, var, n.astype(float), usable)


def _pairs(comp: Component) -> tuple[np.ndarray, np.ndarray]:
    idx = np.flatnonzero(comp.usable)
    i, j = np.triu_indices(idx.size, k=1)
    return idx[i], idx[j]


def disparity_interval(
    components: list[Component],
    *,
    how: str,
    confidence: float,
    simultaneous: bool,
    seed: int,
) -> DisparityInterval | None:
    """The interval of a disparity (difference or ratio) from its components' group pairs.

    Args:
        components: The group metrics the disparity takes the worst of (one, or TPR and FPR).
        how: ``difference`` or ``ratio``.
        confidence: Coverage of the interval.
        simultaneous: Adjust the lower bound over the pairs (else marginal intervals).
        seed: Seed of the Monte Carlo draws.

    Returns:
        The interval, or None when no component has two usable groups.
    """
    from scipy.stats import norm

    pairs = [(c, *_pairs(c)) for c in components]
    pairs = [(c, i, j) for c, i, j in pairs if i.size]
    if not pairs:
        return None
    z = float(norm.isf((1.0 - confidence) / 2.0))
    d = np.concatenate([c.centre[i] - c.centre[j] for c, i, j in pairs])
    se = np.sqrt(np.concatenate([c.var[i] + c.var[j] for c, i, j in pairs]))
    se = np.where(se > 0, se, 1e-12)
    high_abs = float(np.max(np.abs(d) + z * se))
    draws = _draws(pairs, seed)
    q = z
    if simultaneous and d.size > 1:
        q = float(np.quantile(np.max(np.abs(draws.pair_noise) / se, axis=1), confidence))
    low_abs = float(np.max(np.maximum(np.abs(d) - q * se, 0.0)))
    plug_in = float(max(np.nanmax(np.abs(c.value[i] - c.value[j])) for c, i, j in pairs))
    # Parametric bootstrap of the plug-in disparity: its mean minus the estimate is the bias.
    boot = np.max(np.abs(d[None, :] + draws.pair_noise), axis=1)
    bias = float(boot.mean() - np.max(np.abs(d)))
    corrected = max(0.0, plug_in - bias)
    detectable = float((q + _Z80) * se.max())
    smallest = int(min(c.n[c.usable].min() for c, _, _ in pairs))
    method = (
        ("Agresti-Caffo" if how == "difference" else "Katz log-ratio")
        + " pairwise intervals; upper bound marginal (intersection-union), lower bound "
        + (f"simultaneous max-|z| (q = {q:.3g})" if simultaneous and d.size > 1 else "marginal")
    )
    if how == "difference":
        cap = 1.0 if all(c.metric in PROPORTIONS for c, _, _ in pairs) else math.inf
        return DisparityInterval(
            low_abs, min(high_abs, cap), corrected, min(detectable, cap), smallest, q, method
        )
    return DisparityInterval(
        math.exp(-high_abs),
        math.exp(-low_abs),
        math.exp(-corrected),
        math.exp(-detectable),
        smallest,
        q,
        method,
    )


@dataclass(frozen=True)
class _Draws:
    pair_noise: np.ndarray  # (draws, pairs): Z_i s_i - Z_j s_j


def _draws(pairs: list[tuple[Component, np.ndarray, np.ndarray]], seed: int) -> _Draws:
    n_pairs = sum(i.size for _, i, _ in pairs)
    n_draws = int(max(2_000, min(_DRAWS, _MAX_CELLS // max(n_pairs, 1))))
    rng = np.random.default_rng(seed)
    parts = []
    for c, i, j in pairs:
        # Independent groups (and TPR/FPR use disjoint rows): one normal per group value.
        noise = rng.standard_normal((n_draws, c.centre.size)) * np.sqrt(np.maximum(c.var, 0.0))
        parts.append(noise[:, i] - noise[:, j])
    return _Draws(np.concatenate(parts, axis=1))
