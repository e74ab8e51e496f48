"""The fairness gate end to end on real sklearn models and data files (no kfp, no MLflow)."""

import joblib
import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    demographic_parity_difference,
    equalized_odds_difference,
    equalized_odds_ratio,
)
from sklearn.linear_model import LogisticRegression, Ridge

from quality_gates.shared.contracts.results import GateResult, Status
from quality_gates.shared.demo.data import FEATURES, make_credit_data, train_models
from quality_gates.shared.gates.runner import check
from quality_gates.shared.policy.schema import parse_policy
from quality_gates.shared.reports import render as reports


def run_fairness_gate(**kw):
    return check("fairness", **kw)


def parse_section(text, source):
    return parse_policy(text, source=source).gates.fairness


# The section proposed for shared/demo/policies/demo.yaml (with its data section).
DEMO_POLICY = """
version: 1
data:
  label: default
  positive_label: 1
  exclude: [applicant_id, sex, age_band, notes]
gates:
  fairness:
    sensitive_features: [sex, age_band]
    intersections: [[sex, age_band]]
    decision_threshold: 0.3
    min_group_size: 100
    on_small: warn
    missing: error
    sensitive_inputs: warn
    confidence: 0.95
    n_resamples: 1000
    rules:
      - metric: demographic_parity_difference
        max: 0.10
        over: [sex]
        rationale: >-
          Predicted-default rates of women and men may not differ by more than 10 points,
          shown with 95% confidence.
      - metric: equalized_odds_difference
        max: 0.10
        over: [sex]
        rationale: Missed and false defaults must be as frequent for women as for men.
      - metric: demographic_parity_ratio
        min: 0.80
        over: [sex]
        severity: warn
        rationale: Four-fifths rule, used as a screening signal for adverse impact only.
      - metric: predictive_parity_difference
        max: 0.25
        over: [age_band, [sex, age_band]]
        severity: warn
        rationale: A predicted default should mean a similar default risk in every group.
"""


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo's candidate (unbiased data, no sex) and a biased model that uses sex."""
    root = tmp_path_factory.mktemp("fair-demo")
    df = make_credit_data(n_rows=20000, seed=0)
    joblib.dump(train_models(df[:12000])["candidate"], root / "candidate.joblib")
    biased = make_credit_data(n_rows=20000, seed=0, bias=1.0)
    model = train_models(biased[:12000], features=[*FEATURES, "sex"])["candidate"]
    joblib.dump(model, root / "biased.joblib")
    df[12000:].reset_index(drop=True).to_parquet(root / "eval.parquet", index=False)
    return root


def _run(model, data, policy, **kw):
    return run_fairness_gate(model_uri=str(model), data_uri=str(data), policy_text=policy, **kw)


