"""Per-group chart of the fairness report: rates with bootstrap intervals, one PNG per grouping.

Drawn on matplotlib's Agg canvas through the object API (never pyplot), so no display is needed
and no global figure state is touched; the PNG carries no software metadata, so the same numbers
give the same bytes.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

_COLOURS = ("#0969da", "#1f883d", "#cf222e", "#8250df")
_MAX_GROUPS = 40
_MAX_LABEL = 24


def group_rates_png(
    *,
    title: str,
    groups: Sequence[str],
    series: dict[str, tuple[Sequence[float], Sequence[float], Sequence[float]]],
    small: Sequence[bool],
) -> str:
    """Draw grouped bars of per-group rates with their intervals.

    Args:
        title: Chart title (the grouping).
        groups: Group labels.
        series: Metric name to ``(values, ci_low, ci_high)`` per group (``nan`` allowed).
        small: Per group, whether it is below the minimum size (drawn hatched).

    Returns:
        The PNG, base64-encoded.
    """
    groups = [g if len(g) <= _MAX_LABEL else g[: _MAX_LABEL - 1] + "…" for g in groups]
    groups = groups[:_MAX_GROUPS]
    k = len(series)
    width = 0.8 / max(k, 1)
    fig = Figure(figsize=(max(5.0, 0.9 * len(groups) * max(k, 1) * 0.5 + 2), 3.6), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    x = np.arange(len(groups))
    for i, (name, (values, lo, hi)) in enumerate(series.items()):
        v = np.asarray(values, dtype=float)[: len(groups)]
        lo_ = np.asarray(lo, dtype=float)[: len(groups)]
        hi_ = np.asarray(hi, dtype=float)[: len(groups)]
        shown = np.nan_to_num(v)
        err = np.vstack([np.clip(v - lo_, 0, None), np.clip(hi_ - v, 0, None)])
        err = np.where(np.isfinite(err), err, 0.0)
        bars = ax.bar(
            x + (i - (k - 1) / 2) * width,
            shown,
            width,
            label=name,
            color=_COLOURS[i % len(_COLOURS)],
            yerr=err,
            capsize=2,
            error_kw={"elinewidth": 0.8},
        )
        for bar, is_small in zip(bars, small[: len(groups)], strict=False):
            if is_small:
                bar.set_hatch("//")
                bar.set_alpha(0.5)
    ax.set_xticks(x, groups, rotation=30 if len(groups) > 4 else 0, ha="right", fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("rate")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="upper right")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return base64.b64encode(buf.getvalue()).decode("ascii")
