"""Compile every component to its committed ``component.yaml`` and the pipeline to YAML.

The committed YAMLs are what users load (``load_component_from_file``) and submit; a test
recompiles them and fails when one is stale.
"""

from __future__ import annotations

import importlib
from contextlib import nullcontext
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
    """Return every pipeline, traced now, by the file stem of its compiled YAML.

    Traced at each call (not the imported module-level object) so that the compile options in
    effect (resources, literal Secret names) are the ones in the YAML.
    """
    from quality_gates.pipelines.gated_promotion import build

    return {"gated_promotion": build()}


def compile_all(
    *,
    output_root: str | Path | None = None,
    components: bool = True,
    resources_file: str | Path | None = None,
    literal_names: tuple[str, str] | None = None,
) -> list[Path]:
    """Compile components and pipelines under ``output_root`` (default: the source tree).

    Args:
        output_root: Root folder holding ``components/`` and ``pipelines/``.
        components: Also compile each ``components/<name>/component.yaml``.
        resources_file: YAML of per-component CPU/memory overrides
            (:mod:`quality_gates.pipelines.resources`); None keeps the defaults.
        literal_names: ``(secret, config_map)``: write the MLflow Secret and ConfigMap names
            as literals, without the fields a KFP 2.2/2.3 backend rejects
            (:mod:`quality_gates.pipelines.options`).

    Returns:
        The written paths.
    """
    from quality_gates.pipelines import options, resources

    root = Path(output_root) if output_root else REPO_ROOT
    table = resources.load_overrides(resources_file) if resources_file else None
    written: list[Path] = []
    if components:
        for name, comp in all_components().items():
            path = root / "components" / name / "component.yaml"
            path.parent.mkdir(parents=True, exist_ok=True)
            compiler.Compiler().compile(comp, str(path))
            written.append(path)
    literal = options.literal_secret_names(*literal_names) if literal_names else nullcontext()
    with resources.overrides(table), literal:
        for name, pipe in all_pipelines().items():
            path = root / "pipelines" / "compiled" / f"{name}.yaml"
            path.parent.mkdir(parents=True, exist_ok=True)
            compiler.Compiler().compile(pipe, str(path))
            if literal_names:
                _rewrite_for_legacy_backend(path)
            written.append(path)
    return written


def _rewrite_for_legacy_backend(path: Path) -> None:
    """Strip what a KFP 2.2/2.3 driver rejects; drop the now unused name parameters."""
    import yaml

    from quality_gates.pipelines import options

    spec, *platform = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
    params = spec.get("root", {}).get("inputDefinitions", {}).get("parameters", {})
    for unused in ("mlflow_secret_name", "mlflow_config_name"):
        params.pop(unused, None)
    for doc in platform:
        options.strip_for_legacy_backend(doc)
    path.write_text(yaml.safe_dump_all([spec, *platform], sort_keys=True), encoding="utf-8")
