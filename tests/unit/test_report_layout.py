"""Report layout: readable in the 800 px KFP side panel, a one-screen summary, collapsible detail.

The reports are rendered from real gate results (real sklearn models on real data files, run
through ``check``) and parsed with html.parser: what is asserted is where things sit (before the
first ``<details>``, inside one, open or closed), that no number of the result went missing when it
moved into a collapsible section, and the CSS that keeps tables and images inside 800 px.
"""

from __future__ import annotations

import re
import struct
import subprocess
import sys
from html.parser import HTMLParser

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from quality_gates.shared.contracts.results import GateResult, Status
from quality_gates.shared.contracts.scorecard import Scorecard, decide
from quality_gates.shared.gates.runner import check
from quality_gates.shared.reports import plots
from quality_gates.shared.reports import render as reports

PANEL_PX = 800
VOID = {"meta", "img", "br", "hr", "input", "link"}


class _Layout(HTMLParser):
    """Records, for every table, image and text run, whether it sits inside a <details>."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, dict[str, str]]] = []
        self.tables: list[dict] = []  # {"class", "in_details", "parent_class", "rows"}
        self.imgs: list[dict] = []
        self.details: list[dict] = []  # {"open", "summary", "class"}
        self.first_details_at: int | None = None  # offset in the text stream
        self.text: list[str] = []
        self.text_outside_details: list[str] = []
        self.style = ""
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._summary: list[str] | None = None
        self._in_style = False

    def _depth(self) -> int:
        return sum(tag == "details" for tag, _ in self.stack)

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        if tag == "img":
            self.imgs.append({**a, "in_details": self._depth() > 0})
        if tag in VOID:
            return
        if tag == "details":
            if self.first_details_at is None:
                self.first_details_at = len(" ".join(self.text))
            self.details.append({"open": "open" in a, "class": a.get("class", ""), "summary": ""})
        elif tag == "summary":
            self._summary = []
        elif tag == "style":
            self._in_style = True
        elif tag == "table":
            parent = self.stack[-1][1].get("class", "") if self.stack else ""
            self.tables.append(
                {
                    "class": a.get("class", ""),
                    "in_details": self._depth() > 0,
                    "parent_class": parent,
                    "rows": [],
                }
            )
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []
        self.stack.append((tag, a))

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        assert self.stack and self.stack[-1][0] == tag, (tag, self.stack[-3:])
        self.stack.pop()
        if tag == "summary" and self._summary is not None:
            self.details[-1]["summary"] = " ".join("".join(self._summary).split())
            self._summary = None
        elif tag == "style":
            self._in_style = False
        elif tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[-1]["rows"].append(self._row)
            self._row = None

    def handle_data(self, data):
        if self._in_style:
            self.style += data
            return
        self.text.append(data)
        if self._depth() == 0:
            self.text_outside_details.append(data)
        if self._cell is not None:
            self._cell.append(data)
        if self._summary is not None:
            self._summary.append(data)


def layout(html: str) -> _Layout:
    page = _Layout()
    page.feed(html)
    page.close()
    assert page.stack == [], page.stack
    return page


def plain(page: _Layout) -> str:
    return " ".join(" ".join(page.text).split())


# --------------------------------------------------------------------------------------------
# Real gate results
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def performance(tmp_path_factory) -> GateResult:
    """The performance gate on a real model, with a slice that fails (labels unrelated there)."""
    tmp = tmp_path_factory.mktemp("perf")
    rng = np.random.default_rng(0)
    n = 3000
    x = rng.normal(size=(n, 3))
    y = (rng.random(n) < 1 / (1 + np.exp(-(1.5 * x[:, 0] + x[:, 1])))).astype(int)
    frame = pd.DataFrame(x, columns=["f0", "f1", "f2"])
    frame["region"] = np.where(np.arange(n) % 3 == 0, "B", "A")
    model = LogisticRegression(max_iter=1000).fit(frame[["f0", "f1", "f2"]], y)
    bad = (frame["region"] == "B").to_numpy()
    y[bad] = rng.integers(0, 2, bad.sum())
    frame["target"] = y
    joblib.dump(model, tmp / "m.joblib")
    frame.to_csv(tmp / "eval.csv", index=False)
    policy = """
data: {label: target, exclude: [region]}
gates:
  performance:
    n_resamples: 200
    rules:
      - {metric: roc_auc, min: 0.6, rationale: the score must rank applicants}
      - {metric: brier, max: 0.3}
    slices:
      - {column: region, metric: roc_auc, min: 0.7, min_size: 50}
