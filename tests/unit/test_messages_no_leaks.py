"""No data cell ever reaches a gate's output, and messages point the way to the fix.

Messages flow into scorecards, MLflow tags and the append-only audit log: a stray e-mail address
in a numeric column, an unseen category or a label must be named by its column and the kind of
problem, never quoted.
"""

from __future__ import annotations

import json

import joblib
import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from quality_gates.shared.contracts.errors import describe, mask_values, one_line
from quality_gates.shared.contracts.results import GateResult, Status, error_result
from quality_gates.shared.contracts.scorecard import Scorecard, decide, summarize
from quality_gates.shared.demo.data import CATEGORICAL_FEATURES, NUMERIC_FEATURES, make_credit_data
from quality_gates.shared.demo.run import demo_policy_text
from quality_gates.shared.gates.runner import check

EMAIL = "jane.q.public@example.com"
NAME = "Johnathan Smithson"
SECRETS = (EMAIL, "jane.q.public", NAME, "Smithson")


def _policy() -> str:
    policy = yaml.safe_load(demo_policy_text())
    for section in policy["gates"].values():
        section.pop("champion", None)
        section.get("business", {}).pop("vs_champion", None)  # no champion to compare with
    for name in ("performance", "fairness"):
        policy["gates"][name]["n_resamples"] = 50
    policy["gates"]["explainability"]["sampling"] = {
        "explain_rows": 60,
        "background_rows": 30,
        "seed": 0,
    }
    policy["gates"]["explainability"].pop("stability", None)
    return yaml.safe_dump(policy)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("leaks")
    frame = make_credit_data(n_rows=800, seed=3)
    numeric = Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())])
    prep = ColumnTransformer(
        [
            ("num", numeric, NUMERIC_FEATURES),
            ("cat", OneHotEncoder(handle_unknown="error"), CATEGORICAL_FEATURES),
        ]
    )
    model = Pipeline([("prep", prep), ("model", LogisticRegression(max_iter=2000))])
    model.fit(frame[NUMERIC_FEATURES + CATEGORICAL_FEATURES], frame["default"])
    joblib.dump(model, root / "model.joblib")
    bare = Pipeline(
        [
            ("impute", SimpleImputer()),
            ("scale", StandardScaler()),
            ("model", LogisticRegression(max_iter=2000)),
        ]
    )
    bare.fit(frame[NUMERIC_FEATURES], frame["default"])
    joblib.dump(bare, root / "bare.joblib")
    return root, frame


def _write(root, frame: pd.DataFrame, name: str) -> str:
    path = root / f"{name}.csv"
    frame.to_csv(path, index=False)
    return str(path)


def _variant(frame: pd.DataFrame, kind: str) -> pd.DataFrame:
    bad = frame.copy()
    if kind == "text in a numeric feature":
        bad["income"] = bad["income"].astype(object)
        bad.loc[[5, 17, 33], "income"] = [EMAIL, NAME, EMAIL]
    elif kind == "unseen category":
        bad.loc[7, "purpose"] = EMAIL
    elif kind == "personal value in the label":
        bad["default"] = bad["default"].astype(object)
        bad.loc[9, "default"] = EMAIL
    elif kind == "text label":
        bad["default"] = np.where(bad["default"] == 1, "yes", "no").astype(object)
        bad.loc[11, "default"] = NAME
    elif kind == "personal value in a sensitive column":
        bad.loc[13, "sex"] = EMAIL
    return bad


KINDS = [
    "text in a numeric feature",
    "unseen category",
    "personal value in the label",
    "text label",
    "personal value in a sensitive column",
]


@pytest.mark.parametrize("gate", ["performance", "fairness", "explainability"])
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("model", ["model", "bare"])
def test_no_cell_value_anywhere_in_the_result(world, gate, kind, model):
    if gate == "explainability":
        pytest.importorskip("shap")
    root, frame = world
    data = _write(root, _variant(frame, kind), kind.replace(" ", "_"))
    result = check(
        gate, model_uri=str(root / f"{model}.joblib"), data_uri=data, policy_text=_policy()
    )
    text = json.dumps(result.model_dump(mode="json"))
    leaked = [s for s in SECRETS if s in text]
    assert leaked == [], f"{gate}/{kind}: {leaked} in {result.status}: {result.error}"


