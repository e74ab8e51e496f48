"""The contract every registered gate keeps, run against each one the registry lists.

Each gate is run with its declaration's ``example`` section on a small copy of the demo's data and
candidate, then with broken inputs. A gate passes its example, and every broken input gives status
``error`` with one actionable line, never a pass and never a traceback; a gate that raises inside
its evaluation is contained the same way; the result survives a JSON round trip; the CLI exits
0 / 2. A new gate folder is covered the moment it is registered.
"""

from __future__ import annotations

import json

import joblib
import numpy as np
import pytest
import yaml

from quality_gates.shared.cli.main import main as cli
from quality_gates.shared.contracts.gates import GateSpec, gate_names, gates
from quality_gates.shared.contracts.results import GateResult, Status
from quality_gates.shared.demo.data import make_credit_data, train_models
from quality_gates.shared.gates import session as session_module
from quality_gates.shared.gates.runner import GateInputs, run_gate, run_gates

GATES = [pytest.param(s, id=s.name) for s in gates()]
DATA_SPEC = {
    "label": "default",
    "positive_label": 1,
    "exclude": ["applicant_id", "sex", "age_band", "notes"],
}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """A small demo: training CSV, evaluation Parquet and the candidate trained on the former."""
    root = tmp_path_factory.mktemp("contract")
    df = make_credit_data(n_rows=4000, seed=3)
    train, evaluation = df[:2500], df[2500:].reset_index(drop=True)
    joblib.dump(train_models(train)["candidate"], root / "model.joblib")
    train.to_csv(root / "train.csv", index=False)
    evaluation.to_parquet(root / "eval.parquet", index=False)
    return root, evaluation


def _policy(spec: GateSpec, section=None, data=None) -> str:
    doc = {
        "data": data or DATA_SPEC,
        "gates": {spec.name: spec.example if section is None else section},
    }
    return yaml.safe_dump(doc, sort_keys=False)


def _inputs(demo, spec: GateSpec, **over) -> GateInputs:
    root, _ = demo
    given = dict(
        data_uri=str(root / "eval.parquet"),
        model_uri=str(root / "model.joblib"),
        train_data_uri=str(root / "train.csv") if "train_data" in spec.inputs else None,
        reference_data_uri=str(root / "train.csv") if "reference_data" in spec.inputs else None,
        policy_text=_policy(spec),
        policy_source="contract.yaml",
    )
    given.update(over)
    if "production_data" in spec.inputs and "production_data_uri" not in over:
        # The decay gate judges the production sample: the broken-data cases reach it there.
        given["production_data_uri"] = given["data_uri"]
    if "request_log" in spec.inputs and "request_log_uri" not in over:
        # The shadow gate scores the request log (the demo's data read as one): the same.
        given["request_log_uri"] = given["data_uri"]
    return GateInputs(**given)


def _judged_role(spec: GateSpec) -> str:
    for role in ("production_data", "request_log"):
        if role in spec.inputs:
            return role
    return "data"


def _assert_error(result: GateResult, *fragments: str) -> None:
    assert result.status == Status.ERROR, (result.status, result.summary)
    assert not result.passed
    message = result.error or ""
    assert message and "\n" not in message and "Traceback" not in message, message
    for fragment in fragments:
        assert fragment.lower() in message.lower(), message
    assert result.inputs.get("policy", "").startswith("sha256:")


@pytest.mark.parametrize("spec", GATES)
def test_example_passes_and_the_result_round_trips(demo, spec):
    assert spec.example, f"gate {spec.name} declares no example section"
    result = run_gate(spec, _inputs(demo, spec))
    assert result.status in (Status.PASSED, Status.WARNED), result.summary
    assert result.gate == spec.name
    judged = _judged_role(spec)
    assert result.inputs[judged].startswith("sha256:")
    if "model" in spec.inputs:
        assert result.inputs["model"].startswith("sha256:")
    for package in spec.report_packages:
        assert result.versions.get(package) not in (None, "not installed")
    again = GateResult.from_json(result.to_json())
    assert json.loads(again.to_json()) == json.loads(result.to_json())


