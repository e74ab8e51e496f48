"""Model loading, evidence logging and promotion against a real ``mlflow server``."""

from __future__ import annotations

import uuid
from pathlib import Path

import joblib
import mlflow
import mlflow.sklearn
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from sklearn.linear_model import LogisticRegression

from quality_gates.shared.contracts.digests import sha256_bytes, sha256_file, sha256_tree
from quality_gates.shared.contracts.errors import GateInputError
from quality_gates.shared.contracts.results import CheckResult, GateResult, Status, finalize
from quality_gates.shared.contracts.scorecard import Scorecard, decide
from quality_gates.shared.governance.registry import (
    MAX_TAG_VALUE,
    TAG_PREFIX,
    Promotion,
    log_evaluation_run,
    promote,
    scorecard_digest,
)
from quality_gates.shared.io.models import load_model, model_digest, predict, resolve_alias

pytestmark = pytest.mark.integration

FEATURES = ["age", "income", "tenure", "score"]
PIP = ["scikit-learn", "skops"]  # explicit requirements: skips MLflow's slow inference


def _data(seed: int = 0, n: int = 200) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = pd.DataFrame(rng.normal(size=(n, len(FEATURES))), columns=FEATURES)
    y = (x["age"] + 0.5 * x["income"] + rng.normal(scale=0.5, size=n) > 0).astype(int).to_numpy()
    return x, y


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, np.ndarray]:
    return _data()


@pytest.fixture(scope="module")
def model_a(data):
    x, y = data
    return LogisticRegression(C=1.0).fit(x, y)


@pytest.fixture(scope="module")
def model_b(data):
    x, y = data
    return LogisticRegression(C=0.01).fit(x, y)


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _log_with_mlflow(model, x: pd.DataFrame, experiment: str) -> tuple[str, str]:
    """Log like a user does: mlflow.sklearn.log_model in a run. Returns (run_id, model_id)."""
    exp = mlflow.set_experiment(experiment)
    with mlflow.start_run(experiment_id=exp.experiment_id) as run:
        info = mlflow.sklearn.log_model(
            model, name="model", input_example=x.head(3), pip_requirements=PIP
        )
    return run.info.run_id, info.model_id


def _results(digest: str, *, failed: bool = False) -> list[GateResult]:
    perf = finalize(
        gate="performance",
        checks=[
            CheckResult(
                name="roc_auc",
                value=0.91,
                threshold=0.7,
                operator=">=",
                status=Status.FAILED if failed else Status.PASSED,
            )
        ],
        metrics={"roc_auc": 0.91, "accuracy": 0.85},
        inputs={"model": digest, "data": "sha256:data", "policy": "sha256:policy"},
    )
    drift = finalize(
        gate="data_drift",
        checks=[CheckResult(name="psi.age", value=0.15, threshold=0.1, status=Status.WARNED)],
        metrics={"psi.age": 0.15},
        inputs={"model": digest, "data": "sha256:data", "policy": "sha256:policy"},
    )
    return [perf, drift]


def _scorecard(digest: str | None, *, model_uri: str, failed: bool = False, **kw) -> Scorecard:
    results = _results(digest or "", failed=failed)
    status, all_passed = decide(results)
    return Scorecard(
        decision=status,
        all_passed=all_passed,
        summary="test scorecard",
        expected_gates=[r.gate for r in results],
        results=results,
        model_uri=model_uri,
        model_digest=digest,
        data_digest="sha256:data",
        policy_digest="sha256:policy",
        registered_model_name=kw.pop("registered_model_name", None),
        lineage={"git_commit": "0123abc", "pipeline_run_id": "run-42", **kw.pop("lineage", {})},
        **kw,
    )


def _versions(client: MlflowClient, name: str) -> list[str]:
    return sorted(mv.version for mv in client.search_model_versions(f"name = '{name}'"))


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


