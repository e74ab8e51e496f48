"""Reports: every check is shown, the decision is visible, user data is escaped, nothing is fetched.

The HTML is parsed (html.parser) rather than grepped where structure matters: a check counts as
shown only when a table row holds its name and its status.
"""

from __future__ import annotations

import base64
import math
import re
from html.parser import HTMLParser

import pytest

from quality_gates.shared.contracts.results import (
    CheckResult,
    GateResult,
    Status,
    error_result,
    finalize,
)
from quality_gates.shared.contracts.scorecard import Scorecard, decide
from quality_gates.shared.reports import plots
from quality_gates.shared.reports import render as reports

SCRIPT = "<script>alert(1)</script>"
VOID = {"meta", "img", "br", "hr", "input", "link"}


class _Page(HTMLParser):
    """Collects tables (rows of cell texts), images, badges, callouts and checks tag balance."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.tables: list[list[list[str]]] = []
        self.imgs: list[dict[str, str]] = []
        self.badges: list[tuple[str, str]] = []  # (class, text)
        self.callouts: list[tuple[str, list[str]]] = []  # (class, text chunks)
        self._cell: list[str] | None = None
        self._row: list[str] | None = None
        self._badge: str | None = None
        self._badge_text: list[str] = []
        self._callout_depth: int | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in VOID:
            if tag == "img":
                self.imgs.append({k: v or "" for k, v in a.items()})
            return
        self.stack.append(tag)
        cls = a.get("class") or ""
        if tag == "div" and self._cell is not None:
            self._cell.append(" ")  # a block inside a cell reads as a separate line
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "span" and "badge" in cls.split():
            self._badge, self._badge_text = cls, []
        elif tag == "div" and "callout" in cls.split():
            self.callouts.append((cls, []))
            self._callout_depth = len(self.stack)

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1] if self.stack else None}>")
            return
        if tag == "div" and self._callout_depth == len(self.stack):
            self._callout_depth = None
        self.stack.pop()
        if tag in ("td", "th") and self._row is not None and self._cell is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[-1].append(self._row)
            self._row = None
        elif tag == "span" and self._badge is not None:
            self.badges.append((self._badge, "".join(self._badge_text).strip()))
            self._badge = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        if self._badge is not None:
            self._badge_text.append(data)
        if self._callout_depth is not None:
            self.callouts[-1][1].append(data)


def parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    page.close()
    assert page.errors == []
    assert page.stack == [], f"unclosed tags: {page.stack}"
    return page


def rows(page: _Page) -> list[list[str]]:
    return [r for t in page.tables for r in t]


def callout_text(page: _Page, cls: str) -> str:
    return " ".join(" ".join("".join(t).split()) for c, t in page.callouts if cls in c.split())


# --------------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------------

FULL_DETAILS = {
    "confusion_matrix": {"labels": ["no", "yes"], "matrix": [[90, 10], [20, 80]]},
    "roc_curve": {"fpr": [0.0, 0.1, 0.4, 1.0], "tpr": [0.0, 0.6, 0.9, 1.0], "auc": 0.87},
    "slices": [
        {
            "column": "age",
            "value": "18-25",
            "metric": "recall",
            "value_metric": 0.71,
            "n": 120,
            "status": "passed",
        },
        {
            "column": "age",
            "value": SCRIPT,
            "metric": "recall",
            "value_metric": 0.52,
            "n": 40,
            "status": "failed",
        },
        {
            "column": "age",
            "value": "unknown",
            "metric": "recall",
            "value_metric": None,
            "n": 2,
            "status": "skipped",
        },
        {
            "column": "region",
            "value": "a|b",
            "metric": "precision",
            "value_metric": 0.8,
            "n": 300,
            "status": "passed",
        },
    ],
    "slice_thresholds": {"age/recall": 0.6},
    "champion": {
        "alias": "production",
        "uri": "models:/credit/7",
        "version": "7",
        "comparisons": [
            {
                "metric": "roc_auc",
                "candidate": 0.87,
                "champion": 0.885,
                "diff": -0.015,
                "ci_low": -0.03,
                "ci_high": 0.0,
                "margin": 0.01,
                "status": "failed",
            },
            {
                "metric": "recall",
                "candidate": 0.7,
                "champion": 0.69,
                "diff": 0.01,
                "ci_low": -0.005,
                "ci_high": 0.025,
                "margin": 0.01,
                "status": "passed",
            },
        ],
    },
    "metric_cis": {"roc_auc": [0.8512345, 0.8912]},
}

MALFORMED_DETAILS = {
    "confusion_matrix": {"labels": ["a", "b"], "matrix": [[1, 2, 3], [4, 5]]},
    "roc_curve": {"fpr": [0.0, 1.0], "tpr": [0.0]},
    "slices": "not a list",
    "slice_thresholds": ["nope"],
    "champion": {"comparisons": [{"no_metric": 1}, "x"]},
    "metric_cis": {"dpd": [1.0]},
}


def performance_result() -> GateResult:
    return finalize(
        gate="performance",
        checks=[
            CheckResult(
                name="roc_auc",
                value=0.8734567,
                threshold=0.8,
                operator=">=",
                status=Status.PASSED,
                ci_low=0.8512345,
                ci_high=0.8912,
                rationale="policy MR-12",
                message="roc_auc 0.8735 >= 0.8",
            ),
            CheckResult(
                name="recall",
                value=0.61,
                threshold=0.7,
                operator=">=",
                status=Status.FAILED,
                message="recall 0.61 < 0.7: too many misses",
            ),
            CheckResult(
                name=f"recall[age={SCRIPT}]",
                value=0.52,
                threshold=0.6,
                operator=">=",
                status=Status.FAILED,
                message="slice below threshold",
            ),
            CheckResult(
                name="a|b pipe",
                value=None,
                threshold=1.0,
                operator="<=",
                status=Status.PASSED,
                message="x | y",
            ),
        ],
        metrics={"roc_auc": 0.8734567, "recall": 0.61, "n_rows": 12345.0},
        inputs={"model": "a" * 64, "data": "b" * 64, "policy": "c" * 64},
        versions={"kfp": "2.17.0"},
        details=FULL_DETAILS,
    )


def fairness_result() -> GateResult:
    return finalize(
        gate="fairness",
        checks=[
            CheckResult(
                name="dpd[sex]", value=0.04, threshold=0.1, operator="<=", status=Status.PASSED
            ),
            CheckResult(
                name="eod[sex]",
                value=0.09,
                threshold=0.08,
                operator="<=",
                status=Status.WARNED,
                severity="warn",
                message="0.09 > 0.08 (warn)",
            ),
        ],
        metrics={"dpd": 0.04},
        details=MALFORMED_DETAILS,
    )


def drift_error() -> GateResult:
    return error_result(gate="data_drift", message="column 'income' is missing; add it")


def operational_result() -> GateResult:
    return finalize(
        gate="operational",
        checks=[
            CheckResult(
                name="p95_latency_ms",
                value=23.456,
                threshold=50.0,
                operator="<=",
                status=Status.PASSED,
            )
        ],
    )


def make_scorecard(results: list[GateResult]) -> Scorecard:
    status, ok = decide(results)
    return Scorecard(
        decision=status,
        all_passed=ok,
        summary=f"decision {status.value}",
        expected_gates=[r.gate for r in results],
        results=results,
        model_uri="s3://models/credit/candidate",
        model_digest="a" * 64,
        data_digest="b" * 64,
        policy_digest="c" * 64,
        lineage={
            "git_commit": "3f9c2e1",
            "pipeline_run_id": "run-42",
            "package_versions": {"kfp": "2.17.0", "mlflow": "2.16.2"},
        },
        evaluation_run_id="eval-run-7",
    )


@pytest.fixture
def results() -> list[GateResult]:
    return [performance_result(), fairness_result(), drift_error(), operational_result()]


@pytest.fixture
def scorecard(results) -> Scorecard:
    return make_scorecard(results)


@pytest.fixture
def html(scorecard) -> str:
    return reports.scorecard_html(scorecard)


@pytest.fixture
def page(html) -> _Page:
    return parse(html)


# --------------------------------------------------------------------------------------------
# HTML
# --------------------------------------------------------------------------------------------


def test_html_has_a_row_with_name_and_status_for_every_check(results, page):
    all_rows = rows(page)
    for r in results:
        for c in r.checks:
            matching = [row for row in all_rows if row and row[0] == c.name]
            assert matching, f"no table row for check {c.name!r}"
            assert any(c.status.value in row for row in matching), (c.name, matching)


def test_html_check_row_shows_value_operator_threshold_ci_severity_message_rationale(page):
    # The check details table: one row of eight cells, then the message and rationale in a row of
    # its own spanning the table (so that the table fits the 800 px KFP side panel).
    all_rows = rows(page)
    i = next(i for i, r in enumerate(all_rows) if r[0] == "roc_auc" and len(r) == 8)
    assert all_rows[i] == [
        "roc_auc",
        "0.8735",
        ">=",
        "0.8",
        "[0.8512, 0.8912]",
        "—",
        "block",
        "passed",
    ]
    assert all_rows[i + 1] == ["roc_auc 0.8735 >= 0.8 Rationale: policy MR-12"]
    missing_value = next(r for r in rows(page) if r[0] == "a|b pipe")
    assert missing_value[1] == "—"


def test_html_decision_badge_and_gate_badges(page, scorecard):
    assert scorecard.decision == Status.ERROR
    top = page.badges[0]
    assert "badge-error" in top[0].split() and top[1] == "error"
    gate_badges = {text for cls, text in page.badges[1:]}
    assert {"failed", "warned", "error", "passed"} <= gate_badges


def test_html_badge_colours_differ_by_status(html):
    colours = {
        s: re.search(rf"--{s}: (#[0-9a-f]{{6}})", html).group(1)
        for s in ("passed", "warned", "failed", "error", "skipped")
    }
    assert len(set(colours.values())) == 5
    for s in colours:
        assert f".badge-{s} {{ background: var(--{s}); }}" in html


def test_html_why_not_promoted_lists_failed_checks_and_errored_gates(page, scorecard):
    why = callout_text(page, "why")
    assert why.startswith("Why not promoted")
    assert "recall: recall 0.61 < 0.7: too many misses" in why
    assert f"recall[age={SCRIPT}]: slice below threshold" in why
    assert "data_drift · (gate): column 'income' is missing; add it" in why
    assert len(scorecard.failing_checks()) == 3
    assert "eod[sex]" not in why  # a warning is not a reason to refuse promotion
    assert "eod[sex]: 0.09 > 0.08 (warn)" in callout_text(page, "callout-warned")


def test_html_error_gate_shows_its_error_line(page):
    assert "Error: column 'income' is missing; add it" in callout_text(page, "callout-error")


def test_html_shows_digests_uri_and_lineage(html):
    for needle in (
        "s3://models/credit/candidate",
        "a" * 64,
        "b" * 64,
        "c" * 64,
        "3f9c2e1",
        "run-42",
        "eval-run-7",
        "Evaluation run id",
        "Pipeline run id",
        "Git commit",
        "kfp 2.17.0",
        "mlflow 2.16.2",
    ):
        assert needle in html, needle


def test_html_has_an_inline_png_for_each_plot_kind(page):
    alts = {img["alt"] for img in page.imgs}
    assert {
        "Confusion matrix",
        "ROC curve",
        "recall by age",
        "precision by region",
        "Candidate vs champion",
    } == alts
    for img in page.imgs:
        assert img["src"].startswith("data:image/png;base64,")
        png = base64.b64decode(img["src"].split(",", 1)[1], validate=True)
        assert png.startswith(b"\x89PNG\r\n\x1a\n")


def test_html_is_self_contained(html):
    assert "http://" not in html and "https://" not in html
    assert "<link" not in html and "<script" not in html
    assert re.search(r"""src=["'](?!data:)""", html) is None
    assert "url(" not in html and "@import" not in html


