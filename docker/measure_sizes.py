"""Measure the installed size of each image's Python closure, without a Docker engine.

For every image this repository builds (``docker/image_tags.py``, one per dependency set), a
throwaway venv is created and exactly what the image's Dockerfile installs is installed into it
with ``pip install --no-deps`` from the index (``docker/requirements/core.txt`` plus the image's
own file); the size of the venv's ``site-packages`` is reported, as ``du`` counts it (allocated
blocks, in MiB, byte-compiled as the image's pip does), with the number of distributions.
``--resolve SPEC`` also measures a plain, resolving ``pip install SPEC`` (what a user gets from
``pip install 'kfp-quality-gates[fairness]'``). Standard library only.

    python3 docker/measure_sizes.py                        # every image, one table
    python3 docker/measure_sizes.py --top 15               # + the 15 largest entries of each
    python3 docker/measure_sizes.py --only quality-gates-core --resolve '.[fairness]'
    python3 docker/measure_sizes.py --requirements /tmp/old/docker/requirements  # an older lock
    python3 docker/measure_sizes.py --markdown             # the table as Markdown
    python3 docker/measure_sizes.py --keep-tests           # without the prune of test suites

The numbers are venv closure sizes: the image adds its base (CPython 3.11 on Debian) and the
project wheel. Needs an index (PyPI or a mirror) and a CPython 3.11 ``--python``.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "docker" / "requirements"


def _image_tags():
    spec = importlib.util.spec_from_file_location(
        "_qg_image_tags", ROOT / "docker" / "image_tags.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def requirement_files(dockerfile: Path, requirements: Path = REQUIREMENTS) -> list[Path]:
    """Return the requirement files a Dockerfile installs, in the order it copies them.

    Args:
        dockerfile: An image's Dockerfile.
        requirements: The folder to take the files from (``docker/requirements`` or a copy of
            an older lock with the same file names).

    Returns:
        Paths under ``requirements`` (``core.txt`` first for a component image).
    """
    names: list[str] = []
    for line in dockerfile.read_text(encoding="utf-8").splitlines():
        if line.startswith("COPY requirements/"):
            name = line.split()[1].removeprefix("requirements/")
            if name.endswith(".txt") and name not in names:
                names.append(name)
    return [requirements / n for n in names]


def disk_mib(path: Path) -> float:
    """Return what ``du -s`` reports for a tree (allocated blocks), in MiB.

    Args:
        path: A folder.

    Returns:
        Size in MiB; hard links are counted once.
    """
    seen: set[tuple[int, int]] = set()
    total = 0
    for folder, _dirs, files in os.walk(path):
        for name in files:
            st = os.lstat(os.path.join(folder, name))
            if (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            total += st.st_blocks * 512
    return total / 2**20


def prunes_tests(dockerfile: Path) -> bool:
    """Say whether a Dockerfile deletes the test suites inside packages (``dockerfiles.py``).

    Args:
        dockerfile: An image's Dockerfile.

    Returns:
        True when it runs the ``find ... -name tests ... -exec rm -rf`` step.
    """
    text = dockerfile.read_text(encoding="utf-8")
    return "-type d -name tests -path '*/site-packages/*/tests'" in text


def prune_tests(site: Path) -> None:
    """Delete what the Dockerfiles' prune step deletes: ``site-packages/<pkg>/**/tests``.

    Args:
        site: A ``site-packages`` folder.
    """
    for entry in site.iterdir():
        if not entry.is_dir():
            continue
        for found in sorted(entry.rglob("tests"), key=lambda p: len(p.parts), reverse=True):
            if found.is_dir() and not found.is_symlink():
                shutil.rmtree(found)


def _site_packages(venv: Path) -> Path:
    (path,) = venv.glob("lib/python*/site-packages")
    return path


def _largest(site: Path, top: int) -> list[tuple[float, str]]:
    sizes = []
    for entry in site.iterdir():
        size = disk_mib(entry) if entry.is_dir() else entry.lstat().st_blocks * 512 / 2**20
        sizes.append((size, entry.name))
    return sorted(sizes, reverse=True)[:top]


def measure(
    python: str, pip_args: list[str], top: int = 0, prune: bool = False
) -> tuple[float, int, list]:
    """Install into a fresh venv and measure its ``site-packages``.

    Args:
        python: The interpreter that creates the venv.
        pip_args: Arguments after ``pip install``.
        top: How many of the largest entries of ``site-packages`` to return.
        prune: Delete the packages' test suites first, as the image's Dockerfile does.

    Returns:
        ``(MiB, number of installed distributions, [(MiB, entry), ...])``.
    """
    with tempfile.TemporaryDirectory(prefix="qg-size-") as tmp:
        venv = Path(tmp) / "venv"
        subprocess.run([python, "-m", "venv", "--without-pip", str(venv)], check=True)
        site = _site_packages(venv)
        # pip from the calling interpreter installs into the venv (byte-compiling, as the image's
        # pip does); the venv gets no pip of its own, so the number is only what the pins add.
        proc = subprocess.run(
            [
                python,
                "-m",
                "pip",
                "--python",
                str(venv / "bin" / "python"),
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--no-warn-script-location",
                *pip_args,
            ],
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            # pip's own words (a missing wheel, a conflict); its warnings stay quiet otherwise.
            sys.stderr.write(proc.stdout + proc.stderr)
            raise SystemExit(f"measure_sizes.py: pip install {' '.join(pip_args)} failed")
        if prune:
            prune_tests(site)
        count = sum(1 for _ in site.glob("*.dist-info"))
        return disk_mib(site), count, _largest(site, top) if top else []


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default=sys.executable, help="CPython 3.11 for the venvs")
    parser.add_argument("--only", action="append", default=[], help="measure only this image")
    parser.add_argument("--no-images", action="store_true", help="skip the images")
    parser.add_argument(
        "--resolve", action="append", default=[], metavar="SPEC", help="also `pip install SPEC`"
    )
    parser.add_argument("--top", type=int, default=0, help="list the N largest entries of each")
    parser.add_argument(
        "--requirements",
        type=Path,
        default=REQUIREMENTS,
        help="take the pinned files from this folder (e.g. an older commit's docker/requirements)",
    )
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    parser.add_argument(
        "--keep-tests", action="store_true", help="measure without the Dockerfiles' prune step"
    )
    return parser


def _image_rows(args: argparse.Namespace) -> list[tuple[str, str, float, int, list]]:
    rows = []
    for name, dockerfile, image in _image_tags().images():
        short = image.rsplit("/", 1)[1].split(":", 1)[0]
        if args.only and short not in args.only and name not in args.only:
            continue
        files = requirement_files(ROOT / dockerfile, args.requirements)
        pip_args = ["--no-deps"] + [a for f in files for a in ("-r", str(f))]
        prune = prunes_tests(ROOT / dockerfile) and not args.keep_tests
        size, count, largest = measure(args.python, pip_args, args.top, prune)
        what = " + ".join(f.name for f in files) + (", tests pruned" if prune else "")
        rows.append((short, what, size, count, largest))
    return rows


def _print(rows: list[tuple[str, str, float, int, list]], markdown: bool) -> None:
    if markdown:
        print("| image | MiB | distributions | installs |\n|---|---:|---:|---|")
        for short, what, size, count, _largest in rows:
            print(f"| `{short}` | {size:.0f} | {count} | {what} |")
    else:
        width = max([len(r[0]) for r in rows] + [5])
        print(f"{'image':<{width}}  {'MiB':>6}  {'dists':>5}  installs")
        for short, what, size, count, _largest in rows:
            print(f"{short:<{width}}  {size:6.0f}  {count:5d}  {what}")
    for short, _what, _size, _count, largest in rows:
        if largest:
            print(f"\n{short}: largest entries of site-packages (MiB)")
            for size, entry in largest:
                print(f"  {size:6.1f}  {entry}")


def main(argv: list[str] | None = None) -> int:
    """Print one row per image (and per ``--resolve`` spec).

    Args:
        argv: Arguments without the program name.

    Returns:
        Process exit code.
    """
    args = _parser().parse_args(argv)
    rows = [] if args.no_images else _image_rows(args)
    for spec in args.resolve:
        target = str(ROOT) + spec[1:] if spec.startswith(".") else spec
        size, count, largest = measure(args.python, [target], args.top)
        rows.append((f"pip install {spec}", "resolved from the index", size, count, largest))
    if not rows:
        print("measure_sizes.py: nothing to measure (check --only)", file=sys.stderr)
        return 2
    _print(rows, args.markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