def test_demo_candidate_passes_and_biased_model_fails_a_named_rule(demo):
    ok = _run(demo / "candidate.joblib", demo / "eval.parquet", DEMO_POLICY)
    # Passes; the one warning is a warn-severity rule over small intersectional groups whose
    # interval cannot tell 0.11 from the bound 0.25 (inconclusive, not a fail).
    assert ok.passed, ok.summary
    warned = [c for c in ok.checks if c.status == Status.WARNED]
    assert all(c.decision == "inconclusive" and c.severity == "warn" for c in warned)
    by_name = {c.name: c for c in ok.checks}
    dpd = by_name["demographic_parity_difference [sex] <= 0.1"]
    assert dpd.decision == "pass"
    # Robust margin: even the upper CI bound is far from the threshold.
    assert dpd.ci_high < 0.06 and dpd.value < dpd.ci_high
    assert ok.inputs.keys() >= {"model", "data", "policy"}
    assert "fairlearn" in ok.versions

    bad = _run(demo / "biased.joblib", demo / "eval.parquet", DEMO_POLICY)
    assert bad.status == Status.FAILED and not bad.passed
    failed = {c.name: c for c in bad.checks if c.status == Status.FAILED}
    assert set(failed) == {
        "demographic_parity_difference [sex] <= 0.1",
        "equalized_odds_difference [sex] <= 0.1",
    }
    msg = failed["demographic_parity_difference [sex] <= 0.1"].message
    assert "F (n=" in msg and "M (n=" in msg and "shown to violate <= 0.1 by" in msg
    sensitive = next(c for c in bad.checks if c.name == "sensitive inputs")
    assert sensitive.status == Status.WARNED and sensitive.value == "sex"

    # The numbers are fairlearn's on the same decisions.
    frame = pd.read_parquet(demo / "eval.parquet")
    model = joblib.load(demo / "biased.joblib")
    pred = (model.predict_proba(frame)[:, 1] >= 0.3).astype(int)
    y = frame["default"].to_numpy()
    assert bad.metrics["demographic_parity_difference__sex"] == pytest.approx(
        demographic_parity_difference(y, pred, sensitive_features=frame["sex"]), abs=1e-9
    )
    both = frame[["sex", "age_band"]]
    assert bad.metrics["equalized_odds_difference__sex_x_age_band"] == pytest.approx(
        equalized_odds_difference(y, pred, sensitive_features=both), abs=1e-9
    )
    assert bad.metrics["equalized_odds_ratio__age_band"] == pytest.approx(
        equalized_odds_ratio(y, pred, sensitive_features=frame["age_band"]), abs=1e-9
    )

    # The evidence renders: per-group tables, the disparity table and one chart per grouping.
    titles = [t["title"] for t in bad.details["tables"]]
    assert "Per-group metrics: sex × age_band" in titles and "Disparities between groups" in titles
    assert len(bad.details["images"]) == 3
    html = reports.gate_report_html(bad)
    assert html.count("data:image/png;base64,") >= 3 and "F × 18-25" in html
    assert "shown to violate <= 0.1" in reports.gate_report_markdown(bad)
    assert GateResult.from_json(bad.to_json()).status == Status.FAILED


def test_sensitive_inputs_block(demo):
    text = DEMO_POLICY.replace("sensitive_inputs: warn", "sensitive_inputs: block")
    r = _run(demo / "biased.joblib", demo / "eval.parquet", text)
    assert next(c for c in r.checks if c.name == "sensitive inputs").status == Status.FAILED


# --------------------------------------------------------------------------------------------
# Small synthetic cases with a real LogisticRegression


def _case(tmp_path, *, n=4000, seed=0, bias=0.0, group_dtype="string", small=0, missing=0):
    """A model on two features; the label depends on `grp` by `bias` only through x0."""
    rng = np.random.default_rng(seed)
    grp = rng.choice(["a", "b"], n)
    x0 = rng.normal(0, 1, n) + bias * (grp == "b")
    x1 = rng.normal(0, 1, n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(x0 + 0.5 * x1 - 0.5)))).astype(int)
    frame = pd.DataFrame({"x0": x0, "x1": x1, "grp": grp, "target": y})
    if small:
        frame.loc[: small - 1, "grp"] = "c"
    if group_dtype == "int":
        frame["grp"] = frame["grp"].map({"a": 1, "b": 2, "c": 3})
    elif group_dtype == "category":
        frame["grp"] = frame["grp"].astype("category")
    if missing:
        frame["grp"] = frame["grp"].astype(object)
        frame.loc[small : small + missing - 1, "grp"] = None
    model = LogisticRegression().fit(frame[["x0", "x1"]], frame["target"])
    joblib.dump(model, tmp_path / "m.joblib")
    frame.to_parquet(tmp_path / "d.parquet", index=False)
    return tmp_path / "m.joblib", tmp_path / "d.parquet", frame


def _policy(rules="      - {metric: demographic_parity_difference, max: 0.1, rationale: r}", **kw):
    opts = {"n_resamples": 200, "min_group_size": 30, **kw}
    extra = "\n".join(f"    {k}: {v}" for k, v in opts.items())
    return f"""
data: {{label: target, exclude: [grp, key]}}
gates:
  fairness:
    sensitive_features: [grp]
{extra}
    rules:
{rules}
"""


