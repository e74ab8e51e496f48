"""The reference's distribution on a grid of points: Wasserstein and KS with a proven error bound.

A stored profile cannot hold a million sorted values per column, but the exact distances need
the reference's CDF ``F``. The grid keeps, at chosen points ``v_0 < … < v_K``, how many reference
values lie at or below each point and how many equal it. Between two points ``F`` is unknown but
monotone, so it lies in a band of height ``Δ_j`` (the reference's share strictly inside the gap);
the grid's CDF ``G`` runs linearly through that band. Hence, for the exact ``F`` and any current
sample:

* ``|KS − KS_G| ≤ max_j Δ_j`` (``F`` and ``G`` are both in the band);
* ``|W1 − W1_G| ≤ ½ Σ_j Δ_j (v_{j+1} − v_j)`` (a monotone ``F`` in a band is at most half the
  band's area away from the band's diagonal).

Both bounds depend on the reference alone and are stored with the grid. When the reference has
few distinct values, the grid is all of them: every ``Δ_j`` is 0, and both distances are exact.

The counts at the points are sums over rows, so the grids of shards counted at the same points
merge by addition, like the bin states of :mod:`.stats`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: A reference with at most this many distinct values keeps them all: exact distances.
EXACT_DISTINCT = 4096
#: Points at equal reference shares (bounds KS by 1 / RANK_POINTS).
RANK_POINTS = 2048
#: Points at equal steps over the reference's range (keeps the gaps of long tails narrow).
VALUE_POINTS = 1024


@dataclass(frozen=True)
class CdfGrid:
    """Reference counts at grid points (a mergeable state).

    Attributes:
        points: Sorted distinct grid points.
        at_or_below: Reference values ``<=`` each point.
        at: Reference values equal to each point.
        n: Reference values counted (finite ones).
    """

    points: np.ndarray
    at_or_below: np.ndarray
    at: np.ndarray
    n: int

    def merge(self, other: CdfGrid) -> CdfGrid:
        """Add the counts of another shard counted at the same points."""
        if not np.array_equal(self.points, other.points):
            raise ValueError("grids on different points cannot be merged")
        return CdfGrid(
            self.points,
            self.at_or_below + other.at_or_below,
            self.at + other.at,
            self.n + other.n,
        )

    @property
    def exact(self) -> bool:
        """Every reference value is a grid point: the distances from the grid are exact."""
        return bool(self.n == 0 or self.at.sum() == self.n)

    def gaps(self) -> np.ndarray:
        """Reference share strictly between consecutive points (``Δ_j``), len(points) − 1."""
        below = self.at_or_below - self.at  # values < each point
        return (below[1:] - self.at_or_below[:-1]) / max(self.n, 1)

    def ks_bound(self) -> float:
        """Largest error of KS computed from the grid (0 when exact)."""
        outside = self._outside() / max(self.n, 1)
        gaps = self.gaps()
        return float(max(gaps.max(initial=0.0), outside))

    def wasserstein_bound(self, low: float, high: float) -> float:
        """Largest error of W1 computed from the grid, given the reference's min and max."""
        pts, cum, below = self._knots(low, high)
        gaps = (below[1:] - cum[:-1]) / max(self.n, 1)
        return float(0.5 * np.dot(gaps, np.diff(pts)))

    def _outside(self) -> int:
        """Reference values below the first point or above the last (0 for a full-range grid)."""
        if self.points.size == 0:
            return self.n
        return int(self.at_or_below[0] - self.at[0] + self.n - self.at_or_below[-1])

    def _knots(self, low: float, high: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Points with the reference's min and max added as knots when the grid misses them.

        Returns:
            ``(points, values <= point, values < point)``; below the first knot the CDF is 0 and
            from the last on it is ``n``, so the band covers the whole line.
        """
        pts, cum, below = self.points, self.at_or_below, self.at_or_below - self.at
        if pts.size == 0 or low < pts[0]:
            pts, cum, below = np.r_[low, pts], np.r_[0, cum], np.r_[0, below]
        if high > pts[-1]:
            pts, cum, below = np.r_[pts, high], np.r_[cum, self.n], np.r_[below, self.n]
        return pts.astype(float), cum.astype(float), below.astype(float)


def grid_points(values: np.ndarray) -> np.ndarray:
    """The grid of a sorted finite column: all distinct values, or rank and value steps.

    Args:
        values: The reference column's finite values, sorted.

    Returns:
        Sorted distinct points, all of them reference values (min and max included).
    """
    if values.size == 0:
        return np.empty(0)
    distinct = values[np.r_[True, values[1:] != values[:-1]]]
    if distinct.size <= EXACT_DISTINCT:
        return distinct
    ranks = np.round(np.linspace(0, values.size - 1, RANK_POINTS + 1)).astype(np.int64)
    steps = np.linspace(values[0], values[-1], VALUE_POINTS + 1)
    # The first value at or above each step: a reference value, so every point carries mass.
    at_steps = values[np.minimum(np.searchsorted(values, steps), values.size - 1)]
    return np.unique(np.r_[values[ranks], at_steps])


def count_grid(values: np.ndarray, points: np.ndarray) -> CdfGrid:
    """Count one shard of a column at given points (any order; NaN and inf are not counted).

    Args:
        values: The shard's values.
        points: The grid points (from :func:`grid_points` of the whole reference).

    Returns:
        The shard's grid; grids of the shards of a table merge into the table's.
    """
    v = np.sort(np.asarray(values, dtype=float))
    v = v[np.isfinite(v)]
    return count_grid_sorted(v, points)


def count_grid_sorted(values: np.ndarray, points: np.ndarray) -> CdfGrid:
    """:func:`count_grid` of a sorted finite column, in O(points log n)."""
    right = np.searchsorted(values, points, side="right").astype(np.int64)
    left = np.searchsorted(values, points, side="left").astype(np.int64)
    return CdfGrid(np.asarray(points, dtype=float), right, right - left, int(values.size))


def distances(grid: CdfGrid, current: np.ndarray, low: float, high: float) -> tuple[float, float]:
    """Wasserstein and KS between the grid's CDF ``G`` and a sorted current sample.

    ``G`` is linear inside each gap and jumps at the points, ``F_cur`` is a step function; on
    every interval between consecutive knots or current values one is linear and the other
    constant, so ``∫|G − F_cur|`` has a closed form there and ``sup|G − F_cur|`` is at an end.

    Args:
        grid: The reference's grid.
        current: The current column's finite values, sorted.
        low: The reference's minimum.
        high: The reference's maximum.

    Returns:
        ``(W1, KS)`` computed from the grid; exact when ``grid.exact``.
    """
    pts, cum, below = grid._knots(low, high)  # noqa: SLF001 - one module's own helper
    n, m = float(grid.n), float(current.size)
    # One stable merge of the two sorted runs (linear); of a run of equal values only the last
    # is kept, where the current count is complete: F_cur there is its right-continuous value.
    merged = np.concatenate([current, pts])
    order = np.argsort(merged, kind="stable")
    grid_x = merged[order]
    last = np.r_[grid_x[1:] != grid_x[:-1], True]
    xs = grid_x[last]
    f_all = np.cumsum(order < current.size)[last] / m
    # G at each x (right limit) and just before the next x (left limit of the next).
    j = np.cumsum(order >= current.size)[last] - 1  # the knot at or before x (-1: before all)
    jj = np.clip(j, 0, pts.size - 2) if pts.size > 1 else np.zeros_like(j)
    if pts.size > 1:
        width = pts[jj + 1] - pts[jj]
        slope = np.where((j >= 0) & (j < pts.size - 1), (below[jj + 1] - cum[jj]) / width, 0.0)
    else:
        slope = np.zeros_like(xs)
    g_at = np.where(j >= 0, cum[np.maximum(j, 0)] + slope * (xs - pts[jj]), 0.0)
    dx = np.diff(xs)
    g0 = g_at[:-1] / n
    g1 = (g_at[:-1] + slope[:-1] * dx) / n  # linear within the gap up to the next x
    f = f_all[:-1]
    a, b = g0 - f, g1 - f
    ks = float(np.max(np.maximum(np.abs(a), np.abs(b)), initial=0.0))
    ks = max(ks, abs(g_at[-1] / n - 1.0))
    same = a * b >= 0
    with np.errstate(invalid="ignore", divide="ignore"):
        crossing = (a * a + b * b) / (2.0 * (np.abs(a) + np.abs(b)))
    area = np.where(same, 0.5 * (np.abs(a) + np.abs(b)), np.nan_to_num(crossing))
    return float(np.dot(area, dx)), ks
