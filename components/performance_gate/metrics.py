"""Point metrics of the performance gate, in vectorised numpy.

Every metric is computed from whole columns: confusion counts come from ``np.bincount``, the
ranking metrics (ROC AUC, average precision) from one sort and cumulative sums over the groups of
tied scores. scikit-learn is not called here; it is the reference the unit tests compare against
(to 1e-9). The count and ranking kernels take counts with a leading axis, so the bootstrap module
evaluates thousands of resamples with the very same formulas (see ``bootstrap.py``).

Inputs are already encoded by the caller:

* ``binary``: ``y_true``/``y_pred`` are 0/1 integers (1 = positive class), ``y_score`` is the
  probability of the positive class (1-d) or None.
* ``multiclass``: ``y_true``/``y_pred`` are integer codes ``0..K-1``, ``y_score`` is an ``(n, K)``
  matrix of class probabilities or None. ``K = y_score.shape[1]`` when scores are given, else
  ``max(code) + 1``.
* ``regression``: float arrays; ``y_score`` must be None.
"""

from __future__ import annotations

from typing import Literal, get_args

import numpy as np

# The metric names live with the policy that validates rules against them (one list, not two).
from quality_gates.components.performance_gate.policy import (
    CLASSIFICATION_METRICS,
    LOWER_IS_BETTER,
    REGRESSION_METRICS,
)

__all__ = [
    "CLASSIFICATION_METRICS",
    "COUNT_METRICS",
    "LOWER_IS_BETTER",
    "REGRESSION_METRICS",
    "SCORE_METRICS",
    "Task",
    "confusion_matrix",
    "point_metrics",
    "roc_curve_points",
]

Task = Literal["binary", "multiclass", "regression"]

#: Metrics that need ``y_score``; they are left out of the result when it is None.
SCORE_METRICS = frozenset({"roc_auc", "pr_auc", "log_loss", "brier"})
#: Metrics that depend only on the (y_true, y_pred) confusion counts.
COUNT_METRICS = frozenset({"accuracy", "precision", "recall", "f1"})

_TASKS: tuple[str, ...] = get_args(Task)
_EPS = float(np.finfo(np.float64).eps)


