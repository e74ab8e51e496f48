"""PII through the whole pipeline: leaked personal data blocks promotion and is never echoed."""

import re

import joblib
import pandas as pd
import pytest
from mlflow import MlflowClient

from quality_gates.shared.cli.main import main
from quality_gates.shared.demo.data import make_credit_data, train_models

pytestmark = pytest.mark.slow

POLICY = """
data: {label: default, positive_label: 1, exclude: [applicant_id, sex, age_band, notes]}
gates:
  performance:
    n_resamples: 100
    rules: [{metric: roc_auc, min: 0.6}]
  pii:
    max_findings: 0
"""


def test_leaked_emails_block_promotion_and_never_appear_in_outputs(mlflow_server, tmp_path, capsys):
    train = make_credit_data(n_rows=4000, seed=3)
    leaky = make_credit_data(n_rows=2000, seed=4, pii_rate=0.05)
    train.to_parquet(tmp_path / "train.parquet", index=False)
    leaky.to_parquet(tmp_path / "eval.parquet", index=False)
    joblib.dump(train_models(train, seed=3)["champion"], tmp_path / "model.joblib")
    (tmp_path / "policy.yaml").write_text(POLICY)
    out_dir = tmp_path / "out"
    code = main(
        [
            "run",
            "--model",
            str(tmp_path / "model.joblib"),
            "--data",
            str(tmp_path / "eval.parquet"),
            "--train-data",
            str(tmp_path / "train.parquet"),
            "--policy",
            str(tmp_path / "policy.yaml"),
            "--registered-model-name",
            "pii-pipe",
            "--tracking-uri",
            mlflow_server,
            "--output-dir",
            str(out_dir),
        ]
    )
    printed = capsys.readouterr()
    assert code == 1
    assert "blocked by pii" in printed.out and "notes" in printed.out
    client = MlflowClient(mlflow_server)
    models = client.search_registered_models("name='pii-pipe'")
    assert not models or "staging" not in models[0].aliases

    emails = set(re.findall(r"[\w.+-]+@[\w-]+\.[\w.]+", " ".join(leaky["notes"].astype(str))))
    assert emails, "the fixture must contain e-mail addresses"
    texts = [printed.out, printed.err]
    texts += [p.read_text(errors="ignore") for p in out_dir.rglob("*") if p.is_file()]
    for text in texts:
        found = [e for e in emails if e in text]
        assert not found, f"raw PII leaked into an output: {found[:3]}"
    # The masked evidence is there instead.
    card = (out_dir / "scorecard" / "scorecard.json").read_text()
    assert "***@" in card


def test_check_pii_cli(tmp_path, capsys):
    clean = make_credit_data(n_rows=1000, seed=5)
    clean.to_csv(tmp_path / "clean.csv", index=False)
    leaky = make_credit_data(n_rows=1000, seed=5, pii_rate=0.05)
    leaky.to_csv(tmp_path / "leaky.csv", index=False)
    (tmp_path / "policy.yaml").write_text(POLICY)
    policy = ["--policy", str(tmp_path / "policy.yaml")]
    assert main(["check", "pii", "--data", str(tmp_path / "clean.csv"), *policy]) == 0
    assert main(["check", "pii", "--data", str(tmp_path / "leaky.csv"), *policy]) == 1
    assert "notes" in capsys.readouterr().out
    pd.DataFrame({"a": []}).to_csv(tmp_path / "empty.csv", index=False)
    assert main(["check", "pii", "--data", str(tmp_path / "empty.csv"), *policy]) == 2