def test_html_escapes_user_data(html):
    assert SCRIPT not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_html_metrics_table_shows_ci_next_to_value(page):
    assert ["roc_auc", "0.8735", "[0.8512, 0.8912]"] in rows(page)
    assert ["recall", "0.61", "—"] in rows(page)
    assert ["n_rows", "12,345", "—"] in rows(page)


def test_html_slice_and_champion_tables(page):
    all_rows = rows(page)
    assert ["age", SCRIPT, "recall", "0.52", "—", "0.6", "40", "—", "failed"] in all_rows
    assert ["age", "unknown", "recall", "—", "—", "0.6", "2", "—", "skipped"] in all_rows
    assert ["region", "a|b", "precision", "0.8", "—", "—", "300", "—", "passed"] in all_rows
    assert ["roc_auc", "0.87", "0.885", "-0.015", "[-0.03, 0]", "0.01", "—", "failed"] in all_rows


def test_html_malformed_details_are_skipped_with_a_note(page, html):
    notes = html.split('<section class="gate gate-warned">')[1].split("</section>")[0]
    assert "<img" not in notes
    assert "confusion_matrix.matrix[0] has 3 cells for 2 labels" in notes
    assert "roc_curve has 2 fpr and 1 tpr points" in notes
    assert "slices is str, expected a list" in notes


