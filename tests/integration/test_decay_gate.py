"""The decay gate on real models and a real MLflow registry.

The candidate learnt a shortcut: a column that tracked the label in the training period and
stopped doing so in production (a field an upstream system changed meaning of). Offline it beats
the champion; on a production sample where the shortcut is gone it is worse, and the decay gate
says so. On a production sample where nothing changed it passes. Seeds and the shortcut are the
test's own, not the demo's.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import joblib
import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml
from mlflow import MlflowClient

from quality_gates.shared.contracts.results import Status
from quality_gates.shared.demo.data import FEATURES, make_credit_data, train_models
from quality_gates.shared.gates.runner import GateInputs, run_gate

pytestmark = pytest.mark.integration

DATA = {"label": "default", "positive_label": 1,
        "exclude": ["applicant_id", "sex", "age_band", "notes", "event_time"]}  # fmt: skip


def _with_shortcut(frame: pd.DataFrame, *, seed: int, works: bool) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    out = frame.copy()
    signal = out["default"].to_numpy() if works else rng.random(len(out)) < out["default"].mean()
    out["channel_score"] = signal * 1.0 + rng.normal(0.0, 0.8, len(out))
    # Requests of the last week, as a production log would stamp them.
    ages = pd.to_timedelta(rng.uniform(0.0, 7.0, len(out)), unit="D")
    out["event_time"] = pd.Timestamp(datetime.now(UTC)) - ages
    return out


@pytest.fixture(scope="module")
def world(tmp_path_factory, mlflow_server):
    root = tmp_path_factory.mktemp("decay")
    train = _with_shortcut(make_credit_data(n_rows=8000, seed=21), seed=1, works=True)
    candidate = train_models(train, seed=3, features=[*FEATURES, "channel_score"])["candidate"]
    champion = train_models(train, seed=3)["champion"]
    joblib.dump(candidate, root / "candidate.joblib")
    samples = {
        "offline": _with_shortcut(make_credit_data(n_rows=4000, seed=22), seed=2, works=True),
        "broken": _with_shortcut(make_credit_data(n_rows=4000, seed=23), seed=3, works=False),
        "steady": _with_shortcut(make_credit_data(n_rows=4000, seed=24), seed=4, works=True),
    }
    for name, frame in samples.items():
        frame.to_parquet(root / f"{name}.parquet", index=False)
    name = "decay-credit"
    mlflow.set_tracking_uri(mlflow_server)
    with mlflow.start_run() as run:
        mlflow.sklearn.log_model(champion, name="model", serialization_format="cloudpickle")
    client = MlflowClient(mlflow_server)
    client.create_registered_model(name)
    mv = client.create_model_version(name, f"runs:/{run.info.run_id}/model", run.info.run_id)
    client.set_registered_model_alias(name, "production", mv.version)
    return root, name, mlflow_server


def _policy(**section) -> str:
    decay = {
        "n_resamples": 400,
        "rules": [{"metric": "roc_auc", "min": 0.6}],
        "champion": {
            "n_resamples": 400,
            "if_missing": "block",
            "rules": [{"metric": "roc_auc", "margin": 0.01, "rationale": "no worse on traffic"}],
        },
        "sample": {"time_column": "event_time", "max_age_days": 30},
        **section,
    }
    return yaml.safe_dump({"data": DATA, "gates": {"decay": decay}}, sort_keys=False)


def _decay(world, sample, **section):
    """The decay gate on a sample: a name of the world's samples, or a path."""
    root, name, uri = world
    path = root / f"{sample}.parquet" if isinstance(sample, str) else sample
    return run_gate(
        "decay",
        GateInputs(
            data_uri="",
            production_data_uri=str(path),
            model_uri=str(root / "candidate.joblib"),
            policy_text=_policy(**section),
            registered_model_name=name,
            tracking_uri=uri,
        ),
    )


def _champion_check(result):
    (check,) = [c for c in result.checks if c.family == "champion"]
    return check


def test_a_candidate_worse_on_production_traffic_is_refused(world):
    result = _decay(world, "broken")
    assert result.status == Status.FAILED, result.summary
    check = _champion_check(result)
    assert check.decision == "fail" and check.ci_high < -0.01
    assert "roc_auc" in check.message and "champion" in check.message
    assert result.metrics["champion_roc_auc"] > result.metrics["roc_auc"]
    assert result.inputs["production_data"].startswith("sha256:")
    assert result.inputs["champion_model"].startswith("sha256:")


def test_the_same_candidate_passes_where_traffic_is_unchanged(world):
    for sample in ("offline", "steady"):
        result = _decay(world, sample)
        assert result.status == Status.PASSED, (sample, result.summary)
        assert _champion_check(result).decision == "pass"


def test_a_small_sample_is_inconclusive_not_a_pass(world, tmp_path):
    root = world[0]
    small = pd.read_parquet(root / "broken.parquet").iloc[:150]
    small.to_parquet(tmp_path / "small.parquet", index=False)
    result = _decay(world, tmp_path / "small.parquet", min_rows_per_class=5, rules=[])
    check = _champion_check(result)
    assert check.decision in ("inconclusive", "fail")
    assert result.status == Status.FAILED  # on_inconclusive: block (the default)


def test_a_stale_sample_fails_its_recency_rule(world, tmp_path):
    root = world[0]
    stale = pd.read_parquet(root / "steady.parquet")
    stale["event_time"] = stale["event_time"] - pd.Timedelta(days=90)
    stale.to_parquet(tmp_path / "stale.parquet", index=False)
    result = _decay(world, tmp_path / "stale.parquet")
    assert result.status == Status.FAILED
    (recency,) = [c for c in result.checks if c.family == "sample"]
    assert recency.status == Status.FAILED and "days old" in recency.message


def test_no_production_sample_is_an_error_naming_the_flag(world):
    root, name, uri = world
    result = run_gate(
        "decay",
        GateInputs(
            data_uri=str(root / "offline.parquet"),
            model_uri=str(root / "candidate.joblib"),
            policy_text=_policy(),
            registered_model_name=name,
            tracking_uri=uri,
        ),
    )
    assert result.status == Status.ERROR and "--production-data" in result.error


@pytest.mark.slow
def test_the_pipeline_refuses_a_candidate_that_decays_on_production(world, tmp_path, capsys):
    """Through kfp.local: the decay task blocks, the refusal names it, nothing is staged."""
    from quality_gates.shared.cli.main import main

    root, name, uri = world
    (root / "policy.yaml").write_text(_policy(rules=[]))
    code = main(
        [
            "run",
            "--model", str(root / "candidate.joblib"),
            "--data", str(root / "offline.parquet"),
            "--production-data", str(root / "broken.parquet"),
            "--policy", str(root / "policy.yaml"),
            "--registered-model-name", name,
            "--tracking-uri", uri,
            "--output-dir", str(tmp_path / "out"),
        ]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 1, out
    assert "blocked by decay / roc_auc vs champion@production" in out
    (reasons,) = (tmp_path / "out" / "kfp-local").glob("*/refusal/reasons")
    assert "decay: failed" in reasons.read_text()
    (verdict,) = (tmp_path / "out" / "kfp-local").glob("*/decay-gate/verdict")
    assert json.loads(verdict.read_text())["status"] == "failed"
    versions = MlflowClient(uri).search_model_versions(f"name='{name}'")
    assert [v.version for v in versions] == ["1"]  # only the champion: nothing staged
