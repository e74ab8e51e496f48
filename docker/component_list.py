"""The component folders and each one's pip extra, read from the sources without importing them.

Building images must work before anything is installed (plain ``python3``, no pydantic, no kfp),
so the gate registry's ``extra`` and ``requires`` are read from each ``components/<folder>/gate.py``
with :mod:`ast`: the ``GateSpec(...)`` call's keywords must be literals there.
"""

from __future__ import annotations

import ast
from pathlib import Path


def component_folders(root: Path) -> list[str]:
    """Return every folder under ``components/`` with a ``component.py``, sorted.

    Args:
        root: The repository root.

    Returns:
        Folder names (which are also the components' and images' names).
    """
    return sorted(p.parent.name for p in (root / "components").glob("*/component.py"))


def gate_keywords(root: Path, folder: str) -> dict[str, object]:
    """Return the literal keywords of the folder's ``GateSpec(...)``; empty for a non-gate.

    Args:
        root: The repository root.
        folder: A component folder.

    Returns:
        Keyword name → literal value (non-literal keywords are left out).
    """
    path = root / "components" / folder / "gate.py"
    if not path.exists():
        return {}
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "GateSpec":
            out = {}
            for kw in node.keywords:
                try:
                    out[kw.arg] = ast.literal_eval(kw.value)
                except ValueError:
                    continue
            return out
    return {}


def extra_of(root: Path, folder: str) -> str | None:
    """Return the pip extra a component's image installs on top of the core, if any."""
    extra = gate_keywords(root, folder).get("extra")
    return str(extra) if extra else None
