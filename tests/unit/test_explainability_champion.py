"""Attribution drift against the champion, with a real MLflow registry (sqlite, no server)."""

import joblib
import pytest

from quality_gates.shared.contracts.results import Status
from quality_gates.shared.demo.data import make_credit_data, train_models
from quality_gates.shared.demo.run import log_sklearn_model
from quality_gates.shared.gates.runner import check


def run_explainability_gate(**kw):
    return check("explainability", **kw)


POLICY = """
data: {label: default, exclude: [applicant_id, sex, age_band, notes]}
gates:
  explainability:
    sampling: {explain_rows: 120, background_rows: 50}
    max_share: {max: 0.9}
    champion: {alias: production, min_rank_correlation: 0.5, top_moved: 3, if_missing: %s}
"""


def test_champion_drift_identical_passes_moved_fails_missing_follows_policy(tmp_path, monkeypatch):
    import mlflow
    from mlflow import MlflowClient

    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    df = make_credit_data(n_rows=3000, seed=2)
    models = train_models(df.iloc[:2000])
    df.iloc[2000:].to_parquet(tmp_path / "eval.parquet", index=False)
    joblib.dump(models["candidate"], tmp_path / "candidate.joblib")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    client = MlflowClient(uri)
    exp = client.create_experiment("x", artifact_location=(tmp_path / "artifacts").as_uri())
    versions = {}
    for name in ("candidate", "weak"):
        with mlflow.start_run(experiment_id=exp) as run:
            log_sklearn_model(models[name])
        mv = mlflow.register_model(f"runs:/{run.info.run_id}/model", "credit")
        versions[name] = str(mv.version)

    def run(if_missing="skip", **kw):
        return run_explainability_gate(
            model_uri=str(tmp_path / "candidate.joblib"),
            data_uri=str(tmp_path / "eval.parquet"),
            policy_text=POLICY % if_missing,
            registered_model_name="credit",
            tracking_uri=uri,
            **kw,
        )

    client.set_registered_model_alias("credit", "production", versions["candidate"])
    same = run()
    assert same.status == Status.PASSED, same.summary
    check = next(c for c in same.checks if c.name.startswith("attribution rank correlation"))
    assert check.value == pytest.approx(1.0)
    assert same.metrics["champion_rank_correlation"] == pytest.approx(1.0)
    assert same.inputs["champion_model"].startswith("sha256:")
    assert same.details["champion_comparison"]["version"] == versions["candidate"]
    assert any(t["title"].startswith("Champion comparison") for t in same.details["tables"])
    assert any("champion" in i["title"] for i in same.details["images"])

    # The weak champion is driven by two columns only: the candidate's drivers moved far.
    client.set_registered_model_alias("credit", "production", versions["weak"])
    moved = run()
    assert moved.status == Status.FAILED
    check = next(c for c in moved.checks if c.name.startswith("attribution rank correlation"))
    assert check.value < 0.5 and len(check.details["moved_most"]) == 3
    assert "moved most" in check.message

    # The alias parameter wins over the policy; an alias nobody holds follows if_missing.
    skipped = run(champion_alias="nobody")
    assert skipped.status == Status.PASSED
    assert next(c for c in skipped.checks if "champion" in c.name).status == Status.SKIPPED
    blocked = run("block", champion_alias="nobody")
    assert blocked.status == Status.FAILED and "no champion" in blocked.summary
    no_name = run_explainability_gate(
        model_uri=str(tmp_path / "candidate.joblib"),
        data_uri=str(tmp_path / "eval.parquet"),
        policy_text=POLICY % "skip",
        tracking_uri=uri,
    )
    assert no_name.status == Status.ERROR and "registered-model-name" in no_name.error
