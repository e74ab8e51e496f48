"""The whole gated-promotion pipeline through kfp.local against a real MLflow server."""

import joblib
import mlflow
import pytest
from mlflow import MlflowClient

from quality_gates.shared.cli.main import main
from quality_gates.shared.demo.run import log_sklearn_model
from quality_gates.shared.kfp_glue.local_run import run_pipeline

pytestmark = pytest.mark.slow

POLICY = """
data: {label: target, exclude: [region]}
gates:
  performance:
    n_resamples: 200
    rules:
      - {metric: roc_auc, min: 0.6, rationale: must rank}
    champion:
      alias: production
      n_resamples: 300
      rules:
        - {metric: roc_auc, margin: 0.01}
"""

POLICY_WITH_APPROVAL = (
    POLICY
    + """
approval:
  approvers: [risk@example.com]
"""
)


def _register(uri, name, model_path, alias):
    mlflow.set_tracking_uri(uri)
    with mlflow.start_run() as run:
        log_sklearn_model(joblib.load(model_path))
    client = MlflowClient(uri)
    try:
        client.create_registered_model(name)
    except mlflow.exceptions.MlflowException:
        pass
    mv = client.create_model_version(name, f"runs:/{run.info.run_id}/model", run.info.run_id)
    client.set_registered_model_alias(name, alias, mv.version)
    return mv.version


def test_good_candidate_is_promoted_with_lineage_and_rerun_is_idempotent(
    mlflow_server, make_binary, tmp_path
):
    weak = make_binary(weak=True)
    good = make_binary()
    name = "pipe-pass"
    champion_version = _register(mlflow_server, name, weak.model_path, "production")
    # A DVC-tracked evaluation set: its md5 must reach the version's lineage tags.
    dvc_md5 = "0123456789abcdef0123456789abcdef"
    good.data_path.with_name(good.data_path.name + ".dvc").write_text(
        f"outs:\n- md5: {dvc_md5}\n  path: {good.data_path.name}\n"
    )
    run = run_pipeline(
        model_uri=str(good.model_path),
        data_uri=str(good.data_path),
        policy_text=POLICY_WITH_APPROVAL,
        registered_model_name=name,
        output_dir=tmp_path / "out",
        tracking_uri=mlflow_server,
        submitted_by="ci-bot@example.com",
    )
    assert run.scorecard.all_passed, run.scorecard.summary
    assert run.promoted_version is not None
    client = MlflowClient(mlflow_server)
    staged = client.get_model_version_by_alias(name, "staging")
    assert staged.version == run.promoted_version != champion_version
    tags = staged.tags
    assert tags["quality_gates.model_digest"] == run.scorecard.model_digest
    assert tags["quality_gates.policy_digest"] == run.scorecard.policy_digest
    assert tags["quality_gates.data_digest"] == run.scorecard.data_digest
    assert tags["quality_gates.gate.performance"] == "passed"
    # Each part of a gate has its own status on the version (the champion comparison apart).
    assert tags["quality_gates.gate.performance.thresholds"] == "passed"
    assert "quality_gates.gate.performance.champion" in tags
    assert tags["quality_gates.data_dvc_md5"] == dvc_md5
    assert (run.scorecard_dir / "scorecard.html").is_file()
    assert run.scorecard.evaluation_run_id
    arts = {a.path for a in client.list_artifacts(run.scorecard.evaluation_run_id)}
    assert "scorecard.json" in arts
    # Production is untouched by a staging promotion.
    assert client.get_model_version_by_alias(name, "production").version == champion_version

    # Out-of-band approval: the run ended at `pending`; the submitter may not approve, a named
    # approver may; rollback restores the champion; the audit chain verifies.
    assert run.approval_state == "pending"
    policy_path = tmp_path / "policy.yaml"
    policy_path.write_text(POLICY_WITH_APPROVAL)
    common = ["--model", name, "--policy", str(policy_path), "--tracking-uri", mlflow_server]
    version = ["--version", run.promoted_version, "--comment", "reviewed"]
    assert main(["approve", *common, *version, "--as", "ci-bot@example.com"]) == 2
    assert client.get_model_version_by_alias(name, "production").version == champion_version
    assert main(["approve", *common, *version, "--as", "risk@example.com"]) == 0
    assert client.get_model_version_by_alias(name, "production").version == run.promoted_version
    assert main(["rollback", *common, "--as", "risk@example.com", "--reason", "incident"]) == 0
    assert client.get_model_version_by_alias(name, "production").version == champion_version
    audit_args = ["--model", name, "--tracking-uri", mlflow_server]
    assert main(["audit", "verify", *audit_args]) == 0
    assert main(["status", "--model", name, "--tracking-uri", mlflow_server]) == 0

    again = run_pipeline(
        model_uri=str(good.model_path),
        data_uri=str(good.data_path),
        policy_text=POLICY,
        registered_model_name=name,
        output_dir=tmp_path / "out2",
        tracking_uri=mlflow_server,
    )
    assert again.promoted_version == run.promoted_version
    assert len(client.search_model_versions(f"name='{name}'")) == 2


def test_candidate_worse_than_champion_is_not_promoted(
    mlflow_server, make_binary, tmp_path, capsys
):
    good = make_binary()
    weak = make_binary(weak=True)
    name = "pipe-fail"
    _register(mlflow_server, name, good.model_path, "production")
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    code = main(
        [
            "run",
            "--model",
            str(weak.model_path),
            "--data",
            str(weak.data_path),
            "--policy",
            str(policy),
            "--registered-model-name",
            name,
            "--tracking-uri",
            mlflow_server,
            "--output-dir",
            str(tmp_path / "out"),
        ]
    )
    out = capsys.readouterr().out
    assert code == 1
    assert "not promoted" in out
    assert "roc_auc vs champion@production" in out
    client = MlflowClient(mlflow_server)
    aliases = client.get_registered_model(name).aliases
    assert "staging" not in aliases
    md = (tmp_path / "out" / "scorecard" / "scorecard.md").read_text()
    assert "roc_auc vs champion@production" in md and "failed" in md
    # The run itself failed in the refusal step, which names the gate that blocked.
    (reasons,) = (tmp_path / "out" / "kfp-local").glob("*/refusal/reasons")
    assert "candidate refused" in out and str(reasons) in out
    assert "performance: failed" in reasons.read_text()
    log = (tmp_path / "out" / "kfp-local.log").read_text()
    assert "candidate refused: performance: failed" in log
    assert not list((tmp_path / "out" / "kfp-local").glob("*/promote"))


def test_bad_input_blocks_promotion_without_traceback(mlflow_server, binary_case, tmp_path, capsys):
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY.replace("label: target", "label: nonexistent"))
    code = main(
        [
            "run",
            "--model",
            str(binary_case.model_path),
            "--data",
            str(binary_case.data_path),
            "--policy",
            str(policy),
            "--registered-model-name",
            "pipe-bad",
            "--tracking-uri",
            mlflow_server,
            "--output-dir",
            str(tmp_path / "out"),
        ]
    )
    captured = capsys.readouterr()
    assert code == 2
    assert "Traceback" not in captured.out + captured.err
    assert "nonexistent" in captured.out
