"""The wheel holds every registered gate, and the extras follow the gates' declarations."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from quality_gates.shared.contracts.gates import component_folders, gates

ROOT = Path(__file__).resolve().parents[2]


def _extras() -> dict[str, list[str]]:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]["optional-dependencies"]


def test_each_gate_extra_is_declared_with_the_gates_requirements():
    extras = _extras()
    dev = " ".join(extras["dev"])
    for spec in gates():
        if spec.extra is None:
            assert not spec.requires, f"{spec.name} lists requirements but no extra"
            continue
        assert extras.get(spec.extra) == list(spec.requires), (
            f"pyproject.toml [project.optional-dependencies] {spec.extra} must be "
            f"{list(spec.requires)} (the declaration in components/{spec.folder}/gate.py)"
        )
        assert spec.extra in dev, f"the dev extra must install {spec.extra} (tests need it)"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("wheel")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-q",
            "-w",
            str(out),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (path,) = out.glob("kfp_quality_gates-*.whl")
    return zipfile.ZipFile(path)


def test_the_wheel_holds_every_registered_gate_and_component(wheel):
    names = set(wheel.namelist())
    for folder in component_folders():
        for file in ("__init__.py", "component.py", "component.yaml", "README.md"):
            assert f"quality_gates/components/{folder}/{file}" in names, (folder, file)
    for spec in gates():
        for file in ("gate.py", "policy.py", "core.py"):
            assert f"quality_gates/components/{spec.folder}/{file}" in names, (spec.name, file)


def test_the_wheel_holds_every_source_module_and_no_tests(wheel):
    names = set(wheel.namelist())
    for sub in ("shared", "components", "pipelines"):
        for path in (ROOT / sub).rglob("*.py"):
            rel = path.relative_to(ROOT)
            if "tests" in rel.parts:
                assert f"quality_gates/{rel.as_posix()}" not in names
            else:
                assert f"quality_gates/{rel.as_posix()}" in names, rel
    for data in (
        "shared/reports/templates/scorecard.html.j2",
        "shared/demo/policies/demo.yaml",
        "pipelines/compiled/gated_promotion.yaml",
    ):
        assert f"quality_gates/{data}" in names
