"""sha256 digests of the exact bytes a gate evaluated.

Digests are written ``sha256:<hex>``. A directory (an MLflow model folder) is hashed over its
files in sorted relative-path order, each file contributing its path and its bytes, so that the
digest changes when any byte or any file name changes and does not depend on the file system's
listing order.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

_CHUNK = 1 << 20


def sha256_bytes(data: bytes) -> str:
    """Return ``sha256:<hex>`` of a byte string."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _update_from_file(h: hashlib._Hash, path: Path) -> None:
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)


def sha256_file(path: str | Path) -> str:
    """Return ``sha256:<hex>`` of a file's bytes.

    Args:
        path: A regular file.

    Returns:
        The digest.
    """
    h = hashlib.sha256()
    _update_from_file(h, Path(path))
    return "sha256:" + h.hexdigest()


def sha256_tree(root: str | Path) -> str:
    """Return ``sha256:<hex>`` of a file or of every file under a directory.

    Args:
        root: A file or a directory.

    Returns:
        The digest; for a file, the same as :func:`sha256_file`.
    """
    root = Path(root)
    if root.is_file():
        return sha256_file(root)
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix().encode("utf-8")
        # Length-prefix the name so that ("ab", "c") and ("a", "bc") cannot collide.
        h.update(len(rel).to_bytes(8, "big") + rel)
        h.update(path.stat().st_size.to_bytes(8, "big"))
        _update_from_file(h, path)
    return "sha256:" + h.hexdigest()