def test_text_in_a_numeric_feature_names_the_column_and_the_rows(world):
    root, frame = world
    data = _write(root, _variant(frame, "text in a numeric feature"), "text_num")
    for model in ("model", "bare"):
        result = check(
            "performance",
            model_uri=str(root / f"{model}.joblib"),
            data_uri=data,
            policy_text=_policy(),
        )
        assert result.status == Status.ERROR
        assert "column 'income'" in result.error and "text" in result.error
        assert "3 " in result.error and "\n" not in result.error


def test_a_text_column_where_a_number_belongs_is_named(world):
    root, frame = world
    bad = frame.copy()
    bad["income"] = "unknown"  # a whole column of text, not a mix
    result = check(
        "performance",
        model_uri=str(root / "model.joblib"),
        data_uri=_write(root, bad, "all_text"),
        policy_text=_policy(),
    )
    assert result.status == Status.ERROR
    assert "column 'income' holds text in a numeric feature" in result.error


def test_an_unseen_category_names_its_column(world):
    root, frame = world
    result = check(
        "fairness",
        model_uri=str(root / "model.joblib"),
        data_uri=_write(root, _variant(frame, "unseen category"), "unseen"),
        policy_text=_policy(),
    )
    assert result.status == Status.ERROR
    assert "column 'purpose'" in result.error and "not seen in training" in result.error


@pytest.mark.parametrize("gate", ["performance", "fairness"])
def test_an_entirely_empty_feature_column_is_named(world, gate):
    root, frame = world
    bad = frame.copy()
    bad["income"] = np.nan
    result = check(
        gate,
        model_uri=str(root / "model.joblib"),
        data_uri=_write(root, bad, "empty_col"),
        policy_text=_policy(),
    )
    assert result.status == Status.ERROR
    assert "'income'" in result.error and "entirely empty" in result.error


def test_label_messages_count_values_and_never_quote_them(world):
    root, frame = world
    data = _write(root, _variant(frame, "text label"), "text_label")
    for gate in ("performance", "fairness"):
        result = check(
            gate, model_uri=str(root / "model.joblib"), data_uri=data, policy_text=_policy()
        )
        assert result.status == Status.ERROR and "label" in result.error
        assert NAME not in result.error and "'yes'" not in result.error


# A regression model under a classification policy.


@pytest.fixture(scope="module")
def ridge(tmp_path_factory):
    root = tmp_path_factory.mktemp("ridge")
    rng = np.random.default_rng(0)
    x = pd.DataFrame(rng.normal(size=(400, 3)), columns=["a", "b", "c"])
    y = (x["a"] + rng.normal(size=400) > 0).astype(int)
    joblib.dump(Ridge().fit(x, y), root / "ridge.joblib")
    x.assign(target=y).to_csv(root / "data.csv", index=False)
    return str(root / "ridge.joblib"), str(root / "data.csv")


def _perf(task: str, rules: str) -> str:
    return (
        f"data: {{label: target}}\ngates:\n  performance:\n    {task}n_resamples: 50\n"
        f"    rules: {rules}\n"
    )


@pytest.mark.parametrize("task", ["", "task: binary\n    ", "task: multiclass\n    "])
def test_a_regressor_under_a_classification_policy_says_so(ridge, task):
    model, data = ridge
    rules = "[{metric: roc_auc, min: 0.6}, {metric: accuracy, min: 0.6}]"
    result = check("performance", model_uri=model, data_uri=data, policy_text=_perf(task, rules))
    assert result.status == Status.ERROR
    assert "regressor" in result.error and "Ridge" in result.error
    assert "regression metrics" in result.error and "classes" not in result.error.split(";")[-1]
    if not task:
        assert "classification metrics" in result.error
        assert "roc_auc" in result.error and "accuracy" in result.error