def point_metrics(
    *,
    task: Task,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    y_score: np.ndarray | None = None,
) -> dict[str, float]:
    """Compute every metric available for the task on the whole evaluation set.

    Values equal scikit-learn 1.9 to 1e-9:

    * ``binary``: ``accuracy``; ``precision``, ``recall``, ``f1`` of the positive class with
      sklearn's ``zero_division=0`` convention (a ratio whose denominator is 0, e.g. precision
      with no predicted positive, is 0.0); ``roc_auc`` (= ``roc_auc_score``); ``pr_auc``
      (= ``average_precision_score``, the step-wise, non-interpolated area); ``log_loss``
      (probabilities clipped to ``[eps, 1 - eps]``); ``brier`` (= ``brier_score_loss``, in
      ``[0, 1]``).
    * ``multiclass``: ``accuracy``; ``precision``, ``recall``, ``f1`` macro-averaged over the
      classes present in ``y_true`` or ``y_pred`` (sklearn's default ``labels``), with
      ``zero_division=0`` per class; ``roc_auc`` (= ``roc_auc_score(multi_class="ovr",
      average="macro")``, the scores used as given, where sklearn also insists that rows sum to
      1); ``pr_auc`` (macro mean of one-vs-rest average precision);
      ``log_loss`` (the true class's probability, clipped, not renormalised, as sklearn 1.9);
      ``brier`` (= sklearn 1.9's multiclass ``brier_score_loss``: the mean over rows of
      ``sum_k (onehot_k - p_k)^2``, in ``[0, 2]``, halved only when ``K == 2`` as sklearn's
      ``scale_by_half="auto"`` does).
    * ``regression``: ``rmse``, ``mae``, ``r2`` (sklearn's ``force_finite``: 1.0 for a perfect
      fit, 0.0 when ``y_true`` is constant and the fit is not perfect, NaN for fewer than two
      rows), ``mape`` (= ``mean_absolute_percentage_error``: ``|y - y_hat| / max(|y|, eps)``,
      so a zero target gives a huge but finite term, as in sklearn).

    Undefined ranking metrics are NaN rather than an error, so a gate can report them: ``roc_auc``
    and ``pr_auc`` are NaN when ``y_true`` has a single class (binary), or when some class of
    ``0..K-1`` never occurs in ``y_true`` (multiclass; sklearn raises there unless ``labels`` is
    given, and then returns NaN for ROC AUC). For ``pr_auc`` with no positive row sklearn returns
    0.0 with a warning; NaN is returned here instead because no ranking quality is measured.

    Args:
        task: ``"binary"``, ``"multiclass"`` or ``"regression"``.
        y_true: Encoded true labels (classification) or targets (regression), shape ``(n,)``.
        y_pred: Encoded predicted labels or predicted values, shape ``(n,)``.
        y_score: Positive-class probabilities ``(n,)`` (binary), class probabilities ``(n, K)``
            (multiclass), or None. Score-based metrics are omitted when None.

    Returns:
        Metric name to value, in the order of ``CLASSIFICATION_METRICS`` or
        ``REGRESSION_METRICS``.

    Raises:
        ValueError: If the task is unknown, the arrays are empty or of inconsistent shapes, or
            labels/probabilities are outside the encoding contract.
    """
    y_true, y_pred, y_score, k = validate_inputs(
        task=task, y_true=y_true, y_pred=y_pred, y_score=y_score
    )
    if task == "regression":
        return _regression_metrics(y_true, y_pred)
    cm = confusion_matrix(y_true=y_true, y_pred=y_pred, n_classes=k)
    if task == "binary":
        return _binary_metrics(y_true, y_score, cm)
    return _multiclass_metrics(y_true, y_score, cm, k)


def _binary_metrics(
    y_true: np.ndarray, y_score: np.ndarray | None, cm: np.ndarray
) -> dict[str, float]:
    out = {
        name: float(v[0])
        for name, v in binary_count_metrics(
            tn=cm[0, 0][None], fp=cm[0, 1][None], fn=cm[1, 0][None], tp=cm[1, 1][None]
        ).items()
    }
    if y_score is not None:
        pos, neg = score_groups(y_true, y_score)
        out["roc_auc"] = float(auc_from_groups(pos[None], neg[None])[0])
        out["pr_auc"] = float(ap_from_groups(pos[None], neg[None])[0])
        out["log_loss"] = float(binary_log_loss_rows(y_true, y_score).mean())
        out["brier"] = float(binary_brier_rows(y_true, y_score).mean())
    return out


def _multiclass_metrics(
    y_true: np.ndarray, y_score: np.ndarray | None, cm: np.ndarray, k: int
) -> dict[str, float]:
    out = {name: float(v[0]) for name, v in multiclass_count_metrics(cm[None]).items()}
    if y_score is not None:
        aucs, aps = np.empty(k), np.empty(k)
        for c in range(k):  # over classes, not rows
            pos, neg = score_groups((y_true == c).astype(np.int8), y_score[:, c])
            aucs[c] = auc_from_groups(pos[None], neg[None])[0]
            aps[c] = ap_from_groups(pos[None], neg[None])[0]
        out["roc_auc"] = float(aucs.mean())
        out["pr_auc"] = float(aps.mean())
        out["log_loss"] = float(multiclass_log_loss_rows(y_true, y_score).mean())
        out["brier"] = float(multiclass_brier_rows(y_true, y_score).mean())
    return out


