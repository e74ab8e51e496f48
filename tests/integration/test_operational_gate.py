"""The operational gate on real scikit-learn models, a real MLflow registry and a real MLServer.

The champion (a logistic regression) holds ``production``; a similar candidate passes, a huge
random forest (hundreds of fully grown trees: large on disk, slow per row) is refused by the
size and the relative latency rules with the numbers in the result. A model the server cannot
load and one that fails on requests are errors naming the request.
"""

from __future__ import annotations

import mlflow
import pytest
import yaml
from mlflow import MlflowClient
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from quality_gates.shared.contracts.errors import GateInputError
from quality_gates.shared.contracts.results import Status
from quality_gates.shared.demo.data import NUMERIC_FEATURES, make_credit_data
from quality_gates.shared.gates.runner import GateInputs, run_gate
from quality_gates.shared.serving.mlserver import server_executable

pytestmark = pytest.mark.integration

DATA = {"label": "default", "positive_label": 1,
        "exclude": ["applicant_id", "sex", "age_band", "notes"]}  # fmt: skip
MEASUREMENT = {"warmup_requests": 5, "rounds": 6, "requests_per_round": 20,
               "batch_requests_per_round": 2, "batch_size": 32}  # fmt: skip
NAME = "operational-credit"


def _log(model, *, register: bool = False) -> str:
    with mlflow.start_run() as run:
        info = mlflow.sklearn.log_model(model, name="model", serialization_format="cloudpickle")
    if register:
        client = MlflowClient()
        client.create_registered_model(NAME)
        mv = client.create_model_version(NAME, f"runs:/{run.info.run_id}/model", run.info.run_id)
        client.set_registered_model_alias(NAME, "production", mv.version)
    return info.model_uri


@pytest.fixture(scope="module")
def world(tmp_path_factory, mlflow_server):
    try:
        server_executable()
    except GateInputError as exc:
        pytest.fail(str(exc), pytrace=False)
    root = tmp_path_factory.mktemp("operational")
    frame = make_credit_data(n_rows=3000, seed=31)
    x, y = frame[NUMERIC_FEATURES], frame["default"]
    frame.iloc[:500].to_parquet(root / "eval.parquet", index=False)
    mlflow.set_tracking_uri(mlflow_server)
    champion = make_pipeline(
        SimpleImputer(), StandardScaler(), LogisticRegression(max_iter=500)
    ).fit(x, y)
    _log(champion, register=True)
    candidate = make_pipeline(
        SimpleImputer(), StandardScaler(), LogisticRegression(C=0.5, max_iter=500)
    ).fit(x, y)
    forest = RandomForestClassifier(n_estimators=300, min_samples_leaf=1, random_state=0)
    uris = {
        "small": _log(candidate),
        "forest": _log(make_pipeline(SimpleImputer(), forest).fit(x, y)),
    }
    return root, uris, mlflow_server


def _run(world, model_uri: str, **section):
    root, _, tracking = world
    gate = {
        "measurement": MEASUREMENT,
        "rules": [
            {"metric": "p95_ms", "max": 500},
            {"metric": "size_mb", "max": 10},
            {"metric": "memory_mb", "max": 4000},
        ],
        "champion": {
            "if_missing": "block",
            "rules": [{"metric": "p95_ms", "max_ratio": 1.2}],
        },  # fmt: skip
        **section,
    }
    return run_gate(
        "operational",
        GateInputs(
            data_uri=str(root / "eval.parquet"),
            model_uri=model_uri,
            policy_text=yaml.safe_dump({"data": DATA, "gates": {"operational": gate}}),
            registered_model_name=NAME,
            tracking_uri=tracking,
        ),
    )


