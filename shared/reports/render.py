"""Human-readable reports of gate results and scorecards: Markdown and self-contained HTML.

The HTML is what the KFP UI shows for a ``report: Output[HTML]`` artifact (in a sandboxed iframe)
and what an auditor opens offline years later, so it is one file with inline CSS and inline PNG
plots and no reference to anything outside itself. The Markdown carries the same numbers as
GitHub-flavoured tables for pull requests, CI job summaries and the KFP Markdown viewer.

Every check is listed, passed ones too: an auditor has to see what was held to which bar, not only
what failed. Values in a report come from user data (column names, slice values, model URIs), so
HTML is rendered with autoescaping on and Markdown cells are escaped.

Gate-specific sections are driven by optional keys of ``GateResult.details`` (``confusion_matrix``,
``roc_curve``, ``slices`` with ``slice_thresholds``, ``champion``, ``metric_cis``). A detail that is
missing is left out; one that is malformed is left out with a note in the report, never an
exception: a report that fails to render would hide the verdict it exists to show.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jinja2

from quality_gates.shared.contracts.results import GateResult, Status
from quality_gates.shared.contracts.scorecard import Scorecard
from quality_gates.shared.reports import plots
from quality_gates.shared.reports.areas import area_rows

logger = logging.getLogger(__name__)

__all__ = [
    "gate_report_html",
    "gate_report_markdown",
    "scorecard_html",
    "scorecard_markdown",
    "write_reports",
]

MISSING = "—"
_STATUSES = {s.value for s in Status}
_ICONS = {
    "passed": "✅",
    "warned": "⚠️",
    "failed": "❌",
    "error": "⛔",
    "skipped": "⏭️",
}
# Lineage keys shown first and under a readable name; any other key follows in its own order.
_LINEAGE_LABELS = {
    "git_commit": "Git commit",
    "git_branch": "Git branch",
    "git_dirty": "Uncommitted changes",
    "pipeline_run_id": "Pipeline run id",
    "pipeline_name": "Pipeline",
    "pipeline_job_name": "Pipeline job",
    "data_version": "Data version",
}
_VERSION_KEYS = ("package_versions", "versions")
# Slice plots beyond this many (column, metric) pairs would make the page heavy; the table keeps
# every row.
_MAX_SLICE_PLOTS = 12


# --------------------------------------------------------------------------------------------
# Formatting
# --------------------------------------------------------------------------------------------


def fmt(value: Any) -> str:
    """Format a value for a report cell: 4 significant digits, ``—`` for a missing value.

    Args:
        value: A number, string, bool or None.

    Returns:
        The display text. Integers keep every digit; floats of 10 000 and above are rounded to a
        whole number with thousands separators rather than shown in scientific notation.

    """
    if value is None:
        return MISSING
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):  # numpy scalar
        try:
            value = value.item()
        except (TypeError, ValueError):
            pass
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10_000 else str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return MISSING
        if math.isinf(value):
            return "∞" if value > 0 else "−∞"
        if value == 0:
            return "0"
        if 1e4 <= abs(value) < 1e15:
            return f"{value:,.0f}"
        return f"{value:.4g}"
    return str(value)


def fmt_ci(low: Any, high: Any) -> str:
    """Format a confidence interval as ``[low, high]``, or ``—`` when neither bound is known."""
    if low is None and high is None:
        return MISSING
    return f"[{fmt(low)}, {fmt(high)}]"


def _status_class(status: Any) -> str:
    # CSS class names are built from statuses, which in details are free text; only known ones
    # become classes.
    s = str(getattr(status, "value", status) or "").lower()
    return s if s in _STATUSES else "other"


def _status_text(status: Any) -> str:
    return str(getattr(status, "value", status) or MISSING)


# "<" only where it could open a tag or autolink, so that "0.61 < 0.7" stays readable as text.
_MD_SPECIAL = re.compile(r"([\\`*\[\]|]|<(?=[A-Za-z/!?]))")


def md_escape(value: Any) -> str:
    r"""Escape text for a GitHub-flavoured Markdown table cell or paragraph.

    Pipes would split the cell, ``<`` before a letter could open raw HTML, and ``[``, ``]``,
    ``*`` and backticks could turn user data into links, emphasis or code. Newlines would end the
    row.

    Args:
        value: Any value; non-strings are formatted with :func:`fmt` first.

    Returns:
        A single line with Markdown's special characters backslash-escaped.

    """
    text = value if isinstance(value, str) else fmt(value)
    text = " ".join(text.split())
    return _MD_SPECIAL.sub(r"\\\1", text)


def _label(key: str) -> str:
    if key in _LINEAGE_LABELS:
        return _LINEAGE_LABELS[key]
    text = str(key).replace("_", " ").strip()
    return text[:1].upper() + text[1:]


# --------------------------------------------------------------------------------------------
# Reading details defensively
# --------------------------------------------------------------------------------------------


class _Malformed(ValueError):
    """A detail that cannot be drawn; the message becomes a note in the report."""


def _number(x: Any, what: str, *, optional: bool = False) -> float | None:
    if hasattr(x, "item") and not isinstance(x, (str, bytes)):
        try:
            x = x.item()
        except (TypeError, ValueError):
            pass
    if x is None and optional:
        return None
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise _Malformed(f"{what} is {type(x).__name__}, expected a number")
    x = float(x)
    if math.isnan(x):
        if optional:
            return None
        raise _Malformed(f"{what} is NaN")
    return x


def _seq(x: Any, what: str) -> list[Any]:
    if hasattr(x, "tolist") and not isinstance(x, (str, bytes)):
        x = x.tolist()
    if not isinstance(x, (list, tuple)):
        raise _Malformed(f"{what} is {type(x).__name__}, expected a list")
    return list(x)


def _mapping(x: Any, what: str) -> dict[str, Any]:
    if not isinstance(x, dict):
        raise _Malformed(f"{what} is {type(x).__name__}, expected an object")
    return x


def _text(x: Any) -> str:
    if hasattr(x, "item") and not isinstance(x, (str, bytes)):
        try:
            x = x.item()
        except (TypeError, ValueError):
            pass
    return x if isinstance(x, str) else fmt(x)


def _confusion(raw: Any) -> dict[str, Any]:
    d = _mapping(raw, "confusion_matrix")
    labels = [_text(x) for x in _seq(d.get("labels"), "confusion_matrix.labels")]
    rows = _seq(d.get("matrix"), "confusion_matrix.matrix")
    n = len(labels)
    if n == 0:
        raise _Malformed("confusion_matrix has no labels")
    if len(rows) != n:
        raise _Malformed(f"confusion_matrix.matrix has {len(rows)} rows for {n} labels")
    matrix: list[list[int]] = []
    for i, row in enumerate(rows):
        cells = _seq(row, f"confusion_matrix.matrix[{i}]")
        if len(cells) != n:
            raise _Malformed(f"confusion_matrix.matrix[{i}] has {len(cells)} cells for {n} labels")
        out = []
        for j, c in enumerate(cells):
            v = _number(c, f"confusion_matrix.matrix[{i}][{j}]")
            if v < 0 or not math.isfinite(v) or v != int(v):
                raise _Malformed(f"confusion_matrix.matrix[{i}][{j}] is not a count: {fmt(v)}")
            out.append(int(v))
        matrix.append(out)
    return {"labels": labels, "matrix": matrix}


def _roc(raw: Any) -> dict[str, Any]:
    d = _mapping(raw, "roc_curve")
    fpr = [_number(x, "roc_curve.fpr") for x in _seq(d.get("fpr"), "roc_curve.fpr")]
    tpr = [_number(x, "roc_curve.tpr") for x in _seq(d.get("tpr"), "roc_curve.tpr")]
    if len(fpr) != len(tpr):
        raise _Malformed(f"roc_curve has {len(fpr)} fpr and {len(tpr)} tpr points")
    if len(fpr) < 2:
        raise _Malformed("roc_curve needs at least two points")
    if any(not 0 <= v <= 1 for v in (*fpr, *tpr)):
        raise _Malformed("roc_curve rates must lie in [0, 1]")
    auc = _number(d.get("auc"), "roc_curve.auc", optional=True)
    return {"fpr": fpr, "tpr": tpr, "auc": auc}


def _slices(raw: Any, raw_thresholds: Any, notes: list[str]) -> list[dict[str, Any]]:
    thresholds: dict[str, float] = {}
    if raw_thresholds is not None:
        try:
            for k, v in _mapping(raw_thresholds, "slice_thresholds").items():
                thresholds[str(k)] = _number(v, f"slice_thresholds[{k!r}]")
        except _Malformed as exc:
            notes.append(f"slice thresholds not shown: {exc}")
            thresholds = {}
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    skipped = 0
    for i, item in enumerate(_seq(raw, "slices")):
        try:
            d = _mapping(item, f"slices[{i}]")
            column, metric = _text(d["column"]), _text(d["metric"])
            value = _number(d.get("value_metric"), f"slices[{i}].value_metric", optional=True)
            low = _number(d.get("ci_low"), f"slices[{i}].ci_low", optional=True)
            high = _number(d.get("ci_high"), f"slices[{i}].ci_high", optional=True)
            n = d.get("n")
            n = None if n is None else int(_number(n, f"slices[{i}].n"))
        except (_Malformed, KeyError, OverflowError):
            skipped += 1
            continue
        group = groups.setdefault(
            (column, metric),
            {
                "column": column,
                "metric": metric,
                "threshold": thresholds.get(f"{column}/{metric}"),
                "rows": [],
            },
        )
        status = d.get("status")
        group["rows"].append(
            {
                "value": _text(d.get("value")),
                "metric_value": value,
                "ci": fmt_ci(low, high),
                "evidence": _EVIDENCE.get(str(d.get("decision") or ""), MISSING),
                "n": n,
                "status": _status_text(status),
                "status_class": _status_class(status),
            }
        )
    if skipped:
        notes.append(f"{skipped} malformed slice entr{'y' if skipped == 1 else 'ies'} not shown")
    return list(groups.values())


def _champion(raw: Any, notes: list[str]) -> dict[str, Any]:
    d = _mapping(raw, "champion")
    rows = []
    skipped = 0
    for i, item in enumerate(_seq(d.get("comparisons", []), "champion.comparisons")):
        try:
            c = _mapping(item, f"champion.comparisons[{i}]")
            w = f"champion.comparisons[{i}]"
            rows.append(
                {
                    "metric": _text(c["metric"]),
                    "candidate": _number(c.get("candidate"), f"{w}.candidate", optional=True),
                    "champion": _number(c.get("champion"), f"{w}.champion", optional=True),
                    "diff": _number(c.get("diff"), f"{w}.diff", optional=True),
                    "ci_low": _number(c.get("ci_low"), f"{w}.ci_low", optional=True),
                    "ci_high": _number(c.get("ci_high"), f"{w}.ci_high", optional=True),
                    "margin": _number(c.get("margin"), f"{w}.margin", optional=True),
                    "evidence": _EVIDENCE.get(str(c.get("decision") or ""), MISSING),
                    "status": _status_text(c.get("status")),
                    "status_class": _status_class(c.get("status")),
                }
            )
        except (_Malformed, KeyError):
            skipped += 1
    if skipped:
        notes.append(f"{skipped} malformed champion comparison(s) not shown")
    # Only what is known goes into the heading line: "production, version 7, models:/m/7".
    about = []
    for key, prefix in (("alias", ""), ("version", "version "), ("uri", "")):
        if d.get(key) not in (None, ""):
            about.append(prefix + _text(d[key]))
    return {"about": ", ".join(about), "rows": rows}


def _metric_cis(raw: Any, notes: list[str]) -> dict[str, tuple[float | None, float | None]]:
    out: dict[str, tuple[float | None, float | None]] = {}
    bad = 0
    for name, ci in _mapping(raw, "metric_cis").items():
        try:
            pair = _seq(ci, f"metric_cis[{name!r}]")
            if len(pair) != 2:
                raise _Malformed("expected [low, high]")
            out[str(name)] = (
                _number(pair[0], "low", optional=True),
                _number(pair[1], "high", optional=True),
            )
        except _Malformed:
            bad += 1
    if bad:
        notes.append(f"{bad} malformed metric confidence interval(s) not shown")
    return out


def _guard(what: str, notes: list[str], build: Callable[[], Any]) -> Any:
    try:
        return build()
    except _Malformed as exc:
        notes.append(f"{what} not shown: {exc}")
    except Exception as exc:  # noqa: BLE001 - a report must render whatever the details hold
        logger.warning("%s could not be rendered", what, exc_info=True)
        notes.append(f"{what} not shown: unexpected {type(exc).__name__}: {exc}"[:300])
    return None


# --------------------------------------------------------------------------------------------
# View model: plain, pre-formatted data, so that templates stay free of logic
# --------------------------------------------------------------------------------------------


#: How a rule judged on an interval reads on a report (CheckResult.decision).
_EVIDENCE = {"pass": "shown to pass", "fail": "shown to fail", "inconclusive": "inconclusive"}


def _check_rows(result: GateResult) -> list[dict[str, Any]]:
    return [
        {
            "name": c.name,
            "value": fmt(c.value),
            "operator": c.operator or MISSING,
            "threshold": fmt(c.threshold),
            "ci": fmt_ci(c.ci_low, c.ci_high),
            "evidence": _EVIDENCE.get(c.decision or "", MISSING),
            "severity": c.severity or MISSING,
            "status": c.status.value,
            "status_class": _status_class(c.status),
            "message": c.message or "",
            "rationale": c.rationale or "",
            # The compact summary row's rule: "<= 0.25", or just the threshold without operator.
            "rule": _rule(c.operator, c.threshold),
        }
        for c in result.checks
    ]


def _rule(operator: str | None, threshold: Any) -> str:
    if threshold is None:
        return operator or MISSING
    return f"{operator} {fmt(threshold)}" if operator else fmt(threshold)


_FAILING = ("failed", "error")
# The scorecard's overview names at most this many non-passing checks per gate with their values.
_MAX_FLAGGED = 3


class _Sections:
    """What a gate view collects while its sections are built: notes, and plots by section."""

    def __init__(self, details: dict[str, Any], *, with_plots: bool) -> None:
        self.details = details
        self.with_plots = with_plots
        self.notes: list[str] = []
        # Plots by the section they illustrate, so each sits next to its table.
        self.plots: dict[str, list[dict[str, str]]] = {"metrics": [], "champion": [], "slices": []}

    def plot(self, section: str, title: str, draw: Callable[[], str]) -> None:
        if not self.with_plots:
            return
        uri = _guard(f"plot {title!r}", self.notes, draw)
        if uri:
            self.plots[section].append({"title": title, "uri": uri})

    def detail(self, key: str, build: Callable[[Any], Any]) -> Any:
        details = self.details
        if details.get(key) is None:
            return None
        return _guard(f"details.{key}", self.notes, lambda: build(details[key]))


def _slice_section(sections: _Sections, slice_groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    notes = sections.notes
    slice_rows = []
    for i, g in enumerate(slice_groups):
        for r in g["rows"]:
            slice_rows.append(
                {
                    "column": g["column"],
                    "slice": r["value"],
                    "metric": g["metric"],
                    "value": fmt(r["metric_value"]),
                    "threshold": fmt(g["threshold"]),
                    "ci": r["ci"],
                    "evidence": r["evidence"],
                    "n": fmt(r["n"]),
                    "status": r["status"],
                    "status_class": r["status_class"],
                }
            )
        if i < _MAX_SLICE_PLOTS:
            bars = [(r["value"], r["metric_value"], r["status_class"]) for r in g["rows"]]
            if len(bars) > plots.MAX_BARS:
                # Show the slices that matter: failing ones first, then the rest in given order.
                order = {"error": 0, "failed": 1, "warned": 2}
                bars = sorted(bars, key=lambda b: order.get(b[2], 3))
                notes.append(
                    f"plot of {g['metric']} by {g['column']} shows {plots.MAX_BARS} of "
                    f"{len(bars)} slices (failing first); the table lists all"
                )
            sections.plot(
                "slices",
                f"{g['metric']} by {g['column']}",
                lambda g=g, bars=bars: plots.slice_bars_png(
                    column=g["column"], metric=g["metric"], slices=bars, threshold=g["threshold"]
                ),
            )
    if len(slice_groups) > _MAX_SLICE_PLOTS and sections.with_plots:
        notes.append(f"slice plots shown for the first {_MAX_SLICE_PLOTS} column/metric pairs")
    return slice_rows


def _champion_section(sections: _Sections, champion: dict[str, Any]) -> list[Any]:
    # Plots the comparison, then formats champion["rows"] in place; returns the forest rows.
    forest = [
        (r["metric"], r["diff"], r["ci_low"], r["ci_high"], r["margin"], r["status_class"])
        for r in champion["rows"]
        if r["diff"] is not None
    ]
    if forest:
        sections.plot(
            "champion",
            "Candidate vs champion",
            lambda: plots.forest_plot_png(comparisons=forest),
        )
    champion["rows"] = [
        {
            **r,
            "candidate": fmt(r["candidate"]),
            "champion": fmt(r["champion"]),
            "diff": fmt(r["diff"]),
            "ci": fmt_ci(r["ci_low"], r["ci_high"]),
            "margin": fmt(r["margin"]),
        }
        for r in champion["rows"]
    ]
    return forest


def _overview(
    result: GateResult, slice_rows: list[dict[str, Any]], champion: dict[str, Any] | None
) -> dict[str, Any]:
    """The check rows and what the one-screen summary shows of them and of the slices."""
    counts = {s.value: sum(c.status == s for c in result.checks) for s in Status}
    checks = _check_rows(result)
    flagged = sorted(
        (c for c in checks if c["status"] in (*_FAILING, "warned")),
        key=lambda c: c["status"] not in _FAILING,
    )
    columns = list(dict.fromkeys(r["column"] for r in slice_rows))
    failing_slices = sum(r["status_class"] in _FAILING for r in slice_rows)
    slice_hint = "by " + ", ".join(columns) if columns else ""
    if failing_slices:
        slice_hint += f" · {failing_slices} failing"
    return {
        "checks": checks,
        # Non-passing checks named with their value in the scorecard's overview (failing first).
        "flagged": [
            {"name": c["name"], "value": c["value"], "status": c["status"]}
            for c in flagged[:_MAX_FLAGGED]
        ],
        "slice_hint": slice_hint,
        # Which collapsible sections start open: the ones holding failing evidence.
        "open": {
            "gate": result.status.value in _FAILING,
            "checks": any(c["status"] in _FAILING for c in checks),
            "slices": bool(failing_slices),
            "champion": bool(champion)
            and any(r["status_class"] in _FAILING for r in champion["rows"]),
        },
        "counts": ", ".join(f"{n} {s}" for s, n in counts.items() if n) or "no checks",
    }


# Views of gate results already rendered in this process, by the result's JSON digest. The
# aggregator writes the scorecard twice (before and after the evaluation run is logged, which adds
# only its id); the gates' plots, most of the cost, are the same both times.
_VIEWS: dict[tuple[str, bool], dict[str, Any]] = {}
_MAX_VIEWS = 64


def _gate_view(result: GateResult, *, with_plots: bool) -> dict[str, Any]:
    key = (hashlib.sha256(result.model_dump_json().encode()).hexdigest(), with_plots)
    view = _VIEWS.get(key)
    if view is None:
        if len(_VIEWS) >= _MAX_VIEWS:
            _VIEWS.clear()
        view = _VIEWS[key] = _build_gate_view(result, with_plots=with_plots)
    return view


def _build_gate_view(result: GateResult, *, with_plots: bool) -> dict[str, Any]:
    details = result.details if isinstance(result.details, dict) else {}
    sections = _Sections(details, with_plots=with_plots)
    notes = sections.notes
    plot, detail = sections.plot, sections.detail

    cm = detail("confusion_matrix", _confusion)
    if cm:
        plot("metrics", "Confusion matrix", lambda: plots.confusion_matrix_png(**cm))

    roc = detail("roc_curve", _roc)
    if roc:
        plot("metrics", "ROC curve", lambda: plots.roc_curve_png(**roc))

    cis = detail("metric_cis", lambda raw: _metric_cis(raw, notes)) or {}
    metrics = [
        {"name": name, "value": fmt(value), "ci": fmt_ci(*cis.get(name, (None, None)))}
        for name, value in result.metrics.items()
    ]

    slice_groups = (
        detail("slices", lambda raw: _slices(raw, details.get("slice_thresholds"), notes)) or []
    )
    slice_rows = _slice_section(sections, slice_groups)

    champion = detail("champion", lambda raw: _champion(raw, notes))
    forest: list[Any] = _champion_section(sections, champion) if champion else []

    tables = detail("tables", lambda raw: _tables(raw, notes)) or []
    images = (detail("images", lambda raw: _images(raw, notes)) or []) if with_plots else []

    return {
        **_overview(result, slice_rows, champion),
        "gate": result.gate,
        "tables": tables,
        "images": images,
        "status": result.status.value,
        "status_class": _status_class(result.status),
        "icon": _ICONS.get(result.status.value, ""),
        "summary": result.summary,
        "error": result.error or (result.summary if result.status == Status.ERROR else None),
        "parts": [
            {"name": name, "status": st.value, "status_class": _status_class(st)}
            for name, st in result.part_statuses()
        ],
        "metrics": metrics,
        "plots": sections.plots,
        "has_plot_details": bool(cm or roc or slice_groups or forest or details.get("images")),
        "failing": [
            {"check": c.name, "message": c.message}
            for c in result.checks
            if c.status in (Status.FAILED, Status.ERROR)
        ],
        "warnings": [
            {"check": c.name, "message": c.message}
            for c in result.checks
            if c.status == Status.WARNED
        ],
        "slices": slice_rows,
        "champion": champion,
        "notes": notes,
        "started_at": result.started_at or MISSING,
        "finished_at": result.finished_at or MISSING,
        "inputs": [(_label(k), v) for k, v in result.inputs.items()],
        "versions": sorted(result.versions.items()),
    }


_MAX_TABLE_ROWS = 500


def _tables(raw: Any, notes: list[str]) -> list[dict[str, Any]]:
    """Validate gate-specific tables: ``[{"title", "columns": [...], "rows": [[...], ...]}]``.

    Gates other than performance (fairness per-group tables, PII findings, SHAP importances) put
    their evidence here; cells are formatted and escaped like every other value.
    """
    out = []
    for t in raw if isinstance(raw, list) else []:
        if not isinstance(t, dict) or not isinstance(t.get("columns"), list):
            notes.append("a details.tables entry without columns was skipped")
            continue
        cols = [str(c) for c in t["columns"]]
        rows = [r for r in t.get("rows") or [] if isinstance(r, list) and len(r) == len(cols)]
        if len(rows) < len(t.get("rows") or []):
            notes.append(f"table {t.get('title', '')!r}: rows of the wrong width were skipped")
        if len(rows) > _MAX_TABLE_ROWS:
            notes.append(
                f"table {t.get('title', '')!r} shows {_MAX_TABLE_ROWS} of {len(rows)} rows"
            )
            rows = rows[:_MAX_TABLE_ROWS]
        out.append(
            {
                "title": str(t.get("title") or ""),
                "note": str(t.get("note") or ""),
                "columns": cols,
                "rows": [[fmt(v) if not isinstance(v, str) else v for v in r] for r in rows],
            }
        )
    return out


def _images(raw: Any, notes: list[str]) -> list[dict[str, str]]:
    """Validate gate-specific images: ``[{"title", "png_base64"}]`` (PNG bytes, base64)."""
    import base64
    import binascii

    out = []
    for item in raw if isinstance(raw, list) else []:
        data = item.get("png_base64") if isinstance(item, dict) else None
        try:
            ok = isinstance(data, str) and base64.b64decode(data[:64] + "=" * 4)[:8] == (
                b"\x89PNG\r\n\x1a\n"
            )
        except (binascii.Error, ValueError):
            ok = False
        if not ok:
            notes.append("a details.images entry that is not a base64 PNG was skipped")
            continue
        out.append({"title": str(item.get("title") or ""), "uri": "data:image/png;base64," + data})
    return out


def _package_versions(scorecard: Scorecard) -> list[tuple[str, str]]:
    for key in _VERSION_KEYS:
        v = scorecard.lineage.get(key)
        if isinstance(v, dict) and v:
            return sorted((str(k), _text(x)) for k, x in v.items())
    flat = {
        k[len("version.") :]: v for k, v in scorecard.lineage.items() if k.startswith("version.")
    }
    if flat:
        return sorted((str(k), _text(v)) for k, v in flat.items())
    # No versions in the lineage: gather what the gates reported; a package reported at two
    # versions (gates in different images) shows both, which is itself worth an auditor's eye.
    seen: dict[str, set[str]] = {}
    for r in scorecard.results:
        for k, v in r.versions.items():
            seen.setdefault(k, set()).add(v)
    return sorted((k, " / ".join(sorted(v))) for k, v in seen.items())


def _lineage_rows(scorecard: Scorecard) -> list[tuple[str, str]]:
    lineage = dict(scorecard.lineage)
    for key in _VERSION_KEYS:
        if isinstance(lineage.get(key), dict):
            lineage.pop(key)
    rows = [(label, _text(lineage.pop(k))) for k, label in _LINEAGE_LABELS.items() if k in lineage]
    if scorecard.evaluation_run_id:
        rows.append(("Evaluation run id", scorecard.evaluation_run_id))
    lineage.pop("evaluation_run_id", None)
    # Digests and the creation time are in the provenance block already; flat
    # ``version.<dist>`` entries are shown in the package versions row.
    for key in ("model_digest", "data_digest", "policy_digest", "created_at"):
        lineage.pop(key, None)
    for key in [k for k in lineage if k.startswith("version.")]:
        lineage.pop(key)
    for k, v in lineage.items():
        if isinstance(v, dict):
            v = ", ".join(f"{a}={_text(b)}" for a, b in v.items())
        elif isinstance(v, (list, tuple)):
            v = ", ".join(_text(x) for x in v)
        rows.append((_label(k), _text(v)))
    return rows


def _scorecard_view(scorecard: Scorecard, *, with_plots: bool) -> dict[str, Any]:
    decision = scorecard.decision.value
    gates = [_gate_view(r, with_plots=with_plots) for r in scorecard.results]
    why = [{"gate": g, "check": c, "message": m} for g, c, m in scorecard.failing_checks()]
    if not scorecard.all_passed and not why:
        # E.g. no results at all: still say why, never leave the section empty.
        why = [{"gate": "(scorecard)", "check": "(decision)", "message": scorecard.summary}]
    warnings = [
        {"gate": r.gate, "check": c.name, "message": c.message}
        for r in scorecard.results
        for c in r.checks
        if c.status == Status.WARNED
    ]
    missing = [g for g in scorecard.expected_gates if g not in {r.gate for r in scorecard.results}]
    provenance = [
        ("Model URI", scorecard.model_uri or MISSING),
        ("Registered model", scorecard.registered_model_name or MISSING),
        ("Model digest", scorecard.model_digest or MISSING),
        ("Data digest", scorecard.data_digest or MISSING),
        ("Policy digest", scorecard.policy_digest or MISSING),
        ("Created at", scorecard.created_at or MISSING),
    ]
    if not scorecard.registered_model_name:
        provenance.pop(1)
    areas = [
        {
            **row,
            "status_class": _status_class(row["status_enum"]) if row["status_enum"] else "skipped",
        }
        for row in area_rows(scorecard)
    ]
    return {
        "decision": decision,
        "decision_class": _status_class(scorecard.decision),
        "areas": areas,
        "icon": _ICONS.get(decision, ""),
        "all_passed": scorecard.all_passed,
        "summary": scorecard.summary,
        "why": why,
        "warnings": warnings,
        "missing_gates": missing,
        "provenance": provenance,
        "lineage": _lineage_rows(scorecard),
        "waivers": [w for w in scorecard.waivers if isinstance(w, dict)],
        "package_versions": _package_versions(scorecard),
        "gates": gates,
        "generator": "kfp-quality-gates",
    }


def _single_gate_view(result: GateResult, *, with_plots: bool) -> dict[str, Any]:
    return {
        "g": _gate_view(result, with_plots=with_plots),
        "provenance": [(_label(k), v) for k, v in result.inputs.items()],
        "package_versions": sorted(result.versions.items()),
        "generator": "kfp-quality-gates",
    }


# --------------------------------------------------------------------------------------------
# Templates
# --------------------------------------------------------------------------------------------

_loader = jinja2.PackageLoader("quality_gates.shared.reports", "templates")
# Two environments so that HTML escaping can never be switched off by a template's name: every
# value in a report may be user data.
_html_env = jinja2.Environment(
    loader=_loader,
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_md_env = jinja2.Environment(
    loader=_loader,
    autoescape=False,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
_md_env.filters["md"] = md_escape
_md_env.globals["icons"] = _ICONS
_html_env.globals["STATUS_COLOURS"] = plots.STATUS_COLOURS


def _render_md(name: str, **context: Any) -> str:
    text = _md_env.get_template(name).render(**context)
    # Templates are written for readability; collapse the blank runs their blocks leave behind.
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def gate_report_markdown(result: GateResult) -> str:
    """Render one gate's result as GitHub-flavoured Markdown.

    Args:
        result: The gate's result.

    Returns:
        Markdown with the status, summary, error (if any), every check as a table row, the metrics
        and the gate's slice and champion tables when its details carry them.

    """
    return _render_md("gate_report.md.j2", **_single_gate_view(result, with_plots=False))


def gate_report_html(result: GateResult) -> str:
    """Render one gate's result as a self-contained HTML page.

    Args:
        result: The gate's result.

    Returns:
        One HTML document with inline CSS and inline PNG plots, no external references; what a
        gate component writes to its ``report: Output[HTML]``.

    """
    return _html_env.get_template("gate_report.html.j2").render(
        **_single_gate_view(result, with_plots=True)
    )


def scorecard_markdown(scorecard: Scorecard) -> str:
    """Render a scorecard as GitHub-flavoured Markdown.

    Args:
        scorecard: The aggregated outcome.

    Returns:
        Markdown with the decision, why the model was not promoted (if so), provenance, lineage,
        an overview of the gates and every gate's checks as tables.

    """
    return _render_md("scorecard.md.j2", **_scorecard_view(scorecard, with_plots=False))


def scorecard_html(scorecard: Scorecard) -> str:
    """Render a scorecard as a self-contained HTML page.

    Args:
        scorecard: The aggregated outcome.

    Returns:
        One HTML document with inline CSS and inline PNG plots and no external references, fit
        for the KFP UI's sandboxed iframe and for opening offline.

    """
    return _html_env.get_template("scorecard.html.j2").render(
        **_scorecard_view(scorecard, with_plots=True)
    )


def write_reports(scorecard: Scorecard, out_dir: str | Path) -> dict[str, Path]:
    """Write the scorecard as JSON, Markdown and HTML into a directory.

    Every report is rendered before any file is written, so a rendering failure leaves no partial
    set behind.

    Args:
        scorecard: The aggregated outcome.
        out_dir: Directory to write into; created if missing.

    Returns:
        Paths by kind: ``{"json": .../scorecard.json, "markdown": .../scorecard.md,
        "html": .../scorecard.html}``.

    """
    texts = {
        "json": ("scorecard.json", scorecard.to_json()),
        "markdown": ("scorecard.md", scorecard_markdown(scorecard)),
        "html": ("scorecard.html", scorecard_html(scorecard)),
    }
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for kind, (name, text) in texts.items():
        path = out / name
        path.write_text(text, encoding="utf-8")
        paths[kind] = path
    return paths
