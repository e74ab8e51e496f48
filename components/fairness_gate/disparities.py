"""Per-group metrics and disparities, vectorised: one ``bincount`` instead of a metric per group.

Binary classification needs nothing but each group's confusion matrix: ``bincount`` of
``group * 4 + label * 2 + decision`` gives all of them in one pass over the rows, and every
per-group rate (selection rate, TPR, FPR, FNR, precision, accuracy) is a division of those
counts. The values are the ones fairlearn's ``MetricFrame`` reports with fairlearn's and
scikit-learn's metric functions (same counts, same divisions), except that a rate whose
denominator is zero (TPR of a group without positives) is ``nan`` here: scikit-learn's
normalisation silently makes it 0, which would turn "no data" into "maximal disparity".
Groups whose rate is ``nan`` are left out of that disparity, as pandas' ``max``/``min`` in
fairlearn's ``difference``/``ratio`` leave out ``nan``.

Bootstrap intervals resample rows with replacement. For binary tasks that is *exactly* a
multinomial draw over the ``4 * groups`` (group, label, decision) cells, so 1000 resamples cost
one ``rng.multinomial`` call and a few array divisions, at any number of rows. Regression needs
per-row errors: up to ``_MAX_ROW_DRAWS`` row draws the rows themselves are resampled (exact);
beyond, group counts are drawn multinomially and each group mean from its normal approximation.

Disparities between groups (fairlearn's ``method="between_groups"``): a difference is
``max - min`` over the eligible groups, a ratio ``min / max``; equalized odds takes the worse of
TPR and FPR (largest difference, smallest ratio).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from quality_gates.components.fairness_gate.policy import (
    BINARY_GROUP_METRICS,
    NAMED_DISPARITIES,
    REGRESSION_GROUP_METRICS,
)

_MAX_ROW_DRAWS = 50_000_000
_CHUNK_BYTES = 200 * 2**20
#: Metrics fairlearn/scikit-learn compute from scores rather than decisions.
SCORE_METRICS = frozenset(
    {"roc_auc_score", "average_precision_score", "log_loss", "brier_score_loss"}
)


def _div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.asarray(num, dtype=float) / np.asarray(den, dtype=float)
    return np.where(np.asarray(den) > 0, out, np.nan)


def confusion_by_group(
    *, codes: np.ndarray, n_groups: int, y_true: np.ndarray, y_pred: np.ndarray
) -> np.ndarray:
    """Count each group's binary confusion matrix in one pass.

    Args:
        codes: Group code per row, ``0 .. n_groups - 1``.
        n_groups: Number of groups.
        y_true: 0/1 labels.
        y_pred: 0/1 decisions.

    Returns:
        ``(n_groups, 4)`` int64 counts in the order TN, FP, FN, TP.
    """
    cell = codes.astype(np.int64) * 4 + y_true.astype(np.int64) * 2 + y_pred.astype(np.int64)
    return np.bincount(cell, minlength=4 * n_groups).reshape(n_groups, 4)


def binary_rates(counts: np.ndarray) -> dict[str, np.ndarray]:
    """Per-group rates from confusion counts; works on ``(..., groups, 4)`` (resamples too).

    Args:
        counts: Confusion counts TN, FP, FN, TP in the last axis.

    Returns:
        Metric name to an array of shape ``counts.shape[:-1]``; ``nan`` where undefined.
    """
    tn, fp, fn, tp = (counts[..., i] for i in range(4))
    n = tn + fp + fn + tp
    return {
        "count": n.astype(float),
        "selection_rate": _div(fp + tp, n),
        "true_positive_rate": _div(tp, tp + fn),
        "false_positive_rate": _div(fp, fp + tn),
        "false_negative_rate": _div(fn, tp + fn),
        "precision": _div(tp, tp + fp),
        "accuracy": _div(tp + tn, n),
    }


def regression_sums(
    *, codes: np.ndarray, n_groups: int, y_true: np.ndarray, y_pred: np.ndarray
) -> np.ndarray:
    """Per-group sums of what the regression metrics average.

    Returns:
        ``(n_groups, 5)``: count, sum of predictions, of errors (pred - true), of absolute
        errors, of squared errors.
    """
    err = y_pred - y_true
    cols = [np.ones_like(err), y_pred, err, np.abs(err), err * err]
    return np.stack([np.bincount(codes, weights=c, minlength=n_groups) for c in cols], axis=-1)


def regression_stats(sums: np.ndarray) -> dict[str, np.ndarray]:
    """Per-group regression metrics from sums; works on ``(..., groups, 5)``."""
    n = sums[..., 0]
    return {
        "count": n,
        "mean_prediction": _div(sums[..., 1], n),
        "mean_error": _div(sums[..., 2], n),
        "mean_absolute_error": _div(sums[..., 3], n),
        "root_mean_squared_error": np.sqrt(_div(sums[..., 4], n)),
    }


def aggregate(values: np.ndarray, eligible: np.ndarray, how: str) -> np.ndarray:
    """Difference (``max - min``) or ratio (``min / max``) over the eligible groups.

    Args:
        values: ``(..., groups)`` per-group values; ``nan`` groups are left out.
        eligible: ``(groups,)`` bool, groups large enough to be compared.
        how: ``difference`` or ``ratio``.

    Returns:
        ``values.shape[:-1]``; ``nan`` when fewer than one group has a value (difference) or
        when the maximum is 0 (ratio, as fairlearn's ``0 / 0``).
    """
    v = np.where(eligible, values, np.nan)
    defined = np.isfinite(v).any(axis=-1)
    filled_hi = np.where(np.isfinite(v), v, -np.inf)
    filled_lo = np.where(np.isfinite(v), v, np.inf)
    hi = np.where(defined, filled_hi.max(axis=-1), np.nan)
    lo = np.where(defined, filled_lo.min(axis=-1), np.nan)
    if how == "difference":
        return hi - lo
    return _div(lo, hi)


def disparity(
    name: str, rates: dict[str, np.ndarray], eligible: np.ndarray
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Compute a fast-path disparity from per-group rates.

    Args:
        name: A named disparity or ``<group metric>_difference|_ratio``.
        rates: Per-group metrics (``(..., groups)`` arrays).
        eligible: Groups that take part.

    Returns:
        The disparity (``(...)``) and the per-metric components it was taken from.

    Raises:
        KeyError: If the name is not a fast-path disparity for these rates.
    """
    metrics, how = fast_components(name)
    parts = {m: aggregate(rates[m], eligible, how) for m in metrics}
    stacked = np.stack([np.asarray(p, dtype=float) for p in parts.values()])
    with np.errstate(invalid="ignore"):
        # Equalized odds: the worse component; a nan component makes the whole undefined.
        value = stacked.max(axis=0) if how == "difference" else stacked.min(axis=0)
    return value, parts


def fast_components(name: str) -> tuple[tuple[str, ...], str]:
    """Return the group metrics and the aggregation of a fast-path disparity.

    Raises:
        KeyError: If ``name`` is not computed by the fast path.
    """
    if name in NAMED_DISPARITIES:
        return NAMED_DISPARITIES[name]
    base, _, how = name.rpartition("_")
    if base in BINARY_GROUP_METRICS or base in REGRESSION_GROUP_METRICS:
        return (base,), how
    raise KeyError(name)


def is_fast(name: str, task: str) -> bool:
    """Whether the disparity is computed by the fast path for this task."""
    try:
        metrics, _ = fast_components(name)
    except KeyError:
        return False
    allowed = BINARY_GROUP_METRICS if task == "binary" else REGRESSION_GROUP_METRICS
    return all(m in allowed for m in metrics)


@dataclass(frozen=True)
class Resampled:
    """Per-group metrics of every bootstrap resample: name to ``(R, groups)``."""

    rates: dict[str, np.ndarray]


def bootstrap_binary(
    counts: np.ndarray, *, n_resamples: int, rng: np.random.Generator
) -> Resampled:
    """Resample rows with replacement, exactly, as a multinomial over (group, label, decision).

    Args:
        counts: ``(groups, 4)`` confusion counts of the evaluation rows.
        n_resamples: Number of resamples.
        rng: Random generator.

    Returns:
        Per-group rates of each resample.
    """
    flat = counts.ravel().astype(np.int64)
    n = int(flat.sum())
    draws = rng.multinomial(n, flat / n, size=n_resamples)
    return Resampled(binary_rates(draws.reshape(n_resamples, *counts.shape)))


def bootstrap_regression(
    *,
    codes: np.ndarray,
    n_groups: int,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    n_resamples: int,
    rng: np.random.Generator,
) -> tuple[Resampled, str]:
    """Resample rows for regression group metrics (exact up to 5e7 row draws, else normal).

    Returns:
        The resampled per-group metrics and the method used, for the record.
    """
    n = codes.shape[0]
    err = y_pred - y_true
    values = np.stack([np.ones(n), y_pred, err, np.abs(err), err * err], axis=1)
    if n * n_resamples <= _MAX_ROW_DRAWS:
        chunk = max(1, min(n_resamples, _CHUNK_BYTES // max(1, 8 * n)))
        out = []
        for start in range(0, n_resamples, chunk):
            r = min(chunk, n_resamples - start)
            idx = rng.integers(0, n, size=(r, n))
            # Group sums of each resample: rows offset by resample so one bincount does all.
            key = (np.arange(r)[:, None] * n_groups + codes[idx]).ravel()
            sums = np.stack(
                [
                    np.bincount(key, weights=values[idx.ravel(), j], minlength=r * n_groups)
                    for j in range(values.shape[1])
                ],
                axis=-1,
            )
            out.append(sums.reshape(r, n_groups, -1))
        return Resampled(regression_stats(np.concatenate(out))), "exact row bootstrap"
    sums = np.stack(
        [np.bincount(codes, weights=values[:, j], minlength=n_groups) for j in range(5)], axis=-1
    )
    cnt = sums[:, 0]
    means = _div(sums[:, 1:], cnt[:, None])
    sq = np.stack(
        [np.bincount(codes, weights=values[:, j] ** 2, minlength=n_groups) for j in range(1, 5)],
        axis=-1,
    )
    var = np.maximum(_div(sq, cnt[:, None]) - means**2, 0.0)
    counts = rng.multinomial(n, cnt / n, size=n_resamples).astype(float)  # (R, G)
    noise = rng.standard_normal((n_resamples, n_groups, 4))
    with np.errstate(divide="ignore", invalid="ignore"):
        sampled = means[None] + noise * np.sqrt(var[None] / counts[..., None])
    res = np.concatenate([counts[..., None], sampled * counts[..., None]], axis=-1)
    return Resampled(regression_stats(res)), "group counts multinomial, group means normal"


def percentile_ci(values: np.ndarray, confidence: float) -> tuple[float, float]:
    """Percentile interval of the finite replicates along axis 0 (``nan`` if none)."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return float("nan"), float("nan")
    alpha = 1.0 - confidence
    lo, hi = np.quantile(finite, [alpha / 2.0, 1.0 - alpha / 2.0])
    return float(lo), float(hi)


def group_cis(values: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-group percentile intervals of ``(R, groups)`` replicates (``nan`` ignored)."""
    alpha = 1.0 - confidence
    lo = np.full(values.shape[1], np.nan)
    hi = np.full(values.shape[1], np.nan)
    ok = np.isfinite(values).any(axis=0)
    if ok.any():
        q = np.nanquantile(values[:, ok], [alpha / 2.0, 1.0 - alpha / 2.0], axis=0)
        lo[ok], hi[ok] = q[0], q[1]
    return lo, hi


def resolve_engine_metric(name: str) -> tuple[str, Callable, str]:
    """Find the function behind an ``<fn>_difference|_ratio`` that the fast path lacks.

    Looked up in ``fairlearn.metrics`` first, then ``sklearn.metrics``.

    Args:
        name: Disparity name.

    Returns:
        ``(function name, function, aggregation)``.

    Raises:
        LookupError: If no such metric function exists.
    """
    import fairlearn.metrics as flm
    import sklearn.metrics as skm

    base, _, how = name.rpartition("_")
    for module in (flm, skm):
        fn = getattr(module, base, None)
        if callable(fn) and not base.startswith("_"):
            return base, fn, how
    raise LookupError(base)


def engine_by_group(
    *,
    fn: Callable,
    fn_name: str,
    group_labels: Sequence[str],
    codes: np.ndarray,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    y_score: np.ndarray | None,
) -> np.ndarray:
    """Per-group values of any metric function, computed by fairlearn's ``MetricFrame``.

    Args:
        fn: Metric function ``fn(y_true, y_pred)``.
        fn_name: Its name (decides whether scores or decisions are passed).
        group_labels: Label of each group code.
        codes: Group code per row.
        y_true: Labels.
        y_pred: Decisions or predictions.
        y_score: Positive-class scores, needed by score metrics.

    Returns:
        ``(groups,)`` values in code order (``nan`` for groups without rows or non-scalars).

    Raises:
        ValueError: If a score metric is asked for without scores.
    """
    import warnings

    import pandas as pd
    from fairlearn.metrics import MetricFrame

    if fn_name in SCORE_METRICS:
        if y_score is None:
            raise ValueError(f"'{fn_name}' needs scores, and the model gives none")
        pred = y_score
    else:
        pred = y_pred
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mf = MetricFrame(
            metrics=fn, y_true=y_true, y_pred=pred, sensitive_features=pd.Series(codes, name="g")
        )
    by = mf.by_group
    out = np.full(len(group_labels), np.nan)
    for code, value in by.items():
        if np.isscalar(value):
            out[int(code)] = float(value)
    return out
