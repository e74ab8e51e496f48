"""The performance gate end to end on real sklearn models and data files (no kfp, no MLflow)."""

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from quality_gates.components.performance_gate.core import (
    Encoded,
    champion_checks,
    evaluate,
)
from quality_gates.components.performance_gate.policy import ChampionSpec, PerformancePolicy
from quality_gates.shared.contracts.results import GateResult, Status
from quality_gates.shared.gates.runner import check


def run_performance_gate(**kw):
    return check("performance", **kw)


def _policy(rules: str, extra: str = "", label: str = "target") -> str:
    return f"""
data: {{label: {label}, exclude: [region]}}
gates:
  performance:
    n_resamples: 200
    rules:
{rules}
{extra}
"""


def _run(case, text, **kw):
    return run_performance_gate(
        model_uri=str(case.model_path), data_uri=str(case.data_path), policy_text=text, **kw
    )


def test_binary_metrics_equal_sklearn(binary_case):
    text = _policy("      - {metric: roc_auc, min: 0.6}")
    r = _run(binary_case, text)
    assert r.status == Status.PASSED, r.summary
    X, y = binary_case.frame[binary_case.features], binary_case.frame["target"]
    score = binary_case.model.predict_proba(X)[:, 1]
    pred = (score >= 0.5).astype(int)
    expected = {
        "roc_auc": skm.roc_auc_score(y, score),
        "pr_auc": skm.average_precision_score(y, score),
        "log_loss": skm.log_loss(y, score),
        "brier": skm.brier_score_loss(y, score),
        "accuracy": skm.accuracy_score(y, pred),
        "precision": skm.precision_score(y, pred),
        "recall": skm.recall_score(y, pred),
        "f1": skm.f1_score(y, pred),
    }
    for name, value in expected.items():
        assert r.metrics[name] == pytest.approx(value, abs=1e-9), name
    check = r.checks[0]
    assert check.ci_low < check.value < check.ci_high
    assert r.inputs["model"].startswith("sha256:") and r.inputs["data"].startswith("sha256:")
    assert r.details["confusion_matrix"]["matrix"] == skm.confusion_matrix(y, pred).tolist()
    assert r.details["roc_curve"]["fpr"][0] == 0.0


def test_threshold_below_fails_and_names_the_rule(binary_case):
    r = _run(binary_case, _policy("      - {metric: roc_auc, min: 0.99}"))
    assert r.status == Status.FAILED
    assert r.checks[0].name == "roc_auc >= 0.99"
    assert "shown to violate" in r.checks[0].message


def test_warn_severity_warns_and_lets_through(binary_case):
    r = _run(binary_case, _policy("      - {metric: accuracy, min: 0.999, severity: warn}"))
    assert r.status == Status.WARNED and r.passed


def test_max_rule_direction(binary_case):
    ok = _run(binary_case, _policy("      - {metric: brier, max: 0.5}"))
    bad = _run(binary_case, _policy("      - {metric: brier, max: 0.001}"))
    assert ok.status == Status.PASSED and bad.status == Status.FAILED


def test_decision_threshold_changes_class_metrics(binary_case):
    base = _run(binary_case, _policy("      - {metric: recall, min: 0.0}"))
    low = _run(
        binary_case, _policy("      - {metric: recall, min: 0.0}\n    decision_threshold: 0.1")
    )
    assert low.metrics["recall"] > base.metrics["recall"]


def test_multiclass_macro_metrics_equal_sklearn(multiclass_case):
    text = _policy(
        "      - {metric: f1, min: 0.5}\n      - {metric: roc_auc, min: 0.6}", label="species"
    )
    r = _run(multiclass_case, text)
    assert r.status == Status.PASSED, r.summary
    X, y = multiclass_case.frame[multiclass_case.features], multiclass_case.frame["species"]
    proba = multiclass_case.model.predict_proba(X)
    pred = multiclass_case.model.classes_[proba.argmax(axis=1)]
    assert r.metrics["f1"] == pytest.approx(skm.f1_score(y, pred, average="macro"), abs=1e-9)
    assert r.metrics["roc_auc"] == pytest.approx(
        skm.roc_auc_score(y, proba, multi_class="ovr"), abs=1e-9
    )
    assert r.details["task"] == "multiclass"
    assert len(r.details["confusion_matrix"]["matrix"]) == 3


def test_regression_metrics_equal_sklearn(regression_case):
    text = _policy(
        "      - {metric: r2, min: 0.5}\n      - {metric: rmse, max: 100}", label="price"
    )
    r = _run(regression_case, text)
    assert r.status == Status.PASSED, r.summary
    X, y = regression_case.frame[regression_case.features], regression_case.frame["price"]
    pred = regression_case.model.predict(X)
    assert r.metrics["r2"] == pytest.approx(skm.r2_score(y, pred), abs=1e-9)
    assert r.metrics["rmse"] == pytest.approx(skm.root_mean_squared_error(y, pred), abs=1e-9)
    assert r.metrics["mae"] == pytest.approx(skm.mean_absolute_error(y, pred), abs=1e-9)
    assert r.metrics["mape"] == pytest.approx(skm.mean_absolute_percentage_error(y, pred), abs=1e-9)


