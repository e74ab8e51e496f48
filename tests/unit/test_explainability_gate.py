"""The explainability gate end to end on real sklearn models, real shap and data files."""

import base64

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.neighbors import KNeighborsClassifier

from quality_gates.shared.contracts.results import GateResult, Status
from quality_gates.shared.demo.data import FEATURES, make_credit_data, train_models
from quality_gates.shared.gates.runner import check
from quality_gates.shared.reports import render as reports


def run_explainability_gate(**kw):
    return check("explainability", **kw)


CREDIT = """
data: {label: default, positive_label: 1, exclude: [applicant_id, sex, age_band, notes]}
gates:
  explainability:
    sampling: {explain_rows: 200, background_rows: 50, time_budget_s: 30}
    forbidden: {features: [sex, age_band], top_k: 5}
    max_share: {max: 0.5}
    min_features: {min_features: 3, share: 0.8}
    directions:
      - {feature: income, effect: decreasing}
      - {feature: num_late_payments, effect: increasing}
"""


@pytest.fixture(scope="module")
def credit(tmp_path_factory):
    root = tmp_path_factory.mktemp("credit")
    df = make_credit_data(n_rows=4000, seed=1, bias=3.0)
    train, test = df.iloc[:2500], df.iloc[2500:].reset_index(drop=True)
    models = train_models(train)
    # Trained with a sensitive attribute that the biased labels reward.
    with_sex = train_models(train, features=[*FEATURES, "sex"])["candidate"]
    paths = {}
    for name, model in [*models.items(), ("with_sex", with_sex)]:
        paths[name] = root / f"{name}.joblib"
        joblib.dump(model, paths[name])
    paths["data"] = root / "eval.parquet"
    test.to_parquet(paths["data"], index=False)
    return paths


def _run(model, data, policy, **kw):
    return run_explainability_gate(
        model_uri=str(model), data_uri=str(data), policy_text=policy, **kw
    )


def test_clean_candidate_passes_with_evidence(credit):
    r = _run(credit["candidate"], credit["data"], CREDIT)
    assert r.status == Status.PASSED, r.summary
    assert r.gate == "explainability"
    assert {"model", "data", "policy"} <= set(r.inputs)
    assert all(v.startswith("sha256:") for v in r.inputs.values())
    assert r.versions["shap"] != "not installed"
    assert r.details["explainer"]["kind"] == "tree"
    # Attributions are per input column: one-hot parts of purpose/home_ownership summed.
    assert set(r.details["importance"]) == set(FEATURES)
    assert sum(r.details["importance"].values()) == pytest.approx(1.0)
    assert r.metrics["explained_rows"] == 200
    # Two disjoint halves, each with half of every class (to within one row per class).
    a, b = r.details["sampling"]["halves"]
    assert a + b == 200 and abs(a - b) <= 2
    assert 0.0 <= r.metrics["stability_topk_agreement"] <= 1.0
    forbidden = next(c for c in r.checks if c.name.startswith("forbidden"))
    assert "not a model input" in forbidden.message
    titles = [i["title"] for i in r.details["images"]]
    assert any("Global importance" in t for t in titles)
    assert any("beeswarm" in t.lower() or "Summary" in t for t in titles)
    assert sum(t.startswith("Dependence") for t in titles) == 4
    for image in r.details["images"]:
        assert base64.b64decode(image["png_base64"])[:8] == b"\x89PNG\r\n\x1a\n"
    # Round trip, and the report shows the evidence but no evaluation row.
    again = GateResult.from_json(r.to_json())
    assert again.details["tables"][1]["columns"][1] == "feature"
    html = reports.gate_report_html(r)
    md = reports.gate_report_markdown(r)
    assert html.count("data:image/png;base64,") >= 6
    assert "Global importance" in md and "credit_score" in md
    frame = pd.read_parquet(credit["data"])
    for ident in frame["applicant_id"].iloc[:50]:
        assert ident not in html and ident not in md


def test_model_trained_on_a_sensitive_attribute_fails_forbidden(credit):
    r = _run(credit["with_sex"], credit["data"], CREDIT)
    assert r.status == Status.FAILED, r.summary
    check = next(c for c in r.checks if c.name.startswith("forbidden"))
    assert check.status == Status.FAILED and "sex (rank" in check.message
    assert check.details["ranks"]["sex"] <= 5


