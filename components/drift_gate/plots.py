"""Reference vs current distribution of a column, for the drift report: one PNG per column.

Drawn on matplotlib's Agg canvas through the object API (never pyplot); no software metadata in
the PNG, so the same numbers give the same bytes. At most 6.6 inches wide so that the 800 px KFP
side panel shows it at its drawn size.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence

_REFERENCE, _CURRENT = "#8c959f", "#0969da"
_MAX_BARS = 30
_MAX_LABEL = 18


def _short(label: str) -> str:
    text = " ".join(str(label).split()).replace("$", r"\$")
    return text if len(text) <= _MAX_LABEL else text[: _MAX_LABEL - 1] + "…"


def distribution_png(
    *,
    title: str,
    labels: Sequence[str],
    reference: Sequence[float],
    current: Sequence[float],
) -> str:
    """Draw the share of rows per bin (or category) on each side, side by side.

    Args:
        title: Chart title (the column and its judged distance).
        labels: Bin or category labels.
        reference: Share of reference rows per label.
        current: Share of current rows per label.

    Returns:
        The PNG, base64-encoded.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    n = min(len(labels), _MAX_BARS)
    # Fixed margins (room for 18-character labels at 40°): a constrained layout would draw the
    # figure twice, and the report draws six of them.
    fig = Figure(figsize=(6.6, 2.6), dpi=100)
    fig.subplots_adjust(left=0.1, right=0.99, top=0.9, bottom=0.34)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    xs = range(n)
    width = 0.42
    ax.bar([x - width / 2 for x in xs], reference[:n], width, color=_REFERENCE, label="reference")
    ax.bar([x + width / 2 for x in xs], current[:n], width, color=_CURRENT, label="current")
    ax.set_xticks(list(xs), [_short(label) for label in labels[:n]], rotation=40, ha="right")
    ax.tick_params(axis="x", labelsize=7)
    ax.set_ylabel("share of rows")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8, frameon=False)
    ax.grid(axis="y", alpha=0.3)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    fig.clear()
    return base64.b64encode(buf.getvalue()).decode("ascii")