def test_slices_fail_the_bad_slice_and_report_small_ones(binary_case):
    frame = binary_case.frame.copy()
    rng = np.random.default_rng(0)
    bad = (frame["region"] == "B").to_numpy()
    frame.loc[bad, "target"] = rng.integers(0, 2, bad.sum())  # labels unrelated to features
    frame["tiny"] = np.where(np.arange(len(frame)) < 5, "rare", "common")
    frame.to_csv(binary_case.data_path, index=False)
    text = _policy(
        "      - {metric: roc_auc, min: 0.5}",
        extra="    slices:\n"
        "      - {column: region, metric: roc_auc, min: 0.7, min_size: 50}\n"
        "      - {column: tiny, metric: roc_auc, min: 0.5, min_size: 50, on_small: warn}",
    ).replace("exclude: [region]", "exclude: [region, tiny]")
    r = _run(binary_case, text)
    by_name = {c.name: c for c in r.checks}
    assert by_name["slice region=A: roc_auc >= 0.7"].status == Status.PASSED
    assert by_name["slice region=B: roc_auc >= 0.7"].status == Status.FAILED
    small = by_name["slice tiny=rare: roc_auc >= 0.5"]
    assert small.status == Status.WARNED and "insufficient data" in small.message
    assert r.status == Status.FAILED
    assert {row["value"] for row in r.details["slices"]} >= {"A", "B", "rare", "common"}


def _enc(y, score, threshold=0.5):
    return Encoded("binary", y, (score >= threshold).astype(np.int64), score, [0, 1])


def test_champion_non_inferiority_pass_fail_and_missing():
    rng = np.random.default_rng(3)
    n = 4000
    y = rng.integers(0, 2, n)
    good = np.clip(0.5 + (y - 0.5) * 0.6 + rng.normal(0, 0.25, n), 0.001, 0.999)
    poor = np.clip(0.5 + (y - 0.5) * 0.15 + rng.normal(0, 0.25, n), 0.001, 0.999)
    spec = ChampionSpec(
        rules=[{"metric": "roc_auc", "margin": 0.01}, {"metric": "log_loss", "margin": 0.01}],
        n_resamples=300,
    )
    same, _ = champion_checks(
        spec=spec, candidate=_enc(y, good), champion=_enc(y, good), champion_ref={}
    )
    assert [c.status for c in same] == [Status.PASSED, Status.PASSED]
    assert [c.decision for c in same] == ["pass", "pass"]
    assert same[0].value == 0.0 and same[0].ci_low == 0.0
    worse, details = champion_checks(
        spec=spec, candidate=_enc(y, poor), champion=_enc(y, good), champion_ref={}
    )
    assert [c.status for c in worse] == [Status.FAILED, Status.FAILED]
    assert [c.decision for c in worse] == ["fail", "fail"]
    assert worse[0].ci_high < 0  # clearly worse on AUC
    assert worse[1].ci_high < 0  # log loss is lower-is-better: sign-adjusted to "improvement"
    assert details["comparisons"][0]["metric"] == "roc_auc"
    better, _ = champion_checks(
        spec=spec, candidate=_enc(y, good), champion=_enc(y, poor), champion_ref={}
    )
    assert all(c.status == Status.PASSED and c.ci_low > 0 for c in better)
    missing, _ = champion_checks(
        spec=spec, candidate=_enc(y, good), champion=None, champion_ref={"model_name": "m"}
    )
    assert missing[0].status == Status.SKIPPED
    blocking = spec.model_copy(update={"if_missing": "block"})
    missing, _ = champion_checks(
        spec=blocking, candidate=_enc(y, good), champion=None, champion_ref={"model_name": "m"}
    )
    assert missing[0].status == Status.FAILED


def test_precomputed_scores_without_a_model(binary_case):
    frame = binary_case.frame.copy()
    frame["p"] = binary_case.model.predict_proba(frame[binary_case.features])[:, 1]
    frame.to_csv(binary_case.data_path, index=False)
    text = _policy("      - {metric: roc_auc, min: 0.6}").replace(
        "label: target,", "label: target, score: p,"
    )
    r = run_performance_gate(model_uri="", data_uri=str(binary_case.data_path), policy_text=text)
    assert r.status == Status.PASSED, r.summary
    assert r.metrics["roc_auc"] == pytest.approx(skm.roc_auc_score(frame["target"], frame["p"]))


