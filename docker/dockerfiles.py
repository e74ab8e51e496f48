"""Write every ``components/<folder>/Dockerfile`` from ``docker/component.Dockerfile.in``.

One image per dependency set (``quality-gates-core``, ``quality-gates-fairness``, ...), one
template for all of them: the steps up to the shared core layer are the same text in every file
(so the core is built and stored once), and the image's extra, read from the components'
``gate.py``, is the only step that differs. The components of one image get the same text (each
folder keeps its recipe beside its code; ``make images`` builds the image once, from the first).
Runs with plain ``python3`` before anything is installed.

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
    gate_keywords,
    image_groups,
    versions,
)

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = "docker/component.Dockerfile.in"

_EXTRA_STEP = """\
# The image's extra, on top of the core, into its own prefix: the final image gets it as one
# layer of its own, after the shared core layer.
COPY requirements/@EXTRA@.txt /wheelhouse/requirements/
RUN /opt/venv/bin/python -m pip install --no-index --no-deps \\
        --find-links /wheelhouse/deps --prefix /opt/extra -r /wheelhouse/requirements/@EXTRA@.txt \\
    && @PRUNE_TESTS:/opt/extra@
"""
# Deletes the test suites installed inside packages (site-packages/<package>/.../tests), never a
# top-level module: docker/measure_sizes.py applies the same rule when it sees this command.
PRUNE_TESTS = (
    "find @ROOT@ -depth -type d -name tests -path '*/site-packages/*/tests' -exec rm -rf {} +"
)

# Dependency sets whose components start a server of their own, from its own virtual environment
# (its pins conflict with the core's): the operational gate's MLServer (KServe's runtime).
SERVER_VENVS = {"operational": "model-server"}
_SERVER_STEP = """\
# The model server in its own venv (mlserver needs fastapi<0.116, the core a newer one); the
# gate starts it as a subprocess ($QG_MODEL_SERVER) and only speaks HTTP to it.
COPY requirements/@SERVER@.txt /wheelhouse/requirements/
RUN python3 -m venv /opt/@SERVER@ \\
    && /opt/@SERVER@/bin/python -m pip install --no-index --no-deps \\
        --find-links /wheelhouse/deps -r /wheelhouse/requirements/@SERVER@.txt \\
    && @PRUNE_TESTS:/opt/@SERVER@@
"""
_SERVER_COPY = """\
COPY --from=build /opt/@SERVER@ /opt/@SERVER@
ENV QG_MODEL_SERVER=/opt/@SERVER@/bin/mlserver
"""

_NO_EXTRA_STEP = """\
# No extra: these components need only the core (an empty prefix keeps the stages uniform).
RUN mkdir -p /opt/extra
"""


def render(root: Path, dependency_set: str, folders: list[str]) -> str:
    """Return the Dockerfile text of one image (the same for each of its components).

    Args:
        root: The repository root.
        dependency_set: ``core`` or an extra.
        folders: The component folders that run in the image (their declared requirements
            are named in the header).

    Returns:
        The template with the image's name, purpose and extra step filled in: nothing names a
        component, so a new gate leaves the other Dockerfiles as they are.
    """
    template = (root / TEMPLATE).read_text(encoding="utf-8")
    server = SERVER_VENVS.get(dependency_set)
    if server is not None:
        purpose = f"the core plus its own model server venv ({server}.txt)"
        step = _NO_EXTRA_STEP + _SERVER_STEP.replace("@SERVER@", server)
    elif dependency_set != versions.CORE:
        requires = sorted(
            {str(r) for f in folders for r in gate_keywords(root, f).get("requires", ())}
        )
        packages = ", ".join(requires) or "no packages"
        purpose = f"the core plus the '{dependency_set}' extra ({packages})"
        step = _EXTRA_STEP.replace("@EXTRA@", dependency_set)
    else:
        purpose, step = "the core only", _NO_EXTRA_STEP
    copy = _SERVER_COPY.replace("@SERVER@", server) if server else ""
    text = (
        template.replace("@IMAGE@", versions.image_name(dependency_set))
        .replace("@SERVER_COPY@", copy)
        .replace("@PURPOSE@", purpose)
        .replace("@EXTRA_STEP@", step)
    )
    for root_dir in ("/opt/venv", "/opt/extra", f"/opt/{server}"):
        text = text.replace(f"@PRUNE_TESTS:{root_dir}@", PRUNE_TESTS.replace("@ROOT@", root_dir))
    return text


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
            root / "components" / folder / "Dockerfile": render(root, name, folders)
            for name, folders in image_groups(root).items()
            for folder in folders
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