def test_passed_scorecard_has_no_why_section():
    sc = make_scorecard([operational_result()])
    page = parse(reports.scorecard_html(sc))
    assert page.badges[0] == ("badge badge-passed lg", "passed")
    assert callout_text(page, "why") == ""
    assert "The model may be promoted." in reports.scorecard_html(sc)


def test_gate_report_html(results):
    html = reports.gate_report_html(results[0])
    page = parse(html)
    assert page.badges[0] == ("badge badge-failed lg", "failed")
    assert "recall: recall 0.61 < 0.7: too many misses" in callout_text(page, "why")
    assert len(page.imgs) == 5
    assert SCRIPT not in html and "http://" not in html and "https://" not in html
    err = parse(reports.gate_report_html(results[2]))
    assert "column 'income' is missing" in callout_text(err, "callout-error")


# --------------------------------------------------------------------------------------------
# Markdown
# --------------------------------------------------------------------------------------------

_UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")


def _cells(line: str) -> list[str]:
    return [c.strip() for c in _UNESCAPED_PIPE.split(line.strip())[1:-1]]


def test_markdown_has_a_row_per_check_with_escaped_pipes(results, scorecard):
    md = reports.scorecard_markdown(scorecard)
    table_rows = [_cells(line) for line in md.splitlines() if line.startswith("|")]
    check_rows = [r for r in table_rows if len(r) == 10]
    for r in results:
        for c in r.checks:
            name = reports.md_escape(c.name)
            match = [row for row in check_rows if row[0] == name]
            assert len(match) == 1, c.name
            assert match[0][7].endswith(c.status.value)
    assert r"a\|b pipe" in md and r"x \| y" in md
    assert ["region", r"a\|b", "precision", "0.8", "—", "—", "300", "—", "passed"] in table_rows
    assert SCRIPT not in md
    # Every row of every table has as many cells as its header: no pipe broke a row.
    tables: list[list[list[str]]] = []
    previous = ""
    for line in md.splitlines():
        if line.startswith("|"):
            if not previous.startswith("|"):
                tables.append([])
            tables[-1].append(_cells(line))
        previous = line
    for t in tables:
        assert len({len(row) for row in t}) == 1, t


