"""KFP artifacts from upstream tasks as gate inputs, next to the plain URIs.

A user's training pipeline hands the gates an ``Output[Model]`` and an ``Output[Dataset]``; the
component receives them as ``Input[Model]`` / ``Input[Dataset]`` and this module turns each into
the local path the loaders read (KFP has already downloaded it there), so a gate judges the
same bytes whether it was given a URI or an artifact. Exactly one of the two may be given for
each input: two sources for one model would make the digest in the verdict ambiguous.

No kfp import: artifacts are duck-typed (``.path``, ``.uri``, ``.metadata``).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from quality_gates.shared.contracts.errors import GateInputError

# What a model file written without a suffix is saved as; ``metadata["format"]`` names it.
_MODEL_FORMATS = {"joblib": ".joblib", "pickle": ".pkl", "pkl": ".pkl", "skops": ".skops"}
_MODEL_SUFFIXES = (".joblib", ".pkl", ".skops")
_ZIP_MAGIC = b"PK\x03\x04"  # a .skops file is a zip archive; joblib writes a pickle
MLMODEL_FILE = "MLmodel"

# Component parameter of each artifact input -> the URI field of GateInputs it stands for.
ARTIFACT_FIELDS = {
    "model": "model_uri",
    "data": "data_uri",
    "train_data": "train_data_uri",
    "reference_data": "reference_data_uri",
    "production_data": "production_data_uri",
    "request_log": "request_log_uri",
    "sensitive_data": "sensitive_data_uri",
}


def artifact_path(artifact: Any, *, what: str) -> str:
    """Return the local path of an input artifact, refusing one that holds nothing.

    Args:
        artifact: A KFP ``Input[...]`` artifact (``.path``, ``.uri``).
        what: The input's name, for messages.

    Returns:
        The local path KFP downloaded the artifact to.

    Raises:
        GateInputError: The artifact has no local file or folder.
    """
    path = Path(str(getattr(artifact, "path", "") or ""))
    if not str(path) or not path.exists():
        uri = getattr(artifact, "uri", "") or "(no uri)"
        raise GateInputError(
            f"the {what} artifact {uri} has no file at its local path; the upstream task must "
            f"write its Output[...] to `{what}.path`"
        )
    return str(path)


def model_path(artifact: Any) -> str:
    """Return a path the model loader reads for a ``Model`` artifact.

    The upstream task chose the layout: an MLflow model folder (``mlflow.sklearn.save_model(m,
    model.path)``), a folder holding one ``.joblib``/``.pkl``/``.skops`` file, or a single file
    written straight to ``model.path``, which KFP names without a suffix. For that last case the
    format comes from ``metadata["format"]`` or from the file's first bytes, and the loader gets
    a suffixed symbolic link to the very same bytes (the digest is unchanged).

    Args:
        artifact: A KFP ``Input[Model]``.

    Returns:
        A local model path with a layout the loader recognises.

    Raises:
        GateInputError: The artifact is empty or holds no recognisable model.
    """
    path = Path(artifact_path(artifact, what="model"))
    if path.is_dir():
        return _model_in_folder(path)
    if path.suffix.lower() in _MODEL_SUFFIXES:
        return str(path)
    suffix = _suffix_for(path, dict(getattr(artifact, "metadata", None) or {}))
    link = Path(tempfile.mkdtemp(prefix="quality-gates-model-")) / f"model{suffix}"
    link.symlink_to(path.resolve())
    return str(link)


def _model_in_folder(path: Path) -> str:
    if (path / MLMODEL_FILE).is_file():
        return str(path)
    files = [p for p in path.iterdir() if p.is_file() and p.suffix.lower() in _MODEL_SUFFIXES]
    if len(files) == 1:
        return str(files[0])
    raise GateInputError(
        f"the model artifact folder {path} holds {len(files)} model files and no MLmodel; save "
        "one MLflow model folder or exactly one .joblib/.pkl/.skops file into it"
    )


def _suffix_for(path: Path, metadata: dict[str, Any]) -> str:
    declared = str(metadata.get("format") or "").strip().lower().lstrip(".")
    if declared:
        if declared not in _MODEL_FORMATS:
            raise GateInputError(
                f"the model artifact's metadata format '{declared[:40]}' is not one of "
                f"{', '.join(sorted(_MODEL_FORMATS))}"
            )
        return _MODEL_FORMATS[declared]
    with path.open("rb") as fh:
        head = fh.read(4)
    if not head:
        raise GateInputError(f"the model artifact {path} is empty (0 bytes)")
    return ".skops" if head == _ZIP_MAGIC else ".joblib"


def resolve_inputs(uris: dict[str, Any], artifacts: dict[str, Any]) -> dict[str, Any]:
    """Merge a component's artifact inputs into its URI inputs.

    Args:
        uris: The component's string inputs (``model_uri``, ``data_uri`` ...); ``""`` or None
            means "not given".
        artifacts: Artifact inputs by component parameter name (``model``, ``data`` ...);
            None means "not wired".

    Returns:
        ``uris`` with each wired artifact's local path in its URI field.

    Raises:
        GateInputError: An input given both as an artifact and as a URI, or an empty artifact.
    """
    merged = dict(uris)
    for name, artifact in artifacts.items():
        if artifact is None:
            continue
        field = ARTIFACT_FIELDS[name]
        if merged.get(field):
            raise GateInputError(
                f"{name} is given twice, as an artifact and as {field}; wire one of them"
            )
        merged[field] = (
            model_path(artifact)
            if name == "model"
            else artifact_path(artifact, what=name.replace("_", " "))
        )
    return merged
