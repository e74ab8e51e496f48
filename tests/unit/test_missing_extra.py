"""A gate whose optional extra is not installed: an `error` naming the extra and its pip command.

The missing package is simulated the way Python itself sees an uninstalled one: ``None`` in
``sys.modules`` makes every ``import`` of it raise ``ModuleNotFoundError`` (with its ``name``).
The gate's evaluation is wrapped so that it imports the package first, as its lazy imports do:
a gate may hold objects of the package cached from an earlier test and never import it again.
"""

from __future__ import annotations

import importlib
import sys

import joblib
import pytest
import yaml

from quality_gates.shared.contracts.gates import gate
from quality_gates.shared.contracts.results import Status
from quality_gates.shared.demo.data import make_credit_data, train_models
from quality_gates.shared.gates.runner import GateInputs, run_gate

DATA_SPEC = {
    "label": "default",
    "positive_label": 1,
    "exclude": ["applicant_id", "sex", "age_band", "notes"],
}

# (gate, a package its extra provides)
CASES = [("pii", "phonenumbers"), ("explainability", "shap"), ("fairness", "fairlearn")]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("missing-extra")
    df = make_credit_data(n_rows=3000, seed=4)
    train, evaluation = df[:2000], df[2000:].reset_index(drop=True)
    joblib.dump(train_models(train)["candidate"], root / "model.joblib")
    train.to_csv(root / "train.csv", index=False)
    evaluation.to_parquet(root / "eval.parquet", index=False)
    return root


def _hide(monkeypatch, package: str) -> None:
    """Make ``package`` and every submodule of it unimportable, as if never installed."""
    for name in [m for m in sys.modules if m == package or m.startswith(package + ".")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, package, None)


@pytest.mark.parametrize(("name", "package"), CASES)
def test_a_missing_extra_is_an_error_naming_the_extra(demo, monkeypatch, name, package):
    spec = gate(name)
    module_name, _, function = spec.evaluate.partition(":")
    module = importlib.import_module(module_name)
    real = getattr(module, function)

    def needs_the_package(ctx):
        importlib.import_module(package)
        return real(ctx)

    monkeypatch.setattr(module, function, needs_the_package)
    _hide(monkeypatch, package)
    inputs = GateInputs(
        data_uri=str(demo / "eval.parquet"),
        model_uri=str(demo / "model.joblib"),
        train_data_uri=str(demo / "train.csv"),
        policy_text=yaml.safe_dump({"data": DATA_SPEC, "gates": {name: spec.example}}),
        policy_source="policy.yaml",
    )
    result = run_gate(spec, inputs)
    assert result.status == Status.ERROR and not result.passed
    message = result.error or ""
    assert f"the {name} gate needs the '{spec.extra}' extra" in message
    assert f"pip install 'kfp-quality-gates[{spec.extra}]'" in message
    assert package in message
    assert "\n" not in message and "likely a bug" not in message


def test_a_gate_without_an_extra_names_the_missing_package(monkeypatch):
    spec = gate("performance")
    assert spec.extra is None
    error = spec.missing_module(ModuleNotFoundError("No module named 'skops'", name="skops"))
    assert "'skops'" in str(error) and "pip install kfp-quality-gates" in str(error)