"""
    r = check(
        "performance",
        model_uri=str(tmp / "m.joblib"),
        data_uri=str(tmp / "eval.csv"),
        policy_text=policy,
    )
    assert r.status == Status.FAILED, r.summary
    assert r.details.get("slices") and r.details.get("confusion_matrix")
    return r


@pytest.fixture(scope="module")
def fairness(tmp_path_factory) -> GateResult:
    """The fairness gate on a real model whose group `b` is selected far more often."""
    tmp = tmp_path_factory.mktemp("fair")
    rng = np.random.default_rng(1)
    n = 3000
    grp = rng.choice(["a", "b"], n)
    x0 = rng.normal(0, 1, n) + 1.5 * (grp == "b")
    x1 = rng.normal(0, 1, n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(x0 + 0.5 * x1 - 0.5)))).astype(int)
    frame = pd.DataFrame({"x0": x0, "x1": x1, "grp": grp, "target": y})
    model = LogisticRegression().fit(frame[["x0", "x1"]], frame["target"])
    joblib.dump(model, tmp / "m.joblib")
    frame.to_parquet(tmp / "d.parquet", index=False)
    policy = """
data: {label: target, exclude: [grp]}
gates:
  fairness:
    sensitive_features: [grp]
    n_resamples: 200
    min_group_size: 30
    rules:
      - {metric: demographic_parity_difference, max: 0.1, rationale: r}
      - {metric: equalized_odds_difference, max: 0.5, severity: warn}