def test_markdown_decision_why_provenance_error(scorecard):
    md = reports.scorecard_markdown(scorecard)
    assert md.startswith("# Quality gates scorecard: ⛔ ERROR")
    assert "## Why not promoted" in md
    assert "- **performance** · recall: recall 0.61 < 0.7: too many misses" in md
    assert "> **Error:** column 'income' is missing; add it" in md
    for needle in ("a" * 64, "run-42", "eval-run-7", "s3://models/credit/candidate"):
        assert needle in md
    assert "| roc_auc | 0.8735 | \\[0.8512, 0.8912\\] |" in md
    assert "Plots for this gate are in the HTML report." in md
    assert "<img" not in md


def test_gate_report_markdown(results):
    md = reports.gate_report_markdown(results[0])
    assert md.startswith("# Quality gate performance: ❌ FAILED")
    assert sum(line.startswith("| roc_auc |") for line in md.splitlines()) >= 1
    assert "| Model | " + "a" * 64 + " |" in md


def test_md_escape():
    assert reports.md_escape("a|b") == r"a\|b"
    assert reports.md_escape(SCRIPT) == r"\<script>alert(1)\</script>"
    assert reports.md_escape("0.61 < 0.7") == "0.61 < 0.7"
    assert reports.md_escape("[x](y) *z* `c`\nnext") == r"\[x\](y) \*z\* \`c\` next"
    assert reports.md_escape(None) == "—"


# --------------------------------------------------------------------------------------------
# Formatting, files, robustness
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "—"),
        (0.8734567, "0.8735"),
        (0.0, "0"),
        (-0.012, "-0.012"),
        (1.23456e-6, "1.235e-06"),
        (12345.6, "12,346"),
        (3, "3"),
        (123456, "123,456"),
        (True, "true"),
        (float("nan"), "—"),
        (math.inf, "∞"),
        ("int64", "int64"),
    ],
)
def test_fmt(value, text):
    assert reports.fmt(value) == text