def _bad_data(tmp_path, kind: str, frame) -> str:
    path = tmp_path / f"{kind}.parquet"
    if kind == "corrupt":
        path.write_bytes(b"PAR1 this is not a parquet file at all")
    elif kind == "empty":
        path = tmp_path / "empty.csv"
        path.write_bytes(b"")
    elif kind == "missing":
        path = tmp_path / "absent.parquet"
    elif kind == "no_rows":
        frame.iloc[:0].to_parquet(path, index=False)
    return str(path)


@pytest.mark.parametrize("kind", ["corrupt", "empty", "missing", "no_rows"])
@pytest.mark.parametrize("spec", GATES)
def test_unreadable_data_is_an_error(demo, tmp_path, spec, kind):
    bad = _bad_data(tmp_path, kind, demo[1])
    _assert_error(run_gate(spec, _inputs(demo, spec, data_uri=bad)))


@pytest.mark.parametrize("spec", GATES)
def test_policy_typo_is_an_error_naming_the_key(demo, spec):
    section = {**spec.example, "thresholdz": 1}
    result = run_gate(spec, _inputs(demo, spec, policy_text=_policy(spec, section)))
    _assert_error(result, "thresholdz")


@pytest.mark.parametrize("spec", GATES)
def test_not_configured_is_skipped_and_the_cli_refuses_it(demo, spec, tmp_path, capsys):
    text = yaml.safe_dump({"data": DATA_SPEC, "gates": {}})
    result = run_gate(spec, _inputs(demo, spec, policy_text=text))
    assert result.status == Status.SKIPPED and not result.passed
    policy = tmp_path / "p.yaml"
    policy.write_text(text)
    root, _ = demo
    code = cli(
        [
            "check",
            spec.name,
            "--data",
            str(root / "eval.parquet"),
            "--policy",
            str(policy),
            "--model",
            str(root / "model.joblib"),
        ]
    )
    assert code == 2
    assert f"gates.{spec.name}" in capsys.readouterr().err


@pytest.mark.parametrize("spec", GATES)
def test_a_gate_that_raises_is_an_error_with_one_line(demo, spec, monkeypatch):
    module_name, _, function = spec.evaluate.partition(":")
    module = __import__(module_name, fromlist=[function])

    def boom(ctx):
        raise RuntimeError("evaluation broke\nsecond line of detail")

    monkeypatch.setattr(module, function, boom)
    _assert_error(run_gate(spec, _inputs(demo, spec)), "evaluation broke")


@pytest.mark.parametrize("spec", [s for s in GATES if s.values[0].extra])
def test_a_missing_extra_names_the_pip_command(demo, spec, monkeypatch):
    module_name, _, function = spec.evaluate.partition(":")
    module = __import__(module_name, fromlist=[function])

    def missing(ctx):
        raise ModuleNotFoundError("No module named 'somepkg'", name="somepkg")

    monkeypatch.setattr(module, function, missing)
    _assert_error(
        run_gate(spec, _inputs(demo, spec)), f"pip install 'kfp-quality-gates[{spec.extra}]'"
    )


def _mutated(demo, tmp_path, kind: str) -> str:
    frame = demo[1].copy()
    if kind == "nan_label":
        frame["default"] = frame["default"].astype(float)
        frame.loc[frame.index[::7], "default"] = np.nan
    elif kind == "label_renamed":
        frame = frame.rename(columns={"default": "target"})
    elif kind == "feature_renamed":
        frame = frame.rename(columns={"income": "income_eur"})
    elif kind == "text_in_numbers":
        frame["income"] = frame["income"].astype(object)
        frame.loc[frame.index[3], "income"] = "unknown"
    # CSV: a text cell in a number column is what a broken upstream export looks like.
    path = tmp_path / f"{kind}.csv"
    frame.to_csv(path, index=False)
    return str(path)