def test_a_small_candidate_like_the_champion_passes(world):
    # The machine is shared: a ratio near 1 may come out inconclusive, never shown to fail.
    relative = {"metric": "p95_ms", "max_ratio": 1.2, "on_inconclusive": "warn"}
    result = _run(world, world[1]["small"], champion={"rules": [relative]})
    assert result.status in (Status.PASSED, Status.WARNED), (
        result.summary,
        [c.message for c in result.checks],
    )
    ratio = next(c for c in result.checks if c.family == "champion")
    assert ratio.decision in ("pass", "inconclusive") and ratio.ci_low < 1.2, ratio.message
    assert {c.name: c.status for c in result.checks if c.family == "thresholds"} == {
        "p95_ms": Status.PASSED,
        "size_mb": Status.PASSED,
        "memory_mb": Status.PASSED,
    }
    for key in (
        "p50_ms",
        "p95_ms",
        "p99_ms",
        "batch_p95_ms",
        "throughput_rps",
        "size_mb",
        "memory_mb",
        "load_s",
        "champion_p95_ms",
        "p95_ms_ratio",
        "p95_ms_ratio_round_cv",
    ):
        assert key in result.metrics, key  # fmt: skip
    assert result.metrics["memory_mb"] > result.metrics["server_baseline_mb"] > 0
    # The KFP metric is the number the check judged (median of rounds), the pooled one beside.
    p95 = next(c for c in result.checks if c.name == "p95_ms")
    assert result.metrics["p95_ms"] == pytest.approx(p95.value, rel=1e-6)
    assert "p95_ms_pooled" in result.metrics and "champion_p95_ms_pooled" in result.metrics
    assert result.metrics["p95_ms_ratio"] == pytest.approx(ratio.value, rel=1e-6)
    assert result.inputs["champion_model"].startswith("sha256:")
    titles = [t["title"] for t in result.details["tables"]]
    assert "Noise over rounds (run-to-run spread)" in titles
    assert result.details["cpus_assumed"] == 1


@pytest.mark.slow
def test_a_huge_forest_is_refused_by_size_and_relative_latency(world):
    result = _run(world, world[1]["forest"])
    assert result.status == Status.FAILED
    by_name = {c.name: c for c in result.checks}
    size = by_name["size_mb"]
    assert size.status == Status.FAILED and size.value > 10
    ratio = by_name["p95_ms ratio vs champion@production"]
    assert ratio.status == Status.FAILED and ratio.decision == "fail", ratio.message
    assert ratio.ci_low > 1.2 and "shown to violate" in ratio.message
    assert result.metrics["size_mb"] > 10 * result.metrics["champion_size_mb"]


class _NeedsTheProject(mlflow.pyfunc.PythonModel):
    """Loads only where kfp-quality-gates is installed: not in the model server's venv."""

    def load_context(self, context):
        import quality_gates.shared  # noqa: F401

    def predict(self, context, model_input, params=None):
        return [0] * len(model_input)


def _pyfunc(root, name: str, model) -> str:
    path = root / name
    mlflow.pyfunc.save_model(str(path), python_model=model, pip_requirements=["mlflow"])
    return str(path)


def test_a_model_the_server_cannot_load_is_an_error_naming_the_request(world):
    root = world[0]
    result = _run(world, _pyfunc(root, "needs-project", _NeedsTheProject()), champion=None)
    assert result.status == Status.ERROR
    message = result.error or ""
    assert "POST /v2/repository/models/candidate/load" in message and "\n" not in message
    assert "needs-project" in message


def test_a_model_that_fails_on_requests_is_an_error_naming_the_request(world):
    class FailsOnOneRow(mlflow.pyfunc.PythonModel):
        # Defined here, so cloudpickle stores it by value and the server can load it.
        def predict(self, context, model_input, params=None):
            if len(model_input) == 1:
                raise ValueError("one row is not supported")
            return [0] * len(model_input)

    result = _run(world, _pyfunc(world[0], "fails-one-row", FailsOnOneRow()), champion=None)
    assert result.status == Status.ERROR
    message = result.error or ""
    assert "POST /v2/models/candidate/infer (1 row) returned" in message, message
    assert "one row is not supported" not in message
