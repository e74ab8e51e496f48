"""Bad input never passes and never crashes: status `error`, one actionable line, exit code 2."""

import json
import os
import subprocess
import sys

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.svm import LinearSVC

from quality_gates.shared.cli.main import main
from quality_gates.shared.contracts.results import Status
from quality_gates.shared.gates.runner import check
from quality_gates.shared.governance import audit


def run_performance_gate(**kw):
    return check("performance", **kw)


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
    elif kind == "semicolon separated":
        frame.to_csv(tmp_path / "semi.csv", index=False, sep=";", decimal=",")
        data = str(tmp_path / "semi.csv")
    elif kind == "label is a model input":
        policy = POLICY.replace("label: target,", "label: f0,")
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
    ("single class", "class 1 has 0 rows"),
    ("no rules", "no rules"),
    ("invalid yaml", "YAML"),
    ("unknown policy key", "rulez"),
    ("scores needed but model has none", "predict_proba"),
    ("regression metric on classifier", "rmse"),
    ("slice column missing", "country"),
    ("positive label not a class", "positive_label"),
    ("champion without model name", "registered model name"),
    ("score column not numeric", "p"),
    ("semicolon separated", "semicolon-separated"),
    ("label is a model input", "input feature"),
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


def _check_argv(case, policy_path, *extra):
    return [
        "check",
        "performance",
        "--model",
        str(case.model_path),
        "--data",
        str(case.data_path),
        "--policy",
        str(policy_path),
        *extra,
    ]


def test_cli_gate_error_is_one_line_on_stderr(binary_case, tmp_path, capsys):
    # Exit 2 promises a line on stderr: a CI log that keeps only stderr must say why.
    (tmp_path / "p.yaml").write_text(POLICY)
    binary_case.frame.iloc[:0].to_csv(binary_case.data_path, index=False)
    code = main(_check_argv(binary_case, tmp_path / "p.yaml"))
    out, err = capsys.readouterr()
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: performance gate: ")
    assert "0 rows" in lines[0] and "Traceback" not in out + err


def test_cli_check_all_json_is_the_scorecard_even_for_one_gate(binary_case, tmp_path, capsys):
    # A script reading `check all --json` must not depend on how many gates the policy has.
    (tmp_path / "p.yaml").write_text(POLICY)
    argv = _check_argv(binary_case, tmp_path / "p.yaml", "--json")
    assert main(["check", "all", *argv[2:]]) == 0
    card = json.loads(capsys.readouterr().out)
    assert "decision" in card and [r["gate"] for r in card["results"]] == ["performance"]
    assert main(argv) == 0
    single = json.loads(capsys.readouterr().out)
    assert single["gate"] == "performance" and "decision" not in single


def test_cli_report_dir_blocked_by_a_file_is_one_line(binary_case, tmp_path, capsys):
    (tmp_path / "p.yaml").write_text(POLICY)
    blocker = tmp_path / "reports"
    blocker.write_text("not a folder")
    code = main(_check_argv(binary_case, tmp_path / "p.yaml", "--report-dir", str(blocker)))
    err = capsys.readouterr().err
    assert code == 2 and "unexpected" not in err
    assert "--report-dir" in err and "a file is in the way" in err and "writable folder" in err


def test_cli_policy_that_is_a_directory(binary_case, tmp_path, capsys):
    code = main(_check_argv(binary_case, tmp_path))
    err = capsys.readouterr().err
    assert code == 2 and "is a directory; pass the path of the policy YAML file" in err


def test_cli_duplicate_policy_key_is_refused(binary_case, tmp_path, capsys):
    # The second section would silently replace the strict first one.
    strict = "  performance: {rules: [{metric: roc_auc, min: 0.999}]}"
    lax = "  performance: {n_resamples: 0, rules: [{metric: roc_auc, min: 0.1}]}"
    (tmp_path / "p.yaml").write_text(f"data: {{label: target}}\ngates:\n{strict}\n{lax}\n")
    code = main(_check_argv(binary_case, tmp_path / "p.yaml"))
    assert code == 2 and "'performance' twice" in capsys.readouterr().err