def test_injected_leak_fails_the_share_rule(tmp_path):
    rng = np.random.default_rng(0)
    n = 3000
    X = rng.normal(size=(n, 5))
    y = (X[:, 0] + X[:, 1] + rng.normal(0, 1.5, n) > 0).astype(int)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(5)])
    frame["leak"] = y + rng.normal(0, 0.1, n)  # the label, lightly disguised
    frame["y"] = y
    features = [*frame.columns[:5], "leak"]
    clean = HistGradientBoostingClassifier(max_iter=50, random_state=0)
    clean.fit(frame.iloc[:2000][features[:5]], y[:2000])
    leaky = RandomForestClassifier(n_estimators=20, max_depth=6, random_state=0)
    leaky.fit(frame.iloc[:2000][features], y[:2000])
    joblib.dump(leaky, tmp_path / "leaky.joblib")
    joblib.dump(clean, tmp_path / "clean.joblib")
    frame.iloc[2000:].to_csv(tmp_path / "eval.csv", index=False)
    policy = """
data: {label: y}
gates:
  explainability:
    sampling: {explain_rows: 150, background_rows: 50}
    max_share: {max: 0.5, rationale: one feature carrying most of it is a leak}
"""
    r = _run(tmp_path / "leaky.joblib", tmp_path / "eval.csv", policy)
    assert r.status == Status.FAILED
    check = next(c for c in r.checks if c.name.startswith("max attribution share"))
    assert check.details["feature"] == "leak" and check.value > 0.5
    assert "leakage" in check.message
    # The same data without the leak column in the model passes.
    ok = _run(tmp_path / "clean.joblib", tmp_path / "eval.csv", policy)
    assert ok.status == Status.PASSED, ok.summary


def test_unsupported_model_falls_back_with_a_warning(binary_case, tmp_path):
    frame = binary_case.frame
    knn = KNeighborsClassifier(n_neighbors=15).fit(frame[binary_case.features], frame["target"])
    joblib.dump(knn, tmp_path / "knn.joblib")
    policy = """
data: {label: target, exclude: [region]}
gates:
  explainability:
    sampling: {explain_rows: 30, min_explain_rows: 20, background_rows: 20, permutations: 1}
    max_share: {max: 0.9}
"""
    r = _run(tmp_path / "knn.joblib", binary_case.data_path, policy)
    assert r.status == Status.WARNED, r.summary
    check = next(c for c in r.checks if c.name == "explainer")
    assert check.status == Status.WARNED and "KNeighborsClassifier" in check.message
    assert r.details["explainer"]["kind"] == "permutation"
    assert set(r.details["importance"]) == set(binary_case.features)


def test_budget_sizes_the_sample_and_reports_it(tmp_path):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(20000, 8))
    y = (X[:, 0] - X[:, 2] + rng.normal(0, 1, 20000) > 0).astype(int)
    cols = [f"c{i}" for i in range(8)]
    frame = pd.DataFrame(X, columns=cols).assign(y=y)
    forest = RandomForestClassifier(n_estimators=60, min_samples_leaf=1, random_state=0)
    forest.fit(frame.iloc[:15000][cols], y[:15000])
    joblib.dump(forest, tmp_path / "rf.joblib")
    frame.iloc[15000:].to_parquet(tmp_path / "eval.parquet", index=False)
    policy = """
data: {label: y}
gates:
  explainability:
    sampling: {explain_rows: 4000, min_explain_rows: 20, background_rows: 50, time_budget_s: 4}
    max_share: {max: 0.9}
"""
    r = _run(tmp_path / "rf.joblib", tmp_path / "eval.parquet", policy)
    assert r.passed, r.summary
    sampling = r.details["sampling"]
    # An exact explanation of 4000 rows of this forest takes minutes: the budget cut it.
    assert sampling["stopped_by"] == "time budget"
    assert 20 <= sampling["explained_rows"] < 4000
    assert r.metrics["explained_rows"] == sampling["explained_rows"]


def test_multiclass_and_regression(multiclass_case, regression_case):
    mc = _run(
        multiclass_case.model_path,
        multiclass_case.data_path,
        "data: {label: species}\ngates: {explainability: {sampling: {explain_rows: 100}, "
        "max_share: {max: 0.95}}}\n",
    )
    assert mc.passed, mc.summary
    assert mc.details["explainer"]["explained_output"] == ["setosa", "versicolor", "virginica"]
    reg = _run(
        regression_case.model_path,
        regression_case.data_path,
        "data: {label: price}\ngates: {explainability: {sampling: {explain_rows: 100}, "
        "min_features: {min_features: 2, share: 0.9}, directions: [{feature: x0, effect: "
        "increasing}]}}\n",
    )
    assert reg.status in (Status.PASSED, Status.FAILED)
    assert next(c for c in reg.checks if c.name.startswith("direction")).status != Status.ERROR


