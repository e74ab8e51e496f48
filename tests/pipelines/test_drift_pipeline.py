"""Drift through the whole pipeline and the CLI: a broken feed is refused, a clean refresh passes.

Data the demo never uses: other seeds, other columns broken (a ratio delivered in percent, a
category that took over), so the verdict comes from the statistics, not from a known fixture.
"""

import json

import joblib
import numpy as np
import pytest
from kfp import dsl, local
from kfp.dsl import Dataset, Output
from mlflow import MlflowClient

from quality_gates.shared.cli.main import main
from quality_gates.shared.demo.data import make_credit_data, train_models

pytestmark = pytest.mark.slow

POLICY = """
data: {label: default, positive_label: 1, exclude: [applicant_id, sex, age_band, notes]}
gates:
  performance:
    n_resamples: 200
    rules: [{metric: roc_auc, min: 0.6}]
  drift:
    n_resamples: 300
    numeric: {max: 0.1, rationale: the inputs must be those the model learned}
    categorical: {max: 0.1, rationale: category shares must hold}
"""


@pytest.fixture(scope="module")
def feeds(tmp_path_factory):
    root = tmp_path_factory.mktemp("feeds")
    train = make_credit_data(n_rows=8000, seed=11)
    train.to_parquet(root / "train.parquet", index=False)
    joblib.dump(train_models(train, seed=2)["candidate"], root / "model.joblib")
    make_credit_data(n_rows=5000, seed=12).to_parquet(root / "refresh.parquet", index=False)
    broken = make_credit_data(n_rows=5000, seed=13)
    broken["debt_to_income"] = broken["debt_to_income"] * 100  # percent instead of a ratio
    rng = np.random.default_rng(0)
    takeover = rng.random(len(broken)) < 0.4
    broken.loc[takeover, "purpose"] = broken["purpose"].iloc[0]
    broken.to_parquet(root / "broken.parquet", index=False)
    (root / "policy.yaml").write_text(POLICY)
    return root


def _run(root, data, out, server, capsys):
    code = main(
        [
            "run",
            "--model", str(root / "model.joblib"),
            "--data", str(root / data),
            "--reference-data", str(root / "train.parquet"),
            "--policy", str(root / "policy.yaml"),
            "--registered-model-name", f"drift-{data.split('.')[0]}",
            "--tracking-uri", server,
            "--output-dir", str(out),
        ]
    )  # fmt: skip
    return code, capsys.readouterr().out


def test_broken_feed_is_refused_naming_its_columns(feeds, mlflow_server, tmp_path, capsys):
    code, out = _run(feeds, "broken.parquet", tmp_path / "out", mlflow_server, capsys)
    assert code == 1, out
    assert "blocked by drift / debt_to_income" in out
    assert "blocked by drift / purpose" in out
    assert "blocked by drift / credit_score" not in out
    card = (tmp_path / "out" / "scorecard" / "scorecard.md").read_text()
    assert "debt_to_income" in card
    (reasons,) = (tmp_path / "out" / "kfp-local").glob("*/refusal/reasons")
    assert "drift: failed" in reasons.read_text()
    client = MlflowClient(mlflow_server)
    assert not client.search_model_versions("name='drift-broken'")  # nothing registered


def test_clean_refresh_passes_the_drift_gate(feeds, mlflow_server, tmp_path, capsys):
    code, out = _run(feeds, "refresh.parquet", tmp_path / "out", mlflow_server, capsys)
    assert code == 0, out
    (verdict,) = (tmp_path / "out" / "kfp-local").glob("*/drift-gate/verdict")
    assert json.loads(verdict.read_text())["status"] == "passed"
    assert MlflowClient(mlflow_server).get_model_version_by_alias("drift-refresh", "staging")


@dsl.component(base_image="python:3.11", install_kfp_package=False)
def _profile_training_data(train_uri: str, policy: str, profile: Output[Dataset]):
    """What a user's training pipeline would add: the reference profile as a Dataset artifact."""
    import pandas as pd

    from quality_gates.components.drift_gate import profile as drift_profile
    from quality_gates.components.drift_gate.core import skipped_columns
    from quality_gates.shared.policy.schema import parse_policy

    parsed = parse_policy(policy)
    built = drift_profile.build_profile(
        pd.read_parquet(train_uri),
        parsed.gates.drift,
        skip=skipped_columns(parsed.data),
        source={"uri": train_uri},
    )
    # Written without a .json suffix, as KFP names artifacts: the gate recognises the content.
    with open(profile.path, "w") as f:
        f.write(drift_profile.to_json(built))


def test_a_profile_artifact_from_an_upstream_task_is_the_reference(feeds, tmp_path):
    """The training table never reaches the gate: only its profile, as a KFP Dataset."""
    from quality_gates.components.drift_gate.component import drift_gate

    @dsl.pipeline(name="profile-reference")
    def profile_reference(data_uri: str, train_uri: str, policy: str) -> bool:
        built = _profile_training_data(train_uri=train_uri, policy=policy)
        return drift_gate(
            policy=policy, data_uri=data_uri, reference_data=built.outputs["profile"]
        ).outputs["Output"]

    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path / "root"))
    policy = (feeds / "policy.yaml").read_text()
    train = str(feeds / "train.parquet")
    broken = profile_reference(
        data_uri=str(feeds / "broken.parquet"), train_uri=train, policy=policy
    )
    assert broken.output is False
    (verdict,) = (tmp_path / "root").glob("profile-reference-*/drift-gate/verdict")
    result = json.loads(verdict.read_text())
    failed = {c["name"].split(":")[0] for c in result["checks"] if c["status"] == "failed"}
    assert {"debt_to_income", "purpose"} <= failed and "credit_score" not in failed
    assert any(t["title"] == "Reference profile" for t in result["details"]["tables"])
    clean = profile_reference(
        data_uri=str(feeds / "refresh.parquet"), train_uri=train, policy=policy
    )
    assert clean.output is True
