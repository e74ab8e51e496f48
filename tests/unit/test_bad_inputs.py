"""Bad input never passes and never crashes: status `error`, one actionable line, exit code 2."""

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.svm import LinearSVC

from quality_gates.components.performance_gate.core import run_performance_gate
from quality_gates.shared.cli import main
from quality_gates.shared.results import Status

POLICY = """
data: {label: target, exclude: [region]}
gates:
  performance:
    n_resamples: 100
    rules:
      - {metric: roc_auc, min: 0.6}
"""


def _mutate(case, tmp_path, kind):
    """Return (model_uri, data_uri, policy_text) for one kind of bad input."""
    model, data, policy = str(case.model_path), str(case.data_path), POLICY
    frame = case.frame.copy()
    if kind == "model file missing":
        model = str(tmp_path / "nope.joblib")
    elif kind == "model unknown extension":
        (tmp_path / "m.txt").write_text("hello")
        model = str(tmp_path / "m.txt")
    elif kind == "model corrupt":
        (tmp_path / "bad.joblib").write_bytes(b"\x80\x04garbage")
        model = str(tmp_path / "bad.joblib")
    elif kind == "model is not a model":
        joblib.dump({"weights": [1, 2]}, tmp_path / "dict.joblib")
        model = str(tmp_path / "dict.joblib")
    elif kind == "data file missing":
        data = str(tmp_path / "missing.csv")
    elif kind == "data empty":
        frame.iloc[:0].to_csv(tmp_path / "empty.csv", index=False)
        data = str(tmp_path / "empty.csv")
    elif kind == "data corrupt parquet":
        (tmp_path / "bad.parquet").write_bytes(b"PAR1 this is not parquet")
        data = str(tmp_path / "bad.parquet")
    elif kind == "label column missing":
        frame.drop(columns=["target"]).to_csv(tmp_path / "nolabel.csv", index=False)
        data = str(tmp_path / "nolabel.csv")
    elif kind == "nan in label":
        frame["target"] = frame["target"].astype(float)
        frame.loc[3, "target"] = np.nan
        frame.to_csv(tmp_path / "nan.csv", index=False)
        data = str(tmp_path / "nan.csv")
    elif kind == "feature column missing":
        frame.drop(columns=["f2"]).to_csv(tmp_path / "nofeat.csv", index=False)
        data = str(tmp_path / "nofeat.csv")
    elif kind == "labels not in model classes":
        frame["target"] = np.where(frame["target"] == 1, "yes", "no")
        frame.to_csv(tmp_path / "text.csv", index=False)
        data = str(tmp_path / "text.csv")
    elif kind == "single class":
        frame["target"] = 0
        frame.to_csv(tmp_path / "one.csv", index=False)
        data = str(tmp_path / "one.csv")
    elif kind == "no performance section":
        policy = "data: {label: target}\n"
    elif kind == "no rules":
        policy = "data: {label: target}\ngates: {performance: {}}\n"
    elif kind == "invalid yaml":
        policy = "gates: {performance: [\n"
    elif kind == "unknown policy key":
        policy = POLICY.replace("rules:", "rulez:")
    elif kind == "scores needed but model has none":
        X = frame[case.features]
        joblib.dump(LinearSVC().fit(X, frame["target"]), tmp_path / "svc.joblib")
        model = str(tmp_path / "svc.joblib")
    elif kind == "regression metric on classifier":
        policy = POLICY.replace("metric: roc_auc, min: 0.6", "metric: rmse, max: 0.3")
    elif kind == "slice column missing":
        policy = POLICY + "    slices:\n      - {column: country, metric: recall, min: 0.5}\n"
    elif kind == "positive label not a class":
        policy = POLICY.replace("label: target,", "label: target, positive_label: 7,")
    elif kind == "champion without model name":
        policy = POLICY + "    champion:\n      rules: [{metric: roc_auc, margin: 0.01}]\n"
    elif kind == "score column not numeric":
        frame["p"] = "high"
        frame.to_csv(tmp_path / "p.csv", index=False)
        data = str(tmp_path / "p.csv")
        policy = POLICY.replace("label: target,", "label: target, score: p,")
    else:
        raise AssertionError(kind)
    return model, data, policy


