"""Leaks and a policy bomb through ``quality-gates run`` against a real mlflow server.

The attacks of issue 13, items 8 and 9: a personal value in a feature column and a password in
the tracking URI must not appear in any message, scorecard, MLflow artifact or audit record; a
YAML alias bomb in the policy is refused at once, without expanding it.
"""

from __future__ import annotations

import json
import os
import tempfile
import urllib.parse
import uuid
from pathlib import Path

import pytest
from mlflow import MlflowClient

from quality_gates.shared.cli.main import main
from quality_gates.shared.governance import audit

pytestmark = pytest.mark.integration

SECRET_VALUE = "jane.doe.4711@example.com"
PASSWORD = "S3cret-Pa55-word"
POLICY = """
data: {label: target, exclude: [region]}
gates:
  performance:
    n_resamples: 200
    rules: [{metric: roc_auc, min: 0.6}]
approval: {approvers: [risk-officer@example.com]}
"""


def _files_text(folder: Path) -> str:
    return "\n".join(
        p.read_text(encoding="utf-8", errors="replace") for p in folder.rglob("*") if p.is_file()
    )


def _evaluation_artifacts(uri: str, name: str) -> str:
    client = MlflowClient(uri)
    texts = []
    for exp in client.search_experiments():
        for run in client.search_runs([exp.experiment_id], max_results=200):
            if run.data.tags.get("quality_gates.registered_model_name") != name:
                continue
            with tempfile.TemporaryDirectory() as tmp:
                local = client.download_artifacts(run.info.run_id, "", tmp)
                texts.append(_files_text(Path(local)))
            texts.append(json.dumps(run.data.tags) + json.dumps(run.data.params))
    return "\n".join(texts)


def test_a_personal_value_and_a_password_appear_nowhere(
    mlflow_env, binary_case, tmp_path, capsys, monkeypatch
):
    for var in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
        # Recorded as unset, so the credentials `run` moves here are gone after the test.
        monkeypatch.setenv(var, "")
        monkeypatch.delenv(var)
    name = f"leak-{uuid.uuid4().hex[:8]}"
    frame = binary_case.frame.copy()
    column = binary_case.features[0]
    frame[column] = frame[column].astype(object)
    frame.loc[frame.index[:3], column] = SECRET_VALUE
    data = tmp_path / "eval.csv"
    frame.to_csv(data, index=False)
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY, encoding="utf-8")
    parsed = urllib.parse.urlsplit(mlflow_env)
    with_password = f"http://qg-user:{PASSWORD}@{parsed.netloc}"
    out = tmp_path / "out"
    code = main(
        [
            "run", "--model", str(binary_case.model_path), "--data", str(data),
            "--policy", str(policy), "--registered-model-name", name,
            "--tracking-uri", with_password, "--output-dir", str(out),
        ]
    )  # fmt: skip
    captured = capsys.readouterr()
    said = captured.out + captured.err
    assert code != 0  # text in a numeric feature: the gate cannot evaluate
    assert f"column '{column}'" in said
    records = json.dumps(audit.read(model=name, tracking_uri=mlflow_env))
    assert "aggregation" in records  # the evidence was kept, without the value
    stored = _evaluation_artifacts(mlflow_env, name)
    assert stored  # the evaluation run exists
    for where, text in (
        ("messages", said),
        ("output folder", _files_text(out)),
        ("audit log", records),
        ("MLflow run", stored),
    ):
        assert SECRET_VALUE not in text and "jane.doe" not in text, where
        assert PASSWORD not in text, where
    assert not MlflowClient(mlflow_env).search_model_versions(f"name = '{name}'")
    # The credentials left the URI for MLflow's variables (never a pipeline parameter).
    assert os.environ.get("MLFLOW_TRACKING_PASSWORD") == PASSWORD


def test_a_yaml_alias_bomb_is_refused_without_expanding(mlflow_env, binary_case, tmp_path, capsys):
    layers = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):  # 10**9 values once expanded
        prev = chr(ord("a") + i - 1)
        cur = chr(ord("a") + i)
        layers.append(f"{cur}: &{cur} [{', '.join('*' + prev for _ in range(10))}]")
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("\n".join(layers) + "\ngates: {performance: {rules: *i}}\n", encoding="utf-8")
    code = main(
        [
            "run", "--model", str(binary_case.model_path), "--data", str(binary_case.data_path),
            "--policy", str(bomb), "--registered-model-name", f"bomb-{uuid.uuid4().hex[:6]}",
            "--tracking-uri", mlflow_env, "--output-dir", str(tmp_path / "out"),
        ]
    )  # fmt: skip
    said = capsys.readouterr()
    text = said.out + said.err
    assert code == 2
    assert "alias" in text and len(text) < 2000
