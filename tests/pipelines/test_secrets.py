"""MLflow credentials reach cluster tasks from a Kubernetes Secret, never from the compiled YAML.

The pipeline is compiled in a fresh process whose environment holds secret-looking values (as on
a developer's laptop or a CI runner with MLflow credentials exported); none of them may appear
in the compiled pipeline or in any component.yaml. The platform spec must map every key of the
MLflow Secret, by the ``mlflow_secret_name`` parameter, for every task that talks to MLflow.
"""

from __future__ import annotations

import copy
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from quality_gates.pipelines.compile import REPO_ROOT
from quality_gates.pipelines.wiring import DEFAULT_MLFLOW_CONFIG, MLFLOW_CONFIG_KEYS

SECRET_ENV = {
    "MLFLOW_TRACKING_URI": "https://mlflow-user:pw-in-uri-7Qz@mlflow.internal.example",
    "MLFLOW_TRACKING_USERNAME": "svc-gates-4Hk2",
    "MLFLOW_TRACKING_PASSWORD": "hunter2-Xy9-mlflow-password",
    "MLFLOW_TRACKING_TOKEN": "mlflow-token-Jm3PqR8sT1",
    "AWS_ACCESS_KEY_ID": "AKIAEXAMPLEKEY7Q2W",
    "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY",
    "MLFLOW_S3_ENDPOINT_URL": "https://s3.internal.example:9443",
    "KFP_TOKEN": "kfp-bearer-Zx81-never-compiled",
}
# What must never be in a compiled YAML: the values and their distinctive parts.
NEEDLES = [*SECRET_ENV.values(), "pw-in-uri-7Qz", "hunter2", "wJalrXUtnFEMI", "AKIAEXAMPLEKEY"]
SECRET_KEYS = (
    "MLFLOW_TRACKING_URI",
    "MLFLOW_TRACKING_USERNAME",
    "MLFLOW_TRACKING_PASSWORD",
    "MLFLOW_TRACKING_TOKEN",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "MLFLOW_S3_ENDPOINT_URL",
)
# Every component that talks to MLflow declares this input; the set is checked too, so a
# component that stops declaring it is noticed rather than silently dropped from the check.
MLFLOW_INPUT = "mlflow_tracking_uri"
# Every gate reads its inputs through the Secret's credentials (an s3:// table needs the AWS keys),
# so the data gates get it too.
MLFLOW_EXECUTORS = {
    "exec-contract-gate",
    "exec-drift-gate",
    "exec-performance-gate",
    "exec-decay-gate",
    "exec-shadow-gate",
    "exec-operational-gate",
    "exec-fairness-gate",
    "exec-explainability-gate",
    "exec-pii-scan-gate",
    "exec-aggregator",
    "exec-promote",
    "exec-manual-approval",
}

