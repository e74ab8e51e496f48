"""Fairness through the whole pipeline: a biased model gets no alias, a fair one is promoted."""

import joblib
import pytest
from mlflow import MlflowClient

from quality_gates.shared.cli.main import main
from quality_gates.shared.demo.data import FEATURES, make_credit_data, train_models

pytestmark = pytest.mark.slow

POLICY = """
data: {label: default, positive_label: 1, exclude: [applicant_id, sex, age_band, notes]}
gates:
  performance:
    n_resamples: 200
    rules: [{metric: roc_auc, min: 0.6}]
  fairness:
    sensitive_features: [sex]
    decision_threshold: 0.3
    n_resamples: 200
    rules:
      - metric: demographic_parity_difference
        max: 0.10
        over: [sex]
        rationale: equal treatment of women and men
"""


@pytest.fixture(scope="module")
def credit(tmp_path_factory):
    root = tmp_path_factory.mktemp("credit")
    fair_train = make_credit_data(n_rows=6000, seed=1)
    biased_train = make_credit_data(n_rows=6000, seed=1, bias=1.0)
    evaluation = make_credit_data(n_rows=3000, seed=2)
    evaluation.to_parquet(root / "eval.parquet", index=False)
    joblib.dump(train_models(fair_train, seed=1)["champion"], root / "fair.joblib")
    biased = train_models(biased_train, seed=1, features=[*FEATURES, "sex"])["champion"]
    joblib.dump(biased, root / "biased.joblib")
    (root / "policy.yaml").write_text(POLICY)
    return root


def _run(root, model, name, server, out):
    return main(
        [
            "run",
            "--model",
            str(root / model),
            "--data",
            str(root / "eval.parquet"),
            "--policy",
            str(root / "policy.yaml"),
            "--registered-model-name",
            name,
            "--tracking-uri",
            server,
            "--output-dir",
            str(out),
        ]
    )


def test_biased_model_is_refused_and_fair_model_promoted(credit, mlflow_server, tmp_path, capsys):
    assert _run(credit, "biased.joblib", "fair-pipe", mlflow_server, tmp_path / "b") == 1
    out = capsys.readouterr().out
    assert "blocked by fairness / demographic_parity_difference [sex]" in out
    client = MlflowClient(mlflow_server)
    assert not client.search_registered_models("name='fair-pipe'") or "staging" not in (
        client.get_registered_model("fair-pipe").aliases
    )
    assert _run(credit, "fair.joblib", "fair-pipe", mlflow_server, tmp_path / "f") == 0
    staged = client.get_model_version_by_alias("fair-pipe", "staging")
    assert staged.tags["quality_gates.gate.fairness"] == "passed"


def test_check_fairness_cli_exit_codes(credit, capsys):
    common = ["--data", str(credit / "eval.parquet"), "--policy", str(credit / "policy.yaml")]
    assert main(["check", "fairness", "--model", str(credit / "biased.joblib"), *common]) == 1
    assert "demographic_parity_difference" in capsys.readouterr().out
    assert main(["check", "fairness", "--model", str(credit / "fair.joblib"), *common]) == 0
    assert main(["check", "all", "--model", str(credit / "fair.joblib"), *common]) == 0
    assert main(["check", "all", "--model", str(credit / "biased.joblib"), *common]) == 1
