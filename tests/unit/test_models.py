"""Local model loading: joblib/skops files and MLflow model folders, digests, one-line errors."""

from __future__ import annotations

import socket
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
import skops.io
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from quality_gates.shared.contracts.digests import sha256_file, sha256_tree
from quality_gates.shared.contracts.errors import GateInputError
from quality_gates.shared.io.models import (
    LoadedModel,
    is_local_model_file,
    load_model,
    model_digest,
    predict,
    resolve_alias,
)

FEATURES = ["a", "b", "c"]


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(1)
    x = pd.DataFrame(rng.normal(size=(120, 3)), columns=FEATURES)
    y = np.where(x["a"] - x["b"] > 0, "yes", "no")
    return x, y


@pytest.fixture(scope="module")
def clf(data):
    x, y = data
    return make_pipeline(StandardScaler(), LogisticRegression()).fit(x, y)


@pytest.fixture(scope="module")
def other_clf(data):
    x, y = data
    return RandomForestClassifier(n_estimators=5, random_state=0).fit(x, y)


def _one_line_error(uri: str, *phrases: str) -> str:
    with pytest.raises(GateInputError) as info:
        load_model(uri)
    message = str(info.value)
    assert "\n" not in message and "Traceback" not in message
    for phrase in phrases:
        assert phrase in message, message
    return message


# --------------------------------------------------------------------------------------------
# Local files
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".joblib", ".pkl", ".skops"])
def test_local_file_loads_with_stable_digest(tmp_path, data, clf, other_clf, suffix):
    x, y = data
    path = tmp_path / f"model{suffix}"
    dump = skops.io.dump if suffix == ".skops" else joblib.dump
    dump(clf, path)

    first = load_model(str(path))
    second = load_model(str(path))
    assert first.flavor == "sklearn"
    assert first.local_path == str(path)
    assert first.digest == second.digest == sha256_file(path) == model_digest(str(path))
    assert first.feature_names == FEATURES
    assert first.registered_name is None and first.version is None and first.run_id is None
    assert is_local_model_file(str(path))

    preds = predict(first, x)
    assert preds.classes == ["no", "yes"]
    np.testing.assert_array_equal(preds.y_pred, clf.predict(x))
    np.testing.assert_allclose(preds.y_score, clf.predict_proba(x))

    dump(other_clf, path)  # other bytes, same path
    assert load_model(str(path)).digest != first.digest
    assert model_digest(str(path)) == sha256_file(path)


def test_file_uri_and_mlflow_folder(tmp_path, data, clf):
    import mlflow.sklearn

    x, _ = data
    folder = tmp_path / "mlflow-model"
    mlflow.sklearn.save_model(clf, str(folder), pip_requirements=["scikit-learn", "skops"])
    loaded = load_model(str(folder))
    assert loaded.flavor == "sklearn"
    assert loaded.model.__class__.__name__ == "Pipeline"  # native estimator, not pyfunc
    assert loaded.digest == sha256_tree(folder) == model_digest(str(folder))
    assert load_model(folder.as_uri()).digest == loaded.digest
    assert load_model(str(folder / "MLmodel")).digest == loaded.digest
    np.testing.assert_allclose(predict(loaded, x).y_score, clf.predict_proba(x))

    (folder / "extra.txt").write_text("changed", encoding="utf-8")
    assert model_digest(str(folder)) != loaded.digest


def test_pyfunc_only_model(tmp_path, data):
    import mlflow.pyfunc

    class SumModel(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input, params=None):
            return model_input.sum(axis=1)

    x, _ = data
    folder = tmp_path / "pyfunc-model"
    mlflow.pyfunc.save_model(str(folder), python_model=SumModel(), pip_requirements=["mlflow"])
    loaded = load_model(str(folder))
    assert loaded.flavor == "pyfunc"
    preds = predict(loaded, x)
    np.testing.assert_allclose(preds.y_pred, x.sum(axis=1).to_numpy())
    assert preds.y_score is None and preds.classes is None


