"""Report plots as self-contained PNG data URIs.

The KFP UI shows an HTML artifact in a sandboxed iframe and auditors open reports offline, so a
plot is embedded in the page as ``data:image/png;base64,...`` rather than linked. Figures are drawn
on matplotlib's Agg canvas (``FigureCanvasAgg``) explicitly: no display is needed, the
process-wide backend of a caller (a notebook, say) is left alone, and no figure is registered with
pyplot, so none can leak. matplotlib is imported only inside the functions that draw, so importing
the report modules (every gate and the CLI do) does not pay for it.

Figures are at most :data:`MAX_WIDTH_IN` inches wide at :data:`_DPI`, so that in the 800 px KFP side
panel they are shown at (close to) their drawn size rather than shrunk until their text is
unreadable; tick labels that would overlap are thinned out (:func:`_declutter_x`).

Each function takes already-validated, plain Python data; checking the shape of a gate's
``details`` is the job of :mod:`quality_gates.shared.reports.render`, which
skips what it cannot draw.
"""

from __future__ import annotations

import base64
import io
import math
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported for real only when drawing (see _figure)
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

# The same palette as the HTML badges, so a red bar means what a red badge means.
STATUS_COLOURS = {
    "passed": "#1f883d",
    "warned": "#d97706",
    "failed": "#cf222e",
    "error": "#7f1d1d",
    "skipped": "#6e7781",
}
_NEUTRAL = "#57606a"
_DPI = 100
# Beyond this many bars or matrix cells a plot stops being readable; the HTML table keeps all rows.
MAX_BARS = 40
_MAX_LABEL = 28
# Widest figure drawn, in inches at _DPI: 6.6 in = 660 px fits the report's content box at 800 px.
MAX_WIDTH_IN = 6.6
# Metric names on the champion comparison wrap at this many characters, over at most 3 lines.
_WRAP = 22


def _figure(width: float, height: float) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(min(width, MAX_WIDTH_IN), height), dpi=_DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def shown_xticklabels(ax: Axes) -> list:
    """The x tick labels matplotlib draws: visible, non-empty and within the view limits."""
    low, high = sorted(ax.get_xlim())
    span = (high - low) * 1e-9
    return [
        t
        for t in ax.get_xticklabels()
        if t.get_visible() and t.get_text() and low - span <= t.get_position()[0] <= high + span
    ]


def _overlapping(ax: Axes) -> bool:
    boxes = sorted((t.get_window_extent() for t in shown_xticklabels(ax)), key=lambda b: b.x0)
    return any(a.x1 + 4 > b.x0 for a, b in zip(boxes, boxes[1:], strict=False))


def _declutter_x(fig: Figure, ax: Axes) -> None:
    """Thin the x ticks until no two tick labels touch (4 px apart at least), then rotate."""
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    # "0.005", not "0.0050" or an offset ("1e-2") far from the ticks it scales.
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: f"{x:.3g}".replace("-", "−")))
    for nbins in (6, 5, 4, 3, 2):
        ax.xaxis.set_major_locator(MaxNLocator(nbins=nbins, steps=[1, 2, 2.5, 5, 10]))
        fig.canvas.draw()
        if not _overlapping(ax):
            return
    for label in ax.get_xticklabels():
        label.set_rotation(30)
        label.set_horizontalalignment("right")


def _wrapped(text: object, width: int = _WRAP, lines: int = 3) -> str:
    # A long metric name wraps onto up to `lines` lines instead of squeezing the axes: at spaces,
    # and after underscores, so that "log_loss__sex_x_age_band" breaks between its words.
    pieces = [p for p in re.split(r"\s+|(?<=_)(?=[^_])", " ".join(str(text).split())) if p]
    out: list[str] = []
    for piece in pieces:
        sep = "" if out and out[-1].endswith("_") else " "
        if out and len(out[-1]) + len(sep) + len(piece) <= width:
            out[-1] += sep + piece
        else:
            out.extend(piece[i : i + width] for i in range(0, len(piece), width))
    out = out or [""]
    if len(out) > lines:
        out = out[:lines]
        out[-1] = out[-1][: width - 1] + "…"
    return "\n".join(out).replace("$", r"\$")