_COMPILE = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    from kfp import compiler, dsl
    from quality_gates.pipelines.compile import compile_all

    out = Path(sys.argv[1])
    compile_all(output_root=out / "fresh")

    # Control: a pipeline that DOES leak (a default read from the environment), so the scan
    # below is shown to find a value the way it would appear in a compiled YAML.
    @dsl.component(base_image="python:3.11")
    def echo(text: str) -> str:
        return text

    @dsl.pipeline(name="leaky")
    def leaky(password: str = os.environ["MLFLOW_TRACKING_PASSWORD"]):
        echo(text=password)

    compiler.Compiler().compile(leaky, str(out / "leaky.yaml"))
    """
)


def _leaks(text: str) -> list[str]:
    return [needle for needle in NEEDLES if needle in text]


@pytest.fixture(scope="module")
def compiled(tmp_path_factory) -> Path:
    """Compile every component and pipeline in a process whose environment holds secrets."""
    out = tmp_path_factory.mktemp("secret-env")
    env = {k: v for k, v in os.environ.items() if k != "QUALITY_GATES_IMAGE_REGISTRY"}
    env.update(SECRET_ENV)
    script = out / "compile_with_secrets.py"  # a file: kfp reads component source from it
    script.write_text(_COMPILE)
    subprocess.run([sys.executable, str(script), str(out)], env=env, check=True, timeout=300)
    return out


def _yamls(root: Path) -> list[Path]:
    found = sorted(root.glob("components/*/component.yaml"))
    found += sorted(root.glob("pipelines/compiled/*.yaml"))
    assert found, f"no compiled YAML under {root}"
    return found


def test_the_scan_finds_a_leaked_value(compiled):
    assert "hunter2-Xy9-mlflow-password" in _leaks((compiled / "leaky.yaml").read_text())


def test_no_secret_value_in_yaml_compiled_with_secrets_in_the_environment(compiled):
    for path in _yamls(compiled / "fresh"):
        assert not _leaks(path.read_text()), f"{path.name} holds a credential from the env"


def test_no_secret_value_in_committed_yaml():
    for path in _yamls(REPO_ROOT):
        assert not _leaks(path.read_text()), f"{path.relative_to(REPO_ROOT)} holds a credential"


def _docs(path: Path) -> tuple[dict, dict]:
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    assert len(docs) == 2, f"{path.name}: expected a pipeline spec and a platform spec"
    return docs[0], docs[1]


def _mlflow_executors(spec: dict) -> set[str]:
    """Executor labels of the components that declare the MLflow tracking URI input."""
    out = set()
    for comp in spec["components"].values():
        params = comp.get("inputDefinitions", {}).get("parameters", {})
        if MLFLOW_INPUT in params and "executorLabel" in comp:
            out.add(comp["executorLabel"])
    return out


def secret_wiring_problems(spec: dict, platform: dict) -> list[str]:
    """Return what is wrong with the MLflow Secret wiring of a compiled pipeline (empty: fine)."""
    problems = []
    root_param = spec["root"]["inputDefinitions"]["parameters"].get("mlflow_secret_name")
    if not root_param or root_param.get("defaultValue") != "quality-gates-mlflow":
        problems.append("pipeline parameter mlflow_secret_name (default quality-gates-mlflow)")
    executors = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    for label in sorted(_mlflow_executors(spec)):
        entries = executors.get(label, {}).get("secretAsEnv", [])
        wired = [
            e
            for e in entries
            if e.get("secretNameParameter", {})
            .get("componentInputParameter", "")
            .endswith("mlflow_secret_name")
        ]
        if len(wired) != 1:
            problems.append(f"{label}: no secretAsEnv from the mlflow_secret_name parameter")
            continue
        mapping = {m["secretKey"]: m["envVar"] for m in wired[0].get("keyToEnv", [])}
        if mapping != {k: k for k in SECRET_KEYS}:
            problems.append(f"{label}: keys mapped {mapping}, want each of {SECRET_KEYS} 1:1")
        if wired[0].get("optional") is not True:
            problems.append(f"{label}: the Secret must be optional")
        if "secretName" in wired[0]:
            problems.append(f"{label}: a literal secretName instead of the parameter")
    return problems


def config_wiring_problems(spec: dict, platform: dict) -> list[str]:
    """Return what is wrong with the MLflow ConfigMap wiring of a compiled pipeline."""
    problems = []
    root_param = spec["root"]["inputDefinitions"]["parameters"].get("mlflow_config_name")
    if not root_param or root_param.get("defaultValue") != DEFAULT_MLFLOW_CONFIG:
        problems.append(f"pipeline parameter mlflow_config_name (default {DEFAULT_MLFLOW_CONFIG})")
    executors = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    for label in sorted(_mlflow_executors(spec)):
        wired = [
            e
            for e in executors.get(label, {}).get("configMapAsEnv", [])
            if e.get("configMapNameParameter", {})
            .get("componentInputParameter", "")
            .endswith("mlflow_config_name")
        ]
        if len(wired) != 1:
            problems.append(f"{label}: no configMapAsEnv from the mlflow_config_name parameter")
            continue
        mapping = {m["configMapKey"]: m["envVar"] for m in wired[0].get("keyToEnv", [])}
        if mapping != {k: k for k in MLFLOW_CONFIG_KEYS}:
            problems.append(f"{label}: keys mapped {mapping}, want {MLFLOW_CONFIG_KEYS} 1:1")
        if wired[0].get("optional") is not True:
            problems.append(f"{label}: the ConfigMap must be optional")
    return problems


@pytest.mark.parametrize(
    "path", sorted((REPO_ROOT / "pipelines" / "compiled").glob("*.yaml")), ids=lambda p: p.name
)
def test_every_mlflow_task_gets_the_secret_as_env(path):
    spec, platform = _docs(path)
    assert _mlflow_executors(spec) == MLFLOW_EXECUTORS
    assert secret_wiring_problems(spec, platform) == []


@pytest.mark.parametrize(
    "path", sorted((REPO_ROOT / "pipelines" / "compiled").glob("*.yaml")), ids=lambda p: p.name
)
def test_every_mlflow_task_gets_the_config_map_as_env(path):
    spec, platform = _docs(path)
    assert config_wiring_problems(spec, platform) == []
    broken = copy.deepcopy(platform)
    executors = broken["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    del executors["exec-aggregator"]["configMapAsEnv"]
    assert [p for p in config_wiring_problems(spec, broken) if p.startswith("exec-aggregator:")]


def test_a_task_missing_the_secret_is_reported():
    spec, platform = _docs(REPO_ROOT / "pipelines" / "compiled" / "gated_promotion.yaml")
    broken = copy.deepcopy(platform)
    executors = broken["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    del executors["exec-promote"]["secretAsEnv"]
    executors["exec-fairness-gate"]["secretAsEnv"][0]["keyToEnv"].pop()
    problems = secret_wiring_problems(spec, broken)
    assert any(p.startswith("exec-promote:") for p in problems)
    assert any(p.startswith("exec-fairness-gate:") for p in problems)


def test_tasks_honour_the_environment_and_the_parameter_overrides(tmp_path):
    """The Secret's MLFLOW_TRACKING_URI is used when the parameter is empty; a value wins."""
    probe = textwrap.dedent(
        """
        from quality_gates.shared.tracking.client import resolve_tracking_uri
        print(resolve_tracking_uri(None))
        print(resolve_tracking_uri("") )
        print(resolve_tracking_uri("http://explicit.example:5000"))
        """
    )
    env = dict(os.environ, MLFLOW_TRACKING_URI="http://from-secret.example:5000")
    done = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == [
        "http://from-secret.example:5000",
        "http://from-secret.example:5000",
        "http://explicit.example:5000",
    ]
