"""The operational gate through the CLI and the whole pipeline, against a real MLflow server.

A huge forest that ranks about as well as the champion is refused with its numbers (size and
latency relative to the champion, served by MLServer), which reach the scorecard's Operations
row and the task's KFP Metrics. Data and models the demo never uses (other seeds, a smaller
forest). The passing side, the demo policy's candidate through the pipeline, is in
test_example_train_and_gate.py.
"""

import json

import joblib
import mlflow
import pytest
from mlflow import MlflowClient

from quality_gates.shared.cli.main import main
from quality_gates.shared.demo.data import make_credit_data, train_huge_forest, train_models
from quality_gates.shared.demo.run import log_sklearn_model

pytestmark = pytest.mark.slow

POLICY = """
data: {label: default, positive_label: 1, exclude: [applicant_id, sex, age_band, notes]}
gates:
  performance:
    n_resamples: 200
    rules: [{metric: roc_auc, min: 0.6}]
  operational:
    measurement:
      {warmup_requests: 5, rounds: 6, requests_per_round: 20, batch_requests_per_round: 2}
    rules:
      - {metric: size_mb, max: 10, rationale: pulled at every pod start}
      - {metric: memory_mb, max: 2048, rationale: the serving pod's limit}
    champion:
      rules:
        - {metric: p95_ms, max_ratio: 1.5, on_inconclusive: warn, rationale: capacity}
"""


@pytest.fixture(scope="module")
def models(tmp_path_factory, mlflow_server):
    root = tmp_path_factory.mktemp("ops")
    train = make_credit_data(n_rows=6000, seed=31)
    fitted = train_models(train, seed=3)
    joblib.dump(train_huge_forest(train, seed=3, n_trees=300), root / "forest.joblib")
    make_credit_data(n_rows=3000, seed=32).to_parquet(root / "eval.parquet", index=False)
    (root / "policy.yaml").write_text(POLICY)
    mlflow.set_tracking_uri(mlflow_server)
    with mlflow.start_run() as run:
        log_sklearn_model(fitted["champion"])
    client = MlflowClient(mlflow_server)
    name = "ops-forest"
    client.create_registered_model(name)
    mv = client.create_model_version(name, f"runs:/{run.info.run_id}/model", run.info.run_id)
    client.set_registered_model_alias(name, "production", mv.version)
    return root


def _run(root, model, out, server, capsys):
    code = main(
        [
            "run",
            "--model", str(root / f"{model}.joblib"),
            "--data", str(root / "eval.parquet"),
            "--policy", str(root / "policy.yaml"),
            "--registered-model-name", f"ops-{model}",
            "--tracking-uri", server,
            "--output-dir", str(out),
        ]
    )  # fmt: skip
    return code, capsys.readouterr().out


def _kfp_metrics(out):
    (executor,) = (out / "kfp-local").glob("*/operational-gate/executor_output.json")
    artifacts = json.loads(executor.read_text())["artifacts"]["metrics"]["artifacts"]
    return artifacts[0]["metadata"]


def _operations_row(out):
    card = (out / "scorecard" / "scorecard.md").read_text()
    return next(line for line in card.splitlines() if line.startswith("| Operations |"))


def test_a_huge_forest_is_refused_with_its_numbers(models, mlflow_server, tmp_path, capsys):
    code, out = _run(models, "forest", tmp_path / "out", mlflow_server, capsys)
    assert code == 1, out
    assert "blocked by operational / size_mb" in out
    assert "blocked by operational / p95_ms ratio vs champion@production" in out
    assert "blocked by performance" not in out  # it ranks well: only the operations refuse it
    assert "| Operations | failed |" in _operations_row(tmp_path / "out")
    metrics = _kfp_metrics(tmp_path / "out")
    assert metrics["gate_passed"] == 0.0
    assert metrics["size_mb"] > 10 * metrics["champion_size_mb"]
    assert metrics["p95_ms_ratio"] > 1.5 and metrics["memory_mb"] > metrics["champion_memory_mb"]
    (reasons,) = (tmp_path / "out" / "kfp-local").glob("*/refusal/reasons")
    assert "operational: failed" in reasons.read_text()
    versions = MlflowClient(mlflow_server).search_model_versions("name='ops-forest'")
    assert [v.version for v in versions] == ["1"]  # only the champion: the forest not registered