@pytest.mark.parametrize("dtype", ["string", "int", "category"])
def test_balanced_passes_and_injected_bias_fails(tmp_path, dtype):
    m, d, _ = _case(tmp_path, group_dtype=dtype)
    assert _run(m, d, _policy()).status == Status.PASSED
    m, d, frame = _case(tmp_path, bias=1.5, group_dtype=dtype)
    r = _run(m, d, _policy())
    assert r.status == Status.FAILED
    check = r.checks[-1]
    assert check.name == "demographic_parity_difference [grp] <= 0.1"
    pred = (joblib.load(m).predict_proba(frame[["x0", "x1"]])[:, 1] >= 0.5).astype(int)
    assert check.value == pytest.approx(
        demographic_parity_difference(frame["target"], pred, sensitive_features=frame["grp"]),
        abs=1e-9,
    )


@pytest.mark.parametrize("on_small,status", [("warn", Status.WARNED), ("block", Status.FAILED)])
def test_small_group_is_insufficient_data_never_silent(tmp_path, on_small, status):
    m, d, _ = _case(tmp_path, small=12)
    r = _run(m, d, _policy(on_small=on_small))
    assert r.status == status
    small = next(c for c in r.checks if c.name == "group size grp=c")
    assert small.status == status and small.value == 12 and "insufficient data" in small.message
    group_rows = r.details["groupings"][0]["groups"]
    assert [g["eligible"] for g in group_rows] == [True, True, False]


def test_missing_sensitive_values_group_or_error(tmp_path):
    m, d, _ = _case(tmp_path, missing=50)
    err = _run(m, d, _policy())
    assert (
        err.status == Status.ERROR
        and "missing value" in err.error
        and "missing: group" in err.error
    )
    # The 50 rows of the <missing> group are too few to show a disparity within 0.1: the rule is
    # inconclusive, which this policy lets warn.
    ok = _run(m, d, _policy(missing="group", on_inconclusive="warn"))
    assert ok.passed
    assert [g["group"] for g in ok.details["groupings"][0]["groups"]] == ["a", "b", "<missing>"]


def test_missing_sensitive_column_is_an_error(tmp_path):
    m, d, _ = _case(tmp_path)
    r = _run(m, d, _policy().replace("[grp]", "[gender]"))
    assert r.status == Status.ERROR and "'gender'" in r.error and "\n" not in r.error
    assert r.inputs.keys() >= {"policy", "data"}


def test_one_group_only_is_an_error(tmp_path):
    m, d, frame = _case(tmp_path)
    frame["grp"] = "a"
    frame.to_parquet(d, index=False)
    r = _run(m, d, _policy())
    assert r.status == Status.ERROR and "single group" in r.error


def test_all_positive_predictions_via_score_column(tmp_path):
    _, d, frame = _case(tmp_path)
    frame["score"] = 0.9
    frame.to_parquet(d, index=False)
    text = _policy(
        "      - {metric: equalized_odds_difference, max: 0.05, rationale: r}\n"
        "      - {metric: predictive_parity_difference, max: 1.0, rationale: r}"
    ).replace("label: target,", "label: target, score: score,")
    r = _run("", d, text)
    assert r.status == Status.PASSED, r.summary
    assert r.metrics["demographic_parity_difference__grp"] == 0.0
    assert r.metrics["demographic_parity_ratio__grp"] == 1.0
    base = frame.groupby("grp")["target"].mean()
    assert r.metrics["predictive_parity_difference__grp"] == pytest.approx(base.max() - base.min())
    assert "model" not in r.inputs


