"""examples/train_and_gate: a training pipeline whose Model/Dataset artifacts feed the gates.

The example is compiled here as a user would compile it, and run through kfp.local against a
real MLflow server, where the freshly trained model must reach the staging alias with the
digest of the very bytes the train step wrote.
"""

import importlib.util
import json
from pathlib import Path

import joblib
import mlflow
import pytest
import yaml
from kfp import compiler, local
from mlflow import MlflowClient

from quality_gates.shared.demo.data import make_credit_data, train_models
from quality_gates.shared.demo.run import demo_policy_text, log_sklearn_model
from quality_gates.shared.io.models import model_digest

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "train_and_gate" / "pipeline.py"
ROWS = 20000


def _example():
    spec = importlib.util.spec_from_file_location("train_and_gate_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_example_compiles_with_artifacts_wired_into_every_gate(tmp_path):
    path = tmp_path / "train_and_gate.yaml"
    compiler.Compiler().compile(_example().train_and_gate, str(path))
    spec, _platform = list(yaml.safe_load_all(path.read_text()))
    tasks = spec["root"]["dag"]["tasks"]
    for gate in ("performance-gate", "fairness-gate", "explainability-gate", "pii-scan-gate"):
        artifacts = tasks[gate]["inputs"]["artifacts"]
        assert artifacts["model"]["taskOutputArtifact"] == {
            "outputArtifactKey": "model",
            "producerTask": "train",
        }, gate
        assert artifacts["data"]["taskOutputArtifact"]["producerTask"] == "prepare-data", gate
        # No URI string stands in for the artifact.
        assert "model_uri" not in tasks[gate]["inputs"].get("parameters", {}), gate
    pii = tasks["pii-scan-gate"]["inputs"]["artifacts"]
    assert pii["train_data"]["taskOutputArtifact"]["outputArtifactKey"] == "train_data"
    assert "model" in tasks["aggregator"]["inputs"]["artifacts"]
    branch = spec["components"]["comp-condition-2"]["dag"]["tasks"]
    assert "model" in branch["promote"]["inputs"]["artifacts"]
    # The gates fed artifacts alone and no registry may keep KFP's cache; those that read the
    # champion behind an alias may not.
    assert tasks["fairness-gate"]["cachingOptions"].get("enableCache") is True
    assert not tasks["performance-gate"]["cachingOptions"].get("enableCache")
    assert not tasks["aggregator"]["cachingOptions"].get("enableCache")


def _register_champion(uri: str, name: str) -> str:
    df = make_credit_data(n_rows=ROWS, seed=0)
    champion = train_models(df.iloc[: int(len(df) * 0.6)], seed=0)["champion"]
    mlflow.set_tracking_uri(uri)
    with mlflow.start_run() as run:
        log_sklearn_model(champion)
    client = MlflowClient(uri)
    client.create_registered_model(name)
    mv = client.create_model_version(name, f"runs:/{run.info.run_id}/model", run.info.run_id)
    client.set_registered_model_alias(name, "production", mv.version)
    return mv.version


@pytest.mark.slow
def test_example_trains_gates_and_promotes_the_trained_bytes_to_staging(
    mlflow_server, tmp_path, monkeypatch
):
    name = "example-train-and-gate"
    champion_version = _register_champion(mlflow_server, name)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    root = tmp_path / "root"
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(root))
    _example().train_and_gate(
        policy=demo_policy_text(),
        registered_model_name=name,
        rows=ROWS,
        mlflow_tracking_uri=mlflow_server,
        submitted_by="ci-bot@example.com",
    )
    client = MlflowClient(mlflow_server)
    staged = client.get_model_version_by_alias(name, "staging")
    assert staged.version != champion_version
    (run_dir,) = root.iterdir()
    trained = run_dir / "train" / "model"
    (verdict,) = (run_dir / "performance-gate").glob("verdict")
    # The gates judged, and the registry holds, exactly the bytes the train step wrote.
    link = tmp_path / "trained.joblib"
    link.symlink_to(trained)
    digest = model_digest(str(link))
    assert digest in verdict.read_text()
    assert staged.tags["quality_gates.model_digest"] == digest
    loaded = mlflow.sklearn.load_model(f"models:/{name}@staging")
    assert type(loaded).__name__ == type(joblib.load(trained)).__name__
    assert client.get_model_version_by_alias(name, "production").version == champion_version
    # The demo policy's operational rules, served by MLServer next to the champion: the KFP
    # Metrics carry the judged p95, the size and the server's peak memory.
    executor = json.loads((run_dir / "operational-gate" / "executor_output.json").read_text())
    metrics = executor["artifacts"]["metrics"]["artifacts"][0]["metadata"]
    assert metrics["gate_passed"] == 1.0
    assert 0 < metrics["p95_ms"] <= 50 and 0 < metrics["size_mb"] <= 50
    assert metrics["memory_mb"] > 0 and metrics["champion_p95_ms"] > 0
