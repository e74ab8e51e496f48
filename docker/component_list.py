"""The component folders, each one's pip extra and the images they group into, from the sources.

Building images must work before anything is installed (plain ``python3``, no pydantic, no kfp),
so the gate registry's ``extra`` and ``requires`` are read from each ``components/<folder>/gate.py``
with :mod:`ast` by ``shared/contracts/versions.py`` (loaded here by path), the module that also
names the images: the ``GateSpec(...)`` call's keywords must be literals there. A declaration that
cannot be read is an error, never "no extra": that would build an image without the gate's
dependencies.
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

_VERSIONS_PATH = Path(__file__).resolve().parent.parent / "shared" / "contracts" / "versions.py"


def _load_versions():
    spec = importlib.util.spec_from_file_location("_qg_versions", _VERSIONS_PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


versions = _load_versions()
GateDeclarationError = versions.GateDeclarationError


def component_folders(root: Path) -> list[str]:
    """Return every folder under ``components/`` with a ``component.py``, sorted.

    Args:
        root: The repository root.

    Returns:
        Folder names (which are also the components' names).
    """
    return sorted(p.parent.name for p in (root / "components").glob("*/component.py"))


def gate_keywords(root: Path, folder: str) -> dict[str, object]:
    """Return the literal keywords of the folder's ``GateSpec(...)``; empty for a non-gate.

    Args:
        root: The repository root.
        folder: A component folder.

    Returns:
        Keyword name → literal value (non-literal keywords are left out).

    Raises:
        GateDeclarationError: When ``gate.py`` holds no ``GateSpec(...)`` call or passes
            keywords with ``**``.
    """
    path = root / "components" / folder / "gate.py"
    if not path.exists():
        return {}
    out = {}
    for name, value in versions.gatespec_keywords(path).items():
        try:
            out[name] = ast.literal_eval(value)
        except ValueError:
            continue
    return out


def extra_of(root: Path, folder: str) -> str | None:
    """Return the pip extra a component's image installs on top of the core, if any.

    Args:
        root: The repository root.
        folder: A component folder.

    Returns:
        The ``extra=`` of its ``gate.py``'s ``GateSpec(...)``; ``None`` when the folder has no
        ``gate.py``, or its declaration gives no ``extra=`` or ``extra=None``.

    Raises:
        GateDeclarationError: When ``extra=`` is not a string literal or ``None``, or the
            declaration cannot be read.
    """
    return versions.extra_of(folder, root)


def image_groups(root: Path) -> dict[str, list[str]]:
    """Return the component folders of each image, keyed by dependency set, core first.

    Args:
        root: The repository root.

    Returns:
        ``{"core": [...], "explainability": [...], ...}``: one image per key.

    Raises:
        GateDeclarationError: As :func:`extra_of`.
    """
    groups: dict[str, list[str]] = {}
    for folder in component_folders(root):
        groups.setdefault(versions.dependency_set(folder, root), []).append(folder)
    return dict(sorted(groups.items(), key=lambda kv: (kv[0] != versions.CORE, kv[0])))
