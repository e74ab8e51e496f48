"""GitHub workflows: the project's CI and the model-gate example parse, validate and gate deploys.

Both files are validated against the GitHub workflow JSON schema that check-jsonschema vendors
(schemastore's), then checked for what matters here: pinned actions, the CI's compile check and
image job, and an example whose deploy step runs only when the gate step succeeded.
"""

from __future__ import annotations

import copy
import json
import re
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CI = REPO / ".github" / "workflows" / "ci.yml"
EXAMPLE = REPO / "examples" / "github-actions" / "model-gate.yml"
# A tag (v4, v4.1.2) or a full commit SHA; never a branch.
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@(v\d+(\.\d+){0,2}|[0-9a-f]{40})$")


class _WorkflowLoader(yaml.SafeLoader):
    """YAML 1.2 booleans only: PyYAML's YAML 1.1 would read the `on:` key as True."""


_WorkflowLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_WorkflowLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|false)$"), list("tf")
)


def load_workflow(path: Path) -> dict:
    return yaml.load(path.read_text(), Loader=_WorkflowLoader)  # noqa: S506 - safe loader subclass


def _workflow_schema() -> dict:
    try:
        vendor = resources.files("check_jsonschema") / "builtin_schemas" / "vendor"
    except ModuleNotFoundError:
        pytest.skip("check-jsonschema not installed (dev extra): no GitHub workflow schema")
    return json.loads((vendor / "github-workflows.json").read_text())


def schema_problems(workflow: dict) -> list[str]:
    validator = jsonschema.Draft7Validator(_workflow_schema())
    return [
        f"{'.'.join(str(p) for p in err.path) or '(root)'}: {err.message}"
        for err in validator.iter_errors(workflow)
    ]


def _steps(workflow: dict):
    for job_id, job in workflow["jobs"].items():
        for step in job.get("steps", []):
            yield job_id, step


def unpinned_actions(workflow: dict) -> list[str]:
    return [
        f"{job}: {step['uses']}"
        for job, step in _steps(workflow)
        if "uses" in step and not PINNED.match(step["uses"])
    ]


def deploy_gate_problems(workflow: dict) -> list[str]:
    """The example's contract: gate step with an id, deploy only on its success, evidence always."""
    problems = []
    steps = [step for _, step in _steps(workflow)]
    gates = [s for s in steps if "quality-gates check" in s.get("run", "")]
    if len(gates) != 1 or "id" not in gates[0]:
        return ["expected exactly one `quality-gates check` step, with an id"]
    gate = gates[0]
    if gate.get("continue-on-error"):
        problems.append("the gate step has continue-on-error: a failed gate would not fail the job")
    deploys = [s for s in steps if re.search(r"\bdeploy", s.get("name", ""), re.IGNORECASE)]
    if not deploys:
        problems.append("no deploy step")
    needed = re.compile(rf"steps\.{re.escape(gate['id'])}\.outcome\s*==\s*'success'")
    for deploy in deploys:
        if steps.index(deploy) < steps.index(gate):
            problems.append(f"deploy step {deploy['name']!r} runs before the gate")
        condition = str(deploy.get("if", ""))
        if not needed.search(condition) or re.search(r"always\(\)|failure\(\)", condition):
            problems.append(
                f"deploy step {deploy['name']!r} is not conditional on "
                f"steps.{gate['id']}.outcome == 'success' (if: {condition!r})"
            )
    uploads = [s for s in steps if str(s.get("uses", "")).startswith("actions/upload-artifact@")]
    if not any(re.search(r"always\(\)|!cancelled\(\)", str(s.get("if", ""))) for s in uploads):
        problems.append("the scorecard is not uploaded when the gate fails")
    return problems


@pytest.mark.parametrize("path", [CI, EXAMPLE], ids=["ci", "model-gate-example"])
def test_workflow_is_valid_and_pins_its_actions(path):
    workflow = load_workflow(path)
    assert "on" in workflow and workflow["jobs"], path
    assert schema_problems(workflow) == []
    assert unpinned_actions(workflow) == []


def test_schema_check_catches_a_broken_workflow():
    broken = load_workflow(CI)
    broken["jobs"]["lint"]["runs_on"] = broken["jobs"]["lint"].pop("runs-on")
    assert schema_problems(broken)
    broken = load_workflow(CI)
    broken["jobs"]["lint"]["steps"][0]["uses"] = "actions/checkout@main"
    assert unpinned_actions(broken) == ["lint: actions/checkout@main"]


def test_ci_lints_tests_checks_compiled_yaml_and_builds_images():
    jobs = load_workflow(CI)["jobs"]
    runs = {job: " ".join(s.get("run", "") for s in jobs[job]["steps"]) for job in jobs}
    assert "make lint" in runs["lint"]
    assert "make test" in runs["test"]
    assert "make compile" in runs["compile"] and "git diff --exit-code" in runs["compile"]
    assert "make images BASE_IMAGE=python:3.11-slim" in runs["images"]
    assert "make hadolint" in runs["images"]


def test_example_deploys_only_when_the_gate_passed():
    workflow = load_workflow(EXAMPLE)
    assert deploy_gate_problems(workflow) == []
    gate = next(s for _, s in _steps(workflow) if "quality-gates check" in s.get("run", ""))
    assert "check all" in gate["run"] and "--policy" in gate["run"]


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d.pop("if"), "is not conditional"),
        (lambda d: d.__setitem__("if", "always()"), "is not conditional"),
        (lambda d: d.__setitem__("if", "steps.train.outcome == 'success'"), "is not conditional"),
    ],
    ids=["no-if", "always", "wrong-step"],
)
def test_deploy_check_catches_an_unconditional_deploy(mutate, expected):
    workflow = load_workflow(EXAMPLE)
    broken = copy.deepcopy(workflow)
    (deploy,) = [s for _, s in _steps(broken) if s.get("name") == "Deploy"]
    mutate(deploy)
    assert any(expected in p for p in deploy_gate_problems(broken))


def test_deploy_check_catches_a_gate_that_cannot_fail_and_lost_evidence():
    workflow = load_workflow(EXAMPLE)
    steps = workflow["jobs"]["train-gate-deploy"]["steps"]
    gate = next(s for s in steps if s.get("id") == "gate")
    gate["continue-on-error"] = True
    upload = next(s for s in steps if str(s.get("uses", "")).startswith("actions/upload-artifact"))
    upload.pop("if")
    problems = "\n".join(deploy_gate_problems(workflow))
    assert "continue-on-error" in problems and "not uploaded" in problems


def _install_requirement(workflow: dict):
    import shlex

    from packaging.requirements import Requirement

    for _, step in _steps(workflow):
        run = step.get("run", "")
        if run.startswith("pip install"):
            for word in shlex.split(run):
                if word.startswith("kfp-quality-gates"):
                    return Requirement(word)
    return None


def test_example_installs_the_project_from_its_repository_with_real_extras():
    # The package is not on an index: a bare `kfp-quality-gates==0.1.0` would fail for every
    # user who copies the example.
    import tomllib

    req = _install_requirement(load_workflow(EXAMPLE))
    assert req is not None, "no `pip install kfp-quality-gates...` step"
    assert req.url, f"{req} installs from an index, where the project is not published"
    assert re.match(r"^git\+https://[^@]+@[\w.-]+$", req.url) or req.url.endswith(".whl")
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    assert req.extras and req.extras <= set(extras), req.extras
