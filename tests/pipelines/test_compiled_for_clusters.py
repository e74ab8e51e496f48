"""The compiled pipeline read as a platform engineer reads it before submitting it to a cluster.

What a real cluster would hurt on, checked in the YAML the project ships and in fresh compiles
with the options a user has: a refused candidate ends in a failing task, every task has CPU and
memory requests and limits, no task whose result depends on mutable state is cached, and the
older-backend compile carries no field that Kubeflow 1.9's driver rejects.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from quality_gates.pipelines.compile import REPO_ROOT, compile_all
from quality_gates.pipelines.resources import DEFAULTS, parse_overrides
from quality_gates.shared.cli.main import main
from quality_gates.shared.contracts.tasks import PROMOTE_TASK, REFUSAL_TASK

COMPILED = REPO_ROOT / "pipelines" / "compiled" / "gated_promotion.yaml"
RESOURCE_FIELDS = (
    "resourceCpuRequest",
    "resourceCpuLimit",
    "resourceMemoryRequest",
    "resourceMemoryLimit",
)


# Components of the gated-promotion pipeline; canary_rollout runs after approval, on its own.
IN_PIPELINE = {c for c in DEFAULTS if c != "canary_rollout"}


def _docs(path: Path) -> tuple[dict, dict]:
    spec, platform = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
    return spec, platform


def _tasks(spec: dict) -> dict[str, dict]:
    """Every task of every DAG (root and branches), by '<dag>/<task>'."""
    out = {f"root/{n}": t for n, t in spec["root"]["dag"]["tasks"].items()}
    for comp, body in spec["components"].items():
        for n, t in body.get("dag", {}).get("tasks", {}).items():
            out[f"{comp}/{n}"] = t
    return out


def _container_tasks(spec: dict) -> dict[str, dict]:
    """Tasks that run a container (not a sub-DAG), by display name."""
    executors = {c for c, body in spec["components"].items() if "executorLabel" in body}
    return {
        t["taskInfo"]["name"]: t
        for t in _tasks(spec).values()
        if t["componentRef"]["name"] in executors
    }


@pytest.fixture(scope="module")
def shipped():
    return _docs(COMPILED)


def test_a_refused_candidate_ends_in_a_failing_task_by_default(shipped):
    spec, _ = shipped
    tasks = _tasks(spec)
    branches = {
        t["taskInfo"]["name"]: t
        for k, t in tasks.items()
        if k.startswith("comp-condition-branches")
    }
    passed = branches["all-gates-passed"]["triggerPolicy"]["condition"]
    blocked = branches["a-gate-blocked"]["triggerPolicy"]["condition"]
    # The two branches are exact complements on the aggregator's decision.
    assert "aggregator-Output" in passed and blocked == f"!({passed})"
    by_name = _container_tasks(spec)
    refusal = by_name[REFUSAL_TASK]
    blocked_dag = branches["a-gate-blocked"]["componentRef"]["name"]
    assert refusal in spec["components"][blocked_dag]["dag"]["tasks"].values()
    assert PROMOTE_TASK in by_name and PROMOTE_TASK not in (
        t["taskInfo"]["name"] for t in spec["components"][blocked_dag]["dag"]["tasks"].values()
    )
    # fail_run comes from the pipeline parameter, whose default fails the run.
    fail_run = refusal["inputs"]["parameters"]["fail_run"]["componentInputParameter"]
    assert fail_run == "pipelinechannel--fail_on_refusal"
    param = spec["root"]["inputDefinitions"]["parameters"]["fail_on_refusal"]
    assert param["parameterType"] == "BOOLEAN" and param["defaultValue"] is True
    # The refusal step's code exits non-zero when fail_run is set.
    executor = spec["deploymentSpec"]["executors"]["exec-refusal"]["container"]
    source = executor["command"][-1]
    assert "if fail_run:" in source and "SystemExit(1)" in source


def test_every_task_has_cpu_and_memory_requests_and_limits(shipped):
    spec, _ = shipped
    executors = spec["deploymentSpec"]["executors"]
    assert len(executors) == len(IN_PIPELINE)
    for name, executor in executors.items():
        res = executor["container"].get("resources", {})
        missing = [f for f in RESOURCE_FIELDS if not res.get(f)]
        assert not missing, f"{name} lacks {missing}"
        assert res["cpuRequest"] <= res["cpuLimit"] and res["memoryRequest"] <= res["memoryLimit"]
        component = name.removeprefix("exec-").replace("-", "_")
        assert res["resourceMemoryLimit"] == DEFAULTS[component].memory_limit


def test_no_task_that_depends_on_mutable_state_is_cached(shipped):
    spec, _ = shipped
    tasks = _container_tasks(spec)
    # Our pipeline takes URIs (files that can be overwritten, a champion alias that moves) and
    # writes to the registry and the audit log: nothing may be served from KFP's cache.
    assert len(tasks) == len(IN_PIPELINE)
    cached = [name for name, t in tasks.items() if t.get("cachingOptions", {}).get("enableCache")]
    assert cached == []


def test_a_resources_file_overrides_the_defaults_and_bad_ones_exit_2(tmp_path, capsys):
    overrides = tmp_path / "resources.yaml"
    overrides.write_text(
        "performance_gate: {cpu_request: '3', cpu_limit: '4', memory_limit: 12Gi}\n"
        "refusal: {memory_request: 128Mi}\n"
    )
    out = tmp_path / "out"
    assert main(["compile", "--output-root", str(out), "--resources", str(overrides)]) == 0
    spec, _ = _docs(out / "pipelines" / "compiled" / "gated_promotion.yaml")
    ex = spec["deploymentSpec"]["executors"]
    perf = ex["exec-performance-gate"]["container"]["resources"]
    assert (perf["resourceCpuRequest"], perf["resourceCpuLimit"]) == ("3", "4")
    assert perf["resourceMemoryLimit"] == "12Gi"
    assert perf["resourceMemoryRequest"] == DEFAULTS["performance_gate"].memory_request
    assert ex["exec-refusal"]["container"]["resources"]["resourceMemoryRequest"] == "128Mi"
    fair = ex["exec-fairness-gate"]["container"]["resources"]
    assert fair["resourceCpuLimit"] == DEFAULTS["fairness_gate"].cpu_limit

    for bad, named in [
        ("performance_gate: {cpu_request: lots}\n", "cpu_request"),
        ("performance_gate: {memory_request: 9Gi, memory_limit: 1Gi}\n", "memory_request"),
        ("no_such_task: {cpu_request: '1'}\n", "no_such_task"),
        ("performance_gate: {gpu: '1'}\n", "gpu"),
    ]:
        overrides.write_text(bad)
        capsys.readouterr()
        assert main(["compile", "--output-root", str(out), "--resources", str(overrides)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and named in err[0] and "Traceback" not in err[0]


def test_parse_overrides_keeps_unmentioned_components_at_their_defaults():
    table = parse_overrides({"aggregator": {"cpu_limit": "2"}})
    assert table["aggregator"].cpu_limit == "2"
    assert table["aggregator"].cpu_request == DEFAULTS["aggregator"].cpu_request
    assert {k: v for k, v in table.items() if k != "aggregator"} == {
        k: v for k, v in DEFAULTS.items() if k != "aggregator"
    }


def test_literal_names_compile_has_no_field_an_older_driver_rejects(tmp_path):
    out = tmp_path / "legacy"
    argv = ["compile", "--output-root", str(out), "--literal-secret-names"]
    assert main([*argv, "--mlflow-secret", "team-mlflow", "--mlflow-config", "team-cfg"]) == 0
    path = out / "pipelines" / "compiled" / "gated_promotion.yaml"
    spec, platform = _docs(path)
    text = json.dumps(platform)
    for field in ("secretNameParameter", "configMapNameParameter", '"optional"'):
        assert field not in text, field
    executors = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    assert executors, "the MLflow tasks lost their Secret and ConfigMap"
    for config in executors.values():
        assert [s["secretName"] for s in config["secretAsEnv"]] == ["team-mlflow"]
        assert [c["configMapName"] for c in config["configMapAsEnv"]] == ["team-cfg"]
    # The names are no longer run-time parameters, so a run cannot ask for them.
    params = spec["root"]["inputDefinitions"]["parameters"]
    assert "mlflow_secret_name" not in params and "mlflow_config_name" not in params
    # The default compile keeps them as parameters (for backends >= 2.4).
    _, default_platform = _docs(COMPILED)
    assert "secretNameParameter" in json.dumps(default_platform)


def test_literal_names_must_be_kubernetes_object_names(tmp_path, capsys):
    argv = ["compile", "--output-root", str(tmp_path), "--literal-secret-names"]
    assert main([*argv, "--mlflow-secret", "Bad_Name"]) == 2
    assert "Bad_Name" in capsys.readouterr().err


def test_compile_all_from_python_takes_the_same_options(tmp_path):
    overrides = tmp_path / "r.yaml"
    overrides.write_text("aggregator: {memory_limit: 3Gi}\n")
    written = compile_all(
        output_root=tmp_path, resources_file=overrides, literal_names=("s-1", "c-1")
    )
    pipeline = next(p for p in written if p.name == "gated_promotion.yaml")
    spec, platform = _docs(pipeline)
    agg = spec["deploymentSpec"]["executors"]["exec-aggregator"]["container"]["resources"]
    assert agg["resourceMemoryLimit"] == "3Gi"
    assert "s-1" in json.dumps(platform) and "secretNameParameter" not in json.dumps(platform)