LABEL_CASES = ["nan_label", "label_renamed"]
FEATURE_CASES = ["feature_renamed", "text_in_numbers"]


@pytest.mark.parametrize("kind", LABEL_CASES)
@pytest.mark.parametrize("spec", [s for s in GATES if "labels" in s.values[0].inputs])
def test_bad_labels_are_an_error(demo, tmp_path, spec, kind):
    result = run_gate(spec, _inputs(demo, spec, data_uri=_mutated(demo, tmp_path, kind)))
    _assert_error(result, "default")


@pytest.mark.parametrize("kind", FEATURE_CASES)
@pytest.mark.parametrize("spec", [s for s in GATES if "predictions" in s.values[0].inputs])
def test_model_and_data_that_do_not_match_are_an_error(demo, tmp_path, spec, kind):
    result = run_gate(spec, _inputs(demo, spec, data_uri=_mutated(demo, tmp_path, kind)))
    _assert_error(result, "income")
    assert "unknown" not in (result.error or "")  # a cell is never quoted


@pytest.mark.parametrize("spec", [s for s in GATES if "model" in s.values[0].inputs])
def test_a_corrupt_model_file_is_an_error(demo, tmp_path, spec):
    bad = tmp_path / "model.joblib"
    bad.write_bytes(b"not a pickle")
    _assert_error(run_gate(spec, _inputs(demo, spec, model_uri=str(bad))), "model.joblib")


@pytest.mark.parametrize("spec", GATES)
def test_cli_exit_codes(demo, spec, tmp_path, capsys):
    root, _ = demo
    policy = tmp_path / "p.yaml"
    policy.write_text(_policy(spec))
    args = ["check", spec.name, "--policy", str(policy), "--model", str(root / "model.joblib")]
    if "train_data" in spec.inputs:
        args += ["--train-data", str(root / "train.csv")]
    if "reference_data" in spec.inputs:
        args += ["--reference-data", str(root / "train.csv")]
    data_flags = ["--data"] + (["--production-data"] if "production_data" in spec.inputs else [])
    data_flags += ["--request-log"] if "request_log" in spec.inputs else []
    good = [x for flag in data_flags for x in (flag, str(root / "eval.parquet"))]
    absent = [x for flag in data_flags for x in (flag, str(tmp_path / "absent.csv"))]
    assert cli([*args, *good]) == 0
    capsys.readouterr()
    assert cli([*args, *absent]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:"), err


def test_check_all_loads_each_input_once(demo, monkeypatch):
    """One process, every gate: the model is loaded once, each table read once."""
    loads, reads = [], []
    real_load, real_read = session_module.load_model, session_module.read_table
    monkeypatch.setattr(
        session_module, "load_model", lambda uri, **kw: loads.append(uri) or real_load(uri, **kw)
    )
    monkeypatch.setattr(
        session_module, "read_table", lambda uri: reads.append(uri) or real_read(uri)
    )
    sections = {s.name: s.example for s in gates()}
    text = yaml.safe_dump({"data": DATA_SPEC, "gates": sections}, sort_keys=False)
    root, _ = demo
    results = run_gates(
        list(gate_names()),
        GateInputs(
            data_uri=str(root / "eval.parquet"),
            train_data_uri=str(root / "train.csv"),
            reference_data_uri=str(root / "train.csv"),
            production_data_uri=str(root / "eval.parquet"),
            request_log_uri=str(root / "eval.parquet"),
            model_uri=str(root / "model.joblib"),
            policy_text=text,
        ),
    )
    assert all(r.passed for r in results.values()), {g: r.summary for g, r in results.items()}
    assert loads == [str(root / "model.joblib")]
    assert sorted(reads) == sorted({str(root / "eval.parquet"), str(root / "train.csv")})