def test_load_registered_alias_and_run_uris(mlflow_env, data, model_a, tmp_path):
    x, y = data
    client = MlflowClient(mlflow_env)
    name = _name("loader")
    run_id, model_id = _log_with_mlflow(model_a, x, _name("exp-loader"))
    client.create_registered_model(name)
    mv = client.create_model_version(name, source=f"runs:/{run_id}/model", run_id=run_id)
    client.set_registered_model_alias(name, "champion", mv.version)

    by_version = load_model(f"models:/{name}/{mv.version}", dst_dir=str(tmp_path / "dl"))
    by_alias = load_model(f"models:/{name}@champion")
    by_run = load_model(f"runs:/{run_id}/model", tracking_uri=mlflow_env)
    by_id = load_model(f"models:/{model_id}")

    assert by_version.flavor == "sklearn"
    assert isinstance(by_version.model, LogisticRegression)  # native, not a pyfunc wrapper
    assert by_version.registered_name == name and by_version.version == mv.version
    assert by_alias.version == mv.version and by_alias.registered_name == name
    assert by_run.run_id == run_id and by_version.run_id == run_id
    assert by_version.feature_names == FEATURES
    assert Path(by_version.local_path).is_relative_to(tmp_path / "dl")
    # One stored model, four ways to address it: the same bytes, hence the same digest.
    assert by_version.digest == by_alias.digest == by_run.digest == by_id.digest
    assert by_version.digest.startswith("sha256:")
    # Stable across downloads, and equal to the re-hash used by promotion.
    assert load_model(f"models:/{name}/{mv.version}").digest == by_version.digest
    assert model_digest(f"models:/{name}@champion") == by_version.digest

    preds = predict(by_alias, x)
    assert preds.y_score is not None and preds.y_score.shape == (len(x), 2)
    assert preds.classes == [0, 1]
    np.testing.assert_array_equal(preds.y_pred, model_a.predict(x))


def test_digest_changes_when_the_registered_bytes_change(mlflow_env, data, model_a, model_b):
    x, _ = data
    client = MlflowClient(mlflow_env)
    name = _name("changes")
    client.create_registered_model(name)
    digests = []
    for model in (model_a, model_b):
        run_id, _ = _log_with_mlflow(model, x, _name("exp-changes"))
        mv = client.create_model_version(name, source=f"runs:/{run_id}/model", run_id=run_id)
        digests.append(load_model(f"models:/{name}/{mv.version}").digest)
    assert digests[0] != digests[1]


def test_resolve_alias(mlflow_env, data, model_a):
    x, _ = data
    client = MlflowClient(mlflow_env)
    name = _name("alias")
    run_id, _ = _log_with_mlflow(model_a, x, _name("exp-alias"))
    client.create_registered_model(name)
    mv = client.create_model_version(name, source=f"runs:/{run_id}/model", run_id=run_id)
    client.set_registered_model_alias(name, "production", mv.version)

    assert resolve_alias(name=name, alias="production") == f"models:/{name}/{mv.version}"
    assert resolve_alias(name=name, alias="nope") is None
    # A name that does not exist is an error, never "no champion yet" (a typo would pass).
    with pytest.raises(GateInputError, match="not found") as info:
        resolve_alias(name=_name("no-such-model"), alias="production")
    assert "registered-model-name" in str(info.value)


@pytest.mark.parametrize(
    ("uri", "phrases"),
    [
        ("models:/{name}/99", ["version 99 not found"]),
        ("models:/{name}@nope", ["alias 'nope'", "not found"]),
        ("models:/{missing}/1", ["not found"]),
        ("models:/{missing}@staging", ["registered model", "not found"]),
        ("runs:/0123456789abcdef0123456789abcdef/model", ["run 0123456789abcdef", "not found"]),
    ],
)
def test_missing_mlflow_models_are_one_line_errors(mlflow_env, uri, phrases):
    client = MlflowClient(mlflow_env)
    name = _name("exists")
    client.create_registered_model(name)
    uri = uri.format(name=name, missing=_name("missing"))
    with pytest.raises(GateInputError) as info:
        load_model(uri)
    message = str(info.value)
    assert "\n" not in message
    assert mlflow_env in message  # says which tracking URI was asked
    for phrase in phrases:
        assert phrase in message


# --------------------------------------------------------------------------------------------
# Evidence
# --------------------------------------------------------------------------------------------


