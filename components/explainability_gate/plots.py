"""Attribution plots for the explainability report, as base64 PNG for ``details["images"]``.

Drawn with matplotlib's object API on the Agg canvas (no pyplot, no display, nothing global).
Only aggregates reach a plot: importances, the distribution of SHAP values per feature coloured
by the feature's *percentile* (not its value), and SHAP averaged over quantile bins of a
feature. No row of the evaluation data can be read back from the report.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

_BLUE = "#0969da"
_GREY = "#8c959f"
_RED = "#cf222e"
_MAX_LABEL = 28
_BINS = 12
_MIN_BIN_ROWS = 5


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _png(fig: Figure) -> str:
    buf = io.BytesIO()
    # No "Software" chunk: the report must not carry a URL, not even inside an image.
    fig.savefig(buf, format="png", metadata={"Software": None})
    fig.clear()
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _label(text: object) -> str:
    s = " ".join(str(text).split())
    if len(s) > _MAX_LABEL:
        s = s[: _MAX_LABEL - 1] + "…"
    return s.replace("$", r"\$")


def importance_bar(
    *, names: Sequence[str], shares: Sequence[float], highlight: Sequence[str] = ()
) -> str:
    """Horizontal bars of each feature's share of the total mean ``|SHAP|``.

    Args:
        names: Features, strongest first.
        shares: Their shares (0-1).
        highlight: Features drawn in red (forbidden features).

    Returns:
        Base64 PNG.
    """
    fig = _figure(5.6, 1.2 + 0.28 * max(len(names), 1))
    ax = fig.add_subplot()
    pos = np.arange(len(names))
    colours = [_RED if n in set(highlight) else _BLUE for n in names]
    ax.barh(pos, np.asarray(shares) * 100.0, color=colours, height=0.7)
    ax.set_yticks(pos, [_label(n) for n in names])
    ax.invert_yaxis()
    ax.set_xlabel("share of total mean |SHAP| (%)")
    ax.set_title("Global importance")
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)


def beeswarm(*, names: Sequence[str], phi: np.ndarray, percentiles: np.ndarray, seed: int) -> str:
    """SHAP value of every explained row per feature, coloured by the feature's percentile.

    Args:
        names: Features to draw, strongest first.
        phi: ``(n_rows, len(names))`` attributions of those features.
        percentiles: ``(n_rows, len(names))`` within-sample percentile of the feature value
            (NaN for missing or categorical values, drawn grey).
        seed: Seed of the vertical jitter.

    Returns:
        Base64 PNG.
    """
    rng = np.random.default_rng(seed)
    k = len(names)
    fig = _figure(6.4, 1.2 + 0.42 * max(k, 1))
    ax = fig.add_subplot()
    n = phi.shape[0]
    scatter = None
    for j in range(k):
        y = j + rng.uniform(-0.3, 0.3, n)
        colour = percentiles[:, j]
        grey = ~np.isfinite(colour)
        if grey.any():
            ax.scatter(phi[grey, j], y[grey], s=6, color=_GREY, alpha=0.6, linewidths=0)
        scatter = ax.scatter(
            phi[~grey, j],
            y[~grey],
            s=6,
            c=colour[~grey],
            cmap="coolwarm",
            vmin=0.0,
            vmax=1.0,
            alpha=0.8,
            linewidths=0,
        )
    ax.axvline(0.0, color="#57606a", linewidth=0.8)
    ax.set_yticks(np.arange(k), [_label(x) for x in names])
    ax.set_ylim(k - 0.5, -0.5)
    ax.set_xlabel("SHAP value (impact on the explained output)")
    ax.set_title("Summary (beeswarm)")
    if scatter is not None:
        bar = fig.colorbar(scatter, ax=ax, shrink=0.8)
        bar.set_label("feature value percentile (grey: categorical or missing)")
    return _png(fig)


def dependence(*, name: str, x: pd.Series, phi: np.ndarray) -> str:
    """Mean SHAP value (with 10-90 % band) per quantile bin or category of one feature.

    Args:
        name: The feature.
        x: Its values on the explained rows.
        phi: Its attributions on those rows.

    Returns:
        Base64 PNG.
    """
    fig = _figure(4.8, 3.2)
    ax = fig.add_subplot()
    frame = pd.DataFrame({"x": x.to_numpy(), "phi": phi})
    numeric = pd.api.types.is_numeric_dtype(x.dtype) and x.nunique(dropna=True) > _BINS
    if numeric:
        frame = frame[np.isfinite(frame["x"].astype(float))]
        frame["bin"] = pd.qcut(frame["x"].astype(float), _BINS, duplicates="drop")
        key, ticks = "bin", None
    else:
        frame["bin"] = frame["x"].astype(object).where(frame["x"].notna(), "<missing>").astype(str)
        key, ticks = "bin", True
    g = frame.groupby(key, observed=True)["phi"]
    agg = pd.DataFrame(
        {
            "mean": g.mean(),
            "lo": g.quantile(0.1),
            "hi": g.quantile(0.9),
            "n": g.size(),
        }
    )
    # Bins with a handful of rows would show single rows' values: left out.
    agg = agg[agg["n"] >= _MIN_BIN_ROWS]
    if numeric:
        centres = np.array([iv.mid for iv in agg.index])
        ax.fill_between(centres, agg["lo"], agg["hi"], color=_BLUE, alpha=0.2, label="10-90 %")
        ax.plot(centres, agg["mean"], "o-", color=_BLUE, markersize=4, label="mean SHAP")
        ax.set_xlabel(f"{_label(name)} (quantile-bin centre)")
    else:
        agg = agg.sort_values("mean")
        pos = np.arange(len(agg))
        ax.errorbar(
            pos,
            agg["mean"],
            yerr=[agg["mean"] - agg["lo"], agg["hi"] - agg["mean"]],
            fmt="o",
            color=_BLUE,
            capsize=3,
            label="mean SHAP, 10-90 %",
        )
        if ticks:
            ax.set_xticks(pos, [_label(v) for v in agg.index], rotation=45, ha="right")
        ax.set_xlabel(_label(name))
    ax.axhline(0.0, color="#57606a", linewidth=0.8)
    ax.set_ylabel("SHAP value")
    ax.set_title(f"Dependence: {_label(name)}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    return _png(fig)


def champion_comparison(
    *, names: Sequence[str], candidate: Sequence[float], champion: Sequence[float]
) -> str:
    """Paired bars of candidate and champion shares per feature.

    Args:
        names: Features (the strongest of either model).
        candidate: Candidate shares.
        champion: Champion shares.

    Returns:
        Base64 PNG.
    """
    fig = _figure(5.8, 1.3 + 0.36 * max(len(names), 1))
    ax = fig.add_subplot()
    pos = np.arange(len(names))
    ax.barh(pos - 0.2, np.asarray(candidate) * 100, height=0.4, color=_BLUE, label="candidate")
    ax.barh(pos + 0.2, np.asarray(champion) * 100, height=0.4, color=_GREY, label="champion")
    ax.set_yticks(pos, [_label(n) for n in names])
    ax.invert_yaxis()
    ax.set_xlabel("share of total mean |SHAP| (%)")
    ax.set_title("Candidate vs champion attributions")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    return _png(fig)