"""
    r = check(
        "fairness",
        model_uri=str(tmp / "m.joblib"),
        data_uri=str(tmp / "d.parquet"),
        policy_text=policy,
    )
    assert r.status == Status.FAILED, r.summary
    assert r.details.get("tables") and r.details.get("images")
    return r


@pytest.fixture(scope="module")
def scorecard(performance, fairness) -> Scorecard:
    status, ok = decide([performance, fairness])
    return Scorecard(
        decision=status,
        all_passed=ok,
        summary=f"decision {status.value}",
        expected_gates=["performance", "fairness"],
        results=[performance, fairness],
        model_uri="s3://models/credit/candidate",
        model_digest="sha256:" + "a" * 64,
        data_digest="sha256:" + "b" * 64,
        policy_digest="sha256:" + "c" * 64,
        lineage={"git_commit": "3f9c2e1" * 5, "pipeline_run_id": "run-42"},
    )


@pytest.fixture(scope="module")
def passed_performance(performance) -> GateResult:
    # The same result with every check passed: nothing failing, so nothing may start open.
    checks = [c.model_copy(update={"status": Status.PASSED}) for c in performance.checks]
    details = dict(performance.details)
    details["slices"] = [{**s, "status": "passed"} for s in details["slices"]]
    return performance.model_copy(
        update={"checks": checks, "status": Status.PASSED, "details": details}
    )


# --------------------------------------------------------------------------------------------
# The first screen: decision and one compact row per check, before any collapsible section
# --------------------------------------------------------------------------------------------


def _summary_table(page: _Layout, cls: str) -> dict:
    (table,) = [t for t in page.tables if cls in t["class"].split()]
    return table


def test_gate_report_summary_comes_before_the_first_details(performance):
    page = layout(reports.gate_report_html(performance))
    head = " ".join(page.text)[: page.first_details_at]
    assert "Quality gate: performance" in head and "failed" in head
    assert performance.summary in " ".join(head.split())
    summary = _summary_table(page, "checks-summary")
    assert not summary["in_details"]
    assert summary["rows"][0] == ["Check", "Value", "Rule", "Status"]
    # One compact row per check: name, value, rule and status, all on the first screen.
    for c, row in zip(performance.checks, summary["rows"][1:], strict=True):
        assert row[0] == c.name and row[1] == reports.fmt(c.value)
        assert row[3] == c.status.value
        if c.threshold is not None:
            assert reports.fmt(c.threshold) in row[2]
    # Why it failed is above the fold too (the failing callout), not hidden in a section.
    outside = " ".join(" ".join(page.text_outside_details).split())
    for c in performance.checks:
        if c.status == Status.FAILED:
            assert c.message in outside


def test_scorecard_overview_comes_before_the_first_details(scorecard):
    page = layout(reports.scorecard_html(scorecard))
    head = " ".join(page.text)[: page.first_details_at]
    assert "Quality gates scorecard" in head and "The model may not be promoted." in head
    overview = _summary_table(page, "overview")
    assert not overview["in_details"]
    assert [r[0] for r in overview["rows"][1:]] == ["performance", "fairness"]
    assert [r[1] for r in overview["rows"][1:]] == ["failed", "failed"]
    # The overview names the failing checks with their values: the key numbers.
    perf = overview["rows"][1][3]
    for c in scorecard.results[0].checks:
        if c.status == Status.FAILED:
            assert f"{c.name} = {reports.fmt(c.value)}" in perf


def test_detail_tables_and_plots_sit_in_details_sections(performance, fairness, scorecard):
    for html in (
        reports.gate_report_html(performance),
        reports.gate_report_html(fairness),
        reports.scorecard_html(scorecard),
    ):
        page = layout(html)
        for t in page.tables:
            compact = {"checks-summary", "overview", "areas"} & set(t["class"].split())
            assert compact or t["in_details"], t["class"] or t["rows"][0]
            # Every table has its own horizontal scroller: it can never widen the page.
            assert "scroll" in t["parent_class"].split(), t["class"]
        assert page.imgs and all(img["in_details"] for img in page.imgs)
    fair = layout(reports.gate_report_html(fairness))
    titles = [d["summary"] for d in fair.details]
    for t in fairness.details["tables"]:
        assert any(s.startswith(t["title"]) for s in titles), t["title"]


def test_failing_evidence_starts_open_and_everything_else_closed(performance, passed_performance):
    page = layout(reports.gate_report_html(performance))
    opened = {d["summary"].split(" ·")[0] for d in page.details if d["open"]}
    # The failing slices start open; the check details repeat the failing callout, so stay closed.
    assert opened == {f"Slices ({len(performance.details['slices'])})"}
    page = layout(reports.gate_report_html(passed_performance))
    assert page.details and not any(d["open"] for d in page.details)


def test_scorecard_opens_failed_gates_only(scorecard, passed_performance, fairness):
    status, ok = decide([passed_performance, fairness])
    card = scorecard.model_copy(
        update={"results": [passed_performance, fairness], "decision": status, "all_passed": ok}
    )
    page = layout(reports.scorecard_html(card))
    gates = [d for d in page.details if "gate-body" in d["class"].split()]
    assert [(d["summary"].split()[0], d["open"]) for d in gates] == [
        ("performance", False),
        ("fairness", True),
    ]
    # Inside an open gate every section starts closed: the scorecard stays an overview.
    page = layout(reports.scorecard_html(scorecard))
    assert [d["open"] for d in page.details if "sect" in d["class"].split()] == [False] * len(
        [d for d in page.details if "sect" in d["class"].split()]
    )


def test_overview_and_why_come_before_warnings(scorecard):
    html = reports.scorecard_html(scorecard)
    assert html.index('class="overview"') < html.index("Why not promoted")


# --------------------------------------------------------------------------------------------
# No number lost: everything the result holds is still in the page
# --------------------------------------------------------------------------------------------


def _numbers(result: GateResult) -> set[str]:
    out = {reports.fmt(v) for v in result.metrics.values()}
    for c in result.checks:
        out |= {reports.fmt(c.value), reports.fmt(c.threshold)}
        if c.ci_low is not None or c.ci_high is not None:
            out.add(reports.fmt_ci(c.ci_low, c.ci_high))
    for s in result.details.get("slices") or []:
        out |= {reports.fmt(s.get("value_metric")), reports.fmt(s.get("n"))}
    for t in result.details.get("tables") or []:
        for row in t["rows"]:
            out |= {v if isinstance(v, str) else reports.fmt(v) for v in row}
    # (Confusion-matrix counts are drawn in its plot, as they always were, not printed.)
    return out - {reports.MISSING}


def test_every_number_of_the_result_is_in_the_html(performance, fairness, scorecard):
    card = plain(layout(reports.scorecard_html(scorecard)))
    for r in (performance, fairness):
        text = plain(layout(reports.gate_report_html(r)))
        for number in _numbers(r):
            assert number in text, (r.gate, number)
            assert number in card, (r.gate, number)
        for c in r.checks:
            assert c.message in text and c.message in card
    for digest in (scorecard.model_digest, scorecard.data_digest, scorecard.policy_digest):
        assert digest in card


# --------------------------------------------------------------------------------------------
# CSS: nothing wider than the panel, long values wrap, images scale
# --------------------------------------------------------------------------------------------


def _rules(style: str) -> dict[str, str]:
    # Top-level "selector { declarations }" pairs (media query bodies included, flattened).
    out: dict[str, str] = {}
    for selectors, body in re.findall(r"([^{}]+)\{([^{}]*)\}", style):
        for sel in selectors.split(","):
            out[" ".join(sel.split())] = out.get(" ".join(sel.split()), "") + body
    return out


def test_css_keeps_everything_inside_the_panel(performance):
    html = reports.gate_report_html(performance)
    style = layout(html).style
    rules = _rules(style)
    assert "overflow-x: auto" in rules[".scroll"]
    assert "max-width: 100%" in rules["img"] and "height: auto" in rules["img"]
    assert "max-width: 100%" in rules[".plots img"]
    assert "overflow-wrap" in rules["th"] and "overflow-wrap" in rules["td"]
    assert "word-break: break-all" in rules[".mono"]  # digests and run ids
    assert "overflow-wrap: anywhere" in rules["dl.kv dd"]
    # No fixed width beyond the panel: only max-width may name a larger size.
    for prop, px in re.findall(r"(?<![\w-])((?:min-)?width)\s*:\s*(\d+(?:\.\d+)?)px", style):
        assert float(px) <= PANEL_PX, (prop, px)
    assert not re.search(r"white-space:\s*nowrap", rules.get("th", "") + rules.get("td", ""))
    assert "<script" not in html and "http://" not in html and "https://" not in html


def _png_width(uri: str) -> int:
    import base64

    png = base64.b64decode(uri.split(",", 1)[1])
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">I", png[16:20])[0]


def test_report_plots_are_drawn_no_wider_than_the_panel(performance):
    page = layout(reports.gate_report_html(performance))
    ours = [img for img in page.imgs if img["alt"] in {"Confusion matrix", "ROC curve"}]
    ours += [img for img in page.imgs if " by " in img["alt"]]
    assert len(ours) >= 3
    for img in ours:
        assert _png_width(img["src"]) <= PANEL_PX - 100, img["alt"]


# --------------------------------------------------------------------------------------------
# The candidate-vs-champion plot: labels never overlap
# --------------------------------------------------------------------------------------------

LONG = [
    ("roc_auc", -0.012, -0.03, 0.004, 0.01, "failed"),
    ("equal_opportunity_difference__sex_x_age_band", 0.02, -0.01, 0.05, 0.01, "passed"),
    ("precision at the top decile of predicted risk (calibrated)", 0.001, -5e-4, 0.003, 0.02, "x"),
    ("log_loss", 0.0016, -0.0022, 0.0052, 0.01, "passed"),
    ("brier", 0.0, None, None, None, "warned"),
]


@pytest.mark.parametrize("rows", [LONG[:2], LONG, LONG * 6], ids=["two", "long-names", "many"])
def test_forest_plot_labels_do_not_overlap(monkeypatch, rows):
    real = plots._to_data_uri

    def boxes(fig):
        ax = fig.axes[0]
        fig.canvas.draw()
        ticks = plots.shown_xticklabels(ax)
        ys = [t for t in ax.get_yticklabels() if t.get_text()]
        r = fig.canvas.get_renderer()
        return (
            [t.get_window_extent(r) for t in ticks],
            [t.get_window_extent(r) for t in ys],
            fig.bbox,
        )

    # Capture the figure before _to_data_uri clears it.
    captured = {}

    def capture(fig):
        captured["boxes"] = boxes(fig)
        captured["width"] = fig.get_figwidth() * fig.dpi
        return real(fig)

    monkeypatch.setattr(plots, "_to_data_uri", capture)
    uri = plots.forest_plot_png(comparisons=rows)
    assert uri.startswith("data:image/png;base64,")
    xs, ys, page = captured["boxes"]
    assert len(xs) >= 2
    xs = sorted(xs, key=lambda b: b.x0)
    assert all(a.x1 <= b.x0 for a, b in zip(xs, xs[1:], strict=False)), "x tick labels overlap"
    ys = sorted(ys, key=lambda b: b.y0)
    assert all(a.y1 <= b.y0 for a, b in zip(ys, ys[1:], strict=False)), "metric labels overlap"
    for b in (*xs, *ys):
        assert b.x0 >= 0 and b.x1 <= page.x1 + 1, "a label is cut off"
    assert captured["width"] <= PANEL_PX - 100
    assert _png_width(uri) <= PANEL_PX - 100


def test_wrapped_metric_names_are_short_lines():
    for name, *_ in LONG:
        lines = plots._wrapped(name).split("\n")
        assert len(lines) <= 3 and all(len(line) <= plots._WRAP for line in lines), lines
    assert plots._wrapped("a $b$") == r"a \$b\$"


# --------------------------------------------------------------------------------------------
# Markdown and imports
# --------------------------------------------------------------------------------------------


def test_markdown_puts_the_overview_before_provenance(scorecard, performance):
    md = reports.scorecard_markdown(scorecard)
    assert md.index("## Gates") < md.index("## Provenance") < md.index("## ❌ performance")
    gate_md = reports.gate_report_markdown(performance)
    assert gate_md.index("| Check |") < gate_md.index("## Inputs")


def test_importing_the_report_modules_does_not_import_matplotlib():
    code = (
        "import sys\n"
        "import quality_gates.shared.reports.render\n"
        "import quality_gates.shared.reports.plots\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] == 'matplotlib')\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