def test_regressor_on_integer_target_is_regression(regression_case):
    frame = regression_case.frame.copy()
    frame["price"] = (frame["price"] // 100).clip(0, 10).astype(int)  # 11 integer values
    frame.to_csv(regression_case.data_path, index=False)
    text = _policy("      - {metric: mae, max: 1000}", label="price")
    r = _run(regression_case, text)
    assert r.details["task"] == "regression", r.summary
    assert r.status == Status.PASSED


def test_positive_label_written_as_text_matches_a_numeric_class(binary_case):
    # YAML `positive_label: "1"` against classes 0/1: the same class (the fairness gate agrees),
    # never "'1' is not among the classes ['0', '1']".
    rules = "      - {metric: recall, min: 0.01}"
    as_text = _run(
        binary_case, _policy(rules).replace("label: target,", 'label: target, positive_label: "1",')
    )
    as_int = _run(
        binary_case, _policy(rules).replace("label: target,", "label: target, positive_label: 1,")
    )
    assert as_text.status == Status.PASSED, as_text.error
    assert as_text.metrics["recall"] == as_int.metrics["recall"]
    wrong = _run(
        binary_case,
        _policy(rules).replace("label: target,", 'label: target, positive_label: "yes",'),
    )
    assert wrong.status == Status.ERROR and "positive_label 'yes'" in wrong.error


def test_threshold_inside_the_interval_is_inconclusive_and_the_policy_decides(binary_case):
    est = _run(binary_case, _policy("      - {metric: roc_auc, min: 0.5, judge_on: estimate}"))
    c = est.checks[0]
    inside = round((c.value + c.ci_low) / 2, 4)  # between the lower bound and the estimate
    rule = "      - {metric: roc_auc, min: %s%s}"
    r = _run(binary_case, _policy(rule % (inside, "")))
    assert r.status == Status.FAILED and r.checks[0].decision == "inconclusive"
    assert "inconclusive" in r.checks[0].message and r.checks[0].details["rows_needed"] > 0
    r = _run(binary_case, _policy(rule % (inside, ", on_inconclusive: warn")))
    assert r.status == Status.WARNED and r.passed
    assert _run(binary_case, _policy(rule % (inside, ", judge_on: estimate"))).status == (
        Status.PASSED
    )
    shown = _run(binary_case, _policy(rule % (round(c.ci_low - 0.01, 4), "")))
    assert shown.status == Status.PASSED and shown.checks[0].decision == "pass"


def test_too_few_evaluation_rows_is_an_error(binary_case):
    binary_case.frame.head(40).to_csv(binary_case.data_path, index=False)
    r = _run(binary_case, _policy("      - {metric: roc_auc, min: 0.5}"))
    assert r.status == Status.ERROR and "min_rows" in r.error and "40" in r.error


def test_champion_rule_needs_an_explicit_margin(binary_case):
    text = _policy(
        "      - {metric: roc_auc, min: 0.5}",
        extra="    champion:\n      rules: [{metric: roc_auc}]",
    )
    r = _run(binary_case, text, registered_model_name="m")
    assert r.status == Status.ERROR and "explicit margin" in r.error


def test_slices_are_a_family_with_small_proportion_slices_judged_exactly(binary_case):
    frame = binary_case.frame.copy()
    frame["seg"] = np.where(
        np.arange(len(frame)) < 30, "small", "s" + (frame.index % 4).astype(str)
    )
    frame.to_csv(binary_case.data_path, index=False)
    text = _policy(
        "      - {metric: roc_auc, min: 0.5}",
        extra="    multiplicity: bh\n    slices:\n"
        "      - {column: seg, metric: accuracy, min: 0.2, min_size: 100}",
    ).replace("exclude: [region]", "exclude: [region, seg]")
    r = _run(binary_case, text)
    slices = [c for c in r.checks if c.family == "slices"]
    assert len(slices) == 5
    small = next(c for c in slices if "seg=small" in c.name)
    assert "Clopper-Pearson" in small.details["method"] and small.ci_low < small.value
    assert all(c.details["multiplicity"] == "bh" for c in slices)
    assert all("adjusted_p" in c.details for c in slices)


def test_champion_comparison_has_its_own_part_status():
    rng = np.random.default_rng(3)
    n = 4000
    y = rng.integers(0, 2, n)
    good = np.clip(0.5 + (y - 0.5) * 0.6 + rng.normal(0, 0.25, n), 0.001, 0.999)
    poor = np.clip(0.5 + (y - 0.5) * 0.3 + rng.normal(0, 0.25, n), 0.001, 0.999)
    policy = PerformancePolicy.model_validate(
        {
            "n_resamples": 200,
            "rules": [{"metric": "roc_auc", "min": 0.6}],
            "champion": {"rules": [{"metric": "roc_auc", "margin": 0.01}], "n_resamples": 200},
        }
    )
    checks, _, _ = evaluate(
        policy=policy,
        candidate=_enc(y, poor),
        frame=pd.DataFrame(index=range(n)),
        source="t",
        champion=_enc(y, good),
        champion_ref={},
    )
    result = GateResult(gate="performance", status=Status.FAILED, summary="s", checks=checks)
    assert dict(result.part_statuses()) == {
        "thresholds": Status.PASSED,
        "champion": Status.FAILED,
    }
