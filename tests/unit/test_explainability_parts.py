"""Parts of the explainability gate: policy section, sampling plan, aggregates, column mapping."""

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, PolynomialFeatures, StandardScaler

from quality_gates.components.explainability_gate import attribution as attr
from quality_gates.components.explainability_gate.core import stability_check
from quality_gates.components.explainability_gate.explainers import (
    build_explainer,
    column_mapping,
)
from quality_gates.components.explainability_gate.policy import ExplainabilityPolicy
from quality_gates.components.explainability_gate.sampling import halves, stratified_order
from quality_gates.shared.contracts.errors import GateInputError
from quality_gates.shared.contracts.results import Status
from quality_gates.shared.policy.schema import parse_policy


def parse_section(text, source):
    return parse_policy(text, source=source).gates.explainability


def parse_data_spec(text, source):
    return parse_policy(text, source=source).data


def test_parse_section_validates_with_the_key_path():
    text = "data: {label: y}\ngates:\n  explainability:\n    max_share: {max: 0.5}\n"
    section = parse_section(text, "p.yaml")
    assert section.max_share.max == 0.5 and section.sampling.time_budget_s == 60.0
    assert section.has_rules
    assert parse_data_spec(text, "p.yaml").label == "y"
    assert parse_section("gates: {performance: {}}\n", "p.yaml") is None
    with pytest.raises(GateInputError, match=r"gates\.explainability\.max_share\.maxx"):
        parse_section("gates: {explainability: {max_share: {maxx: 0.5}}}\n", "p.yaml")
    with pytest.raises(GateInputError, match=r"min_explain_rows .* exceeds explain_rows"):
        parse_section(
            "gates: {explainability: {sampling: {explain_rows: 30, min_explain_rows: 50}}}\n", "p"
        )
    with pytest.raises(GateInputError, match="not valid YAML"):
        parse_section("gates: {explainability: [\n", "p.yaml")
    assert not ExplainabilityPolicy().has_rules


def test_every_prefix_of_the_order_keeps_the_label_mix():
    labels = np.array([1] * 100 + [0] * 900)
    order = stratified_order(labels, n_rows=1000, seed=3, stratify=True)
    assert sorted(order.tolist()) == list(range(1000))
    for n in (10, 50, 101, 400):
        assert abs(labels[order[:n]].mean() - 0.1) <= 1.0 / n + 1e-9
    a, b = halves(None, 101)
    assert set(a).isdisjoint(b) and len(a) + len(b) == 101
    # Both halves of a prefix are stratified too (the minority class recurs every 10 rows).
    prefix = labels[order[:200]]
    a, b = halves(prefix, 200)
    assert set(a).isdisjoint(b) and len(a) + len(b) == 200
    assert prefix[a].sum() == prefix[b].sum() == 10


def test_aggregates():
    phi = np.array([[[1.0], [-3.0], [0.0]], [[-1.0], [1.0], [0.0]]])
    imp = attr.importance(phi)
    np.testing.assert_allclose(imp, [1.0, 2.0, 0.0])
    share = attr.shares(imp)
    np.testing.assert_allclose(share, [1 / 3, 2 / 3, 0.0])
    assert attr.features_to_reach(share, 0.6) == 1
    assert attr.features_to_reach(share, 1.0) == 2
    assert attr.top_k(imp, ["a", "b", "c"], 2) == ["b", "a"]
    assert attr.topk_agreement(np.array([3, 2, 1.0]), np.array([1, 2, 3.0]), 2) == 0.5
    with pytest.raises(GateInputError, match="every attribution"):
        attr.shares(np.zeros(3))
    same = attr.drift(
        candidate_features=["a", "b", "c"],
        candidate_imp=np.array([3.0, 2.0, 1.0]),
        champion_features=["c", "a", "b"],
        champion_imp=np.array([1.0, 3.0, 2.0]),
    )
    assert same.rank_correlation == pytest.approx(1.0)
    moved = attr.drift(
        candidate_features=["a", "b"],
        candidate_imp=np.array([1.0, 5.0]),
        champion_features=["a", "z"],
        champion_imp=np.array([4.0, 1.0]),
    )
    # Union of inputs; "b" (new, 83% of the candidate) moved most.
    assert moved.features == ["a", "b", "z"] and moved.features[moved.moved[0]] == "b"


def test_stability_check_warns_on_disagreeing_halves():
    policy = ExplainabilityPolicy(max_share={"max": 0.5}, stability={"top_k": 2})
    good, agreement, _ = stability_check(
        policy, imp_a=np.array([3, 2, 1.0]), imp_b=np.array([3, 2.5, 1.0]), n_a=5, n_b=5
    )
    assert good.status == Status.PASSED and agreement == 1.0
    bad, agreement, _ = stability_check(
        policy, imp_a=np.array([3, 2, 1.0]), imp_b=np.array([1, 2, 3.0]), n_a=5, n_b=5
    )
    assert bad.status == Status.WARNED and agreement == 0.5


def _frame(n=400, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "age": rng.normal(40, 10, n),
            "age_band": rng.choice(["a", "b", "c"], n),
            "income": rng.normal(5, 1, n),
            "colour": rng.choice(["red", "green", "blue", "grey"], n),
        }
    )


def test_one_hot_parts_are_summed_onto_their_input_column():
    df = _frame()
    y = ((df["age"] > 40) ^ (df["colour"] == "red")).astype(int)
    prep = ColumnTransformer(
        [
            ("num", StandardScaler(), ["age", "income"]),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["age_band", "colour"]),
        ]
    )
    model = Pipeline([("prep", prep), ("model", LogisticRegression())]).fit(df, y)
    features = list(df.columns)
    mapping, note = column_mapping(model[:-1], features, df)
    assert note is None
    # 2 scaled + 3 + 4 one-hot outputs; "age_band_*" belongs to age_band, not to age.
    assert mapping.shape == (9, 4)
    np.testing.assert_array_equal(mapping.sum(axis=0), [1, 3, 1, 4])
    np.testing.assert_array_equal(mapping.sum(axis=1), np.ones(9))

    exp = build_explainer(
        model=model,
        flavor="sklearn",
        features=features,
        sample=df,
        background=df.iloc[:100],
        positive_label=1,
        permutations=1,
        seed=0,
        uri="m",
    )
    assert exp.kind == "linear" and exp.fallback_reason is None
    phi = exp.explain(df.iloc[:50])
    assert phi.shape == (50, 4, 1)
    # Linear SHAP of a one-hot column is its coefficient times the centred indicator; summed
    # over the parts it is the whole column's attribution: the row sums are unchanged.
    xt = model[:-1].transform(df.iloc[:50])
    bg = model[:-1].transform(df.iloc[:100]).mean(axis=0)
    raw = (xt - bg) * model[-1].coef_[0]
    np.testing.assert_allclose(phi[:, :, 0].sum(axis=1), raw.sum(axis=1), atol=1e-9)
    np.testing.assert_allclose(phi[:, 3, 0], raw[:, 5:9].sum(axis=1), atol=1e-9)


def test_mixing_preprocessing_is_mapped_by_perturbation():
    df = _frame()[["age", "income"]]
    prep = Pipeline([("poly", PolynomialFeatures(2, include_bias=False))])
    mapping, note = column_mapping(prep.fit(df), ["age", "income"], df)
    # age, income, age^2, age*income, income^2: the interaction is split evenly.
    np.testing.assert_allclose(mapping, [[1, 0], [0, 1], [1, 0], [0.5, 0.5], [0, 1]])
    assert "perturbation" in note
