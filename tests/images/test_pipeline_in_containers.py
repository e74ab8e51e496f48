"""The whole gated-promotion pipeline with every task in its component image.

kfp.local.DockerRunner runs each task in the image its component names; MLflow is the project's
own server image. A good candidate ends at `staging`, a weak one does not move any alias.
"""

from __future__ import annotations

import joblib
import mlflow
from mlflow import MlflowClient

from quality_gates.shared.demo.run import (
    demo_policy_text,
    log_sklearn_model,
    prepare_data,
    prepare_models,
)
from quality_gates.shared.kfp_glue.docker_run import pipeline_root, run_pipeline_in_containers

NAME = "credit-risk-images"
# The demo's size (`make demo`): with fewer rows the champion comparison's confidence interval is
# too wide for the candidate to clear the non-inferiority margin.
ROWS = 20000
IMAGE_UID = 10001


def _register_champion(uri: str, model_path) -> str:
    mlflow.set_tracking_uri(uri)
    with mlflow.start_run(run_name="champion-training") as run:
        log_sklearn_model(joblib.load(model_path))
    client = MlflowClient(uri)
    client.create_registered_model(NAME)
    mv = client.create_model_version(NAME, f"runs:/{run.info.run_id}/model", run.info.run_id)
    client.set_registered_model_alias(NAME, "production", mv.version)
    return mv.version


def test_pipeline_in_component_images_promotes_good_and_refuses_weak(
    images, mlflow_in_container, tmp_path
):
    out = tmp_path / "out"
    inputs = pipeline_root(out) / "inputs"
    train, evaluation, _leaky = prepare_data(inputs, rows=ROWS)
    models = prepare_models(inputs, train)
    champion = _register_champion(mlflow_in_container, models["champion"])
    common = dict(
        output_dir=out,
        tracking_uri=mlflow_in_container,
        data_uri=str(evaluation),
        train_data_uri=str(train),
        policy_text=demo_policy_text(),
        registered_model_name=NAME,
        submitted_by="ci-bot@example.com",
    )

    good = run_pipeline_in_containers(model_uri=str(models["candidate"]), **common)
    assert good.scorecard.all_passed, good.scorecard.summary
    assert good.promoted_version is not None
    client = MlflowClient(mlflow_in_container)
    staged = client.get_model_version_by_alias(NAME, "staging")
    assert staged.version == good.promoted_version != champion
    assert staged.tags["quality_gates.model_digest"] == good.scorecard.model_digest
    assert client.get_model_version_by_alias(NAME, "production").version == champion
    assert good.approval_state == "pending"
    # Every task ran in its own image: kfp.local used each one, and the files a task wrote
    # belong to the images' user, not to this process.
    log = good.log_path.read_text(encoding="utf-8")
    for component, image in images.items():
        if component != "mlflow_server":
            assert f"Found image '{image}'" in log, f"{component} did not run in {image}"
    for task in ("performance-gate", "fairness-gate", "explainability-gate", "pii-scan-gate"):
        verdict = good.run_dir / task / "verdict"
        assert verdict.stat().st_uid == IMAGE_UID, f"{task} did not run as uid {IMAGE_UID}"

    weak = run_pipeline_in_containers(model_uri=str(models["weak"]), **common)
    assert not weak.scorecard.all_passed
    assert weak.promoted_version is None
    failing = {gate for gate, _check, _message in weak.scorecard.failing_checks()}
    assert "performance" in failing, weak.scorecard.summary
    assert client.get_model_version_by_alias(NAME, "staging").version == good.promoted_version
    assert client.get_model_version_by_alias(NAME, "production").version == champion
