"""Write every ``components/<folder>/Dockerfile`` from ``docker/component.Dockerfile.in``.

One template for every component image: the steps up to the shared core layer are the same text
in every file (so the core is built and stored once), and the component's extra, read from its
``gate.py``, is the only step that differs. Runs with plain ``python3`` before anything is
installed.

    python3 docker/dockerfiles.py           # write the Dockerfiles
    python3 docker/dockerfiles.py --check   # exit 1 naming stale or missing ones
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from component_list import (  # noqa: E402
    GateDeclarationError,
    component_folders,
    extra_of,
    gate_keywords,
)

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = "docker/component.Dockerfile.in"

_EXTRA_STEP = """\
# This component's own extra, on top of the core, into its own prefix: the final image gets it as
# one layer of its own, after the shared core layer.
COPY requirements/@EXTRA@.txt /wheelhouse/requirements/
RUN /opt/venv/bin/python -m pip install --no-index --no-deps \\
        --find-links /wheelhouse/deps --prefix /opt/extra -r /wheelhouse/requirements/@EXTRA@.txt
"""
_NO_EXTRA_STEP = """\
# No extra: this component needs only the core (an empty prefix keeps the stages uniform).
RUN mkdir -p /opt/extra
"""


def render(root: Path, folder: str) -> str:
    """Return the Dockerfile text of one component.

    Args:
        root: The repository root.
        folder: The component folder.

    Returns:
        The template with the component's name, purpose and extra step filled in.
    """
    template = (root / TEMPLATE).read_text(encoding="utf-8")
    extra = extra_of(root, folder)
    if extra:
        requires = ", ".join(map(str, gate_keywords(root, folder).get("requires", ())))
        purpose = f"the core plus the '{extra}' extra ({requires or 'no packages'})"
        step = _EXTRA_STEP.replace("@EXTRA@", extra)
    else:
        purpose, step = "the core only", _NO_EXTRA_STEP
    return (
        template.replace("@FOLDER@", folder)
        .replace("@PURPOSE@", purpose)
        .replace("@EXTRA_STEP@", step)
    )


def main(argv: list[str] | None = None) -> int:
    """Write (or with ``--check`` compare) every component's Dockerfile.

    Args:
        argv: Arguments without the program name.

    Returns:
        0 when written or up to date; 1 when ``--check`` finds a stale or missing file; 2 when
        a ``gate.py`` declaration cannot be read (nothing is written then).
    """
    parser = argparse.ArgumentParser(
        description="Write components/*/Dockerfile from docker/component.Dockerfile.in."
    )
    parser.add_argument("--check", action="store_true", help="only report stale files")
    parser.add_argument("--root", default=str(ROOT), help="repository root")
    args = parser.parse_args(argv)
    root = Path(args.root)
    try:  # render every file before writing any: a bad declaration leaves the tree untouched
        rendered = {
            root / "components" / folder / "Dockerfile": render(root, folder)
            for folder in component_folders(root)
        }
    except GateDeclarationError as exc:
        print(f"dockerfiles.py: {exc}", file=sys.stderr)
        return 2
    stale = []
    for path, text in rendered.items():
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        stale.append(str(path.relative_to(root)))
        if not args.check:
            path.write_text(text, encoding="utf-8")
    if args.check and stale:
        print("stale Dockerfiles (run `make dockerfiles`): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
