"""The images' MLflow is the client only (mlflow-skinny): proven against a real `mlflow server`.

The component images install docker/requirements/core.txt (+ one extra), which holds
mlflow-skinny and not the full mlflow: no server, UI, flask, graphene, gunicorn, huey, aiohttp.
Full mlflow 3.x adds no Python module to mlflow-skinny's (only the server's web UI), so this
environment runs the images' code exactly when the distributions the images lack cannot be
imported. The registry and approval integration tests (logging runs and artifacts, registering,
aliases, loading pyfunc and sklearn models, promotion, approval, rollback, the audit log) run in
a child pytest whose imports of those distributions fail, against a real `mlflow server` that
the child starts from this environment (a separate process, so it keeps the full mlflow).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REQUIREMENTS = ROOT / "docker" / "requirements"
# What the child runs: the client's work on a real server (not `quality-gates auth`, whose
# AuthServiceClient imports MLflow's server package: the `auth` extra, full mlflow).
TESTS = ("tests/integration/test_models_registry.py", "tests/integration/test_approval.py")
# Installed here for the tests themselves, never imported by the components' code; and what
# `python3 -m venv /opt/venv` puts into every image (pip, setuptools).
TEST_TOOLS = {"pytest", "iniconfig", "pluggy", "_pytest", "py", "pygments"}
IN_EVERY_VENV = {"pip", "setuptools", "pkg_resources", "_distutils_hack"}

BOOTSTRAP = """
import importlib.abc, json, sys
BLOCKED = set(json.loads(sys.argv.pop(1)))
class NotInTheImage(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".", 1)[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r} (not in the core image)")
        return None
sys.meta_path.insert(0, NotInTheImage())
import pytest
sys.exit(pytest.main(sys.argv[1:]))
"""


def _pins(name: str) -> set[str]:
    text = (REQUIREMENTS / f"{name}.txt").read_text(encoding="utf-8")
    return {line.split("==", 1)[0] for line in text.splitlines() if "==" in line and line[0] != "#"}


def _canon(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _top_level_modules(dist: metadata.Distribution) -> set[str]:
    text = dist.read_text("top_level.txt")
    if text:
        return {line.strip() for line in text.splitlines() if line.strip()}
    out = set()
    for file in dist.files or ():
        first = file.parts[0]
        if first.endswith((".dist-info", ".data")) or first in ("..", "bin"):
            continue
        out.add(first.removesuffix(".py") if first.endswith(".py") else first)
    return {m for m in out if m.isidentifier()}


def blocked_modules() -> set[str]:
    """Top-level modules of the distributions installed here that no component image holds."""
    in_images = set().union(*(_pins(n) for n in ("core", "fairness", "explainability", "pii")))
    in_images.add("kfp-quality-gates")
    # Modules several distributions share (mlflow/ of mlflow-skinny and mlflow, google/ ...).
    kept = set().union(
        *(_top_level_modules(d) for d in metadata.distributions() if _canon(d.name) in in_images)
    )
    blocked = set()
    for dist in metadata.distributions():
        if _canon(dist.name) not in in_images:
            blocked |= _top_level_modules(dist)
    return blocked - kept - TEST_TOOLS - IN_EVERY_VENV - set(sys.stdlib_module_names)


def test_the_core_holds_the_client_not_the_server():
    assert "mlflow-skinny" in _pins("core") and "mlflow" not in _pins("core")
    blocked = blocked_modules()
    assert {"flask", "graphene", "gunicorn", "huey", "aiohttp"} <= blocked
    assert not {"mlflow", "sklearn", "pandas", "sqlalchemy", "kfp"} & blocked


@pytest.mark.integration
def test_registry_and_approval_work_with_the_images_mlflow_client():
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            BOOTSTRAP,
            json.dumps(sorted(blocked_modules())),
            "-q",
            "-p",
            "no:cacheprovider",
            "-x",
            *TESTS,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-30:])
    assert proc.returncode == 0, tail
    assert re.search(r"\d+ passed", proc.stdout), tail
    assert " skipped" not in proc.stdout.splitlines()[-1], tail
