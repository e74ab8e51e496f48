"""Provenance: which code, data, policy and packages produced a decision.

The lineage is a flat ``str -> str`` mapping so that it can go unchanged into MLflow tags
(``quality_gates.<key>``), the scorecard and the audit record. Values that cannot be determined
are left out rather than written as ``None``: an absent key is unambiguous to an auditor.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from quality_gates.shared.contracts.results import utc_now
from quality_gates.shared.contracts.versions import package_versions

# CI systems and Kubeflow set these; an explicit value beats asking git (a CI checkout may be a
# detached HEAD of a merge commit, or the image may hold no .git at all).
_COMMIT_ENV = ("GIT_COMMIT", "GITHUB_SHA", "CI_COMMIT_SHA")
_RUN_ID_ENV = ("QUALITY_GATES_PIPELINE_RUN_ID", "KFP_RUN_ID", "GITHUB_RUN_ID", "CI_PIPELINE_ID")
_GIT_TIMEOUT_S = 10


def _git(args: list[str], cwd: Path) -> str | None:
    exe = shutil.which("git")
    if exe is None:
        return None
    try:
        done = subprocess.run(  # noqa: S603 - fixed argv, no shell
            [exe, *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=_GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.strip()


def _start_dir(path: str | None) -> Path | None:
    start = Path(path).expanduser() if path else Path.cwd()
    if start.is_file():
        start = start.parent
    while not start.exists() and start != start.parent:
        start = start.parent
    return start if start.is_dir() else None


def git_commit(path: str | None = None) -> str | None:
    """Return the commit the code was built from.

    Args:
        path: A file or folder inside the repository; defaults to the working directory.

    Returns:
        ``GIT_COMMIT``, ``GITHUB_SHA`` or ``CI_COMMIT_SHA`` when set, else the ``HEAD`` sha of the
        repository containing ``path``; None outside a repository or without git.
    """
    for name in _COMMIT_ENV:
        value = os.environ.get(name, "").strip()
        if value:
            return value
    start = _start_dir(path)
    if start is None:
        return None
    sha = _git(["rev-parse", "--verify", "HEAD"], start)
    return sha or None


def git_dirty(path: str | None = None) -> bool | None:
    """Return whether the working tree has uncommitted changes to tracked files.

    Args:
        path: A file or folder inside the repository; defaults to the working directory.

    Returns:
        True or False; None outside a repository or without git.
    """
    start = _start_dir(path)
    if start is None:
        return None
    out = _git(["status", "--porcelain", "--untracked-files=no"], start)
    return None if out is None else bool(out)


def dvc_md5(data_path: str) -> str | None:
    """Return the DVC md5 of a data set tracked by a ``<data>.dvc`` file beside it.

    Args:
        data_path: The data file or folder (a URI scheme other than ``file://`` returns None).

    Returns:
        ``outs[0].md5`` of ``<data_path>.dvc`` (``<hex>.dir`` for a folder), or None when there
        is no readable ``.dvc`` file.
    """
    if not data_path or ("://" in data_path and not data_path.startswith("file://")):
        return None
    local = Path(data_path.removeprefix("file://")).expanduser()
    dvc_file = local.with_name(local.name + ".dvc")
    if not dvc_file.is_file():
        return None
    import yaml

    try:
        doc = yaml.safe_load(dvc_file.read_text(encoding="utf-8"))
        outs = doc.get("outs") if isinstance(doc, dict) else None
        first = outs[0] if isinstance(outs, list) and outs else None
        md5 = first.get("md5") if isinstance(first, dict) else None
    except (OSError, yaml.YAMLError):
        return None
    return str(md5) if md5 else None


def pipeline_run_id() -> str | None:
    """Return the id of the pipeline or CI run from the environment, if any."""
    for name in _RUN_ID_ENV:
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return None


def collect_lineage(
    *,
    model_digest: str | None,
    data_digest: str | None,
    policy_digest: str | None,
    data_path: str | None = None,
    extra: dict | None = None,
) -> dict[str, str]:
    """Gather the provenance of one evaluation.

    Args:
        model_digest: ``sha256:`` of the model bytes evaluated.
        data_digest: ``sha256:`` of the evaluation data.
        policy_digest: ``sha256:`` of the policy text.
        data_path: The evaluation data's location, to find a ``.dvc`` file beside it.
        extra: Further entries (e.g. ``pipeline_run_id`` from KFP); they override collected
            values; None and empty values are ignored.

    Returns:
        Flat mapping with ``git_commit``, ``git_dirty``, ``model_digest``, ``data_digest``,
        ``data_dvc_md5``, ``policy_digest``, ``pipeline_run_id``, ``created_at`` and one
        ``version.<distribution>`` per reported package; keys whose value is unknown are absent.
    """
    dirty = git_dirty()
    values: dict[str, str | None] = {
        "git_commit": git_commit(),
        # An explicit commit from CI says nothing about this checkout's state.
        "git_dirty": None if dirty is None or _commit_from_env() else str(dirty).lower(),
        "model_digest": model_digest,
        "data_digest": data_digest,
        "data_dvc_md5": dvc_md5(data_path) if data_path else None,
        "policy_digest": policy_digest,
        "pipeline_run_id": pipeline_run_id(),
        "created_at": utc_now(),
    }
    for name, version in package_versions().items():
        values[f"version.{name}"] = version
    for key, value in (extra or {}).items():
        if value is not None and value != "":
            values[str(key)] = str(value)
    return {k: v for k, v in values.items() if v is not None}


def _commit_from_env() -> bool:
    return any(os.environ.get(name, "").strip() for name in _COMMIT_ENV)