def test_predict_reorders_columns_and_ignores_extras(tmp_path, data, clf):
    x, _ = data
    path = tmp_path / "m.joblib"
    joblib.dump(clf, path)
    loaded = load_model(str(path))
    shuffled = x[["c", "a", "b"]].assign(label=1, id=range(len(x)))
    np.testing.assert_array_equal(predict(loaded, shuffled).y_pred, clf.predict(x))


def test_model_without_feature_names(tmp_path, data):
    x, y = data
    est = LogisticRegression().fit(x.to_numpy(), y)
    path = tmp_path / "arrays.joblib"
    joblib.dump(est, path)
    loaded = load_model(str(path))
    assert loaded.feature_names is None
    np.testing.assert_array_equal(predict(loaded, x).y_pred, est.predict(x.to_numpy()))
    with pytest.raises(GateInputError, match="expects 3 features but the evaluation data has 2"):
        predict(loaded, x[["a", "b"]])


# --------------------------------------------------------------------------------------------
# Errors: one actionable line each
# --------------------------------------------------------------------------------------------


def test_missing_file(tmp_path):
    missing = tmp_path / "nope.joblib"
    _one_line_error(str(missing), "does not exist", str(missing))


def test_unknown_extension(tmp_path):
    path = tmp_path / "model.txt"
    path.write_text("not a model", encoding="utf-8")
    _one_line_error(str(path), "unsupported model file extension '.txt'", ".joblib", ".skops")


@pytest.mark.parametrize("suffix", [".joblib", ".pkl", ".skops"])
def test_corrupt_file(tmp_path, suffix):
    path = tmp_path / f"broken{suffix}"
    path.write_bytes(b"\x00\x01 definitely not a serialised estimator \xff" * 10)
    _one_line_error(str(path), "cannot load model file", str(path))


def test_truncated_joblib(tmp_path, clf):
    path = tmp_path / "truncated.joblib"
    joblib.dump(clf, path)
    path.write_bytes(path.read_bytes()[:200])
    _one_line_error(str(path), "cannot load model file", "joblib")


def test_not_a_model(tmp_path):
    path = tmp_path / "dict.joblib"
    joblib.dump({"weights": [1, 2, 3]}, path)
    _one_line_error(str(path), "not a model", "no predict method", "dict")


def test_folder_without_mlmodel(tmp_path):
    _one_line_error(str(tmp_path), "not an MLflow model", "no MLmodel file")


def test_empty_uri():
    _one_line_error("  ", "no model URI given")


def test_malformed_models_uri():
    _one_line_error("models:/name/latest", "is not a number")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again when the block exits


def test_unreachable_server_is_one_line():
    uri = f"http://127.0.0.1:{_closed_port()}"
    with pytest.raises(GateInputError) as info:
        load_model("models:/credit/1", tracking_uri=uri)
    message = str(info.value)
    assert "\n" not in message
    assert uri in message and "unreachable" in message and "MLFLOW_TRACKING_URI" in message
    with pytest.raises(GateInputError, match="unreachable"):
        resolve_alias(name="credit", alias="staging", tracking_uri=uri)


def test_missing_feature_columns_are_named(tmp_path, data, clf):
    x, _ = data
    path = tmp_path / "m.joblib"
    joblib.dump(clf, path)
    loaded = load_model(str(path))
    with pytest.raises(GateInputError) as info:
        predict(loaded, x.drop(columns=["a", "c"]))
    message = str(info.value)
    assert "\n" not in message
    assert "a, c" in message and "2 of the 3 feature columns" in message


def test_predict_failure_is_one_line(tmp_path, data, clf):
    x, _ = data
    path = tmp_path / "m.joblib"
    joblib.dump(clf, path)
    loaded = load_model(str(path))
    bad = x.assign(a="not a number")
    with pytest.raises(GateInputError, match="failed to predict") as info:
        predict(loaded, bad)
    assert "\n" not in str(info.value)


