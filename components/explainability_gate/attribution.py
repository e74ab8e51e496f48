"""Aggregates of SHAP attributions: importance, shares, rankings, agreement and drift.

Pure numpy over whole arrays. Attributions arrive as ``(rows, features, outputs)``; the global
importance of a feature is its mean ``|SHAP|`` over rows, summed over outputs (every class of a
multiclass model), as shap's own bar plot does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from quality_gates.shared.contracts.errors import GateInputError


def importance(phi: np.ndarray) -> np.ndarray:
    """Mean ``|SHAP|`` per feature, summed over outputs.

    Args:
        phi: Attributions ``(n_rows, n_features, n_outputs)``.

    Returns:
        ``(n_features,)`` non-negative importances.
    """
    return np.abs(phi).mean(axis=0).sum(axis=1)


def shares(imp: np.ndarray, *, what: str = "the candidate") -> np.ndarray:
    """Each feature's share of the total importance.

    Args:
        imp: Importances.
        what: Which model, for the message.

    Returns:
        Shares summing to 1.

    Raises:
        GateInputError: When every attribution is zero (the output does not depend on the inputs)
            or an attribution is not finite (the inputs hold infinite or missing values).
    """
    total = float(imp.sum())
    if not np.isfinite(total):
        # NaN/inf attributions come from inputs, not from the model being constant: an
        # explainer that does not call predict (linear, tree) propagates an inf cell as is.
        raise GateInputError(
            f"attributions of {what} are not finite (NaN or infinity): the explained or "
            "background rows hold values the model cannot score; remove or impute infinite and "
            "missing feature values"
        )
    if total <= 0.0:
        raise GateInputError(
            f"every attribution of {what} is zero: its output does not vary with its inputs on the "
            "explained rows; check the model (a constant predictor cannot be judged)"
        )
    return imp / total


def order(imp: np.ndarray) -> np.ndarray:
    """Feature indices from the strongest to the weakest (ties keep column order)."""
    return np.argsort(-imp, kind="stable")


def ranks(imp: np.ndarray) -> np.ndarray:
    """Rank of every feature, 1 for the strongest."""
    r = np.empty(len(imp), dtype=np.int64)
    r[order(imp)] = np.arange(1, len(imp) + 1)
    return r


def top_k(imp: np.ndarray, names: Sequence[str], k: int) -> list[str]:
    """Names of the ``k`` strongest features."""
    return [names[i] for i in order(imp)[: min(k, len(names))]]


def topk_agreement(imp_a: np.ndarray, imp_b: np.ndarray, k: int) -> float:
    """Share of the top-``k`` features two rankings have in common (1 = the same set)."""
    k = min(k, len(imp_a))
    a = set(order(imp_a)[:k].tolist())
    b = set(order(imp_b)[:k].tolist())
    return len(a & b) / k


def features_to_reach(share: np.ndarray, target: float) -> int:
    """Fewest features whose shares, strongest first, add up to ``target``."""
    cum = np.cumsum(np.sort(share)[::-1])
    # A tolerance so that shares summing to exactly `target` in exact arithmetic count.
    return int(np.searchsorted(cum, target - 1e-12) + 1)


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation, NaN when either side is constant or too short."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    ok = np.isfinite(a) & np.isfinite(b)
    a, b = a[ok], b[ok]
    if a.size < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(stats.spearmanr(a, b).statistic)


@dataclass(frozen=True)
class Drift:
    """Candidate vs champion attributions over the union of their input columns.

    Attributes:
        features: The union of both models' input columns.
        candidate_share: Candidate's share per feature (0 where it does not take the column).
        champion_share: Champion's share per feature.
        rank_correlation: Spearman correlation of the two importance vectors.
        moved: Feature indices ordered by how far their share moved, most first.
    """

    features: list[str]
    candidate_share: np.ndarray
    champion_share: np.ndarray
    rank_correlation: float
    moved: np.ndarray


def drift(
    *,
    candidate_features: Sequence[str],
    candidate_imp: np.ndarray,
    champion_features: Sequence[str],
    champion_imp: np.ndarray,
) -> Drift:
    """Compare two models' importances, aligned on the union of their input columns.

    Args:
        candidate_features: Candidate's input columns.
        candidate_imp: Candidate's importances.
        champion_features: Champion's input columns.
        champion_imp: Champion's importances (same rows explained).

    Returns:
        The comparison.
    """
    union = list(dict.fromkeys([*candidate_features, *champion_features]))
    pos = {f: i for i, f in enumerate(union)}
    cand = np.zeros(len(union))
    champ = np.zeros(len(union))
    cand[[pos[f] for f in candidate_features]] = candidate_imp
    champ[[pos[f] for f in champion_features]] = champion_imp
    cs = shares(cand)
    hs = shares(champ, what="the champion")
    rho = spearman(cand, champ)
    if not np.isfinite(rho) and np.allclose(cs, hs):
        rho = 1.0  # e.g. two features with equal shares: identical, not undefined
    moved = np.argsort(-np.abs(cs - hs), kind="stable")
    return Drift(union, cs, hs, rho, moved)
