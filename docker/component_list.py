"""The component folders and each one's pip extra, read from the sources without importing them.

Building images must work before anything is installed (plain ``python3``, no pydantic, no kfp),
so the gate registry's ``extra`` and ``requires`` are read from each ``components/<folder>/gate.py``
with :mod:`ast`: the ``GateSpec(...)`` call's keywords must be literals there. A declaration this
module cannot read is an error, never "no extra": that would build an image without the gate's
dependencies.
"""

from __future__ import annotations

import ast
from pathlib import Path


class GateDeclarationError(ValueError):
    """A ``gate.py`` whose ``GateSpec(...)`` cannot be read without importing it."""


def component_folders(root: Path) -> list[str]:
    """Return every folder under ``components/`` with a ``component.py``, sorted.

    Args:
        root: The repository root.

    Returns:
        Folder names (which are also the components' and images' names).
    """
    return sorted(p.parent.name for p in (root / "components").glob("*/component.py"))


def _keyword_nodes(path: Path) -> dict[str, ast.expr]:
    # The keywords of the first GateSpec(...) or <module>.GateSpec(...) call in the file.
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
        if name != "GateSpec":
            continue
        out = {}
        for kw in node.keywords:
            if kw.arg is None:
                raise GateDeclarationError(f"{path}:{kw.lineno}: GateSpec(**...) cannot be read")
            out[kw.arg] = kw.value
        return out
    raise GateDeclarationError(f"{path}: no GateSpec(...) call found")


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
    for name, value in _keyword_nodes(path).items():
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
            declaration cannot be read (see :func:`gate_keywords`).
    """
    path = root / "components" / folder / "gate.py"
    if not path.exists():
        return None
    node = _keyword_nodes(path).get("extra")
    if node is None:
        return None
    if not isinstance(node, ast.Constant) or not isinstance(node.value, str | type(None)):
        raise GateDeclarationError(
            f"{path}:{node.lineno}: extra= must be a string literal or None, "
            f"not {ast.unparse(node)}"
        )
    return node.value or None