def test_separate_sensitive_file_joined_on_key(tmp_path):
    m, d, frame = _case(tmp_path, bias=1.5)
    frame["key"] = np.arange(len(frame)) * 7
    sens = frame[["key", "grp"]].sample(frac=1.0, random_state=0)  # another row order
    frame.drop(columns=["grp"]).to_parquet(d, index=False)
    sens.to_csv(tmp_path / "sens.csv", index=False)
    text = _policy(join_key="key")
    r = _run(m, d, text, sensitive_data_uri=str(tmp_path / "sens.csv"))
    assert r.status == Status.FAILED and r.inputs["sensitive_data"].startswith("sha256:")
    assert "joined on 'key'" in r.details["sensitive_source"]
    pred = (joblib.load(m).predict_proba(frame[["x0", "x1"]])[:, 1] >= 0.5).astype(int)
    assert r.metrics["demographic_parity_difference__grp"] == pytest.approx(
        demographic_parity_difference(frame["target"], pred, sensitive_features=frame["grp"]),
        abs=1e-9,
    )
    # Without the key in the policy, with duplicate keys, or with unmatched rows: one-line errors.
    no_key = _run(m, d, _policy(), sensitive_data_uri=str(tmp_path / "sens.csv"))
    assert no_key.status == Status.ERROR and "join_key" in no_key.error
    pd.concat([sens, sens.iloc[:3]]).to_csv(tmp_path / "dup.csv", index=False)
    dup = _run(m, d, text, sensitive_data_uri=str(tmp_path / "dup.csv"))
    assert dup.status == Status.ERROR and "not unique" in dup.error
    sens.iloc[10:].to_csv(tmp_path / "part.csv", index=False)
    part = _run(m, d, text, sensitive_data_uri=str(tmp_path / "part.csv"))
    assert part.status == Status.ERROR and "10 of 4000 rows" in part.error


def test_rule_without_rationale_warns(tmp_path):
    m, d, _ = _case(tmp_path)
    r = _run(m, d, _policy("      - {metric: demographic_parity_difference, max: 0.1}"))
    assert r.status == Status.WARNED and r.passed
    assert any(c.name.startswith("rationale of rule") for c in r.checks)


def test_three_way_decision_on_the_disparity_interval(tmp_path):
    m, d, _ = _case(tmp_path, bias=0.15)
    rule = (
        "      - {{metric: demographic_parity_difference, max: {t}, judge_on: {on}, rationale: r"
        "{extra}}}"
    )

    def check(t, on="interval", extra="", **kw):
        r = _run(m, d, _policy(rule.format(t=t, on=on, extra=extra), **kw))
        return r, r.checks[-1]

    _, est = check(0.1, on="estimate")
    v, lo, hi = est.value, est.ci_low, est.ci_high
    assert lo < v < hi
    mid = (v + hi) / 2
    # On the estimate alone a threshold inside the interval passes ...
    assert check(mid, on="estimate")[0].status == Status.PASSED
    # ... on the interval it is inconclusive, which blocks by default and warns on request.
    r, c = check(mid)
    assert r.status == Status.FAILED and c.decision == "inconclusive"
    assert c.message.startswith("insufficient evidence") and "cannot be told" in c.message
    assert c.details["rows_needed"] > 0 and c.details["detectable"] > 0
    r, c = check(mid, extra=", on_inconclusive: warn")
    assert r.status == Status.WARNED and c.decision == "inconclusive"
    assert check(mid, on_inconclusive="warn")[0].status == Status.WARNED
    # Beyond the interval either way the data decides.
    assert check(min(1.0, hi + 0.01))[1].decision == "pass"
    r, c = check(max(0.0, lo - 0.01))
    assert r.status == Status.FAILED and c.decision == "fail"
    # Binary disparities need no resampling: the pairwise intervals are analytic.
    assert check(mid, n_resamples=0)[1].decision == "inconclusive"
    # The former bound names say what replaced them.
    r = _run(m, d, _policy(rule.format(t=mid, on="ci_high", extra="")))
    assert r.status == Status.ERROR and "judge_on: interval" in r.error


def test_engine_metric_and_unknown_metric(tmp_path):
    m, d, _ = _case(tmp_path)
    r = _run(
        m,
        d,
        _policy(
            "      - {metric: balanced_accuracy_score_difference, max: 0.2, rationale: r,"
            " judge_on: estimate}\n"
            "      - {metric: roc_auc_score_difference, max: 0.2, rationale: r,"
            " judge_on: estimate}"
        ),
    )
    assert r.status == Status.PASSED, r.summary
    assert r.checks[-1].details["engine"] == "fairlearn.MetricFrame"
    # fairlearn's metrics have no interval: judging one on an interval is an error that says so.
    no_ci = _run(
        m,
        d,
        _policy("      - {metric: balanced_accuracy_score_difference, max: 0.2, rationale: r}"),
    )
    assert no_ci.status == Status.ERROR and "judge_on: estimate" in no_ci.checks[-1].message
    bad = _run(m, d, _policy("      - {metric: happiness_difference, max: 0.2, rationale: r}"))
    assert bad.status == Status.ERROR and "happiness" in bad.checks[-1].message