def test_log_evaluation_run_keeps_results_scorecard_and_reports(mlflow_server, tmp_path):
    client = MlflowClient(mlflow_server)
    card = _scorecard("sha256:abc", model_uri="models:/x/1", registered_model_name="x")
    html = tmp_path / "scorecard.html"
    html.write_text("<html><body>ok</body></html>", encoding="utf-8")
    md = tmp_path / "scorecard.md"
    md.write_text("# ok\n", encoding="utf-8")
    experiment = _name("evidence")

    run_id = log_evaluation_run(
        scorecard=card,
        experiment_name=experiment,
        report_paths={"html": str(html), "md": str(md)},
        tracking_uri=mlflow_server,
    )
    # The experiment is reused, not duplicated, by a second evaluation.
    second = log_evaluation_run(
        scorecard=card, experiment_name=experiment, tracking_uri=mlflow_server
    )
    run = client.get_run(run_id)
    assert client.get_run(second).info.experiment_id == run.info.experiment_id
    assert run.info.status == "FINISHED"

    out = tmp_path / "download"
    out.mkdir()
    for r in card.results:
        local = client.download_artifacts(run_id, f"gates/{r.gate}.json", str(out))
        text = Path(local).read_text(encoding="utf-8")
        assert text == r.to_json()
        assert GateResult.from_json(text) == r
    local = client.download_artifacts(run_id, "scorecard.json", str(out))
    logged = Scorecard.from_json(Path(local).read_text(encoding="utf-8"))
    assert logged.evaluation_run_id == run_id
    assert logged == card.model_copy(update={"evaluation_run_id": run_id})
    for report in (html, md):
        local = client.download_artifacts(run_id, f"reports/{report.name}", str(out))
        assert Path(local).read_bytes() == report.read_bytes()

    data = run.data
    assert data.params["model_digest"] == "sha256:abc"
    assert data.params["policy_digest"] == "sha256:policy"
    assert data.params["data_digest"] == "sha256:data"
    assert data.params["registered_model_name"] == "x"
    assert data.params["model_uri"] == "models:/x/1"
    assert data.metrics["performance.roc_auc"] == pytest.approx(0.91)
    assert data.metrics["performance.passed"] == 1.0
    assert data.metrics["data_drift.psi.age"] == pytest.approx(0.15)
    assert data.metrics["data_drift.passed"] == 1.0  # warned lets the model through
    assert data.tags[f"{TAG_PREFIX}decision"] == "warned"
    assert data.tags[f"{TAG_PREFIX}gate.performance"] == "passed"
    assert data.tags[f"{TAG_PREFIX}gate.data_drift"] == "warned"
    assert data.tags[f"{TAG_PREFIX}git_commit"] == "0123abc"
    assert data.tags["mlflow.source.git.commit"] == "0123abc"


# --------------------------------------------------------------------------------------------
# Promotion
# --------------------------------------------------------------------------------------------


def _version_state(client: MlflowClient, name: str) -> tuple:
    versions = client.search_model_versions(f"name = '{name}'")
    return (
        sorted((mv.version, tuple(sorted(mv.tags.items()))) for mv in versions),
        dict(client.get_registered_model(name).aliases),
    )