def confusion_matrix(*, y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Count the (true, predicted) pairs, rows = true class, columns = predicted class.

    Same layout as ``sklearn.metrics.confusion_matrix(labels=range(n_classes))``.

    Args:
        y_true: Integer class codes ``0..n_classes-1``, shape ``(n,)``.
        y_pred: Integer class codes ``0..n_classes-1``, shape ``(n,)``.
        n_classes: Number of classes K.

    Returns:
        An ``(n_classes, n_classes)`` int64 array.

    Raises:
        ValueError: If a code is outside ``0..n_classes-1`` or the shapes differ.
    """
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    if y_true.shape != y_pred.shape or y_true.ndim != 1:
        raise ValueError(
            f"y_true and y_pred must be 1-d arrays of the same length, got shapes "
            f"{y_true.shape} and {y_pred.shape}"
        )
    k = int(n_classes)
    if k < 1:
        raise ValueError(f"n_classes must be at least 1, got {n_classes}")
    for name, arr in (("y_true", y_true), ("y_pred", y_pred)):
        if arr.size and (arr.min() < 0 or arr.max() >= k):
            raise ValueError(
                f"{name} has codes outside 0..{k - 1} (min {arr.min()}, max {arr.max()}); "
                "encode labels as integers 0..n_classes-1"
            )
    cells = y_true.astype(np.int64) * k + y_pred.astype(np.int64)
    return np.bincount(cells, minlength=k * k).reshape(k, k)


def roc_curve_points(
    *, y_true: np.ndarray, y_score: np.ndarray, max_points: int = 200
) -> tuple[np.ndarray, np.ndarray]:
    """Return a ROC curve with at most ``max_points`` points, for plotting (binary only).

    The full curve has one point per distinct score (as ``sklearn.metrics.roc_curve`` with
    ``drop_intermediate=False``), starting at (0, 0) and ending at (1, 1). When it is longer than
    ``max_points`` it is thinned at evenly spaced positions of ``(fpr + tpr) / 2``, which grows
    monotonically along the curve, so steep and flat parts both keep points; the two end points
    are always kept. With a single class in ``y_true`` the undefined rate is NaN, as in sklearn.

    Args:
        y_true: 0/1 labels, shape ``(n,)``.
        y_score: Positive-class probabilities (or any score, higher = more positive), ``(n,)``.
        max_points: Upper bound on the number of returned points, at least 2.

    Returns:
        ``(fpr, tpr)``, two float arrays of the same length, non-decreasing.

    Raises:
        ValueError: If ``max_points < 2`` or the inputs break the binary encoding contract.
    """
    if max_points < 2:
        raise ValueError(f"max_points must be at least 2, got {max_points}")
    y_true, _, y_score, _ = validate_inputs(
        task="binary", y_true=y_true, y_pred=y_true, y_score=y_score, check_proba=False
    )
    pos, neg = score_groups(y_true, y_score)
    # Thresholds from the highest score down: cumulative counts above each threshold.
    tps = np.concatenate(([0.0], np.cumsum(pos[::-1])))
    fps = np.concatenate(([0.0], np.cumsum(neg[::-1])))
    with np.errstate(invalid="ignore", divide="ignore"):
        tpr = tps / tps[-1] if tps[-1] > 0 else np.full(tps.shape, np.nan)
        fpr = fps / fps[-1] if fps[-1] > 0 else np.full(fps.shape, np.nan)
    if tpr.size <= max_points:
        return fpr, tpr
    pos_along = (np.nan_to_num(fpr) + np.nan_to_num(tpr)) / 2.0
    targets = np.linspace(pos_along[0], pos_along[-1], max_points)
    idx = np.unique(
        np.concatenate(([0], np.searchsorted(pos_along, targets[1:-1]), [tpr.size - 1]))
    )
    return fpr[idx], tpr[idx]


# --------------------------------------------------------------------------------------------
# Kernels shared with bootstrap.py (not part of __all__). Count arguments may carry a leading
# "resample" axis, so the bootstrap evaluates many resamples with the same formulas.
# --------------------------------------------------------------------------------------------


def validate_inputs(
    *,
    task: str,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    y_score: np.ndarray | None,
    check_proba: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, int]:
    """Check the encoding contract and return normalised arrays and the number of classes.

    Args:
        task: The task name.
        y_true: Encoded true labels or targets.
        y_pred: Encoded predictions.
        y_score: Scores or None.
        check_proba: Whether scores must lie in ``[0, 1]``.

    Returns:
        ``(y_true, y_pred, y_score, K)``; K is 0 for regression.

    Raises:
        ValueError: On any breach of the contract, with a message saying what to fix.
    """
    if task not in _TASKS:
        raise ValueError(f"task must be one of {list(_TASKS)}, got {task!r}")
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    if y_true.ndim != 1 or y_pred.shape != y_true.shape:
        raise ValueError(
            f"y_true and y_pred must be 1-d arrays of the same length, got shapes "
            f"{y_true.shape} and {y_pred.shape}"
        )
    n = y_true.shape[0]
    if n == 0:
        raise ValueError("no rows to evaluate: y_true is empty")
    if task == "regression":
        if y_score is not None:
            raise ValueError("y_score must be None for task='regression'")
        y_true = y_true.astype(np.float64)
        y_pred = y_pred.astype(np.float64)
        if not (np.isfinite(y_true).all() and np.isfinite(y_pred).all()):
            raise ValueError("regression targets and predictions must be finite (no NaN/inf)")
        return y_true, y_pred, None, 0
    y_true = _as_codes(y_true, "y_true", task)
    y_pred = _as_codes(y_pred, "y_pred", task)
    if task == "binary":
        k = 2
        if y_score is not None:
            y_score = np.asarray(y_score, dtype=np.float64)
            if y_score.shape != (n,):
                raise ValueError(
                    f"binary y_score must be the 1-d positive-class probability of shape ({n},), "
                    f"got {y_score.shape}"
                )
    else:
        if y_score is not None:
            y_score = np.asarray(y_score, dtype=np.float64)
            if y_score.ndim != 2 or y_score.shape[0] != n or y_score.shape[1] < 2:
                raise ValueError(
                    f"multiclass y_score must have shape ({n}, K) with K >= 2, got {y_score.shape}"
                )
            k = y_score.shape[1]
        else:
            k = int(max(y_true.max(), y_pred.max())) + 1
    for name, arr in (("y_true", y_true), ("y_pred", y_pred)):
        if arr.min() < 0 or arr.max() >= k:
            raise ValueError(
                f"{name} has codes outside 0..{k - 1} for task={task!r} "
                f"(min {arr.min()}, max {arr.max()})"
            )
    if y_score is not None:
        if not np.isfinite(y_score).all():
            raise ValueError("y_score contains NaN or infinite values")
        if check_proba and (y_score.min() < 0.0 or y_score.max() > 1.0):
            raise ValueError(
                f"y_score must hold probabilities in [0, 1], got range "
                f"[{y_score.min():g}, {y_score.max():g}]"
            )
    return y_true, y_pred, y_score, k


def _as_codes(arr: np.ndarray, name: str, task: str) -> np.ndarray:
    """Return integer class codes; floats are accepted only when they hold whole numbers."""
    if np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.bool_):
        return arr.astype(np.int64)
    if np.issubdtype(arr.dtype, np.floating) and np.isfinite(arr).all():
        codes = arr.astype(np.int64)
        if np.array_equal(codes, arr):
            return codes
    raise ValueError(
        f"{name} must hold integer class codes for task={task!r} (got dtype {arr.dtype}); "
        "encode labels as 0..K-1 first"
    )


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """Divide, with 0.0 where the denominator is 0 (sklearn's ``zero_division=0``)."""
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    return np.divide(num, den, out=np.zeros(np.broadcast(num, den).shape), where=den != 0)


def binary_count_metrics(
    *, tn: np.ndarray, fp: np.ndarray, fn: np.ndarray, tp: np.ndarray
) -> dict[str, np.ndarray]:
    """Accuracy, precision, recall and F1 of the positive class from confusion counts.

    Args:
        tn: True negatives, any shape (e.g. one per resample).
        fp: False positives, same shape.
        fn: False negatives, same shape.
        tp: True positives, same shape.

    Returns:
        Metric name to an array of the input shape.
    """
    tp = np.asarray(tp, dtype=np.float64)
    total = tp + tn + fp + fn
    return {
        "accuracy": _safe_div(tp + tn, total),
        "precision": _safe_div(tp, tp + fp),
        "recall": _safe_div(tp, tp + fn),
        "f1": _safe_div(2.0 * tp, 2.0 * tp + fp + fn),
    }


def multiclass_count_metrics(cm: np.ndarray) -> dict[str, np.ndarray]:
    """Accuracy and macro precision, recall and F1 from confusion matrices.

    The macro average runs over the classes present in ``y_true`` or ``y_pred`` (row or column
    sum > 0), which is sklearn's default when ``labels`` is not passed.

    Args:
        cm: Confusion matrices of shape ``(..., K, K)``, rows = true class.

    Returns:
        Metric name to an array of shape ``cm.shape[:-2]``.
    """
    cm = np.asarray(cm, dtype=np.float64)
    tp = np.diagonal(cm, axis1=-2, axis2=-1)
    true_k = cm.sum(axis=-1)
    pred_k = cm.sum(axis=-2)
    present = (true_k + pred_k) > 0
    n_present = present.sum(axis=-1)

    def macro(per_class: np.ndarray) -> np.ndarray:
        return _safe_div(np.where(present, per_class, 0.0).sum(axis=-1), n_present)

    return {
        "accuracy": _safe_div(tp.sum(axis=-1), cm.sum(axis=(-2, -1))),
        "precision": macro(_safe_div(tp, pred_k)),
        "recall": macro(_safe_div(tp, true_k)),
        "f1": macro(_safe_div(2.0 * tp, true_k + pred_k)),
    }


def score_groups(y_true: np.ndarray, y_score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Count positives and negatives per distinct score, in ascending score order.

    Args:
        y_true: 0/1 labels, shape ``(n,)``.
        y_score: Scores, shape ``(n,)``.

    Returns:
        ``(pos, neg)``: float arrays of length = number of distinct scores.
    """
    _, inv = np.unique(y_score, return_inverse=True)
    g = int(inv.max()) + 1
    pos = np.bincount(inv, weights=y_true, minlength=g)
    neg = np.bincount(inv, minlength=g) - pos
    return pos, neg


def auc_from_groups(
    pos: np.ndarray, neg: np.ndarray, within: np.ndarray | None = None
) -> np.ndarray:
    """ROC AUC from per-group positive/negative counts (Mann-Whitney form).

    Groups are ordered by ascending score. A positive beats every negative of a lower group;
    inside a group, a (positive, negative) pair counts ``within`` (0.5 for tied scores, which is
    sklearn's trapezoidal rule; the bootstrap passes the observed in-bin fraction for bins).

    Args:
        pos: Positive counts, shape ``(R, G)``.
        neg: Negative counts, shape ``(R, G)``.
        within: Per-group value of an in-group pair, shape ``(G,)``; None means 0.5.

    Returns:
        Shape ``(R,)``; NaN where a row has no positive or no negative.
    """
    neg_below = np.cumsum(neg, axis=-1) - neg
    pair_value = neg_below + (0.5 if within is None else within) * neg
    num = np.einsum("rg,rg->r", pos, pair_value)
    den = pos.sum(axis=-1) * neg.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def ap_from_groups(pos: np.ndarray, neg: np.ndarray) -> np.ndarray:
    """Average precision (sklearn's step-wise AP) from per-group counts.

    ``AP = sum over thresholds of (recall step) * precision``; each group of tied scores is one
    threshold, as in ``precision_recall_curve``.

    Args:
        pos: Positive counts, shape ``(R, G)``, groups in ascending score order.
        neg: Negative counts, shape ``(R, G)``.

    Returns:
        Shape ``(R,)``; NaN where a row has no positive.
    """
    pos_desc = pos[:, ::-1]
    tp_cum = np.cumsum(pos_desc, axis=-1)
    seen = tp_cum + np.cumsum(neg[:, ::-1], axis=-1)
    precision = np.divide(tp_cum, seen, out=np.zeros(seen.shape), where=seen > 0)
    num = np.einsum("rg,rg->r", pos_desc, precision)
    total = tp_cum[:, -1] if tp_cum.shape[-1] else np.zeros(pos.shape[0])
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, num / np.where(total > 0, total, 1.0), np.nan)


def binary_log_loss_rows(y_true: np.ndarray, y_score: np.ndarray) -> np.ndarray:
    """Per-row log loss, with sklearn's clipping of both class probabilities to [eps, 1-eps]."""
    p1 = np.clip(y_score, _EPS, 1.0 - _EPS)
    p0 = np.clip(1.0 - y_score, _EPS, 1.0 - _EPS)
    return -np.log(np.where(y_true == 1, p1, p0))


def binary_brier_rows(y_true: np.ndarray, y_score: np.ndarray) -> np.ndarray:
    """Per-row Brier loss ``(y - p)^2`` (sklearn's binary, halved two-column form)."""
    return (y_true - y_score) ** 2


def multiclass_log_loss_rows(y_true: np.ndarray, y_score: np.ndarray) -> np.ndarray:
    """Per-row log loss: minus the log of the clipped probability of the true class."""
    p_true = np.take_along_axis(y_score, y_true[:, None], axis=1)[:, 0]
    return -np.log(np.clip(p_true, _EPS, 1.0 - _EPS))


def multiclass_brier_rows(y_true: np.ndarray, y_score: np.ndarray) -> np.ndarray:
    """Per-row multiclass Brier loss ``sum_k (onehot_k - p_k)^2``, halved when K == 2."""
    p_true = np.take_along_axis(y_score, y_true[:, None], axis=1)[:, 0]
    rows = np.einsum("ij,ij->i", y_score, y_score) - 2.0 * p_true + 1.0
    return rows * 0.5 if y_score.shape[1] == 2 else rows


def regression_loss_rows(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, np.ndarray]:
    """Per-row squared error, absolute error and absolute percentage error.

    Args:
        y_true: Targets.
        y_pred: Predictions.

    Returns:
        ``{"se", "ae", "ape"}`` arrays; ``ape`` divides by ``max(|y|, eps)`` as sklearn does.
    """
    diff = y_pred - y_true
    ae = np.abs(diff)
    return {"se": diff * diff, "ae": ae, "ape": ae / np.maximum(np.abs(y_true), _EPS)}


def r2_from_sums(sse: np.ndarray, sst: np.ndarray, n_rows: int) -> np.ndarray:
    """R^2 with sklearn's ``force_finite`` rules from residual and total sums of squares.

    Args:
        sse: Residual sums of squares.
        sst: Total sums of squares around the mean of ``y_true``.
        n_rows: Number of rows; R^2 is NaN for fewer than two, as in sklearn.

    Returns:
        R^2 values of the input shape.
    """
    sse = np.asarray(sse, dtype=np.float64)
    sst = np.asarray(sst, dtype=np.float64)
    if n_rows < 2:
        return np.full(sse.shape, np.nan)
    ratio = np.divide(sse, sst, out=np.zeros(sse.shape), where=sst != 0)
    return np.where(sse == 0, 1.0, np.where(sst == 0, 0.0, 1.0 - ratio))


def _regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    rows = regression_loss_rows(y_true, y_pred)
    centred = y_true - y_true.mean()
    sse = rows["se"].sum()
    return {
        "rmse": float(np.sqrt(rows["se"].mean())),
        "mae": float(rows["ae"].mean()),
        "r2": float(r2_from_sums(sse, centred @ centred, y_true.shape[0])),
        "mape": float(rows["ape"].mean()),
    }
