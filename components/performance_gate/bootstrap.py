"""Bootstrap confidence intervals for the performance gate, vectorised over resamples.

A bootstrap resample draws the n evaluation rows with replacement. Nothing here loops over
resamples calling a metric function: a chunk of resamples is one ``(units, resamples)`` matrix
of counts, and the metric formulas run on all its columns at once (cumulative sums, gathers and
matrix products). Intervals are percentile intervals of the resampled values.

How the resamples are drawn, per task:

* **Binary, exact cells.** Rows that agree on everything a metric sees (label, predicted
  label(s), score(s)) are interchangeable, so resampling rows with replacement is *exactly* a
  multinomial draw over those cells, ``rng.multinomial(n, cell_share, size=R)``. Accuracy,
  precision, recall and F1 see only the 4 (label, prediction) cells (8 when paired), so alone
  they cost microseconds at any n and are always exact.
* **Binary, exact rows.** With many distinct cells (continuous scores) but ``n * R`` up to
  ``_MAX_ROW_DRAWS`` (1.5e8, e.g. 150k rows x 1000 resamples), row indices are drawn
  (``rng.integers``) and counted per cell with ``np.bincount``. Exact; about 2-3 s for 100k
  rows x 1000 resamples on the 2-core reference machine (one model), 3-4 s paired.
* **Binary, score bins (approximate, large n).** Beyond that, each model's scores are cut into
  arcsine-spaced quantile bins (finer at both ends of the ranking; ties never straddle an edge),
  as many as fit ``_MAX_BINNED_CELLS`` (16k) multinomial cells of (label, prediction(s),
  bin(s)): up to 4096 bins for one model, ~100 per model for a paired comparison, whose cells
  form a 2-d grid. Confusion counts stay exact, so accuracy, precision, recall and F1 stay
  exact. ROC AUC orders every pair from different bins exactly; a (positive, negative) pair
  inside one bin counts the fraction of such pairs that is ordered correctly in the full data,
  so the binned AUC at the observed counts *equals* the exact AUC and only the reshuffling of
  pairs inside a bin is averaged out. Average precision treats each bin as one threshold and
  is shifted by the ``exact - binned`` point value. Log loss and Brier use each cell's mean loss.
  Measured against the exact bootstrap on the *same* resamples (``test_bootstrap.py``): at
  100k rows the largest replicate error of one model is 2e-6 (ROC AUC), 2e-5 (AP), 3e-6 (log
  loss), 1e-6 (Brier), under 1% of the bootstrap standard deviation; for a paired difference
  (coarser 2-d bins) 8e-5, 5e-4, 8e-5, 3e-5 (10-30% of the standard deviation of the
  difference), and the interval endpoints move by less than 2e-4. At 1M rows (bench,
  ``--check-approx``) the one-model errors are under 0.5% of the standard deviation and the
  paired ones 6-17% (ROC AUC 3e-5, AP 2e-4); a 1000-resample F1 + ROC AUC interval takes
  about 1 s; see ``bench/README.md``.
* **Multiclass and regression, exact rows.** Each resample is a vector of per-row counts
  (``np.bincount`` of ``rng.integers``), in chunks of resamples so no array exceeds about
  200 MB. Confusion matrices are sums of count rows; per-class one-vs-rest ROC AUC and AP use
  the same cumulative-sum kernel as binary; log loss, Brier and the regression sums are one
  matrix product per chunk. Cost grows with ``n * R`` (about 5 s for 100k rows x 1000
  resamples x 5 classes); the 1M-row performance target is for binary.

Paired comparisons draw the same resamples for both models: joint cells of candidate and
champion, or the same count matrix for both. A replicate whose metric is undefined (e.g. a
resample without positives for ROC AUC) is left out of the percentiles; if every replicate is
undefined the interval is ``(nan, nan)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from quality_gates.components.performance_gate import metrics as _m
from quality_gates.components.performance_gate.metrics import Task

__all__ = [
    "DiffCI",
    "MeanReplicates",
    "bootstrap_ci",
    "bootstrap_replicates",
    "mean_replicates",
    "paired_bootstrap_diff",
]

#: Up to this many distinct (label, prediction, score) cells the binary bootstrap is exact.
_MAX_EXACT_CELLS = 16_384
#: Upper bound on the quantile bins per model when the cells have to be coarsened.
_MAX_BINS = 4096
#: Upper bound on the cells of the binned multinomial (more bins = more accurate, slower).
_MAX_BINNED_CELLS = 16_384
#: Beyond few exact cells, rows are still resampled exactly while n * R is at most this many
#: row draws (about 2 s per 1e8 for one model); larger problems use score bins.
_MAX_ROW_DRAWS = 150_000_000
#: Cells of the binned bootstrap of means (per-row values such as a business value).
_MAX_MEAN_BINS = 4096
#: Rough bound on the memory of one chunk of resamples.
_CHUNK_BYTES = 200 * 2**20


@dataclass(frozen=True)
class DiffCI:
    """Paired bootstrap interval of ``candidate - champion`` for one metric.

    Attributes:
        estimate: Point difference, candidate metric minus champion metric on all rows.
        ci_low: Lower percentile bound of the resampled differences.
        ci_high: Upper percentile bound of the resampled differences.
        n_resamples: Number of bootstrap resamples drawn.
        method: How the interval was computed, for the report and the audit record.
        replicates: The resampled differences themselves, for the rule engine's p-values.
    """

    estimate: float
    ci_low: float
    ci_high: float
    n_resamples: int
    method: str
    replicates: np.ndarray | None = field(default=None, repr=False, compare=False)


def bootstrap_ci(
    *,
    task: Task,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    y_score: np.ndarray | None = None,
    metrics: Sequence[str],
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap confidence intervals of metrics of one model.

    All metrics are evaluated on the same resamples. Exact (the distribution of the textbook
    row-resampling bootstrap) for accuracy, precision, recall and F1 always, for every metric of
    multiclass and regression, and for binary score metrics while there are few distinct
    (label, prediction, score) cells or ``n * n_resamples <= 1.5e8``; beyond that, binary
    ROC AUC, AP, log loss and Brier use score bins, with the error bounds in the module
    docstring. ``paired_bootstrap_diff`` reports the method per metric.

    Args:
        task: ``"binary"``, ``"multiclass"`` or ``"regression"``.
        y_true: Encoded labels or targets (see ``metrics.point_metrics``).
        y_pred: Encoded predictions.
        y_score: Scores as in ``metrics.point_metrics``; needed for score-based metrics.
        metrics: Metric names, from ``CLASSIFICATION_METRICS`` or ``REGRESSION_METRICS``.
        n_resamples: Number of bootstrap resamples.
        confidence: Coverage of the interval, e.g. 0.95 for the 2.5 and 97.5 percentiles.
        seed: Seed of the random generator; the same seed and data give the same intervals.

    Returns:
        Metric name to ``(low, high)``: the ``(1 - confidence) / 2`` and ``(1 + confidence) / 2``
        quantiles of the defined replicates (numpy's default linear interpolation).

    Raises:
        ValueError: If a metric is unknown for the task, needs ``y_score`` that is missing, or
            the arguments break the encoding contract.
    """
    _check_request(task, metrics, n_resamples, confidence, has_score=y_score is not None)
    reps = bootstrap_replicates(
        task=task,
        y_true=y_true,
        y_pred=y_pred,
        y_score=y_score,
        metrics=metrics,
        n_resamples=n_resamples,
        seed=seed,
    )
    return {name: _percentile_ci(values, confidence) for name, values in reps.items()}