def test_promote_local_file_reuse_and_refusals(mlflow_env, data, model_a, model_b, tmp_path):
    x, _ = data
    client = MlflowClient(mlflow_env)
    name = _name("promote")
    path = tmp_path / "candidate.joblib"
    joblib.dump(model_a, path)
    digest = load_model(str(path)).digest
    assert digest == sha256_file(path)
    long_value = "x" * (MAX_TAG_VALUE + 100)
    card = _scorecard(digest, model_uri=str(path), registered_model_name=name)
    card.evaluation_run_id = log_evaluation_run(scorecard=card, experiment_name=_name("exp-promo"))

    first = promote(
        scorecard=card,
        model_uri=str(path),
        registered_name=name,
        lineage={"data_version": "v7", "note": long_value},
    )
    assert first == Promotion(
        name=name,
        version="1",
        alias="staging",
        created=True,
        previous_version=None,
        artifact_digest=model_digest(f"models:/{name}/1", tracking_uri=mlflow_env),
    )
    assert client.get_registered_model(name).aliases == {"staging": "1"}
    tags = client.get_model_version(name, "1").tags
    assert tags[f"{TAG_PREFIX}model_digest"] == digest
    assert tags[f"{TAG_PREFIX}policy_digest"] == "sha256:policy"
    assert tags[f"{TAG_PREFIX}data_digest"] == "sha256:data"
    assert tags[f"{TAG_PREFIX}scorecard_digest"] == scorecard_digest(card)
    assert tags[f"{TAG_PREFIX}decision"] == "warned"
    assert tags[f"{TAG_PREFIX}gate.performance"] == "passed"
    assert tags[f"{TAG_PREFIX}gate.data_drift"] == "warned"
    assert tags[f"{TAG_PREFIX}evaluation_run_id"] == card.evaluation_run_id
    assert tags[f"{TAG_PREFIX}git_commit"] == "0123abc"
    assert tags[f"{TAG_PREFIX}pipeline_run_id"] == "run-42"
    assert tags[f"{TAG_PREFIX}data_version"] == "v7"
    assert len(tags[f"{TAG_PREFIX}note"]) == MAX_TAG_VALUE
    assert tags[f"{TAG_PREFIX}note"].endswith("[truncated]")
    assert client.get_model_version(name, "1").run_id == card.evaluation_run_id

    # The registered version predicts exactly like the file the gates evaluated, and carries
    # that file's bytes for the auditor.
    staged = load_model(f"models:/{name}@staging")
    np.testing.assert_array_equal(predict(staged, x).y_score, model_a.predict_proba(x))
    original = Path(staged.local_path) / "extra_files" / path.name
    assert sha256_bytes(original.read_bytes()) == digest

    # Same bytes again (a pipeline re-run): no new version.
    again = promote(scorecard=card, model_uri=str(path), registered_name=name)
    assert again.created is False and again.version == "1" and again.previous_version == "1"
    assert _versions(client, name) == ["1"]

    before = _version_state(client, name)
    # The file changed after the gates ran: refused, registry untouched.
    joblib.dump(model_b, path)
    with pytest.raises(GateInputError, match="model bytes changed since the gates ran") as info:
        promote(scorecard=card, model_uri=str(path), registered_name=name)
    assert digest in str(info.value) and sha256_file(path) in str(info.value)
    # A failing scorecard: refused, registry untouched.
    failing = _scorecard(sha256_file(path), model_uri=str(path), failed=True)
    with pytest.raises(GateInputError, match="refusing to promote"):
        promote(scorecard=failing, model_uri=str(path), registered_name=name)
    # No digest recorded: refused.
    with pytest.raises(GateInputError, match="no model digest"):
        promote(
            scorecard=card.model_copy(update={"model_digest": None}),
            model_uri=str(path),
            registered_name=name,
        )
    assert _version_state(client, name) == before

    # The changed model, evaluated again, becomes version 2; version 1 is the previous holder.
    card_b = _scorecard(sha256_file(path), model_uri=str(path), registered_model_name=name)
    second = promote(scorecard=card_b, model_uri=str(path), registered_name=name)
    assert (second.version, second.created, second.previous_version) == ("2", True, "1")
    assert client.get_model_version(name, "2").tags[f"{TAG_PREFIX}previous.staging"] == "1"
    # Without an evaluation run in the scorecard, one is logged to hold the evidence.
    run_id = client.get_model_version(name, "2").tags[f"{TAG_PREFIX}evaluation_run_id"]
    assert client.get_run(run_id).data.tags[f"{TAG_PREFIX}decision"] == "warned"


def test_promote_skops_file(mlflow_env, data, model_a, tmp_path):
    import skops.io

    x, _ = data
    name = _name("skops")
    path = tmp_path / "candidate.skops"
    skops.io.dump(model_a, path)
    card = _scorecard(load_model(str(path)).digest, model_uri=str(path))
    done = promote(scorecard=card, model_uri=str(path), registered_name=name)
    assert done.created and done.version == "1"
    staged = load_model(f"models:/{name}@staging")
    np.testing.assert_array_equal(predict(staged, x).y_pred, model_a.predict(x))


