"""Packages of the one distribution, derived from the folders (see pyproject.toml).

Every folder under ``shared/``, ``components/`` and ``pipelines/`` that holds an ``__init__.py``
is a subpackage of ``quality_gates``; data folders (templates, policies, compiled YAML) carry an
``__init__.py`` too, so their files travel as package data. Deriving the list means a new gate
folder is never missing from the wheel (and so from every image).
"""

from pathlib import Path

from setuptools import setup

ROOTS = {
    "shared": "quality_gates.shared",
    "components": "quality_gates.components",
    "pipelines": "quality_gates.pipelines",
}


def _packages() -> tuple[list[str], dict[str, str]]:
    here = Path(__file__).resolve().parent
    packages: list[str] = []
    package_dir: dict[str, str] = {}
    for folder, dotted in ROOTS.items():
        for init in sorted((here / folder).rglob("__init__.py")):
            rel = init.parent.relative_to(here)
            # A gate folder's own tests stay out of the wheel and the images.
            skip = ("__pycache__", "tests")
            if any(part.startswith(".") or part in skip for part in rel.parts):
                continue
            name = ".".join([dotted, *rel.parts[1:]])
            packages.append(name)
        package_dir[dotted] = folder
    return packages, package_dir


PACKAGES, PACKAGE_DIR = _packages()

setup(packages=PACKAGES, package_dir=PACKAGE_DIR)