def _to_data_uri(fig: Figure) -> str:
    buf = io.BytesIO()
    # No "Software" text chunk: the page must not carry any URL, not even inside an image.
    fig.savefig(buf, format="png", metadata={"Software": None})
    fig.clear()
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _label(text: object) -> str:
    # Slice values are user data: "$" would start mathtext (and can raise at draw time), and a
    # long value would squeeze the axes.
    s = " ".join(str(text).split())
    if len(s) > _MAX_LABEL:
        s = s[: _MAX_LABEL - 1] + "…"
    return s.replace("$", r"\$")


def _colour(status: str | None) -> str:
    return STATUS_COLOURS.get(str(status or "").lower(), _NEUTRAL)


def confusion_matrix_png(*, labels: Sequence[str], matrix: Sequence[Sequence[int]]) -> str:
    """Draw a confusion matrix heatmap with the count in every cell.

    Args:
        labels: Class labels, in the order of the matrix rows (true) and columns (predicted).
        matrix: Square matrix of counts, ``matrix[true][predicted]``.

    Returns:
        A ``data:image/png;base64,...`` URI.

    """
    n = len(labels)
    side = min(3.2 + 0.45 * n, 9.0)
    fig = _figure(side + 0.8, side)
    ax = fig.add_subplot()
    image = ax.imshow(matrix, cmap="Blues", interpolation="nearest", aspect="auto")
    fig.colorbar(image, ax=ax, shrink=0.8)
    ticks = list(range(n))
    ax.set_xticks(ticks, [_label(x) for x in labels], rotation=45 if n > 4 else 0, ha="right")
    ax.set_yticks(ticks, [_label(x) for x in labels])
    ax.set_xlabel("Predicted")
    ax.set_ylabel("True")
    ax.set_title("Confusion matrix")
    if n <= 20:
        peak = max((max(row) for row in matrix), default=0) or 1
        fontsize = 10 if n <= 8 else 7
        for i, row in enumerate(matrix):
            for j, count in enumerate(row):
                colour = "white" if count > peak * 0.55 else "#1f2328"
                ax.text(
                    j, i, f"{count:,}", ha="center", va="center", color=colour, fontsize=fontsize
                )
    return _to_data_uri(fig)


def roc_curve_png(*, fpr: Sequence[float], tpr: Sequence[float], auc: float | None) -> str:
    """Draw a ROC curve against the chance diagonal.

    Args:
        fpr: False positive rates, one per threshold.
        tpr: True positive rates, same length as ``fpr``.
        auc: Area under the curve, shown in the legend when known.

    Returns:
        A ``data:image/png;base64,...`` URI.

    """
    fig = _figure(4.4, 4.0)
    ax = fig.add_subplot()
    label = f"ROC (AUC = {auc:.4g})" if auc is not None and math.isfinite(auc) else "ROC"
    ax.plot(fpr, tpr, color="#0969da", linewidth=2, label=label)
    ax.plot([0, 1], [0, 1], linestyle="--", color=_NEUTRAL, linewidth=1, label="Chance")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_aspect("equal")
    ax.set_xlabel("False positive rate")
    ax.set_ylabel("True positive rate")
    ax.set_title("ROC curve")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    return _to_data_uri(fig)


