"""Gates fed KFP artifacts (Model, Dataset) judge the same bytes as when fed URIs.

Through kfp.local: an importer stands for the upstream training task, the artifact files carry
no suffix (as KFP names them), and the verdict's digests and numbers must equal those of the
URI run; an input given both ways is an `error` verdict, never a guess.
"""

import json
import shutil
from pathlib import Path

import pytest
from kfp import dsl, local
from kfp.dsl import Dataset, Model

from quality_gates.components.performance_gate.component import performance_gate
from quality_gates.shared.contracts.errors import GateInputError
from quality_gates.shared.contracts.results import GateResult, Status
from quality_gates.shared.gates.artifacts import model_path, resolve_inputs

POLICY = """
data: {label: target, exclude: [region]}
gates:
  performance:
    n_resamples: 200
    rules:
      - {metric: roc_auc, min: 0.6}
"""


@pytest.fixture
def kfp_local(tmp_path):
    root = tmp_path / "root"
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(root))
    return root


def _suffixless(src: Path, dst: Path) -> Path:
    shutil.copyfile(src, dst)
    return dst


def _verdict(task) -> GateResult:
    return GateResult.from_json(Path(task.outputs["verdict"].path).read_text())


def test_artifacts_give_the_verdict_of_the_uris(binary_case, kfp_local, tmp_path):
    model_file = _suffixless(binary_case.model_path, tmp_path / "model")
    data_file = _suffixless(binary_case.data_path, tmp_path / "eval")

    @dsl.pipeline(name="gate-on-artifacts")
    def on_artifacts(policy: str) -> bool:
        model = dsl.importer(
            artifact_uri=str(model_file), artifact_class=Model, metadata={"format": "joblib"}
        )
        data = dsl.importer(artifact_uri=str(data_file), artifact_class=Dataset)
        gate = performance_gate(policy=policy, model=model.output, data=data.output)
        return gate.outputs["Output"]

    assert on_artifacts(policy=POLICY).output is True
    (verdict_path,) = kfp_local.glob("*/performance-gate/verdict")
    from_artifacts = GateResult.from_json(verdict_path.read_text())
    from_uris = _verdict(
        performance_gate(
            policy=POLICY,
            model_uri=str(binary_case.model_path),
            data_uri=str(binary_case.data_path),
        )
    )
    assert from_artifacts.status == from_uris.status == Status.PASSED
    for key in ("model", "data", "policy"):
        assert from_artifacts.inputs[key] == from_uris.inputs[key], key
    assert from_artifacts.metrics == pytest.approx(from_uris.metrics)


def test_an_input_given_as_artifact_and_uri_is_an_error_verdict(binary_case, kfp_local):
    @dsl.pipeline(name="gate-given-twice")
    def twice(policy: str, model_uri: str, data_uri: str) -> bool:
        model = dsl.importer(artifact_uri=model_uri, artifact_class=Model)
        gate = performance_gate(
            policy=policy, model=model.output, model_uri=model_uri, data_uri=data_uri
        )
        return gate.outputs["Output"]

    passed = twice(
        policy=POLICY,
        model_uri=str(binary_case.model_path),
        data_uri=str(binary_case.data_path),
    ).output
    assert passed is False
    (verdict_path,) = kfp_local.glob("*/performance-gate/verdict")
    result = GateResult.from_json(verdict_path.read_text())
    assert result.status == Status.ERROR
    assert "given twice" in result.error and "model_uri" in result.error


class _Art:
    def __init__(self, path, metadata=None):
        self.path, self.uri, self.metadata = str(path), f"file://{path}", metadata or {}


def test_model_layouts_an_upstream_task_may_write(binary_case, tmp_path):
    # One model file in a folder.
    folder = tmp_path / "folder"
    folder.mkdir()
    shutil.copyfile(binary_case.model_path, folder / "m.joblib")
    assert model_path(_Art(folder)) == str(folder / "m.joblib")
    # An MLflow model folder is handed over as the folder.
    mlflow_dir = tmp_path / "mlflow"
    mlflow_dir.mkdir()
    (mlflow_dir / "MLmodel").write_text("flavors: {}\n")
    assert model_path(_Art(mlflow_dir)) == str(mlflow_dir)
    # A suffixless joblib file: a suffixed link to the same bytes.
    bare = _suffixless(binary_case.model_path, tmp_path / "model")
    link = Path(model_path(_Art(bare)))
    assert link.suffix == ".joblib" and link.resolve() == bare.resolve()
    skops = Path(model_path(_Art(bare, {"format": "skops"})))
    assert skops.suffix == ".skops"


@pytest.mark.parametrize(
    ("layout", "named"),
    [
        ("two_files", "2 model files"),
        ("empty", "0 bytes"),
        ("missing", "no file"),
        ("format", "onnx"),
    ],
)
def test_unusable_model_artifacts_are_one_line_errors(layout, named, binary_case, tmp_path):
    target, metadata = tmp_path / "model", {}
    if layout == "two_files":
        target.mkdir()
        for name in ("a.joblib", "b.pkl"):
            shutil.copyfile(binary_case.model_path, target / name)
    elif layout == "empty":
        target.write_bytes(b"")
    elif layout == "format":
        _suffixless(binary_case.model_path, target)
        metadata = {"format": "onnx"}
    with pytest.raises(GateInputError) as info:
        model_path(_Art(target, metadata))
    assert named in str(info.value) and "\n" not in str(info.value)


def test_resolve_inputs_merges_artifacts_and_refuses_two_sources(binary_case, tmp_path):
    data = _Art(binary_case.data_path)
    merged = resolve_inputs(
        {"data_uri": "", "model_uri": "m.joblib"}, {"data": data, "model": None}
    )
    assert merged == {"data_uri": str(binary_case.data_path), "model_uri": "m.joblib"}
    with pytest.raises(GateInputError, match="given twice"):
        resolve_inputs({"data_uri": "x.parquet"}, {"data": data})
    assert json.dumps(merged)  # plain strings: what the run template records
