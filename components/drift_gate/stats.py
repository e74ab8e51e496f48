"""Drift statistics of one column: reference-defined bins, counts that merge, exact distances.

Every statistic is a function of a **state** that merges by addition: for a numeric column the
counts of the current data in bins whose edges the reference defined (its quantiles), for a
categorical one the counts per category. Shards of a table (chunks here, Spark partitions next)
are counted separately and summed, and give exactly the numbers of one pass over the whole table.

The Wasserstein distance is the exception that needs the values themselves: its point estimate is
exact (both samples sorted, :func:`wasserstein_exact`, the number Evidently and scipy report); its
interval comes from the binned distributions (the bootstrap below), whose spread it shares.

Intervals: the rows of each side are resampled as multinomial draws over the bins (an exact
bootstrap of the binned distribution, vectorised as ``R × bins`` arrays), and the interval is the
*basic* bootstrap one (``2θ̂ − θ*``): a distance is biased upwards on small samples (two samples
of one distribution are never at distance 0), and the basic interval removes that bias to first
order, so that "shown to exceed the threshold" means the populations differ, not the samples.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Fine bins of a numeric column (reference quantiles): the resolution of the bootstrap and KS.
FINE_BINS = 100
#: Bins of the population stability index (reference deciles), as the industry computes it.
PSI_BINS = 10
#: Floor of an empty bin's share in PSI (log of 0): Evidently's and most credit-risk tools' value.
PSI_EPS = 1e-4


@dataclass(frozen=True)
class NumericState:
    """Counts of one numeric column in bins whose edges the reference defined.

    Attributes:
        edges: Interior bin edges (sorted, unique); ``len(edges) + 1`` bins, the outer two open.
        counts: Rows per bin.
        sums: Sum of the values in each bin (the bins' positions for the binned distances).
        missing: Rows without a value (null or NaN).
        total: Sum of the values (for the mean).
        total_sq: Sum of the squared values (for the standard deviation).
        low: Smallest value seen (inf when none).
        high: Largest value seen (-inf when none).
    """

    edges: np.ndarray
    counts: np.ndarray
    sums: np.ndarray
    missing: int
    total: float
    total_sq: float
    low: float
    high: float

    @property
    def n(self) -> int:
        """Rows with a value."""
        return int(self.counts.sum())

    def merge(self, other: NumericState) -> NumericState:
        """Add the counts of another shard counted on the same edges."""
        if not np.array_equal(self.edges, other.edges):
            raise ValueError("numeric states on different bin edges cannot be merged")
        return NumericState(
            self.edges,
            self.counts + other.counts,
            self.sums + other.sums,
            self.missing + other.missing,
            self.total + other.total,
            self.total_sq + other.total_sq,
            min(self.low, other.low),
            max(self.high, other.high),
        )

    @property
    def std(self) -> float:
        """Population standard deviation (ddof 0, as Evidently normalises by)."""
        n = self.n
        if n == 0:
            return float("nan")
        mean = self.total / n
        return float(np.sqrt(max(self.total_sq / n - mean * mean, 0.0)))


def bin_points(*states: NumericState) -> np.ndarray:
    """Position of each bin: the mean of the values the given states counted in it.

    Bins no state filled sit at their nearest edge, so the positions stay sorted.

    Args:
        states: States on the same edges (the reference and the current side, pooled).

    Returns:
        One position per bin, non-decreasing.
    """
    counts = sum(s.counts for s in states)
    sums = sum(s.sums for s in states)
    edges = states[0].edges
    fallback = np.concatenate([edges[:1], edges]) if edges.size else np.zeros(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        points = np.where(counts > 0, sums / np.where(counts > 0, counts, 1), fallback)
    return np.maximum.accumulate(points)


def reference_edges(values: np.ndarray, *, bins: int = FINE_BINS) -> np.ndarray:
    """Interior edges at the reference's quantiles (ties merged), the bins every side counts in.

    Args:
        values: The reference column's finite values, **sorted** (the caller sorts once).
        bins: Number of quantile bins wanted (fewer result when values repeat).

    Returns:
        Sorted unique interior edges: ``np.quantile(values, k / bins, method="linear")`` for
        ``k = 1 .. bins − 1``, read off the sorted values (no selection pass over the column).
    """
    if values.size == 0:
        return np.empty(0)
    return np.unique(sorted_quantiles(values, np.linspace(0.0, 1.0, bins + 1)[1:-1]))


def sorted_quantiles(values: np.ndarray, q: np.ndarray) -> np.ndarray:
    """``np.quantile(values, q)`` (linear method) of sorted values, bit for bit, in O(len(q)).

    Args:
        values: Sorted values, at least one.
        q: Probabilities in [0, 1].

    Returns:
        The quantiles, with numpy's own interpolation formula (so the same floats).
    """
    h = (values.size - 1) * np.asarray(q, dtype=float)
    lo = np.floor(h).astype(np.int64)
    hi = np.minimum(lo + 1, values.size - 1)
    t = h - lo
    a, b = values[lo], values[hi]
    diff = b - a
    # numpy's _lerp: from the nearer end, so that t = 1 gives b exactly.
    return np.where(t >= 0.5, b - diff * (1.0 - t), a + diff * t)


def count_numeric(values: np.ndarray, edges: np.ndarray) -> NumericState:
    """Count one shard of a numeric column on given edges.

    Args:
        values: The shard's values (float; NaN for missing).
        edges: The reference's interior edges.

    Returns:
        The shard's state; states of the shards of a table merge into the table's.
    """
    v = np.asarray(values, dtype=float)
    finite = v[np.isfinite(v)]
    # side="right": a value equal to an edge belongs to the bin starting there, [e_k, e_k+1).
    idx = np.searchsorted(edges, finite, side="right")
    counts = np.bincount(idx, minlength=edges.size + 1).astype(np.int64)
    sums = np.bincount(idx, weights=finite, minlength=edges.size + 1)
    return NumericState(
        edges,
        counts,
        sums,
        int(v.size - finite.size),
        float(finite.sum()),
        float(np.square(finite).sum()),
        float(finite.min()) if finite.size else float("inf"),
        float(finite.max()) if finite.size else float("-inf"),
    )


def _cdfs_on_merged(r: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The merged sorted values and ``F_ref − F_cur`` there (inputs sorted), one stable merge.

    Within a run of equal values the CDFs are only right at its last position; the Wasserstein
    integral does not care (the run has width 0) and :func:`exact_distances` reads KS there.
    """
    merged = np.concatenate([r, c])
    order = np.argsort(merged, kind="stable")  # two sorted runs: a linear merge
    grid = merged[order]
    seen_r = np.cumsum(order < r.size, dtype=np.float64)
    # F_ref − F_cur = s / n − (k − s) / m after k merged values, s of them from the reference.
    gap = seen_r * (1.0 / r.size + 1.0 / c.size)
    gap -= np.arange(1, merged.size + 1, dtype=np.float64) / c.size
    return grid, gap


def count_sorted(values: np.ndarray, edges: np.ndarray, missing: int) -> NumericState:
    """:func:`count_numeric` of an already sorted finite column: the same counts, in O(bins log n).

    Args:
        values: Sorted finite values.
        edges: The reference's interior edges.
        missing: Rows of the column without a value.

    Returns:
        The state (counts identical to :func:`count_numeric`'s).
    """
    cuts = np.r_[0, np.searchsorted(values, edges, side="left"), values.size]
    counts = np.diff(cuts).astype(np.int64)
    sums = np.zeros(counts.size)
    filled = counts > 0
    if filled.any():  # reduceat sums from each start to the next; empty bins stay 0
        sums[filled] = np.add.reduceat(values, cuts[:-1][filled])
    return NumericState(
        edges,
        counts,
        sums,
        int(missing),
        float(values.sum()),
        float(np.dot(values, values)),
        float(values[0]) if values.size else float("inf"),
        float(values[-1]) if values.size else float("-inf"),
    )


def wasserstein_exact(reference: np.ndarray, current: np.ndarray, *, presorted: bool = False):
    """Exact first Wasserstein distance of two samples (scipy's ``wasserstein_distance``).

    The integral of ``|F_ref − F_cur|`` over the merged sorted values, vectorised.

    Args:
        reference: Finite reference values.
        current: Finite current values.
        presorted: Both are sorted already (the caller sorts once for every statistic).

    Returns:
        The distance (nan when a side is empty).
    """
    if reference.size == 0 or current.size == 0:
        return float("nan")
    r, c = (reference, current) if presorted else (np.sort(reference), np.sort(current))
    return exact_distances(r, c)[0]


def ks_exact(reference: np.ndarray, current: np.ndarray, *, presorted: bool = False) -> float:
    """Exact two-sample Kolmogorov-Smirnov statistic ``max |F_ref − F_cur|``.

    Args:
        reference: Finite reference values.
        current: Finite current values.
        presorted: Both are sorted already.

    Returns:
        The statistic (nan when a side is empty).
    """
    if reference.size == 0 or current.size == 0:
        return float("nan")
    r, c = (reference, current) if presorted else (np.sort(reference), np.sort(current))
    return exact_distances(r, c)[1]


def exact_distances(reference: np.ndarray, current: np.ndarray) -> tuple[float, float]:
    """Wasserstein and KS of two sorted samples from one merge (what a column needs)."""
    grid, gap = _cdfs_on_merged(reference, current)
    np.abs(gap, out=gap)
    widths = np.diff(grid)
    # KS at the last position of each run of equal values, where both CDFs are complete.
    ks = max(float(np.max(gap[:-1], where=widths > 0, initial=0.0)), float(gap[-1]))
    return float(np.dot(gap[:-1], widths)), ks


def _shares(counts: np.ndarray) -> np.ndarray:
    total = counts.sum(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, counts / np.where(total > 0, total, 1), np.nan)


def psi(ref_counts: np.ndarray, cur_counts: np.ndarray) -> np.ndarray:
    """Population stability index ``Σ (q − p) ln(q / p)``, shares floored at :data:`PSI_EPS`.

    Args:
        ref_counts: Reference counts per bin (``[..., bins]``; leading axes are replicates).
        cur_counts: Current counts on the same bins.

    Returns:
        PSI per leading index.
    """
    p = np.maximum(_shares(ref_counts), PSI_EPS)
    q = np.maximum(_shares(cur_counts), PSI_EPS)
    return np.sum((q - p) * np.log(q / p), axis=-1)


def jensen_shannon(ref_counts: np.ndarray, cur_counts: np.ndarray) -> np.ndarray:
    """Jensen-Shannon distance (natural log, scipy's and Evidently's), vectorised over replicates.

    Args:
        ref_counts: Reference counts per category or bin (``[..., k]``).
        cur_counts: Current counts on the same categories.

    Returns:
        ``sqrt(JSD)`` per leading index, in [0, sqrt(ln 2)].
    """
    p, q = _shares(ref_counts), _shares(cur_counts)
    m = 0.5 * (p + q)
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_p = np.where(p > 0, p * np.log(p / m), 0.0)
        kl_q = np.where(q > 0, q * np.log(q / m), 0.0)
    jsd = 0.5 * (kl_p.sum(axis=-1) + kl_q.sum(axis=-1))
    return np.sqrt(np.maximum(jsd, 0.0))


def binned_wasserstein(ref_counts: np.ndarray, cur_counts: np.ndarray, points: np.ndarray):
    """Wasserstein distance of two distributions on the same support points (bin positions).

    Args:
        ref_counts: Reference counts per bin (``[..., k]``).
        cur_counts: Current counts per bin.
        points: Position of each bin (sorted).

    Returns:
        The distance per leading index.
    """
    cdf_gap = np.abs(np.cumsum(_shares(ref_counts), -1) - np.cumsum(_shares(cur_counts), -1))
    return np.sum(cdf_gap[..., :-1] * np.diff(points), axis=-1)


def binned_ks(ref_counts: np.ndarray, cur_counts: np.ndarray) -> np.ndarray:
    """KS statistic of two distributions on the same bins (the largest CDF gap at an edge)."""
    gap = np.cumsum(_shares(ref_counts), -1) - np.cumsum(_shares(cur_counts), -1)
    return np.max(np.abs(gap), axis=-1)


def chi_square(ref_counts: np.ndarray, cur_counts: np.ndarray) -> tuple[float, float, int]:
    """Pearson's chi² test of homogeneity of the two count vectors (categories seen on a side).

    Args:
        ref_counts: Reference counts per category.
        cur_counts: Current counts per category.

    Returns:
        ``(statistic, p_value, degrees of freedom)``; p is 1 with fewer than two categories.
    """
    from scipy.stats import chi2

    table = np.vstack([ref_counts, cur_counts]).astype(float)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or (table.sum(axis=1) == 0).any():
        return 0.0, 1.0, 0
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0) / table.sum()
    stat = float(np.sum((table - expected) ** 2 / expected))
    dof = table.shape[1] - 1
    return stat, float(chi2.sf(stat, dof)), dof