def test_promote_run_uri_registers_by_reference(mlflow_env, data, model_a):
    x, _ = data
    client = MlflowClient(mlflow_env)
    name = _name("byref")
    run_id, model_id = _log_with_mlflow(model_a, x, _name("exp-byref"))
    uri = f"runs:/{run_id}/model"
    card = _scorecard(load_model(uri).digest, model_uri=uri)

    done = promote(scorecard=card, model_uri=uri, registered_name=name, alias="candidate")
    assert done.created and done.alias == "candidate"
    mv = client.get_model_version(name, done.version)
    assert mv.run_id == run_id
    # The registered version holds the very bytes the gates saw.
    assert model_digest(f"models:/{name}/{done.version}") == card.model_digest
    assert mv.tags[f"{TAG_PREFIX}artifact_digest"] == card.model_digest

    # A scorecard for models:/name/N of the same registered model reuses version N.
    versioned = f"models:/{name}/{done.version}"
    card_v = _scorecard(load_model(versioned).digest, model_uri=versioned)
    client.delete_model_version_tag(name, done.version, f"{TAG_PREFIX}model_digest")
    reused = promote(scorecard=card_v, model_uri=versioned, registered_name=name)
    assert (reused.version, reused.created) == (done.version, False)
    assert _versions(client, name) == [done.version]
    assert client.get_registered_model(name).aliases == {
        "candidate": done.version,
        "staging": done.version,
    }


def test_promote_local_mlflow_folder_uploads_verified_bytes(mlflow_env, data, model_a, tmp_path):
    folder = tmp_path / "model"
    mlflow.sklearn.save_model(model_a, str(folder), pip_requirements=PIP)
    card = _scorecard(load_model(str(folder)).digest, model_uri=str(folder))
    name = _name("folder")
    done = promote(scorecard=card, model_uri=str(folder), registered_name=name)
    # Uploaded as is: the registered version has exactly the digest of the evaluated folder.
    assert model_digest(f"models:/{name}/{done.version}") == card.model_digest


def test_run_artifacts_and_artifact_uris(mlflow_env, data, model_a, tmp_path):
    """Models stored as plain run artifacts (MLflow 2 style) and addressed by artifact URI."""
    x, _ = data
    client = MlflowClient(mlflow_env)
    run_id = client.create_run(client.create_experiment(_name("exp-artifacts"))).info.run_id
    folder = tmp_path / "model"
    mlflow.sklearn.save_model(model_a, str(folder), pip_requirements=PIP)
    client.log_artifacts(run_id, str(folder), "model")
    file = tmp_path / "candidate.joblib"
    joblib.dump(model_a, file)
    client.log_artifact(run_id, str(file), "files")
    artifact_uri = client.get_run(run_id).info.artifact_uri
    assert artifact_uri.startswith("mlflow-artifacts:")

    by_run = load_model(f"runs:/{run_id}/model")
    by_artifact = load_model(f"{artifact_uri}/model")
    assert by_run.digest == by_artifact.digest == sha256_tree(folder)
    assert by_run.run_id == run_id and by_run.flavor == "sklearn"
    as_file = load_model(f"runs:/{run_id}/files/candidate.joblib")
    assert as_file.digest == sha256_file(file)
    np.testing.assert_array_equal(predict(as_file, x).y_pred, model_a.predict(x))
    with pytest.raises(GateInputError, match="not found") as info:
        load_model(f"runs:/{run_id}/nope")
    assert "\n" not in str(info.value)

    # The server accepts no bare artifact URI as a version source: the verified bytes are
    # uploaded instead, unchanged.
    name = _name("artifact")
    uri = f"{artifact_uri}/model"
    done = promote(
        scorecard=_scorecard(by_artifact.digest, model_uri=uri), model_uri=uri, registered_name=name
    )
    assert done.created
    assert model_digest(f"models:/{name}/{done.version}") == by_artifact.digest

    # runs:/ of run artifacts is registered by reference.
    name = _name("runartifact")
    uri = f"runs:/{run_id}/model"
    done = promote(
        scorecard=_scorecard(by_run.digest, model_uri=uri), model_uri=uri, registered_name=name
    )
    assert client.get_model_version(name, done.version).source == uri
    assert model_digest(f"models:/{name}/{done.version}") == by_run.digest
