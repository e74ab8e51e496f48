"""Compile every component to its committed ``component.yaml`` and the pipeline to YAML.

The committed YAMLs are what users load (``load_component_from_file``) and submit; a test
recompiles them and fails when one is stale.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from kfp import compiler

REPO_ROOT = Path(__file__).resolve().parents[1]


def all_components() -> dict[str, object]:
    """Return every component by its folder name (each folder's ``component.py``)."""
    from quality_gates.shared.contracts.gates import COMPONENTS_PACKAGE, component_folders

    return {
        folder: getattr(importlib.import_module(f"{COMPONENTS_PACKAGE}.{folder}.component"), folder)
        for folder in component_folders()
    }


def all_pipelines() -> dict[str, object]:
    """Return every pipeline by the file stem of its compiled YAML."""
    from quality_gates.pipelines.gated_promotion import gated_promotion

    return {"gated_promotion": gated_promotion}


def compile_all(*, output_root: str | Path | None = None, components: bool = True) -> list[Path]:
    """Compile components and pipelines under ``output_root`` (default: the source tree).

    Args:
        output_root: Root folder holding ``components/`` and ``pipelines/``.
        components: Also compile each ``components/<name>/component.yaml``.

    Returns:
        The written paths.
    """
    root = Path(output_root) if output_root else REPO_ROOT
    written: list[Path] = []
    if components:
        for name, comp in all_components().items():
            path = root / "components" / name / "component.yaml"
            path.parent.mkdir(parents=True, exist_ok=True)
            compiler.Compiler().compile(comp, str(path))
            written.append(path)
    for name, pipe in all_pipelines().items():
        path = root / "pipelines" / "compiled" / f"{name}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        compiler.Compiler().compile(pipe, str(path))
        written.append(path)
    return written