KINDS = [
    ("model file missing", "nope.joblib"),
    ("model unknown extension", "m.txt"),
    ("model corrupt", "bad.joblib"),
    ("model is not a model", "predict"),
    ("data file missing", "missing.csv"),
    ("data empty", "empty.csv"),
    ("data corrupt parquet", "bad.parquet"),
    ("label column missing", "target"),
    ("nan in label", "target"),
    ("feature column missing", "f2"),
    ("labels not in model classes", "classes"),
    ("single class", "roc_auc"),
    ("no rules", "no rules"),
    ("invalid yaml", "YAML"),
    ("unknown policy key", "rulez"),
    ("scores needed but model has none", "predict_proba"),
    ("regression metric on classifier", "rmse"),
    ("slice column missing", "country"),
    ("positive label not a class", "positive_label"),
    ("champion without model name", "registered model name"),
    ("score column not numeric", "p"),
]


@pytest.mark.parametrize("kind, fragment", KINDS, ids=[k for k, _ in KINDS])
def test_bad_input_gives_error_with_one_actionable_line(binary_case, tmp_path, kind, fragment):
    model, data, policy = _mutate(binary_case, tmp_path, kind)
    r = run_performance_gate(model_uri=model, data_uri=data, policy_text=policy)
    assert r.status == Status.ERROR, (kind, r.summary)
    assert not r.passed
    message = r.error or ""
    assert message and "\n" not in message
    assert "Traceback" not in message
    assert fragment.lower() in message.lower(), message


@pytest.mark.parametrize(
    "kind", ["model file missing", "label column missing", "unknown policy key", "no rules"]
)
def test_cli_exit_code_2_and_no_traceback(binary_case, tmp_path, capsys, kind):
    model, data, policy = _mutate(binary_case, tmp_path, kind)
    policy_path = tmp_path / "p.yaml"
    policy_path.write_text(policy)
    code = main(
        ["check", "performance", "--model", model, "--data", data, "--policy", str(policy_path)]
    )
    out, err = capsys.readouterr()
    assert code == 2
    assert "Traceback" not in out + err


def test_cli_missing_policy_file(binary_case, tmp_path, capsys):
    code = main(
        [
            "check",
            "performance",
            "--model",
            str(binary_case.model_path),
            "--data",
            str(binary_case.data_path),
            "--policy",
            str(tmp_path / "none.yaml"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: ") and "none.yaml" in err and len(err.strip().splitlines()) == 1


def test_cli_exit_codes_pass_warn_fail(binary_case, tmp_path, capsys):
    def run(rule):
        path = tmp_path / "p.yaml"
        path.write_text(POLICY.replace("{metric: roc_auc, min: 0.6}", rule))
        return main(
            [
                "check",
                "performance",
                "--model",
                str(binary_case.model_path),
                "--data",
                str(binary_case.data_path),
                "--policy",
                str(path),
                "--json",
            ]
        )

    assert run("{metric: roc_auc, min: 0.6}") == 0
    assert run("{metric: roc_auc, min: 0.999, severity: warn}") == 0
    assert run("{metric: roc_auc, min: 0.999}") == 1
    out = capsys.readouterr().out
    assert '"status": "failed"' in out


def test_cli_label_flag_overrides_policy(binary_case, tmp_path):
    frame = pd.read_csv(binary_case.data_path).rename(columns={"target": "y"})
    frame.to_csv(binary_case.data_path, index=False)
    path = tmp_path / "p.yaml"
    path.write_text(POLICY)
    assert (
        main(
            [
                "check",
                "performance",
                "--model",
                str(binary_case.model_path),
                "--data",
                str(binary_case.data_path),
                "--policy",
                str(path),
                "--label",
                "y",
            ]
        )
        == 0
    )


def test_absent_section_is_skipped_and_check_refuses(binary_case, tmp_path, capsys):
    r = run_performance_gate(
        model_uri=str(binary_case.model_path),
        data_uri=str(binary_case.data_path),
        policy_text="data: {label: target}\n",
    )
    assert r.status == Status.SKIPPED and not r.passed
    path = tmp_path / "p.yaml"
    path.write_text("data: {label: target}\n")
    code = main(
        [
            "check",
            "performance",
            "--model",
            str(binary_case.model_path),
            "--data",
            str(binary_case.data_path),
            "--policy",
            str(path),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and "gates.performance is not configured" in err