def test_nan_predictions_are_refused(data):
    x, _ = data
    loaded = LoadedModel(
        model=_NanModel(), uri="memory://nan", digest="sha256:0", local_path="", flavor="sklearn"
    )
    with pytest.raises(GateInputError, match=r"NaN or infinite predictions for 60 of 120 rows"):
        predict(loaded, x)


def test_nan_probabilities_are_refused(data):
    x, _ = data
    loaded = LoadedModel(
        model=_NanProbaModel(), uri="memory://p", digest="sha256:0", local_path="", flavor="sklearn"
    )
    with pytest.raises(GateInputError, match="NaN or infinite probabilities"):
        predict(loaded, x)


def test_wrong_prediction_length(data):
    x, _ = data
    loaded = LoadedModel(
        model=_ShortModel(), uri="memory://s", digest="sha256:0", local_path="", flavor="sklearn"
    )
    with pytest.raises(GateInputError, match="returned 3 values predictions for 120 rows"):
        predict(loaded, x)


def test_empty_data(tmp_path, data, clf):
    x, _ = data
    path = tmp_path / "m.joblib"
    joblib.dump(clf, path)
    with pytest.raises(GateInputError, match="no rows"):
        predict(load_model(str(path)), x.iloc[:0])


def test_local_path_is_not_mistaken_for_a_uri():
    assert not is_local_model_file("models:/m/1")
    assert not is_local_model_file(str(Path("/tmp/model-folder")))


# --------------------------------------------------------------------------------------------
# Test doubles for outputs a real estimator does not produce (NaN, wrong length)
# --------------------------------------------------------------------------------------------


class _NanModel(BaseEstimator):
    def predict(self, x):
        out = np.zeros(len(x))
        out[::2] = np.nan
        return out


class _NanProbaModel(BaseEstimator, ClassifierMixin):
    classes_ = np.array([0, 1])

    def predict(self, x):
        return np.zeros(len(x), dtype=int)

    def predict_proba(self, x):
        p = np.full((len(x), 2), 0.5)
        p[0, 0] = np.nan
        return p


class _ShortModel(BaseEstimator):
    def predict(self, x):
        return np.zeros(3)


# --------------------------------------------------------------------------------------------
# Lineage (shared/lineage.py): provenance that goes with the model digest
# --------------------------------------------------------------------------------------------


def _no_ci_env(monkeypatch):
    for name in (
        "GIT_COMMIT",
        "GITHUB_SHA",
        "CI_COMMIT_SHA",
        "QUALITY_GATES_PIPELINE_RUN_ID",
        "KFP_RUN_ID",
        "GITHUB_RUN_ID",
        "CI_PIPELINE_ID",
    ):
        monkeypatch.delenv(name, raising=False)


def test_git_commit_from_a_real_repository(tmp_path, monkeypatch):
    import shutil
    import subprocess

    from quality_gates.shared.io.lineage import git_commit, git_dirty

    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    _no_ci_env(monkeypatch)
    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-C", str(repo)]
    subprocess.run([*git, "init", "-q"], check=True)
    (repo / "train.py").write_text("print(1)\n", encoding="utf-8")
    subprocess.run([*git, "add", "train.py"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "init"], check=True)
    head = subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True)

    assert git_commit(str(repo / "train.py")) == head.stdout.strip()
    assert git_dirty(str(repo)) is False
    (repo / "train.py").write_text("print(2)\n", encoding="utf-8")
    assert git_dirty(str(repo)) is True
    monkeypatch.setenv("GITHUB_SHA", "abc123")  # CI knows better than the checkout
    assert git_commit(str(repo)) == "abc123"
    monkeypatch.delenv("GITHUB_SHA")
    outside = tmp_path / "not-a-repo"
    outside.mkdir()
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    assert git_commit(str(outside)) is None