BASE = """
data: {label: target, exclude: [region]}
gates:
  explainability:
    sampling: {explain_rows: 60, background_rows: 20}
    max_share: {max: 0.9}
"""


@pytest.mark.parametrize(
    ("kind", "phrase"),
    [
        ("no rules", "has no rules"),
        ("unknown key", "gates.explainability.max_share.maximum"),
        ("model missing", "nope.joblib"),
        ("feature column missing", "f2"),
        ("forbidden typo", "neither model inputs nor columns"),
        ("direction on unknown", "not an input of the model"),
        ("too few rows", "too few to explain"),
        ("label missing", "label"),
        ("budget too small", "time budget"),
    ],
)
def test_bad_inputs_are_errors(binary_case, tmp_path, kind, phrase):
    model, data, policy = binary_case.model_path, binary_case.data_path, BASE
    frame = binary_case.frame
    if kind == "no rules":
        policy = "gates: {explainability: {sampling: {explain_rows: 50}}}\n"
    elif kind == "unknown key":
        policy = BASE.replace("max: 0.9", "maximum: 0.9")
    elif kind == "model missing":
        model = tmp_path / "nope.joblib"
    elif kind == "feature column missing":
        frame.drop(columns=["f2"]).to_csv(tmp_path / "d.csv", index=False)
        data = tmp_path / "d.csv"
    elif kind == "forbidden typo":
        policy = BASE + "    forbidden: {features: [sexx]}\n"
    elif kind == "direction on unknown":
        policy = BASE + "    directions: [{feature: income, effect: decreasing}]\n"
    elif kind == "too few rows":
        frame.iloc[:30].to_csv(tmp_path / "d.csv", index=False)
        data = tmp_path / "d.csv"
    elif kind == "label missing":
        frame.drop(columns=["target"]).to_csv(tmp_path / "d.csv", index=False)
        data = tmp_path / "d.csv"
    elif kind == "budget too small":
        policy = BASE.replace("background_rows: 20", "background_rows: 20, time_budget_s: 0.001")
    r = _run(model, data, policy)
    assert r.status == Status.ERROR, r.summary
    assert not r.passed
    text = r.error or r.summary
    assert phrase in text and "Traceback" not in text and "\n" not in text
    assert r.inputs["policy"].startswith("sha256:")


def test_absent_section_is_skipped_not_passed(binary_case):
    policy = "data: {label: target}\ngates: {performance: {rules: [{metric: f1, min: 0.1}]}}\n"
    r = _run(binary_case.model_path, binary_case.data_path, policy)
    assert r.status == Status.SKIPPED and not r.passed


def test_infinite_value_outside_the_first_rows_is_named_not_blamed_on_the_model(
    binary_case, tmp_path
):
    # The bad cell sits in a background row, which no early probe of the first rows sees; a
    # linear explainer would turn it into non-finite attributions, not a predict error.
    from quality_gates.components.explainability_gate.sampling import stratified_order

    frame = binary_case.frame.copy()
    labels = frame["target"].to_numpy()
    order = stratified_order(labels, n_rows=len(frame), seed=0, stratify=True)
    # BASE: explain_rows 60, background_rows 20 -> rows order[60:80] are the background.
    frame.loc[order[70], "f1"] = np.inf
    path = tmp_path / "inf.parquet"
    frame.to_parquet(path, index=False)
    r = _run(binary_case.model_path, path, BASE)
    assert r.status == Status.ERROR, r.summary
    assert "failed to predict" in r.error and "infinity" in r.error and "\n" not in r.error


def test_non_finite_attributions_point_at_the_inputs():
    from quality_gates.components.explainability_gate.attribution import shares
    from quality_gates.shared.contracts.errors import GateInputError

    with pytest.raises(GateInputError, match="not finite .* infinite and missing feature values"):
        shares(np.array([np.nan, 1.0]))
    with pytest.raises(GateInputError, match="every attribution .* is zero"):
        shares(np.zeros(3))
