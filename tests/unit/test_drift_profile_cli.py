"""``quality-gates drift profile``: write a profile, store it with a model version, gate with it."""

import json
import uuid

import mlflow
import numpy as np
import pandas as pd
import pytest

from quality_gates.components.drift_gate import profile
from quality_gates.shared.cli.main import main

POLICY = """\
data:
  label: target
  exclude: [customer_id]
gates:
  drift:
    n_resamples: 200
    numeric: {max: 0.1}
    categorical: {max: 0.1}
"""


def _table(n: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "customer_id": np.arange(n),
            "amount": rng.gamma(2.0, 50.0, n) + 50.0 * shift,
            "age": rng.normal(40.0, 10.0, n),
            "channel": rng.choice(["web", "app", "store"], n),
            "target": rng.integers(0, 2, n),
        }
    )


@pytest.fixture
def files(tmp_path):
    _table(20_000, 1).to_parquet(tmp_path / "train.parquet")
    _table(5_000, 2).to_parquet(tmp_path / "new.parquet")
    _table(5_000, 3, shift=1.0).to_parquet(tmp_path / "moved.parquet")
    (tmp_path / "policy.yaml").write_text(POLICY)
    return tmp_path


def _profile_argv(tmp_path, *more: str) -> list[str]:
    data, policy = str(tmp_path / "train.parquet"), str(tmp_path / "policy.yaml")
    return ["drift", "profile", "--data", data, "--policy", policy, *more]


def _check(tmp_path, data: str, reference: str, capsys) -> tuple[int, dict]:
    capsys.readouterr()
    argv = ["check", "drift", "--data", str(tmp_path / data), "--reference-data", reference]
    code = main([*argv, "--policy", str(tmp_path / "policy.yaml"), "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_profile_leaves_out_the_label_and_excluded_columns_and_gates_like_the_table(files, capsys):
    out = files / "reference.profile.json"
    assert main(_profile_argv(files, "--out", str(out))) == 0
    doc = json.loads(out.read_text())
    assert doc["format"] == profile.FORMAT and doc["schema_version"] == profile.SCHEMA_VERSION
    assert list(doc["columns"]) == ["amount", "age", "channel"]
    assert set(doc["skipped"]) == {"customer_id", "target"} and doc["rows"] == 20_000
    assert doc["source"]["sha256"].startswith("sha256:")
    assert doc["columns"]["channel"]["counts"] and doc["columns"]["age"]["cdf"]["ks_bound"] > 0
    for data, expected in (("new.parquet", 0), ("moved.parquet", 1)):
        by_table = _check(files, data, str(files / "train.parquet"), capsys)
        by_profile = _check(files, data, str(out), capsys)
        assert by_table[0] == by_profile[0] == expected
        statuses = [[c["status"] for c in r[1]["checks"]] for r in (by_table, by_profile)]
        assert statuses[0] == statuses[1]
        assert by_profile[1]["inputs"]["reference_data"] == profile.digest_of(out.read_bytes())


def test_profile_needs_somewhere_to_go(files, capsys):
    assert main(_profile_argv(files)) == 2
    assert "--out" in capsys.readouterr().err


def _model_version(tracking_uri: str) -> str:
    """A registered model version made from a run, as a training pipeline makes one."""
    client = mlflow.MlflowClient(tracking_uri)
    experiment = client.create_experiment(f"profile-{uuid.uuid4().hex[:8]}")
    run = client.create_run(experiment)
    name = f"credit-{uuid.uuid4().hex[:8]}"
    client.create_registered_model(name)
    mv = client.create_model_version(name, f"runs:/{run.info.run_id}/model", run.info.run_id)
    client.set_registered_model_alias(name, "candidate", mv.version)
    return f"models:/{name}/{mv.version}"


def test_log_to_a_model_version_then_gate_with_models_uri(files, mlflow_env, capsys):
    version_uri = _model_version(mlflow_env)
    assert main(_profile_argv(files, "--log-to", version_uri)) == 0
    assert f"stored with {version_uri}" in capsys.readouterr().err
    name = version_uri.split("/")[1]
    client = mlflow.MlflowClient(mlflow_env)
    mv = client.get_model_version(name, "1")
    stored = mv.tags["quality_gates." + profile.DIGEST_TAG]
    for reference in (version_uri, f"models:/{name}@candidate"):
        code, result = _check(files, "moved.parquet", reference, capsys)
        assert code == 1 and result["inputs"]["reference_data"] == stored
    by_table = _check(files, "moved.parquet", str(files / "train.parquet"), capsys)[1]
    assert [c["status"] for c in result["checks"]] == [c["status"] for c in by_table["checks"]]


def test_a_version_without_a_profile_is_a_one_line_error(files, mlflow_env, capsys):
    version_uri = _model_version(mlflow_env)
    code, result = _check(files, "new.parquet", version_uri, capsys)
    assert code == 2 and result["status"] == "error"
    assert "has no drift reference profile" in result["error"]
    assert f"--log-to {version_uri}" in result["error"] and "\n" not in result["error"]
    name = version_uri.split("/")[1]
    code, result = _check(files, "new.parquet", f"models:/{name}@nope", capsys)
    assert code == 2 and "alias 'nope'" in result["error"]
    capsys.readouterr()
    assert main(_profile_argv(files, "--log-to", f"models:/{name}/77")) == 2
    assert "version 77 not found" in capsys.readouterr().err
