"""The shape of the code: layers that import only downward, no private imports across modules.

``shared/`` is a stack of sub-packages; each may import only those below it. The components and
pipelines sit above the gate machinery and below what runs them (the KFP glue, the demo, the CLI).
A gate's policy section is reached through the gate registry at run time, never by an import from
``shared/``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Bottom to top. A module may import its own layer and any layer listed before it.
LAYERS = [
    "shared.contracts",
    "shared.policy",
    "shared.tracking",
    "shared.io",
    "shared.serving",
    "shared.reports",
    "shared.governance",
    "shared.gates",
    "shared.release",
    ("components", "pipelines"),
    "shared.kfp_glue",
    "shared.demo",
    "shared.cli",
]
SOURCE_DIRS = ("shared", "components", "pipelines")
# The team's design page beside the checkout; spelled in two pieces so this test does not cite it.
OUTSIDE_DOC = "DESIGN" + ".md"


def _rank(module: str) -> int | None:
    """Layer index of a ``quality_gates.*`` module name (None outside the layers)."""
    name = module.removeprefix("quality_gates.")
    for i, layer in enumerate(LAYERS):
        for prefix in layer if isinstance(layer, tuple) else (layer,):
            if name == prefix or name.startswith(prefix + "."):
                return i
    return None


def _module_of(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = [p for p in rel.parts if p != "__init__"]
    return "quality_gates." + ".".join(parts)


def _sources() -> list[Path]:
    # The roots' own __init__.py files are empty namespace markers, in no layer.
    roots = {ROOT / d / "__init__.py" for d in SOURCE_DIRS}
    return sorted(p for d in SOURCE_DIRS for p in (ROOT / d).rglob("*.py") if p not in roots)


def _imports(path: Path) -> list[tuple[int, str, list[str]]]:
    """``(line, module, names)`` of every ``quality_gates`` import, lazy ones included."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.startswith("quality_gates"):
                names = [a.name for a in node.names]
                # `from quality_gates.shared.io import models` imports the module io.models.
                out.append((node.lineno, node.module, names))
        elif isinstance(node, ast.Import):
            out += [
                (node.lineno, a.name, []) for a in node.names if a.name.startswith("quality_gates")
            ]
    return out


def test_every_source_module_belongs_to_a_layer():
    stray = [str(p.relative_to(ROOT)) for p in _sources() if _rank(_module_of(p)) is None]
    assert stray == [], f"modules outside every layer (put them in a shared sub-package): {stray}"


def test_imports_point_only_downward():
    upward = []
    for path in _sources():
        own = _rank(_module_of(path))
        for line, module, _ in _imports(path):
            target = _rank(module)
            if target is not None and own is not None and target > own:
                upward.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert upward == [], "upward imports:\n" + "\n".join(upward)


def test_no_module_imports_another_modules_private_names():
    private = []
    for path in _sources():
        for line, module, names in _imports(path):
            hidden = [n for n in names if n.startswith("_")]
            if hidden:
                private.append(f"{path.relative_to(ROOT)}:{line} {module} {hidden}")
    assert private == [], "cross-module private imports:\n" + "\n".join(private)


def test_mlflow_client_is_reached_through_one_module():
    """Registry and tracking calls go through shared/tracking/client.py only."""
    users = []
    for path in _sources():
        text = path.read_text(encoding="utf-8")
        if "MlflowClient(" in text and path != ROOT / "shared" / "tracking" / "client.py":
            users.append(str(path.relative_to(ROOT)))
    assert users == []


def test_no_source_cites_a_document_outside_the_repository():
    cited = []
    for path in [*_sources(), *ROOT.glob("*.md"), *(ROOT / "components").rglob("README.md")]:
        if OUTSIDE_DOC in path.read_text(encoding="utf-8"):
            cited.append(str(path.relative_to(ROOT)))
    assert cited == [], f"cite docs/ARCHITECTURE.md instead: {cited}"


@pytest.mark.parametrize("folder", SOURCE_DIRS)
def test_no_production_function_is_longer_than_80_lines(folder):
    long = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > 80:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({length})")
    assert long == [], "split these by concern:\n" + "\n".join(long)
