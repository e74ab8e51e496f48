"""Run the gated-promotion pipeline with every task in its own component image.

``kfp.local.DockerRunner`` starts one container per task from the image the component names
(``shared/versions.py image_for``), mounts the pipeline root at the same path inside the
container and runs the image's own user (uid 10001). This module adds what that needs on top of
:func:`quality_gates.shared.kfp_glue.local_run.run_pipeline`:

- the pipeline root is writable by the image's user (tasks create their output folders);
- every input path the pipeline gets must lie under that root (nothing else is mounted);
- the containers get ``MLFLOW_TRACKING_URI`` explicitly (they do not inherit our environment),
  and the URI must be reachable from a container, i.e. not ``127.0.0.1`` of this host.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from quality_gates.shared.contracts.errors import GateInputError
from quality_gates.shared.kfp_glue.local_run import LocalRun, run_pipeline

# Folder under output_dir that local_run uses as the pipeline root (and DockerRunner mounts).
PIPELINE_ROOT_NAME = "kfp-local"


def docker_engine_problem() -> str | None:
    """Say why no Docker engine can run the images, or None when one answers.

    Returns:
        A one-line reason (what is missing and what to do), or None.
    """
    try:
        import docker
    except ImportError:
        return "the `docker` Python package is not installed; pip install docker"
    try:
        client = docker.from_env(timeout=5)
        try:
            client.ping()
        finally:
            client.close()
    except Exception as exc:  # noqa: BLE001 - any failure means "no usable engine"
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return f"no Docker engine reachable ({first}); start dockerd or set DOCKER_HOST"
    return None


def missing_images(references: list[str]) -> list[str]:
    """Return the image references the local engine does not hold.

    Args:
        references: Image references, e.g. ``ghcr.io/kfp-quality-gates/aggregator:0.1.0``.

    Returns:
        The references not present locally (kfp.local would try to pull them).
    """
    import docker

    client = docker.from_env()
    try:
        missing = []
        for ref in references:
            try:
                client.images.get(ref)
            except docker.errors.ImageNotFound:
                missing.append(ref)
        return missing
    finally:
        client.close()


def pipeline_root(output_dir: str | Path) -> Path:
    """Return the pipeline root a run in ``output_dir`` uses; put input files under it.

    Args:
        output_dir: The run's output folder.

    Returns:
        ``<output_dir>/kfp-local`` (absolute), created and writable by the images' user.
    """
    root = Path(output_dir).resolve() / PIPELINE_ROOT_NAME
    root.mkdir(parents=True, exist_ok=True)
    # The images run as uid 10001, this process usually not. The tasks create the run's and
    # their own folders under the root (inside the container), so the root must be writable
    # by that user; what they write stays readable here.
    root.chmod(0o777)
    return root


def _check_under_root(root: Path, **paths: str) -> None:
    for name, value in paths.items():
        if not value or "://" in value or value.startswith(("models:/", "runs:/")):
            continue
        resolved = Path(value).resolve()
        if root != resolved and root not in resolved.parents:
            raise GateInputError(
                f"{name} '{value}' is outside the pipeline root {root}, which is the only folder "
                f"mounted into the containers; put the file under pipeline_root(output_dir)"
            )


def _check_reachable_uri(uri: str) -> None:
    host = uri.split("://", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0]
    if uri.startswith("sqlite:") or host in {"127.0.0.1", "localhost", "::1", "[::1]"}:
        raise GateInputError(
            f"tracking URI '{uri}' is not reachable from a container; run the MLflow server on "
            f"an address containers reach (e.g. the docker bridge) and pass that URI"
        )


def run_pipeline_in_containers(
    *,
    output_dir: str | Path,
    tracking_uri: str,
    model_uri: str,
    data_uri: str,
    sensitive_data_uri: str = "",
    train_data_uri: str = "",
    environment: dict[str, str] | None = None,
    **kwargs: Any,
) -> LocalRun:
    """Run the gated-promotion pipeline through ``kfp.local.DockerRunner``.

    Args:
        output_dir: Output folder; input files must lie under :func:`pipeline_root` of it.
        tracking_uri: MLflow tracking URI reachable from the containers.
        model_uri: Candidate model: a file under the pipeline root or an MLflow URI.
        data_uri: Evaluation data under the pipeline root (or a remote URI).
        sensitive_data_uri: Separate sensitive attributes, under the pipeline root.
        train_data_uri: Training data for the PII gate, under the pipeline root.
        environment: Further environment variables of every container (e.g. S3 credentials).
        **kwargs: The other keyword arguments of :func:`local_run.run_pipeline`.

    Returns:
        The run's outcome.

    Raises:
        GateInputError: When the engine is absent, an input is outside the mounted root, the
            tracking URI is loopback-only, or a task failed (its own one-line reason).
    """
    problem = docker_engine_problem()
    if problem:
        raise GateInputError(problem)
    from kfp import local

    root = pipeline_root(output_dir)
    _check_under_root(
        root,
        model_uri=model_uri,
        data_uri=data_uri,
        sensitive_data_uri=sensitive_data_uri,
        train_data_uri=train_data_uri,
    )
    _check_reachable_uri(tracking_uri)
    env = {
        "MLFLOW_TRACKING_URI": tracking_uri,
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "true",
        **(environment or {}),
    }
    runner = local.DockerRunner(environment=env)
    call = dict(
        output_dir=output_dir,
        tracking_uri=tracking_uri,
        model_uri=model_uri,
        data_uri=data_uri,
        sensitive_data_uri=sensitive_data_uri,
        train_data_uri=train_data_uri,
        **kwargs,
    )
    return run_pipeline(runner=runner, **call)