def _cli(*args: str) -> list[str]:
    return [
        sys.executable,
        "-c",
        "import sys; from quality_gates.shared.cli.main import main; sys.exit(main(sys.argv[1:]))",
        *args,
    ]


def test_cli_reader_closing_the_pipe_keeps_the_exit_code(tmp_path):
    # `quality-gates audit show ... | head -1`: the records were shown, the command succeeded.
    records, prev = [], audit.GENESIS
    for i in range(1, 4):
        r = audit.make_record(
            seq=i, prev_sha256=prev, model="m", event="promotion", version=str(i), actor="a@b.c"
        )
        records.append(r)
        prev = r["sha256"]
    log = tmp_path / "log.jsonl"
    log.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in records))
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    for action in ("show", "verify"):
        proc = subprocess.Popen(
            _cli("audit", action, "--file", str(log)),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        proc.stdout.close()  # the reader is gone before the command prints anything
        err = proc.stderr.read().decode()
        assert proc.wait(timeout=120) == 0, err
        assert "BrokenPipe" not in err and "Traceback" not in err


def test_cli_audit_of_an_unknown_model_is_an_error_not_a_broken_chain(tmp_path, capsys):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    for action in ("show", "verify"):
        code = main(["audit", action, "--model", "no-such-model", "--tracking-uri", uri])
        err = capsys.readouterr().err
        assert code == 2, (action, err)
        assert "registered model 'no-such-model' not found" in err and "--tracking-uri" in err


def test_cli_submit_refuses_a_relative_local_path_before_connecting(tmp_path, capsys):
    policy = tmp_path / "p.yaml"
    policy.write_text(POLICY)
    argv = ["submit", "--host", "http://127.0.0.1:9", "--policy", str(policy)]
    argv += ["--registered-model-name", "m", "--data-uri", "s3://bucket/eval.parquet"]
    code = main([*argv, "--model-uri", "model.joblib"])
    err = capsys.readouterr().err
    assert code == 2 and "--model-uri model.joblib is a relative local path" in err
    assert "unreachable" not in err  # refused locally, no request made
    code = main([*argv, "--model-uri", "models:/m/1", "--param", "train_data_uri=train.csv"])
    assert code == 2 and "train_data_uri train.csv" in capsys.readouterr().err


def test_cli_wait_for_approval_without_approvers_is_refused_before_running(tmp_path, capsys):
    # The manual approval step would fail only after the candidate was promoted to staging.
    policy = tmp_path / "p.yaml"
    policy.write_text(POLICY)
    out = tmp_path / "out"
    argv = ["--policy", str(policy), "--registered-model-name", "m"]
    code = main(
        ["run", "--model", "m.joblib", "--data", "d.csv", *argv, "--approval-mode", "wait"]
        + ["--output-dir", str(out), "--tracking-uri", f"sqlite:///{tmp_path / 'r.db'}"]
    )
    err = capsys.readouterr().err
    assert code == 2 and "approval mode 'wait' needs an 'approval' section" in err
    assert not out.exists() and not (tmp_path / "r.db").exists()
    code = main(
        ["submit", "--host", "http://127.0.0.1:9", *argv, "--model-uri", "models:/m/1"]
        + ["--data-uri", "s3://b/eval.parquet", "--param", "approval_mode=wait"]
    )
    err = capsys.readouterr().err
    assert code == 2 and "approval_mode=wait needs an 'approval' section" in err


def test_cli_check_all_says_a_shared_error_once(binary_case, tmp_path, capsys):
    (tmp_path / "p.yaml").write_text(POLICY + "  pii: {max_findings: 0}\n")
    binary_case.frame.iloc[:0].to_csv(binary_case.data_path, index=False)
    argv = _check_argv(binary_case, tmp_path / "p.yaml")
    assert main(["check", "all", *argv[2:]]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: performance, pii gates: "), lines