def bootstrap_replicates(
    *,
    task: Task,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    y_score: np.ndarray | None = None,
    metrics: Sequence[str],
    n_resamples: int = 1000,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """The metrics of one model on every bootstrap resample (what ``bootstrap_ci`` cuts).

    Args:
        task: ``"binary"``, ``"multiclass"`` or ``"regression"``.
        y_true: Encoded labels or targets.
        y_pred: Encoded predictions.
        y_score: Scores, needed for score-based metrics.
        metrics: Metric names.
        n_resamples: Number of resamples.
        seed: Seed of the random generator.

    Returns:
        Metric name to a ``(n_resamples,)`` array, ``nan`` where a resample leaves the metric
        undefined (e.g. one class only). The rule engine (``shared/gates/decisions.py``) turns
        them into an interval and the p-value that inverts it.

    Raises:
        ValueError: As :func:`bootstrap_ci`.
    """
    y_true, y_pred, y_score, k = _m.validate_inputs(
        task=task, y_true=y_true, y_pred=y_pred, y_score=y_score
    )
    names = _check_request(task, metrics, n_resamples, 0.95, has_score=y_score is not None)
    if not names:
        return {}
    reps, _ = _replicates(
        task, y_true, [(y_pred, y_score)], k, names, n_resamples, np.random.default_rng(seed)
    )
    return {name: reps[name][0] for name in names}


def paired_bootstrap_diff(
    *,
    task: Task,
    y_true: np.ndarray,
    cand_pred: np.ndarray,
    cand_score: np.ndarray | None,
    champ_pred: np.ndarray,
    champ_score: np.ndarray | None,
    metrics: Sequence[str],
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, DiffCI]:
    """Paired percentile bootstrap of ``candidate - champion`` on the same evaluation rows.

    Each resample picks the same rows for both models, so the interval reflects the difference
    between the models rather than the noise of each. Binary count metrics resample the joint
    (label, candidate prediction, champion prediction) cells exactly; other metrics are resampled
    as described in the module docstring, the method of each is in ``DiffCI.method``.

    Args:
        task: ``"binary"``, ``"multiclass"`` or ``"regression"``.
        y_true: Encoded labels or targets of the evaluation rows.
        cand_pred: Candidate predictions.
        cand_score: Candidate scores, or None.
        champ_pred: Champion predictions on the same rows.
        champ_score: Champion scores, or None.
        metrics: Metric names; score-based ones need both scores.
        n_resamples: Number of bootstrap resamples.
        confidence: Coverage of the interval.
        seed: Seed of the random generator.

    Returns:
        Metric name to a ``DiffCI``.

    Raises:
        ValueError: If a metric is unknown for the task or needs a missing score, or the
            arguments break the encoding contract.
    """
    y_t, c_pred, c_score, k_c = _m.validate_inputs(
        task=task, y_true=y_true, y_pred=cand_pred, y_score=cand_score
    )
    _, h_pred, h_score, k_h = _m.validate_inputs(
        task=task, y_true=y_true, y_pred=champ_pred, y_score=champ_score
    )
    if c_score is not None and h_score is not None and k_c != k_h:
        raise ValueError(
            f"candidate and champion disagree on the number of classes ({k_c} vs {k_h}); "
            "encode both with the same class list"
        )
    has_score = c_score is not None and h_score is not None
    names = _check_request(task, metrics, n_resamples, confidence, has_score=has_score)
    if not names:
        return {}
    cand_point = _m.point_metrics(task=task, y_true=y_t, y_pred=c_pred, y_score=c_score)
    champ_point = _m.point_metrics(task=task, y_true=y_t, y_pred=h_pred, y_score=h_score)
    reps, methods = _replicates(
        task,
        y_t,
        [(c_pred, c_score), (h_pred, h_score)],
        max(k_c, k_h),
        names,
        n_resamples,
        np.random.default_rng(seed),
    )
    out = {}
    for name in names:
        low, high = _percentile_ci(reps[name][0] - reps[name][1], confidence)
        out[name] = DiffCI(
            estimate=float(cand_point[name] - champ_point[name]),
            ci_low=low,
            ci_high=high,
            n_resamples=int(n_resamples),
            method=f"paired percentile bootstrap, {methods[name]}",
            replicates=reps[name][0] - reps[name][1],
        )
    return out


@dataclass(frozen=True)
class MeanReplicates:
    """Bootstrap replicates of the means of per-row values, all on the same resamples.

    Attributes:
        estimates: ``(m,)`` means on all rows.
        replicates: ``(m, n_resamples)`` means on each resample.
        method: How the resamples were drawn, for the report and the audit record.
    """

    estimates: np.ndarray
    replicates: np.ndarray
    method: str


def mean_replicates(
    *,
    values: np.ndarray,
    strata: np.ndarray | None = None,
    n_resamples: int = 1000,
    seed: int = 0,
    max_row_draws: int | None = None,
    max_bins: int | None = None,
) -> MeanReplicates:
    """Bootstrap of the column means of ``values``, every column on the same resampled rows.

    A paired comparison passes the candidate's and the champion's per-row values (and their
    difference) as columns of one row, so each resample picks the same rows for both. Draws, as
    for the metrics above: a multinomial over the distinct value rows when there are few
    (constant cell values: exact, microseconds); resampled row indices counted per distinct row
    while ``n * n_resamples`` is at most 1.5e8 (exact); beyond that (e.g. 1M rows x 1000
    resamples of per-row amounts) a multinomial over up to 4096 cells of rows of one stratum
    with neighbouring values (ranked by the columns in order), each cell at its mean value,
    then every column's spread around its estimate rescaled to the exact bootstrap variance
    (total / between-cell variance, the within-cell part the cells cannot carry).

    Args:
        values: ``(n, m)`` finite per-row values; the means of the columns are bootstrapped.
        strata: Optional ``(n,)`` non-negative integer codes of rows that differ in kind (e.g.
            label and decisions); binned cells never mix strata.
        n_resamples: Number of resamples.
        seed: Seed of the random generator.
        max_row_draws: Budget of exact row draws (default 1.5e8).
        max_bins: Budget of binned cells (default 4096).

    Returns:
        The estimates, the replicates and the method.

    Raises:
        ValueError: If the values are not a finite 2-d array or ``n_resamples`` is not positive.
    """
    v = np.asarray(values, dtype=float)
    if v.ndim != 2 or v.shape[0] == 0 or not np.all(np.isfinite(v)):
        raise ValueError("values must be a non-empty finite (n, m) array")
    if int(n_resamples) != n_resamples or n_resamples < 1:
        raise ValueError(f"n_resamples must be a positive integer, got {n_resamples}")
    max_row_draws = _MAX_ROW_DRAWS if max_row_draws is None else max_row_draws
    n = v.shape[0]
    s = np.zeros(n, dtype=np.int64) if strata is None else np.asarray(strata, dtype=np.int64)
    estimates = v.mean(axis=0)
    draw, row_unit, counts, method = _mean_units(
        v, s, exact_rows=n * n_resamples <= max_row_draws, max_bins=max_bins
    )
    cell_means = np.stack(
        [np.bincount(row_unit, weights=col, minlength=counts.size) / counts for col in v.T], axis=1
    )
    rng = np.random.default_rng(seed)
    if draw == "rows":
        reps = _row_means(v, n_resamples, rng)
    else:
        units = _Units(n_rows=n, counts=counts, views=[], methods={}, draw=draw)
        reps = np.concatenate(
            [(cell_means.T @ w) / n for w in _weight_chunks(units, n_resamples, rng)], axis=1
        )
    if method.startswith("approximate"):
        reps = _rescale_spread(reps, v, cell_means, counts, estimates, rng)
    return MeanReplicates(estimates=estimates, replicates=reps, method=method)


def _mean_units(
    v: np.ndarray, s: np.ndarray, *, exact_rows: bool, max_bins: int | None
) -> tuple[str, np.ndarray, np.ndarray, str]:
    """How :func:`mean_replicates` draws: ``(draw, row_unit, counts, method)``."""
    # Many distinct values in the first rows already rule the exact multinomial out; at 1M rows
    # that spares the full distinct count (most of the cost) when only bins remain.
    head = slice(0, 4 * _MAX_EXACT_CELLS)
    if exact_rows or _value_cells(v[head], s[head])[1].size <= _MAX_EXACT_CELLS:
        row_unit, counts = _value_cells(v, s)
        if counts.size <= _MAX_EXACT_CELLS:
            return (
                "multinomial",
                row_unit,
                counts,
                (f"exact: multinomial over the {counts.size} distinct value cells"),
            )
        if exact_rows:
            return (
                "rows",
                row_unit,
                counts,
                (f"exact: resampled row indices ({counts.size} distinct value rows)"),
            )
    row_unit, counts = _value_bins(v, s, _MAX_MEAN_BINS if max_bins is None else max_bins)
    return (
        "multinomial",
        row_unit,
        counts,
        (
            f"approximate: multinomial over {counts.size} cells of neighbouring values, spread "
            "rescaled to the exact bootstrap variance"
        ),
    )


def _row_means(v: np.ndarray, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """``(m, R)`` means of resampled rows: row indices drawn as for the metrics, then gathered.

    For a mean, gathering the drawn rows is cheaper than counting them per cell.
    """
    n = v.shape[0]
    chunk = int(max(1, min(n_resamples, _CHUNK_BYTES // (16 * n))))
    out = []
    for start in range(0, n_resamples, chunk):
        idx = rng.integers(0, n, size=(min(chunk, n_resamples - start), n))
        out.append(np.stack([col[idx].mean(axis=1) for col in v.T]))
    return np.concatenate(out, axis=1)


def _value_cells(v: np.ndarray, strata: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's cell of identical (stratum, values) rows, and the rows per cell."""
    codes = [np.unique(col, return_inverse=True) for col in v.T]
    key = _mixed_key([(strata, int(strata.max()) + 1)] + [(inv, u.size) for u, inv in codes])
    _, row_unit, counts = np.unique(key, return_inverse=True, return_counts=True)
    return row_unit, counts


def _value_bins(v: np.ndarray, strata: np.ndarray, max_bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Cells of rows ranked by (stratum, columns in order): equal-count bins per stratum."""
    n = v.shape[0]
    order = np.lexsort((*v.T[::-1], strata))
    s_sorted = strata[order]
    start = np.flatnonzero(np.r_[True, s_sorted[1:] != s_sorted[:-1]])
    size = np.diff(np.r_[start, n])
    bins = np.maximum(1, (max_bins * size) // n)
    stratum_of = np.repeat(np.arange(size.size), size)
    rank = np.arange(n) - start[stratum_of]
    offset = np.r_[0, np.cumsum(bins)[:-1]]
    cell_sorted = offset[stratum_of] + (rank * bins[stratum_of]) // size[stratum_of]
    row_unit = np.empty(n, dtype=np.int64)
    row_unit[order] = cell_sorted
    return row_unit, np.bincount(row_unit, minlength=int(bins.sum()))


def _rescale_spread(
    reps: np.ndarray,
    v: np.ndarray,
    cell_means: np.ndarray,
    counts: np.ndarray,
    estimates: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Widen each column's binned replicates around its estimate to the exact variance."""
    n = v.shape[0]
    total = v.var(axis=0)
    between = (counts[:, None] * (cell_means - estimates) ** 2).sum(axis=0) / n
    out = reps.copy()
    for j in range(v.shape[1]):  # over columns, not rows
        if between[j] > 0:
            out[j] = estimates[j] + (reps[j] - estimates[j]) * np.sqrt(total[j] / between[j])
        elif total[j] > 0:  # pragma: no cover - every cell at the same mean, values differ
            out[j] = estimates[j] + np.sqrt(total[j] / n) * rng.standard_normal(reps.shape[1])
    return out


# --------------------------------------------------------------------------------------------
# Internals
# --------------------------------------------------------------------------------------------


def _check_request(
    task: str, metrics: Sequence[str], n_resamples: int, confidence: float, *, has_score: bool
) -> list[str]:
    if isinstance(metrics, str):
        raise ValueError(f"metrics must be a sequence of names, got the string {metrics!r}")
    allowed = _m.REGRESSION_METRICS if task == "regression" else _m.CLASSIFICATION_METRICS
    names = list(dict.fromkeys(metrics))
    unknown = [m for m in names if m not in allowed]
    if unknown:
        raise ValueError(f"unknown metric(s) {unknown} for task={task!r}; choose from {allowed}")
    missing = [m for m in names if m in _m.SCORE_METRICS and not has_score]
    if missing:
        raise ValueError(f"metric(s) {missing} need y_score (probabilities), which is missing")
    if int(n_resamples) != n_resamples or n_resamples < 1:
        raise ValueError(f"n_resamples must be a positive integer, got {n_resamples}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    return names


def _percentile_ci(values: np.ndarray, confidence: float) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return float("nan"), float("nan")
    alpha = 1.0 - confidence
    low, high = np.quantile(finite, [alpha / 2.0, 1.0 - alpha / 2.0])
    return float(low), float(high)


class _Summer:
    """Sums the rows of a ``(U, R)`` weight matrix that share a key, for all resamples at once."""

    def __init__(self, keys: np.ndarray, n_keys: int) -> None:
        self.n_keys = n_keys
        if n_keys * keys.size <= 2**22:
            # Few keys: one BLAS product with a 0/1 indicator (integer sums stay exact).
            self.indicator = np.zeros((n_keys, keys.size))
            self.indicator[keys, np.arange(keys.size)] = 1.0
            return
        self.indicator = None
        self.perm = np.argsort(keys, kind="stable")
        sorted_keys = keys[self.perm]
        self.starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
        self.present = sorted_keys[self.starts]

    def __call__(self, w: np.ndarray) -> np.ndarray:
        """Return the ``(R, n_keys)`` sums."""
        if self.indicator is not None:
            return (self.indicator @ w).T
        out = np.zeros((w.shape[1], self.n_keys))
        out[:, self.present] = np.add.reduceat(w[self.perm], self.starts, axis=0).T
        return out


class _Ranking:
    """ROC AUC and average precision of one binary ranking, for every resample at once.

    Units are ordered by (score group, label), so within a group the negatives come first.
    ``w`` holds the resampled count of each unit; ``cpos``/``cneg`` are cumulative sums over
    the positive and over the negative units only (together one pass over the units):

    * ROC AUC numerator = ``sum over positive units of w * (negatives at or below its group)``
      minus ``(1 - within_g) * pos_g * neg_g`` for each group holding both labels
      (``within_g`` = 1/2 for tied scores, the observed ordered fraction for score bins).
    * AP = ``sum over positive units of w * precision(group)`` / P; the precision at a group's
      threshold counts everything from the first unit of the group upwards.
    """

    def __init__(
        self,
        group: np.ndarray,
        label: np.ndarray,
        within: np.ndarray | None = None,
        ap_shift: float = 0.0,
    ) -> None:
        order = np.argsort(2 * group + label, kind="stable")
        g, lab = group[order], label[order]
        is_pos = lab == 1
        self.pos_units = order[is_pos]  # rows of w, positives in rank order
        self.neg_units = order[~is_pos]
        pos_before = np.cumsum(is_pos) - is_pos  # positive units before each unit
        neg_before = np.cumsum(~is_pos) - ~is_pos
        first = np.r_[True, g[1:] != g[:-1]]
        start = np.flatnonzero(first)
        end = np.r_[start[1:], g.size]
        group_start = start[np.cumsum(first) - 1]
        # For each positive unit: negatives at or below it (its group's negatives come first),
        # and positives / negatives strictly below its group, as unit counts (= cum indices).
        self.neg_upto = neg_before[is_pos]
        self.pos_below = pos_before[group_start[is_pos]]
        self.neg_below = neg_before[group_start[is_pos]]
        n_pos = np.add.reduceat(lab, start)
        mixed = (n_pos > 0) & (n_pos < end - start)
        # Groups with both labels: unit-count ranges in the positive and negative sequences.
        self.mixed = (
            pos_before[start[mixed]],
            pos_before[start[mixed]] + n_pos[mixed],
            neg_before[start[mixed]],
            neg_before[start[mixed]] + (end - start - n_pos)[mixed],
        )
        value = np.full(mixed.sum(), 0.5) if within is None else within[g[start[mixed]]]
        self.mixed_discount = 1.0 - value
        self.ap_shift = ap_shift

    def __call__(self, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(roc_auc, average_precision)`` of the ``(U, R)`` weights, shape ``(R,)``."""
        r = w.shape[1]
        wpos = w[self.pos_units]
        # Cumulative sums with a leading zero row: cum[k] = sum over the first k units.
        cpos = np.zeros((wpos.shape[0] + 1, r))
        np.cumsum(wpos, axis=0, out=cpos[1:])
        cneg = np.zeros((self.neg_units.size + 1, r))
        np.cumsum(w[self.neg_units], axis=0, out=cneg[1:])
        n_pos, n_neg = cpos[-1], cneg[-1]
        num = np.einsum("pr,pr->r", wpos, cneg[self.neg_upto])
        if self.mixed_discount.size:
            p0, p1, n0, n1 = self.mixed
            pairs_g = (cpos[p1] - cpos[p0]) * (cneg[n1] - cneg[n0])
            num -= self.mixed_discount @ pairs_g
        pairs = n_pos * n_neg
        with np.errstate(invalid="ignore", divide="ignore"):
            auc = np.where(pairs > 0, num / np.where(pairs > 0, pairs, 1.0), np.nan)
        tp_ge = n_pos - cpos[self.pos_below]
        seen = n_neg - cneg[self.neg_below]
        seen += tp_ge
        precision = np.divide(tp_ge, seen, out=tp_ge, where=seen > 0)
        ap_num = np.einsum("pr,pr->r", wpos, precision)
        with np.errstate(invalid="ignore", divide="ignore"):
            ap = np.where(n_pos > 0, ap_num / np.where(n_pos > 0, n_pos, 1.0), np.nan)
        return auc, ap + self.ap_shift


@dataclass
class _ModelView:
    """What the replicate formulas need of one model, per unit (cell or row)."""

    count: _Summer | None = None  # binary: 2 * label + pred; multiclass: K * label + pred
    ranking: list[_Ranking] = field(default_factory=list)  # binary: 1; multiclass: one per class
    losses: np.ndarray | None = None  # (U, L) per-unit mean losses, columns in loss_names
    loss_names: tuple[str, ...] = ()


@dataclass
class _Units:
    """The resampling units of a bootstrap (cells of identical rows) and how to draw them."""

    n_rows: int
    counts: np.ndarray  # rows per unit
    views: list[_ModelView]
    methods: dict[str, str]
    # "multinomial": one multinomial draw over the units per resample (cheap for few units);
    # "rows": n random row indices per resample, mapped to units (cheap for many units).
    draw: str = "multinomial"
    row_unit: np.ndarray | None = None  # unit of each row; None = each row is its own unit

    @property
    def n_units(self) -> int:
        return self.counts.size


def _replicates(
    task: str,
    y_true: np.ndarray,
    models: list[tuple[np.ndarray, np.ndarray | None]],
    k: int,
    names: list[str],
    n_resamples: int,
    rng: np.random.Generator,
) -> tuple[dict[str, list[np.ndarray]], dict[str, str]]:
    """Return ``{metric: [replicates of model 0, model 1, ...]}`` and the method of each."""
    if task == "binary":
        units = _binary_units(y_true, models, names, n_resamples=n_resamples)
    elif task == "multiclass":
        units = _multiclass_units(y_true, models, k, names)
    else:
        units = _regression_units(y_true, models)
    out: dict[str, list[list[np.ndarray]]] = {n: [[] for _ in models] for n in names}
    for w in _weight_chunks(units, n_resamples, rng):
        for i, view in enumerate(units.views):
            for name, values in _evaluate(task, view, w, units.n_rows, k, names).items():
                out[name][i].append(values)
    reps = {n: [np.concatenate(parts) for parts in per_model] for n, per_model in out.items()}
    return reps, {n: units.methods[n] for n in names}


def _weight_chunks(units: _Units, n_resamples: int, rng: np.random.Generator):
    """Yield float ``(U, r)`` matrices: resampled rows per unit, r resamples at a time.

    Units are the leading axis so that the gathers and cumulative sums of the ranking metrics
    move whole contiguous rows of resamples.
    """
    n, u = units.n_rows, units.n_units
    # About seven U x r float64 arrays are alive while a chunk is evaluated, plus r x n indices.
    per_resample = 8 * 7 * u + (16 * n if units.draw == "rows" else 0)
    chunk = int(max(1, min(n_resamples, _CHUNK_BYTES // per_resample)))
    done = 0
    while done < n_resamples:
        r = min(chunk, n_resamples - done)
        if units.draw == "multinomial":
            w = rng.multinomial(n, units.counts / n, size=r).T
        else:
            idx = rng.integers(0, n, size=(r, n))
            if units.row_unit is not None:
                idx = units.row_unit[idx]
            # Count per resample (cache-friendly), then flip to unit-major while casting.
            idx += np.arange(r)[:, None] * u
            w = np.bincount(idx.ravel(), minlength=r * u).reshape(r, u).T
            del idx
        yield np.ascontiguousarray(w, dtype=np.float64)
        done += r


def _evaluate(
    task: str, view: _ModelView, w: np.ndarray, n: int, k: int, names: list[str]
) -> dict[str, np.ndarray]:
    """Evaluate the requested metrics on every resample (row) of the weight matrix ``w``."""
    out: dict[str, np.ndarray] = {}
    if task == "regression":
        sums = (view.losses.T @ w).T / n  # columns: se, ae, ape, y_centred, y_centred^2
        sst = (sums[:, 4] - sums[:, 3] ** 2) * n
        values = {
            "rmse": np.sqrt(sums[:, 0]),
            "mae": sums[:, 1],
            "mape": sums[:, 2],
            "r2": _m.r2_from_sums(sums[:, 0] * n, sst, n),
        }
        return {name: values[name] for name in names}
    if any(name in _m.COUNT_METRICS for name in names):
        cells = view.count(w)
        if task == "binary":
            counts = _m.binary_count_metrics(
                tn=cells[:, 0], fp=cells[:, 1], fn=cells[:, 2], tp=cells[:, 3]
            )
        else:
            counts = _m.multiclass_count_metrics(cells.reshape(-1, k, k))
        out.update({name: counts[name] for name in names if name in counts})
    if "roc_auc" in names or "pr_auc" in names:
        # One ranking per class for multiclass (macro average), a single one for binary.
        aucs, aps = zip(*(ranking(w) for ranking in view.ranking), strict=True)
        if "roc_auc" in names:
            out["roc_auc"] = np.mean(aucs, axis=0)
        if "pr_auc" in names:
            out["pr_auc"] = np.mean(aps, axis=0)
    loss_names = [name for name in ("log_loss", "brier") if name in names]
    if loss_names:
        means = (view.losses.T @ w).T / n
        for name in loss_names:
            out[name] = means[:, view.loss_names.index(name)]
    return out


def _mixed_key(columns: list[tuple[np.ndarray, int]]) -> np.ndarray:
    """Combine integer columns with known ranges into one int64 key (mixed radix)."""
    key = np.zeros(columns[0][0].shape, dtype=np.int64)
    span = 1
    for values, radix in columns:
        span *= max(radix, 1)
        if span >= 2**62:  # pragma: no cover - needs > 1e9 distinct scores per model
            raise ValueError("too many distinct scores to index the bootstrap cells")
        key = key * radix + values
    return key


def _n_distinct(key: np.ndarray) -> int:
    # Sorting is faster here than np.unique's hash table on millions of int64 keys.
    ordered = np.sort(key)
    return int(np.count_nonzero(ordered[1:] != ordered[:-1])) + 1


def _rank_groups(score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return each row's distinct-score group (ascending) and each group's first sorted rank."""
    _, inv, counts = np.unique(score, return_inverse=True, return_counts=True)
    first_rank = np.cumsum(counts) - counts
    return inv, first_rank


def _binary_units(
    y: np.ndarray,
    models: list[tuple[np.ndarray, np.ndarray | None]],
    names: list[str],
    *,
    n_resamples: int,
    max_exact_cells: int | None = None,
    max_row_draws: int | None = None,
    max_bins: int | None = None,
    max_binned_cells: int | None = None,
) -> _Units:
    # Budgets default to the module constants, read at call time.
    max_exact_cells = _MAX_EXACT_CELLS if max_exact_cells is None else max_exact_cells
    max_row_draws = _MAX_ROW_DRAWS if max_row_draws is None else max_row_draws
    max_bins = _MAX_BINS if max_bins is None else max_bins
    max_binned_cells = _MAX_BINNED_CELLS if max_binned_cells is None else max_binned_cells
    n = y.size
    paired = len(models) > 1
    preds = "label, candidate prediction, champion prediction" if paired else "label, prediction"
    base = [(y, 2)] + [(pred, 2) for pred, _ in models]
    if not any(name in _m.SCORE_METRICS for name in names):
        key = _mixed_key(base)
        method = f"exact: multinomial over the {_n_distinct(key)} ({preds}) cells"
        return _cells_from_key(y, models, key, None, dict.fromkeys(names, method))

    # Score groups are the most significant digits of the key, so the cells come out sorted
    # by the first model's score and its ranking sums need no column permutation.
    groups = [_rank_groups(score) for _, score in models]
    key = _mixed_key([(inv, int(first.size)) for inv, first in groups] + base)
    n_cells = _n_distinct(key)
    cells = f"{n_cells} distinct ({preds}, score{'s' if paired else ''}) cells"
    score_group = [g for g, _ in groups]
    # Both exact draws: a multinomial costs ~100 ns per cell and resample, drawing row indices
    # ~15 ns per row and resample; take the cheaper one while it fits the budgets.
    few_cells = n_cells <= max_exact_cells
    if few_cells and (8 * n_cells <= n or n * n_resamples > max_row_draws):
        method = f"exact: multinomial over the {cells}"
        return _cells_from_key(y, models, key, score_group, dict.fromkeys(names, method))
    if n * n_resamples <= max_row_draws:
        method = f"exact: resampled row indices, counted in the {cells}"
        units = _cells_from_key(y, models, key, score_group, dict.fromkeys(names, method))
        units.draw = "rows"
        return units
    return _binned_units(
        y,
        models,
        names,
        groups=groups,
        base=base,
        preds=preds,
        max_bins=max_bins,
        max_binned_cells=max_binned_cells,
    )


def _binned_units(
    y: np.ndarray,
    models: list[tuple[np.ndarray, np.ndarray | None]],
    names: list[str],
    *,
    groups: list[tuple[np.ndarray, np.ndarray]],
    base: list[tuple[np.ndarray, int]],
    preds: str,
    max_bins: int,
    max_binned_cells: int,
) -> _Units:
    """Units over score bins, for when exact score cells exceed both budgets."""
    n = y.size
    # As many bins as the cell budget allows: halve until it fits, then try sqrt(2) x more.
    n_bins = max_bins
    bins, key, n_cells = _binned_key(groups, base, n, n_bins)
    while n_cells > max_binned_cells and n_bins > 16:
        n_bins //= 2
        bins, key, n_cells = _binned_key(groups, base, n, n_bins)
    if n_bins < max_bins:
        finer = _binned_key(groups, base, n, int(n_bins * 1.41))
        if finer[2] <= max_binned_cells:
            n_bins = int(n_bins * 1.41)
            bins, key, n_cells = finer
    methods = _binned_methods(names, n_cells=n_cells, n_bins=n_bins, preds=preds)
    calibration = [
        _calibrate_bins(y, score, b, n_b) for (b, n_b), (_, score) in zip(bins, models, strict=True)
    ]
    return _cells_from_key(y, models, key, [b for b, _ in bins], methods, calibration)


def _binned_key(
    groups: list[tuple[np.ndarray, np.ndarray]],
    base: list[tuple[np.ndarray, int]],
    n: int,
    n_bins: int,
) -> tuple[list[tuple[np.ndarray, int]], np.ndarray, int]:
    """Each model's score bin per row, the cell key over bins and ``base``, its cell count."""
    bins = []
    for inv, first in groups:
        # Arcsine-spaced quantile bins: finer at both ends of the ranking, where average
        # precision (top) and the log loss of confident mistakes (both ends) are decided.
        # Edges fall between groups of tied scores, never inside one.
        warped = (2.0 / np.pi) * np.arcsin(np.sqrt(first / n))
        bin_of_group = np.minimum((warped * n_bins).astype(np.int64), n_bins - 1)
        _, compact = np.unique(bin_of_group, return_inverse=True)
        bins.append((compact[inv], int(compact.max()) + 1))
    key = _mixed_key(bins + base)
    return bins, key, _n_distinct(key)


def _binned_methods(names: list[str], *, n_cells: int, n_bins: int, preds: str) -> dict[str, str]:
    """How each metric is resampled over score-bin cells (count metrics stay exact)."""
    approx = (
        f"approximate: multinomial over {n_cells} ({preds}, score-bin) cells, "
        f"{n_bins} arcsine-spaced quantile bins per model; "
    )
    methods = {}
    for name in names:
        if name in _m.COUNT_METRICS:
            methods[name] = (
                f"exact: multinomial over {n_cells} ({preds}, score-bin) cells, "
                "which keep the confusion counts exact"
            )
        elif name == "roc_auc":
            methods[name] = approx + "in-bin pairs at their observed ordered fraction"
        elif name == "pr_auc":
            methods[name] = approx + "bins as thresholds, shifted by exact - binned point value"
        else:
            methods[name] = approx + "mean loss per cell"
    return methods


def _cells_from_key(
    y: np.ndarray,
    models: list[tuple[np.ndarray, np.ndarray | None]],
    key: np.ndarray,
    group_of_row: list[np.ndarray] | None,
    methods: dict[str, str],
    calibration: list[tuple[np.ndarray, float]] | None = None,
) -> _Units:
    """Turn a per-row cell key into units with per-model views."""
    _, row_unit, counts = np.unique(key, return_inverse=True, return_counts=True)
    n_units = counts.size
    rep = np.empty(n_units, dtype=np.int64)
    rep[row_unit] = np.arange(y.size)  # a representative row of each cell
    label = y[rep]
    views = []
    for i, (pred, score) in enumerate(models):
        view = _ModelView(count=_Summer(2 * label + pred[rep], 4))
        if group_of_row is not None:
            within, ap_shift = (None, 0.0) if calibration is None else calibration[i]
            view.ranking = [_Ranking(group_of_row[i][rep], label, within, ap_shift)]
            losses = np.stack(
                [_m.binary_log_loss_rows(y, score), _m.binary_brier_rows(y, score)], axis=1
            )
            sums = np.stack([np.bincount(row_unit, weights=col) for col in losses.T], axis=1)
            view.losses = sums / counts[:, None]
            view.loss_names = ("log_loss", "brier")
        views.append(view)
    return _Units(n_rows=y.size, counts=counts, views=views, methods=methods, row_unit=row_unit)


def _calibrate_bins(
    y: np.ndarray, score: np.ndarray, bin_of_row: np.ndarray, n_bins: int
) -> tuple[np.ndarray, float]:
    """Return the in-bin pair value per bin and the AP shift that make binned = exact at w = 1."""
    pos, neg = _m.score_groups(y, score)  # per distinct score, ascending
    _, first_row = np.unique(score, return_index=True)
    bin_of_group = bin_of_row[first_row]
    # ROC AUC: (positive, negative) pairs inside a bin, correctly ordered (ties count 1/2).
    neg_below = np.cumsum(neg) - neg
    bin_start = np.r_[0, np.flatnonzero(np.diff(bin_of_group)) + 1]
    neg_below_bin = neg_below[bin_start]
    in_bin = pos * (neg_below - neg_below_bin[bin_of_group] + 0.5 * neg)
    ordered = np.bincount(bin_of_group, weights=in_bin, minlength=n_bins)
    pos_b = np.bincount(bin_of_group, weights=pos, minlength=n_bins)
    neg_b = np.bincount(bin_of_group, weights=neg, minlength=n_bins)
    pairs = pos_b * neg_b
    within = np.divide(ordered, pairs, out=np.full(n_bins, 0.5), where=pairs > 0)
    # AP: the bins act as tied thresholds; remove that bias by a constant shift.
    exact_ap = _m.ap_from_groups(pos[None], neg[None])[0]
    binned_ap = _m.ap_from_groups(pos_b[None], neg_b[None])[0]
    return within, float(exact_ap - binned_ap) if np.isfinite(exact_ap) else 0.0


def _row_units(n: int, views: list[_ModelView], names: list[str], what: str) -> _Units:
    method = f"exact: resampled row indices ({what})"
    counts = np.ones(n, dtype=np.int64)
    return _Units(n, counts, views, dict.fromkeys(names, method), draw="rows")


def _multiclass_units(
    y: np.ndarray,
    models: list[tuple[np.ndarray, np.ndarray | None]],
    k: int,
    names: list[str],
) -> _Units:
    need_rank = any(name in ("roc_auc", "pr_auc") for name in names)
    views = []
    for pred, score in models:
        view = _ModelView(count=_Summer(k * y + pred, k * k))
        if score is not None:
            view.losses = np.stack(
                [_m.multiclass_log_loss_rows(y, score), _m.multiclass_brier_rows(y, score)],
                axis=1,
            )
            view.loss_names = ("log_loss", "brier")
            if need_rank:
                for c in range(k):  # over classes, not rows
                    inv, _ = _rank_groups(score[:, c])
                    view.ranking.append(_Ranking(inv, (y == c).astype(np.int64)))
        views.append(view)
    return _row_units(y.size, views, names, "confusion counts and one-vs-rest groups")


def _regression_units(y: np.ndarray, models: list[tuple[np.ndarray, np.ndarray | None]]) -> _Units:
    # Centring makes the resampled total sum of squares free of cancellation.
    centred = y - y.mean()
    views = []
    for pred, _ in models:
        rows = _m.regression_loss_rows(y, pred)
        columns = [rows["se"], rows["ae"], rows["ape"], centred, centred * centred]
        views.append(_ModelView(losses=np.stack(columns, axis=1)))
    names = list(_m.REGRESSION_METRICS)
    return _row_units(y.size, views, names, "weighted sums of per-row losses")