def test_regression_task(tmp_path):
    rng = np.random.default_rng(0)
    n = 2000
    grp = rng.choice(["a", "b"], n)
    x = rng.normal(0, 1, n)
    y = 3 * x + rng.normal(0, 1, n) + 2.0 * (grp == "b")
    frame = pd.DataFrame({"x": x, "grp": grp, "target": y})
    joblib.dump(Ridge().fit(frame[["x"]], y), tmp_path / "r.joblib")
    frame.to_csv(tmp_path / "r.csv", index=False)
    rules = (
        "      - {metric: mean_error_difference, max: 0.5, rationale: r}\n"
        "      - {metric: mean_absolute_error_ratio, min: 0.5, rationale: r}"
    )
    r = _run(tmp_path / "r.joblib", tmp_path / "r.csv", _policy(rules))
    assert r.details["task"] == "regression"
    assert (
        r.status == Status.FAILED
    )  # the model ignores grp: its error differs by ~2 between groups
    assert r.checks[-2].value == pytest.approx(2.0, abs=0.3)
    wrong = _run(tmp_path / "r.joblib", tmp_path / "r.csv", _policy())
    assert wrong.status == Status.ERROR and "binary classifier" in wrong.checks[-1].message


@pytest.mark.parametrize(
    "policy,needle",
    [
        ("gates: {fairness: {sensitive_features: [grp], rules: []}}", "has no rules"),
        (
            "gates: {fairness: {sensitive_features: [grp], typo: 1, rules: []}}",
            "gates.fairness.typo",
        ),
        (
            "gates: {fairness: {sensitive_features: [grp], rules: [{metric: dpd, max: 1}]}}",
            "gates.fairness.rules.0.metric",
        ),
        (
            "gates: {fairness: {sensitive_features: [grp], rules: "
            "[{metric: demographic_parity_difference, max: 1, over: [sex]}]}}",
            "neither a sensitive feature",
        ),
        ("gates: [", "not valid YAML"),
    ],
)
def test_bad_policy_is_an_error_with_the_key_path(tmp_path, policy, needle):
    m, d, _ = _case(tmp_path, n=300)
    r = _run(m, d, policy)
    assert r.status == Status.ERROR and needle in r.error, r.error
    assert "\n" not in r.error and r.inputs["policy"].startswith("sha256:")


def test_parse_section_absent_is_none():
    assert parse_section("gates: {}", "p") is None


def test_multiclass_model_is_an_error(tmp_path, multiclass_case):
    text = """
data: {label: species}
gates:
  fairness:
    sensitive_features: [f0]
    rules: [{metric: demographic_parity_difference, max: 0.1, rationale: r}]
"""
    r = _run(multiclass_case.model_path, multiclass_case.data_path, text)
    assert r.status == Status.ERROR and "3 classes" in r.error


def test_absent_section_is_skipped_not_passed(tmp_path):
    m, d, _ = _case(tmp_path, n=300)
    r = _run(m, d, "gates: {performance: {rules: [{metric: roc_auc, min: 0.5}]}}")
    assert r.status == Status.SKIPPED and not r.passed
    assert "gates.fairness is not configured" in r.summary


def test_no_rule_assessable_anywhere_is_an_error_not_a_warning(tmp_path):
    # An id-like sensitive column: every group has one row, so no disparity can be computed.
    # on_small: warn is for some small groups; with nothing judged the gate measured nothing.
    m, d, frame = _case(tmp_path, n=400)
    frame["grp"] = [f"g{i}" for i in range(len(frame))]
    frame.to_parquet(d, index=False)
    r = _run(m, d, _policy(on_small="warn"))
    assert r.status == Status.ERROR and not r.passed
    assert "no fairness rule could be assessed" in r.error and "min_group_size 30" in r.error
    assert "\n" not in r.error