def test_write_reports(tmp_path, scorecard):
    paths = reports.write_reports(scorecard, tmp_path / "out")
    assert set(paths) == {"json", "markdown", "html"}
    assert {p.name for p in paths.values()} == {"scorecard.json", "scorecard.md", "scorecard.html"}
    back = Scorecard.from_json(paths["json"].read_text(encoding="utf-8"))
    assert back == scorecard
    assert paths["markdown"].read_text(encoding="utf-8") == reports.scorecard_markdown(scorecard)
    html = paths["html"].read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    parse(html)


BAD_VALUES = [None, "x", 3, [], {}, [[1]], {"labels": None}, {"fpr": "x", "tpr": [1]}, [None, 1]]


@pytest.mark.parametrize("key", list(MALFORMED_DETAILS))
@pytest.mark.parametrize("bad", BAD_VALUES, ids=repr)
def test_malformed_details_never_raise(key, bad):
    result = finalize(
        gate="g",
        checks=[CheckResult(name="c", value=1.0, status=Status.PASSED)],
        metrics={"m": 1.0},
        details={key: bad, "slice_thresholds": bad},
    )
    html = reports.gate_report_html(result)
    parse(html)
    reports.gate_report_markdown(result)
    reports.scorecard_html(make_scorecard([result]))
    reports.scorecard_markdown(make_scorecard([result]))


@pytest.mark.parametrize(
    "details",
    [
        {"confusion_matrix": {"labels": ["a", "b"], "matrix": [[1, -2], [3, 4]]}},
        {"confusion_matrix": {"labels": ["a", "b"], "matrix": [[1, 2.5], [3, 4]]}},
        {"confusion_matrix": {"labels": ["a"], "matrix": [[float("nan")]]}},
        {"roc_curve": {"fpr": [0, 2], "tpr": [0, 1], "auc": 0.5}},
        {"roc_curve": {"fpr": [0, 1], "tpr": [0, 1], "auc": "high"}},
        {"slices": [{"column": "c", "value": "v", "metric": "m", "value_metric": "bad"}]},
        {"slices": [{"value": "v"}]},
        {"champion": {"comparisons": [{"metric": "m", "diff": "x"}]}},
        {"metric_cis": {"m": "wide"}},
        {"metric_cis": [1, 2]},
    ],
)
def test_malformed_details_are_noted_and_not_plotted(details):
    result = finalize(
        gate="g",
        checks=[CheckResult(name="c", value=1.0, status=Status.PASSED)],
        metrics={"m": 1.0},
        details=details,
    )
    page = parse(reports.gate_report_html(result))
    assert page.imgs == []
    assert "not shown" in reports.gate_report_html(result)
    assert "not shown" in reports.gate_report_markdown(result)


def test_plots_survive_hostile_labels_and_many_slices():
    many = [(f"v{i} $x", float(i % 7) / 7, "failed" if i % 5 == 0 else "passed") for i in range(90)]
    uri = plots.slice_bars_png(column="c$", metric="m", slices=many, threshold=0.5)
    assert uri.startswith("data:image/png;base64,")
    uri = plots.forest_plot_png(
        comparisons=[("a", -0.1, -0.2, 0.0, 0.05, "failed"), ("b", 0.1, None, None, 0.02, "x")]
    )
    assert uri.startswith("data:image/png;base64,")
    png = base64.b64decode(uri.split(",", 1)[1])
    assert b"http" not in png  # no Software/URL text chunk


def test_rendering_leaves_no_pyplot_figures(scorecard):
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    reports.scorecard_html(scorecard)
    assert plt.get_fignums() == before


def test_gate_specific_tables_and_images_render_escaped():
    import base64
    import io

    from matplotlib.figure import Figure

    from quality_gates.shared.contracts.results import CheckResult, Status, finalize
    from quality_gates.shared.reports.render import gate_report_html, gate_report_markdown

    fig = Figure()
    fig.add_subplot().plot([1, 2])
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    png = base64.b64encode(buf.getvalue()).decode()
    result = finalize(
        gate="fairness",
        checks=[CheckResult(name="dpd", value=0.1, status=Status.PASSED)],
        details={
            "tables": [
                {"title": "Per group", "columns": ["group", "n"], "rows": [["F|<b>", 10], ["M"]]}
            ],
            "images": [{"title": "rates", "png_base64": png}, {"title": "x", "png_base64": "zz"}],
        },
    )
    html = gate_report_html(result)
    assert "Per group" in html and "F|&lt;b&gt;" in html
    assert f"data:image/png;base64,{png}" in html
    assert "not a base64 PNG" in html and "wrong width" in html
    md = gate_report_markdown(result)
    assert "| F\\|\\<b> | 10 |" in md
