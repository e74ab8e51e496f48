"""Business KPI rules of the performance gate on real models and a real MLflow champion.

The data are the test's own: default risk is told by one signal on small loans and by another on
large loans. The candidate sees the small-loan signal (most rows, so its ROC AUC is higher); the
champion, registered under ``production``, sees the large-loan one. Under a credit matrix where
an approved default loses 40% of the loan, the candidate approves risky large loans and is worth
less per 1 000 decisions: a plain AUC policy passes it, the business rule refuses it. A candidate
with the champion's decisions (the same fit) passes the business rule.
"""

from __future__ import annotations

import joblib
import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml
from mlflow import MlflowClient
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from quality_gates.shared.contracts.results import Status
from quality_gates.shared.gates.runner import GateInputs, run_gate

pytestmark = pytest.mark.integration

DATA = {"label": "default", "positive_label": 1, "exclude": ["loan_amount"]}
BUSINESS = {
    "positive_decision": "refuse",
    "negative_decision": "approve",
    "positive_outcome": "default",
    "negative_outcome": "repay",
    "currency": "EUR",
    "matrix": {
        "approve": {
            "repay": {"column": "loan_amount", "factor": 0.15},
            "default": {"column": "loan_amount", "factor": -0.4},
        },
        "refuse": {"repay": {"column": "loan_amount", "factor": -0.15}, "default": 0},
    },
    "vs_champion": {"max_drop_pct": 2, "rationale": "no less profitable than production"},
}


def _loans(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    large = rng.random(n) < 0.2
    amount = np.where(large, rng.uniform(40_000, 100_000, n), rng.uniform(1_000, 8_000, n))
    z_small, z_large = rng.normal(size=n), rng.normal(size=n)
    logit = -1.6 + np.where(large, 2.5 * z_large, 1.8 * z_small)
    default = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.DataFrame(
        {
            "small_signal": np.where(large, 0.0, z_small),
            "large_signal": np.where(large, z_large, 0.0),
            "loan_amount": amount.round(2),
            "default": default,
        }
    )


def _model(column: str, frame: pd.DataFrame) -> Pipeline:
    pick = ColumnTransformer([("x", "passthrough", [column])])
    model = Pipeline([("pick", pick), ("lr", LogisticRegression())])
    # The model's inputs are what the gate passes: every column but the label and the excluded.
    return model.fit(frame[["small_signal", "large_signal"]], frame["default"])


@pytest.fixture(scope="module")
def world(tmp_path_factory, mlflow_server):
    root = tmp_path_factory.mktemp("business")
    train, evaluation = _loans(8000, seed=31), _loans(6000, seed=32)
    evaluation.to_parquet(root / "eval.parquet", index=False)
    joblib.dump(_model("small_signal", train), root / "risky.joblib")
    champion = _model("large_signal", train)
    joblib.dump(_model("large_signal", train), root / "same.joblib")  # the same fit
    name = "business-credit"
    mlflow.set_tracking_uri(mlflow_server)
    with mlflow.start_run() as run:
        mlflow.sklearn.log_model(champion, name="model", serialization_format="cloudpickle")
    client = MlflowClient(mlflow_server)
    client.create_registered_model(name)
    mv = client.create_model_version(name, f"runs:/{run.info.run_id}/model", run.info.run_id)
    client.set_registered_model_alias(name, "production", mv.version)
    return root, name, mlflow_server


def _run(world, model: str, *, business: bool):
    root, name, uri = world
    section = {
        "task": "binary",
        "decision_threshold": 0.3,
        "n_resamples": 400,
        "rules": [{"metric": "roc_auc", "min": 0.6}],
        "champion": {
            "alias": "production",
            "n_resamples": 400,
            "if_missing": "block",
            "rules": [{"metric": "roc_auc", "margin": 0.01}],
        },
    }
    if business:
        section["business"] = BUSINESS
    policy = yaml.safe_dump({"data": DATA, "gates": {"performance": section}}, sort_keys=False)
    return run_gate(
        "performance",
        GateInputs(
            data_uri=str(root / "eval.parquet"),
            model_uri=str(root / f"{model}.joblib"),
            policy_text=policy,
            registered_model_name=name,
            tracking_uri=uri,
        ),
    )


def _business_check(result):
    (check,) = [c for c in result.checks if c.family == "business"]
    return check


def test_better_auc_but_worse_expected_value_is_refused_by_the_business_rule(world):
    plain = _run(world, "risky", business=False)
    assert plain.status == Status.PASSED, plain.summary  # the AUC rules alone let it through
    assert plain.metrics["roc_auc"] > 0.7

    result = _run(world, "risky", business=True)
    assert result.status == Status.FAILED, result.summary
    check = _business_check(result)
    assert check.decision == "fail" and check.ci_high < check.threshold
    m = result.metrics
    assert m["expected_value_per_1000"] < m["champion_expected_value_per_1000"]
    assert m["expected_value_diff_per_1000_ci_high"] < -0.02 * m["champion_expected_value_per_1000"]
    # The AUC comparison still passes: only the money says no.
    auc = [c for c in result.checks if c.family == "champion"]
    assert auc and all(c.status == Status.PASSED for c in auc)
    titles = [t["title"] for t in result.details["tables"]]
    assert "Business value matrix (EUR)" in titles


def test_a_candidate_with_the_champions_expected_value_passes(world):
    result = _run(world, "same", business=True)
    check = _business_check(result)
    assert check.status == Status.PASSED and check.decision == "pass", check.message
    assert result.metrics["expected_value_diff_per_1000"] == pytest.approx(0.0, abs=1e-6)


def test_the_decay_gate_takes_the_same_business_block(world):
    """The decay section subclasses the performance one: the rule judges the production sample."""
    root, name, uri = world
    section = {
        "task": "binary",
        "decision_threshold": 0.3,
        "n_resamples": 0,
        "champion": {"alias": "production", "n_resamples": 400, "if_missing": "block"},
        "business": BUSINESS,
    }
    policy = yaml.safe_dump({"data": DATA, "gates": {"decay": section}}, sort_keys=False)
    result = run_gate(
        "decay",
        GateInputs(
            data_uri="",
            production_data_uri=str(root / "eval.parquet"),
            model_uri=str(root / "risky.joblib"),
            policy_text=policy,
            registered_model_name=name,
            tracking_uri=uri,
        ),
    )
    assert result.status == Status.FAILED, result.summary
    assert _business_check(result).decision == "fail"
    assert "champion_expected_value_per_1000" in result.metrics
