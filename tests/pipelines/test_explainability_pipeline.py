"""Explainability through the pipeline and the CLI: a leaky model is refused, a clean one passes."""

import joblib
import numpy as np
import pytest
from mlflow import MlflowClient
from sklearn.ensemble import HistGradientBoostingClassifier

from quality_gates.shared.cli.main import main
from quality_gates.shared.demo.data import FEATURES, make_credit_data, train_models

pytestmark = pytest.mark.slow

POLICY = """
data: {label: default, positive_label: 1, exclude: [applicant_id, sex, age_band, notes, leak]}
gates:
  performance:
    n_resamples: 100
    rules: [{metric: roc_auc, min: 0.6}]
  explainability:
    sampling: {explain_rows: 150, background_rows: 50, time_budget_s: 30}
    forbidden: {features: [sex], top_k: 5, rationale: no protected attribute among the drivers}
    max_share: {max: 0.5, rationale: one dominant feature signals leakage}
"""


@pytest.fixture(scope="module")
def credit(tmp_path_factory):
    root = tmp_path_factory.mktemp("xai")
    rng = np.random.default_rng(7)
    train = make_credit_data(n_rows=5000, seed=7)
    evaluation = make_credit_data(n_rows=2000, seed=8)
    for frame in (train, evaluation):
        # A column that is the label plus a little noise: classic target leakage.
        frame["leak"] = frame["default"] + rng.normal(0, 0.1, len(frame))
    evaluation.to_parquet(root / "eval.parquet", index=False)
    joblib.dump(train_models(train, seed=7)["candidate"], root / "clean.joblib")
    leaky = HistGradientBoostingClassifier(max_iter=50, random_state=0)
    leaky.fit(train[["leak", "income", "credit_score"]], train["default"])
    joblib.dump(leaky, root / "leaky.joblib")
    biased = train_models(
        make_credit_data(n_rows=5000, seed=7, bias=1.5), seed=7, features=[*FEATURES, "sex"]
    )["candidate"]
    joblib.dump(biased, root / "biased.joblib")
    (root / "policy.yaml").write_text(POLICY)
    return root


def test_leaky_model_refused_clean_model_promoted(credit, mlflow_server, tmp_path, capsys):
    def run(model, out):
        return main(
            [
                "run",
                "--model",
                str(credit / model),
                "--data",
                str(credit / "eval.parquet"),
                "--policy",
                str(credit / "policy.yaml"),
                "--registered-model-name",
                "xai-pipe",
                "--tracking-uri",
                mlflow_server,
                "--output-dir",
                str(tmp_path / out),
            ]
        )

    assert run("leaky.joblib", "leaky") == 1
    assert "blocked by explainability / max attribution share" in capsys.readouterr().out
    client = MlflowClient(mlflow_server)
    models = client.search_registered_models("name='xai-pipe'")
    assert not models or "staging" not in models[0].aliases
    assert run("clean.joblib", "clean") == 0
    staged = client.get_model_version_by_alias("xai-pipe", "staging")
    assert staged.tags["quality_gates.gate.explainability"] in ("passed", "warned")


def test_check_explainability_cli(credit, capsys):
    common = ["--data", str(credit / "eval.parquet"), "--policy", str(credit / "policy.yaml")]
    assert main(["check", "explainability", "--model", str(credit / "biased.joblib"), *common]) == 1
    assert "sex" in capsys.readouterr().out
    assert main(["check", "explainability", "--model", str(credit / "clean.joblib"), *common]) == 0
    assert main(["check", "explainability", *common]) == 2