def test_dvc_md5_and_collect_lineage(tmp_path, monkeypatch):
    from quality_gates.shared.io.lineage import collect_lineage, dvc_md5

    _no_ci_env(monkeypatch)
    monkeypatch.setenv("KFP_RUN_ID", "kfp-run-7")
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "eval.csv"
    data.write_text("a,b\n1,2\n", encoding="utf-8")
    assert dvc_md5(str(data)) is None
    (tmp_path / "eval.csv.dvc").write_text(
        "outs:\n- md5: 0cc175b9c0f1b6a831c399e269772661\n  size: 8\n  path: eval.csv\n",
        encoding="utf-8",
    )
    assert dvc_md5(str(data)) == "0cc175b9c0f1b6a831c399e269772661"
    assert dvc_md5("s3://bucket/eval.csv") is None

    lineage = collect_lineage(
        model_digest="sha256:m",
        data_digest="sha256:d",
        policy_digest=None,
        data_path=str(data),
        extra={"pipeline_name": "gated", "empty": "", "none": None},
    )
    assert lineage["model_digest"] == "sha256:m" and lineage["data_digest"] == "sha256:d"
    assert lineage["data_dvc_md5"] == "0cc175b9c0f1b6a831c399e269772661"
    assert lineage["pipeline_run_id"] == "kfp-run-7"
    assert lineage["pipeline_name"] == "gated"
    assert lineage["version.scikit-learn"]
    assert "policy_digest" not in lineage and "empty" not in lineage and "none" not in lineage
    assert lineage["created_at"].endswith("Z")
    assert all(isinstance(v, str) for v in lineage.values())
    override = collect_lineage(
        model_digest=None,
        data_digest=None,
        policy_digest=None,
        extra={"pipeline_run_id": "from-kfp"},
    )
    assert override["pipeline_run_id"] == "from-kfp"


@pytest.mark.parametrize(
    "uri", ["models:/credit/1", "models:/credit@production", "runs:/abc/model"]
)
def test_registry_sqlite_file_that_does_not_exist_is_named_and_not_created(
    tmp_path, monkeypatch, uri
):
    # MLflow's default is sqlite:///mlflow.db in the working folder: a lookup would create it
    # empty and then report the model missing; the forgotten URI deserves its own message.
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    with pytest.raises(GateInputError) as info:
        load_model(uri, tracking_uri="sqlite:///mlflow.db")
    message = str(info.value)
    assert "\n" not in message and "does not exist" in message and uri in message
    assert "--tracking-uri" in message and "MLFLOW_TRACKING_URI" in message
    assert not (tmp_path / "mlflow.db").exists()
    with pytest.raises(GateInputError, match="does not exist"):
        load_model(uri, tracking_uri=f"sqlite:///{tmp_path / 'none.db'}")
    assert not (tmp_path / "none.db").exists()


def test_label_that_is_a_model_input_is_named(tmp_path, data, clf):
    from quality_gates.shared.io.data import load_eval_data
    from quality_gates.shared.io.models import model_input
    from quality_gates.shared.policy.schema import DataSpec

    x, y = data
    path = tmp_path / "m.joblib"
    joblib.dump(clf, path)
    csv = tmp_path / "d.csv"
    x.assign(y=y).to_csv(csv, index=False)
    evald = load_eval_data(str(csv), DataSpec(label="a"))
    with pytest.raises(GateInputError) as info:
        model_input(load_model(str(path)), evald)
    message = str(info.value)
    assert "'a'" in message and "set as the label" in message and "input feature" in message


def test_predict_failure_names_the_column_and_row_never_the_value(tmp_path, data, clf):
    x, _ = data
    path = tmp_path / "m.joblib"
    joblib.dump(clf, path)
    loaded = load_model(str(path))
    bad = x.copy()
    bad["b"] = bad["b"].astype(object)
    bad.loc[4, "b"] = "jane.doe@example.org"  # a stray cell of personal data
    with pytest.raises(GateInputError) as info:
        predict(loaded, bad)
    message = str(info.value)
    assert "column 'b' mixes numbers and text" in message and "row 4" in message
    assert "jane.doe" not in message and "<value withheld>" in message
    inf = x.copy()
    inf.loc[[7, 9], "c"] = np.inf
    with pytest.raises(
        GateInputError, match=r"column 'c' holds 2 infinite value\(s\) \(first at row 7"
    ):
        predict(loaded, inf)