def psi_groups(ref_counts: np.ndarray, bins: int = PSI_BINS) -> np.ndarray:
    """Group fine bins into about ``bins`` bins of equal reference share (deciles by default).

    Args:
        ref_counts: Reference counts per fine bin.
        bins: Groups wanted.

    Returns:
        Group index of every fine bin (non-decreasing).
    """
    share = np.cumsum(ref_counts) / max(ref_counts.sum(), 1)
    # A fine bin joins the group its cumulative share (before it) falls in.
    before = np.concatenate([[0.0], share[:-1]])
    return np.minimum((before * bins + 1e-9).astype(int), bins - 1)


def bootstrap_counts(counts: np.ndarray, *, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Multinomial resamples of a count vector: ``resamples × bins`` (the rows drawn again).

    Args:
        counts: Counts per bin.
        resamples: Number of resamples.
        rng: Generator (seeded by the caller, so the gate's numbers are reproducible).

    Returns:
        Resampled counts.
    """
    n = int(counts.sum())
    if n == 0:
        return np.zeros((resamples, counts.size), dtype=np.int64)
    return rng.multinomial(n, counts / n, size=resamples)


def basic_replicates(estimate: float, base: float, replicates: np.ndarray) -> np.ndarray:
    """Replicates whose percentile interval is the basic bootstrap interval around ``estimate``.

    ``estimate − (θ* − base)``: the spread of the resampled statistic around its value on the
    binned sample (``base``), reflected and centred on the exact point estimate, clipped at 0
    (a distance is never negative).

    Args:
        estimate: The exact point estimate.
        base: The statistic on the binned full sample.
        replicates: The statistic on each resample.

    Returns:
        Transformed replicates (feed :func:`~quality_gates.shared.gates.decisions.from_replicates`).
    """
    return np.maximum(estimate - (np.asarray(replicates, dtype=float) - base), 0.0)


@dataclass(frozen=True)
class CategoricalState:
    """Counts of one categorical column per category (as text), and its missing rows.

    Attributes:
        categories: Category labels, sorted.
        counts: Rows per category, aligned with ``categories``.
        missing: Rows without a value.
    """

    categories: np.ndarray
    counts: np.ndarray
    missing: int

    @property
    def n(self) -> int:
        """Rows with a value."""
        return int(self.counts.sum())

    def merge(self, other: CategoricalState) -> CategoricalState:
        """Add another shard's counts (categories united)."""
        cats = np.union1d(self.categories, other.categories)
        return CategoricalState(
            cats, self.aligned(cats) + other.aligned(cats), self.missing + other.missing
        )

    def aligned(self, categories: np.ndarray) -> np.ndarray:
        """Counts on another (sorted, superset) category list; 0 where unseen."""
        out = np.zeros(categories.size, dtype=np.int64)
        if self.categories.size:
            out[np.searchsorted(categories, self.categories)] = self.counts
        return out


def count_categorical(values) -> CategoricalState:
    """Count one shard of a categorical column (any dtype; compared as text).

    Args:
        values: A pandas Series.

    Returns:
        The shard's state.
    """
    present = values.dropna()
    counts = present.astype(str).value_counts(sort=False)
    order = np.argsort(counts.index.to_numpy(dtype=str), kind="stable")
    return CategoricalState(
        counts.index.to_numpy(dtype=str)[order],
        counts.to_numpy(dtype=np.int64)[order],
        int(values.size - present.size),
    )