def test_following_the_regressor_message_gives_a_verdict_not_an_error(ridge):
    model, data = ridge
    policy = _perf("task: regression\n    ", "[{metric: rmse, max: 5.0}, {metric: mae, max: 5.0}]")
    result = check("performance", model_uri=model, data_uri=data, policy_text=policy)
    assert result.status in (Status.PASSED, Status.WARNED), result.error or result.summary
    auto = _perf("", "[{metric: rmse, max: 5.0}]")
    assert check("performance", model_uri=model, data_uri=data, policy_text=auto).status in (
        Status.PASSED,
        Status.WARNED,
    )


# The masking helper itself.


@pytest.mark.parametrize(
    "text",
    [
        f"could not convert string to float: '{EMAIL}'",
        f"could not convert string to float: np.str_('{EMAIL}')",
        f"Found unknown categories ['{EMAIL}'] in column 1 during transform",
        f"CSV parse error: Expected 2 columns, got 3: {EMAIL},3,4",
        f"In CSV column #0: CSV conversion error to int64: invalid value '{EMAIL}'",
        f"Failed to parse string: '{EMAIL}' as a scalar of type double",
        f"Unknown datetime string format, unable to parse: {EMAIL}",
        f'Unable to parse string "{EMAIL}" at position 1',
        f"y contains previously unseen labels: np.str_('{EMAIL}')",
        f"classes are {{'{EMAIL}', 'x'}}",
    ],
)
def test_library_messages_about_data_are_masked(text):
    for shown in (
        mask_values(text),
        describe(ValueError(text)),
        one_line(ValueError(text), mask=True),
    ):
        assert EMAIL not in shown and "withheld" in shown


def test_column_names_stay_readable_when_masking():
    text = "X has feature names 'income', 'age' and ['income'] unseen at fit time"
    shown = mask_values(text, keep=["income", "age"])
    assert shown == text


def test_an_unexpected_exception_in_a_gate_is_masked():
    from quality_gates.shared.gates.execution import guarded

    def boom():
        raise ValueError(f"could not convert string to float: '{EMAIL}'")

    result = guarded("performance", boom)
    assert result.status == Status.ERROR and EMAIL not in (result.error or "")
    assert "could not convert string to float" in result.error


# An error scorecard never says the model goes through.


def _result(gate: str, status: Status) -> GateResult:
    if status == Status.ERROR:
        return error_result(gate=gate, message="broken")
    return GateResult(gate=gate, status=status, summary=f"{gate} {status.value}")


def test_an_error_scorecard_never_says_the_gates_let_the_model_through():
    results = [_result("performance", Status.PASSED), _result("fairness", Status.WARNED)]
    status, all_passed = decide(results)
    card = Scorecard(
        decision=status,
        all_passed=all_passed,
        summary=summarize(results, status, all_passed),
        expected_gates=["performance", "fairness"],
        results=list(results),
    )
    assert "let the model through" in card.summary
    # Evidence could not be logged afterwards: the decision becomes error.
    card.results.append(error_result(gate="evidence", message="could not log"))
    card.decision, card.all_passed = decide(card.results)
    card.summary += "; evidence could not be logged"
    assert card.decision == Status.ERROR
    assert "through" not in card.summary and "block promotion" in card.summary
    assert "evidence" in card.summary


@pytest.mark.parametrize("status", [Status.ERROR, Status.FAILED])
def test_summaries_of_blocked_decisions_name_the_blocking_gates(status):
    results = [_result("performance", Status.PASSED), _result("fairness", status)]
    overall, all_passed = decide(results)
    text = summarize(results, overall, all_passed)
    assert "through" not in text and f"fairness {status.value}" in text
    from quality_gates.components.aggregator.core import aggregate

    card = aggregate({r.gate: r for r in results}, expected=["performance", "fairness"])
    assert "through" not in card.summary and card.decision == overall
