"""The `images` tier: the built images themselves and the pipeline run in them.

Tests that use the ``images`` fixture form the tier. It runs only when asked for, because it
takes minutes: `make test-images`, `pytest tests/images`, `pytest -m images` or
QUALITY_GATES_IMAGES_TIER=1. It then needs a reachable Docker engine and
the images of `make images`; QUALITY_GATES_BUILD_IMAGES=1 builds missing images first (through
`make images`, so from the wheelhouse exactly as a user would). Anything missing skips the tier
with the reason and the command that fixes it.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
SERVER_STARTUP_S = 90.0


def _image_tags():
    # docker/image_tags.py is a script folder, not a package: load it by path.
    spec = importlib.util.spec_from_file_location(
        "_qg_image_tags", ROOT / "docker" / "image_tags.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _requested(config: pytest.Config) -> bool:
    if os.environ.get("QUALITY_GATES_IMAGES_TIER") == "1":
        return True
    if "images" in (config.option.markexpr or ""):
        return True
    for arg in config.args:
        path = Path(arg.split("::", 1)[0]).resolve()
        if path == HERE or HERE in path.parents:
            return True
    return False


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "images: builds on the images of `make images` and a Docker engine"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Only tests that use the images belong to the tier; the static checks of the Dockerfiles
    # and the lock beside them run in every `make test`.
    mine = [
        item
        for item in items
        if HERE in Path(str(item.fspath)).resolve().parents
        and "images" in getattr(item, "fixturenames", ())
    ]
    for item in mine:
        item.add_marker(pytest.mark.images)
    if mine and not _requested(config):
        skip = pytest.mark.skip(
            reason="images tier not requested (it runs containers for minutes): "
            "run `make test-images`, `pytest tests/images` or set QUALITY_GATES_IMAGES_TIER=1"
        )
        for item in mine:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def images() -> dict[str, str]:
    """Image reference by name (component folder or ``mlflow_server``), built and present."""
    from quality_gates.shared.kfp_glue.docker_run import docker_engine_problem, missing_images

    problem = docker_engine_problem()
    if problem:
        pytest.skip(f"images tier skipped: {problem}")
    # Each component's image (several share quality-gates-core), and the MLflow server's.
    refs = _image_tags().component_images()
    missing = missing_images(sorted(set(refs.values())))
    if missing and os.environ.get("QUALITY_GATES_BUILD_IMAGES") == "1":
        # `make images` is the user's path: wheelhouse, base image, every Dockerfile.
        subprocess.run(["make", "images", f"PYTHON={sys.executable}"], cwd=ROOT, check=True)
        missing = missing_images(sorted(set(refs.values())))
    if missing:
        pytest.skip(
            f"images tier skipped: images not built ({', '.join(missing)}); run `make images` "
            "or set QUALITY_GATES_BUILD_IMAGES=1"
        )
    return refs


@pytest.fixture(scope="session")
def docker_client(images: dict[str, str]):
    """A client of the engine that holds the images."""
    import docker

    client = docker.from_env()
    yield client
    client.close()


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/health", timeout=2) as resp:  # noqa: S310 - bridge
            return resp.status == 200
    except (urllib.error.URLError, OSError):
        return False


@pytest.fixture(scope="session")
def mlflow_in_container(docker_client, images: dict[str, str]) -> Iterator[str]:
    """Run the project's MLflow server image; yield its URI on the docker bridge.

    The tasks' containers and this process both reach the server at its bridge address, so
    model artifacts travel through the server (``--serve-artifacts``), never a shared disk.
    """
    container = docker_client.containers.run(
        images["mlflow_server"],
        command=[
            "mlflow",
            "server",
            "--host",
            "0.0.0.0",
            "--port",
            "5000",
            "--backend-store-uri",
            "sqlite:////home/mlflow/mlflow.db",
            "--artifacts-destination",
            "/home/mlflow/artifacts",
            "--serve-artifacts",
            "--workers",
            "1",
        ],
        environment={
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "DO_NOT_TRACK": "true",
            "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
        },
        detach=True,
    )
    try:
        container.reload()
        address = container.attrs["NetworkSettings"]["IPAddress"]
        if not address:
            pytest.skip("images tier skipped: the engine gave the MLflow container no bridge IP")
        url = f"http://{address}:5000"
        deadline = time.monotonic() + SERVER_STARTUP_S
        while time.monotonic() < deadline and not _healthy(url):
            container.reload()
            if container.status == "exited":
                break
            time.sleep(0.5)
        if not _healthy(url):
            logs = container.logs(tail=40).decode(errors="replace")
            pytest.fail(f"MLflow server container not healthy at {url}:\n{logs}", pytrace=False)
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
            yield url
    finally:
        container.remove(force=True)