def slice_bars_png(
    *,
    column: str,
    metric: str,
    slices: Sequence[tuple[str, float | None, str]],
    threshold: float | None = None,
) -> str:
    """Draw one horizontal bar per slice of a column, coloured by the slice's status.

    Args:
        column: The column the data was sliced by.
        metric: The metric measured in every slice.
        slices: ``(slice value, metric value or None, status)``; at most :data:`MAX_BARS` are drawn.
        threshold: The rule's threshold, drawn as a vertical line when given.

    Returns:
        A ``data:image/png;base64,...`` URI.

    """
    rows = list(slices)[:MAX_BARS]
    fig = _figure(5.2, 1.4 + 0.3 * max(len(rows), 1))
    ax = fig.add_subplot()
    positions = list(range(len(rows)))
    values = [v if v is not None else 0.0 for _, v, _ in rows]
    ax.barh(positions, values, color=[_colour(s) for _, _, s in rows], height=0.7)
    for pos, (_, value, _) in zip(positions, rows, strict=True):
        if value is None:
            ax.text(0, pos, " n/a", va="center", fontsize=8, color=_NEUTRAL)
    ax.set_yticks(positions, [_label(name) for name, _, _ in rows])
    ax.invert_yaxis()
    if threshold is not None:
        ax.axvline(threshold, color="#1f2328", linestyle="--", linewidth=1.2)
        ax.annotate(
            f"threshold {threshold:.4g}",
            xy=(threshold, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(3, 2),
            textcoords="offset points",
            fontsize=8,
            va="bottom",
        )
    ax.set_xlabel(_label(metric))
    ax.set_title(f"{_label(metric)} by {_label(column)}", pad=14 if threshold is not None else 6)
    ax.grid(axis="x", alpha=0.3)
    _declutter_x(fig, ax)
    return _to_data_uri(fig)


def forest_plot_png(
    *, comparisons: Sequence[tuple[str, float, float | None, float | None, float | None, str]]
) -> str:
    """Draw candidate-minus-champion differences with their confidence intervals.

    One row per metric, metric names on the y axis (wrapped, never rotated), the figure as tall as
    its rows need; the x ticks are thinned until their labels cannot overlap, and the legend sits
    under the axes where it cannot hide an interval.

    Args:
        comparisons: ``(metric, diff, ci_low, ci_high, margin, status)`` per compared metric. The
            candidate may be worse than the champion by at most ``margin``, so the line at
            ``-margin`` is the bar the interval is held to, and the line at 0 is "no change".

    Returns:
        A ``data:image/png;base64,...`` URI.

    """
    rows = list(comparisons)[:MAX_BARS]
    labels = [_wrapped(r[0]) for r in rows]
    line_count = sum(label.count("\n") + 1 for label in labels)
    fig = _figure(MAX_WIDTH_IN, 1.5 + 0.26 * max(len(rows), 1) + 0.15 * line_count)
    ax = fig.add_subplot()
    ax.axvline(0, color=_NEUTRAL, linewidth=1, label="No change")
    margins = {m for *_, m, _ in rows if m is not None}
    if len(margins) == 1:
        margin = margins.pop()
        ax.axvline(
            -margin, color="#cf222e", linestyle="--", linewidth=1.2, label=f"−margin ({margin:.3g})"
        )
    else:
        labelled = False
        for pos, (*_, margin, _) in enumerate(rows):
            if margin is None:
                continue
            ax.plot(
                [-margin, -margin],
                [pos - 0.4, pos + 0.4],
                color="#cf222e",
                linestyle="--",
                linewidth=1.2,
                label=None if labelled else "−margin",
            )
            labelled = True
    for pos, (_, diff, low, high, _, status) in enumerate(rows):
        colour = _colour(status)
        if low is not None and high is not None:
            ax.plot([low, high], [pos, pos], color=colour, linewidth=2.2, solid_capstyle="butt")
            ax.plot([low, high], [pos, pos], "|", color=colour, markersize=10)
        ax.plot([diff], [pos], "o", color=colour, markersize=7)
    ax.set_yticks(list(range(len(rows))), labels, fontsize=9)
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.set_xlabel("Candidate − champion (with confidence interval)", fontsize=9)
    ax.set_title("Candidate vs champion")
    ax.tick_params(axis="x", labelsize=9)
    ax.grid(axis="x", alpha=0.3)
    ax.margins(x=0.08)
    fig.legend(loc="outside lower center", ncols=2, fontsize=8, frameon=False)
    _declutter_x(fig, ax)
    return _to_data_uri(fig)
